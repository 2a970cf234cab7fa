"""The COCO-WholeBody-133 layout and the keypoint presets selected from it.

Index facts are in REFERENCE.md. Every preset is a list of 133-layout indices; the
graph of a preset is the whole-body skeleton restricted to the selected points, with
the bone tree re-rooted where a parent was dropped (see ``preset_parents``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

NUM_WHOLEBODY = 133
PART_NAMES = ("body", "left_hand", "right_hand", "face", "mouth")

LEFT_HAND = list(range(91, 112))
RIGHT_HAND = list(range(112, 133))
FACE_START = 23  # face-68 point k (iBUG order, 0-based) is index 23 + k

# Parent of each whole-body point in a tree rooted at the neck-less body centre (nose).
# Body: nose -> eyes -> ears; nose -> shoulders -> elbows -> wrists; shoulders -> hips
# -> knees -> ankles -> feet. Hands hang off the body wrists, the face off the nose.
_BODY_PARENT = {
    0: None, 1: 0, 2: 0, 3: 1, 4: 2, 5: 0, 6: 0, 7: 5, 8: 6, 9: 7, 10: 8,
    11: 5, 12: 6, 13: 11, 14: 12, 15: 13, 16: 14,
    17: 15, 18: 15, 19: 15, 20: 16, 21: 16, 22: 16,
}


def _hand_parents(base: int, wrist_body: int) -> dict[int, int]:
    parents = {base: wrist_body}
    for finger in range(5):
        prev = base
        for k in range(4):
            idx = base + 1 + 4 * finger + k
            parents[idx] = prev
            prev = idx
    return parents


def _face_parents() -> dict[int, int]:
    """Face-68 as chains: jaw, each brow, nose bridge+base, each eye, outer and inner lip."""
    f = lambda k: FACE_START + k  # noqa: E731
    parents: dict[int, int] = {}

    def chain(points: list[int], root: int) -> None:
        prev = root
        for k in points:
            parents[f(k)] = prev
            prev = f(k)

    nose_tip = f(30)
    chain([27, 28, 29, 30], 0)          # bridge hangs off the body nose
    chain([31, 32], nose_tip)
    chain([33], nose_tip)
    chain([34, 35], nose_tip)
    chain(list(range(8, -1, -1)), nose_tip)   # chin (8) outwards to the right jaw end
    chain(list(range(9, 17)), f(8))           # and to the left jaw end
    chain([21, 20, 19, 18, 17], f(27))        # brows hang off the bridge top
    chain([22, 23, 24, 25, 26], f(27))
    chain([39, 38, 37, 36, 41, 40], f(27))    # eyes: inner corner first
    chain([42, 43, 44, 45, 46, 47], f(27))
    chain([51, 50, 49, 48, 59, 58, 57], f(33))  # outer lip from the top centre
    chain([52, 53, 54, 55, 56], f(51))
    chain([62, 61, 60, 67, 66], f(51))          # inner lip from the outer top centre
    chain([63, 64, 65], f(62))
    return parents


@lru_cache(maxsize=1)
def wholebody_parents() -> tuple[int | None, ...]:
    parents: dict[int, int | None] = dict(_BODY_PARENT)
    parents.update(_hand_parents(91, 9))
    parents.update(_hand_parents(112, 10))
    parents.update(_face_parents())
    assert len(parents) == NUM_WHOLEBODY, len(parents)
    return tuple(parents[i] for i in range(NUM_WHOLEBODY))


def _mouth_every_second() -> list[int]:
    return list(range(71, 91, 2))


def _gspmc_face() -> list[int]:
    return [23, 27, 31, 35, 39] + list(range(40, 50)) + [53, 59, 62, 65, 68]


def _hand10(base: int) -> list[int]:
    return [base + k for k in (0, 4, 5, 8, 9, 12, 13, 16, 17, 20)]


PRESETS: dict[str, list[int]] = {
    "gspmc87": list(range(15)) + LEFT_HAND + RIGHT_HAND + _mouth_every_second() + _gspmc_face(),
    "sam27": [0, 5, 6, 7, 8, 9, 10] + _hand10(91) + _hand10(112),
    "masa49": [0, 5, 6, 7, 8, 9, 10] + LEFT_HAND + RIGHT_HAND,
    "cosign76": [0, 1, 2, 5, 6, 7, 8, 9, 10] + LEFT_HAND + RIGHT_HAND
    + list(range(83, 91)) + list(range(23, 40)),
    "all133": list(range(NUM_WHOLEBODY)),
}


def part_of(index: int) -> str:
    """Part group of a whole-body index (REFERENCE.md: body, hands, face, mouth)."""
    if index in LEFT_HAND:
        return "left_hand"
    if index in RIGHT_HAND:
        return "right_hand"
    if 71 <= index <= 90:
        return "mouth"
    if 23 <= index <= 70:
        return "face"
    return "body"


@dataclass(frozen=True)
class Preset:
    name: str
    indices: tuple[int, ...]      # whole-body indices, in channel order
    parents: tuple[int, ...]      # parent position within the preset, -1 for the root
    parts: dict[str, tuple[int, ...]]  # part name -> positions within the preset

    @property
    def num_points(self) -> int:
        return len(self.indices)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """(child, parent) pairs of the bone tree: the graph's inward edges."""
        return [(c, p) for c, p in enumerate(self.parents) if p >= 0]


def preset_parents(indices: list[int]) -> tuple[int, ...]:
    """Parent of each selected point within the selection: the nearest selected
    ancestor in the whole-body tree; the first point without one is the root and
    later orphans hang off the root so the result is a single tree."""
    full = wholebody_parents()
    position = {idx: k for k, idx in enumerate(indices)}
    parents: list[int] = []
    root = -1
    for k, idx in enumerate(indices):
        anc = full[idx]
        while anc is not None and anc not in position:
            anc = full[anc]
        if anc is None:
            if root < 0:
                root = k
                parents.append(-1)
                continue
            parents.append(root)
        else:
            parents.append(position[anc])
    if root < 0:
        raise ValueError("preset has no root")
    return tuple(parents)


@lru_cache(maxsize=None)
def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown keypoint preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    indices = PRESETS[name]
    if len(set(indices)) != len(indices):
        raise ValueError(f"preset {name} repeats an index")
    parts: dict[str, list[int]] = {p: [] for p in PART_NAMES}
    for k, idx in enumerate(indices):
        parts[part_of(idx)].append(k)
    return Preset(
        name=name,
        indices=tuple(indices),
        parents=preset_parents(indices),
        parts={p: tuple(v) for p, v in parts.items() if v},
    )


def mirror_permutation() -> list[int]:
    """Index map of a horizontal mirror: the point that lands on index i is perm[i] (left
    and right body, foot and hand points swap; the face-68 points swap across the midline)."""
    perm = list(range(NUM_WHOLEBODY))
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 20), (18, 21), (19, 22)]
    face = [(k, 16 - k) for k in range(8)]                                   # jaw
    face += [(17 + k, 26 - k) for k in range(5)]                             # brows
    face += [(31, 35), (32, 34)]                                             # nose base
    face += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]     # eyes
    face += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]               # outer lip
    face += [(60, 64), (61, 63), (65, 67)]                                   # inner lip
    pairs += [(FACE_START + a, FACE_START + b) for a, b in face]
    pairs += [(a, b) for a, b in zip(LEFT_HAND, RIGHT_HAND)]
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm
