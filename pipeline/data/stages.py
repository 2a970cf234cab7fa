"""Entry points of the data stages: manifest and keypoints (thin: parse, call, write)."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..io import atomic_dir, atomic_path, write_json, write_text
from .keypoints import normalise, select_keypoints
from .shards import read_shard, shard_paths, write_shard
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


def run_keypoints(params: dict, pose_dir: Path, out_dir: Path) -> None:
    """Every pose shard -> a keypoint shard of the selected preset, normalised."""
    cfg = params["keypoints"]
    preset = get_preset(cfg["preset"])
    with atomic_dir(out_dir) as tmp:
        for path in tqdm(shard_paths(pose_dir), desc="keypoints", disable=None):
            samples, meta = read_shard(path)
            if meta.get("layout") != "coco_wholebody_133":
                raise ValueError(f"{path}: layout {meta.get('layout')!r}, expected coco_wholebody_133")
            out = {}
            for sid, frames in samples.items():
                if cfg["normalise"]:
                    frames = normalise(frames, cfg["min_score"])
                out[sid] = select_keypoints(frames, preset)
            write_shard(tmp / path.name, out, {
                "layout": preset.name, "source": meta, "normalised": cfg["normalise"],
                "parents": list(preset.parents), "indices": list(preset.indices),
                "parts": {k: list(v) for k, v in preset.parts.items()},
            })
    log.info("keypoints: preset %s (%d points) -> %s", preset.name, preset.num_points, out_dir)
