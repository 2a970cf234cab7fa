"""The published CTR-GCN structure, one module per conv as the public code has it: a CTR-GC
per adjacency subset (its own conv1..conv4 and a per-channel adjacency built by a 1x1 conv
over the relation map), and temporal branches that each start with their own 1x1 conv.

Not used for training. It is the formula ``ctrgcn.py``'s fused rewrites must equal (tests
copy our weights into it with ``reference_from`` and compare outputs and gradients in
float64), and the model `benchmark train` times ours against, interleaved in one process:
same shape, same parameter count, the public model's arithmetic, and its speed: its passes are
the public code's, in place where it works in place (its ReLUs, the residual adds) and out of
place where it is not, down to the zero it adds for a residual a unit does not have
(`benchmark train --public` times the two side by side).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .ctrgcn import CTRGCN, TCNGCNUnit, _bn_init, _conv_init, add_graph_conv_state


class CTRGC(nn.Module):
    """One subset's channel-wise topology refinement graph conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        rel = 8 if in_channels in (3, 9) else in_channels // 8
        self.conv1 = nn.Conv2d(in_channels, rel, 1)
        self.conv2 = nn.Conv2d(in_channels, rel, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(rel, out_channels, 1)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            _conv_init(conv)

    def forward(self, x: torch.Tensor, A: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        x1, x2, x3 = self.conv1(x).mean(-2), self.conv2(x).mean(-2), self.conv3(x)
        rel = torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))
        adjacency = self.conv4(rel) * alpha + A
        return torch.einsum("ncuv,nctv->nctu", adjacency, x3)


class ReferenceGraphConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, A: np.ndarray, residual: bool = True):
        super().__init__()
        self.out_channels = out_channels
        self.convs = nn.ModuleList(CTRGC(in_channels, out_channels) for _ in range(A.shape[0]))
        add_graph_conv_state(self, in_channels, out_channels, A, residual)
        if isinstance(self.down, nn.Sequential):
            _conv_init(self.down[0])
            _bn_init(self.down[1], 1)
        _bn_init(self.bn, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = None
        for s, conv in enumerate(self.convs):
            z = conv(x, self.PA[s], self.alpha)
            y = z if y is None else z + y
        y = self.bn(y)
        y += self.down(x) if self.down is not None else 0
        return torch.relu_(y)


def _bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    nn.init.normal_(bn.weight, 1.0, 0.02)
    nn.init.constant_(bn.bias, 0)
    return bn


def _conv(*args, **kwargs) -> nn.Conv2d:
    conv = nn.Conv2d(*args, **kwargs)
    _conv_init(conv)
    return conv


class ReferenceTemporalConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, dilations: list[int]):
        super().__init__()
        bc = out_channels // (len(dilations) + 2)
        self.branches = nn.ModuleList()
        for d in dilations:
            pad = (kernel_size + (kernel_size - 1) * (d - 1) - 1) // 2
            self.branches.append(nn.Sequential(
                _conv(in_channels, bc, 1), _bn(bc), nn.ReLU(inplace=True),
                _conv(bc, bc, (kernel_size, 1), padding=(pad, 0), stride=(stride, 1), dilation=(d, 1)), _bn(bc)))
        self.branches.append(nn.Sequential(
            _conv(in_channels, bc, 1), _bn(bc), nn.ReLU(inplace=True),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)), _bn(bc)))
        self.branches.append(nn.Sequential(_conv(in_channels, bc, 1, stride=(stride, 1)), _bn(bc)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([branch(x) for branch in self.branches], 1)
        out += 0            # the public code adds its residual, which the unit turns off: a zero
        return out


class ReferenceUnit(TCNGCNUnit):
    graph_conv = ReferenceGraphConv
    temporal_conv = ReferenceTemporalConv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # out of place, a zero where the unit has no residual (the first), then ReLU in place
        return torch.relu_(self.tcn(self.gcn(x)) + (self.residual(x) if self.residual is not None else 0))


def reference_ctrgcn(num_class: int, A: np.ndarray, **config) -> CTRGCN:
    """The CTRGCN of this config (same input BatchNorm, pooling and classifier) built from
    the published per-subset units."""
    return CTRGCN(num_class, A, unit=ReferenceUnit, **config)


def _copy(dst: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    dst.weight.copy_(weight)
    if bias is not None:
        dst.bias.copy_(bias)


def _copy_bn_rows(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, rows: slice) -> None:
    """A per-branch BatchNorm from its channels of a fused one (running statistics too)."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[rows])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


def reference_from(model: CTRGCN) -> CTRGCN:
    """A reference model holding ``model``'s weights, each fused conv split back into the
    public convs it stands for (BatchNorm running statistics included), in ``model``'s
    dtype: the two compute the same function."""
    first = model.units[0].gcn
    tcn0 = model.units[0].tcn
    ref = reference_ctrgcn(model.fc.out_features, first.PA.detach().cpu().numpy(), in_channels=model.in_channels,
                           num_person=model.num_person, base_channels=first.out_channels,
                           num_units=len(model.units),
                           stride_units=[k + 1 for k, u in enumerate(model.units) if u.tcn.stride == 2],
                           temporal_kernel=tcn0.temporal[0].kernel_size[0],
                           dilations=[t.dilation[0] for t in tcn0.temporal],
                           dropout=model.drop.p if isinstance(model.drop, nn.Dropout) else 0.0)
    ref = ref.to(next(model.parameters()).dtype)
    ref.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("units.")}, strict=False)
    with torch.no_grad():
        for ours, theirs in zip(model.units, ref.units):
            g, rg = ours.gcn, theirs.gcn
            S, R, C = g.num_subset, g.rel_channels, g.out_channels
            rg.PA.copy_(g.PA)
            rg.alpha.copy_(g.alpha)
            rg.bn.load_state_dict(g.bn.state_dict())
            if g.down is not None and not isinstance(g.down, nn.Identity):
                rg.down.load_state_dict(g.down.state_dict())
            for s, conv in enumerate(rg.convs):
                one, two = slice(s * R, (s + 1) * R), slice((S + s) * R, (S + s + 1) * R)
                _copy(conv.conv1, g.conv12.weight[one], g.conv12.bias[one])
                _copy(conv.conv2, g.conv12.weight[two], g.conv12.bias[two])
                _copy(conv.conv3, g.conv3.weight[s * C:(s + 1) * C], g.conv3.bias[s * C:(s + 1) * C])
                _copy(conv.conv4, g.conv4.weight[s * C:(s + 1) * C], g.conv4.bias[s * C:(s + 1) * C])
            t, branches = ours.tcn, theirs.tcn.branches
            bc = t.bc
            for k, branch in enumerate(branches):
                rows = slice(k * bc, (k + 1) * bc)
                _copy_bn_rows(branch[-1], t.exit_bn, rows)
                if k == len(branches) - 1:
                    _copy(branch[0], t.plain.weight, t.plain.bias)
                    continue
                _copy(branch[0], t.entry.weight[rows], t.entry.bias[rows])   # the dilated ones, then max-pool
                _copy_bn_rows(branch[1], t.entry_bn, rows)
                if k < len(t.temporal):
                    branch[3].load_state_dict(t.temporal[k].state_dict())
            if ours.residual is not None and not isinstance(ours.residual, nn.Identity):
                theirs.residual.load_state_dict(ours.residual.state_dict())
    return ref
