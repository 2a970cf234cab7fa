"""Descriptions -> text bank, every unique text encoded once (the synonyms and part
segments of many classes repeat; the embed stage in text/stages.py writes the bank)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..data.wholebody import PART_NAMES
from .bank import TextBank
from .cache import EmbeddingCache

log = logging.getLogger(__name__)


def read_descriptions(path: str | Path, num_classes: int) -> list[dict]:
    records = []
    # JSON lines end at "\n" only: splitlines() would also cut at a U+2028 inside a string
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}: line {number}: not a JSON record ({exc}); rerun the describe stage") from exc
    by_label = {r["label"]: r for r in records}
    missing = [k for k in range(num_classes) if k not in by_label]
    if missing:
        raise ValueError(f"{path}: no description for class label(s) {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''} of {num_classes}")
    for r in records:
        if not str(r.get("global", "")).strip():
            raise ValueError(f"{path}: class {r.get('gloss')!r} has an empty global description")
        for seg in r.get("parts", []):
            if not seg.get("parts"):
                raise ValueError(f"{path}: class {r['gloss']!r} has a segment with an empty part list: "
                                 f"{seg.get('text', '')[:60]!r}")
            bad = [p for p in seg["parts"] if p not in PART_NAMES]
            if bad:
                raise ValueError(f"{path}: class {r['gloss']!r}: unknown part(s) {bad}; known: {PART_NAMES}")
    return [by_label[k] for k in range(num_classes)]


def count_truncated(encoder, texts: list[str]) -> int:
    """Texts longer than the encoder's token limit: encoders cut them silently; we count and
    log them instead."""
    return sum(n > encoder.max_tokens for n in encoder.token_counts(texts))


def encode_unique(encoder_name: str, texts: list[str], cache: EmbeddingCache) -> tuple[dict[str, np.ndarray], dict]:
    from .encoders import encode, load_encoder

    unique = list(dict.fromkeys(texts))
    found = cache.get_many(encoder_name, unique)
    todo = [t for t in unique if t not in found]
    stats = {"texts": len(texts), "unique": len(unique), "cache_hits": len(found), "encoded": len(todo),
             "truncated": 0}
    if todo:
        stats["truncated"] = count_truncated(load_encoder(encoder_name), todo)
        if stats["truncated"]:
            log.warning("%d text(s) exceed the encoder's %d-token limit and were truncated", stats["truncated"],
                        load_encoder(encoder_name).max_tokens)
        new = dict(zip(todo, encode(encoder_name, todo)))
        cache.put_many(encoder_name, new)
        found.update(new)
    return found, stats


def build_bank(records: list[dict], encoder_name: str, cache: EmbeddingCache, variant: str) -> tuple[TextBank, dict]:
    texts = []
    for r in records:
        texts.append(r["global"])
        texts.extend(r.get("synonyms", []))
        texts.extend(seg["text"] for seg in r.get("parts", []))
    vectors, stats = encode_unique(encoder_name, texts, cache)
    dim = len(next(iter(vectors.values())))
    C = len(records)
    S = max([len(r.get("synonyms", [])) for r in records] + [1])
    glob = np.stack([vectors[r["global"]] for r in records]).astype(np.float32)
    # a text belongs to every class that has it (as a global, synonym or segment of that kind)
    owners: dict[str, dict[str, set[int]]] = {"global": {}, "synonym": {}, "segment": {}}
    for c, r in enumerate(records):
        owners["global"].setdefault(r["global"], set()).add(c)
        for t in r.get("synonyms", []):
            owners["synonym"].setdefault(t, set()).add(c)
        for seg in r.get("parts", []):
            owners["segment"].setdefault(seg["text"], set()).add(c)

    def members(kind: str, text: str) -> np.ndarray:
        row = np.zeros(C, bool)
        row[sorted(owners[kind][text])] = True
        return row

    glob_members = np.stack([members("global", r["global"]) for r in records])
    syn = np.zeros((C, S, dim), np.float32)
    syn_mask = np.zeros((C, S), bool)
    syn_members = np.zeros((C, S, C), bool)
    for c, r in enumerate(records):
        for k, t in enumerate(r.get("synonyms", [])):
            syn[c, k], syn_mask[c, k], syn_members[c, k] = vectors[t], True, members("synonym", t)
    # each distinct segment text once, with the union of its part tags over the classes using it
    tags: dict[str, set[str]] = {}
    for r in records:
        for seg in r.get("parts", []):
            tags.setdefault(seg["text"], set()).update(seg["parts"])
    seg_texts = list(tags)
    segments = (np.stack([vectors[t] for t in seg_texts]).astype(np.float32) if seg_texts
                else np.zeros((0, dim), np.float32))
    seg_members = np.stack([members("segment", t) for t in seg_texts]) if seg_texts else np.zeros((0, C), bool)
    seg_parts = np.array([[p in tags[t] for p in PART_NAMES] for t in seg_texts], bool).reshape(-1, len(PART_NAMES))
    shared = int((seg_members.sum(1) > 1).sum())
    stats.update(segments=len(seg_texts), shared_segments=shared)
    if shared:
        log.info("%d part segment text(s) are shared by several classes: a positive for each of them", shared)
    # label-only synonym variants (describe/offline.py) are degenerate whatever their cosines say
    label_only = [c for c, r in enumerate(records) if r.get("provenance", {}).get("synonyms_from") == "label"]
    bank = TextBank(glob, glob_members, syn, syn_mask, syn_members, segments, seg_members, seg_parts,
                    {"encoder": encoder_name, "variant": variant, "parts": list(PART_NAMES), "dim": dim,
                     "label_only_synonyms": label_only})
    return bank, stats
