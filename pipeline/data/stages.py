"""Entry points of the data stages: manifest and keypoints (thin: parse, call, write)."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..io import atomic_dir, atomic_path, write_json, write_text
from .keypoints import normalise, select_keypoints
from .shards import QUARANTINE, read_shard, shard_paths, write_shard
from .synthetic.corpus import build_corpus
from .synthetic.dictionary import write_alphabet, write_dictionary
from .wholebody import get_preset

log = logging.getLogger(__name__)


def run_manifest(params: dict, out_dir: Path) -> None:
    """Write manifest.parquet, classes.csv and (demo) corpus.json + knowledge/."""
    dataset = params["dataset"]
    if dataset != "demo":
        raise ValueError(f"dataset {dataset!r}: no adapter for it yet; the bundled dataset is 'demo'")
    corpus = build_corpus(params["synthetic"], params["seed"])
    manifest = corpus.manifest()
    classes = pd.DataFrame({"label": range(len(corpus.signs)), "gloss": [s.gloss for s in corpus.signs]})
    with atomic_dir(out_dir / "knowledge") as kb:
        (kb / "dictionary.md").write_text(write_dictionary(corpus.signs, params["seed"]))
        (kb / "alphabet.md").write_text(write_alphabet())
    write_json(out_dir / "corpus.json", corpus.to_dict())
    write_text(out_dir / "classes.csv", classes.to_csv(index=False))
    with atomic_path(out_dir / "manifest.parquet") as tmp:
        manifest.to_parquet(tmp, index=False)
    counts = manifest["split"].value_counts().to_dict()
    log.info("manifest: %d classes, %d samples %s", len(classes), len(manifest), counts)


def pose_shard_paths(pose_dir: Path) -> list[Path]:
    """The shards the pose stage's index lists (a pose folder without an index is still
    being written, or was written by hand: then every shard-*.parquet)."""
    index = Path(pose_dir) / "index.json"
    if not index.exists():
        return shard_paths(pose_dir)
    return [Path(pose_dir) / name for name in json.loads(index.read_text())["shards"]]


def run_keypoints(params: dict, pose_dir: Path, out_dir: Path) -> None:
    """Every pose shard -> a keypoint shard of the selected preset, normalised. The pose
    stage's quarantine list travels along, so training knows which samples are absent."""
    cfg = params["keypoints"]
    preset = get_preset(cfg["preset"])
    kept = 0
    with atomic_dir(out_dir) as tmp:
        for path in tqdm(pose_shard_paths(pose_dir), desc="keypoints", disable=None):
            samples, meta = read_shard(path)
            if meta.get("layout") != "coco_wholebody_133":
                raise ValueError(f"{path}: layout {meta.get('layout')!r}, expected coco_wholebody_133")
            if not samples:
                continue        # every video of this shard was quarantined
            out = {}
            for sid, frames in samples.items():
                if cfg["normalise"]:
                    frames = normalise(frames, cfg["min_score"])
                out[sid] = select_keypoints(frames, preset)
            kept += len(out)
            source = {k: v for k, v in meta.items() if k != "quarantine"}
            write_shard(tmp / path.name, out, {
                "layout": preset.name, "source": source, "normalised": cfg["normalise"],
                "parents": list(preset.parents), "indices": list(preset.indices),
                "parts": {k: list(v) for k, v in preset.parts.items()},
            })
        if kept == 0:
            raise ValueError(f"{pose_dir}: no sample has pose data (all quarantined?)")
        quarantine = Path(pose_dir) / QUARANTINE
        if quarantine.exists():
            shutil.copyfile(quarantine, tmp / QUARANTINE)
    log.info("keypoints: preset %s (%d points), %d samples -> %s", preset.name, preset.num_points, kept, out_dir)
