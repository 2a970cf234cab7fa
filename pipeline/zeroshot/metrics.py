"""Zero-shot metrics: top-k on the unseen classes against chance, and generalised
zero-shot (seen and unseen classes all candidates, calibrated) with the seen/unseen harmonic mean."""
from __future__ import annotations

import numpy as np

from ..metrics import accuracy_report, topk_accuracy


def chance_topk(k: int, candidates: int) -> float:
    """Top-k accuracy of a uniform random ranking of ``candidates`` classes."""
    return min(k, candidates) / candidates


def harmonic_mean(seen: float, unseen: float) -> float:
    """The generalised zero-shot summary: high only when both sides are (0 when either is)."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def calibrated(scores: np.ndarray, is_seen_column: np.ndarray, gamma: float) -> np.ndarray:
    """Calibrated stacking (Chao et al. 2016): the seen classes' scores lowered by ``gamma``, so
    that a model trained on them does not take every clip for one of them."""
    return scores - gamma * is_seen_column[None, :]


def zero_shot_report(scores: np.ndarray, labels: np.ndarray, candidates: np.ndarray, unseen: np.ndarray,
                     gamma: float = 0.0) -> dict:
    """``scores``: (N, len(candidates)) text-similarity scores of N clips, column j for class
    ``candidates[j]``; ``labels``: their classes (each a candidate); ``unseen``: the candidates
    never trained on. Accuracies are over clips (the demo has as many clips per class).

    zsl: the unseen classes' clips ranked among the unseen classes only.
    gzsl: every clip ranked among all candidates, the seen ones' scores lowered by ``gamma``
    (calibrated stacking); top-1 on the seen classes' clips, on the unseen classes' clips, and
    their harmonic mean."""
    labels, unseen, candidates = np.asarray(labels), np.asarray(unseen), np.asarray(candidates)
    position = {int(c): j for j, c in enumerate(candidates)}
    if any(int(y) not in position for y in labels):
        raise ValueError("zero-shot evaluation: a clip's class is not among the candidates")
    cols = np.array([position[int(y)] for y in labels], dtype=np.int64)
    is_unseen = np.isin(labels, unseen)
    if not is_unseen.any() or is_unseen.all():
        raise ValueError("zero-shot evaluation needs clips of both unseen and seen classes "
                         f"({int(is_unseen.sum())} of {len(labels)} clips are of unseen classes)")
    unseen_cols = np.array([position[int(c)] for c in unseen], dtype=np.int64)
    among_unseen = {int(c): j for j, c in enumerate(unseen_cols)}
    zsl = accuracy_report(scores[is_unseen][:, unseen_cols], np.array([among_unseen[int(c)] for c in cols[is_unseen]]))
    zsl.update(chance_top1=chance_topk(1, len(unseen)), chance_top5=chance_topk(5, len(unseen)),
               candidates=int(len(unseen)))
    stacked = calibrated(scores, ~np.isin(candidates, unseen), gamma)
    seen_top1 = topk_accuracy(stacked[~is_unseen], cols[~is_unseen], 1)
    unseen_top1 = topk_accuracy(stacked[is_unseen], cols[is_unseen], 1)
    gzsl = {"seen_top1": seen_top1, "unseen_top1": unseen_top1, "harmonic_mean": harmonic_mean(seen_top1, unseen_top1),
            "gamma": float(gamma), "chance_top1": chance_topk(1, len(candidates)), "candidates": int(len(candidates)),
            "n_seen": int((~is_unseen).sum()), "n_unseen": int(is_unseen.sum())}
    return {"zsl": zsl, "gzsl": gzsl}


def choose_gamma(scores: np.ndarray, labels: np.ndarray, candidates: np.ndarray, unseen: np.ndarray,
                 gammas: list[float]) -> float:
    """The calibration with the best GZSL harmonic mean (ties: the smallest gamma)."""
    h = [zero_shot_report(scores, labels, candidates, unseen, g)["gzsl"]["harmonic_mean"] for g in sorted(gammas)]
    return float(sorted(gammas)[int(np.argmax(h))])
