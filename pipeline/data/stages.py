"""Entry points of the data stages: manifest and keypoints (thin: parse, call, write)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..config import val_split_left_out_by
from ..io import atomic_dir, atomic_path, verify_folder, write_json, write_text
from .adapters import ADAPTERS, load_dataset
from .keypoints import prepare_clip
from .manifest import SPLITS, check_manifest
from .protocol import protocol_warnings
from .shards import POSE_LAYOUT, QUARANTINE, pose_shard_paths, read_shard, write_shard
from .sources import sources_record
from .wholebody import get_preset

log = logging.getLogger(__name__)

CORPUS = "corpus.json"      # the dataset's own description, beside the manifest


def required_splits(params: dict) -> tuple[str, ...]:
    """The splits the manifest may not leave empty: train and test always; val unless the
    params leave it out (SLR-500's `val_signers: null`, the paper's protocol) or a byo csv
    decides (a list with train and test rows only). Without val, training runs without
    per-epoch validation and the ensemble uses the params' weights."""
    byo_csv = params["dataset"] == "byo" and params["datasets"]["byo"]["csv"]
    return ("train", "test") if val_split_left_out_by(params) or byo_csv else SPLITS


def check_downloaded(manifest: pd.DataFrame, classes: pd.DataFrame, params: dict) -> None:
    """A downloaded dataset's manifest obeys the contract and fills the splits training
    needs; videos that are not there are named (the pose stage will quarantine them)."""
    dataset = params["dataset"]
    check_manifest(manifest, classes, f"dataset {dataset}")
    empty = [s for s in required_splits(params) if not (manifest["split"] == s).any()]
    if empty:
        raise ValueError(f"dataset {dataset}: no samples in the {', '.join(empty)} split(s) "
                         f"(check datasets.{dataset})")
    # a FIFO named .mp4 blocks the decoder forever, a folder fails it later: named here, unopened
    special = [v for v in manifest["video"] if Path(v).exists() and not Path(v).is_file()]
    if special:
        raise ValueError(f"{special[0]}: not a regular file (a FIFO, device or folder); the pose stage cannot read "
                         f"it as a video ({len(special)} such in dataset {dataset})")
    absent = [v for v in manifest["video"] if not Path(v).exists()]
    if absent:
        log.warning("manifest: %d of %d videos do not exist (first: %s); the pose stage will quarantine them "
                    "unless an importer reads their keypoints", len(absent), len(manifest), absent[0])


def _with_root(params: dict, root: str | None) -> dict:
    """``--root``: the dataset's folder instead of datasets.<dataset>.root."""
    if root is None:
        return params
    if ADAPTERS[params["dataset"]].generated:
        raise ValueError(f"--root: the {params['dataset']} dataset is generated, it has no root folder")
    return {**params, "datasets": {**params["datasets"],
                                   params["dataset"]: {**params["datasets"][params["dataset"]], "root": str(root)}}}


def run_sources(params: dict, out: Path, root: str | None = None) -> None:
    """sources.json: what the manifest is read from (data/sources.py)."""
    record = sources_record(_with_root(params, root))
    write_json(out, record)
    log.info("sources: %s, %d list file(s), %d video file(s) listed", record["dataset"], len(record["files"]),
             record["videos"]["entries"])


def run_manifest(params: dict, out_dir: Path, root: str | None = None) -> None:
    """Write manifest.parquet, classes.csv, corpus.json and knowledge/ of the dataset's
    adapter (data/adapters): for the demo its synthetic corpus and dictionary, for a
    downloaded dataset what the adapter read (corpus.json then describes the source, and
    knowledge/ only says where the dictionary goes)."""
    dataset = params["dataset"]
    generated = ADAPTERS[dataset].generated
    params = _with_root(params, root)
    data = load_dataset(params, Path(out_dir) / CORPUS)
    if not generated:
        check_downloaded(data.manifest, data.classes, params)
        for problem in protocol_warnings(data.manifest, data.classes):
            log.warning("manifest: %s", problem)
    manifest, classes = data.manifest, data.classes
    with atomic_dir(out_dir / "knowledge", "manifest") as kb:
        for name, text in data.knowledge.items():
            (kb / name).write_text(text)
    write_json(out_dir / CORPUS, data.described)
    write_text(out_dir / "classes.csv", classes.to_csv(index=False))
    with atomic_path(out_dir / "manifest.parquet") as tmp:
        manifest.to_parquet(tmp, index=False)
    counts = manifest["split"].value_counts().to_dict()
    if "val" not in counts:
        log.info("manifest: no validation split: training runs without per-epoch validation and the ensemble "
                 "uses ensemble.weights")
    log.info("manifest: %s, %d classes, %d samples %s", dataset, len(classes), len(manifest), counts)


def run_keypoints(params: dict, pose_dir: Path, out_dir: Path, preset_name: str | None = None) -> None:
    """Every pose shard -> a keypoint shard of the selected preset, normalised (and, with
    keypoints.mirror_left_handed, mirrored where the left hand leads, so the dominant hand
    is always the right one, as the descriptions' "dominant hand" says). The pose stage's
    quarantine list travels along, so training knows which samples are absent."""
    cfg = params["keypoints"]
    preset = get_preset(preset_name or cfg["preset"])
    if cfg["mirror_left_handed"] and not cfg["normalise"]:
        raise ValueError("keypoints.mirror_left_handed mirrors about the mid-shoulder origin: it needs "
                         "keypoints.normalise: true")
    kept = mirrored = 0
    verify_folder(pose_dir, "pose")
    with atomic_dir(out_dir, "keypoints") as tmp:
        for path in tqdm(pose_shard_paths(pose_dir), desc="keypoints", disable=None):
            samples, meta = read_shard(path)
            if meta.get("layout") != POSE_LAYOUT:
                raise ValueError(f"{path}: layout {meta.get('layout')!r}, expected {POSE_LAYOUT}")
            if not samples:
                continue        # every video of this shard was quarantined
            out, flipped = {}, []
            for sid, frames in samples.items():
                out[sid], was_mirrored = prepare_clip(frames, cfg, preset)
                if was_mirrored:
                    flipped.append(sid)
            mirrored += len(flipped)
            kept += len(out)
            source = {k: v for k, v in meta.items() if k != "quarantine"}
            write_shard(tmp / path.name, out, {
                "layout": preset.name, "source": source, "normalised": cfg["normalise"],
                "min_score": cfg["min_score"], "mirror_left_handed": cfg["mirror_left_handed"],
                "parents": list(preset.parents), "indices": list(preset.indices),
                "parts": {k: list(v) for k, v in preset.parts.items()}, "mirrored": flipped,
            })
        if kept == 0:
            raise ValueError(f"{pose_dir}: no sample has pose data (all quarantined?)")
        quarantine = Path(pose_dir) / QUARANTINE
        if quarantine.exists():
            shutil.copyfile(quarantine, tmp / QUARANTINE)
    log.info("keypoints: preset %s (%d points), %d samples (%d mirrored: left hand leading) -> %s", preset.name,
             preset.num_points, kept, mirrored, out_dir)
