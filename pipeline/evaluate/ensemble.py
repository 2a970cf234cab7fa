"""Weighted multi-stream ensemble. Each stream's logits become probabilities (softmax)
before weighting, so streams with larger logit scales do not dominate; weights come
from params or are tuned by grid search on the validation split only."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from .metrics import accuracy_report, topk_accuracy

WEIGHT_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def combine(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(weights.get(s, 0.0) * softmax(v) for s, v in scores.items())


def tune_weights(val_scores: dict[str, np.ndarray], labels: np.ndarray, start: dict[str, float]) -> dict[str, float]:
    """Best val top-1 over a grid; the params' weights are tried first so they win ties."""
    streams = sorted(val_scores)
    best_w, best = dict(start), topk_accuracy(combine(val_scores, start), labels, 1)
    probs = {s: softmax(v) for s, v in val_scores.items()}
    for combo in itertools.product(WEIGHT_GRID, repeat=len(streams)):
        if not any(combo):
            continue
        acc = topk_accuracy(sum(w * probs[s] for s, w in zip(streams, combo)), labels, 1)
        if acc > best:
            best, best_w = acc, dict(zip(streams, combo))
    return best_w


def load_stream_scores(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def ensemble(stream_dirs: dict[str, Path], weights: dict[str, float], tune_on_val: bool) -> dict:
    loaded = {s: load_stream_scores(Path(d) / "scores.npz") for s, d in stream_dirs.items()}
    ref_name, ref = next(iter(loaded.items()))
    for s, z in loaded.items():
        for split in ("val", "test"):
            if not np.array_equal(z[f"{split}_ids"], ref[f"{split}_ids"]):
                raise ValueError(f"stream {s}: {split} samples differ from stream {ref_name}'s")
    missing = [s for s in loaded if s not in weights]
    if missing and not tune_on_val:
        raise ValueError(f"ensemble.weights has no weight for stream(s) {missing}")
    start = {s: float(weights.get(s, 1.0)) for s in loaded}
    val = {s: z["val_scores"] for s, z in loaded.items()}
    test = {s: z["test_scores"] for s, z in loaded.items()}
    chosen = tune_weights(val, ref["val_labels"], start) if tune_on_val else start
    num_class = ref["test_scores"].shape[1]
    return {
        "num_class": int(num_class),
        "chance_top1": 1.0 / num_class,
        "streams": {s: {"val": accuracy_report(val[s], ref["val_labels"]),
                        "test": accuracy_report(test[s], ref["test_labels"])} for s in loaded},
        "ensemble": {
            "weights": chosen, "weights_source": "tuned_on_val" if tune_on_val else "params",
            "val": accuracy_report(combine(val, chosen), ref["val_labels"]),
            "test": accuracy_report(combine(test, chosen), ref["test_labels"]),
        },
    }
