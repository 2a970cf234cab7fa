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


def confusion_matrix(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C, C) counts: row = true class, column = top-1 prediction."""
    num_class = scores.shape[1]
    pred = scores.argmax(1)
    return np.bincount(np.asarray(labels) * num_class + pred, minlength=num_class * num_class).reshape(
        num_class, num_class)


def per_class_accuracy(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 accuracy of each true class (0 where a class has no sample) and its sample count."""
    n = confusion.sum(1)
    return np.divide(np.diag(confusion), n, out=np.zeros(len(n)), where=n > 0), n
