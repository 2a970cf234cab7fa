"""The data of the seen classes. Nothing of an unseen class (clip, label or text) reaches
training: the training split is cut to the seen classes and relabelled 0..S-1, and the
text bank is cut the same way (TextBank.only_classes)."""
from __future__ import annotations

import numpy as np

from ..train.data import SplitData


def of_classes(data: SplitData, classes: np.ndarray) -> SplitData:
    """The samples of ``classes`` only, relabelled to their position in ``classes``
    (class ``classes[i]`` becomes label i): what a model with len(classes) outputs trains on."""
    position = {int(c): i for i, c in enumerate(classes)}
    idx = [i for i, label in enumerate(data.labels) if int(label) in position]
    return data.take(idx, np.array([position[int(data.labels[i])] for i in idx], dtype=np.int64))


def clips_of(data: SplitData, classes: np.ndarray) -> SplitData:
    """The samples of ``classes`` only, with their own labels (what is scored against texts)."""
    keep = set(int(c) for c in classes)
    return data.take([i for i, label in enumerate(data.labels) if int(label) in keep])
