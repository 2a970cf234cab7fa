"""Benchmarks (not timed tests): training throughput and the demo DAG's wall time.

    python -m pipeline benchmark train   # samples/s + peak memory, demo width and paper size
    python -m pipeline benchmark dag     # the whole demo DAG: wall time and peak memory
    python -m pipeline benchmark pose    # frames/s per pose backend and with shards in parallel

Each configuration runs in its own process so its peak RSS is its own.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import torch

log = logging.getLogger(__name__)

# The paper's encoder at the shape of the issue: V=87, T=64, batch 16, 226 classes.
PAPER = {"model": {"base_channels": 64, "num_units": 10, "stride_units": [5, 8], "temporal_kernel": 5,
                   "dilations": [1, 2], "dropout": 0.0},
         "num_points": 87, "window": 64, "batch_size": 16, "num_class": 226}
# Measured on this kind of 2-core machine for the public CTR-GCN model at that shape.
PUBLIC_REFERENCE_SAMPLES_PER_S = 1.2


def _shape_of(params: dict, which: str) -> dict:
    if which == "paper":
        return PAPER
    from .data.wholebody import get_preset
    return {"model": params["model"], "num_points": get_preset(params["keypoints"]["preset"]).num_points,
            "window": params["train"]["window"], "batch_size": params["train"]["batch_size"],
            "num_class": params.get("synthetic", {}).get("classes", 40)}


def _random_bank(num_class: int, dim: int = 384, synonyms: int = 3, segments: int = 6):
    """A text bank of the demo's proportions with random unit vectors: the MC terms'
    cost does not depend on what the texts say."""
    import numpy as np

    from .data.wholebody import PART_NAMES
    from .text.bank import TextBank
    rng = np.random.default_rng(0)
    unit = lambda *s: (lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True))(  # noqa: E731
        rng.normal(size=(*s, dim)).astype(np.float32))
    M = num_class * segments
    eye = np.eye(num_class, dtype=bool)
    return TextBank(unit(num_class), eye, unit(num_class, synonyms), np.ones((num_class, synonyms), bool),
                    np.repeat(eye[:, None], synonyms, 1), unit(M), np.repeat(eye, segments, 0),
                    rng.random((M, len(PART_NAMES))) < 0.4, {})


def measure_training(shape: dict, steps: int, threads: int) -> dict:
    """Full SGD steps (forward, loss, backward, update) on random data of the shape,
    CE alone and CE + MC terms interleaved step by step on one model, so the two
    rates see the same machine state (separate runs here vary by +-15%)."""
    from .data.wholebody import get_preset
    from .model.ctrgcn import count_parameters
    from .model.heads import TextAlignmentHeads
    from .train.loop import build_model, keep_freed_memory
    from .train.mc import TERMS, mc_losses, total_loss

    keep_freed_memory()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    preset = get_preset("gspmc87" if shape["num_points"] == 87 else "all133")
    if preset.num_points != shape["num_points"]:
        raise ValueError(f"no preset with {shape['num_points']} points")
    model = build_model(shape["model"], shape["num_class"], preset.edges, preset.num_points)
    bank = _random_bank(shape["num_class"])
    heads = TextAlignmentHeads(model.out_channels, bank.dim, {k: list(v) for k, v in preset.parts.items()})
    bank_t = bank.to_torch("cpu")
    opt = torch.optim.SGD(list(model.parameters()) + list(heads.parameters()), lr=0.01, momentum=0.9,
                          nesterov=True, weight_decay=5e-4)
    B = shape["batch_size"]
    x = torch.randn(B, 3, shape["window"], shape["num_points"])
    y = torch.randint(0, shape["num_class"], (B,))

    def step(mc: bool):
        features = model.features(x)
        loss = torch.nn.functional.cross_entropy(model.classify(features), y)
        if mc:
            glob, parts = heads(features)
            loss = total_loss(loss, mc_losses(glob, parts, y, bank_t, list(TERMS), 0.1), 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(False)                                # warm-up: allocator, kernels
    step(True)
    seconds = {False: 0.0, True: 0.0}
    for _ in range(steps):
        for mc in (False, True):
            t0 = time.perf_counter()
            step(mc)
            seconds[mc] += time.perf_counter() - t0
    return {"parameters": count_parameters(model), "samples_per_s": steps * B / seconds[False],
            "samples_per_s_mc": steps * B / seconds[True], "mc_overhead": seconds[True] / seconds[False] - 1,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": threads,
            "shape": {k: shape[k] for k in ("num_points", "window", "batch_size", "num_class")},
            "model": shape["model"]}


def _train_in_child(params_path: Path, which: str, steps: int) -> dict:
    code = ("import json,sys; from pipeline.benchmark import measure_training, _shape_of; "
            "from pipeline.config import load_params; p=load_params(sys.argv[1]); "
            "print(json.dumps(measure_training(_shape_of(p, sys.argv[2]), int(sys.argv[3]), "
            "p['train']['threads'])))")
    out = subprocess.run([sys.executable, "-c", code, str(params_path), which, str(steps)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def benchmark_train(params_path: Path, which: str, steps: int) -> list[dict]:
    """Each configuration in its own process (its own peak RSS): CE alone and with
    the MC heads and terms, interleaved."""
    results = []
    for name in ["demo", "paper"] if which == "both" else [which]:
        r = _train_in_child(params_path, name, steps)
        r["config"] = name
        results.append(r)
        line = (f"{name:5s}  params {r['parameters'] / 1e6:.3f} M  V={r['shape']['num_points']} "
                f"T={r['shape']['window']} batch {r['shape']['batch_size']} classes {r['shape']['num_class']}  "
                f"CE {r['samples_per_s']:.2f} samples/s, CE+MC {r['samples_per_s_mc']:.2f} samples/s "
                f"(MC {100 * r['mc_overhead']:+.1f}% time)  peak RSS {r['peak_rss_mib']:.0f} MiB")
        if name == "paper":
            line += (f"  [{r['samples_per_s'] / PUBLIC_REFERENCE_SAMPLES_PER_S:.2f}x the public CTR-GCN's "
                     f"{PUBLIC_REFERENCE_SAMPLES_PER_S} samples/s]")
        print(line, flush=True)
    return results


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def benchmark_dag(params_path: Path, cores: int) -> dict:
    """Run the whole DAG from scratch in a scratch copy of the workflow; sample the RSS
    of the whole process tree (concurrent jobs add up) every 0.2 s."""
    root = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="gspmc-dag-") as tmp:
        wd = Path(tmp)
        for name in ("Snakefile", "dvc.yaml"):
            shutil.copy(root / name, wd / name)
        shutil.copytree(root / "workflow", wd / "workflow")
        shutil.copy(params_path, wd / "params.yaml")
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
    result = {"seconds": seconds, "peak_rss_mib": peak[0] / 2 ** 20, "cores": cores,
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


def benchmark_describe(params: dict, endpoint: str) -> list[dict]:
    """The gsp variant over the dataset's classes, cold then warm cache: seconds and
    requests per class. ``endpoint``: ``configured`` (params' provider as is) or
    ``echo`` (the openai provider against a loopback endpoint with canned answers:
    measures our client, retry and cache path, not a model)."""
    import copy

    from .describe.echo_server import EchoServer
    from .describe.stages import run_describe

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
    print(f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, "
          f"torch {torch.__version__}", flush=True)
    if args.what == "train":
        benchmark_train(args.params, args.config, args.steps)
    elif args.what == "pose":
        from .pose.benchmark import benchmark_pose
        benchmark_pose(params, args.video, args.copies, psutil.cpu_count())
    elif args.what == "describe":
        for endpoint in ("configured", "echo"):
            benchmark_describe(params, endpoint)
    else:
        benchmark_dag(args.params, psutil.cpu_count())
