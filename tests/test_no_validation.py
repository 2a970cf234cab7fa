"""A dataset without a validation split (the paper's SLR-500 protocol: train on signers 1-35,
test on 36-50): training runs without per-epoch validation, the ensemble uses the params'
weights, and tuning them on a validation split that does not exist is a clear error."""
import csv
import json

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_params

from pipeline.data.shards import write_shard
from pipeline.evaluate.stages import run_ensemble
from pipeline.io import atomic_dir
from pipeline.names import STREAMS
from pipeline.text.bank import TextBank
from pipeline.train.stages import run_train

CLASSES = ["hello", "thanks", "house"]
PARENTS = [-1, 0, 1, 0, 3]          # a 5-point tree: enough for bone streams


def tiny_dataset(root, splits: dict[str, range]) -> dict:
    """Keypoints, manifest, class list and a text bank for `splits` (split -> signers), one
    clip per (signer, class) whose motion depends on the class."""
    rows, clips = [], {}
    for split, signers in splits.items():
        for signer in signers:
            for label, gloss in enumerate(CLASSES):
                sid = f"{label:03d}_P{signer:02d}"
                t = np.linspace(0, 1, 16)[:, None, None]
                rng = np.random.default_rng([signer, label])   # a clip does not depend on the other splits
                clip = rng.normal(0, 0.1, (16, len(PARENTS), 3)) + np.sin((label + 1) * 3 * t)
                clip[..., 2] = 1.0                      # detection scores
                clips[sid] = clip.astype(np.float32)
                rows.append({"sample_id": sid, "split": split, "signer": signer, "label": label, "gloss": gloss,
                             "video": f"{sid}.avi", "n_frames": 16, "fps": 25.0})
    with atomic_dir(root / "keypoints", "keypoints") as keypoints:
        write_shard(keypoints / "shard-00000.parquet", clips,
                    {"layout": "tiny5", "indices": list(range(len(PARENTS))), "parents": PARENTS,
                     "parts": {"body": list(range(len(PARENTS)))}, "normalised": True, "min_score": 0.05,
                     "mirror_left_handed": False})
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet", index=False)
    pd.DataFrame({"label": range(len(CLASSES)), "gloss": CLASSES}).to_csv(root / "classes.csv", index=False)
    C, D = len(CLASSES), 4                              # CE only: the bank is loaded, never used
    TextBank(np.zeros((C, D), np.float32), np.eye(C, dtype=bool), np.zeros((C, 1, D), np.float32),
             np.ones((C, 1), bool), np.eye(C, dtype=bool)[:, None, :], np.zeros((1, D), np.float32),
             np.ones((1, C), bool), np.ones((1, 5), bool), {}).save(root / "bank.safetensors")
    return {"keypoints_dir": root / "keypoints", "manifest": root / "manifest.parquet",
            "classes_path": root / "classes.csv", "text_bank": root / "bank.safetensors"}


def params_without_val() -> dict:
    p = tiny_params()
    p["mc"]["terms"] = []
    p["ensemble"]["tune_on_val"] = False
    return p


def test_train_and_ensemble_run_without_a_validation_split(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_dataset(tmp_path / "data", {"train": range(1, 9), "test": range(36, 38)})
    p = params_without_val()
    for stream in STREAMS:
        metrics = run_train(p, stream, out_dir=tmp_path / "train" / stream, **data)
        assert metrics["val"] is None and metrics["test"]["n"] == 6
    out = tmp_path / "train/joint"
    assert json.loads((out / "metrics.json").read_text())["val"] is None
    with np.load(out / "scores.npz") as z:
        assert sorted(z.files) == ["test_ids", "test_labels", "test_scores"]
    log_rows = list(csv.DictReader((out / "log.csv").open()))
    assert len(log_rows) == p["train"]["epochs"]
    assert all(r["val_loss"] == r["val_top1"] == r["val_top5"] == "" and r["train_loss"] for r in log_rows)

    m = run_ensemble(p, tmp_path / "train", tmp_path / "metrics.json")
    assert m["ensemble"]["weights_source"] == "params" and m["ensemble"]["weights"] == p["ensemble"]["weights"]
    assert m["ensemble"]["val"] is None and all(s["val"] is None for s in m["streams"].values())
    assert json.loads((tmp_path / "metrics.json").read_text())["ensemble"]["test"]["n"] == 6

    p["ensemble"]["tune_on_val"] = True
    with pytest.raises(ValueError, match=r"ensemble.tune_on_val(?s:.*)without one(?s:.*)tune_on_val: false"):
        run_ensemble(p, tmp_path / "train", tmp_path / "tuned.json")
    assert not (tmp_path / "tuned.json").exists()


def test_leaving_out_validation_changes_nothing_that_is_trained(tmp_path):
    """Per-epoch validation draws no randomness: the same training data gives the same test scores."""
    for name, splits in (("with", {"train": range(1, 9), "val": range(33, 35), "test": range(36, 38)}),
                         ("without", {"train": range(1, 9), "test": range(36, 38)})):
        (tmp_path / name).mkdir()
        data = tiny_dataset(tmp_path / name, splits)
        metrics = run_train(params_without_val(), "bone", out_dir=tmp_path / name / "out", **data)
        assert (metrics["val"] is None) == (name == "without")
    with np.load(tmp_path / "with/out/scores.npz") as a, np.load(tmp_path / "without/out/scores.npz") as b:
        np.testing.assert_array_equal(a["test_scores"], b["test_scores"])
        assert "val_scores" in a.files and "val_scores" not in b.files
