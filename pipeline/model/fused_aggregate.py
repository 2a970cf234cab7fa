"""The CTR-GC aggregation as Triton kernels that never write the adjacency to memory (CUDA).

``aggregate.py``'s function: y[n, c, t, u] = sum_s sum_v x3[n, s, c, t, v] * A[n, s, c, v, u],
A[n, s, c] = weight[s, c] @ rel[n, s] (K relation channels of V x V, laid out [v, u]). The
eager path writes every per-channel adjacency, N x S x C x V x V values (2.8 GB in fp32 for a
unit of 256 channels at batch 120), reads it back for the matmul, and keeps it for the
backward. Here, as FlashAttention does with its N x N matrix:

- forward: one program per (sample, block of channels, block of output joints u, block of
  frames) builds its (channels x v-block x u-block) tile of A from ``weight`` and ``rel`` in
  registers, one ``tl.dot`` per block of relation channels, and applies it to x3's tile at
  once; the subsets and v-blocks accumulate in the same registers, so y is written once and A
  never;
- backward: A is rebuilt tile by tile, not saved. grad_x3 = grad_y @ A^T (one kernel, programs
  as the forward's with v and u swapped); the adjacency's gradient x3^T @ grad_y is formed per
  (v, u) tile and at once turned into grad_rel (weight^T @ it, summed over every channel block
  in the program) and a per-tile part of grad_weight (it @ rel^T), which torch then sums over
  samples and tiles. No atomics: every sum runs in a fixed order, so a run repeats itself.

Tiles are fixed per kernel and element size (``TILES``), not autotuned: an autotuner picks by
timing, and a different pick sums in a different order, so two runs of one config could differ.

Matmul precision follows torch's: fp32 inputs multiply in IEEE fp32 unless
``torch.backends.cuda.matmul.allow_tf32`` is set; bf16/fp16 inputs (autocast) multiply in
their dtype and accumulate in fp32, as cuBLAS does for the eager path. ``weight`` (fp32 under
autocast: the product of parameters) is cast to rel's dtype first, as autocast's matmul does.

Triton is imported on first use (``fused_aggregate``), never at import: the CPU install has
no Triton. On the CPU the kernels run only under Triton's interpreter (``TRITON_INTERPRET=1``
set before the first use), which the equivalence tests use (tests/test_fused_aggregate.py).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass

import torch

OP = "gspmc::ctrgc_aggregate"      # torch.ops.gspmc.ctrgc_aggregate once registered (``_registered_op``)


def triton_available() -> bool:
    """Whether Triton is installed (the kernels then run on CUDA tensors, or on CPU ones
    under its interpreter)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """Whether Triton runs its kernels in its interpreter (on CPU tensors): TRITON_INTERPRET=1,
    read when the kernels are first defined."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def _next_pow2(n: int, least: int = 16) -> int:
    return max(least, 1 << (int(n) - 1).bit_length())


@dataclass(frozen=True)
class Tiles:
    """One kernel's launch: its tile of channels BC, frames BT and joints BV x BU (the
    adjacency tile is BV x BU; tl.dot wants every dimension >= 16, masked loads pad with
    zeros), of relation channels BK, warps and Triton's software-pipeline stages."""
    BC: int
    BT: int
    BV: int
    BU: int
    BK: int
    warps: int
    stages: int

    @property
    def blocks(self) -> dict:
        return {"BC": self.BC, "BT": self.BT, "BV": self.BV, "BU": self.BU, "BK": self.BK}

    @property
    def options(self) -> dict:
        return {"num_warps": self.warps, "num_stages": self.stages}


# Each kernel's tiles (BC, BT, BV, BU, BK, warps, stages) by the element size it runs in (2:
# bf16/fp16 under autocast, 4: fp32). The forward and grad_x3 build the adjacency BK relation
# channels at a time; grad_relations holds all of K (it sums its (K, BV x BU) gradient over the
# channel blocks), padded with zero channels to at least BK. Chosen ahead of time from what the
# compiler reports (`python -m pipeline benchmark kernels`, benchmark/kernels.py): with Triton
# 3.7.1 each compiles for sm_80, sm_86/89 and sm_90 without spilling a register and within 99 KB
# of shared memory, for the paper's encoder (T 64/32/16, K 8/16/32; BT is capped at T's next
# power of two). The tiles before (one set for all, 4 warps, 3 stages) spilled 560-1064 bytes per
# thread in bf16 and up to 22 KB in fp32, whose 161-176 KB of shared memory no sm_86/89 could
# launch. grad_relations pads K to 32: at 16 ptxas spills 36-304 bytes in bf16 and 96-328 in
# fp32 with TF32, at 32 none.
# Not timed on a GPU yet (issue 30); fixed, not autotuned: an autotuner picks by timing, and
# another pick sums in another order.
TILES = {
    ("forward_kernel", 2): (16, 16, 16, 32, 16, 8, 3),
    ("forward_kernel", 4): (16, 16, 16, 32, 16, 8, 1),
    ("grad_x3_kernel", 2): (16, 32, 16, 16, 16, 8, 3),
    ("grad_x3_kernel", 4): (16, 32, 16, 16, 16, 8, 1),
    ("grad_relations_kernel", 2): (16, 32, 16, 16, 32, 8, 3),
    ("grad_relations_kernel", 4): (16, 16, 16, 16, 32, 8, 1),
}
WHOLE_K = {"grad_relations_kernel"}


def tiles_for(kernel: str, T: int, K: int, itemsize: int) -> Tiles:
    """The tiles ``kernel`` runs with on a (.., T, ..) input of K relation channels whose
    elements are ``itemsize`` bytes."""
    BC, BT, BV, BU, BK, warps, stages = TILES[kernel, itemsize]
    if kernel in WHOLE_K:
        BK = max(BK, _next_pow2(K))
    return Tiles(BC, min(BT, _next_pow2(T)), BV, BU, BK, warps, stages)


@functools.cache
def _kernels():
    from . import ctrgc_kernels
    return ctrgc_kernels


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _precision(dtype: torch.dtype) -> dict:
    """The kernels' matmul settings: fp32 in IEEE unless torch allows TF32; bf16/fp16 in
    their dtype, or widened to IEEE fp32 under the interpreter (ctrgc_kernels.mma)."""
    interpreted = interpreting()
    if dtype != torch.float32:
        return {"PRECISION": "ieee" if interpreted else "tf32", "UPCAST": interpreted}
    return {"PRECISION": "tf32" if torch.backends.cuda.matmul.allow_tf32 and not interpreted else "ieee",
            "UPCAST": False}


def _check(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> tuple[int, ...]:
    N, S, C, T, V = x3.shape
    K = weight.shape[2]
    if weight.shape != (S, C, K) or rel.shape != (N, S, K, V * V):
        raise ValueError(f"fused CTR-GC aggregation: x3 {tuple(x3.shape)}, weight {tuple(weight.shape)} and rel "
                         f"{tuple(rel.shape)} do not fit (N, S, C, T, V), (S, C, K), (N, S, K, V*V)")
    return N, S, C, T, V, K


def _launch(kernel: str, grid: tuple[int, int, int], tiles: Tiles, *args, precision: dict) -> None:
    getattr(_kernels(), kernel)[grid](*args, **tiles.blocks, **tiles.options, **precision)


def forward_impl(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    N, S, C, T, V, K = _check(x3, weight, rel)
    x3, weight, rel = x3.contiguous(), weight.contiguous(), rel.contiguous()
    tiles = tiles_for("forward_kernel", T, K, x3.element_size())
    y = x3.new_empty(N, C, T, V)
    grid = (_cdiv(V, tiles.BU) * _cdiv(T, tiles.BT), _cdiv(C, tiles.BC), N)
    _launch("forward_kernel", grid, tiles, x3, weight, rel, y, S, C, T, V, K, precision=_precision(x3.dtype))
    return y


def backward_impl(grad_y: torch.Tensor, x3: torch.Tensor, weight: torch.Tensor,
                  rel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    N, S, C, T, V, K = _check(x3, weight, rel)
    grad_y, x3, weight, rel = grad_y.contiguous(), x3.contiguous(), weight.contiguous(), rel.contiguous()
    grad_y = grad_y.to(x3.dtype)
    precision = _precision(x3.dtype)
    grad_x3 = torch.empty_like(x3)
    # the output tile is over v, the loop over u
    tiles = tiles_for("grad_x3_kernel", T, K, x3.element_size())
    grid = (_cdiv(V, tiles.BV) * _cdiv(T, tiles.BT), _cdiv(C, tiles.BC), N * S)
    _launch("grad_x3_kernel", grid, tiles, grad_y, weight, rel, grad_x3, S, C, T, V, K, precision=precision)
    tiles = tiles_for("grad_relations_kernel", T, K, x3.element_size())
    grid = (_cdiv(V, tiles.BU), _cdiv(V, tiles.BV), N * S)
    grad_rel = torch.empty_like(rel)
    # one row of grad_weight's parts per (sample, subset, tile), summed here in a fixed order
    parts = torch.empty(N, S, grid[0] * grid[1], C, K, device=x3.device, dtype=torch.float32)
    _launch("grad_relations_kernel", grid, tiles, grad_y, x3, weight, rel, grad_rel, parts, S, C, T, V, K,
            precision=precision)
    grad_weight = parts.sum((0, 2)).to(weight.dtype)
    return grad_x3, grad_weight, grad_rel


@functools.cache
def _registered_op():
    """The custom op and its backward (another custom op, so a compiled graph can hold it
    too), registered on first use: opaque to autograd and torch.compile alike."""
    forward = torch.library.custom_op(OP, forward_impl, mutates_args=())
    backward = torch.library.custom_op(OP + "_backward", backward_impl, mutates_args=())

    @forward.register_fake
    def _(x3, weight, rel):
        N, S, C, T, V = x3.shape
        return x3.new_empty(N, C, T, V)

    @backward.register_fake
    def _(grad_y, x3, weight, rel):
        return torch.empty_like(x3), torch.empty_like(weight), torch.empty_like(rel)

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    def grad(ctx, grad_y):
        return backward(grad_y, *ctx.saved_tensors)

    forward.register_autograd(grad, setup_context=setup_context)
    return torch.ops.gspmc.ctrgc_aggregate


def fused_aggregate(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """``aggregate.whole_batch_aggregate``'s function without the adjacency in memory:
    x3 (N, S, C, T, V), weight (S, C, K), rel (N, S, K, V*V) -> (N, C, T, V)."""
    return _registered_op()(x3, weight, rel)
