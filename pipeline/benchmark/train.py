"""`python -m pipeline benchmark train`: our training step beside the published CTR-GCN
structure (model/reference.py: one conv per subset and branch, as the public code) in the
same process, step for step interleaved, so both rates see the same machine state; a rate
measured on another day, or in another process under other load, is no baseline (separate
runs on a shared 2-core machine vary by 15-50 %).

Reported per configuration: samples/s of each, their ratio, the peak memory of each (CPU: a
child process per model, its peak RSS; CUDA: torch's peak allocation per step), the FLOP-limit
estimate (FlopCounterMode on one sample, forward + backward, over a measured matmul peak),
and with ``--feeder`` the rate through the real data path (crop-resize, stream derivation,
prefetch thread, pinned copies) with the device's busy fraction and the projected wall time
of the paper's SLR-500 recipe at that rate.
"""
from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..data.wholebody import PART_NAMES, get_preset
from ..experiment.stats import paired_interval
from ..model.ctrgcn import count_parameters, use_fused_graph_conv
from ..model.heads import TextAlignmentHeads
from ..model.reference import reference_from
from ..text.bank import TextBank
from ..train.accel import DTYPES, Timed, configure_backends, resolve_fused_graph_conv, resolve_precision
from ..train.feeder import Feeder
from ..train.loop import (
    MCSetup,
    Trainer,
    batch_loss,
    build_model,
    keep_freed_memory,
    optimizer_step,
    pick_device,
    tensor_batches,
)
from ..train.mc import TERMS
from .public import load_public, public_matches

# The paper's encoder at the shape of issue 15: V=87, T=64, 226 classes (AUTSL), batch 16 on
# the CPU; the SLR-500 recipe (presets.slr500) uses batch 120 on a GPU.
PAPER = {"model": {"base_channels": 64, "num_units": 10, "stride_units": [5, 8], "temporal_kernel": 5,
                   "dilations": [1, 2], "dropout": 0.0},
         "num_points": 87, "window": 64, "batch_size": 16, "num_class": 226}
# the paper's recipes, for the projected training time: training clips (SLR-500: signers 1-36;
# AUTSL: its train split), epochs and batch (presets.<dataset>.train in params.yaml)
RECIPES = {"slr500": {"clips": 87_500, "epochs": 110, "batch": 120},
           "autsl": {"clips": 28_142, "epochs": 110, "batch": 80}}


def shape_of(params: dict, which: str, batch_size: int | None = None) -> dict:
    """The paper's shape, or the demo's (params' model, preset, window, batch)."""
    if which == "paper":
        shape = dict(PAPER)
    else:
        shape = {"model": params["model"], "num_points": get_preset(params["keypoints"]["preset"]).num_points,
                 "window": params["train"]["window"], "batch_size": params["train"]["batch_size"],
                 "num_class": params.get("synthetic", {}).get("classes", 40)}
    return {**shape, "batch_size": batch_size or shape["batch_size"]}


def random_bank(num_class: int, dim: int = 384, synonyms: int = 3, segments: int = 6) -> TextBank:
    """A text bank of the demo's proportions with random unit vectors: the MC terms'
    cost does not depend on what the texts say."""
    rng = np.random.default_rng(0)

    def unit(*s):
        v = rng.normal(size=(*s, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    M = num_class * segments
    eye = np.eye(num_class, dtype=bool)
    return TextBank(unit(num_class), eye, unit(num_class, synonyms), np.ones((num_class, synonyms), bool),
                    np.repeat(eye[:, None], synonyms, 1), unit(M), np.repeat(eye, segments, 0),
                    rng.random((M, len(PART_NAMES))) < 0.4, {})


def _preset_for(shape: dict):
    preset = get_preset("gspmc87" if shape["num_points"] == 87 else "all133")
    if preset.num_points != shape["num_points"]:
        raise ValueError(f"no preset with {shape['num_points']} points")
    return preset


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype = torch.float32, seconds: float = 1.0) -> float:
    """Measured GFLOP/s of a large square matmul: the machine's practical dense peak."""
    n = 1024 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or done < 3:
        a @ b
        done += 1
        if device.type == "cuda" and done % 10:
            continue
        _sync(device)
    _sync(device)
    return 2 * n ** 3 * done / (time.perf_counter() - started) / 1e9


def train_flops_per_sample(shape: dict) -> float:
    """FLOPs of one training step per sample (forward + backward of CE), counted on the
    CPU on a batch of 2 (BatchNorm in training mode wants more than one value)."""
    from torch.utils.flop_counter import FlopCounterMode

    preset = _preset_for(shape)
    model = build_model(shape["model"], shape["num_class"], preset.edges, preset.num_points)
    x = torch.randn(2, 3, shape["window"], shape["num_points"])
    y = torch.randint(0, shape["num_class"], (2,))
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 2


class _Contender:
    """One model stepped as training steps it: a Trainer (model, heads, optimiser,
    precision, compiled encoder) through the loop's own batch_loss and optimizer_step."""

    def __init__(self, name: str, model, device, precision: str, mc: MCSetup | None = None,
                 compiled: bool = False, fused: bool = False):
        self.name, self.model, self.device, self.mc = name, model.to(device), device, mc
        use_fused_graph_conv(model, fused)
        heads = bank = None
        if mc is not None:
            heads = TextAlignmentHeads(model.out_channels, mc.bank.dim, mc.part_joints).to(device)
            bank = mc.bank.to_torch(device)
        trainable = list(model.parameters()) + (list(heads.parameters()) if heads is not None else [])
        optimizer = torch.optim.SGD(trainable, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        self.trainer = Trainer(device, self.model, heads, bank, optimizer, precision,
                               encode=torch.compile(self.model.features) if compiled else None)
        self.seconds, self.samples, self.peak_bytes, self.step_seconds = 0.0, 0, 0, []

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return batch_loss(self.trainer, self.mc, x, y)[0]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer_step(self.trainer, self.loss(x, y))

    def saved_for_backward_mib(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """What autograd keeps of one step's forward until its backward (each storage
        once): the activation memory, which grows with batch, window and width; counted,
        not sampled, so it is the same on every run."""
        storages: dict[int, int] = {}

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss = self.loss(x, y)
        loss.backward()
        self.trainer.optimizer.zero_grad(set_to_none=True)
        return sum(storages.values()) / 2 ** 20

    def timed_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        _sync(self.device)
        started = time.perf_counter()
        self.step(x, y)
        _sync(self.device)
        self.step_seconds.append(time.perf_counter() - started)
        self.seconds += self.step_seconds[-1]
        self.samples += len(y)
        if self.device.type == "cuda":
            self.peak_bytes = max(self.peak_bytes, torch.cuda.max_memory_allocated(self.device))


def contenders(shape: dict, device: torch.device, precisions: list[str], with_mc: bool = True,
               compiled: bool = False, reference: bool = True, public: Path | None = None,
               fused: tuple[bool, ...] = (False,)) -> list[_Contender]:
    """The reference in fp32 (the public model has no mixed precision; left out with
    ``reference=False``), ours in each precision (and compiled, with ``compiled``) once per
    ``fused`` setting (the aggregation eager, then as the Triton kernels), and ours fp32 with
    the MC heads and terms: all from one set of initial weights, so every contender does the
    same work. With ``public`` (a checkout's model/ctrgcn.py, at the paper's shape only), the
    public model itself in fp32 and under each other precision's autocast, with its own
    initial weights."""
    preset = _preset_for(shape)
    torch.manual_seed(0)
    ours = build_model(shape["model"], shape["num_class"], preset.edges, preset.num_points)

    def copy_of_ours():
        model = build_model(shape["model"], shape["num_class"], preset.edges, preset.num_points)
        model.load_state_dict(ours.state_dict())
        return model

    out = [_Contender("reference", reference_from(ours), device, "fp32")] if reference else []
    if public is not None:
        if not public_matches(shape["model"]):
            raise ValueError("--public: the public CTR-GCN's widths are fixed in its code (the paper's); "
                             "use --config paper")
        for precision in dict.fromkeys(["fp32", *precisions]):
            torch.manual_seed(0)
            model = load_public(public, shape["num_class"], preset.edges, preset.num_points)
            out.append(_Contender(f"public {precision}", model, device, precision))
    for precision in precisions:
        for on in fused:
            name = f"ours {precision}" + (" fused" if on else "")
            out.append(_Contender(name, copy_of_ours(), device, precision, fused=on))
            if compiled:                      # train.compile: the encoder's forward through torch.compile
                out.append(_Contender(f"{name} compiled", copy_of_ours(), device, precision, compiled=True, fused=on))
    if with_mc:
        mc = MCSetup(random_bank(shape["num_class"]), list(TERMS), 0.1, 0.5,
                     {k: list(v) for k, v in preset.parts.items()})
        out.append(_Contender("ours fp32 CE+MC", ours, device, "fp32", mc))
    return out


def paired_ratio(numerator: list[float], denominator: list[float]) -> dict:
    """The speed ratio of two contenders from their step times in the same rounds: the
    geometric mean of the per-round ratios (denominator's time over numerator's) and its 95 %
    t-interval, so a claim such as "within 3 %" comes with the spread that bounds it."""
    logs = paired_interval(np.log(numerator).tolist(), np.log(denominator).tolist())
    return {"ratio": math.exp(logs["mean"]), "low": math.exp(logs["low"]), "high": math.exp(logs["high"]),
            "rounds": logs["n"]}


def measure_interleaved(shape: dict, steps: int, threads: int, device_name: str = "cpu",
                        precisions: tuple[str, ...] = ("fp32",), with_mc: bool = True, compiled: bool = False,
                        public: Path | None = None, fused: str = "off") -> dict:
    """samples/s of every contender, one step of each in turn, ``steps`` rounds after a
    warm-up round (allocator, kernels, cuDNN plans); every other round in reverse order, so
    no contender always follows the same one. ``fused`` (train.fused_graph_conv's values):
    where it resolves on, ours in each precision both eager and fused."""
    keep_freed_memory()
    torch.set_num_threads(threads)
    device = pick_device(device_name)
    resolved = [resolve_precision(p, device) for p in precisions]
    modes = (False, True) if resolve_fused_graph_conv(fused, device) else (False,)
    racers = contenders(shape, device, list(dict.fromkeys(resolved)), with_mc, compiled, public=public, fused=modes)
    x = torch.randn(shape["batch_size"], 3, shape["window"], shape["num_points"], device=device)
    y = torch.randint(0, shape["num_class"], (shape["batch_size"],), device=device)
    for racer in racers:
        racer.step(x, y)
    for k in range(steps):
        for racer in racers if k % 2 == 0 else racers[::-1]:
            racer.timed_step(x, y)
    rates = {r.name: r.samples / r.seconds for r in racers}
    first = {}                                   # each family's first model: what its parameters count
    for r in racers:
        first.setdefault(r.name.split()[0], r.model)
    saved = {r.name: r.saved_for_backward_mib(x, y) for r in racers}
    times = {r.name: r.step_seconds for r in racers}
    result = {"device": str(device), "threads": threads, "steps": steps, "fused_graph_conv": modes[-1],
              "samples_per_s": rates,
              "step_seconds": times, "saved_for_backward_mib": saved,
              "parameters": {name: count_parameters(first[name]) for name in ("reference", "ours", "public")
                             if name in first},
              "shape": {k: shape[k] for k in ("num_points", "window", "batch_size", "num_class")}}
    if "public fp32" in times and "reference" in times:
        result["reference_vs_public"] = paired_ratio(times["reference"], times["public fp32"])
    if device.type == "cuda":
        result["peak_memory_mib"] = {r.name: r.peak_bytes / 2 ** 20 for r in racers}
        result["gpu"] = torch.cuda.get_device_name(device)
    return result


def peak_rss_alone(shape: dict, which: str, steps: int, threads: int) -> float:
    """Peak RSS (MiB) of a fresh process that trains only ``which`` (reference | ours) for
    ``steps`` steps: on the CPU each model's memory must be its own process's."""
    out = subprocess.run([sys.executable, "-m", __name__, json.dumps(shape), which, str(steps), str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def _train_alone(shape: dict, which: str, steps: int, threads: int) -> float:
    # glibc's default thresholds (no keep_freed_memory): freed large blocks go back to the
    # OS, so the high-water mark is the peak of what was live
    torch.set_num_threads(threads)
    racer = next(c for c in contenders(shape, torch.device("cpu"), ["fp32"], False, reference=which == "reference")
                 if c.name.startswith(which))
    x = torch.randn(shape["batch_size"], 3, shape["window"], shape["num_points"])
    y = torch.randint(0, shape["num_class"], (shape["batch_size"],))
    for _ in range(steps):
        racer.step(x, y)
    return high_water_rss_mib()


def high_water_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss
    over an exec, so a child started by a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # no procfs (macOS)


def synthetic_feeder(shape: dict, clips: int, stream: str = "bone", seed: int = 0) -> Feeder:
    """Random clips of 40-120 frames (a dataset's spread), fed as training feeds them."""
    rng = np.random.default_rng(seed)
    preset = _preset_for(shape)
    data = [rng.random((int(rng.integers(40, 121)), shape["num_points"], 3), dtype=np.float32)
            for _ in range(clips)]
    return Feeder(data, rng.integers(0, shape["num_class"], clips), [str(k) for k in range(clips)], stream,
                  preset.parents, shape["window"], 0.5, 0.95, shape["window"])   # CTR-GCN's floor: its window


def recipe_hours(rate: float, batch_size: int) -> dict:
    """Projected wall time of each paper recipe (``RECIPES``) trained at ``rate`` samples/s:
    only the recipes whose batch is the one measured (a rate holds for its batch size)."""
    return {name: r["clips"] * r["epochs"] / rate / 3600 for name, r in RECIPES.items() if r["batch"] == batch_size}


def measure_feeder(shape: dict, steps: int, threads: int, device_name: str, precision: str,
                   prefetch: int = 2, compiled: bool = False, fused: bool = False) -> dict:
    """Ours through the real data path: batches from a Feeder (crop-resize, stream), made
    ``prefetch`` ahead in a thread, pinned and copied as training does. Busy fraction: the
    device time of the steps (CUDA events; on the CPU the step time) over the wall time."""
    keep_freed_memory()
    torch.set_num_threads(threads)
    device = pick_device(device_name)
    precision = resolve_precision(precision, device)
    racer = contenders(shape, device, [precision], with_mc=False, compiled=compiled, reference=False,
                       fused=(fused,))[-1]
    feeder = synthetic_feeder(shape, shape["batch_size"] * (steps + 1))
    rng = np.random.default_rng(0)
    batches = Timed(tensor_batches(feeder.batches(shape["batch_size"], rng, drop_last=True), device), prefetch)
    busy, first = 0.0, True
    try:
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if first:                          # warm-up, untimed
                racer.step(x, y)
                _sync(device)
                batches.waited, first, started = 0.0, False, time.perf_counter()
                continue
            if device.type == "cuda":
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                begin.record()
                racer.step(x, y)
                end.record()
                end.synchronize()
                busy += begin.elapsed_time(end) / 1000
            else:
                t0 = time.perf_counter()
                racer.step(x, y)
                busy += time.perf_counter() - t0
        _sync(device)
        wall = time.perf_counter() - started
    finally:
        batches.close()
    rate = steps * shape["batch_size"] / wall
    return {"precision": precision, "compiled": compiled, "fused": fused, "samples_per_s": rate,
            "busy_fraction": busy / wall, "data_wait_fraction": batches.waited / wall, "prefetch": prefetch,
            "batch_size": shape["batch_size"], "recipe_hours": recipe_hours(rate, shape["batch_size"])}


def _versus(rate: float, base: float | None, label: str) -> str:
    return f"  {rate / base:5.2f}x {label}" if base else ""


def run_train_benchmark(params: dict, which: str, steps: int, device: str, precisions: list[str],
                        batch_size: int | None, feeder: bool, memory: bool, compiled: bool = False,
                        public: Path | None = None, fused: str = "auto") -> list[dict]:
    results = []
    # the cuDNN flags training runs with (train.deterministic): the benchmark times what trains
    deterministic, dev = params["train"]["deterministic"], pick_device(device)
    configure_backends(deterministic, dev)
    for name in ["demo", "paper"] if which == "both" else [which]:
        shape = shape_of(params, name, batch_size)
        # the demo trains with train.threads per job; the paper's size gets the machine's cores
        threads = params["train"]["threads"] if name == "demo" else len(os.sched_getaffinity(0))
        with_public = public if name == "paper" else None        # its widths are the paper's
        r = measure_interleaved(shape, steps, threads, device, tuple(precisions), compiled=compiled,
                                public=with_public, fused=fused)
        r["config"], r["deterministic"] = name, deterministic
        fused_on = r["fused_graph_conv"]          # ours ran both eager and fused
        rates = r["samples_per_s"]
        ref = rates["reference"]
        public_fp32, public_bf16 = rates.get("public fp32"), rates.get("public bf16")
        peaks = r.get("peak_memory_mib", {})
        print(f"{name}: V={shape['num_points']} T={shape['window']} batch {shape['batch_size']} classes "
              f"{shape['num_class']}, {r['parameters']['ours']:,} parameters (reference "
              f"{r['parameters']['reference']:,}), {r.get('gpu', r['device'])}, {threads} thread(s), {steps} "
              f"interleaved steps, train.deterministic {deterministic}, fused graph conv "
              f"{'on and off' if fused_on else 'off'}", flush=True)
        for racer, rate in rates.items():
            mem = f", peak {peaks[racer]:.0f} MiB" if racer in peaks else ""
            if racer in peaks and peaks.get("public fp32"):
                mem += f" ({100 * peaks[racer] / peaks['public fp32']:.0f} % of the public fp32's)"
            print(f"  {racer:24s} {rate:8.2f} samples/s  {rate / ref:5.2f}x the reference"
                  f"{_versus(rate, public_fp32, 'the public fp32')}{_versus(rate, public_bf16, 'the public bf16')}  "
                  f"{r['saved_for_backward_mib'][racer]:7.0f} MiB saved for backward{mem}", flush=True)
        if "reference_vs_public" in r:
            q = r["reference_vs_public"]
            print(f"  the reference against the public code ({with_public}): {100 * (q['ratio'] - 1):+.1f} % "
                  f"(95 % interval {100 * (q['low'] - 1):+.1f} to {100 * (q['high'] - 1):+.1f} % over {q['rounds']} "
                  f"paired rounds)", flush=True)
        flops = train_flops_per_sample(shape)
        r["flops_per_sample"], r["matmul_peak_gflops"], r["flop_limit_samples_per_s"] = flops, {}, {}
        for precision in dict.fromkeys(resolve_precision(p, dev) for p in precisions):
            # each precision against its own dense peak: fp32 matmuls vs fp32, autocast ones vs bf16/fp16
            peak = matmul_peak_gflops(dev, DTYPES[precision])
            limit = peak * 1e9 / flops
            r["matmul_peak_gflops"][precision], r["flop_limit_samples_per_s"][precision] = peak, limit
            best = max(v for k, v in rates.items() if k.startswith(f"ours {precision}") and "CE+MC" not in k)
            print(f"  FLOP limit {precision}: {flops / 1e9:.1f} GFLOP per sample (train step, FlopCounterMode) over "
                  f"a measured {precision} matmul peak of {peak:.0f} GFLOP/s = {limit:.1f} samples/s; ours "
                  f"{precision} (its fastest) is {100 * best / limit:.1f} % of it", flush=True)
        if memory and dev.type == "cpu":
            r["peak_rss_mib"] = {w: peak_rss_alone(shape, w, 2, threads) for w in ("reference", "ours")}
            print(f"  peak RSS alone (2 steps, own process): reference {r['peak_rss_mib']['reference']:.0f} MiB, "
                  f"ours {r['peak_rss_mib']['ours']:.0f} MiB", flush=True)
        if feeder:
            # with --compile, the compiled encoder: the fastest consumer the data path must keep up with
            r["feeder"] = [measure_feeder(shape, steps, threads, device, p, compiled=compiled, fused=on)
                           for p in precisions for on in ((False, True) if fused_on else (False,))]
            for f in r["feeder"]:
                label = " ".join([f["precision"], *(["fused"] if f["fused"] else []),
                                  *(["compiled"] if f["compiled"] else [])])
                hours = "; ".join(f"{ds} recipe ({RECIPES[ds]['epochs']} epochs x {RECIPES[ds]['clips']:,} clips, "
                                  f"batch {RECIPES[ds]['batch']}) at this rate: {h:.2f} h"
                                  for ds, h in f["recipe_hours"].items()) or "no paper recipe trains at this batch"
                print(f"  through the feeder, ours {label}: {f['samples_per_s']:.2f} samples/s, device busy "
                      f"{100 * f['busy_fraction']:.0f} % of the wall time, waiting for data "
                      f"{100 * f['data_wait_fraction']:.0f} %; {hours}", flush=True)
        results.append(r)
    return results


if __name__ == "__main__":      # peak_rss_alone's child: SHAPE_JSON WHICH STEPS THREADS
    print(_train_alone(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
