"""Zero-shot class scores: cosine similarity between a clip's projected skeleton
features and the embeddings of each candidate class's texts."""
from __future__ import annotations

import numpy as np

from ..data.wholebody import PART_NAMES
from ..text.bank import TextBank

FEATURES = ("global", "parts")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def part_scores(part_feats: dict[str, np.ndarray], bank: TextBank,
                classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip and candidate class, the mean over the parts the class has segments for of
    (the mean cosine between the clip's part feature and the class's segments of that part);
    and which classes have any such segment. A segment tagged with several parts counts for
    each, as in training."""
    n = len(next(iter(part_feats.values()))) if part_feats else 0
    total, count = np.zeros((n, len(classes))), np.zeros(len(classes))
    segments = unit(bank.segments)
    for k, part in enumerate(PART_NAMES):
        if part not in part_feats or not len(segments):
            continue
        owned = (bank.segment_members[:, classes] & bank.segment_parts[:, k][:, None]).astype(np.float64)  # (M, C)
        per_class = owned.sum(0)
        if not per_class.any():
            continue
        total += (unit(part_feats[part]) @ segments.T) @ owned / np.maximum(per_class, 1)
        count += per_class > 0
    return total / np.maximum(count, 1), count > 0


def zero_shot_scores(global_feats: np.ndarray, part_feats: dict[str, np.ndarray], bank: TextBank,
                     classes: np.ndarray | list[int], features: list[str] | tuple[str, ...] = FEATURES) -> np.ndarray:
    """(N, len(classes)) scores of N clips against the candidate ``classes`` (ids into the
    bank), column j for classes[j]. Each kind in ``features`` counts once: ``global`` is
    the cosine to the class's global description, ``parts`` the part_scores mean; the score
    is their mean over the kinds the class has texts for (a class without part segments,
    as with `label` texts, is scored by its global text alone, on the same cosine scale)."""
    classes = np.asarray(classes, dtype=np.int64)
    unknown = set(features) - set(FEATURES)
    if unknown or not features:
        raise ValueError(f"zeroshot.features: {sorted(unknown) or 'empty'}; known: {', '.join(FEATURES)}")
    total, count = np.zeros((len(global_feats), len(classes))), np.zeros(len(classes))
    if "global" in features:
        total += unit(global_feats) @ unit(bank.global_[classes]).T
        count += 1
    if "parts" in features:
        parts, has = part_scores(part_feats, bank, classes)
        total += parts * has
        count += has
    if not count.all():
        raise ValueError(f"zeroshot.features {list(features)}: class(es) {classes[count == 0].tolist()} have no text "
                         f"of these kinds in the bank (a `label` bank has no part segments): add `global`")
    return total / count
