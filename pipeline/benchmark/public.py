"""The public CTR-GCN itself as a contender of `benchmark train --public PATH`: the user's own
checkout of its ``model/ctrgcn.py`` (github.com/Uason-Chen/CTR-GCN; CC BY-NC 4.0, so it is
never shipped here and never fetched at run time), built at the paper's shape with our 87-point
skeleton as its graph, and timed beside ours in the same process.

The public ``Model`` takes ``(N, C, T, V, M)`` (M persons; one here) and finds its graph by a
dotted class name (``graph='graph.ntu_rgb_d.Graph'``); a module of our own stands in for its
``graph`` package and hands it our adjacency (model/graph.py: identity, inward, outward), the
same three subsets ours and model/reference.py use. Its widths are fixed in its code (64, 128,
256 over ten units, strides at units 5 and 8): it is the paper's configuration, not the demo's.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..model.graph import spatial_adjacency

GRAPH_MODULE = "gspmc_public_graph"        # what the public Model imports its Graph class from
# the public Model's encoder, as its code hard-wires it: our model params that describe the same net
PUBLIC_SHAPE = {"base_channels": 64, "num_units": 10, "stride_units": [5, 8], "temporal_kernel": 5,
                "dilations": [1, 2]}


class PublicModel(nn.Module):
    """The public Model behind the interface the training step uses: ``features`` gives its
    logits (the public forward ends in its classifier), ``classify`` passes them on."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.unsqueeze(-1))               # (N, C, T, V) -> one person

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def public_matches(model_cfg: dict) -> bool:
    """Whether a model config is the one the public code hard-wires."""
    return all(model_cfg.get(k) == v for k, v in PUBLIC_SHAPE.items())


def load_public(path: str | Path, num_class: int, edges: list[tuple[int, int]], num_points: int) -> PublicModel:
    """The public ``Model`` from ``path`` (its model/ctrgcn.py), on our skeleton's graph."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: --public needs the public CTR-GCN's model/ctrgcn.py from a checkout of "
                                f"github.com/Uason-Chen/CTR-GCN (not shipped here: its licence is CC BY-NC 4.0)")
    spec = importlib.util.spec_from_file_location("gspmc_public_ctrgcn", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - whatever a foreign file raises, named with it
        raise ValueError(f"{path}: could not be imported ({type(exc).__name__}: {exc})") from exc
    model_class = getattr(module, "Model", None)
    wanted = {"num_class", "num_point", "num_person", "graph", "in_channels"}
    if model_class is None or not wanted <= set(inspect.signature(model_class).parameters):
        raise ValueError(f"{path}: no Model({', '.join(sorted(wanted))}, ...) in it: not the public CTR-GCN's "
                         f"model/ctrgcn.py")
    adjacency = spatial_adjacency(edges, num_points).astype(np.float32)

    class Graph:
        def __init__(self, **_):
            self.A = adjacency

    graph_module = types.ModuleType(GRAPH_MODULE)
    graph_module.Graph = Graph
    sys.modules[GRAPH_MODULE] = graph_module
    return PublicModel(model_class(num_class=num_class, num_point=num_points, num_person=1,
                                   graph=f"{GRAPH_MODULE}.Graph", in_channels=3))
