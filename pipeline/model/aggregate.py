"""The CTR-GC aggregation: sum over subsets s of einsum('ncuv,nctv->nctu', A_s, x3_s), where
each sample's per-channel adjacency A[n, s] = weight[s] @ rel[n, s] is a 1x1 conv over its
relation map (``CTRGraphConv.relations``).

On the CPU one sample and subset at a time (``BuildAndApply``): its adjacency (C x 87 x 87,
2-8 MB at the paper's widths) is built and applied while it is in cache and the subsets
accumulate into the sample's output, where the whole-batch version writes the adjacency of
every sample (up to 372 MB a unit), reads it back, writes an (N, S, C, T, V) product and sums
it. The backward pass turns each sample's adjacency gradient into the weight and relation
gradients at once, so that gradient never exists for the whole batch either. Same function,
same saved tensors; measured gains: docs/performance.md. On CUDA the whole-batch version.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


class BuildAndApply(torch.autograd.Function):
    """y[n, c] = sum_s x3[n, s, c] @ (weight[s] @ rel[n, s])[c].view(V, V)

    x3 (N, S, C, T, V); weight (S, C, K); rel (N, S, K, V*V) holding, per relation channel,
    the (v, u) map the adjacency is transposed to for the matmul. Returns (N, C, T, V)."""

    @staticmethod
    def forward(ctx, x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        N, S, C, T, V = x3.shape
        y = x3.new_empty(N, C, T, V)
        # every adjacency is kept for the backward, as autograd would; without one (inference)
        # a single sample's buffer serves them all
        keep = any(ctx.needs_input_grad)
        adj = x3.new_empty(N, S, C, V, V) if keep else x3.new_empty(1, 1, C, V, V).expand(N, S, C, V, V)
        for x3_n, rel_n, adj_n, y_n in zip(x3, rel, adj, y):
            for s, (x3_ns, rel_ns, adj_ns, weight_s) in enumerate(zip(x3_n, rel_n, adj_n, weight)):
                torch.mm(weight_s, rel_ns, out=adj_ns.view(C, V * V))
                if s == 0:
                    torch.bmm(x3_ns, adj_ns, out=y_n)
                else:
                    # out= forms, not baddbmm_/addmm_: FlopCounterMode counts only these
                    torch.baddbmm(y_n, x3_ns, adj_ns, out=y_n)
        if keep:
            ctx.save_for_backward(x3, weight, rel, adj)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor):
        x3, weight, rel, adj = ctx.saved_tensors
        grad_y = grad_y.contiguous()
        C, V = x3.shape[2], x3.shape[4]
        grad_x3 = torch.empty_like(x3)
        grad_weight = torch.zeros_like(weight)
        grad_rel = torch.empty_like(rel)
        grad_adj = x3.new_empty(C, V, V)           # one sample and subset at a time
        flat = grad_adj.view(C, V * V)
        for grad_y_n, x3_n, rel_n, adj_n, grad_x3_n, grad_rel_n in zip(grad_y, x3, rel, adj, grad_x3, grad_rel):
            for x3_ns, rel_ns, adj_ns, grad_x3_ns, grad_rel_ns, weight_s, grad_weight_s in zip(
                    x3_n, rel_n, adj_n, grad_x3_n, grad_rel_n, weight, grad_weight):
                torch.bmm(grad_y_n, adj_ns.transpose(1, 2), out=grad_x3_ns)
                torch.bmm(x3_ns.transpose(1, 2), grad_y_n, out=grad_adj)
                torch.addmm(grad_weight_s, flat, rel_ns.t(), out=grad_weight_s)
                torch.mm(weight_s.t(), flat, out=grad_rel_ns)
        return grad_x3, grad_weight, grad_rel


def whole_batch_aggregate(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """``BuildAndApply``'s function as whole-batch matmuls: every adjacency at once, one
    batched matmul over all samples, subsets and channels, then the sum over subsets."""
    N, S, C, T, V = x3.shape
    adj = torch.matmul(weight, rel).view(N * S * C, V, V)
    return torch.bmm(x3.reshape(N * S * C, T, V), adj).view(N, S, C, T, V).sum(1)


def aggregate_subsets(x3: torch.Tensor, weight: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """sum_s x3[:, s] @ (weight[s] @ rel[:, s]) per channel: (N, S, C, T, V) -> (N, C, T, V)."""
    # bf16 autocast keeps the whole-batch matmuls: there the loop measured no faster
    if x3.device.type == "cpu" and not torch.is_autocast_enabled("cpu"):
        return BuildAndApply.apply(x3, weight, rel)
    return whole_batch_aggregate(x3, weight, rel)
