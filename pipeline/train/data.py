"""Loading the keypoint shards of each split for training."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.manifest import check_manifest, read_classes
from ..data.shards import read_shards


@dataclass
class SplitData:
    clips: list[np.ndarray]
    labels: np.ndarray
    sample_ids: list[str]


def load_splits(keypoints_dir: str | Path, manifest_path: str | Path, classes_path: str | Path
                ) -> tuple[dict[str, SplitData], dict, pd.DataFrame]:
    classes = read_classes(classes_path)
    manifest = pd.read_parquet(manifest_path)
    check_manifest(manifest, classes, str(manifest_path))
    samples, meta = read_shards(keypoints_dir)
    splits: dict[str, SplitData] = {}
    for split, rows in manifest.groupby("split", sort=False):
        ids = list(rows["sample_id"])
        absent = [s for s in ids if s not in samples]
        if absent:
            raise ValueError(f"{keypoints_dir}: no keypoints for sample {absent[0]!r} "
                             f"({len(absent)} of the {split} split missing)")
        splits[split] = SplitData([samples[s] for s in ids], rows["label"].to_numpy(), ids)
    return splits, meta, classes
