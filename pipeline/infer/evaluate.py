"""`evaluate`: a trained run on a labelled split, from its bundles alone: each stream's and
the ensemble's top-1/top-5 (the ensemble stage's own `split_report`), per-class accuracy
and the confusion matrix. The split is a manifest split over a keypoints folder (the run's
own by default), or a bring-your-own CSV of files (`path,gloss`) read as `predict` reads them."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.shards import read_shard_meta, shard_paths
from ..evaluate.ensemble import split_report
from ..metrics import confusion_matrix, per_class_accuracy
from ..train.bundle import keypoint_spec
from ..train.data import load_splits
from .inputs import ClipReader, expand_inputs, keypoints_mismatch
from .run import RunError, TrainedRun

log = logging.getLogger(__name__)


def check_keypoints_match(run: TrainedRun, keypoints_dir: Path) -> None:
    problem = keypoints_mismatch(keypoint_spec(read_shard_meta(shard_paths(keypoints_dir)[0]), str(keypoints_dir)),
                                 run.bundle["keypoints"])
    if problem:
        raise RunError(f"{keypoints_dir}: {problem}")


def check_classes_match(run: TrainedRun, glosses: list[str], source: str) -> None:
    if glosses != run.glosses:
        raise RunError(f"{source}: its class list ({len(glosses)} classes) is not the run's ({len(run.glosses)})")


def split_clips(run: TrainedRun, keypoints_dir: Path, manifest: Path, classes: Path, split: str
                ) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """The split's clips as training read them (quarantined samples left out)."""
    check_keypoints_match(run, keypoints_dir)
    splits, _, class_table = load_splits(keypoints_dir, manifest, classes)
    check_classes_match(run, list(class_table["gloss"]), str(classes))
    if split not in splits:
        raise RunError(f"{manifest}: no samples in the {split} split (has {', '.join(splits)})")
    d = splits[split]
    return d.clips, d.labels, d.sample_ids


def csv_clips(run: TrainedRun, csv_path: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Rows `path,gloss` (paths relative to the CSV); unreadable files are reported and left out."""
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    if list(table.columns[:2]) != ["path", "gloss"]:
        raise RunError(f"{csv_path}: expected columns path,gloss; got {','.join(table.columns)}")
    label_of = {g: k for k, g in enumerate(run.glosses)}
    unknown = sorted(set(table["gloss"]) - set(label_of))
    if unknown:
        raise RunError(f"{csv_path}: gloss {unknown[0]!r} is not one of the run's classes ({len(unknown)} unknown)")
    reader = ClipReader(run.bundle)
    clips, labels, names = [], [], []
    for row in table.itertuples():
        for path in expand_inputs([Path(csv_path).parent / row.path]):
            for clip in reader.read(path):
                if clip.points is None:
                    log.warning("left out %s: %s", clip.name, clip.reason)
                    continue
                clips.append(clip.points)
                labels.append(label_of[row.gloss])
                names.append(clip.name)
    if not clips:
        raise RunError(f"{csv_path}: none of its files could be read")
    return clips, np.array(labels, np.int64), names


def evaluate_clips(run: TrainedRun, clips: list[np.ndarray], labels: np.ndarray, names: list[str]) -> dict:
    scores = run.stream_scores(clips)
    report = split_report(scores, labels, run.weights, run.rule)
    confusion = confusion_matrix(run.combine(scores), labels)
    accuracy, counts = per_class_accuracy(confusion)
    return {"run": str(run.source), "rule": run.rule, "weights": run.weights, "n": len(labels),
            "chance_top1": 1.0 / len(run.glosses), **report,
            "per_class": [{"label": k, "gloss": g, "n": int(counts[k]), "top1": float(accuracy[k])}
                          for k, g in enumerate(run.glosses)],
            "confusion": confusion.tolist(), "samples": names}


def summary(report: dict) -> str:
    lines = [f"{report['n']} clips, {len(report['per_class'])} classes (chance {report['chance_top1']:.3f})"]
    for s, acc in report["streams"].items():
        lines.append(f"  {s:<14} top-1 {acc['top1']:.4f}  top-5 {acc['top5']:.4f}")
    e = report["ensemble"]
    lines.append(f"  {'ensemble':<14} top-1 {e['top1']:.4f}  top-5 {e['top5']:.4f}  ({report['rule']} rule, "
                 f"weights {report['weights']})")
    worst = sorted((c for c in report["per_class"] if c["n"]), key=lambda c: (c["top1"], c["label"]))[:5]
    lines.append("  lowest per-class top-1: " + ", ".join(f"{c['gloss']} {c['top1']:.2f}" for c in worst))
    return "\n".join(lines)
