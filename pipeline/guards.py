"""Numeric guards: where numbers enter a stage (pose and keypoint shards, the text bank,
each training step), a NaN or an infinity is an error that names where it is. A
non-finite value that slips through trains to NaN weights and a metrics file that
reports chance-level accuracy as if it were a result."""
from __future__ import annotations

import numpy as np


class NonFiniteError(ValueError):
    """A NaN or infinite value; the message names the file (or run) and the position."""


def first_non_finite(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN/inf in ``values`` (C order), or None when all are finite."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))


def require_finite(values: np.ndarray, where: str) -> None:
    """Raise NonFiniteError naming ``where`` and the first bad index."""
    index = first_non_finite(values)
    if index is not None:
        raise NonFiniteError(f"{where}: non-finite value {values[index]} at index {list(index)}")
