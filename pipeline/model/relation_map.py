"""CTR-GC's relation map, written once into the tensor the aggregation multiplies.

rel[n, s] holds R + 2 channels of V x V, each laid out [v, u] (transposed for the matmul):
tanh(x1[n, s, r, u] - x2[n, s, r, v]) for the R learned relation channels, then a channel of
ones (it carries conv4's bias) and the subset's adjacency PA[s] transposed.

Autograd over ``tanh(x1 - x2)`` and a ``cat`` with the constant channels writes the map
three times (the difference, its tanh, the concatenation) and keeps two copies of it for the
backward (tanh's output and the concatenation); its backward negates the full-size gradient
for x2 before summing it. Here the difference is written into the map and tanh'd in place,
one copy is kept (the one the aggregation keeps too), and the backward reduces first and
negates the sums. Same function, same gradients.
"""
from __future__ import annotations

import torch


class RelationMap(torch.autograd.Function):
    """x1, x2 (N, S, R, V); PA (S, V, V) -> rel (N, S, R + 2, V, V)."""

    @staticmethod
    def forward(ctx, x1: torch.Tensor, x2: torch.Tensor, PA: torch.Tensor) -> torch.Tensor:
        N, S, R, V = x1.shape
        rel = x1.new_empty(N, S, R + 2, V, V)
        # the difference written into the map's slice; torch.compile cannot trace an out= into a
        # strided view (a graph break per unit), so there the same values are copied in
        if torch.compiler.is_compiling():
            rel[:, :, :R] = torch.tanh(x1.unsqueeze(-2) - x2.unsqueeze(-1))
        else:
            learned = rel[:, :, :R]
            torch.sub(x1.unsqueeze(-2), x2.unsqueeze(-1), out=learned)
            learned.tanh_()
        rel[:, :, R].fill_(1)
        rel[:, :, R + 1].copy_(PA.transpose(1, 2))
        ctx.save_for_backward(rel)
        ctx.PA_dtype = PA.dtype
        return rel

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        rel, = ctx.saved_tensors
        R, PA_dtype = rel.shape[2] - 2, ctx.PA_dtype
        grad_x1 = grad_x2 = grad_PA = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            grad_diff = torch.ops.aten.tanh_backward(grad[:, :, :R], rel[:, :, :R])
            grad_x1 = grad_diff.sum(-2)
            grad_x2 = grad_diff.sum(-1).neg_()
        if ctx.needs_input_grad[2]:
            # summed in PA's dtype: under autocast the map is bf16 and PA float32
            grad_PA = grad[:, :, R + 1].sum(0, dtype=PA_dtype).transpose(1, 2)
        return grad_x1, grad_x2, grad_PA
