"""How a training job uses its device: numeric precision (autocast), torch.compile, the
cuDNN flags, and a background thread that prepares the next batches while the current one
computes. None of these change what is trained, only how fast: on the CPU the defaults
(fp32, no compile) keep every result bit for bit as before.

``train.precision``: ``auto`` is bf16 on a CUDA device that supports it (Ampere and later:
the A100/H100 the paper's recipes want); on a CPU, bf16 where a short probe of the job's
encoder measured it faster on that CPU (cached; precision_probe.py), else fp32; ``fp16`` runs with a gradient
scaler; ``bf16`` on the CPU uses the bf16 units of CPUs that have them (AMX, AVX512-BF16)
and is slower than fp32 on those that do not. Weights, optimiser state, BatchNorm statistics
and the losses stay fp32 (autocast computes convs and matmuls in the low precision only).

``train.deterministic`` (default true) sets ``cudnn.deterministic`` and turns the cuDNN
autotuner off, so a CUDA run repeats itself (on the same GPU and library versions); false
lets cuDNN pick the fastest kernels per shape (``cudnn.benchmark``), run to run variation
included. CPU runs are deterministic either way.
"""
from __future__ import annotations

import queue
import threading
import time
from contextlib import nullcontext
from typing import Callable, Iterable, Iterator

import torch

from ..model.fused_aggregate import interpreting, triton_available

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
FUSED_GRAPH_CONV = ("auto", "on", "off")
# the dtype each resolved precision computes its matmuls and convs in
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device, cpu_auto: Callable[[], str] | None = None) -> str:
    """``auto`` -> bf16 on a CUDA device with bf16 support; on the CPU ``cpu_auto()`` (the
    training's probe, precision_probe.cpu_auto_precision) where given, else fp32."""
    if name not in PRECISIONS:
        raise ValueError(f"train.precision {name!r}: not one of {', '.join(PRECISIONS)}")
    if name != "auto":
        if name == "fp16" and device.type != "cuda":
            raise ValueError("train.precision fp16 needs a CUDA device (the CPU has no fp16 autocast for "
                             "training); use bf16 or fp32")
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return cpu_auto() if cpu_auto is not None else "fp32"


def resolve_fused_graph_conv(name: str, device: torch.device) -> bool:
    """``train.fused_graph_conv``: whether the CTR-GC aggregation runs as the Triton kernels
    (model/fused_aggregate.py). ``auto``: on a CUDA device with Triton installed (the CUDA
    build of torch brings it); ``on`` refuses to start without them (or Triton's interpreter,
    TRITON_INTERPRET=1, which runs the kernels on the CPU, slowly: tests only); ``off`` keeps
    the eager aggregation, the CPU's path and the kernels' oracle."""
    if name not in FUSED_GRAPH_CONV:
        raise ValueError(f"train.fused_graph_conv {name!r}: not one of {', '.join(FUSED_GRAPH_CONV)}")
    if name == "off":
        return False
    usable = triton_available() and (device.type == "cuda" or interpreting())
    if name == "on" and not usable:
        raise ValueError(f"train.fused_graph_conv on: needs a CUDA device and Triton (device here: {device}, "
                         f"Triton {'installed' if triton_available() else 'not installed'}); use auto or off")
    return usable


def autocast(precision: str, device: torch.device):
    """The autocast context of a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def configure_backends(deterministic: bool, device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """fp16 needs its gradients scaled (bf16 and fp32 have fp32's range)."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


class Timed(Iterator):
    """Batches from ``source``, produced ``depth`` ahead in a background thread (0: in the
    caller's thread), with ``waited``: the seconds the consumer spent waiting for them, what
    the epoch log calls data seconds. The producer consumes ``source`` in order, so the
    batches and the random draws behind them are those of a plain loop."""

    def __init__(self, source: Iterable, depth: int = 0):
        self.waited = 0.0
        self._source = iter(source)
        self._queue: queue.Queue | None = None
        if depth > 0:
            self._queue = queue.Queue(maxsize=depth)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._produce, daemon=True)
            self._thread.start()

    def _put(self, kind: str, item) -> bool:
        """Queue one message unless the consumer has closed; False once it has."""
        while not self._stop.is_set():
            try:
                self._queue.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._put("item", item):
                    return
            self._put("end", None)
        except BaseException as exc:     # handed to the consumer, raised there
            self._put("error", exc)

    def __next__(self):
        started = time.perf_counter()
        try:
            if self._queue is None:
                return next(self._source)
            kind, item = self._queue.get()
            if kind == "end":
                raise StopIteration
            if kind == "error":
                raise item
            return item
        finally:
            self.waited += time.perf_counter() - started

    def close(self) -> None:
        """Stop the producer (a loop left early: a non-finite loss)."""
        if self._queue is not None:
            self._stop.set()
            self._thread.join()
