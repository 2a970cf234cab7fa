"""The train stage entry: load one split set, train one stream, write its outputs."""
from __future__ import annotations

import logging
from pathlib import Path

from .data import load_splits
from .feeder import Feeder
from ..text.bank import TextBank
from .loop import MCSetup, fingerprint, train_stream
from .streams import STREAMS

log = logging.getLogger(__name__)


def run_train(params: dict, stream: str, keypoints_dir: Path, manifest: Path, classes_path: Path,
              text_bank: Path, out_dir: Path, ablation: str | None = None) -> dict:
    """`ablation` names a run of params.ablations.runs whose MC terms replace mc.terms (its
    keypoints and text bank are the paths given)."""
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

    mc_cfg = params["mc"]
    if ablation is not None:
        runs = params["ablations"]["runs"]
        if ablation not in runs:
            raise ValueError(f"ablation {ablation!r} is not defined under ablations.runs ({', '.join(runs)})")
        mc_cfg = {**mc_cfg, "terms": list(runs[ablation]["terms"])}
        log.info("ablation %s: MC terms %s", ablation, mc_cfg["terms"] or "none (CE only)")
    bank = TextBank.load(text_bank)
    if bank.num_classes != len(classes):
        raise ValueError(f"{text_bank}: texts for {bank.num_classes} classes, but the class list has {len(classes)}")
    mc = MCSetup(bank, list(mc_cfg["terms"]), mc_cfg["temperature"], mc_cfg["weight"],
                 {k: list(v) for k, v in meta["parts"].items()})
    fp = fingerprint(params["model"], cfg, mc_cfg, params["seed"], stream, Path(keypoints_dir), Path(manifest),
                     Path(classes_path), Path(text_bank))
    metrics = train_stream(feeder("train"), feeder("val"), feeder("test"), len(classes), edges,
                           params["model"], cfg, params["seed"], out_dir, fp, mc)
    log.info("%s: val top-1 %.3f, test top-1 %.3f", stream, metrics["val"]["top1"], metrics["test"]["top1"])
    return metrics
