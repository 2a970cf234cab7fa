"""Top-k accuracy on score matrices."""
from __future__ import annotations

import numpy as np


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores (ties: lowest index)."""
    if len(labels) == 0:
        raise ValueError("no samples to score")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == np.asarray(labels)[:, None]).any(1).mean())


def accuracy_report(scores: np.ndarray, labels: np.ndarray) -> dict:
    return {"top1": topk_accuracy(scores, labels, 1), "top5": topk_accuracy(scores, labels, 5),
            "n": int(len(labels))}
