"""Which classes a zero-shot run holds out: a fixed, seeded draw, so the same params give
the same classes on every machine. How many: `config.holdout_count`, which the params checks use too."""
from __future__ import annotations

import numpy as np

from ..config import holdout_count

# mixed into the holdout draw so that it shares no random stream with training's
# default_rng([seed, epoch]) for any epoch
HOLDOUT_STREAM = 0x2E50


def choose_unseen(num_classes: int, holdout: float | int, seed: int) -> np.ndarray:
    """The held-out class ids, sorted: ``holdout_count`` classes drawn without replacement
    by a generator seeded with ``seed``."""
    rng = np.random.default_rng([seed, HOLDOUT_STREAM])
    return np.sort(rng.choice(num_classes, holdout_count(holdout, num_classes), replace=False))


def seen_classes(num_classes: int, unseen: np.ndarray) -> np.ndarray:
    return np.setdiff1d(np.arange(num_classes), unseen)
