"""`python -m pipeline benchmark pose`: frames/s of each available backend on one video,
and how the stage's throughput grows with shards in parallel (pose.workers, which is
what snakemake's --cores gives the per-shard jobs)."""
from __future__ import annotations

import copy
import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from .backends.registry import make_backend
from .stages import run_pose

log = logging.getLogger(__name__)

VIDEO_BACKENDS = ("mediapipe", "rtmw", "mmpose")   # the last two report why they are skipped


def backend_frames_per_s(params: dict, name: str, video: Path) -> dict:
    cfg = dict(params["pose"], backend=name)
    backend = make_backend(cfg, None)
    backend({"video": str(video)})                 # warm-up: model load, first-frame costs
    start = time.perf_counter()
    frames = len(backend({"video": str(video)}))
    wall = time.perf_counter() - start
    return {"backend": name, "version": backend.version, "frames": frames, "seconds": round(wall, 2),
            "frames_per_s": round(frames / wall, 1)}


def scaling(params: dict, video: Path, copies: int, workers: list[int]) -> list[dict]:
    """The whole stage on `copies` copies of the video, one per shard, per worker count."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = pd.DataFrame({"sample_id": [f"copy{i:03d}" for i in range(copies)], "split": "train",
                                 "signer": 0, "label": 0, "gloss": "X", "video": str(video), "n_frames": 0,
                                 "fps": 0.0})
        manifest_path = Path(tmp) / "manifest.parquet"
        manifest.to_parquet(manifest_path, index=False)
        p = copy.deepcopy(params)
        p["pose"].update(backend="mediapipe", shard_size=1)
        frames = None
        for n in workers:
            out = Path(tmp) / f"pose-{n}"
            start = time.perf_counter()
            run_pose(p, manifest_path, None, out, workers=n)
            wall = time.perf_counter() - start
            if frames is None:
                from ..data.shards import read_shards
                frames = sum(len(v) for v in read_shards(out)[0].values())
            rows.append({"workers": n, "videos": copies, "frames": frames, "seconds": round(wall, 2),
                         "frames_per_s": round(frames / wall, 1)})
    base = rows[0]["frames_per_s"]
    for r in rows:
        r["speed_up"] = round(r["frames_per_s"] / base, 2)
    return rows


def snakemake_scaling(params: dict, video: Path, copies: int, cores: list[int]) -> list[dict]:
    """The same, as the DAG runs it: a scratch project whose manifest lists the copies,
    `snakemake --cores N` on the pose index, one pose_shard job (one process) per shard."""
    import shutil
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    rows = []
    for n in cores:
        with tempfile.TemporaryDirectory() as tmp:
            wd = Path(tmp)
            shutil.copy(root / "Snakefile", wd / "Snakefile")
            shutil.copytree(root / "workflow", wd / "workflow")
            p = copy.deepcopy(params)
            p["dataset"] = "byo"                     # a video dataset (the manifest is written below)
            p["pose"].update(backend="mediapipe", shard_size=1)
            (wd / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
            res = wd / "results" / p["dataset"]
            (res / "knowledge").mkdir(parents=True)
            pd.DataFrame({"sample_id": [f"copy{i:03d}" for i in range(copies)], "split": "train", "signer": 0,
                          "label": 0, "gloss": "X", "video": str(Path(video).resolve()), "n_frames": 0, "fps": 0.0}
                         ).to_parquet(res / "manifest.parquet", index=False)
            (res / "classes.csv").write_text("label,gloss\n0,X\n")
            (res / "corpus.json").write_text("{}\n")       # present so snakemake keeps this manifest
            start = time.perf_counter()
            bin_dir = str(Path(sys.executable).parent)     # the stages' `python` is this one
            env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
            done = subprocess.run([f"{bin_dir}/snakemake", "--cores", str(n), "--quiet", "all", "--",
                                   f"results/{p['dataset']}/pose/index.json"], cwd=wd, env=env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"snakemake --cores {n} failed:\n{done.stderr[-3000:]}")
            wall = time.perf_counter() - start
            from ..data.shards import read_shards
            frames = sum(len(v) for v in read_shards(res / "pose")[0].values())
        rows.append({"cores": n, "videos": copies, "frames": frames, "seconds": round(wall, 2),
                     "frames_per_s": round(frames / wall, 1)})
    for r in rows:
        r["speed_up"] = round(r["frames_per_s"] / rows[0]["frames_per_s"], 2)
    return rows


def benchmark_pose(params: dict, video: Path, copies: int, max_workers: int) -> None:
    if not Path(video).exists():
        raise FileNotFoundError(f"{video}: no video to benchmark on (pass --video)")
    print(f"video: {video}", flush=True)
    for name in VIDEO_BACKENDS:
        try:
            r = backend_frames_per_s(params, name, Path(video))
        except (RuntimeError, FileNotFoundError, ValueError) as exc:
            print(f"{name:10s} skipped: {exc}", flush=True)
            continue
        print(f"{name:10s} {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in {r['seconds']} s; "
              f"{r['version']})", flush=True)
    print(f"\nshards in parallel ({copies} copies of the video, one per shard, backend mediapipe):", flush=True)
    for r in scaling(params, Path(video), copies, list(range(1, max_workers + 1))):
        print(f"  workers {r['workers']}: {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in "
              f"{r['seconds']} s, x{r['speed_up']})", flush=True)
    print("\nsnakemake --cores N, one pose_shard job per shard (includes each job's start-up):", flush=True)
    for r in snakemake_scaling(params, Path(video), copies, list(range(1, max_workers + 1))):
        print(f"  --cores {r['cores']}: {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in "
              f"{r['seconds']} s, x{r['speed_up']})", flush=True)
