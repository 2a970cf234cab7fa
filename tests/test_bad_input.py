"""Bad input: a clear error naming the culprit, exit status 2, nothing on disk changed."""
import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import make_workdir, tiny_params, tool_env

from pipeline.config import ParamsError, check_snakemake_config, validate_params
from pipeline.data.manifest import check_manifest


def _snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def _run(workdir: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=workdir, env=tool_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def workdir(tmp_path):
    wd = make_workdir(tmp_path, tiny_params())
    assert _run(wd, "manifest", "--out-dir", "results/demo").returncode == 0
    return wd


@pytest.mark.parametrize("mutate,needle", [
    (lambda p: p["train"].update(epochz=3), "train.epochz"),
    (lambda p: p["train"].update(epochs="three"), "train.epochs"),
    (lambda p: p["keypoints"].update(preset="gspmc88"), "keypoints.preset"),
    (lambda p: p.update(colour="blue"), "colour"),
    (lambda p: p["model"].pop("num_units"), "model.num_units"),
    (lambda p: p["ablations"]["runs"]["ce"].update(keypoints="masa49"), "ablations.runs.ce.keypoints"),
    (lambda p: p["ablations"]["runs"]["ce"].update(terms=["hands"]), "ablations.runs.ce.terms"),
])
def test_bad_params_name_the_key_and_touch_nothing(workdir, mutate, needle):
    before = _snapshot(workdir / "results")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    mutate(params)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    res = _run(workdir, "manifest", "--out-dir", "results/demo")
    assert res.returncode == 2
    assert needle in res.stderr
    assert _snapshot(workdir / "results") == before


@pytest.mark.slow
def test_label_outside_the_class_list_names_the_sample(workdir):
    classes = workdir / "results/demo/classes.csv"
    table = pd.read_csv(classes)
    classes.write_text(table.iloc[:-1].to_csv(index=False))    # drop the last class
    before = _snapshot(workdir / "results")
    res = _run(workdir, "train", "--stream", "joint", "--keypoints", "results/demo/keypoints",
               "--manifest", "results/demo/manifest.parquet", "--classes", "results/demo/classes.csv",
               "--text", "results/demo/text/gsp.safetensors", "--out", "results/demo/train/joint")
    assert res.returncode == 2
    assert "outside the class list" in res.stderr and "sample 's0" in res.stderr
    assert _snapshot(workdir / "results") == before


def test_check_manifest_catches_gloss_mismatch_and_duplicates():
    classes = pd.DataFrame({"label": [0, 1], "gloss": ["A", "B"]})
    row = dict(sample_id="x", split="train", signer=0, label=1, gloss="A", video="", n_frames=3, fps=25.0)
    with pytest.raises(ValueError, match="gloss 'A' but label 1"):
        check_manifest(pd.DataFrame([row]), classes)
    ok = dict(row, gloss="B")
    with pytest.raises(ValueError, match="duplicate sample_id 'x'"):
        check_manifest(pd.DataFrame([ok, ok]), classes)
    with pytest.raises(ValueError, match="split 'dev'"):
        check_manifest(pd.DataFrame([dict(ok, split="dev")]), classes)


def test_demo_needs_its_section_and_training_signers():
    p = tiny_params()
    del p["synthetic"]
    with pytest.raises(ParamsError, match="synthetic"):
        validate_params(p)
    p = tiny_params()
    p["synthetic"].update(val_signers=2, test_signers=3)
    with pytest.raises(ParamsError, match="val_signers"):
        validate_params(p)


def test_snakemake_config_overrides_are_refused(tmp_path):
    p = tiny_params()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    check_snakemake_config(p, tmp_path / "params.yaml")
    p["train"]["epochs"] = 99
    with pytest.raises(ParamsError, match="overrides"):
        check_snakemake_config(p, tmp_path / "params.yaml")
