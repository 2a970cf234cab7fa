"""The spatial graph of CTR-GCN: three adjacency subsets (self, inward, outward)."""
from __future__ import annotations

import numpy as np


def edge_matrix(edges: list[tuple[int, int]], num_nodes: int) -> np.ndarray:
    """A[j, i] = 1 for every edge (i, j): the column of a source node holds its targets."""
    A = np.zeros((num_nodes, num_nodes))
    for i, j in edges:
        A[j, i] = 1.0
    return A


def normalize_digraph(A: np.ndarray) -> np.ndarray:
    """Divide each column by its in-degree sum (CTR-GCN's ``normalize_digraph``)."""
    degree = A.sum(0)
    inv = np.zeros_like(degree)
    inv[degree > 0] = 1.0 / degree[degree > 0]
    return A @ np.diag(inv)


def spatial_adjacency(edges: list[tuple[int, int]], num_nodes: int) -> np.ndarray:
    """(3, V, V): identity, normalised inward (child -> parent), normalised outward."""
    inward = list(edges)
    outward = [(j, i) for i, j in inward]
    return np.stack([
        np.eye(num_nodes),
        normalize_digraph(edge_matrix(inward, num_nodes)),
        normalize_digraph(edge_matrix(outward, num_nodes)),
    ]).astype(np.float32)
