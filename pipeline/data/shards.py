"""Pose and keypoint shards: parquet, one row per frame (sample_id, frame, keypoints as
a fixed-size list of float32 V*C values), sorted by sample then frame. File metadata
(key ``gspmc``) records the layout, the channels and the producer."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..guards import NonFiniteError, first_non_finite
from ..io import atomic_path

META_KEY = b"gspmc"
QUARANTINE = "quarantine.csv"   # next to the shards: samples a stage could not produce, and why
# The pose stage's output contract, read by the keypoints stage and by predict: its shards
# hold COCO-WholeBody-133 points, and its index (written last) lists them.
POSE_LAYOUT = "coco_wholebody_133"
POSE_INDEX = "index.json"


class ShardError(ValueError):
    """A shard that cannot be read as one: the message names the file."""


def _require_finite_sample(path, sid: str, frames: np.ndarray) -> None:
    index = first_non_finite(frames)
    if index is not None:
        raise NonFiniteError(f"{path}: sample {sid!r} frame {index[0]}: non-finite keypoint value "
                             f"{frames[index]} (point {index[1]}, channel {index[2]})")


def write_shard(path: str | Path, samples: dict[str, np.ndarray], meta: dict,
                empty_shape: tuple[int, int] | None = None) -> None:
    """``samples``: sample_id -> (T, V, C) float32. All samples share V and C. A shard with
    no samples (every video of a pose shard quarantined) is written only when
    ``empty_shape`` gives its (V, C)."""
    ids = sorted(samples)
    if not ids and empty_shape is None:
        raise ValueError(f"{path}: refusing to write an empty shard")
    V, C = samples[ids[0]].shape[1:] if ids else empty_shape
    for sid in ids:
        if samples[sid].shape[1:] != (V, C) or samples[sid].shape[0] == 0:
            raise ValueError(f"{path}: sample {sid} has shape {samples[sid].shape}, expected (T>0, {V}, {C})")
        _require_finite_sample(path, sid, samples[sid])
    frames = (np.concatenate([samples[s].reshape(len(samples[s]), V * C) for s in ids]) if ids
              else np.zeros((0, V * C))).astype(np.float32)
    sample_col = np.concatenate([[s] * len(samples[s]) for s in ids]) if ids else np.array([], dtype=str)
    frame_col = (np.concatenate([np.arange(len(samples[s]), dtype=np.int32) for s in ids]) if ids
                 else np.array([], np.int32))
    values = pa.array(frames.reshape(-1), type=pa.float32())
    table = pa.table({
        "sample_id": pa.array(sample_col, type=pa.string()),
        "frame": pa.array(frame_col, type=pa.int32()),
        "keypoints": pa.FixedSizeListArray.from_arrays(values, V * C),
    })
    full_meta = dict(meta, num_points=int(V), channels=int(C))
    table = table.replace_schema_metadata({META_KEY: json.dumps(full_meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_shard_meta(path: str | Path) -> dict:
    try:
        md = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise ShardError(f"{path}: not a readable parquet shard ({exc})") from exc
    if META_KEY not in md:
        raise ValueError(f"{path}: not a pipeline shard (no '{META_KEY.decode()}' metadata)")
    return json.loads(md[META_KEY])


def read_shard(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    meta = read_shard_meta(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ShardError(f"{path}: not a readable parquet shard ({exc})") from exc
    V, C = meta["num_points"], meta["channels"]
    flat = table.column("keypoints").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    frames = flat.reshape(-1, V, C).astype(np.float32, copy=False)
    ids = table.column("sample_id").to_numpy(zero_copy_only=False)
    out: dict[str, np.ndarray] = {}
    if len(ids) == 0:
        return out, meta
    # rows are sorted by sample, so each sample is one contiguous run
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    for start, stop in zip(np.r_[0, change], np.r_[change, len(ids)]):
        out[str(ids[start])] = frames[start:stop]
    if not np.isfinite(frames).all():
        for sid, sample in out.items():
            _require_finite_sample(path, sid, sample)
    return out, meta


def shard_paths(directory: str | Path) -> list[Path]:
    paths = sorted(Path(directory).glob("shard-*.parquet"))
    if not paths:
        raise FileNotFoundError(f"{directory}: no shard-*.parquet files")
    return paths


def iter_shards(paths: list[Path]):
    """(path, samples, meta) of each shard (``shard_paths``' list), one shard in memory at a
    time; raises when a shard's layout differs from the first one's."""
    first: dict | None = None
    for path in paths:
        part, meta = read_shard(path)
        if first is None:
            first = meta
        elif any(meta.get(key) != first.get(key) for key in ("num_points", "channels", "layout")):
            raise ValueError(f"{path}: layout {meta.get('layout')} differs from the other shards'")
        yield path, part, meta


def shard_frames(paths: list[Path]) -> int:
    """The number of frames (rows) in these shards, from their footers alone."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in paths)


def read_shards(directory: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every sample of every shard in a directory, and the shared metadata (the first shard's)."""
    samples: dict[str, np.ndarray] = {}
    meta: dict | None = None
    for _, part, m in iter_shards(shard_paths(directory)):
        if meta is None:
            meta = m
        samples.update(part)
    return samples, meta


def pose_shard_paths(pose_dir: str | Path) -> list[Path]:
    """The shards a pose folder's index lists (call verify_folder first: then the index is
    there and complete)."""
    index = json.loads((Path(pose_dir) / POSE_INDEX).read_text())
    if index.get("layout") != POSE_LAYOUT:
        raise ShardError(f"{Path(pose_dir) / POSE_INDEX}: layout {index.get('layout')!r}, expected {POSE_LAYOUT}")
    return [Path(pose_dir) / name for name in index["shards"]]
