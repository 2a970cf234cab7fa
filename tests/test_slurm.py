"""The SLURM profile (workflow/profiles/slurm) through snakemake-executor-plugin-slurm's real
submission path, on a machine without SLURM: stand-in sbatch/srun/sacct/squeue/... commands
(tests/slurm_standins/fake_slurm.py) first on PATH run each submitted job at once and record
every call. `snakemake --profile <the copy's workflow/profiles/slurm> all` must finish, submit
every job of the DAG that is not a localrule exactly once, and ask for a GPU (and the GPU
partition) for the trainings only."""
import asyncio
import json
import logging
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIN, ROOT, make_workdir, tiny_params, tool_env

sys.path.insert(0, str(Path(__file__).resolve().parent / "slurm_standins"))
import fake_slurm  # noqa: E402
from fake_slurm import option_value  # noqa: E402

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the [slurm] extra is not installed")

# the profile's partitions (workflow/profiles/slurm/config.yaml) and the trainings that take a GPU
CPU_PARTITION, GPU_PARTITION = "cpu", "gpu"
GPU_RULES = {"train", "ablate", "zeroshot"}
# the jobs that may run on the submit host (the Snakefile's localrules)
LIGHT_RULES = {"all", "ensemble", "figures", "describe_page", "tables", "kb_index"}
# the plugin polls sacct 1 s after the start and between checks (default 40 s)
FAST = ["--slurm-init-seconds-before-status-checks", "1", "--slurm-keep-successful-logs"]

HEADER = re.compile(r"^(local)?(rule|checkpoint) (\w+):$")


def _params() -> dict:
    """tiny_params with one pose shard and one description variant (the one training reads):
    every rule of `all` still runs, in fewer jobs (each job costs two snakemake starts)."""
    p = tiny_params()
    p["pose"]["shard_size"] = 1000    # > the demo's 60 samples
    keep = p["mc"]["descriptions"]
    p["describe"]["variants"] = [keep]
    p["zeroshot"]["variants"] = [keep]
    p["ablations"]["runs"] = {k: r for k, r in p["ablations"]["runs"].items() if r["descriptions"] == keep}
    return p


def _env(bin_dir: Path, state: Path) -> dict:
    env = {k: v for k, v in tool_env().items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env.update(fake_slurm.install(bin_dir, state))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


def _snakemake(workdir: Path, env: dict, *args) -> subprocess.CompletedProcess:
    res = subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return res


def _jobs(log: str) -> list[dict]:
    """The job blocks snakemake printed (dry run or run): local (a localrule; a dry run never says),
    kind (rule or checkpoint), rule, wildcards."""
    jobs, current = [], None
    for line in log.splitlines():
        m = HEADER.match(line)
        if m:
            current = {"local": bool(m.group(1)), "kind": m.group(2), "rule": m.group(3), "wildcards": ()}
            jobs.append(current)
        elif current is not None and line.startswith("    wildcards: "):
            items = line.split(": ", 1)[1].split(", ")
            current["wildcards"] = tuple(sorted(tuple(item.split("=", 1)) for item in items))
        elif current is not None and not line.startswith("    "):
            current = None
    return jobs


def _key(job: dict) -> tuple[str, tuple]:
    return job["rule"], job["wildcards"]


def _target(record: dict) -> tuple[str, tuple]:
    """The job an sbatch call submitted: its --wrap runs `snakemake --target-jobs rule:k=v,...`."""
    argv = shlex.split(record["options"]["wrap"])
    rule, _, wildcards = argv[argv.index("--target-jobs") + 1].partition(":")
    return rule, tuple(sorted(tuple(w.split("=", 1)) for w in wildcards.split(",") if w))




def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_stand_ins_answer_as_the_plugin_reads_them(tmp_path, monkeypatch):
    """sbatch --parsable prints a job id; the plugin's own sacct and squeue status queries read
    COMPLETED and FAILED back; sbatch refuses what SLURM refuses (fast: no snakemake run)."""
    from snakemake_executor_plugin_slurm.job_status_query import (
        query_job_status,
        query_job_status_sacct,
        query_job_status_squeue,
    )
    from snakemake_executor_plugin_slurm.validation import validate_or_get_slurm_job_id

    env = _env(tmp_path / "bin", tmp_path / "state")
    for key in ("PATH", "FAKE_SLURM_STATE"):
        monkeypatch.setenv(key, env[key])

    def sbatch(*args):
        return subprocess.run(["sbatch", "--parsable", "--job-name", "run1", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    ok, failed = sbatch("-p", "cpu", "--wrap", "echo done"), sbatch("-p", "gpu", "--gpus=1", "--wrap", "exit 3")
    assert ok.returncode == failed.returncode == 0, ok.stderr + failed.stderr
    ids = [validate_or_get_slurm_job_id(r.stdout.strip(), r.stdout) for r in (ok, failed)]
    assert (tmp_path / "slurm-{}.out".format(ids[0])).read_text() == "done\n"
    for command in (query_job_status_sacct("run1"), query_job_status_squeue("run1")):
        status, _ = asyncio.run(query_job_status(command, logging.getLogger("test_slurm")))
        assert status == {ids[0]: "COMPLETED", ids[1]: "FAILED"}, command
    assert sbatch("-p", "cpu", "--gpus=1", "--wrap", "true").returncode != 0    # no GPU there
    assert sbatch("-p", "nowhere", "--wrap", "true").returncode != 0
    assert "unrecognized option" in sbatch("-p", "cpu", "--bogus", "--wrap", "true").stderr
    assert len(_read(tmp_path / "state/sbatch.jsonl")) == 2


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slurm")
    params = _params()
    (tmp / "project").mkdir()
    wd = make_workdir(tmp / "project", params)
    if not (wd / "pipeline").exists():     # the rules list the stages' source files as inputs
        shutil.copytree(ROOT / "pipeline", wd / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    env = _env(tmp / "bin", tmp / "state")
    profile = wd / "workflow/profiles/slurm"

    def log(res):
        return res.stdout + res.stderr

    before = _jobs(log(_snakemake(wd, env, "--profile", str(profile), "-n", "all")))
    start = time.monotonic()
    run = _snakemake(wd, env, "--profile", str(profile), *FAST, "all")
    seconds = time.monotonic() - start
    ran = _jobs(log(run))
    # the DAG once its checkpoints ran (a dry run before shows no job after a checkpoint): a dry
    # run forcing the DAG's rules but the checkpoints and the rule the manifest checkpoint reads
    # (forcing either reruns a checkpoint, which hides what follows it again)
    checkpoints = {job["rule"] for job in before if job["kind"] == "checkpoint"}
    rules = {job["rule"] for job in before + ran} - checkpoints - {"sources"}
    after = _jobs(log(_snakemake(wd, env, "-n", "all", "--forcerun", *sorted(rules))))
    state = tmp / "state"
    return {"params": params, "seconds": seconds, "log": log(run),
            "dag": {_key(job) for job in before + after},
            "local": {_key(job) for job in ran if job["local"]},
            "sbatch": _read(state / "sbatch.jsonl"), "srun": _read(state / "srun.jsonl"),
            "jobs": {j["id"]: j for j in (json.loads(f.read_text()) for f in (state / "jobs").glob("*.json"))}}


@pytest.mark.slow
def test_every_job_but_the_localrules_is_submitted_once(slurm_run):
    submitted = [_target(r) for r in slurm_run["sbatch"]]
    assert len(submitted) == len(set(submitted)), f"submitted twice: {sorted(submitted)}"
    assert set(submitted) | slurm_run["local"] == slurm_run["dag"]
    assert not set(submitted) & slurm_run["local"]
    assert {rule for rule, _ in slurm_run["local"]} <= LIGHT_RULES
    assert {wc for rule, wc in submitted if rule == "train"} == {
        (("stream", s),) for s in ("joint", "bone", "joint_motion", "bone_motion")}
    # each job ran (in a job step, srun) and SLURM says it completed
    assert sorted(r["jobid"] for r in slurm_run["sbatch"]) == sorted(int(r["jobid"]) for r in slurm_run["srun"])
    assert {j["state"] for j in slurm_run["jobs"].values()} == {"COMPLETED"}
    print(f"\nslurm profile, {len(submitted)} jobs submitted: snakemake ran {slurm_run['seconds']:.0f} s")


@pytest.mark.slow
def test_the_trainings_alone_ask_for_a_gpu_on_the_gpu_partition(slurm_run):
    steps = {int(r["jobid"]): r["argv"] for r in slurm_run["srun"]}
    for record in slurm_run["sbatch"]:
        argv, (rule, wildcards) = record["argv"], _target(record)
        assert not [a for a in argv if a.startswith("--gres")], argv   # GPUs through `gpu`, not slurm_extra
        gpus, step_gpus = option_value(argv, "--gpus"), option_value(steps[record["jobid"]], "--gpus")
        if rule in GPU_RULES:
            assert (gpus, step_gpus, option_value(argv, "-p")) == ("1", "1", GPU_PARTITION), (rule, wildcards, argv)
        else:
            assert (gpus, step_gpus, option_value(argv, "-p")) == (None, None, CPU_PARTITION), (rule, wildcards, argv)
    assert sum(_target(r)[0] == "train" for r in slurm_run["sbatch"]) == 4


@pytest.mark.slow
def test_jobs_ask_for_their_memory_and_runtime(slurm_run):
    """mem_mb and runtime (params.resources) reach sbatch as --mem and -t (minutes)."""
    train = slurm_run["params"]["resources"]["train"]
    for record in slurm_run["sbatch"]:
        argv, rule = record["argv"], _target(record)[0]
        assert option_value(argv, "--mem") and option_value(argv, "-t"), argv
        if rule == "train":
            asked = (int(option_value(argv, "--mem")), int(option_value(argv, "-t")))
            assert asked == (train["mem_mb"], train["runtime"])
