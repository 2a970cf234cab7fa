"""Weighted multi-stream ensemble: the weighted sum of each stream's scores, with
weights from params or tuned by grid search on the validation split only.

What gets summed is ``ensemble.rule``:
- ``scores`` (default): the raw classifier outputs (logits), as CTR-GCN's, GAP's and
  SAM-SLR's ensemble scripts add them. A stream with a larger logit scale (more
  confident) weighs more for the same weight.
- ``softmax``: each stream's probabilities, so every stream's vote is on one scale.
On streams whose logit scales differ the two rules can pick different classes, which
is why the rule is a param and both are reported by the experiment commands.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from ..metrics import accuracy_report, topk_accuracy

WEIGHT_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
RULES = ("scores", "softmax")


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def stream_votes(scores: np.ndarray, rule: str) -> np.ndarray:
    """What one stream contributes to the sum under ``rule``."""
    if rule == "scores":
        return scores
    if rule == "softmax":
        return softmax(scores)
    raise ValueError(f"unknown ensemble rule {rule!r}; known: {', '.join(RULES)}")


def combine(scores: dict[str, np.ndarray], weights: dict[str, float], rule: str = "scores") -> np.ndarray:
    return sum(weights.get(s, 0.0) * stream_votes(v, rule) for s, v in scores.items())


def tune_weights(val_scores: dict[str, np.ndarray], labels: np.ndarray, start: dict[str, float],
                 rule: str = "scores") -> dict[str, float]:
    """Best val top-1 over a grid; the params' weights are tried first so they win ties."""
    streams = sorted(val_scores)
    best_w, best = dict(start), topk_accuracy(combine(val_scores, start, rule), labels, 1)
    votes = {s: stream_votes(v, rule) for s, v in val_scores.items()}
    for combo in itertools.product(WEIGHT_GRID, repeat=len(streams)):
        if not any(combo):
            continue
        acc = topk_accuracy(sum(w * votes[s] for s, w in zip(streams, combo)), labels, 1)
        if acc > best:
            best, best_w = acc, dict(zip(streams, combo))
    return best_w


def load_stream_scores(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def stream_metrics(stream_dir: Path) -> dict:
    """A stream's metrics.json ({} when absent)."""
    path = Path(stream_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def shared_text(texts: list[dict | None]) -> dict | None:
    """The texts the streams aligned with (encoder, per-term coverage) when they all did the
    same; None when none read text (CE only) or they differ (each stream's entry says)."""
    first = texts[0] if texts else None
    return first if all(t == first for t in texts) else None


def has_val(scores: dict[str, np.ndarray]) -> bool:
    """Whether a stream's scores hold a validation split (a run without one writes no val arrays)."""
    return "val_ids" in scores and len(scores["val_ids"]) > 0


def ensemble(stream_dirs: dict[str, Path], weights: dict[str, float], tune_on_val: bool,
             rule: str = "scores") -> dict:
    """Without a validation split (the paper's SLR-500 protocol) the params' weights are
    used and every "val" entry is None; tune_on_val then has nothing to tune on: an error."""
    loaded = {s: load_stream_scores(Path(d) / "scores.npz") for s, d in stream_dirs.items()}
    ref_name, ref = next(iter(loaded.items()))
    with_val = has_val(ref)
    for s, z in loaded.items():
        if has_val(z) != with_val:
            raise ValueError(f"stream {s}: {'has' if has_val(z) else 'has no'} validation split but stream "
                             f"{ref_name} {'has one' if with_val else 'has none'}; retrain on one manifest")
        for split in ("val", "test") if with_val else ("test",):
            if not np.array_equal(z[f"{split}_ids"], ref[f"{split}_ids"]):
                raise ValueError(f"stream {s}: {split} samples differ from stream {ref_name}'s")
    if tune_on_val and not with_val:
        raise ValueError(f"ensemble.tune_on_val: true tunes the stream weights on the validation split, but "
                         f"the streams were trained without one ({Path(stream_dirs[ref_name]) / 'scores.npz'} holds "
                         f"test scores only): set ensemble.tune_on_val: false to use ensemble.weights, or give "
                         f"the dataset a validation split")
    missing = [s for s in loaded if s not in weights]
    if missing and not tune_on_val:
        raise ValueError(f"ensemble.weights has no weight for stream(s) {missing}")
    start = {s: float(weights.get(s, 1.0)) for s in loaded}
    val = {s: z["val_scores"] for s, z in loaded.items()} if with_val else {}
    test = {s: z["test_scores"] for s, z in loaded.items()}
    chosen = tune_weights(val, ref["val_labels"], start, rule) if tune_on_val else start
    num_class = ref["test_scores"].shape[1]
    val_report = split_report(val, ref["val_labels"], chosen, rule) if with_val else None
    test_report = split_report(test, ref["test_labels"], chosen, rule)
    own = {s: stream_metrics(stream_dirs[s]) for s in loaded}
    return {
        "num_class": int(num_class),
        "chance_top1": 1.0 / num_class,
        "text": shared_text([own[s].get("text") for s in loaded]),
        "streams": {s: {"train": own[s].get("train"),
                        "val": val_report["streams"][s] if with_val else None,
                        "test": test_report["streams"][s],
                        "text": own[s].get("text")} for s in loaded},
        "ensemble": {
            "rule": rule, "weights": chosen, "weights_source": "tuned_on_val" if tune_on_val else "params",
            "val": val_report["ensemble"] if with_val else None,
            "test": test_report["ensemble"],
        },
    }


def split_report(scores: dict[str, np.ndarray], labels: np.ndarray, weights: dict[str, float],
                 rule: str) -> dict:
    """Each stream's and the weighted ensemble's accuracy on one split: what the ensemble
    stage writes for val and test, and what `evaluate` computes from a run's bundles."""
    return {"streams": {s: accuracy_report(v, labels) for s, v in scores.items()},
            "ensemble": accuracy_report(combine(scores, weights, rule), labels)}
