"""The MC objective on one batch: global, synonym and per-part multi-positive terms
against the cached text bank (no text encoder runs here), total = CE + lambda * mean.

Positives are by class membership of the text: a column's text is a positive for a
row's sample when the sample's class owns that text (its own class always does; so does
any class whose description contains the identical text, see text/bank.py).
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ..data.wholebody import PART_NAMES
from ..model.losses import bidirectional_multi_positive
from ..names import MC_TERMS as TERMS  # noqa: F401  (re-exported: the terms this module computes)
from ..text.bank import TextBank

log = logging.getLogger(__name__)

# what to do when a term lacks texts, per term (the one-line refusal's remedy)
_MISSING_REMEDY = {
    "synonym": "the descriptions hold no synonyms for them (describe.synonyms is 0, or the provider wrote none)",
    "parts": "the descriptions hold no tagged part segment for them (the offline composer tags English only; "
             "describe.provider: openai writes segments in any language)",
}


def pick_synonyms(bank: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One random synonym text per sample, (B, D), and the classes owning it, (B, C).
    A class without synonyms contributes its global text instead."""
    mask = bank["synonym_mask"][labels]                                   # (B, S)
    has = mask.any(1)
    weights = torch.where(has[:, None], mask.float(), torch.ones_like(mask, dtype=torch.float))
    idx = torch.multinomial(weights, 1).squeeze(1)
    chosen = bank["synonyms"][labels, idx]
    owners = torch.where(has[:, None], bank["synonym_members"][labels, idx], bank["global_members"][labels])
    return torch.where(has[:, None], chosen, bank["global"][labels]), owners


def mc_losses(glob: torch.Tensor, parts: dict[str, torch.Tensor], labels: torch.Tensor,
              bank: dict[str, torch.Tensor], terms: list[str], tau: float) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if "global" in terms:
        # column j is sample j's class's global text; positive for row i when class i owns it
        positives = bank["global_members"][labels][:, labels].t()
        out["global"] = bidirectional_multi_positive(glob, bank["global"][labels], positives, tau)
    if "synonym" in terms:
        texts, owners = pick_synonyms(bank, labels)
        out["synonym"] = bidirectional_multi_positive(glob, texts, owners[:, labels].t(), tau)
    if "parts" in terms and len(bank["segments"]):
        owned = bank["segment_members"][:, labels]                        # (M, B)
        in_batch = owned.any(1)
        for k, part in enumerate(PART_NAMES):
            if part not in parts:
                continue
            keep = in_batch & bank["segment_parts"][:, k]
            if not bool(keep.any()):
                continue
            # a segment tagged with several parts is a positive for each of them
            out[f"part_{part}"] = bidirectional_multi_positive(parts[part], bank["segments"][keep],
                                                               owned[keep].t(), tau)
    return out


def total_loss(ce: torch.Tensor, terms: dict[str, torch.Tensor], weight: float) -> torch.Tensor:
    if not terms:
        return ce
    return ce + weight * torch.stack(list(terms.values())).mean()


def classes_with_texts(bank: TextBank, term: str) -> np.ndarray:
    """(C,) which classes own at least one text the term aligns with."""
    if term == "global":
        return np.ones(bank.num_classes, bool)
    if term == "synonym":
        return bank.synonym_mask.any(1)
    if term == "parts":
        return bank.segment_members.any(0)
    raise ValueError(f"unknown MC term {term!r}; known: {', '.join(TERMS)}")


def degenerate_synonyms(bank: TextBank, max_cos: float) -> np.ndarray:
    """(C,) classes whose synonym texts say nothing the global text does not: label-only
    variants (``label_only_synonyms`` in the bank's meta, from the descriptions' provenance), or
    every synonym within ``max_cos`` of the class's global text, or (two or more) every pair of
    synonyms within ``max_cos`` of each other. Classes without synonyms are not degenerate
    (they are missing, ``classes_with_texts``)."""
    out = np.zeros(bank.num_classes, bool)
    out[bank.meta.get("label_only_synonyms", [])] = True
    for c in np.flatnonzero(bank.synonym_mask.any(1)):
        syn = bank.synonyms[c][bank.synonym_mask[c]]
        to_global = syn @ bank.global_[c]
        pairs = (syn @ syn.T)[np.triu_indices(len(syn), 1)]
        out[c] |= bool((to_global >= max_cos).all()) or (len(pairs) > 0 and bool((pairs >= max_cos).all()))
    return out & bank.synonym_mask.any(1)


def text_coverage(bank: TextBank, terms: list[str], degenerate: np.ndarray) -> dict:
    """What metrics.json, the tables and the report say about the texts a run aligned with:
    the encoder, and per term how many classes had texts (synonym: how many of them
    degenerate, ``degenerate_synonyms``; parts: per part too)."""
    out = {"encoder": bank.meta.get("encoder"), "dim": bank.dim, "variant": bank.meta.get("variant"),
           "classes": bank.num_classes, "terms": {}}
    for term in terms:
        entry = {"classes_with_texts": int(classes_with_texts(bank, term).sum())}
        if term == "synonym":
            entry["degenerate_classes"] = int(degenerate.sum())
        if term == "parts":
            entry["per_part"] = {p: int(bank.segment_members[bank.segment_parts[:, k]].any(0).sum())
                                 for k, p in enumerate(PART_NAMES)}
        out["terms"][term] = entry
    return out


def terms_with_texts(bank: TextBank, terms: list[str]) -> tuple[list[str], list[str]]:
    """(terms some class has texts for, terms no class has texts for): a description variant
    may hold no synonyms or part segments at all (``label``: the gloss alone)."""
    kept = [t for t in terms if classes_with_texts(bank, t).any()]
    return kept, [t for t in terms if t not in kept]


def _named(glosses: list[str], mask: np.ndarray) -> str:
    names = [glosses[c] for c in np.flatnonzero(mask)]
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def check_text_coverage(bank: TextBank, terms: list[str], mc_cfg: dict, glosses: list[str], source: str) -> dict:
    """Before training: every configured term must have texts for every class, and a
    synonym term must not be degenerate for all of them, unless the params allow it. Returns
    ``text_coverage``; raises a one-line ValueError naming the term, the count and the remedy."""
    degenerate = degenerate_synonyms(bank, mc_cfg["degenerate_cos"])
    coverage = text_coverage(bank, terms, degenerate)
    C = bank.num_classes
    for term in terms:
        have = classes_with_texts(bank, term)
        if have.all():
            continue
        message = (f"mc.terms: the {term} term has no texts for {int((~have).sum())} of {C} classes "
                   f"({_named(glosses, ~have)}) in {source}: {_MISSING_REMEDY[term]}")
        if not mc_cfg["allow_missing_texts"]:
            raise ValueError(f"{message}; drop {term!r} from mc.terms, or set mc.allow_missing_texts: true to "
                             f"train it on the classes that have texts")
        log.warning("%s; trained on the %d classes that have texts (mc.allow_missing_texts)", message, int(have.sum()))
    if "synonym" in terms:
        have = classes_with_texts(bank, "synonym")
        if degenerate.any():
            message = (f"mc.terms: the synonym term's texts are degenerate for {int(degenerate.sum())} of "
                       f"{int(have.sum())} classes with synonyms ({_named(glosses, degenerate)}) in {source}: "
                       f"label-only variants, or within cos {mc_cfg['degenerate_cos']} of each other or of the "
                       f"global text")
            if degenerate[have].all() and not mc_cfg["allow_degenerate_synonyms"]:
                raise ValueError(f"{message}, so the term repeats the label or the global term; write synonyms "
                                 f"with describe.provider: openai, drop 'synonym' from mc.terms, or set "
                                 f"mc.allow_degenerate_synonyms: true")
            log.warning("%s (recorded in metrics.json)", message)
    return coverage
