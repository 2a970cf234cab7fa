"""The pose stage: manifest -> COCO-WholeBody-133 (x, y, score) shards."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import __version__
from ..data.shards import write_shard
from ..data.synthetic.corpus import Corpus
from ..io import atomic_dir

log = logging.getLogger(__name__)


def shard_slices(n: int, shard_size: int) -> list[slice]:
    return [slice(k, min(k + shard_size, n)) for k in range(0, n, shard_size)]


def run_pose(params: dict, manifest_path: Path, corpus_path: Path, out_dir: Path) -> None:
    cfg = params["pose"]
    if cfg["backend"] != "synthetic":
        raise ValueError(f"pose.backend {cfg['backend']!r} is not available")
    corpus = Corpus.from_dict(json.loads(Path(corpus_path).read_text()))
    manifest = pd.read_parquet(manifest_path).sort_values("sample_id", ignore_index=True)
    ids = list(manifest["sample_id"])
    meta = {"layout": "coco_wholebody_133", "backend": "synthetic", "backend_version": __version__,
            "image_size": corpus.image_size, "fps": corpus.fps}
    with atomic_dir(out_dir) as tmp:
        for k, part in enumerate(shard_slices(len(ids), cfg["shard_size"])):
            samples = {sid: corpus.render(sid) for sid in tqdm(ids[part], desc=f"pose shard {k}", leave=False,
                                                                disable=None)}
            write_shard(tmp / f"shard-{k:05d}.parquet", samples, meta)
    log.info("pose: %d samples in %d shards -> %s", len(ids), -(-len(ids) // cfg["shard_size"]), out_dir)
