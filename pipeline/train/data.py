"""Loading the keypoint shards of each split for training."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.manifest import check_manifest, read_classes
from ..data.shards import QUARANTINE, read_shards
from ..io import verify_folder

log = logging.getLogger(__name__)


def read_quarantine(shard_dir: str | Path) -> set[str]:
    path = Path(shard_dir) / QUARANTINE
    return set(pd.read_csv(path, dtype=str)["sample_id"]) if path.exists() else set()


@dataclass
class SplitData:
    clips: list[np.ndarray]
    labels: np.ndarray
    sample_ids: list[str]
    signers: np.ndarray

    def only_signers(self, keep: list) -> "SplitData":
        """The samples of the given signers."""
        idx = [i for i, s in enumerate(self.signers) if s in set(keep)]
        return SplitData([self.clips[i] for i in idx], self.labels[idx], [self.sample_ids[i] for i in idx],
                         self.signers[idx])


def load_splits(keypoints_dir: str | Path, manifest_path: str | Path, classes_path: str | Path
                ) -> tuple[dict[str, SplitData], dict, pd.DataFrame]:
    classes = read_classes(classes_path)
    manifest = pd.read_parquet(manifest_path)
    check_manifest(manifest, classes, str(manifest_path))
    verify_folder(keypoints_dir, "keypoints")
    samples, meta = read_shards(keypoints_dir)
    quarantined = read_quarantine(keypoints_dir)
    dropped = manifest["sample_id"].isin(quarantined)
    if dropped.any():
        log.warning("%s: %d sample(s) quarantined by the pose stage are left out (%s)", keypoints_dir,
                    int(dropped.sum()), Path(keypoints_dir) / QUARANTINE)
        manifest = manifest[~dropped]
    splits: dict[str, SplitData] = {}
    for split, rows in manifest.groupby("split", sort=False):
        ids = list(rows["sample_id"])
        absent = [s for s in ids if s not in samples]
        if absent:
            raise ValueError(f"{keypoints_dir}: no keypoints for sample {absent[0]!r} "
                             f"({len(absent)} of the {split} split missing)")
        splits[split] = SplitData([samples[s] for s in ids], rows["label"].to_numpy(), ids,
                                  rows["signer"].to_numpy())
    return splits, meta, classes
