"""Projection heads of GSP-MC: the skeleton side of the contrastive loss. Used only in
training; the saved inference model is the encoder + classifier alone, except for
zero-shot runs, which score classes through these heads (pipeline/zeroshot/)."""
from __future__ import annotations

import torch
from torch import nn

from ..data.wholebody import PART_NAMES


class TextAlignmentHeads(nn.Module):
    """Global feature (mean over time and joints) and one feature per part group (mean
    over time and that part's joints), each with its own Linear to the text dimension."""

    def __init__(self, feat_channels: int, text_dim: int, part_joints: dict[str, list[int]]):
        super().__init__()
        # what rebuilds these heads from a saved state: TextAlignmentHeads(**heads.config)
        self.config = {"feat_channels": feat_channels, "text_dim": text_dim,
                       "part_joints": {p: list(j) for p, j in part_joints.items()}}
        self.global_proj = nn.Linear(feat_channels, text_dim)
        self.part_names = [p for p in PART_NAMES if part_joints.get(p)]
        self.part_proj = nn.ModuleDict({p: nn.Linear(feat_channels, text_dim) for p in self.part_names})
        for p in self.part_names:
            self.register_buffer(f"joints_{p}", torch.tensor(part_joints[p], dtype=torch.long), persistent=False)

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pooled = fmap.mean(2)                                   # (N, C, V)
        glob = self.global_proj(pooled.mean(-1))
        parts = {p: self.part_proj[p](pooled[:, :, getattr(self, f"joints_{p}")].mean(-1))
                 for p in self.part_names}
        return glob, parts
