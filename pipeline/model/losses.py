"""The multi-positive contrastive loss of GSP-MC (paper Eqs. 7-12).

Logits are cosine similarities over a temperature. The target of a row is uniform
over its positives (same label), so with one positive per row the loss is InfoNCE,
and both directions together are the CLIP loss. KL(q || softmax) equals the
cross-entropy with the soft target q minus q's entropy. Rows (or columns) without any
positive carry no signal and are masked out (the paper does not say; our choice).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def multi_positive_kl(logits: torch.Tensor, positives: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean over rows (dim=1) or columns (dim=0) that have a positive of
    KL(q || softmax(logits)), q = positives normalised along ``dim``."""
    pos = positives.to(logits.dtype)
    count = pos.sum(dim, keepdim=True)
    valid = count.squeeze(dim) > 0
    if not bool(valid.any()):
        return logits.sum() * 0.0            # keeps the graph; contributes nothing
    q = pos / count.clamp(min=1)
    log_p = F.log_softmax(logits, dim=dim)
    # q log q is 0 where q is 0; written with where() so no 0 * -inf appears
    kl = torch.where(pos > 0, q * (torch.log(q.clamp(min=1e-12)) - log_p), torch.zeros_like(log_p)).sum(dim)
    return kl[valid].mean()


def similarity_logits(skeleton: torch.Tensor, text: torch.Tensor, tau: float) -> torch.Tensor:
    """cos(s_i, t_j) / tau for (B, D) skeleton and (M, D) text features."""
    return F.normalize(skeleton, dim=-1) @ F.normalize(text, dim=-1).t() / tau


def bidirectional_multi_positive(skeleton: torch.Tensor, text: torch.Tensor, positives: torch.Tensor,
                                 tau: float) -> torch.Tensor:
    """Skeleton->text (rows) and text->skeleton (columns), averaged."""
    logits = similarity_logits(skeleton, text, tau)
    return 0.5 * (multi_positive_kl(logits, positives, 1) + multi_positive_kl(logits, positives, 0))
