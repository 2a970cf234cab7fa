"""The CTR-GC aggregation as Triton kernels that never write the adjacency to memory (CUDA).

``aggregate.py``'s function: y[n, c, t, u] = sum_s sum_v x3[n, s, c, t, v] * A[n, s, c, v, u],
A[n, s, c] = weight[s, c] @ rel[n, s] (K relation channels of V x V, laid out [v, u]). The
eager path writes every per-channel adjacency, N x S x C x V x V values (2.8 GB in fp32 for a
unit of 256 channels at batch 120), reads it back for the matmul, and keeps it for the
backward. Here, as FlashAttention does with its N x N matrix:

- forward: one program per (sample, block of channels, block of output joints u, block of
  frames) builds its (channels x v-block x u-block) tile of A from ``weight`` and ``rel`` in
  registers, one ``tl.dot``, and applies it to x3's tile at once; the subsets and v-blocks
  accumulate in the same registers, so y is written once and A never;
- backward: A is rebuilt tile by tile, not saved. grad_x3 = grad_y @ A^T (one kernel, programs
  as the forward's with v and u swapped); the adjacency's gradient x3^T @ grad_y is formed per
  (v, u) tile and at once turned into grad_rel (weight^T @ it, summed over every channel block
  in the program) and a per-tile part of grad_weight (it @ rel^T), which torch then sums over
  samples and tiles. No atomics: every sum runs in a fixed order, so a run repeats itself.

Block sizes are fixed per shape (``_blocks``), not autotuned: an autotuner picks by timing,
and a different pick sums in a different order, so two runs of one config could differ.

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
from types import SimpleNamespace

import torch

OP = "gspmc::ctrgc_aggregate"      # torch.ops.gspmc.ctrgc_aggregate once registered (``_register``)
_registered = False


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


def _blocks(T: int, K: int) -> SimpleNamespace:
    """Tile sizes: channels BC, frames BT, joints BV x BU, relation channels BK (tl.dot wants
    every dimension >= 16; masked loads pad with zeros). ``grad_relations`` keeps a (BK, BV x
    BU) sum for the whole program, so its (v, u) tile is smaller. Chosen to keep each program's
    tiles within 64 KB of registers, not measured on a GPU yet."""
    return SimpleNamespace(BC=16, BT=min(_next_pow2(T), 32), BV=16, BU=32, BK=_next_pow2(K), tile=16, warps=4)


@functools.cache
def _kernels():
    from . import ctrgc_kernels
    return ctrgc_kernels


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


def forward_impl(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    k = _kernels()
    N, S, C, T, V, K = _check(x3, weight, rel)
    x3, weight, rel = x3.contiguous(), weight.contiguous(), rel.contiguous()
    b = _blocks(T, K)
    y = x3.new_empty(N, C, T, V)
    cdiv = k.triton.cdiv
    grid = (N, cdiv(C, b.BC), cdiv(V, b.BU) * cdiv(T, b.BT))
    k.forward_kernel[grid](x3, weight, rel, y, S, C, T, V, K, BC=b.BC, BT=b.BT, BV=b.BV, BU=b.BU, BK=b.BK,
                           num_warps=b.warps, **_precision(x3.dtype))
    return y


def backward_impl(grad_y: torch.Tensor, x3: torch.Tensor, weight: torch.Tensor,
                  rel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    k = _kernels()
    N, S, C, T, V, K = _check(x3, weight, rel)
    grad_y, x3, weight, rel = grad_y.contiguous(), x3.contiguous(), weight.contiguous(), rel.contiguous()
    grad_y = grad_y.to(x3.dtype)
    b = _blocks(T, K)
    cdiv = k.triton.cdiv
    precision = _precision(x3.dtype)
    grad_x3 = torch.empty_like(x3)
    # v and u swap roles: the output tile is over v, the loop over u
    k.grad_x3_kernel[(N * S, cdiv(C, b.BC), cdiv(V, b.BU) * cdiv(T, b.BT))](
        grad_y, weight, rel, grad_x3, S, C, T, V, K, BC=b.BC, BT=b.BT, BV=b.BU, BU=b.BV, BK=b.BK,
        num_warps=b.warps, **precision)
    tiles = (cdiv(V, b.tile), cdiv(V, b.tile))
    grad_rel = torch.empty_like(rel)
    # one row of grad_weight's parts per (sample, subset, tile), summed here in a fixed order
    parts = torch.empty(N, S, tiles[0] * tiles[1], C, K, device=x3.device, dtype=torch.float32)
    k.grad_relations_kernel[(N * S, *tiles)](grad_y, x3, weight, rel, grad_rel, parts, S, C, T, V, K,
                                             BC=b.BC, BT=b.BT, BV=b.tile, BU=b.tile, BK=b.BK, num_warps=b.warps,
                                             **precision)
    grad_weight = parts.sum((0, 2)).to(weight.dtype)
    return grad_x3, grad_weight, grad_rel


def _register() -> None:
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


def fused_aggregate(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """``aggregate.whole_batch_aggregate``'s function without the adjacency in memory:
    x3 (N, S, C, T, V), weight (S, C, K), rel (N, S, K, V*V) -> (N, C, T, V)."""
    global _registered
    if not _registered:
        _register()
        _registered = True
    return torch.ops.gspmc.ctrgc_aggregate(x3, weight, rel)
