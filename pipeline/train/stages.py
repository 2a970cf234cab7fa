"""The train stage entry: load one split set, train one stream, write its outputs."""
from __future__ import annotations

import logging
from pathlib import Path

from .data import load_splits
from .feeder import Feeder
from .loop import fingerprint, train_stream
from .streams import STREAMS

log = logging.getLogger(__name__)


def run_train(params: dict, stream: str, keypoints_dir: Path, manifest: Path, classes_path: Path,
              out_dir: Path) -> dict:
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; known: {', '.join(STREAMS)}")
    cfg = params["train"]
    splits, meta, classes = load_splits(keypoints_dir, manifest, classes_path)
    for split in ("train", "val", "test"):
        if split not in splits:
            raise ValueError(f"{manifest}: no samples in the {split} split")
    parents = tuple(meta["parents"])
    edges = [(c, p) for c, p in enumerate(parents) if p >= 0]

    def feeder(split: str) -> Feeder:
        d = splits[split]
        return Feeder(d.clips, d.labels, d.sample_ids, stream, parents, cfg["window"], cfg["crop_min"],
                      cfg["test_crop"])

    fp = fingerprint(params["model"], cfg, params["seed"], stream, Path(keypoints_dir), Path(manifest),
                     Path(classes_path))
    metrics = train_stream(feeder("train"), feeder("val"), feeder("test"), len(classes), edges,
                           params["model"], cfg, params["seed"], out_dir, fp)
    log.info("%s: val top-1 %.3f, test top-1 %.3f", stream, metrics["val"]["top1"], metrics["test"]["top1"])
    return metrics
