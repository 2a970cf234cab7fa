"""The embed stage entry."""
from __future__ import annotations

import logging
from pathlib import Path

from ..data.manifest import read_classes
from .cache import EmbeddingCache
from .embed import build_bank, read_descriptions

log = logging.getLogger(__name__)


def run_embed(params: dict, descriptions: Path, classes_path: Path, out: Path) -> dict:
    cfg = params["embed"]
    classes = read_classes(classes_path)
    records = read_descriptions(descriptions, len(classes))
    for r, gloss in zip(records, classes["gloss"]):
        if r["gloss"] != gloss:
            raise ValueError(f"{descriptions}: label {r['label']} is {r['gloss']!r} there but {gloss!r} in "
                             f"{classes_path}")
    cache = EmbeddingCache(cfg["cache"])
    try:
        bank, stats = build_bank(records, cfg["encoder"], cache, Path(descriptions).stem)
    finally:
        cache.close()
    bank.save(out)
    log.info("embed: %d texts, %d unique, %d cache hits, %d encoded, %d truncated -> %s (D=%d)", stats["texts"],
             stats["unique"], stats["cache_hits"], stats["encoded"], stats["truncated"], out, bank.dim)
    return stats
