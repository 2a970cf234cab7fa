"""CTR-GCN (Chen et al., ICCV 2021), configured by params.

Structure and parameter count follow the public model (REFERENCE.md): a BatchNorm over
(M*V*C) on the input, TCN-GCN units whose GCN sums one channel-wise topology
refinement graph conv (CTR-GC) per adjacency subset, and a multiscale temporal conv.

Two exact rewrites make it faster on CPU without changing the function or the
parameters (tests check both against the per-subset formula of the public code):
- the subsets' 1x1 convs run as one conv; conv1/conv2 are applied to the time-mean of
  the input (a 1x1 conv commutes with the mean), and the sum over subsets of
  ``einsum('ncuv,nctv->nctu')`` is one aggregation over the concatenated subsets
  (``aggregate.py``: on CUDA batched matmuls, on the CPU one sample at a time in cache),
  whose relation map is written once, in place (``relation_map.py``);
- the temporal branches' 1x1 convs run as one conv followed by one BatchNorm, and the
  branches' closing BatchNorms as one over their concatenated outputs (BatchNorm is per
  channel, so the concatenation of per-branch BNs is one BN over all the channels). On a
  GPU the public model's four 16-channel BNs per unit (each reducing 668k values per
  channel at batch 120) cost more than the one 64-channel BN that replaces them.

On the CPU two kernels are swapped for faster ones with the same function: 1x1 convs run
as one batched matmul (``pointwise_conv``) and the max-pool branch pools a channels-last
copy (see those functions for the measured gains). On CUDA the convs and pool are cuDNN's.

A fused conv is initialised slice by slice, each slice as the separate public conv it
stands for (Kaiming normal, fan-out = that conv's own output channels). Initialising
the fused tensor as one conv would use its total fan-out (x2S, xS or x3 the public one)
and start those weights 1.7-2.4x smaller than the public model's.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .aggregate import aggregate_subsets
from .fused_aggregate import fused_aggregate
from .relation_map import RelationMap


def _conv_init(conv: nn.Conv2d, slices: int = 1) -> None:
    """CTR-GCN's ``conv_init``: Kaiming normal with mode fan_out, zero bias. A conv that
    fuses ``slices`` separate public convs along its output channels is initialised
    one slice at a time, so each slice's fan-out is its own conv's."""
    rows = conv.weight.shape[0]
    if rows % slices:
        raise ValueError(f"{rows} output channels do not split into {slices} fused convs")
    with torch.no_grad():
        for piece in conv.weight.split(rows // slices, 0):
            nn.init.kaiming_normal_(piece, mode="fan_out")
    if conv.bias is not None:
        nn.init.constant_(conv.bias, 0)


def _bn_init(bn: nn.modules.batchnorm._BatchNorm, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.constant_(bn.bias, 0)


def pointwise_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a 1x1 ``conv`` (temporal stride allowed). On the CPU as one batched
    matmul, bias added by the GEMM: oneDNN's 1x1 conv (NCHW, reordered to its blocked layout
    and back) takes 1.0-1.5x the time forward + backward at the paper's shapes in fp32 and
    1.4-1.6x in bf16. Same function; the float32 sums round in another order."""
    if x.device.type != "cpu":
        return conv(x)
    if conv.kernel_size != (1, 1) or conv.padding != (0, 0) or conv.stride[1] != 1 or conv.groups != 1:
        raise ValueError(f"pointwise_conv takes a 1x1 conv with a temporal stride only, not {conv}")
    x = x[:, :, ::conv.stride[0]]
    N, C, T, V = x.shape
    weight = conv.weight.view(1, -1, C).expand(N, -1, -1)
    x = x.reshape(N, C, T * V)
    y = torch.bmm(weight, x) if conv.bias is None else torch.baddbmm(conv.bias.view(1, -1, 1), weight, x)
    return y.view(N, -1, T, V)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def add_graph_conv_state(module: nn.Module, in_channels: int, out_channels: int, A: np.ndarray,
                         residual: bool) -> None:
    """What unit_gcn holds besides its convs: the learnable adjacency PA (from A), alpha (the
    refinement's scale, 0 at start), the output BatchNorm and the residual ``down`` (None,
    identity, or a 1x1 conv + BN where the channels change), not yet initialised."""
    module.PA = nn.Parameter(torch.from_numpy(A.astype(np.float32)))
    module.alpha = nn.Parameter(torch.zeros(1))
    module.bn = nn.BatchNorm2d(out_channels)
    if not residual:
        module.down = None
    elif in_channels != out_channels:
        module.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
    else:
        module.down = nn.Identity()


class CTRGraphConv(nn.Module):
    """unit_gcn of CTR-GCN: sum over subsets of CTR-GC, BN, residual, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, residual: bool = True):
        super().__init__()
        self.num_subset = S = A.shape[0]
        self.out_channels = out_channels
        # CTR-GC channel widths: relation channels in/8 (8 for raw 3- or 9-channel input)
        self.rel_channels = 8 if in_channels in (3, 9) else in_channels // 8
        R = self.rel_channels
        # rows: [conv1 of every subset | conv2 of every subset], then conv3 of every subset
        self.conv12 = nn.Conv2d(in_channels, 2 * S * R, 1)
        self.conv3 = nn.Conv2d(in_channels, S * out_channels, 1)
        self.conv4 = nn.Conv2d(S * R, S * out_channels, 1, groups=S)
        add_graph_conv_state(self, in_channels, out_channels, A, residual)
        # the aggregation as the Triton kernels (fused_aggregate.py), set by use_fused_graph_conv
        self.fused = False
        # conv1 and conv2 of every subset (2S convs of R rows), conv3 and conv4 (S convs each)
        fused = {self.conv12: 2 * S, self.conv3: S, self.conv4: S}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m, fused.get(m, 1))
            elif isinstance(m, nn.BatchNorm2d):
                _bn_init(m, 1)
        _bn_init(self.bn, 1e-6)

    def relations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The refined adjacency as a product, weight (S, C_out, R + 2) @ rel (N, S, R + 2, V*V):
        alpha * conv4(tanh(x1_u - x2_v)) + A[u, v] at [..., v, u] (transposed for the matmul).
        The conv4 bias and A ride along as two constant relation channels, so no elementwise
        pass ever runs over the adjacency, the largest tensor of the model."""
        N, _, T, V = x.shape
        S, R, C = self.num_subset, self.rel_channels, self.out_channels
        # the time mean as a sum divided in place: mean's backward would write its expanded
        # gradient out at full size before autograd adds it to x's other gradients
        x12 = self.conv12(x.sum(2, keepdim=True).div_(T)).view(N, 2, S, R, V)
        rel = RelationMap.apply(x12[:, 0], x12[:, 1], self.PA).view(N, S, R + 2, V * V)
        w4 = self.conv4.weight.view(S, C, R) * self.alpha
        b4 = self.conv4.bias.view(S, C, 1) * self.alpha
        weight = torch.cat([w4, b4, torch.ones_like(b4)], 2)                # (S, C, R + 2)
        return weight, rel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, _, T, V = x.shape
        S, C = self.num_subset, self.out_channels
        # the relations first: torch's CPU tanh, called for the first time in a process right
        # after a matmul, now and then returns values off by up to 1e-4 (torch 2.13, measured)
        weight, rel = self.relations(x)
        x3 = pointwise_conv(x, self.conv3).view(N, S, C, T, V)
        y = (fused_aggregate if self.fused else aggregate_subsets)(x3, weight, rel)
        # in place on the BatchNorm's output, which its backward does not read
        y = self.bn(y)
        if isinstance(self.down, nn.Sequential):
            y.add_(self.down[1](pointwise_conv(x, self.down[0])))
        elif self.down is not None:
            y.add_(self.down(x))
        return y.relu_()


class MultiScaleTemporalConv(nn.Module):
    """Branches: (1x1, BN, ReLU, k x 1 conv with dilation d, BN) per dilation,
    (1x1, BN, ReLU, max-pool 3, BN) and (1x1 with stride, BN); outputs concatenated."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 dilations: list[int]):
        super().__init__()
        self.num_branches = nb = len(dilations) + 2
        if out_channels % nb:
            raise ValueError(f"temporal conv: {out_channels} channels do not split into {nb} branches")
        self.bc = bc = out_channels // nb
        self.stride = stride
        # the 1x1 convs of the dilated and max-pool branches, which all see the input
        self.entry = nn.Conv2d(in_channels, (nb - 1) * bc, 1)
        self.entry_bn = nn.BatchNorm2d((nb - 1) * bc)
        self.temporal = nn.ModuleList()
        for d in dilations:
            pad = (kernel_size + (kernel_size - 1) * (d - 1) - 1) // 2
            self.temporal.append(nn.Conv2d(bc, bc, (kernel_size, 1), padding=(pad, 0), stride=(stride, 1),
                                           dilation=(d, 1)))
        self.pool = nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))
        self.plain = nn.Conv2d(in_channels, bc, 1, stride=(stride, 1))
        # every branch's closing BatchNorm, in branch order: dilated..., max-pool, plain
        self.exit_bn = nn.BatchNorm2d(nb * bc)
        # initialised in the public model's module order (each branch's conv, then its BN), so
        # the same seed draws the same weights as the unfused branches did
        _conv_init(self.entry, nb - 1)                 # the entry fuses nb - 1 branch convs
        self._init_bn(self.entry_bn, slice(None))
        for k, conv in enumerate(self.temporal):
            _conv_init(conv)
            self._init_bn(self.exit_bn, slice(k * bc, (k + 1) * bc))
        self._init_bn(self.exit_bn, slice(len(dilations) * bc, (nb - 1) * bc))
        _conv_init(self.plain)
        self._init_bn(self.exit_bn, slice((nb - 1) * bc, nb * bc))

    @staticmethod
    def _init_bn(bn: nn.BatchNorm2d, rows: slice) -> None:
        with torch.no_grad():
            nn.init.normal_(bn.weight[rows], 1.0, 0.02)
            nn.init.constant_(bn.bias[rows], 0)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a model saved before the closing BatchNorms were fused (a trained run's model.pt):
        # each branch had its own, temporal.k.1 / pool_bn / plain.1, and its convs sat at
        # temporal.k.0 and plain.0; their channels are the fused BN's, in branch order
        if prefix + "pool_bn.weight" in state_dict:
            branch_bns = [f"{prefix}temporal.{k}.1." for k in range(len(self.temporal))]
            branch_bns += [prefix + "pool_bn.", prefix + "plain.1."]
            for name in ("weight", "bias", "running_mean", "running_var"):
                state_dict[f"{prefix}exit_bn.{name}"] = torch.cat([state_dict.pop(b + name) for b in branch_bns])
            counts = [state_dict.pop(b + "num_batches_tracked") for b in branch_bns]
            state_dict[prefix + "exit_bn.num_batches_tracked"] = counts[0]
            renames = {f"{prefix}temporal.{k}.0.": f"{prefix}temporal.{k}." for k in range(len(self.temporal))}
            renames[prefix + "plain.0."] = prefix + "plain."
            for old, new in renames.items():
                for name in ("weight", "bias"):
                    state_dict[new + name] = state_dict.pop(old + name)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.entry_bn(pointwise_conv(x, self.entry)).relu_()
        # split, not slices: its backward concatenates the branches' gradients in one pass,
        # where each slice's backward fills a zero tensor of h's size and the three are added
        *dilated, pooled = h.split(self.bc, 1)
        outs = [conv(part) for conv, part in zip(self.temporal, dilated)]
        if pooled.device.type == "cpu":
            # the CPU's channels-last max-pool is 4-7x faster than its NCHW one on a (3, 1)
            # window, with the same values and the same argmax; the concatenation is NCHW again
            pooled = self.pool(_channels_last(pooled))
            if pooled.requires_grad:       # and its backward, given the gradient in that layout
                pooled.register_hook(_channels_last)
        else:
            pooled = self.pool(pooled)
        outs.append(pooled)
        outs.append(pointwise_conv(x, self.plain))
        return self.exit_bn(torch.cat(outs, 1))


class TCNGCNUnit(nn.Module):
    # the graph and temporal conv classes: model/reference.py's unit swaps in the published ones
    graph_conv: type[nn.Module] = CTRGraphConv
    temporal_conv: type[nn.Module] = MultiScaleTemporalConv

    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, stride: int = 1,
                 residual: bool = True, kernel_size: int = 5, dilations: list[int] = (1, 2)):
        super().__init__()
        self.gcn = self.graph_conv(in_channels, out_channels, A)
        self.tcn = self.temporal_conv(out_channels, out_channels, kernel_size, stride, list(dilations))
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            conv = nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1))
            _conv_init(conv)
            bn = nn.BatchNorm2d(out_channels)
            _bn_init(bn, 1)
            self.residual = nn.Sequential(conv, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y.add_(self.residual(x))      # in place: the temporal conv's backward does not read its output
        return y.relu_()


def unit_channels(base_channels: int, num_units: int, stride_units: list[int]) -> list[tuple[int, int, int]]:
    """(in, out, stride) per unit; channels double at each strided unit (1-based)."""
    plan, c = [], base_channels
    for k in range(1, num_units + 1):
        stride = 2 if k in stride_units else 1
        out = c * 2 if stride == 2 else c
        plan.append((c, out, stride))
        c = out
    return plan


class CTRGCN(nn.Module):
    """Input (N, C, T, V) or (N, C, T, V, M); ``forward`` gives class logits,
    ``features`` the last unit's (N, C', T', V) map averaged over persons."""

    def __init__(self, num_class: int, A: np.ndarray, in_channels: int = 3, num_person: int = 1,
                 base_channels: int = 64, num_units: int = 10, stride_units: list[int] = (5, 8),
                 temporal_kernel: int = 5, dilations: list[int] = (1, 2), dropout: float = 0.0,
                 unit: type[nn.Module] = TCNGCNUnit):
        """``unit``: the TCN-GCN unit class; model/reference.py passes the published
        per-subset one (for the equivalence tests and the benchmark), training never does."""
        super().__init__()
        V = A.shape[-1]
        self.num_point, self.num_person, self.in_channels = V, num_person, in_channels
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * V)
        units = []
        for k, (cin, cout, stride) in enumerate(unit_channels(base_channels, num_units, list(stride_units))):
            units.append(unit(in_channels if k == 0 else cin, cout, A, stride=stride,
                              residual=k > 0, kernel_size=temporal_kernel, dilations=dilations))
        self.units = nn.Sequential(*units)
        self.out_channels = units[-1].gcn.out_channels
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(self.out_channels, num_class)
        nn.init.normal_(self.fc.weight, 0, math.sqrt(2.0 / num_class))
        nn.init.constant_(self.fc.bias, 0)
        _bn_init(self.data_bn, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.unsqueeze(-1)
        N, C, T, V, M = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(N, M * V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).reshape(N * M, C, T, V)
        x = self.units(x)
        return x.view(N, M, *x.shape[1:]).mean(1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(features.mean((2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def use_fused_graph_conv(model: nn.Module, on: bool) -> None:
    """Every CTR-GC aggregation of ``model`` through the fused kernels (on) or eager (off):
    the same function, so weights and state dicts are the same either way."""
    for m in model.modules():
        if isinstance(m, CTRGraphConv):
            m.fused = on


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
