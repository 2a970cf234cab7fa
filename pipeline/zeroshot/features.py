"""A trained stream's projected features of every clip of a split (eval mode, centred crop)."""
from __future__ import annotations

import numpy as np
import torch

from ..model.ctrgcn import CTRGCN
from ..model.heads import TextAlignmentHeads
from ..train.feeder import Feeder


def clip_features(model: CTRGCN, heads: TextAlignmentHeads, feeder: Feeder, batch_size: int,
                  device: torch.device) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Global (N, D) and per-part {part: (N, D)} projections, in feeder order."""
    glob, parts = [], {p: [] for p in heads.part_names}
    with torch.no_grad():
        for _, x, _ in feeder.batches(batch_size, None):
            g, p = heads(model.features(torch.from_numpy(x).to(device)))
            glob.append(g.float().cpu().numpy())
            for name, f in p.items():
                parts[name].append(f.float().cpu().numpy())
    return np.concatenate(glob), {name: np.concatenate(f) for name, f in parts.items()}
