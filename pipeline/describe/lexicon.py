"""Word lists the offline composer reasons with: which sentences describe an action,
which body parts a phrase involves and which references need resolving.

Part tags name the keypoint groups a segment involves:
- ``right_hand`` / ``left_hand``: "dominant hand" maps to ``right_hand`` and
  "non-dominant hand" to ``left_hand``; ``keypoints.mirror_left_handed`` makes that true
  for left-handed signers (their clips are mirrored so the dominant hand is the right one).
  A part of a hand named with its side goes to that hand ("the non-dominant palm" is the left
  hand's; "the dominant arm" moves the right hand, and is the body too).
- ``body``: the body's own keypoints are involved: the torso, chest, stomach, shoulders,
  arms or elbows are named, or the hand is placed, held or oriented relative to the body
  ("in front of the body", "in the signing space", "palm facing the body"). A movement word
  alone ("moves down", "pushes forward", "is held") is not ``body``: it is carried by
  the hand that moves.
- ``face`` / ``mouth``: a location on the head or a facial action; a mouth action.
"""
from __future__ import annotations

import re

from ..data.wholebody import PART_NAMES

# "As in the sign HOUSE", "like the sign HOUSE", "see HOUSE"
SIGN_REFERENCE = re.compile(r"\b(?:[Aa]s in|[Ll]ike|[Ss]ame as|[Ss]ee|[Cc]ompare)(?: the sign)? "
                            r"([A-Z][A-Z0-9'-]+(?: [A-Z][A-Z0-9'-]+)*)\b")
# "the V handshape", "a bent-B handshape", "the 5 handshape"
HANDSHAPE_REFERENCE = re.compile(r"\b(?:in |with )?(?:the |an? )?([A-Za-z0-9][A-Za-z0-9-]*) handshape\b")

# Sentences that open like this are remarks about the sign, not how it is made.
REMARK_OPENERS = re.compile(
    r"^(origin|etymology|homophone|usage|regional variant|related sign|note|see also|history|"
    r"first recorded|compare|synonym|antonym|grammar|plural|variant|register)\b", re.I)

ACTION_WORDS = re.compile(
    r"\b(hand|hands|finger|fingers|fingertip|fingertips|thumb|palm|fist|knuckle|wrist|arm|elbow|"
    r"move|moves|moving|tap|taps|touch|touches|push|pushes|circle|circles|arc|twist|twists|wiggle|"
    r"wiggles|shake|shakes|brush|brushes|rub|rubs|rest|rests|held|hold|holds|placed|bent|curved|"
    r"extended|spread|closed|open|opens|mouth|lips|cheeks|cheek|brows|eyebrows|frown|face|head|"
    r"nod|nods|chin|forehead|nose|chest|shoulder|stomach|body)\b", re.I)

_HAND_PARTS = r"(?:hand|palm|fingers?|fingertips?|thumb|fist|knuckles?|wrist|arm|forearm|elbow)"
_NON_DOMINANT_SIDE = r"(?:non-dominant|weak|passive|base|left|other)"
_PART_PATTERNS = {
    # a lone "the hand" is the signing (dominant) hand in dictionary prose: "but the hand moves ..."
    "right_hand": re.compile(r"\b(dominant hand|strong hand|right hand|both hands|each hand|the hands?|"
                             r"fingers?|fingertips?|thumb|palm|fist|knuckles?)\b|"
                             r"(?<!non-)\b(?:dominant|strong|right) (?:wrist|arm|forearm|elbow)\b", re.I),
    "left_hand": re.compile(rf"\b({_NON_DOMINANT_SIDE} {_HAND_PARTS}|both hands|each hand|the hands)\b", re.I),
    "face": re.compile(r"\b(forehead|temple|nose|chin|cheek|eyes?|eyebrows?|brows?|frown|face|head)\b", re.I),
    "mouth": re.compile(r"\b(mouth|lips?|cheeks are puffed|cheeks puffed|tongue|teeth)\b", re.I),
    # only what names the body itself (or a place or direction relative to it): a movement word
    # alone says what the hand does, and tagging every movement body made body a near-constant tag
    "body": re.compile(r"\b(body|torso|trunk|chest|stomach|belly|waist|hips?|shoulders?|shrugs?|"
                       r"arms?|forearms?|elbows?|signing space)\b", re.I),
}
_NON_DOMINANT_ONLY = re.compile(rf"\b{_NON_DOMINANT_SIDE} {_HAND_PARTS}\b", re.I)


def tag_parts(text: str, subject_parts: set[str] | None = None) -> list[str]:
    """Body parts a segment involves, in the canonical order. ``subject_parts`` are
    the parts of the clause's subject when the segment itself does not name it."""
    found = {p for p, rx in _PART_PATTERNS.items() if rx.search(text)}
    # "the non-dominant hand" alone does not involve the dominant one; "cheeks are puffed" is the mouth
    if "right_hand" in found and _NON_DOMINANT_ONLY.search(text) and not re.search(
            r"\b(dominant hand|strong hand|right hand|both hands|the hand)\b", re.sub(_NON_DOMINANT_ONLY, "", text),
            re.I):
        found.discard("right_hand")
    if re.search(r"\bcheeks are puffed\b", text, re.I) and not re.search(r"\bat the cheek\b", text, re.I):
        found.discard("face")
    if subject_parts:
        found |= subject_parts
    return [p for p in PART_NAMES if p in found]


def is_action_sentence(sentence: str) -> bool:
    s = sentence.strip()
    if not s or REMARK_OPENERS.match(s):
        return False
    # a sentence that names a body part a segment can be tagged with ("Place: at the temple.") is
    # about the sign's form too
    return bool(ACTION_WORDS.search(s)) or any(rx.search(s) for rx in _PART_PATTERNS.values())


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text.strip())
    return [p.strip() for p in parts if p.strip()]
