"""The pose stage: manifest -> COCO-WholeBody-133 (x, y, score) shards.

One shard = `pose.shard_size` consecutive samples (by sample_id) = one job. Each shard
records in its metadata the backend, its version, a fingerprint of everything it was
computed from and the samples it quarantined (with reasons). A finished shard whose
fingerprint still matches is never recomputed; shards are written atomically, so a
killed run leaves complete shards or none. `index.json` and `quarantine.csv`, written
last, list the shards and the failures for the downstream stages.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..data.shards import QUARANTINE, read_shard_meta, write_shard
from ..io import write_json, write_text
from .backends.registry import SETTINGS, make_backend
from .video import VideoError

log = logging.getLogger(__name__)

LAYOUT = "coco_wholebody_133"
INDEX = "index.json"


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.parquet"


def plan_shards(manifest: pd.DataFrame, shard_size: int) -> list[pd.DataFrame]:
    rows = manifest.sort_values("sample_id", ignore_index=True)
    return [rows.iloc[k:k + shard_size] for k in range(0, len(rows), shard_size)]


def shard_fingerprint(cfg: dict, backend, rows: pd.DataFrame) -> str:
    """Backend, its params and version, and each sample's source and the source's content
    hash: a shard computed from anything else is stale. Content, not mtime, so the same
    inputs give the same shard bytes on any machine."""
    sources = [(r["sample_id"], backend.source(r), backend.digest(r)) for r in rows.to_dict("records")]
    payload = {"backend": cfg["backend"], "settings": cfg.get(SETTINGS.get(cfg["backend"], "")), "version": backend.version,
               "min_decoded_fraction": cfg["min_decoded_fraction"], "sources": sources}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def shard_is_current(path: Path, fingerprint: str) -> bool:
    try:
        return read_shard_meta(path).get("fingerprint") == fingerprint
    except Exception:  # unreadable = not current; it will be rewritten
        return False


def compute_shard(params: dict, manifest_path: Path, corpus_path: Path | None, out_dir: Path, k: int) -> list[dict]:
    """Shard k: skipped when current, else computed and written. Returns its quarantine
    (sample_id, source, reason); with pose.on_error 'fail' any failure raises."""
    cfg = params["pose"]
    shards = plan_shards(pd.read_parquet(manifest_path), cfg["shard_size"])
    if not 0 <= k < len(shards):
        raise ValueError(f"shard {k} does not exist: the manifest makes {len(shards)} shards of "
                         f"pose.shard_size {cfg['shard_size']}")
    rows, path = shards[k], Path(out_dir) / shard_name(k)
    backend = make_backend(cfg, corpus_path)
    fingerprint = shard_fingerprint(cfg, backend, rows)
    if shard_is_current(path, fingerprint):
        log.info("pose %s: up to date, skipped", path.name)
        quarantine = read_shard_meta(path)["quarantine"]
    else:
        quarantine = _estimate_shard(cfg, backend, rows, path, fingerprint)
    if quarantine and cfg["on_error"] == "fail":
        raise RuntimeError(f"pose {path.name}: {len(quarantine)} sample(s) failed and pose.on_error is 'fail': "
                           + "; ".join(f"{q['sample_id']} ({q['source']}): {q['reason']}" for q in quarantine))
    return quarantine


def _estimate_shard(cfg: dict, backend, rows: pd.DataFrame, path: Path, fingerprint: str) -> list[dict]:
    """Run the backend on every sample of the shard, write it (failures in its metadata)."""
    samples, quarantine = {}, []
    total = int(rows["n_frames"].sum()) if "n_frames" in rows and rows["n_frames"].gt(0).all() else None
    with tqdm(total=total, desc=f"pose {path.name}", unit="frame", disable=None, leave=False) as bar:
        for row in rows.to_dict("records"):
            try:
                samples[row["sample_id"]] = backend(row, progress=bar)
            except VideoError as exc:
                quarantine.append({"sample_id": row["sample_id"], "source": backend.source(row), "reason": str(exc)})
                log.warning("pose: quarantined %s (%s): %s", row["sample_id"], backend.source(row), exc)
    # written even when a sample failed: the failure is a result too, and a rerun with
    # unchanged inputs must not decode the shard again to find it
    meta = {"layout": LAYOUT, "backend": cfg["backend"], "backend_version": backend.version,
            "fingerprint": fingerprint, "quarantine": quarantine, **backend.meta}
    write_shard(path, samples, meta, empty_shape=(133, 3))
    log.info("pose %s: %d samples, %d quarantined", path.name, len(samples), len(quarantine))
    return quarantine


def _compute_shard_logged(args) -> list[dict]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return compute_shard(*args)


def run_pose(params: dict, manifest_path: Path, corpus_path: Path | None, out_dir: Path,
             shard: int | None = None, workers: int = 1) -> None:
    """With `shard`, that shard only (one snakemake job). Without, every shard that is not
    current (in `workers` processes), then the index and the quarantine list."""
    out_dir = Path(out_dir)
    if shard is not None:
        compute_shard(params, manifest_path, corpus_path, out_dir, shard)
        return
    cfg = params["pose"]
    manifest = pd.read_parquet(manifest_path)
    n = len(plan_shards(manifest, cfg["shard_size"]))
    if n == 0:
        raise ValueError(f"{manifest_path}: the manifest has no samples")
    jobs = [(params, manifest_path, corpus_path, out_dir, k) for k in range(n)]
    errors, quarantine = [], []
    if workers > 1 and n > 1:
        # spawn, not fork: a forked copy of a process that already loaded MediaPipe/torch
        # corrupts its heap
        with ProcessPoolExecutor(max_workers=min(workers, n), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_compute_shard_logged, job) for job in jobs]
            for fut in futures:
                try:
                    quarantine += fut.result()
                except RuntimeError as exc:
                    errors.append(str(exc))
    else:
        for job in jobs:
            try:
                quarantine += compute_shard(*job)
            except RuntimeError as exc:
                errors.append(str(exc))
    if errors:
        raise RuntimeError("\n".join(errors))
    finalize(out_dir, n, quarantine, cfg)


def finalize(out_dir: Path, n: int, quarantine: list[dict], cfg: dict) -> None:
    """Drop shards from an earlier, larger plan and the temporaries of killed writers, then
    write the quarantine list and the index."""
    names = [shard_name(k) for k in range(n)]
    for stray in set(p.name for p in out_dir.glob("shard-*.parquet")) - set(names):
        (out_dir / stray).unlink()
    for tmp in out_dir.glob(".shard-*.tmp"):
        tmp.unlink()
    table = pd.DataFrame(quarantine, columns=["sample_id", "source", "reason"])
    write_text(out_dir / QUARANTINE, table.to_csv(index=False))
    write_json(out_dir / INDEX, {"layout": LAYOUT, "backend": cfg["backend"], "shards": names,
                                 "quarantined": len(table)})
    log.info("pose: %d shards, %d sample(s) quarantined -> %s", n, len(table), out_dir)
