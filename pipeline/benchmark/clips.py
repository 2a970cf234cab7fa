"""`python -m pipeline benchmark clips`: a training job's peak memory as the dataset grows,
per clip store (train.clips.store, train/clips.py), on a synthetic keypoint set of the
paper's scale (default 125,000 clips of 40-120 frames x 87 points: ~10 GB of float32).

Each store runs in a fresh process (its own peak RSS, VmHWM) that loads the splits as the
train stage does and feeds batches of the training split (random order, crop-resize, bone
stream) for a while. The set is written once, as the keypoints stage writes it: parquet
shards of 1,000 samples, a manifest with a training and a test split, a class list.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..data.shards import write_shard
from ..data.wholebody import get_preset
from ..io import atomic_dir
from ..train.data import load_splits
from ..train.feeder import Feeder
from .train import high_water_rss_mib

SHARD_SIZE = 1000
TRAIN_FRACTION = 0.7            # SLR-500: 87.5k of 125k clips train (signers 1-36), the rest test


def write_synthetic_set(root: Path, samples: int, classes: int = 500, seed: int = 0) -> tuple[Path, Path, Path]:
    """Keypoint shards, manifest and class list of ``samples`` random clips (40-120 frames,
    the gspmc87 layout); returns the three paths load_splits reads."""
    preset = get_preset("gspmc87")
    rng = np.random.default_rng(seed)
    ids = [f"c{k:06d}" for k in range(samples)]
    lengths = rng.integers(40, 121, samples)
    labels = rng.integers(0, classes, samples)
    meta = {"layout": preset.name, "indices": list(preset.indices), "parents": list(preset.parents),
            "parts": {k: list(v) for k, v in preset.parts.items()}, "normalised": True}
    with atomic_dir(root / "keypoints", "keypoints") as keypoints:
        for start in tqdm(range(0, samples, SHARD_SIZE), desc="synthetic shards", disable=None):
            part = {ids[k]: rng.random((int(lengths[k]), preset.num_points, 3), dtype=np.float32)
                    for k in range(start, min(start + SHARD_SIZE, samples))}
            write_shard(keypoints / f"shard-{start // SHARD_SIZE:05d}.parquet", part, meta)
    n_train = int(samples * TRAIN_FRACTION)
    pd.DataFrame({"sample_id": ids, "split": ["train"] * n_train + ["test"] * (samples - n_train),
                  "signer": np.arange(samples) % 50, "label": labels, "gloss": [f"g{k}" for k in labels],
                  "video": [f"{s}.mp4" for s in ids], "n_frames": lengths, "fps": 30.0}
                 ).to_parquet(root / "manifest.parquet", index=False)
    pd.DataFrame({"label": range(classes), "gloss": [f"g{k}" for k in range(classes)]}
                 ).to_csv(root / "classes.csv", index=False)
    return root / "keypoints", root / "manifest.parquet", root / "classes.csv"


def feed(paths: list[str], store: str, batches: int, batch_size: int, window: int = 64) -> dict:
    """In this process: load the splits with ``store``, then feed ``batches`` training batches."""
    started = time.perf_counter()
    splits, meta, _ = load_splits(*paths, store=store, memory_mib=0)
    loaded = time.perf_counter() - started
    train = splits["train"]
    feeder = Feeder(train.clips, train.labels, train.sample_ids, "bone", tuple(meta["parents"]), window, 0.5, 0.95)
    started, fed = time.perf_counter(), 0
    for _, x, _ in feeder.batches(batch_size, np.random.default_rng(0)):
        fed += len(x)
        if fed >= batches * batch_size:
            break
    seconds = time.perf_counter() - started
    return {"store": store, "load_seconds": loaded, "clips": {k: len(v.labels) for k, v in splits.items()},
            "samples_per_s": fed / seconds, "peak_rss_mib": high_water_rss_mib()}


def run_clips_benchmark(root: Path, samples: int, stores: list[str], batches: int, batch_size: int) -> list[dict]:
    """Write the set under ``root`` (reused when it is there with as many samples), then one
    child process per store."""
    manifest = root / "manifest.parquet"
    if not manifest.exists() or len(pd.read_parquet(manifest, columns=["sample_id"])) != samples:
        write_synthetic_set(root, samples)
    paths = [str(root / "keypoints"), str(manifest), str(root / "classes.csv")]
    frames = pd.read_parquet(manifest, columns=["n_frames"])["n_frames"].sum()
    print(f"clips: {samples:,} synthetic clips, {frames:,} frames x 87 points x 3 = "
          f"{frames * 87 * 3 * 4 / 2 ** 30:.1f} GiB of float32 ({root})", flush=True)
    results = []
    for store in stores:
        out = subprocess.run([sys.executable, "-m", __name__, json.dumps(paths), store, str(batches),
                              str(batch_size)], check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        print(f"  store {store:6s}: peak RSS {r['peak_rss_mib']:8.0f} MiB, splits loaded in {r['load_seconds']:.0f} s "
              f"({r['clips']}), then {r['samples_per_s']:.0f} samples/s fed ({batches} batches of {batch_size})",
              flush=True)
    return results


if __name__ == "__main__":      # run_clips_benchmark's child: PATHS_JSON STORE BATCHES BATCH_SIZE
    print(json.dumps(feed(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
