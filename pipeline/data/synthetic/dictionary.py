"""The knowledge base of the synthetic corpus, written from the sign specs the way a
real dictionary reads: handshapes named by manual-alphabet letter, minimal-pair signs
described relative to another sign, and remarks that are not about the action."""
from __future__ import annotations

import numpy as np

from .phonology import HANDSHAPES, LOCATIONS, MOVEMENTS, ORIENTATIONS, SignSpec

_REPS = {1: "once", 2: "twice", 3: "three times"}
_MOUTH = {"open": "The mouth opens wide.", "round": "The lips are rounded as if saying 'oo'.",
          "stretched": "The lips are stretched tight.", "puffed": "The cheeks are puffed out."}
_BROWS = {"raised": "The eyebrows are raised.", "furrowed": "The brows are drawn together in a frown."}
_DIFF = {
    "handshape": lambda s: f"the hand takes the {s.handshape} handshape",
    "location": lambda s: f"the sign is made {LOCATIONS[s.location][2]}",
    "movement": lambda s: f"the hand {MOVEMENTS[s.movement]}",
    "mouth": lambda s: _MOUTH.get(s.mouth, "the mouth stays relaxed").rstrip(".").lower()
    if s.mouth != "neutral" else "the mouth stays relaxed",
    "brows": lambda s: _BROWS.get(s.brows, "").rstrip(".").lower() if s.brows != "neutral"
    else "the face stays neutral",
    "orientation": lambda s: f"the hand is held with the {ORIENTATIONS[s.orientation]}",
    "repetitions": lambda s: f"the movement is made {_REPS[s.repetitions]}",
    "hands": lambda s: {"one": "only the dominant hand signs, the other hand rests",
                        "symmetric": "both hands make the movement together",
                        "alternating": "both hands make the movement, alternating"}[s.hands],
}
_REMARKS = [
    "Origin: derived from an older regional sign for the same idea.",
    "Etymology: the form is said to imitate a gesture of the hearing community.",
    "Homophone: shares its form with {other} in some regions; context decides.",
    "Usage: very common in informal conversation.",
    "Regional variant: signers in the north use a two-handed form.",
    "Related sign: compare {other}.",
    "First recorded in a nineteenth-century school dictionary.",
]


def _manual_sentence(s: SignSpec) -> str:
    reps = _REPS[s.repetitions]
    if s.hands == "base":
        return (f"The non-dominant hand in the {s.base_handshape} handshape is held palm up in front "
                f"of the body; the dominant hand in the {s.handshape} handshape, "
                f"{ORIENTATIONS[s.orientation]}, rests on it and {MOVEMENTS[s.movement]}, {reps}.")
    subject = {"one": "The dominant hand", "symmetric": "Both hands",
               "alternating": "Both hands, alternating,"}[s.hands]
    verb_sing = s.hands == "one"
    movement = MOVEMENTS[s.movement]
    if not verb_sing:  # plural agreement for the two-handed forms
        movement = (movement.replace("taps", "tap").replace("moves", "move").replace("pushes", "push")
                    .replace("wiggles", "wiggle").replace("twists", "twist"))
    return (f"{subject} in the {s.handshape} handshape, {ORIENTATIONS[s.orientation]}, "
            f"{'is' if verb_sing else 'are'} placed {LOCATIONS[s.location][2]} and {movement}, {reps}.")


def dictionary_entry(s: SignSpec, rng: np.random.Generator, glosses: list[str]) -> str:
    """One dictionary paragraph for a sign; minimal-pair partners refer to their base."""
    if s.derived_from is not None:
        body = f"As in the sign {s.derived_from}, but {_DIFF[s.differs_in](s)}."
    else:
        parts = [_manual_sentence(s)]
        if s.mouth != "neutral":
            parts.append(_MOUTH[s.mouth])
        if s.brows != "neutral":
            parts.append(_BROWS[s.brows])
        body = " ".join(parts)
    others = [g for g in glosses if g != s.gloss]
    n_remarks = int(rng.integers(1, 3))
    remarks = [r.format(other=others[int(rng.integers(len(others)))])
               for r in rng.choice(_REMARKS, size=n_remarks, replace=False)]
    return f"{s.gloss} — {body} {' '.join(remarks)}"


def write_dictionary(signs: list[SignSpec], seed: int) -> str:
    rng = np.random.default_rng([seed, 7])
    glosses = [s.gloss for s in signs]
    entries = [dictionary_entry(s, rng, glosses) for s in sorted(signs, key=lambda s: s.gloss)]
    return "# Sign dictionary\n\n" + "\n\n".join(entries) + "\n"


def write_alphabet() -> str:
    entries = [f"{h.name} handshape — {h.definition}" for h in HANDSHAPES.values()]
    return "# Manual alphabet: handshapes\n\n" + "\n\n".join(entries) + "\n"
