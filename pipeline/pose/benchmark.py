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

from ..io import atomic_dir
from .backends.registry import READS_VIDEO, make_backend
from .stages import run_pose

log = logging.getLogger(__name__)


def backend_frames_per_s(params: dict, name: str, video: Path) -> dict:
    cfg = dict(params["pose"], backend=name)
    backend = make_backend(cfg)
    backend({"video": str(video)})                 # warm-up: model load, first-frame costs
    start = time.perf_counter()
    frames = len(backend({"video": str(video)}))
    wall = time.perf_counter() - start
    return {"backend": name, "version": backend.version, "frames": frames, "seconds": round(wall, 2),
            "frames_per_s": round(frames / wall, 1)}


def bare_mediapipe_seconds(cfg: dict, video: Path) -> tuple[int, float]:
    """MediaPipe alone: decode, convert to RGB, Holistic.process, with the stage's settings
    and nothing of ours (no mapping, checks or writing). Returns (frames, seconds)."""
    import cv2

    from .backends.mediapipe_holistic import holistic_graph

    started, frames = time.perf_counter(), 0
    cap = cv2.VideoCapture(str(video))
    with holistic_graph(cfg) as holistic:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            frames += 1
    cap.release()
    return frames, time.perf_counter() - started


def stage_seconds(params: dict, video: Path, work: Path) -> tuple[int, float]:
    """The pose stage on a one-video manifest, in this process (no start-up): what a
    shard job does per video beyond MediaPipe (digest, checks, mapping, shard, index)."""
    from ..data.shards import read_shards

    p = _copies_params(params, dataset="byo")
    manifest = work / "manifest.parquet"
    _write_copies_manifest(manifest, video, 1)
    out = work / f"pose-{time.perf_counter_ns()}"
    started = time.perf_counter()
    run_pose(p, manifest, out)
    seconds = time.perf_counter() - started
    return sum(len(v) for v in read_shards(out)[0].values()), seconds


def stage_overhead(params: dict, video: Path, rounds: int = 2) -> dict:
    """The stage's frames/s over bare MediaPipe's on one video, interleaved (bare, stage,
    bare, stage, ...) after one untimed pass of each: their ratio is the stage's overhead."""
    cfg = params["pose"]["mediapipe"]
    times = {"bare": 0.0, "stage": 0.0}
    frames = {"bare": 0, "stage": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(rounds + 1):
            for name in times:
                n, s = bare_mediapipe_seconds(cfg, video) if name == "bare" else stage_seconds(params, video, Path(tmp))
                if k:                              # the first round warms caches and the models' files
                    times[name] += s
                    frames[name] += n
    fps = {name: frames[name] / times[name] for name in times}
    return {"bare_frames_per_s": round(fps["bare"], 1), "stage_frames_per_s": round(fps["stage"], 1),
            "stage_over_bare": round(fps["stage"] / fps["bare"], 3), "rounds": rounds}


def _copies_params(params: dict, dataset: str | None = None) -> dict:
    p = copy.deepcopy(params)
    if dataset:
        p["dataset"] = dataset
    p["pose"].update(backend="mediapipe", shard_size=1)     # one video per shard = per job
    return p


def _write_copies_manifest(path: Path, video: Path, copies: int) -> None:
    pd.DataFrame({"sample_id": [f"copy{i:03d}" for i in range(copies)], "split": "train", "signer": 0, "label": 0,
                  "gloss": "X", "video": str(Path(video).resolve()), "n_frames": 0, "fps": 0.0}
                 ).to_parquet(path, index=False)


def _throughput(pose_dir: Path, wall: float, **row) -> dict:
    from ..data.shards import read_shards
    frames = sum(len(v) for v in read_shards(pose_dir)[0].values())
    return {**row, "frames": frames, "seconds": round(wall, 2), "frames_per_s": round(frames / wall, 1)}


def _with_speed_up(rows: list[dict]) -> list[dict]:
    return [{**r, "speed_up": round(r["frames_per_s"] / rows[0]["frames_per_s"], 2)} for r in rows]


def scaling(params: dict, video: Path, copies: int, workers: list[int]) -> list[dict]:
    """The whole stage on `copies` copies of the video, one per shard, per worker count."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest_path = Path(tmp) / "manifest.parquet"
        _write_copies_manifest(manifest_path, video, copies)
        p = _copies_params(params)
        for n in workers:
            out = Path(tmp) / f"pose-{n}"
            start = time.perf_counter()
            run_pose(p, manifest_path, out, workers=n)
            rows.append(_throughput(out, time.perf_counter() - start, workers=n, videos=copies))
    return _with_speed_up(rows)


def snakemake_scaling(params: dict, video: Path, copies: int, cores: list[int]) -> list[dict]:
    """The same, as the DAG runs it: a scratch project whose manifest lists the copies,
    `snakemake --cores N` on the pose index, one pose_shard job (one process) per shard."""
    import shutil
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    bin_dir = str(Path(sys.executable).parent)     # the stages' `python` is this one
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    p = _copies_params(params, dataset="byo")      # a video dataset (the manifest is written below)
    rows = []
    for n in cores:
        with tempfile.TemporaryDirectory() as tmp:
            wd = Path(tmp)
            shutil.copy(root / "Snakefile", wd / "Snakefile")
            shutil.copytree(root / "workflow", wd / "workflow")
            # the rules list the code they run among their inputs
            (wd / "pipeline").symlink_to(root / "pipeline", target_is_directory=True)
            (wd / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
            res = wd / "results" / p["dataset"]
            with atomic_dir(res / "knowledge", "manifest"):     # well-formed and empty: pose never reads it
                pass
            _write_copies_manifest(res / "manifest.parquet", video, copies)
            (res / "classes.csv").write_text("label,gloss\n0,X\n")
            (res / "corpus.json").write_text("{}\n")       # present so snakemake keeps this manifest
            start = time.perf_counter()
            done = subprocess.run([f"{bin_dir}/snakemake", "--cores", str(n), "--quiet", "all", "--",
                                   f"results/{p['dataset']}/pose/index.json"], cwd=wd, env=env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"snakemake --cores {n} failed:\n{done.stderr[-3000:]}")
            rows.append(_throughput(res / "pose", time.perf_counter() - start, cores=n, videos=copies))
    return _with_speed_up(rows)


def benchmark_pose(params: dict, video: Path, copies: int, max_workers: int, rounds: int = 2) -> None:
    if not Path(video).exists():
        raise FileNotFoundError(f"{video}: no video to benchmark on (pass --video)")
    print(f"video: {video}", flush=True)
    for name in READS_VIDEO:      # those whose package is missing report why they are skipped
        try:
            r = backend_frames_per_s(params, name, Path(video))
        except (RuntimeError, FileNotFoundError, ValueError) as exc:
            print(f"{name:10s} skipped: {exc}", flush=True)
            continue
        print(f"{name:10s} {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in {r['seconds']} s; "
              f"{r['version']})", flush=True)
    r = stage_overhead(params, Path(video), rounds)
    print(f"\nthe pose stage (mediapipe, in process) {r['stage_frames_per_s']} frames/s, bare MediaPipe "
          f"{r['bare_frames_per_s']} frames/s: stage / bare = {r['stage_over_bare']:.3f} "
          f"({r['rounds']} interleaved rounds)", flush=True)
    print(f"\nshards in parallel ({copies} copies of the video, one per shard, backend mediapipe):", flush=True)
    for r in scaling(params, Path(video), copies, list(range(1, max_workers + 1))):
        print(f"  workers {r['workers']}: {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in "
              f"{r['seconds']} s, x{r['speed_up']})", flush=True)
    print("\nsnakemake --cores N, one pose_shard job per shard (includes each job's start-up):", flush=True)
    for r in snakemake_scaling(params, Path(video), copies, list(range(1, max_workers + 1))):
        print(f"  --cores {r['cores']}: {r['frames_per_s']:7.1f} frames/s  ({r['frames']} frames in "
              f"{r['seconds']} s, x{r['speed_up']})", flush=True)
