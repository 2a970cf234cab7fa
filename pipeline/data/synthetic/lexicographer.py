"""The demo's knowledge base, written by a lexicographer the renderer does not share words with.

The renderer draws a sign from its SignSpec; a dictionary written from the same spec in the
renderer's own phrases (and with handshape definitions that state the rendered finger states)
makes the text side of every result describe the generator (issue 27). This writer sees the
spec the way a lexicographer sees a sign, and writes it the way dictionaries are written:

- its own vocabulary (``_WORDS``, ``_HANDSHAPE_WORDS``, the alphabet's ``_DEFINITIONS``): several
  paraphrases per parameter value, none of them a renderer phrase (data/synthetic/copy_share.py
  measures the share of description tokens that still copy one);
- lossy: each entry leaves out ``drop`` (a range; 20-40 %) of the sign's details, at least two
  kept;
- wrong: ``wrong_detail`` of the entries state one detail with another value;
- some headwords are a synonym of the gloss (``synonym_headwords``; ``HEADWORD_SYNONYMS``, chosen
  as a lexicographer would, not by what the retriever scores), some classes have no entry
  (``missing``), and ``distractors`` x classes entries describe signs outside the corpus;
- a minimal-pair partner is written relative to its base's entry ("Like X, except ...") with
  probability ``relative_pairs`` when the base has an entry;
- two styles, prose and telegraphic notes; remarks (usage, variants, cross-references), one of
  which states a regional variant in action words that refinement cannot tell from the sign.

Every choice is drawn from ``seed``: the same params give the same bytes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .glosses import GLOSSES
from .phonology import (
    BROW_ACTIONS,
    HANDSHAPES,
    LOCATIONS,
    MOUTH_ACTIONS,
    MOVEMENTS,
    ORIENTATIONS,
    SignSpec,
    random_sign,
)

# Headwords a lexicographer might file a sign under instead of the gloss. Never a gloss itself.
HEADWORD_SYNONYMS = {
    "HOUSE": "DWELLING", "MOTHER": "MOM", "FATHER": "DAD", "FRIEND": "PAL", "WORK": "JOB", "LEARN": "STUDY",
    "TEACH": "INSTRUCT", "HELP": "ASSIST", "THANKS": "THANK YOU", "SORRY": "APOLOGIZE", "HAPPY": "GLAD",
    "SAD": "UNHAPPY", "ANGRY": "MAD", "TIRED": "WEARY", "COLD": "CHILLY", "CAR": "AUTOMOBILE",
    "PLANE": "AIRPLANE", "BOAT": "SHIP", "BICYCLE": "BIKE", "ROAD": "STREET", "CITY": "TOWN", "MONEY": "CASH",
    "BUY": "PURCHASE", "SHOP": "STORE", "DOCTOR": "PHYSICIAN", "SICK": "ILL", "PAIN": "ACHE", "START": "BEGIN",
    "FINISH": "END", "STOP": "HALT", "LEAVE": "DEPART", "HIDE": "CONCEAL", "FIND": "DISCOVER", "TRY": "ATTEMPT",
    "MAYBE": "PERHAPS", "FAST": "QUICK", "BIG": "LARGE", "SMALL": "LITTLE", "BEAUTIFUL": "PRETTY",
    "HARD": "DIFFICULT", "EASY": "SIMPLE", "PHONE": "TELEPHONE", "TELEVISION": "TV", "MOVIE": "FILM",
    "PICTURE": "PHOTO", "CHILD": "KID", "BABY": "INFANT", "DANGER": "HAZARD", "RICH": "WEALTHY",
    "STRONG": "POWERFUL", "STORY": "TALE", "TALL": "LOFTY", "ARRIVE": "REACH", "SHOW": "DISPLAY",
}

# Handshapes in the lexicographer's words: short, lossy (no finger-by-finger states).
_HANDSHAPE_WORDS = {
    "A": ("a fist with the thumb up along its side", "an A-fist"),
    "B": ("a flat hand, fingers together", "a flat palm"),
    "C": ("a cupped hand", "a hand bent into a C"),
    "O": ("fingertips gathered onto the thumb", "a hand pinched into an O"),
    "S": ("a tight fist", "a fist, thumb over the knuckles"),
    "1": ("a pointing index finger", "the index finger alone pointing"),
    "V": ("two fingers in a V", "index and middle finger apart"),
    "H": ("two fingers side by side", "index and middle finger together"),
    "W": ("three fingers fanned out", "a three-finger spread"),
    "Y": ("thumb and pinkie stuck out", "a hang-loose hand"),
    "L": ("thumb and index in an L", "an L-hand"),
    "5": ("an open hand, fingers spread", "a spread hand"),
    "F": ("thumb and index pinched into a ring, the other fingers up", "an F-hand"),
    "I": ("the pinkie raised from a fist", "a little-finger hand"),
    "X": ("a crooked index finger", "an index bent like a hook"),
    "bent-B": ("a flat hand bent at the knuckles", "a hand folded at the knuckles"),
    "claw": ("a clawed hand", "a hand with the fingers curled like claws"),
}
# The alphabet document's definitions (what refinement substitutes for "a V handshape").
_DEFINITIONS = {
    "A": "Fingers folded into the palm, thumb up against the side of the fist.",
    "B": "Flat hand, four fingers straight and touching, thumb tucked in.",
    "C": "Fingers and thumb bent around an imaginary ball.",
    "O": "Finger pads meet the thumb pad in a round shape.",
    "S": "Fist, the thumb closing over the bent fingers.",
    "1": "Index finger up, the rest of the hand a fist.",
    "V": "Index and middle fingers up and apart, the others folded down.",
    "H": "Index and middle fingers straight and joined, pointing sideways.",
    "W": "Three fingers up and apart, thumb holding the pinkie.",
    "Y": "Thumb and pinkie out, the middle three fingers folded.",
    "L": "Thumb out sideways and index finger up.",
    "5": "Hand wide open with every finger apart.",
    "F": "Index fingertip on the thumb, the other three fingers up and apart.",
    "I": "Pinkie up from a closed fist.",
    "X": "Index finger raised and crooked at the joints, the rest folded.",
    "bent-B": "Fingers straight and together but folded down at the big knuckles.",
    "claw": "Fingers apart and curled at the joints, thumb out.",
}
# Every other parameter value in the lexicographer's words.
_WORDS: dict[str, dict] = {
    "orientation": {"forward": ("palm out", "palm turned away from the signer"),
                    "in": ("palm toward the body", "palm turned in to the chest"),
                    "down": ("palm down", "palm turned to the floor"),
                    "up": ("palm up", "palm turned upward"),
                    "side": ("palm toward the other hand", "palm turned sideways")},
    "location": {"forehead": ("by the forehead", "near the brow"), "temple": ("at the temple", "beside the eye"),
                 "nose": ("by the nose", "at the tip of the nose"), "chin": ("under the chin", "near the chin"),
                 "cheek": ("against the cheek", "by the cheek"), "chest": ("against the chest", "at chest height"),
                 "shoulder": ("on the far shoulder", "touching the other shoulder"),
                 "stomach": ("near the belly", "at the stomach"),
                 "neutral": ("in neutral signing space", "out before the body"),
                 "high": ("up beside the head", "raised to head level")},
    "movement": {"tap": ("taps", "touches lightly"), "circle": ("circles", "traces a small ring"),
                 "arc": ("swings forward", "travels forward over a curve"), "push": ("thrusts outward", "pushes out"),
                 "down": ("drops", "travels downward"), "side": ("sweeps outward", "travels sideways"),
                 "zigzag": ("travels down in a wavy line", "zigzags downward"),
                 "wiggle": ("flutters the fingers", "wiggles its fingers"),
                 "twist": ("twists", "rotates at the wrist")},
    "repetitions": {1: ("once", "a single time"), 2: ("twice", "two times"), 3: ("three times", "repeatedly")},
    "mouth": {"open": ("mouth open", "the mouth drops open"), "round": ("lips pursed", "lips pushed forward"),
              "stretched": ("lips pulled tight", "lips drawn thin"),
              "puffed": ("cheeks puffed", "with the cheeks puffed")},
    "brows": {"raised": ("eyebrows up", "with raised brows"), "furrowed": ("a frown", "brows knitted")},
    "hands": {"one": ("one hand only", "a single hand"),
              "symmetric": ("both hands mirror each other", "both hands, mirrored"),
              "alternating": ("the hands alternate", "both hands, in turn"),
              "base": ("the strong hand works on the weak hand", "the strong hand resting on the weak hand")},
}
_REMARKS = (
    "Common in everyday conversation.",
    "Older signers use a variant form.",
    "Also used as a verb.",
    "Sometimes confused with {other}.",
    "See also {other}.",
    "Listed in most school vocabularies.",
    "In the south it is signed with both hands.",   # a variant in action words: refinement keeps it
)
_DETAILS = ("hands", "handshape", "base_handshape", "orientation", "location", "movement", "repetitions",
            "mouth", "brows")
_VALUES = {"handshape": tuple(HANDSHAPES), "base_handshape": ("B", "5", "S", "C"), "orientation": tuple(ORIENTATIONS),
           "location": tuple(LOCATIONS), "movement": tuple(MOVEMENTS), "repetitions": (1, 2, 3),
           "mouth": MOUTH_ACTIONS[1:], "brows": BROW_ACTIONS[1:], "hands": ("one", "symmetric", "alternating")}


def _pick(rng: np.random.Generator, options):
    options = list(options)
    return options[int(rng.integers(len(options)))]


def _details(s: SignSpec) -> list[str]:
    """The details this sign has to say (neutral face actions are not details)."""
    out = ["hands", "handshape", "orientation", "location", "movement", "repetitions"]
    if s.hands == "base":
        out.insert(2, "base_handshape")
    out += [k for k in ("mouth", "brows") if getattr(s, k) != "neutral"]
    return out


def _handshape(rng: np.random.Generator, name: str) -> str:
    """A handshape by its alphabet letter (refinement resolves it) or in plain words."""
    article = "an" if name[0] in "AEFHILMNORSX8" else "a"     # as the letter is read: "an X", "a V"
    return f"{article} {name} handshape" if rng.uniform() < 0.6 else _pick(rng, _HANDSHAPE_WORDS[name])


def _phrase(rng: np.random.Generator, s: SignSpec, detail: str) -> str:
    if detail in ("handshape", "base_handshape"):
        return _handshape(rng, getattr(s, detail))
    return _pick(rng, _WORDS[detail][getattr(s, detail)])


def _wrong(rng: np.random.Generator, s: SignSpec, kept: list[str]) -> SignSpec:
    """``s`` with one stated detail given another value."""
    detail = _pick(rng, [d for d in kept if d != "hands" or s.hands != "base"])
    value = _pick(rng, [v for v in _VALUES[detail] if v != getattr(s, detail)])
    return replace(s, **{detail: value})


def _plural(verb_phrase: str) -> str:
    """'taps twice' -> 'tap twice', 'touches lightly' -> 'touch lightly' (for 'Both hands')."""
    verb, _, rest = verb_phrase.partition(" ")
    verb = verb[:-2] if verb.endswith(("ches", "shes")) else verb[:-1] if verb.endswith("s") else verb
    return f"{verb} {rest}".strip()


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _prose(s: SignSpec, say: dict[str, str]) -> str:
    """'The hand, a V handshape, palm down, is held under the chin and taps twice. Lips pursed.'"""
    sentences = []
    two = s.hands in ("symmetric", "alternating") and "hands" in say
    subject = "Both hands" if two else "The strong hand" if s.hands == "base" else "The hand"
    if s.hands == "base" and ("hands" in say or "base_handshape" in say):
        shape = f", {say['base_handshape']}," if "base_handshape" in say else ""
        sentences.append(f"The weak hand{shape} lies palm up before the body as a base.")
    elif s.hands == "one" and "hands" in say:
        sentences.append(f"{_cap(say['hands'])}.")
    how = "".join(f", {say[k]}" for k in ("handshape", "orientation") if k in say)
    clause = f"{subject}{how}{',' if how else ''}"
    if "location" in say:
        clause += f" {'are' if two else 'is'} held {say['location']}"
    move = say.get("movement", "")
    reps = f" {say['repetitions']}" if "repetitions" in say else ""
    if move:
        move = _plural(move) if two else move
        clause += f" and {move}{reps}" if "location" in say else f" {move}{reps}"
    elif reps:
        clause += f", the movement made{reps}"
    if clause.rstrip(",") != subject:
        sentences.append(clause.rstrip(",") + ".")
    if s.hands == "alternating" and "hands" in say:
        sentences.append(f"{_cap(say['hands'])}.")
    sentences += [f"{_cap(say[k])}." for k in ("mouth", "brows") if k in say]
    return " ".join(sentences)


def _notes(s: SignSpec, say: dict[str, str]) -> str:
    parts = []
    if "hands" in say:
        parts.append(f"Hands: {say['hands']}.")
    if "base_handshape" in say:
        parts.append(f"Base hand: {say['base_handshape']}.")
    if "handshape" in say:
        parts.append(f"Hand: {say['handshape']}.")
    if "orientation" in say:
        parts.append(f"{say['orientation'][:1].upper()}{say['orientation'][1:]}.")
    if "location" in say:
        parts.append(f"Place: {say['location']}.")
    if "movement" in say or "repetitions" in say:
        move = say.get("movement", "moves")
        parts.append(f"Movement: the hand {move}{' ' + say['repetitions'] if 'repetitions' in say else ''}.")
    face = "; ".join(say[k] for k in ("mouth", "brows") if k in say)
    if face:
        parts.append(f"Face: {face}.")
    return " ".join(parts)


def _difference(rng: np.random.Generator, s: SignSpec) -> str:
    """What a minimal-pair partner changes, in the lexicographer's words."""
    d = s.differs_in
    if d == "handshape":
        return f"the hand is {_handshape(rng, s.handshape)}"
    if d == "orientation":
        return f"with the {_pick(rng, _WORDS['orientation'][s.orientation])}"
    if d == "location":
        return f"made {_pick(rng, _WORDS['location'][s.location])}"
    if d == "movement":
        return f"the hand {_pick(rng, _WORDS['movement'][s.movement])}"
    if d == "repetitions":
        return f"done {_pick(rng, _WORDS['repetitions'][s.repetitions])}"
    if d == "hands":
        return _pick(rng, _WORDS["hands"][s.hands])
    phrases = _WORDS[d].get(getattr(s, d))
    if phrases is None:        # the partner drops a face action its base has
        return "with a neutral mouth" if d == "mouth" else "with a relaxed face"
    return _pick(rng, phrases)


def write_entry(s: SignSpec, rng: np.random.Generator, cfg: dict, headwords: dict[str, str],
                glosses: list[str]) -> str:
    """One entry under ``headwords[s.gloss]``: relative to the base's entry, or the details left
    after dropping some (one possibly wrong) in one of two styles, then a remark or two."""
    if s.derived_from in headwords and rng.uniform() < cfg["relative_pairs"]:
        body = f"Like {headwords[s.derived_from]}, except {_difference(rng, s)}."
    else:
        details = _details(s)
        n_drop = min(len(details) - 2, int(round(rng.uniform(*cfg["drop"]) * len(details))))
        kept = [details[i] for i in sorted(rng.permutation(len(details))[n_drop:])]
        stated = _wrong(rng, s, kept) if rng.uniform() < cfg["wrong_detail"] else s
        say = {d: _phrase(rng, stated, d) for d in kept}
        body = (_prose if rng.uniform() < 0.6 else _notes)(stated, say)
    others = [headwords.get(g, g) for g in glosses if g != s.gloss]
    remarks = [r.format(other=_pick(rng, others)) for r in rng.choice(_REMARKS, size=int(rng.integers(0, 3)),
                                                                    replace=False)]
    return f"{headwords[s.gloss]} — {' '.join([body, *remarks])}"


def write_dictionary(signs: list[SignSpec], seed: int, cfg: dict) -> str:
    """The dictionary: entries for the corpus's signs (some missing, some under a synonym) and
    for distractor signs outside it, in headword order."""
    rng = np.random.default_rng([seed, 7])
    glosses = [s.gloss for s in signs]
    missing = {g for g in glosses if rng.uniform() < cfg["missing"]}
    headwords = {g: (HEADWORD_SYNONYMS[g] if g in HEADWORD_SYNONYMS and rng.uniform() < cfg["synonym_headwords"]
                     else g) for g in glosses if g not in missing}
    outside = [g for g in GLOSSES if g not in glosses]
    n_distractors = int(round(cfg["distractors"] * len(signs)))
    distractors = [random_sign(rng, g) for g in rng.choice(outside, size=min(n_distractors, len(outside)),
                                                            replace=False)]
    headwords.update({d.gloss: d.gloss for d in distractors})
    entries = [write_entry(s, rng, cfg, headwords, glosses) for s in [*signs, *distractors] if s.gloss in headwords]
    return "# Sign dictionary\n\n" + "\n\n".join(sorted(entries)) + "\n"


def write_alphabet() -> str:
    entries = [f"{name} handshape — {definition}" for name, definition in _DEFINITIONS.items()]
    return "# Handshapes\n\n" + "\n\n".join(entries) + "\n"
