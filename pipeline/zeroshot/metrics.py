"""Zero-shot metrics: top-k on the unseen classes against chance, and generalised
zero-shot (every class a candidate) with the seen/unseen harmonic mean."""
from __future__ import annotations

import numpy as np

from ..metrics import accuracy_report, topk_accuracy


def chance_topk(k: int, candidates: int) -> float:
    """Top-k accuracy of a uniform random ranking of ``candidates`` classes."""
    return min(k, candidates) / candidates


def harmonic_mean(seen: float, unseen: float) -> float:
    """The generalised zero-shot summary: high only when both sides are (0 when either is)."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def zero_shot_report(scores: np.ndarray, labels: np.ndarray, unseen: np.ndarray) -> dict:
    """``scores``: (N, C) text-similarity scores of N clips against every class (column c
    = class c); ``labels``: their classes. Accuracies are over clips (the demo's test split
    has the same number of clips per class, so this is also the per-class mean).

    zsl: the unseen classes' clips ranked among the unseen classes only.
    gzsl: every clip ranked among all C classes; top-1 on the seen classes' clips, on the
    unseen classes' clips, and their harmonic mean."""
    labels, unseen = np.asarray(labels), np.asarray(unseen)
    num_class = scores.shape[1]
    is_unseen = np.isin(labels, unseen)
    if not is_unseen.any() or is_unseen.all():
        raise ValueError("zero-shot evaluation needs clips of both unseen and seen classes "
                         f"({int(is_unseen.sum())} of {len(labels)} clips are of unseen classes)")
    position = np.full(num_class, -1)
    position[unseen] = np.arange(len(unseen))
    zsl = accuracy_report(scores[is_unseen][:, unseen], position[labels[is_unseen]])
    zsl.update(chance_top1=chance_topk(1, len(unseen)), chance_top5=chance_topk(5, len(unseen)),
               candidates=int(len(unseen)))
    seen_top1 = topk_accuracy(scores[~is_unseen], labels[~is_unseen], 1)
    unseen_top1 = topk_accuracy(scores[is_unseen], labels[is_unseen], 1)
    gzsl = {"seen_top1": seen_top1, "unseen_top1": unseen_top1, "harmonic_mean": harmonic_mean(seen_top1, unseen_top1),
            "chance_top1": chance_topk(1, num_class), "candidates": int(num_class),
            "n_seen": int((~is_unseen).sum()), "n_unseen": int(is_unseen.sum())}
    return {"zsl": zsl, "gzsl": gzsl}
