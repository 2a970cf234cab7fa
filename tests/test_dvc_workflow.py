"""DVC's experiment workflow on the tiny DAG (issue 13): experiments with their own metrics,
`dvc exp show` / `dvc metrics diff` / `dvc plots diff` against the committed baseline, and a
remote that a fresh clone pulls the trained models and metrics from without retraining.

The project copy is built once by `dvc repro` (DVC runs its own DAG: the commands snakemake runs,
tests/test_dag.py), with an API key in the environment that nothing may write down."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import BIN, ROOT, edit_params_no_demo_stage_reads, job_stats, make_workdir, tiny_params, tool_env

from pipeline.names import STREAMS

pytestmark = pytest.mark.slow

EPOCHS = (1, 3)          # the two experiments' train.epochs (the tiny params train 2)
UP_TO_DATE = "Data and pipelines are up to date."
# the sources stage lists the dataset's files on every repro (pipeline/data/sources.py)
ALWAYS_CHANGED = "sources:\n\talways changed\n"


def settled(status: str) -> bool:
    """`dvc status` says nothing needs rerunning but the stage that always runs."""
    return status.strip() in (UP_TO_DATE, ALWAYS_CHANGED.strip())


def _params() -> dict:
    """tiny_params with one description variant (the one MC trains with): the DAG's slow text
    chain (describe, embed: a sentence encoder per job) runs once instead of three times."""
    p = tiny_params()
    used = p["mc"]["descriptions"]
    p["describe"]["variants"] = [used]
    p["zeroshot"]["variants"] = [used]
    p["ablations"]["runs"] = {k: r for k, r in p["ablations"]["runs"].items() if r["descriptions"] == used}
    return p


SECRET = "sk-e2e-secret-never-written"     # in the environment, under the name params refer to


def _env() -> dict:
    return {**tool_env(), "OPENAI_API_KEY": SECRET}


def _run(cwd: Path, *args, timeout: int = 900) -> subprocess.CompletedProcess:
    res = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{args}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def dvc(cwd: Path, *args, **kw) -> subprocess.CompletedProcess:
    return _run(cwd, BIN / "dvc", *args, **kw)


def git(cwd: Path, *args) -> subprocess.CompletedProcess:
    return _run(cwd, "git", *args)


def _files(res: str) -> list[str]:
    """The outputs compared byte for byte: every stream's model, log and metrics, the ensemble's."""
    return ([f"{res}/metrics.json", f"{res}/run.json", f"{res}/figures/predictions.csv"]
            + [f"{res}/train/{s}/{f}" for s in STREAMS for f in ("model.pt", "metrics.json", "log.csv")])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git + DVC project copy built once by `dvc repro`, dvc.lock committed."""
    params = _params()
    wd = make_workdir(tmp_path_factory.mktemp("project"), params)
    shutil.copy(ROOT / ".gitignore", wd / ".gitignore")
    git(wd, "init", "-q")
    git(wd, "config", "user.name", "test")
    git(wd, "config", "user.email", "test@example.invalid")
    git(wd, "config", "commit.gpgsign", "false")
    if not (wd / ".dvc").exists():
        dvc(wd, "init", "-q")
    dvc(wd, "config", "core.analytics", "false")
    git(wd, "add", "-A")
    git(wd, "commit", "-qm", "project")
    dvc(wd, "repro")                  # a bare `dvc repro`: the main DAG (dvc.yaml) only
    assert not (wd / "results/demo/ablations").exists()
    assert settled(dvc(wd, "status", "dvc.yaml").stdout)
    git(wd, "add", "dvc.lock")
    git(wd, "commit", "-qm", "baseline: dvc.lock")
    assert git(wd, "status", "--porcelain").stdout == ""     # results/ stays out of git
    res = f"results/{params['dataset']}"
    return SimpleNamespace(wd=wd, res=res, head=git(wd, "rev-parse", "HEAD").stdout.strip(),
                           epochs=params["train"]["epochs"],
                           baseline={f: (wd / f).read_bytes() for f in _files(res)})


@pytest.fixture(scope="module")
def experiments(project):
    """`dvc exp run -S train.epochs=N` in the workspace, one per N; each run's metrics.json as the
    workspace had it right after the run."""
    metrics = {}
    for n in EPOCHS:
        dvc(project.wd, "exp", "run", "-q", "-n", f"epochs{n}", "-S", f"train.epochs={n}")
        for stream in STREAMS:
            log = (project.wd / project.res / "train" / stream / "log.csv").read_text().splitlines()
            assert len(log) == 1 + n, (stream, log)
        metrics[f"epochs{n}"] = json.loads((project.wd / project.res / "metrics.json").read_text())
    return metrics


def _exp_rows(shown: list) -> dict:
    """`dvc exp show --json` by name: the workspace, the baseline (by its commit) and each experiment."""
    rows = {}
    for entry in shown:
        rows[entry["rev"]] = entry
        for group in entry.get("experiments") or []:
            for exp in group["revs"]:
                rows[exp["name"]] = exp
    return rows


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _changed_stages(wd: Path) -> set:
    """`dvc status dvc.yaml`: the stages whose own deps, params or outs changed (not the one that
    always runs)."""
    status = dvc(wd, "status", "dvc.yaml").stdout.replace(ALWAYS_CHANGED, "")
    return set(re.findall(r"^([\w@]+):$", status, re.M))


@pytest.fixture()
def edited(project):
    """Edit files of the project for one test; put back their bytes and times after."""
    saved = {}

    def edit(rel: str, change):
        path = project.wd / rel
        if rel not in saved:
            saved[rel] = (path.read_bytes(), path.stat())
        path.write_text(change(path.read_text()))
    yield edit
    for rel, (data, stat) in saved.items():
        (project.wd / rel).write_bytes(data)
        os.utime(project.wd / rel, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_an_edit_of_the_training_loop_reruns_training_and_what_follows(project, edited):
    """Code is a dependency in both DAGs: the trainings rerun, and after them the ensemble and
    the figures (snakemake's plan); manifest, pose, keypoints, describe and embed do not."""
    assert job_stats(_run(project.wd, BIN / "snakemake", "-n", "all").stdout) == {}
    assert _changed_stages(project.wd) == set()
    edited("pipeline/train/loop.py", lambda text: text + "\n# an edit of the training loop\n")
    plan = job_stats(_run(project.wd, BIN / "snakemake", "-n", "all").stdout)
    assert plan == {"train": "4", "ensemble": "1", "figures": "1", "all": "1", "total": "7"}, plan
    # DVC names the stages whose own deps changed; `dvc repro` reruns what follows when their
    # outputs change (the experiments below)
    assert _changed_stages(project.wd) == {f"train@{s}" for s in STREAMS}


def test_another_datasets_preset_or_a_speed_knob_reruns_nothing(project, edited):
    """Params deps are keys: presets.slr500 and pose.workers change nothing of the demo; a key a
    stage reads reruns that stage (snakemake's side: test_end_to_end, which has its records)."""
    edited("params.yaml", edit_params_no_demo_stage_reads)
    assert _changed_stages(project.wd) == set()
    edited("params.yaml", lambda text: text.replace("normalise: true", "normalise: false"))
    assert _changed_stages(project.wd) == {"keypoints"}


def test_exp_show_holds_each_runs_metrics_and_the_baselines(project, experiments):
    shown = json.loads(dvc(project.wd, "exp", "show", "--json").stdout)
    rows = _exp_rows(shown)
    baseline = json.loads(project.baseline[f"{project.res}/metrics.json"])
    expected = {project.head: (baseline, project.epochs), **{f"epochs{n}": (experiments[f"epochs{n}"], n)
                                                             for n in EPOCHS}}
    for name, (metrics, epochs) in expected.items():
        assert name in rows, (name, list(rows))
        data = rows[name]["data"]
        assert not rows[name].get("error"), rows[name]["error"]
        assert data["params"]["params.yaml"]["data"]["train"]["epochs"] == epochs
        entry = data["metrics"].get(f"{project.res}/metrics.json", {})
        assert "data" in entry, (name, entry)          # not `!` in `dvc exp show`'s table
        got = entry["data"]
        top1 = got["ensemble"]["test"]["top1"]
        assert _number(top1) and 0.0 <= top1 <= 1.0
        assert got == metrics, name                    # the run's own file, not the workspace's
        for stream in STREAMS:                          # each stream trained for its run's epochs
            assert data["metrics"][f"{project.res}/train/{stream}/metrics.json"]["data"]["epochs"] == epochs


def test_metrics_and_plots_diff_against_the_baseline(project, experiments, tmp_path):
    name = f"epochs{EPOCHS[-1]}"
    diff = json.loads(dvc(project.wd, "metrics", "diff", "--all", "--json", "HEAD", name).stdout)
    assert f"{project.res}/metrics.json" in diff, diff
    ensemble = diff[f"{project.res}/metrics.json"]["ensemble.test.top1"]
    baseline = json.loads(project.baseline[f"{project.res}/metrics.json"])
    assert ensemble["old"] == baseline["ensemble"]["test"]["top1"]
    assert ensemble["new"] == experiments[name]["ensemble"]["test"]["top1"]
    text = dvc(project.wd, "metrics", "diff", "HEAD", name).stdout       # the table a user reads
    assert "epochs" in text and "HEAD" in text and name in text

    revs = ["HEAD", *(f"epochs{n}" for n in EPOCHS)]
    rows = {"HEAD": project.epochs, **{f"epochs{n}": n for n in EPOCHS}}
    out = tmp_path / "plots"     # not the default dvc_plots/ inside the project
    plots = json.loads(dvc(project.wd, "plots", "diff", *revs, "--json", "-o", out).stdout)["data"]
    for plot, fields in (("loss", 2), ("learning_rate", 1), ("val_top1", 1)):
        (entry,) = plots[plot]
        assert entry["type"] == "vega" and entry["revisions"] == revs, (plot, entry.get("revisions"))
        values = entry["content"]["data"]["values"]
        for rev, epochs in rows.items():        # every stream's log, every epoch, each y field
            assert sum(v["rev"] == rev for v in values) == len(STREAMS) * epochs * fields, (plot, rev)
    (confusion,) = plots[f"{project.res}/figures/predictions.csv"]
    content = confusion["content"]
    assert confusion["revisions"] == revs
    axes = content["spec"]["encoding"]     # the confusion template: true and predicted glosses
    assert {axes["x"]["field"], axes["y"]["field"]} == {"actual", "predicted"}
    n_test = experiments[name]["ensemble"]["test"]["n"]
    for rev in revs:
        assert sum(v["rev"] == rev for v in content["data"]["values"]) == n_test
    for png in ("confusion.png", *(f"curves-{s}.png" for s in STREAMS)):
        images = plots[f"{project.res}/figures/{png}"]
        assert sorted(i["revisions"][0] for i in images) == sorted(revs)
        assert all(Path(i["url"]).is_file() for i in images)


def test_push_then_pull_into_a_fresh_clone_reruns_nothing(project, tmp_path):
    wd = project.wd
    # back to the committed baseline (an experiment may have left its results in the workspace)
    git(wd, "checkout", "-q", "HEAD", "--", ".")
    dvc(wd, "checkout", "--force", "-q", "dvc.yaml")
    assert settled(dvc(wd, "status", "dvc.yaml").stdout)
    assert {f: (wd / f).read_bytes() for f in project.baseline} == project.baseline
    remote = tmp_path / "remote"
    dvc(wd, "remote", "add", "-d", "local", remote)
    dvc(wd, "push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", wd, clone)
    assert not (clone / project.res).exists()
    dvc(clone, "remote", "add", "-d", "local", remote)
    dvc(clone, "pull", "dvc.yaml")      # the main DAG (experiments/dvc.yaml's stages never ran here)
    for f, data in project.baseline.items():
        assert (clone / f).read_bytes() == data, f
    assert settled(dvc(clone, "status", "dvc.yaml").stdout)
    models = {s: (clone / project.res / "train" / s / "model.pt").stat().st_mtime_ns for s in STREAMS}
    repro = dvc(clone, "repro", "dvc.yaml")
    assert re.findall(r"Running stage '([^']+)'", repro.stdout) == ["sources"], repro.stdout[-3000:]
    assert {s: (clone / project.res / "train" / s / "model.pt").stat().st_mtime_ns for s in STREAMS} == models


def test_no_secret_is_written_and_a_damaged_file_is_restored(project):
    wd = project.wd
    written = [p for p in wd.rglob("*") if p.is_file() and ".git" not in p.parts]
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    # a damaged file inside a folder output: dvc sees the folder changed and restores it
    shard = wd / project.res / "keypoints/shard-00000.parquet"
    good = shard.read_bytes()
    shard.write_bytes(good[:-100])
    status = dvc(wd, "status", "dvc.yaml").stdout
    assert "keypoints" in status and "modified" in status, status
    dvc(wd, "repro", "dvc.yaml")
    assert shard.read_bytes() == good
    # one ablation run of the grid outside the main DAG, with the keypoints it needs
    dvc(wd, "repro", "experiments/dvc.yaml:ablate@sam27_ce")
    assert json.loads((wd / project.res / "ablations/sam27_ce/metrics.json").read_text())["test"]["n"] == 12
    assert (wd / project.res / "keypoint_presets/sam27").is_dir()
