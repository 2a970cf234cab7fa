"""Paired comparisons over seeds."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def paired_interval(a: list[float], b: list[float], level: float = 0.95) -> dict:
    """Mean of b - a over pairs and its two-sided Student-t interval at ``level``
    (n - 1 degrees of freedom). With one pair the interval is unbounded."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_interval: {len(a)} and {len(b)} values; need equal, non-zero counts")
    diff = np.asarray(b, float) - np.asarray(a, float)
    n, mean = len(diff), float(diff.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": float("nan"), "low": -math.inf, "high": math.inf, "level": level}
    sd = float(diff.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half, "level": level}
