"""``train.precision: auto`` on the CPU: bf16 only where it measured faster, on this CPU, for
this model.

bf16 autocast on a CPU with bf16 matrix units (AMX, AVX512-BF16) can train 1.5x faster than
fp32 at the paper's size, and slower at the demo's (small matmuls, conversions around every
conv); on a CPU without those units it is always slower. So ``auto`` does not guess: on a CPU
whose flags show bf16 units it times a few training steps of the job's own encoder (its
widths, joints, window and threads; batch up to ``PROBE_BATCH``) in fp32 and in bf16,
interleaved, and picks bf16 only if it was at least ``MIN_GAIN`` faster. The answer is cached
per CPU model, torch version, threads and shape in ``$GSPMC_CACHE_DIR`` (default
``$XDG_CACHE_HOME/gspmc``, else ``~/.cache/gspmc``), ``precision-probe.json``: a machine
measures once and every later job of that shape trains in the precision the first one did,
so a rerun repeats itself. Delete the file to measure again.

The probe draws its weights and batch from its own generator inside ``torch.random.fork_rng``:
the training's random stream is the same whether it ran or not.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..io import write_json
from ..machine import cpu_flags, cpu_model

log = logging.getLogger(__name__)

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
PROBE_BATCH = 8         # samples per probe step: enough for the matmuls' shapes, a few seconds at paper size
PROBE_ROUNDS = 3        # timed rounds of one fp32 and one bf16 step each, after one warm-up round
MIN_GAIN = 1.10         # bf16 must be this much faster: a tie is not worth the rounding


def cache_file() -> Path:
    if os.environ.get("GSPMC_CACHE_DIR"):
        return Path(os.environ["GSPMC_CACHE_DIR"]) / "precision-probe.json"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gspmc" / "precision-probe.json"


def probe_key(model_cfg: dict, num_points: int, window: int, batch_size: int, threads: int) -> str:
    shape = {"model": {k: model_cfg[k] for k in sorted(model_cfg) if k != "dropout"}, "num_points": num_points,
             "window": window, "batch": min(batch_size, PROBE_BATCH), "threads": threads,
             "cpu": cpu_model(), "torch": torch.__version__}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def time_precisions(make_model: Callable[[], nn.Module], num_points: int, window: int,
                    batch_size: int) -> dict[str, float]:
    """Seconds per training step (forward, CE backward, SGD step) of ``make_model()`` in fp32
    and under bf16 autocast: the median of ``PROBE_ROUNDS`` interleaved rounds."""
    batch = min(batch_size, PROBE_BATCH)
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        models = {p: make_model() for p in seconds}
        models["bf16"].load_state_dict(models["fp32"].state_dict())
        x = torch.randn(batch, 3, window, num_points)
        y = torch.randint(0, models["fp32"].fc.out_features, (batch,))
        optimizers = {p: torch.optim.SGD(m.parameters(), lr=1e-3) for p, m in models.items()}
        for k in range(PROBE_ROUNDS + 1):
            for p in (seconds if k % 2 == 0 else list(seconds)[::-1]):
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=p == "bf16"):
                    loss = torch.nn.functional.cross_entropy(models[p](x), y)
                loss.backward()
                optimizers[p].step()
                optimizers[p].zero_grad(set_to_none=True)
                if k:                                  # the first round warms up
                    seconds[p].append(time.perf_counter() - started)
    return {p: float(np.median(s)) for p, s in seconds.items()}


def cpu_auto_precision(make_model: Callable[[], nn.Module], model_cfg: dict, num_points: int, window: int,
                       batch_size: int, threads: int) -> str:
    """What ``train.precision: auto`` trains in on this CPU: fp32 without bf16 units, else
    the cached probe's answer, probing (and caching) first if this shape has none.
    ``make_model`` builds the job's encoder (``model_cfg`` is its config, for the cache key);
    torch's thread count is the job's already."""
    if not any(flag in cpu_flags() for flag in BF16_FLAGS):
        return "fp32"
    key, path = probe_key(model_cfg, num_points, window, batch_size, threads), cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # one job measures at a time: the stream jobs a DAG starts together wait for the first's
    # answer instead of each timing its own under the others' load and caching another one
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = _read(path)
        if cache.get(key, {}).get("choice") in ("fp32", "bf16"):
            return cache[key]["choice"]
        log.info("train.precision auto: timing fp32 and bf16 on this CPU for this encoder (once; cached in %s)",
                 path)
        seconds = time_precisions(make_model, num_points, window, batch_size)
        gain = seconds["fp32"] / seconds["bf16"]
        choice = "bf16" if gain >= MIN_GAIN else "fp32"
        log.info("train.precision auto: bf16 steps %.2fx as fast as fp32 here -> %s", gain, choice)
        cache[key] = {"choice": choice, "seconds_per_step": seconds, "bf16_gain": gain, "cpu": cpu_model(),
                      "torch": torch.__version__, "threads": threads, "num_points": num_points, "window": window}
        write_json(path, cache)
    return choice


def _read(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}

