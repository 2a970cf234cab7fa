"""The train stage entry: load one split set, train one stream, write its outputs."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..text.bank import TextBank
from .bundle import stream_bundle, write_bundle
from .data import load_splits
from .feeder import Feeder
from .loop import MCSetup, TrainOutputs, fingerprint, train_stream
from .mc import check_text_coverage
from .streams import STREAMS

log = logging.getLogger(__name__)


def first_signers(signers: np.ndarray, count: int | None) -> list:
    """The ``count`` lowest signer ids (all when None): a smaller training set that is still
    a set of whole signers, so the split stays signer-independent."""
    ids = sorted(set(signers.tolist()))
    if count is None:
        return ids
    if not 0 < count <= len(ids):
        raise ValueError(f"train_signers={count}: the training split has {len(ids)} signer(s)")
    return ids[:count]


def run_train(params: dict, stream: str, keypoints_dir: Path, manifest: Path, classes_path: Path,
              text_bank: Path, out_dir: Path, ablation: str | None = None, train_signers: int | None = None) -> dict:
    """`ablation` names a run of params.ablations.runs whose MC terms replace mc.terms (its
    keypoints and text bank are the paths given). `train_signers` keeps only that many
    training signers (the low-data setting of `experiment mc`)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; known: {', '.join(STREAMS)}")
    cfg = params["train"]
    splits, meta, classes = load_splits(keypoints_dir, manifest, classes_path, **cfg["clips"])
    for split in ("train", "test"):       # val is optional: the paper's SLR-500 protocol has none
        if split not in splits:
            raise ValueError(f"{manifest}: no samples in the {split} split")
    if "val" not in splits:
        log.info("%s: no validation split; training without per-epoch validation", manifest)
    if train_signers is not None:
        keep = first_signers(splits["train"].signers, train_signers)
        splits["train"] = splits["train"].only_signers(keep)
        log.info("training on signer(s) %s only: %d clips", keep, len(splits["train"].labels))
    parents = tuple(meta["parents"])
    edges = [(c, p) for c, p in enumerate(parents) if p >= 0]

    def feeder(split: str) -> Feeder:
        return Feeder.of_split(splits[split], stream, parents, cfg)

    mc_cfg = params["mc"]
    if ablation is not None:
        runs = params["ablations"]["runs"]
        if ablation not in runs:
            raise ValueError(f"ablation {ablation!r} is not defined under ablations.runs ({', '.join(runs)})")
        mc_cfg = {**mc_cfg, "terms": list(runs[ablation]["terms"]), "descriptions": runs[ablation]["descriptions"]}
        log.info("ablation %s: MC terms %s", ablation, mc_cfg["terms"] or "none (CE only)")
    bank = TextBank.load(text_bank)
    if bank.num_classes != len(classes):
        raise ValueError(f"{text_bank}: texts for {bank.num_classes} classes, but the class list has {len(classes)}")
    coverage = check_text_coverage(bank, list(mc_cfg["terms"]), mc_cfg, classes["gloss"].tolist(), str(text_bank)) \
        if mc_cfg["terms"] else None
    mc = MCSetup(bank, list(mc_cfg["terms"]), mc_cfg["temperature"], mc_cfg["weight"],
                 {k: list(v) for k, v in meta["parts"].items()}, mc_cfg["centre_text"], coverage)
    # CE alone reads no MC param and no text: a CE run stays valid whatever tau, lambda or the texts become
    uses_text = bool(mc_cfg["terms"])
    fp = fingerprint(params["model"], cfg, mc_cfg if uses_text else {"terms": []}, params["seed"], stream,
                     train_signers, Path(keypoints_dir), Path(manifest), Path(classes_path),
                     Path(text_bank) if uses_text else None)
    metrics = train_stream(feeder("train"), feeder("val") if "val" in splits else None, feeder("test"),
                           len(classes), edges, params["model"], cfg, params["seed"], out_dir, fp, mc)
    outputs = TrainOutputs.in_dir(out_dir)
    write_bundle(out_dir, stream_bundle(params, stream, mc_cfg, meta, classes, meta["num_points"], outputs.model,
                                        Path(keypoints_dir)))
    val_top1 = "none" if metrics["val"] is None else f"{metrics['val']['top1']:.3f}"
    log.info("%s: val top-1 %s, test top-1 %.3f", stream, val_top1, metrics["test"]["top1"])
    return metrics
