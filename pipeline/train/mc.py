"""The MC objective on one batch: global, synonym and per-part multi-positive terms
against the cached text bank (no text encoder runs here), total = CE + lambda * mean.

Positives are by class membership of the text: a column's text is a positive for a
row's sample when the sample's class owns that text (its own class always does; so does
any class whose description contains the identical text, see text/bank.py).
"""
from __future__ import annotations

import torch

from ..data.wholebody import PART_NAMES
from ..model.losses import bidirectional_multi_positive
from ..names import MC_TERMS as TERMS  # noqa: F401  (re-exported: the terms this module computes)


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
