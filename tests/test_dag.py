"""Snakefile and dvc.yaml describe one DAG: same stages, commands, deps (data and code), params
keys and outs; snakemake's own idioms (logs, lint) hold."""
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import BIN, ROOT, tool_env
from dvc.repo import Repo

from pipeline.stage_code import stage_code, sync_dvc_yaml
from pipeline.stage_params import UNUSED_KEYS, lookup, reads_preset, stage_params

TARGET_RULES = {"all", "tables", "zeroshot"}  # the targets the plans are taken for
EXTRA_DVC_FILES = ("experiments/dvc.yaml",)  # the targets outside `all`
# snakemake fans these DVC stages out into one job per shard (DVC has no dynamic fan-out:
# its stage computes every shard itself, then does what snakemake's aggregate rule does)
FANOUT_RULES = {"pose_shard": "pose"}


LOG = re.compile(r" > (\S+) 2>&1$")   # every job's shell command ends by sending its output to its log


def snakemake_jobs(workdir: Path, *targets: str) -> dict:
    """Parse `snakemake -n -p --forceall <targets>`: stage name -> (cmd, inputs, outputs, log);
    cmd without the redirection to the job's log (DVC prints a stage's output)."""
    out = subprocess.run([str(BIN / "snakemake"), "-n", "-p", "--forceall", *targets], cwd=workdir,
                         env=tool_env(), capture_output=True, text=True, check=True).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:localrule|rule|checkpoint|localcheckpoint) \w+:)", out):
        m = re.match(r"(?:localrule|rule|checkpoint|localcheckpoint) (\w+):", block)
        if not m or m.group(1) == "all":
            continue
        fields = dict(re.findall(r"^    (input|output|wildcards|log): (.*)$", block, re.M))
        cmd = re.search(r"^Shell command: (.*)$", block, re.M).group(1).strip()
        log = LOG.search(cmd)
        cmd = LOG.sub("", cmd)
        name = m.group(1)
        if "wildcards" in fields:
            # DVC names a matrix stage by its values joined with '-'
            name += "@" + "-".join(kv.split("=", 1)[1] for kv in fields["wildcards"].split(", "))
        # <TBD>: inputs known once a checkpoint (the manifest) has run, i.e. the pose shards
        # and an output's flag, e.g. "model.pt (update)", is not part of its path
        split = lambda s: set(filter(None, (re.sub(r" \(\w+\)$", "", x.strip())  # noqa: E731
                                            for x in s.split(",")))) - {"<TBD>"}
        jobs[name] = (cmd, split(fields.get("input", "")), split(fields.get("output", "")),
                      (log.group(1) if log else None, fields.get("log", "").split(" (")[0]))
    return jobs


def stage_keys(cmd: str, dataset: str) -> set:
    """What a stage's command reads (pipeline/stage_params.py), as DVC lists it: plus
    presets.<dataset> where a preset may change one of them."""
    words = cmd.split()
    command = words[3]
    ablation = words[words.index("--ablation") + 1] if "--ablation" in words else None
    keys = stage_params(command, preset="--preset" in words, ablation=ablation)
    return set(keys) | ({f"presets.{dataset}"} if reads_preset(keys) else set())


def dvc_stages(workdir: Path) -> dict:
    stages = {}
    for st in Repo(str(workdir)).index.stages:
        deps = {d.def_path for d in st.deps if type(d).__name__ != "ParamsDependency"}
        params = {p for d in st.deps if type(d).__name__ == "ParamsDependency" for p in d.params}
        name = st.addressing
        for prefix in EXTRA_DVC_FILES:
            name = name.removeprefix(prefix + ":")
        stages[name] = (st.cmd, deps, {o.def_path for o in st.outs}, params)
    return stages


def covered(inputs: set, deps: set) -> bool:
    """Every snakemake input is a DVC dep or lies in a DVC dep folder, and every dep is used:
    DVC cannot list computed deps, so a table stage depends on the folder of its inputs."""
    inside = lambda path, dep: path == dep or path.startswith(dep + "/")  # noqa: E731
    return (all(any(inside(i, d) for d in deps) for i in inputs)
            and all(any(inside(i, d) for i in inputs) for d in deps))


@pytest.mark.slow
def test_snakefile_and_dvc_yaml_are_one_dag():
    smk = snakemake_jobs(ROOT, *sorted(TARGET_RULES))
    dvc = dvc_stages(ROOT)
    for name in [n for n in smk if n.split("@")[0] in FANOUT_RULES]:
        cmd, inputs, outputs, _ = smk.pop(name)
        stage = dvc[FANOUT_RULES[name.split("@")[0]]]
        assert cmd == f"{stage[0]} --shard {name.split('@')[1]}", name
        assert inputs <= stage[1] and covered(outputs, stage[2]), name
    assert set(smk) == set(dvc)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())["ablations"]
    ablations = {f"ablate@{a}" for a in params["runs"]} | {f"keypoint_preset@{k}" for k in params["keypoints"]}
    assert {"ce", "all", "multipart", "kb_multipart", "sam27_ce", "all133_multipart"} <= set(params["runs"])
    assert {"sources", "manifest", "pose", "keypoints", "ensemble", "train@joint", "train@bone",
            "train@joint_motion", "train@bone_motion", "kb_index", "describe@label", "describe@kb",
            "describe@gsp", "embed@label", "embed@kb", "embed@gsp", "tables", "zeroshot", "figures",
            "describe_page@label", "describe_page@kb", "describe_page@gsp"} | ablations == set(dvc)
    dataset = yaml.safe_load((ROOT / "params.yaml").read_text())["dataset"]
    for name, (cmd, deps, outs, params) in dvc.items():
        s_cmd, s_in, s_out, (log, s_log) = smk[name]
        assert s_cmd == cmd, name
        assert covered(s_in, deps), (name, s_in, deps)
        assert covered(s_out, outs), (name, s_out, outs)
        # keys, not sections: a stage depends on what it reads, a preset on its dataset's stages only
        assert params == stage_keys(cmd, dataset), (name, params ^ stage_keys(cmd, dataset))
        # the code it runs, in both DAGs (snakemake: the folders' files)
        code = {d for d in deps if d.startswith("pipeline/")}
        assert code == set(stage_code(cmd.split()[3])), (name, code ^ set(stage_code(cmd.split()[3])))
        assert any(i.startswith("pipeline/") for i in s_in), name
        # its log: its own file under results/<ds>/logs/
        assert log == s_log and log.startswith(f"results/{dataset}/logs/"), (name, log, s_log)
    logs = [job[3][0] for job in smk.values()]
    assert len(set(logs)) == len(logs)


def test_every_param_is_read_by_a_stage_or_named_unused():
    """Each key the stages declare exists; each leaf of params.yaml is declared by some stage
    (so editing it reruns what it changes) or named in UNUSED_KEYS (it changes no result)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    declared = {k for command in ("manifest", "pose", "keypoints", "kb-index", "describe", "embed", "train",
                                  "ensemble", "tables", "zeroshot") for k in stage_params(command)}
    for key in declared | set(UNUSED_KEYS):
        lookup(params, key)
    covered_by = declared | set(UNUSED_KEYS)

    def leaves(tree, prefix=""):
        for k, v in tree.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v and key not in covered_by:
                yield from leaves(v, key + ".")
            else:
                yield key
    uncovered = [k for k in leaves(params) if not any(k == c or k.startswith(c + ".") for c in covered_by)]
    assert uncovered == []


def test_stage_code_follows_the_imports():
    """The training stage's code holds the training loop and the model, not pose's stage or the
    tables; pose's holds no training code."""
    train = stage_code("train")
    assert "pipeline/train" in train and "pipeline/model/ctrgcn.py" in train
    assert "pipeline/evaluate/tables.py" not in train
    # the benchmark's reference model is not what training runs: editing it reruns nothing
    assert not any("reference.py" in p or p.startswith("pipeline/benchmark") for p in train)
    assert not any(p.startswith("pipeline/train") for p in stage_code("pose") + stage_code("keypoints"))
    assert "pipeline/train/loop.py" in stage_code("zeroshot")
    # a registry's "module:Class" string is an import: the demo's renderer is pose's code
    assert "pipeline/data/synthetic/corpus.py" in stage_code("pose")


def test_the_dvc_code_deps_are_rewritten_from_the_imports(tmp_path):
    """`python -m pipeline.stage_code dvc.yaml experiments/dvc.yaml` keeps the code deps in
    step with the imports: on the committed files it changes nothing; a stale list it
    restores, comments and all."""
    for rel in ("dvc.yaml", "experiments/dvc.yaml"):
        text = (ROOT / rel).read_text()
        copy = tmp_path / rel.replace("/", "-")
        copy.write_text(text)
        assert not sync_dvc_yaml(copy), f"{rel}: code deps out of date; run python -m pipeline.stage_code {rel}"
        copy.write_text(text.replace("      - pipeline/io.py\n", "", 1))
        assert sync_dvc_yaml(copy) and copy.read_text() == text


@pytest.mark.slow
def test_snakemake_lint_passes():
    run = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, env=tool_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_plain_targets_leave_the_ablations_out():
    """`snakemake all` and a bare `dvc repro` build the main DAG only."""
    extra = ("ablat", "tables", "keypoint_preset", "zeroshot")
    assert not any(n.startswith(extra) for n in snakemake_jobs(ROOT, "all"))
    assert not any(x in st.addressing for st in Repo(str(ROOT)).index.stages if st.path_in_repo == "dvc.yaml"
                   for x in extra)


@pytest.mark.slow
def test_dvc_dag_shows_the_graph():
    out = subprocess.run([str(BIN / "dvc"), "dag", "--dot"], cwd=ROOT, env=tool_env(), capture_output=True,
                         text=True, check=True).stdout
    for a, b in [("manifest", "pose"), ("pose", "keypoints"), ("keypoints", "train@joint"),
                 ("train@bone_motion", "ensemble"), ("manifest", "kb_index"), ("kb_index", "describe@gsp"),
                 ("describe@gsp", "embed@gsp"), ("embed@gsp", "train@joint")]:
        assert re.search(rf'"{re.escape(a)}"\s*->\s*"{re.escape(b)}"', out), (a, b, out)
