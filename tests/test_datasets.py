"""Dataset adapters on tiny fake trees of the official layouts, the presets, and a real
dataset through the DAG's first stages."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import BIN, job_stats, make_workdir, tiny_params, tool_env

from pipeline.config import ParamsError, apply_preset, load_params
from pipeline.data.adapters import DatasetLayoutError, build_dataset
from pipeline.data.stages import run_manifest

GLOSSES = ["hello", "thanks", "house"]


def fake_autsl(root: Path, signers=None, npy_dir: Path | None = None) -> Path:
    """signers: split -> signer ids; two samples per signer, labels cycling over the classes."""
    signers = signers or {"train": [0, 1], "val": [2], "test": [3]}
    pd.DataFrame({"ClassId": [2, 0, 1], "TR": ["ev", "merhaba", "tesekkur"], "EN": ["house", "hello", "thanks"]}
                 ).to_csv(root / "SignList_ClassId_TR_EN.csv", index=False)
    k = 0
    for split, ids in signers.items():
        (root / split).mkdir(parents=True)
        rows = []
        for s in ids:
            for _ in range(2):
                name = f"signer{s}_sample{k}"
                (root / split / f"{name}_color.mp4").write_bytes(b"")
                (root / split / f"{name}_depth.mp4").write_bytes(b"")
                rows.append(f"{name},{k % 3}")
                if npy_dir is not None:
                    rng = np.random.default_rng(k)
                    arr = np.concatenate([rng.uniform(0, 512, (8, 133, 2)), np.ones((8, 133, 1))], 2)
                    np.save(npy_dir / f"{name}_color.npy", arr.astype(np.float32))
                k += 1
        (root / f"{split}_labels.csv").write_text("\n".join(rows) + "\n")
    return root


def params_for(dataset: str, **section) -> dict:
    p = tiny_params()
    p["dataset"] = dataset
    p["datasets"][dataset].update(section)
    return p


def test_autsl_manifest_reads_labels_signers_and_the_class_list(tmp_path):
    root = fake_autsl(tmp_path)
    manifest, classes = build_dataset(params_for("autsl", root=str(root)))
    assert list(classes["gloss"]) == ["hello", "thanks", "house"]          # by ClassId, not by row
    assert len(manifest) == 8 and set(manifest["split"]) == {"train", "val", "test"}
    row = manifest.set_index("sample_id").loc["signer2_sample4"]
    assert (row.split, row.signer, row.label, row.gloss) == ("val", 2, 1, "thanks")
    assert row.video == str(root / "val/signer2_sample4_color.mp4")


def test_autsl_bad_root_names_what_is_missing_and_the_layout(tmp_path):
    root = fake_autsl(tmp_path)
    (root / "val_labels.csv").unlink()
    with pytest.raises(DatasetLayoutError, match=r"(?s)val_labels.csv.*expected layout.*signer<S>_sample<N>"):
        build_dataset(params_for("autsl", root=str(root)))
    with pytest.raises(DatasetLayoutError, match="datasets.autsl.root"):
        build_dataset(params_for("autsl", root=None))
    (root / "val_labels.csv").write_text("signer2_sample4,7\n")
    with pytest.raises(DatasetLayoutError, match="signer2_sample4.*'7'"):
        build_dataset(params_for("autsl", root=str(root)))


def fake_slr500(root: Path, folders: list[str], gloss_lines: list[str], signers=(1, 33, 40)) -> Path:
    for name in folders:
        d = root / "color" / name
        d.mkdir(parents=True)
        for signer in signers:
            (d / f"P{signer:02d}_s1_00_0_color.avi").write_bytes(b"")
    (root / "dictionary.txt").write_text("\n".join(gloss_lines) + "\n", encoding="utf-8")
    return root


def test_slr500_matches_glosses_to_folders_by_id_not_by_order(tmp_path):
    # unpadded folder names sort '10' before '2' as strings; the gloss list is shuffled
    folders = [str(i) for i in range(12)]
    lines = [f"{i:06d}\tword{i}" for i in (3, 0, 11, 1, 2, 10, 4, 5, 6, 7, 8, 9)]
    root = fake_slr500(tmp_path, folders, lines)
    manifest, classes = build_dataset(params_for("slr500", root=str(root)))
    assert list(classes["gloss"]) == [f"word{i}" for i in range(12)]
    assert set(manifest.loc[manifest["video"].str.contains("/color/10/"), "gloss"]) == {"word10"}
    assert manifest.groupby("split")["signer"].unique().apply(list).to_dict() == \
        {"test": [40], "train": [1, 33]}                                    # the paper's protocol: no val


def test_slr500_default_is_the_papers_protocol_and_a_validation_split_is_optional(tmp_path):
    """Signers 1-50: train 1-35, test 36-50, no val (the manifest stage accepts that); val_signers
    carves a validation split out of the training signers."""
    root = fake_slr500(tmp_path / "root", ["000", "001"], ["0 hello", "1 thanks"], signers=range(1, 51))
    p = params_for("slr500", root=str(root))
    assert p["datasets"]["slr500"]["val_signers"] is None
    run_manifest(apply_preset(p), tmp_path / "out")
    manifest = pd.read_parquet(tmp_path / "out/manifest.parquet")
    signers = manifest.groupby("split")["signer"].apply(lambda s: sorted(set(s))).to_dict()
    assert signers == {"train": list(range(1, 36)), "test": list(range(36, 51))}
    assert len(manifest) == 2 * 50
    manifest, _ = build_dataset(params_for("slr500", root=str(root), val_signers=[33, 35]))
    signers = manifest.groupby("split")["signer"].apply(lambda s: sorted(set(s))).to_dict()
    assert signers == {"train": list(range(1, 33)), "val": [33, 34, 35], "test": list(range(36, 51))}
    with pytest.raises(ValueError, match=r"no samples in the val split"):     # asked for, but nobody is in it
        run_manifest(apply_preset(params_for("slr500", root=str(root), val_signers=[60, 61])), tmp_path / "o2")


def test_tune_on_val_without_a_validation_split_names_both_keys():
    p = params_for("slr500")
    assert apply_preset(p)["ensemble"]["tune_on_val"] is False              # the preset: the params' weights
    p["presets"]["slr500"]["ensemble"] = {"tune_on_val": True}
    with pytest.raises(ParamsError, match=r"ensemble.tune_on_val(?s:.*)datasets.slr500.val_signers is null"):
        apply_preset(p)
    p["datasets"]["slr500"]["val_signers"] = [33, 35]
    assert apply_preset(p)["ensemble"]["tune_on_val"] is True
    p = params_for("byo", root="/data/signs", val_fraction=0)
    p["pose"]["backend"] = "mediapipe"
    with pytest.raises(ParamsError, match=r"ensemble.tune_on_val(?s:.*)datasets.byo.val_fraction is 0"):
        apply_preset(p)


def test_slr500_refuses_a_gloss_list_it_cannot_align(tmp_path):
    root = fake_slr500(tmp_path / "a", ["000", "001", "002"], ["hello", "thanks"])       # no ids, 2 for 3
    with pytest.raises(DatasetLayoutError, match="cannot tell which gloss"):
        build_dataset(params_for("slr500", root=str(root)))
    root = fake_slr500(tmp_path / "b", ["000", "001", "005"], ["0 a", "1 b", "2 c"])      # ids disagree
    with pytest.raises(DatasetLayoutError, match=r"folders without a gloss \[5\].*without a folder \[2\]"):
        build_dataset(params_for("slr500", root=str(root)))
    root = fake_slr500(tmp_path / "c", ["000", "001"], ["hello", "thanks"])               # positional is fine
    assert list(build_dataset(params_for("slr500", root=str(root)))[1]["gloss"]) == ["hello", "thanks"]


def test_bring_your_own_csv_and_folders(tmp_path):
    (tmp_path / "clips").mkdir()
    pd.DataFrame({"path": ["clips/a.mp4", "clips/b.mp4", "/abs/c.mp4"], "label": ["10", "9", "10"],
                  "signer": ["1", "2", "3"], "split": ["train", "val", "test"]}).to_csv(tmp_path / "list.csv",
                                                                                          index=False)
    # an absolute path outside the list's folder needs its folder on the allow-list
    manifest, classes = build_dataset(params_for("byo", csv=str(tmp_path / "list.csv"), allowed_roots=["/abs"]))
    assert list(classes["gloss"]) == ["9", "10"]                              # numeric glosses sort as numbers
    assert manifest.set_index("sample_id").loc["clips__a", "video"] == str(tmp_path / "clips/a.mp4")
    assert manifest.set_index("sample_id").loc["clips__a", "label"] == 1
    for gloss in GLOSSES:
        (tmp_path / "folders" / gloss).mkdir(parents=True)
        for i in range(10):
            (tmp_path / "folders" / gloss / f"v{i}.mp4").write_bytes(b"")
    p = params_for("byo", root=str(tmp_path / "folders"))
    manifest, classes = build_dataset(p)
    assert list(classes["gloss"]) == sorted(GLOSSES) and len(manifest) == 30
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert manifest.equals(build_dataset(p)[0])                               # the hash split is stable
    with pytest.raises(DatasetLayoutError, match="exactly one of csv"):
        build_dataset(params_for("byo", root=str(tmp_path), csv=str(tmp_path / "list.csv")))


def test_presets_carry_the_papers_recipe_with_one_key(tmp_path):
    p = tiny_params()
    p["dataset"] = "autsl"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    eff = load_params(tmp_path / "params.yaml")
    assert (eff["train"]["batch_size"], eff["train"]["lr"], eff["train"]["weight_decay"]) == (80, 0.04, 0.0004)
    assert (eff["train"]["epochs"], eff["train"]["warmup_epochs"], eff["train"]["lr_steps"]) == (110, 5, [90, 100])
    assert eff["model"]["base_channels"] == 64 and eff["pose"]["backend"] == "mediapipe"
    assert eff["train"]["momentum"] == p["train"]["momentum"]                 # untouched keys stay
    assert (eff["train"]["crop_min"], eff["train"]["test_crop"]) == (0.5, 0.95)     # CTR-GCN's feeder crops
    p["dataset"] = "slr500"
    eff = apply_preset(p)
    assert (eff["train"]["batch_size"], eff["train"]["lr"]) == (120, 0.06)
    assert (eff["train"]["crop_min"], eff["train"]["test_crop"]) == (0.5, 0.95)
    assert eff["ensemble"]["tune_on_val"] is False and eff["datasets"]["slr500"]["val_signers"] is None
    p["presets"]["slr500"]["train"]["epochz"] = 3
    with pytest.raises(ParamsError, match=r"presets.slr500 applied(?s:.*)train.epochz"):
        apply_preset(p)


@pytest.mark.slow
def test_a_real_dataset_runs_through_manifest_pose_and_keypoints(tmp_path):
    """AUTSL layout + SAM-SLR npy skeletons (the importer), through snakemake."""
    for d in ("npy", "autsl_root", "project", "dictionary"):
        (tmp_path / d).mkdir()
    root = fake_autsl(tmp_path / "autsl_root", npy_dir=tmp_path / "npy")
    (tmp_path / "dictionary/signs.md").write_text("".join(f"## {g}\nA flat hand taps the chest.\n\n" for g in GLOSSES))
    p = params_for("autsl", root=str(root))
    p["knowledge"]["path"] = str(tmp_path / "dictionary")     # a real dataset brings its own dictionary
    p["presets"]["autsl"]["pose"] = {"backend": "sam_slr", "importer": {"dir": str(tmp_path / "npy")},
                                     "shard_size": 3}
    wd = make_workdir(tmp_path / "project", p)
    res = subprocess.run([str(BIN / "snakemake"), "--cores", "2", "results/autsl/keypoints"], cwd=wd,
                         env=tool_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    index = json.loads((wd / "results/autsl/pose/index.json").read_text())
    assert index["backend"] == "sam_slr" and len(index["shards"]) == 3 and index["quarantined"] == 0
    described = json.loads((wd / "results/autsl/corpus.json").read_text())
    assert described["samples"] == 8 and described["splits"] == {"test": 2, "train": 4, "val": 2}
    plan = subprocess.run([str(BIN / "snakemake"), "-n", "all"], cwd=wd, env=tool_env(), capture_output=True,
                          text=True, timeout=300)
    assert plan.returncode == 0 and "train" in plan.stdout and "ensemble" in plan.stdout


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["autsl", "slr500"])
def test_tables_plan_covers_the_papers_grid_without_running_it(tmp_path, dataset):
    for d in ("root", "project", "dictionary"):
        (tmp_path / d).mkdir()
    if dataset == "autsl":
        root = fake_autsl(tmp_path / "root")
    else:
        root = fake_slr500(tmp_path / "root", ["000", "001", "002"], ["0 hello", "1 thanks", "2 house"])
    p = params_for(dataset, root=None)            # the root comes from --config below
    p["ablations"] = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())["ablations"]
    p["knowledge"]["path"] = str(tmp_path / "dictionary")
    wd = make_workdir(tmp_path / "project", p)
    plan = subprocess.run([str(BIN / "snakemake"), "-n", "tables", "--config", f"dataset_root={root}"], cwd=wd,
                          env=tool_env(), capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = dict(line.split() for line in
                plan.stdout.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:])
    assert jobs["manifest"] == "1" and jobs["train"] == "4" and jobs["ensemble"] == "1" and jobs["tables"] == "1"
    assert jobs["ablate"] == str(len(p["ablations"]["runs"])) == "15"
    assert jobs["keypoint_preset"] == "5" and jobs["describe"] == jobs["embed"] == "2"   # gsp, kb
    assert not (wd / "results").exists()                        # planned, nothing run
    made = subprocess.run([str(BIN / "snakemake"), "--cores", "1", f"results/{dataset}/manifest.parquet",
                           "--config", f"dataset_root={root}"], cwd=wd, env=tool_env(), capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    assert len(pd.read_parquet(wd / f"results/{dataset}/manifest.parquet")) in (8, 9)
    refused = subprocess.run([str(BIN / "snakemake"), "-n", "tables", "--config", "seed=3"], cwd=wd, env=tool_env(),
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "overrides" in refused.stdout + refused.stderr


def _byo_project(tmp_path: Path) -> tuple[Path, Path]:
    """A byo CSV over SAM-SLR npy skeletons (no video decoded), an English dictionary, a project."""
    for d in ("data", "npy", "dictionary", "project"):
        (tmp_path / d).mkdir()
    rng = np.random.default_rng(0)
    rows = ["path,label,signer,split"]
    for gloss in GLOSSES:
        for signer, split in ((1, "train"), (2, "train"), (3, "val"), (4, "test")):
            name = f"{gloss}-{signer}"
            (tmp_path / "data" / f"{name}.mp4").write_bytes(b"")
            clip = np.concatenate([rng.uniform(100, 400, (12, 133, 2)), np.ones((12, 133, 1))], 2)
            np.save(tmp_path / "npy" / f"{name}.npy", clip.astype(np.float32))
            rows.append(f"{name}.mp4,{gloss},{signer},{split}")
    (tmp_path / "data/list.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dictionary/signs.md").write_text(
        "".join(f"{g.upper()} — A flat hand taps the chest twice.\n\n" for g in [*GLOSSES, "forest", "woods"]))
    p = tiny_params()
    p["dataset"] = "byo"
    p["datasets"]["byo"]["csv"] = str(tmp_path / "data/list.csv")
    p["pose"].update(backend="sam_slr", shard_size=8)
    p["pose"]["importer"]["dir"] = str(tmp_path / "npy")
    p["knowledge"]["path"] = str(tmp_path / "dictionary")
    p["describe"]["variants"] = ["label", "kb", "gsp"]
    return make_workdir(tmp_path / "project", p), tmp_path / "data/list.csv"


def _planned(wd: Path, *targets: str) -> set[str]:
    res = subprocess.run([str(BIN / "snakemake"), "-n", *targets], cwd=wd, env=tool_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return set(job_stats(res.stdout)) - {"all", "total"}


def _run(wd: Path, *args: str) -> str:
    res = subprocess.run([str(a) for a in args], cwd=wd, env=tool_env(), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"{args}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


@pytest.mark.slow
def test_an_edited_byo_csv_reruns_manifest_and_what_follows(tmp_path):
    """Issue 28: the list's content is a dependency of both DAGs. A class renamed in the CSV
    plans sources, manifest and everything after them; the CSV rewritten with the same content
    (a new mtime) plans nothing."""
    wd, csv = _byo_project(tmp_path)
    built = ["results/byo/keypoints", "results/byo/descriptions/label.jsonl", "results/byo/kb_index"]
    _run(wd, BIN / "snakemake", "--cores", "2", *built)
    assert _planned(wd, *built) == set()
    csv.write_text(csv.read_text())                       # same content, new mtime
    assert _planned(wd, *built) == set()
    csv.write_text(csv.read_text().replace(",house,", ",forest,"))
    # (the pose shards are planned once the checkpoint manifest has run)
    assert _planned(wd, *built) == {"sources", "manifest", "pose", "keypoints", "describe"}
    _run(wd, BIN / "snakemake", "--cores", "2", *built)
    assert "0,forest" in (wd / "results/byo/classes.csv").read_text().split()
    assert _planned(wd, *built) == set()

    # DVC: the sources stage runs on every repro (it cannot list the CSV as a dep, its path is a
    # param); once it has, the edit shows as a changed dep of manifest
    for args in (["git", "init", "-q"], [BIN / "dvc", "init", "-q"], [BIN / "dvc", "repro", "manifest"]):
        _run(wd, *args)
    assert "up to date" in _run(wd, BIN / "dvc", "status", "manifest")
    csv.write_text(csv.read_text().replace(",forest,", ",woods,"))
    _run(wd, BIN / "dvc", "repro", "--single-item", "sources")
    status = _run(wd, BIN / "dvc", "status", "manifest")
    assert "manifest:" in status and "modified:           results/byo/sources.json" in status, status
    assert "Running stage 'manifest'" in _run(wd, BIN / "dvc", "repro", "manifest")
    assert "2,woods" in (wd / "results/byo/classes.csv").read_text().split()
