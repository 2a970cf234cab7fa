"""Sign phonology: the parameters a sign is built from and the class-set generator.

A sign is (dominant handshape, non-dominant handshape or none, location, movement,
repetitions, palm orientation, two-handedness, mouth action, brow action). The class
set mixes random signs with minimal pairs that differ from a base sign in exactly one
parameter, so the non-manual channels (mouth, brows) carry class information too.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

# Finger states for index..pinky: (MCP flexion, PIP flexion, DIP flexion) in degrees.
FINGER_STATES = {
    "extended": (0.0, 0.0, 0.0),
    "bent": (85.0, 5.0, 5.0),        # bent at the knuckles only
    "curved": (35.0, 40.0, 30.0),
    "hooked": (10.0, 90.0, 70.0),
    "closed": (90.0, 100.0, 70.0),
}


@dataclass(frozen=True)
class Handshape:
    name: str                      # the manual-alphabet letter or number
    fingers: tuple[str, str, str, str]   # index, middle, ring, pinky finger states
    thumb: str                     # out | side | across | touch | curved
    spread: float                  # finger abduction, 0 (together) .. 1 (wide)
    definition: str                # the alphabet document's wording


HANDSHAPES: dict[str, Handshape] = {h.name: h for h in [
    Handshape("A", ("closed",) * 4, "side", 0.0,
              "All fingers closed into a fist, the thumb resting straight against the side of the index finger."),
    Handshape("B", ("extended",) * 4, "across", 0.0,
              "Fingers extended and held together, thumb folded across the palm."),
    Handshape("C", ("curved",) * 4, "curved", 0.1,
              "Fingers and thumb curved as if holding a cup, leaving a gap between fingertips and thumb."),
    Handshape("O", ("curved",) * 4, "touch", 0.0,
              "All fingers curved so that the fingertips meet the tip of the thumb, forming a ring."),
    Handshape("S", ("closed",) * 4, "across", 0.0,
              "Fingers closed into a tight fist with the thumb wrapped across the front of the fingers."),
    Handshape("1", ("extended", "closed", "closed", "closed"), "across", 0.0,
              "Index finger extended straight, the other fingers closed, the thumb holding them down."),
    Handshape("V", ("extended", "extended", "closed", "closed"), "across", 1.0,
              "Index and middle fingers extended and spread apart, ring and little fingers closed under the thumb."),
    Handshape("H", ("extended", "extended", "closed", "closed"), "across", 0.0,
              "Index and middle fingers extended and pressed together, the other fingers closed under the thumb."),
    Handshape("W", ("extended", "extended", "extended", "closed"), "across", 1.0,
              "Index, middle and ring fingers extended and spread, the little finger held down by the thumb."),
    Handshape("Y", ("closed", "closed", "closed", "extended"), "out", 0.6,
              "Thumb and little finger stretched out to the sides, the three middle fingers closed."),
    Handshape("L", ("extended", "closed", "closed", "closed"), "out", 0.0,
              "Thumb and index finger extended at a right angle, the other fingers closed."),
    Handshape("5", ("extended",) * 4, "out", 1.0,
              "All five fingers extended and spread wide apart."),
    Handshape("F", ("curved", "extended", "extended", "extended"), "touch", 0.8,
              "Tip of the index finger touches the tip of the thumb to form a circle, "
              "the other three fingers extended and spread."),
    Handshape("I", ("closed", "closed", "closed", "extended"), "across", 0.0,
              "Little finger extended upward, the other fingers closed under the thumb."),
    Handshape("X", ("hooked", "closed", "closed", "closed"), "across", 0.0,
              "Index finger raised and bent into a hook, the other fingers closed."),
    Handshape("bent-B", ("bent",) * 4, "across", 0.0,
              "Fingers held together and bent at the knuckles at a right angle to the palm, thumb across the palm."),
    Handshape("claw", ("hooked",) * 4, "curved", 1.0,
              "All fingers spread and bent at the middle joints like a claw, the thumb bent outward."),
]}

# Location name -> (anchor in the body model, offset in metres of the body frame,
# how a dictionary names it, whether the hand touches the body there).
LOCATIONS: dict[str, tuple[str, tuple[float, float, float], str, bool]] = {
    "forehead": ("head", (0.0, 0.07, 0.12), "at the forehead", True),
    "temple": ("head", (-0.10, 0.04, 0.04), "at the side of the forehead", True),
    "nose": ("head", (0.0, -0.01, 0.14), "at the nose", True),
    "chin": ("head", (0.0, -0.10, 0.11), "at the chin", True),
    "cheek": ("head", (-0.08, -0.04, 0.09), "at the cheek", True),
    "chest": ("chest", (0.0, 0.0, 0.11), "on the chest", True),
    "shoulder": ("chest", (0.16, 0.10, 0.06), "on the opposite shoulder", True),
    "stomach": ("chest", (0.0, -0.25, 0.12), "in front of the stomach", True),
    "neutral": ("chest", (-0.05, -0.05, 0.35), "in the signing space in front of the body", False),
    "high": ("head", (-0.10, 0.02, 0.38), "in front of the face at head height", False),
}

MOVEMENTS: dict[str, str] = {
    "tap": "taps the location",
    "circle": "moves in a small circle",
    "arc": "moves forward in an arc",
    "push": "pushes straight forward",
    "down": "moves straight down",
    "side": "moves out to the side",
    "zigzag": "moves down in a zig-zag",
    "wiggle": "wiggles the fingers while staying in place",
    "twist": "twists at the wrist",
}

ORIENTATIONS: dict[str, str] = {
    "forward": "palm facing forward",
    "in": "palm facing the body",
    "down": "palm facing down",
    "up": "palm facing up",
    "side": "palm facing the other hand",
}

HANDEDNESS = ("one", "symmetric", "alternating", "base")
MOUTH_ACTIONS = ("neutral", "open", "round", "stretched", "puffed")
BROW_ACTIONS = ("neutral", "raised", "furrowed")

# The parameters a minimal pair may differ in; the non-manual ones make body parts
# other than the hands matter.
PAIR_DIMENSIONS = ("handshape", "location", "movement", "mouth", "brows", "orientation", "repetitions", "hands")


@dataclass(frozen=True)
class SignSpec:
    gloss: str
    handshape: str
    orientation: str
    location: str
    movement: str
    repetitions: int
    hands: str                    # one | symmetric | alternating | base
    base_handshape: str | None    # the non-dominant handshape when hands == "base"
    mouth: str
    brows: str
    derived_from: str | None = None   # gloss of the base sign of a minimal pair
    differs_in: str | None = None     # the one parameter that differs from it

    def phonology(self) -> tuple:
        """The parameters that decide what the sign looks like (gloss excluded)."""
        return (self.handshape, self.orientation, self.location, self.movement,
                self.repetitions, self.hands, self.base_handshape, self.mouth, self.brows)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "SignSpec":
        return SignSpec(**d)

    def parts_used(self, dominant: str = "right_hand") -> list[str]:
        """Body parts whose keypoints carry this sign: the description's part tags. The body
        counts where the sign is placed on or relative to it (chest, shoulder, stomach, the
        signing space in front of it, a base hand held before it, a palm facing it), not for
        every movement."""
        other = "left_hand" if dominant == "right_hand" else "right_hand"
        parts = [dominant]
        if LOCATIONS[self.location][0] == "chest" or self.hands == "base" or self.orientation == "in":
            parts.insert(0, "body")
        if self.hands != "one":
            parts.append(other)
        if self.location in ("forehead", "temple", "nose", "chin", "cheek", "high"):
            parts.append("face")
        if self.mouth != "neutral":
            parts.append("mouth")
        if self.brows != "neutral" and "face" not in parts:
            parts.append("face")
        return parts


def _choice(rng: np.random.Generator, options, p=None):
    options = list(options)
    return options[int(rng.choice(len(options), p=p))]


def random_sign(rng: np.random.Generator, gloss: str) -> SignSpec:
    hands = _choice(rng, HANDEDNESS, p=[0.5, 0.2, 0.1, 0.2])
    return SignSpec(
        gloss=gloss,
        handshape=_choice(rng, HANDSHAPES),
        orientation=_choice(rng, ORIENTATIONS),
        location="neutral" if hands == "base" else _choice(rng, LOCATIONS),
        movement=_choice(rng, MOVEMENTS),
        repetitions=int(rng.integers(1, 4)),
        hands=hands,
        base_handshape=_choice(rng, ["B", "5", "S", "C"]) if hands == "base" else None,
        # Mostly neutral, so that mouth-only and brow-only pairs stand out.
        mouth=_choice(rng, MOUTH_ACTIONS, p=[0.6, 0.1, 0.1, 0.1, 0.1]),
        brows=_choice(rng, BROW_ACTIONS, p=[0.7, 0.15, 0.15]),
    )


def vary(rng: np.random.Generator, base: SignSpec, dimension: str, gloss: str) -> SignSpec:
    """A minimal-pair partner of ``base``: the same sign with one parameter changed."""
    options = {
        "handshape": HANDSHAPES, "location": LOCATIONS, "movement": MOVEMENTS,
        "mouth": MOUTH_ACTIONS, "brows": BROW_ACTIONS, "orientation": ORIENTATIONS,
        "repetitions": (1, 2, 3),
        # a base-hand sign needs its own base handshape and location; pairs stay among the others
        "hands": ("one", "symmetric", "alternating"),
    }[dimension]
    current = getattr(base, dimension)
    value = _choice(rng, [o for o in options if o != current])
    return replace(base, gloss=gloss, derived_from=base.gloss, differs_in=dimension,
                   **{dimension: value})


def make_class_set(rng: np.random.Generator, glosses: list[str], minimal_pair_fraction: float) -> list[SignSpec]:
    """``len(glosses)`` distinct signs; about ``minimal_pair_fraction`` of them are
    minimal-pair partners of an earlier sign, cycling through every pair dimension."""
    signs: list[SignSpec] = []
    seen: set[tuple] = set()
    n_pairs = int(round(minimal_pair_fraction * len(glosses)))
    n_bases = len(glosses) - n_pairs
    for gloss in glosses[:n_bases]:
        while True:
            s = random_sign(rng, gloss)
            if s.phonology() not in seen:
                break
        seen.add(s.phonology())
        signs.append(s)
    for k, gloss in enumerate(glosses[n_bases:]):
        dimension = PAIR_DIMENSIONS[k % len(PAIR_DIMENSIONS)]
        for _ in range(1000):
            base = signs[int(rng.integers(0, n_bases))]
            if dimension in ("location", "hands") and base.hands == "base":
                continue
            s = vary(rng, base, dimension, gloss)
            if s.phonology() not in seen:
                break
        else:  # pragma: no cover - needs an absurd class count
            raise ValueError("could not find a new minimal pair; lower synthetic.classes")
        seen.add(s.phonology())
        signs.append(s)
    return signs
