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
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..data.shards import POSE_INDEX, POSE_LAYOUT, QUARANTINE, read_shard, read_shard_meta, write_shard
from ..io import write_folder_manifest, write_json, write_text
from .backends.registry import SETTINGS, make_backend
from .video import STREAM_CHECKS, VideoError

log = logging.getLogger(__name__)


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
    payload = {"backend": cfg["backend"], "settings": cfg.get(SETTINGS.get(cfg["backend"], "")),
               "version": backend.version,
               "min_decoded_fraction": cfg["min_decoded_fraction"], "min_frames": cfg["min_frames"],
               "stream_checks": STREAM_CHECKS, "sources": sources}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def shard_is_current(path: Path, fingerprint: str) -> bool:
    """Made from these inputs and readable to the end (a shard damaged after it was written,
    truncated or with non-finite values, is estimated again, not carried into the index)."""
    try:
        if read_shard_meta(path).get("fingerprint") != fingerprint:
            return False
        read_shard(path)
        return True
    except Exception:  # unreadable = not current; it will be rewritten
        return False


def compute_shard(cfg: dict, backend, rows: pd.DataFrame, path: Path) -> list[dict]:
    """One shard: skipped when current, else computed and written. Returns its quarantine
    (sample_id, source, reason); with pose.on_error 'fail' any failure raises."""
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


class ShardRunner:
    """The manifest's shard plan and one backend (a model load), made once per process
    and used for every shard that process computes."""

    def __init__(self, params: dict, manifest_path: Path, out_dir: Path):
        self.cfg = params["pose"]
        self.manifest_path = manifest_path
        self.shards = plan_shards(pd.read_parquet(manifest_path), self.cfg["shard_size"])
        self.out_dir = Path(out_dir)
        self._backend = None

    def __call__(self, k: int) -> list[dict]:
        if not 0 <= k < len(self.shards):
            raise ValueError(f"shard {k} does not exist: {self.manifest_path} makes {len(self.shards)} shards of "
                             f"pose.shard_size {self.cfg['shard_size']}")
        if self._backend is None:
            self._backend = make_backend(self.cfg)
        return compute_shard(self.cfg, self._backend, self.shards[k], self.out_dir / shard_name(k))


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
    meta = {"layout": POSE_LAYOUT, "backend": cfg["backend"], "backend_version": backend.version,
            "fingerprint": fingerprint, "quarantine": quarantine, **backend.meta}
    write_shard(path, samples, meta, empty_shape=(133, 3))
    log.info("pose %s: %d samples, %d quarantined", path.name, len(samples), len(quarantine))
    return quarantine


_WORKER: ShardRunner | None = None     # a pool process's runner (spawned processes share nothing)


def _start_worker(*args) -> None:
    global _WORKER
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _WORKER = ShardRunner(*args)


def _worker_shard(k: int) -> list[dict]:
    return _WORKER(k)


def run_pose(params: dict, manifest_path: Path, out_dir: Path,
             shard: int | None = None, workers: int = 1) -> None:
    """With `shard`, that shard only (one snakemake job). Without, every shard that is not
    current (in `workers` processes), then the index and the quarantine list."""
    runner = ShardRunner(params, manifest_path, out_dir)
    if shard is not None:
        runner(shard)
        return
    n = len(runner.shards)
    if n == 0:
        raise ValueError(f"{manifest_path}: the manifest has no samples")
    errors, quarantine = [], []
    if workers > 1 and n > 1:
        # spawn, not fork: a forked copy of a process that already loaded MediaPipe/torch
        # corrupts its heap
        with ProcessPoolExecutor(max_workers=min(workers, n), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker,
                                 initargs=(params, manifest_path, out_dir)) as pool:
            results = [pool.submit(_worker_shard, k) for k in range(n)]
            outcomes = [fut.result for fut in results]
    else:
        outcomes = [partial(runner, k) for k in range(n)]
    for outcome in outcomes:
        try:
            quarantine += outcome()
        except RuntimeError as exc:
            errors.append(str(exc))
    if errors:
        raise RuntimeError("\n".join(errors))
    finalize(runner.out_dir, n, quarantine, runner.cfg)


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
    write_json(out_dir / POSE_INDEX, {"layout": POSE_LAYOUT, "backend": cfg["backend"], "shards": names,
                                 "quarantined": len(table)})
    write_folder_manifest(out_dir, "pose")      # last: the folder is complete
    log.info("pose: %d shards, %d sample(s) quarantined -> %s", n, len(table), out_dir)
