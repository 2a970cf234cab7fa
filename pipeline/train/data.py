"""Loading the keypoint shards of each split for training."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.manifest import check_manifest, read_classes
from ..data.shards import QUARANTINE, iter_shards, read_shard_meta, shard_frames, shard_paths
from ..io import verify_folder
from .clips import CLIP_COLLECTORS, choose_store, take_clips

log = logging.getLogger(__name__)

# train.clips' defaults, for readers of a split that have no params (evaluate, predict)
DEFAULT_STORE, DEFAULT_MEMORY_MIB = "auto", 4096


def read_quarantine(shard_dir: str | Path) -> set[str]:
    path = Path(shard_dir) / QUARANTINE
    return set(pd.read_csv(path, dtype=str)["sample_id"]) if path.exists() else set()


@dataclass
class SplitData:
    clips: list[np.ndarray]        # or a ClipFile (train.clips.store: disk): a sequence either way
    labels: np.ndarray
    sample_ids: list[str]
    signers: np.ndarray

    def take(self, indices, labels: np.ndarray | None = None) -> "SplitData":
        """The samples at ``indices``, in that order (with ``labels`` in place of theirs)."""
        idx = np.asarray(indices, dtype=np.int64)
        return SplitData(take_clips(self.clips, idx), self.labels[idx] if labels is None else labels,
                         [self.sample_ids[i] for i in idx], self.signers[idx])

    def only_signers(self, keep: list) -> "SplitData":
        """The samples of the given signers."""
        return self.take([i for i, s in enumerate(self.signers) if s in set(keep)])


def load_splits(keypoints_dir: str | Path, manifest_path: str | Path, classes_path: str | Path,
                store: str = DEFAULT_STORE, memory_mib: int = DEFAULT_MEMORY_MIB
                ) -> tuple[dict[str, SplitData], dict, pd.DataFrame]:
    """Each split's clips in manifest order. ``store`` (train.clips.store): memory holds
    them; disk unpacks them into a scratch file and reads each when fed (train/clips.py);
    auto picks memory when they fit in ``memory_mib``. The shards are read one at a time."""
    classes = read_classes(classes_path)
    manifest = pd.read_parquet(manifest_path)
    check_manifest(manifest, classes, str(manifest_path))
    verify_folder(keypoints_dir, "keypoints")
    quarantined = read_quarantine(keypoints_dir)
    dropped = manifest["sample_id"].isin(quarantined)
    if dropped.any():
        log.warning("%s: %d sample(s) quarantined by the pose stage are left out (%s)", keypoints_dir,
                    int(dropped.sum()), Path(keypoints_dir) / QUARANTINE)
        manifest = manifest[~dropped]
    paths = shard_paths(keypoints_dir)
    first = read_shard_meta(paths[0])      # the shards share it (iter_shards checks)
    nbytes = shard_frames(paths) * first["num_points"] * first["channels"] * 4
    chosen = choose_store(store, nbytes, memory_mib)
    log.info("%s: %.0f MiB of clips, held %s (train.clips.store %s)", keypoints_dir, nbytes / 2 ** 20,
             "in memory" if chosen == "memory" else "in a scratch file, read per batch", store)
    wanted = set(manifest["sample_id"])
    collected = CLIP_COLLECTORS[chosen]()
    for _, samples, _ in iter_shards(paths):
        for sid, frames in samples.items():
            if sid in wanted:
                collected.add(sid, frames)
    splits: dict[str, SplitData] = {}
    for split, rows in manifest.groupby("split", sort=False):
        ids = list(rows["sample_id"])
        absent = [s for s in ids if s not in collected]
        if absent:
            raise ValueError(f"{keypoints_dir}: no keypoints for sample {absent[0]!r} "
                             f"({len(absent)} of the {split} split missing)")
        splits[split] = SplitData(collected.clips(ids), rows["label"].to_numpy(), ids, rows["signer"].to_numpy())
    return splits, first, classes
