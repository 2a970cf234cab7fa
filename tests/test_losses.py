import pytest
import torch
import torch.nn.functional as F

from pipeline.model.heads import TextAlignmentHeads
from pipeline.model.losses import bidirectional_multi_positive, multi_positive_kl, similarity_logits
from pipeline.train.mc import mc_losses, pick_synonyms, total_loss


def test_one_positive_per_row_is_infonce_and_both_directions_are_clip():
    torch.manual_seed(0)
    s, t = torch.randn(6, 8), torch.randn(6, 8)
    logits = similarity_logits(s, t, 0.1)
    eye = torch.eye(6, dtype=torch.bool)
    target = torch.arange(6)
    torch.testing.assert_close(multi_positive_kl(logits, eye, 1), F.cross_entropy(logits, target))
    clip = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
    torch.testing.assert_close(bidirectional_multi_positive(s, t, eye, 0.1), clip)


def test_soft_targets_equal_cross_entropy_minus_target_entropy():
    torch.manual_seed(1)
    logits = torch.randn(5, 7)
    pos = torch.rand(5, 7) > 0.5
    pos[:, 0] = True
    q = pos.float() / pos.float().sum(1, keepdim=True)
    ce = -(q * F.log_softmax(logits, 1)).sum(1)
    entropy = -(q * torch.log(q.clamp(min=1e-12))).sum(1)
    torch.testing.assert_close(multi_positive_kl(logits, pos, 1), (ce - entropy).mean())
    # and the column direction is the same computation on the transpose
    torch.testing.assert_close(multi_positive_kl(logits.t(), pos.t(), 1), multi_positive_kl(logits, pos, 0))


def test_rows_without_a_positive_are_masked():
    torch.manual_seed(2)
    logits = torch.randn(4, 3)
    pos = torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=torch.bool)
    full = multi_positive_kl(logits, pos, 1)
    only = multi_positive_kl(logits[[0, 2]], pos[[0, 2]], 1)
    torch.testing.assert_close(full, only)
    none = multi_positive_kl(logits, torch.zeros_like(pos), 1)
    assert float(none) == 0.0 and torch.isfinite(none)


def _bank(C=4, S=2, D=8, M=6):
    g = torch.Generator().manual_seed(3)
    segment_class = torch.tensor([0, 0, 1, 2, 3, 3])
    synonym_mask = torch.tensor([[1, 1], [1, 0], [0, 0], [1, 1]], dtype=torch.bool)
    synonym_members = torch.zeros(C, S, C, dtype=torch.bool)
    synonym_members[torch.arange(C), :, torch.arange(C)] = True
    return {"global": torch.randn(C, D, generator=g), "global_members": torch.eye(C, dtype=torch.bool),
            "synonyms": torch.randn(C, S, D, generator=g), "synonym_mask": synonym_mask,
            "synonym_members": synonym_members & synonym_mask[:, :, None],
            "segments": torch.randn(M, D, generator=g),
            "segment_members": segment_class[:, None] == torch.arange(C)[None, :],
            "segment_parts": torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 1, 1, 0],
                                           [0, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)}


def test_gradients_reach_the_skeleton_side_only():
    torch.manual_seed(4)
    bank = _bank()                       # as training holds it: constants, no text encoder
    heads = TextAlignmentHeads(16, 8, {"body": [0, 1], "left_hand": [2], "right_hand": [3], "face": [4],
                                       "mouth": [5]})
    fmap = torch.randn(6, 16, 3, 6, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    glob, parts = heads(fmap)
    terms = mc_losses(glob, parts, labels, bank, ["global", "synonym", "parts"], 0.1)
    assert {"global", "synonym", "part_body", "part_right_hand", "part_mouth"} <= set(terms)
    total_loss(torch.tensor(1.0), terms, 0.5).backward()
    assert fmap.grad is not None and fmap.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads.parameters())
    assert all(v.grad is None and not v.requires_grad for v in bank.values())


def test_a_segment_tagged_with_two_parts_is_a_positive_for_both():
    bank = _bank()
    labels = torch.tensor([0, 2])
    torch.manual_seed(0)
    glob = torch.randn(2, 8)
    parts = {p: torch.randn(2, 8) for p in ("body", "right_hand", "mouth")}
    terms = mc_losses(glob, parts, labels, bank, ["parts"], 0.1)
    # segment 0 (class 0) is tagged body + right_hand: both part terms exist for this batch
    assert "part_body" in terms and "part_right_hand" in terms and "part_mouth" in terms


def test_synonym_sampling_falls_back_to_the_global_text():
    bank = _bank()
    torch.manual_seed(0)
    picked, owners = pick_synonyms(bank, torch.tensor([2, 1, 1]))
    torch.testing.assert_close(picked[0], bank["global"][2])           # class 2 has no synonyms
    torch.testing.assert_close(picked[1], bank["synonyms"][1, 0])      # class 1 has exactly one
    # the owners of what was picked: class 2's global text, class 1's synonym (twice)
    assert owners.int().argmax(1).tolist() == [2, 1, 1] and owners.sum(1).tolist() == [1, 1, 1]


def test_ce_only_when_no_terms():
    ce = torch.tensor(2.0)
    assert total_loss(ce, {}, 0.5) is ce
    assert float(total_loss(ce, {"a": torch.tensor(1.0), "b": torch.tensor(3.0)}, 0.5)) == pytest.approx(3.0)


def test_a_text_shared_by_two_classes_is_a_positive_for_both(monkeypatch):
    """Classes 0 and 1 both say the same sentence: one segment (2) owned by both. Its column
    is a positive for samples of either class, never a negative."""
    import pipeline.train.mc as mc

    bank = _bank()
    bank["segment_members"][2, 0] = True
    seen = []

    def spy(skeleton, text, positives, tau):
        seen.append(positives.clone())
        return bidirectional_multi_positive(skeleton, text, positives, tau)

    monkeypatch.setattr(mc, "bidirectional_multi_positive", spy)
    torch.manual_seed(0)
    mc_losses(torch.randn(3, 8), {"right_hand": torch.randn(3, 8)}, torch.tensor([0, 1, 3]), bank, ["parts"], 0.1)
    # right-hand segments owned in this batch: 0 (class 0), 2 (classes 0 and 1), 5 (class 3)
    assert seen[0].tolist() == [[True, True, False], [False, True, False], [False, False, True]]


def test_identical_global_texts_are_positives_across_their_classes():
    bank = _bank()
    bank["global"][1] = bank["global"][0]
    bank["global_members"][0, 1] = bank["global_members"][1, 0] = True
    labels = torch.tensor([0, 1, 2])
    glob = torch.randn(3, 8)
    shared = mc_losses(glob, {}, labels, bank, ["global"], 0.1)["global"]
    # by hand: rows 0 and 1 each have both texts 0 and 1 as positives
    pos = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    torch.testing.assert_close(shared, bidirectional_multi_positive(glob, bank["global"][labels], pos, 0.1))
