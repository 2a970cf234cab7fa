"""Which classes a zero-shot run holds out, and for what: three disjoint sets per draw.

- seen: trained on (CE + MC terms);
- validation-unseen: never trained on; every choice (stream, scoring features, the calibration
  of generalised zero-shot) is made on them;
- test-unseen: never trained on, never chosen on; reported once per draw.

Minimal-pair partners go into one set together (``pair_groups``): an unseen class whose partner
is seen would be recognised by its partner's trained texts (their descriptions differ in one
detail: cos 0.997), and a choice made on a validation class whose partner is a test class
would have seen the test class's texts. A dataset without pair information (every real one
here: its corpus.json has no signs) draws single classes.

Seeded draws (``holdout_seed + draw``): the same params give the same sets on every machine.
"""
from __future__ import annotations

import numpy as np

# mixed into the holdout draw so that it shares no random stream with training's
# default_rng([seed, epoch]) for any epoch
HOLDOUT_STREAM = 0x2E50
CLASS_SETS = ("seen", "val_unseen", "test_unseen")


def pair_groups(corpus: dict, glosses: list[str]) -> list[list[int]]:
    """Class ids grouped by minimal pair (a base sign and every partner derived from it); a class
    in no pair, or any class of a dataset whose corpus lists no signs, is a group of its own."""
    label = {g: k for k, g in enumerate(glosses)}
    root = list(range(len(glosses)))

    def find(k: int) -> int:
        while root[k] != k:
            k = root[k]
        return k

    for sign in corpus.get("signs", []):
        base = sign.get("derived_from")
        if base in label and sign["gloss"] in label:
            root[find(label[sign["gloss"]])] = find(label[base])
    groups: dict[int, list[int]] = {}
    for k in range(len(glosses)):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def draw_class_sets(groups: list[list[int]], n_test: int, n_val: int, seed: int,
                    tested: set[int] = frozenset()) -> dict[str, np.ndarray]:
    """Groups in a seeded random order fill test-unseen up to ``n_test`` classes, then
    validation-unseen up to ``n_val`` (a group that would overfill a set is passed on to the
    next); the rest are seen. A group with a class in ``tested`` (the earlier draws' test-unseen
    classes) is not tested again while others can fill the set, so that the draws' test sets
    differ (with 9 groups, two of three draws once drew the same one). Each set is sorted."""
    rng = np.random.default_rng([seed, HOLDOUT_STREAM])
    order = [groups[int(g)] for g in rng.permutation(len(groups))]
    # while enough classes were never tested, the tested ones are not tested again
    avoid = set(tested) if sum(len(g) for g in groups if not set(g) & set(tested)) >= n_test else set()
    sets: dict[str, list[int]] = {name: [] for name in CLASS_SETS}
    for group in order:
        if len(sets["test_unseen"]) + len(group) <= n_test and not set(group) & avoid:
            sets["test_unseen"] += group
        elif len(sets["val_unseen"]) + len(group) <= n_val:
            sets["val_unseen"] += group
        else:
            sets["seen"] += group
    for name in CLASS_SETS:
        if len(sets[name]) < 2:
            raise ValueError(f"zero-shot draw {seed}: the {name} set has {len(sets[name])} class(es); minimal-pair "
                             f"groups (up to {max(map(len, groups))} classes) left too few for it: raise "
                             f"zeroshot.holdout / val_holdout or change zeroshot.holdout_seed")
    return {name: np.array(sorted(v), dtype=np.int64) for name, v in sets.items()}
