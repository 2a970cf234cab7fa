"""The MC objective on one batch: global, synonym and per-part multi-positive terms
against the cached text bank (no text encoder runs here), total = CE + lambda * mean."""
from __future__ import annotations

import torch

from ..model.losses import bidirectional_multi_positive
from ..text.bank import PARTS

TERMS = ("global", "synonym", "parts")


def pick_synonyms(bank: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """One random synonym text per sample (its class's global text if it has none)."""
    mask = bank["synonym_mask"][labels]                                   # (B, S)
    has = mask.any(1)
    weights = torch.where(has[:, None], mask.float(), torch.ones_like(mask, dtype=torch.float))
    idx = torch.multinomial(weights, 1).squeeze(1)
    chosen = bank["synonyms"][labels, idx]
    return torch.where(has[:, None], chosen, bank["global"][labels])


def mc_losses(glob: torch.Tensor, parts: dict[str, torch.Tensor], labels: torch.Tensor,
              bank: dict[str, torch.Tensor], terms: list[str], tau: float) -> dict[str, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    out: dict[str, torch.Tensor] = {}
    if "global" in terms:
        out["global"] = bidirectional_multi_positive(glob, bank["global"][labels], same, tau)
    if "synonym" in terms:
        out["synonym"] = bidirectional_multi_positive(glob, pick_synonyms(bank, labels), same, tau)
    if "parts" in terms and len(bank["segments"]):
        in_batch = torch.isin(bank["segment_class"], labels)
        for k, part in enumerate(PARTS):
            if part not in parts:
                continue
            keep = in_batch & bank["segment_parts"][:, k]
            if not bool(keep.any()):
                continue
            # a segment tagged with several parts is a positive for each of them
            positives = labels[:, None] == bank["segment_class"][keep][None, :]
            out[f"part_{part}"] = bidirectional_multi_positive(parts[part], bank["segments"][keep], positives, tau)
    return out


def total_loss(ce: torch.Tensor, terms: dict[str, torch.Tensor], weight: float) -> torch.Tensor:
    if not terms:
        return ce
    return ce + weight * torch.stack(list(terms.values())).mean()
