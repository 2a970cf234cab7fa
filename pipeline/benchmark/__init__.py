"""Benchmarks (not timed tests): training throughput and the demo DAG's wall time.

    python -m pipeline benchmark train   # ours beside the published model, interleaved (benchmark/train.py)
    python -m pipeline benchmark dag     # the whole demo DAG: wall time and peak memory
    python -m pipeline benchmark dag --seeds 3   # ... once per seed: top-1 mean ± sd, the demo's promise
    python -m pipeline benchmark copy-share      # the demo descriptions' share of renderer phrases
    python -m pipeline benchmark pose    # frames/s per pose backend and with shards in parallel
    python -m pipeline benchmark rtmw-box   # a hand's size in RTMW's input: whole-frame vs person box
    python -m pipeline benchmark clips   # a training job's peak memory per clip store at 125k clips
    python -m pipeline benchmark kernels # the fused Triton kernels' registers, spills, shared memory per GPU arch

"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import psutil
import torch

from ..machine import cpu_model

log = logging.getLogger(__name__)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def benchmark_dag(params_path: Path, cores: int, seed: int | None = None) -> dict:
    """Run the whole DAG from scratch in a scratch copy of the workflow and package (with ``seed`` for
    params' seed when given); sample the RSS of the whole process tree (concurrent jobs add
    up) every 0.2 s."""
    import yaml
    root = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="gspmc-dag-") as tmp:
        wd = Path(tmp)
        for name in ("Snakefile", "dvc.yaml"):
            shutil.copy(root / name, wd / name)
        shutil.copytree(root / "workflow", wd / "workflow")
        # the stages' code is part of their inputs, and `python -m pipeline` there runs this copy: an edit
        # to the checkout while the benchmark runs changes nothing in it
        shutil.copytree(root / "pipeline", wd / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(params_path, wd / "params.yaml")
        if seed is not None:
            params = yaml.safe_load((wd / "params.yaml").read_text())
            params["seed"] = seed
            (wd / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        snakemake = Path(sys.executable).parent / "snakemake"
        t0 = time.perf_counter()
        env = dict(os.environ, PATH=f"{snakemake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        proc = psutil.Popen([str(snakemake), "--cores", str(cores), "all"], cwd=wd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(proc))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output = proc.communicate()[0]
        done.set()
        sampler.join()
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"the DAG failed:\n{output[-3000:]}")
        metrics = json.loads(next((wd / "results").glob("*/metrics.json")).read_text())
    result = {"seed": seed, "seconds": seconds, "peak_rss_mib": peak[0] / 2 ** 20, "cores": cores,
              "ensemble_test_top1": metrics["ensemble"]["test"]["top1"], "chance_top1": metrics["chance_top1"],
              "metrics": metrics}
    print(f"demo DAG: {seconds / 60:.1f} min on {cores} cores, peak RSS (whole process tree) "
          f"{result['peak_rss_mib']:.0f} MiB, ensemble test top-1 {result['ensemble_test_top1']:.3f} "
          f"(chance {result['chance_top1']:.3f})", flush=True)
    print(accuracy_table(metrics), flush=True)
    return result


def accuracy_table(metrics: dict) -> str:
    """metrics.json's top-1 per stream and the ensemble: train (the final model on its own
    training clips), val, test."""
    pct = lambda m, split: "-" if not m.get(split) else f"{100 * m[split]['top1']:.1f}"  # noqa: E731
    rows = [f"{'':13s} {'train':>6s} {'val':>6s} {'test':>6s}"]
    for name, m in [*metrics["streams"].items(), ("ensemble", metrics["ensemble"])]:
        rows.append(f"{name:13s} {pct(m, 'train'):>6s} {pct(m, 'val'):>6s} {pct(m, 'test'):>6s}")
    return "\n".join(rows)


SPLITS = ("train", "val", "test")


def seeds_summary(runs: list[dict]) -> dict:
    """Per stream and the ensemble, each split's top-1 over the runs: mean, sd (n-1), values;
    and the val-test gap (mean of val - test)."""
    import numpy as np
    names = [*runs[0]["metrics"]["streams"], "ensemble"]
    out = {}
    for name in names:
        per = [r["metrics"]["ensemble"] if name == "ensemble" else r["metrics"]["streams"][name] for r in runs]
        row = {}
        for split in SPLITS:
            values = [m[split]["top1"] for m in per if m.get(split)]
            if values:
                row[split] = {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1
                              else 0.0, "values": values}
        if "val" in row and "test" in row:
            row["val_minus_test"] = row["val"]["mean"] - row["test"]["mean"]
        out[name] = row
    return out


def demo_promise(summary: dict) -> dict:
    """What the demo promises (docs/demo.md), on the means over seeds: every stream test >= 50 %,
    ensemble test in 70-95 % and >= the best stream."""
    streams = {k: v["test"]["mean"] for k, v in summary.items() if k != "ensemble"}
    ensemble = summary["ensemble"]["test"]["mean"]
    return {"streams_at_least_50": all(v >= 0.5 for v in streams.values()),
            "ensemble_70_to_95": 0.7 <= ensemble <= 0.95,
            "ensemble_at_least_best_stream": ensemble >= max(streams.values())}


def seeds_table(summary: dict) -> str:
    cell = lambda r, split: "-" if split not in r else \
        f"{100 * r[split]['mean']:.1f} ± {100 * r[split]['sd']:.1f}"  # noqa: E731
    rows = [f"| {'':13s} | {'train':>12s} | {'val':>12s} | {'test':>12s} | {'val - test':>10s} |",
            "|---|---:|---:|---:|---:|"]
    for name, r in summary.items():
        gap = f"{100 * r['val_minus_test']:+.1f}" if "val_minus_test" in r else "-"
        rows.append(f"| {name:13s} | {cell(r, 'train'):>12s} | {cell(r, 'val'):>12s} | {cell(r, 'test'):>12s} "
                    f"| {gap:>10s} |")
    return "\n".join(rows)


def benchmark_dag_seeds(params_path: Path, cores: int, seeds: int) -> dict:
    """The whole DAG once per seed 0..seeds-1 (corpus, dictionary and training all follow the
    seed): top-1 as mean ± sd per stream and the ensemble, and whether the demo's promise holds."""
    runs = [benchmark_dag(params_path, cores, seed) for seed in range(seeds)]
    summary = seeds_summary(runs)
    result = {"cpu": cpu_model(), "cores": cores, "seeds": list(range(seeds)), "summary": summary,
              "promise": demo_promise(summary), "minutes": [r["seconds"] / 60 for r in runs], "runs": runs}
    print(f"\ndemo DAG over seeds {result['seeds']} on {result['cpu']}, {cores} cores "
          f"({', '.join(f'{m:.1f}' for m in result['minutes'])} min); top-1 %, mean ± sd:", flush=True)
    print(seeds_table(summary), flush=True)
    print(f"promise: {result['promise']}", flush=True)
    return result


def benchmark_describe(params: dict, endpoint: str) -> list[dict]:
    """The gsp variant over the dataset's classes, cold then warm cache: seconds and
    requests per class. ``endpoint``: ``configured`` (params' provider as is) or
    ``echo`` (the openai provider against a loopback endpoint with canned answers:
    measures our client, retry and cache path, not a model)."""
    import copy

    from ..describe.echo_server import EchoServer
    from ..describe.stages import run_describe

    res = Path("results") / params["dataset"]
    needed = [res / "classes.csv", Path(params["knowledge"]["path"]), res / "kb_index"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FileNotFoundError(f"run the DAG first (snakemake --cores 2 all); missing: {', '.join(missing)}")
    params = copy.deepcopy(params)
    results = []
    with tempfile.TemporaryDirectory(prefix="gspmc-describe-") as tmp, EchoServer() as echo:
        params["describe"]["cache_dir"] = str(Path(tmp) / "cache")
        if endpoint == "echo":
            params["describe"]["provider"] = "openai"
            params["describe"]["openai"].update(base_url=echo.base_url, api_key_env=None, model="echo")
        for run in ("cold", "warm"):
            stats = run_describe(params, "gsp", res / "classes.csv", Path(params["knowledge"]["path"]),
                                 res / "kb_index", Path(tmp) / "gsp.jsonl", Path(tmp) / "gsp.md")
            stats.update(run=run, provider=params["describe"]["provider"], endpoint=endpoint)
            results.append(stats)
            print(f"describe {endpoint:10s} {run}: {stats['seconds_per_class'] * 1000:.1f} ms/class, "
                  f"{stats['requests'] / stats['classes']:.2f} requests/class, "
                  f"{stats['cache_hits'] / stats['classes']:.2f} cache hits/class ({stats['classes']} classes)",
                  flush=True)
    return results


def run_benchmark(args, params: dict) -> None:
    print(f"machine: {cpu_model()}, {psutil.cpu_count()} CPUs, "
          f"torch {torch.__version__}", flush=True)
    if args.what == "train":
        from ..io import write_json
        from .train import run_train_benchmark
        results = run_train_benchmark(params, args.config, args.steps, args.device, args.precisions, args.batch,
                                      args.feeder, args.memory, args.compile, args.public, args.fused)
        if args.json is not None:
            write_json(args.json, results)
    elif args.what == "kernels":
        from ..io import write_json
        from .kernels import as_table, shipped_tile_report
        rows = shipped_tile_report(args.archs, args.kernel_dtypes)
        print(as_table(rows), flush=True)
        if args.json is not None:
            write_json(args.json, rows)
        failing = [r for r in rows if not r["fits"]]
        if failing:
            raise ValueError(f"{len(failing)} kernel(s) spill registers or overflow shared memory, first: "
                             f"{failing[0]['kernel']} {failing[0]['dtype']} {failing[0]['arch']}")
    elif args.what == "clips":
        from ..io import write_json
        from .clips import run_clips_benchmark
        # --dir keeps the set for the next run; without it, a temporary folder holds it
        with nullcontext(args.dir) if args.dir else tempfile.TemporaryDirectory(prefix="gspmc-clips-") as root:
            results = run_clips_benchmark(Path(root), args.samples, args.stores, args.steps,
                                          args.batch or 120)
        if args.json is not None:
            write_json(args.json, results)
    elif args.what == "pose":
        from ..pose.benchmark import benchmark_pose
        benchmark_pose(params, args.video, args.copies, psutil.cpu_count(), args.rounds)
    elif args.what == "rtmw-box":
        from ..pose.box_report import benchmark_rtmw_box
        rows = benchmark_rtmw_box(params, args.video)
        if args.json is not None:
            from ..io import write_json
            write_json(args.json, rows)
    elif args.what == "describe":
        for endpoint in ("configured", "echo"):
            benchmark_describe(params, endpoint)
    elif args.what == "copy-share":
        from ..data.synthetic.copy_share import copy_share
        path = args.descriptions or Path("results") / params["dataset"] / "descriptions" / "gsp.jsonl"
        share = copy_share([json.loads(line)["global"] for line in path.read_text().splitlines() if line.strip()])
        print(f"{path}: {share['tokens']} tokens; copying renderer phrases: {100 * share['verbatim']:.1f} % "
              f"verbatim, {100 * share['trigram']:.1f} % in a shared word 3-gram", flush=True)
    elif args.seeds:
        result = benchmark_dag_seeds(args.params, psutil.cpu_count(), args.seeds)
        if args.json is not None:
            from ..io import write_json
            write_json(args.json, result)
    else:
        benchmark_dag(args.params, psutil.cpu_count())
