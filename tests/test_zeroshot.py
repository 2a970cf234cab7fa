"""Zero-shot recognition from description texts: the score math, the held-out classes,
the metrics and the seen-only training data (the `zeroshot` target end to end is in
test_end_to_end.py, on its tiny DAG run)."""
import numpy as np
import pytest
import torch

from pipeline.config import ParamsError, holdout_count, validate_params
from pipeline.data.wholebody import PART_NAMES
from pipeline.text.bank import TextBank
from pipeline.train.data import SplitData
from pipeline.train.feeder import Feeder
from pipeline.train.loop import MCSetup, load_trained, train_stream
from pipeline.zeroshot.holdout import draw_class_sets, pair_groups
from pipeline.zeroshot.metrics import chance_topk, choose_gamma, harmonic_mean, zero_shot_report
from pipeline.zeroshot.scores import zero_shot_scores
from pipeline.zeroshot.split import of_classes

E = np.eye(3, dtype=np.float32)


def part_tags(*names: str) -> list[bool]:
    return [p in names for p in PART_NAMES]


def hand_bank() -> TextBank:
    """4 classes in 3-d: global texts e0, e1, e2 (x2, to check the normalisation) and e0 + e1
    for class 3; segments: e0 (class 0, right hand), e1 (classes 1 and 2, right hand and face),
    e0 + e1 (class 0, face). Class 3 has no segment."""
    glob = np.stack([2 * E[0], 2 * E[1], 2 * E[2], E[0] + E[1]])
    segments = np.stack([E[0], E[1], E[0] + E[1]])
    owners = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    tags = np.array([part_tags("right_hand"), part_tags("right_hand", "face"), part_tags("face")])
    return TextBank(glob, np.eye(4, dtype=bool), np.zeros((4, 1, 3), np.float32), np.zeros((4, 1), bool),
                    np.zeros((4, 1, 4), bool), segments, owners, tags, {})


def test_scores_are_the_mean_of_global_and_part_cosines():
    bank = hand_bank()
    glob = np.array([[1.0, 0, 0]])
    parts = {"right_hand": np.array([[0.0, 1, 0]]), "face": np.array([[3.0, 0, 0]])}
    only_global = zero_shot_scores(glob, parts, bank, [0, 1, 2, 3], ["global"])
    np.testing.assert_allclose(only_global, [[1, 0, 0, 1 / np.sqrt(2)]], atol=1e-6)
    # per class, the mean over its parts of the mean cosine to its segments of that part
    # class 0: right hand cos(e1, e0) = 0, face cos(e0, e0+e1) = 1/sqrt2; classes 1, 2: right hand 1, face 0
    only_parts = zero_shot_scores(glob, parts, bank, [0, 1, 2], ["parts"])
    np.testing.assert_allclose(only_parts, [[0.5 / np.sqrt(2), 0.5, 0.5]], atol=1e-6)
    both = zero_shot_scores(glob, parts, bank, [0, 1, 2, 3], ["global", "parts"])
    # each kind counts once; class 3 has no segment, so its global cosine alone
    np.testing.assert_allclose(both, [[(1 + 0.5 / np.sqrt(2)) / 2, 0.25, 0.25, 1 / np.sqrt(2)]], atol=1e-6)
    # candidates are columns in the order given
    np.testing.assert_allclose(zero_shot_scores(glob, parts, bank, [2, 0], ["global", "parts"]),
                               both[:, [2, 0]], atol=1e-6)


def test_scoring_a_class_without_texts_of_the_kind_is_an_error():
    with pytest.raises(ValueError, match=r"class\(es\) \[3\].*add `global`"):
        zero_shot_scores(np.ones((1, 3)), {"face": np.ones((1, 3))}, hand_bank(), [0, 3], ["parts"])
    with pytest.raises(ValueError, match="zeroshot.features"):
        zero_shot_scores(np.ones((1, 3)), {}, hand_bank(), [0], ["hands"])


def test_class_sets_are_disjoint_seeded_draws_that_keep_minimal_pairs_together():
    glosses = [f"G{k}" for k in range(30)]
    corpus = {"signs": [{"gloss": g, "derived_from": None} for g in glosses]}
    for partner, base in [(10, 0), (11, 0), (12, 10), (13, 1), (14, 2), (15, 3)]:   # 12 derives from a partner
        corpus["signs"][partner]["derived_from"] = glosses[base]
    groups = pair_groups(corpus, glosses)
    assert sorted(map(sorted, groups))[:4] == [[0, 10, 11, 12], [1, 13], [2, 14], [3, 15]]
    assert pair_groups({}, glosses) == [[k] for k in range(30)]          # no pair information
    sets = draw_class_sets(groups, 6, 6, 0)
    assert [len(sets[k]) for k in ("test_unseen", "val_unseen")] == [6, 6] and len(sets["seen"]) == 18
    assert set(np.concatenate(list(sets.values())).tolist()) == set(range(30))
    for group in groups:
        assert sum(bool(set(group) & set(v.tolist())) for v in sets.values()) == 1
    again = draw_class_sets(groups, 6, 6, 0)
    assert all(np.array_equal(sets[k], again[k]) for k in sets)
    assert any(not np.array_equal(sets["test_unseen"], draw_class_sets(groups, 6, 6, s)["test_unseen"])
               for s in (1, 2))
    # later draws test classes no earlier draw tested, while there are enough of them
    tested = set(sets["test_unseen"].tolist())
    for seed in (1, 2):
        later = draw_class_sets(groups, 6, 6, seed, tested)["test_unseen"].tolist()
        assert len(later) >= 2 and not set(later) & tested
        tested |= set(later)
    with pytest.raises(ValueError, match="val_unseen set has 0"):
        draw_class_sets([[0, 1, 2], [3, 4, 5], [6, 7]], 2, 2, 0)


def test_holdout_count_takes_a_fraction_or_a_count_and_keeps_two_on_each_side():
    assert holdout_count(0.25, 30) == 8            # 7.5, rounded half up
    assert holdout_count(0.25, 6) == 2
    assert holdout_count(5, 30) == 5 and holdout_count(5.0, 30) == 5
    for holdout, classes in [(0.1, 10), (1, 10), (9, 10), (0.95, 10)]:
        with pytest.raises(ValueError, match="zeroshot.holdout"):
            holdout_count(holdout, classes)


def test_metrics_zero_shot_and_generalised():
    assert chance_topk(1, 8) == 1 / 8 and chance_topk(5, 2) == 1.0
    assert harmonic_mean(1.0, 0.5) == pytest.approx(2 / 3) and harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(0.9, 0.0) == 0.0
    # candidates 0..3, classes 1 and 3 unseen; the clip of class 1 ranks seen class 0 first, unseen class 1 second
    scores = np.array([[0.9, 0.1, 0.2, 0.0],
                       [0.8, 0.7, 0.1, 0.2],
                       [0.1, 0.2, 0.9, 0.3],
                       [0.1, 0.2, 0.3, 0.4]])
    candidates = np.array([0, 1, 2, 3])
    report = zero_shot_report(scores, np.array([0, 1, 2, 3]), candidates, np.array([1, 3]))
    assert report["zsl"] == {"top1": 1.0, "top5": 1.0, "n": 2, "chance_top1": 0.5, "chance_top5": 1.0,
                             "candidates": 2}
    g = report["gzsl"]
    assert (g["seen_top1"], g["unseen_top1"], g["chance_top1"], g["candidates"]) == (1.0, 0.5, 0.25, 4)
    assert g["harmonic_mean"] == pytest.approx(2 / 3) and g["gamma"] == 0.0
    # calibrated stacking: 0.15 off the seen classes' scores lets class 1's clip win (0.7 > 0.65), keeps the rest
    calibrated = zero_shot_report(scores, np.array([0, 1, 2, 3]), candidates, np.array([1, 3]), 0.15)["gzsl"]
    assert (calibrated["seen_top1"], calibrated["unseen_top1"]) == (1.0, 1.0)
    assert choose_gamma(scores, np.array([0, 1, 2, 3]), candidates, np.array([1, 3]), [0.3, 0.15, 0.0]) == 0.15
    # columns follow the candidates given, not class ids
    sub = zero_shot_report(scores[:, [1, 3, 0]][[1, 3, 0]], np.array([1, 3, 0]), np.array([1, 3, 0]), np.array([1, 3]))
    assert sub["zsl"]["top1"] == 1.0 and sub["gzsl"]["candidates"] == 3
    with pytest.raises(ValueError, match="both unseen and seen"):
        zero_shot_report(scores[:1], np.array([0]), candidates, np.array([1, 3]))


def test_training_data_and_texts_hold_no_unseen_class():
    clips = [np.full((4, 2, 3), k, np.float32) for k in range(6)]
    data = SplitData(clips, np.array([0, 1, 2, 3, 1, 2]), [f"s{k}" for k in range(6)], np.zeros(6, int))
    seen = np.array([0, 2, 3])
    cut = of_classes(data, seen)
    assert cut.sample_ids == ["s0", "s2", "s3", "s5"]
    np.testing.assert_array_equal(cut.labels, [0, 1, 2, 1])          # class seen[i] is label i
    assert set(seen[cut.labels].tolist()) <= set(seen.tolist())
    assert [float(c[0, 0, 0]) for c in cut.clips] == [0, 2, 3, 5]
    # the bank of classes 1 and 2 keeps only the segment they own (e1), class 1 -> 0, 2 -> 1
    bank = hand_bank().only_classes([1, 2])
    np.testing.assert_array_equal(bank.global_, 2 * E[[1, 2]])
    np.testing.assert_array_equal(bank.segments, E[[1]])
    np.testing.assert_array_equal(bank.segment_members, [[True, True]])
    assert bank.global_members.shape == (2, 2) and bank.synonym_members.shape == (2, 1, 2)


def test_centring_on_the_seen_classes_texts():
    bank = hand_bank()
    seen = bank.only_classes([0, 1])
    centred = bank.centred(on=seen)
    np.testing.assert_allclose(centred.global_, bank.global_ - seen.global_.mean(0))
    np.testing.assert_allclose(centred.segments, bank.segments - seen.segments.mean(0))
    np.testing.assert_allclose(bank.centred().global_, bank.global_ - bank.global_.mean(0))


def test_kept_heads_are_saved_and_loaded(tmp_path):
    """keep_heads: model.pt also holds the text heads; without it, the encoder alone."""
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(10, 4, 3)).astype(np.float32) for _ in range(8)]
    labels = np.array([0, 1] * 4)
    parents = (-1, 0, 1, 2)
    feeder = Feeder(clips, labels, [f"s{k}" for k in range(8)], "joint", parents, 8, 0.9, 1.0)
    edges = [(c, p) for c, p in enumerate(parents) if p >= 0]
    bank = hand_bank().only_classes([0, 1])
    mc = MCSetup(bank, ["global", "parts"], 0.1, 0.5, {"right_hand": [2, 3], "face": [0]})
    model_cfg = {"base_channels": 8, "num_units": 2, "stride_units": [2], "temporal_kernel": 3,
                 "dilations": [1, 2], "dropout": 0.0}
    cfg = {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "nesterov": True,
           "epochs": 1, "batch_size": 4, "warmup_epochs": 0, "lr_steps": [], "lr_decay": 0.1, "threads": 1,
           "device": "cpu", "precision": "auto", "compile": False, "fused_graph_conv": "auto",
           "deterministic": True, "prefetch": 2}
    for keep in (True, False):
        out = tmp_path / str(keep)
        train_stream(feeder, None, feeder, 2, edges, model_cfg, cfg, 0, out, "fp", mc, keep_heads=keep)
        model, heads = load_trained(out / "model.pt", edges, torch.device("cpu"))
        if not keep:
            assert heads is None
            continue
        saved = torch.load(out / "checkpoint.pt", weights_only=True)["heads"]
        assert all(torch.equal(saved[k], v) for k, v in heads.state_dict().items())
        assert heads.part_names == ["right_hand", "face"] and not heads.training and not model.training


@pytest.mark.parametrize("change,match", [
    (lambda p: p["zeroshot"].update(variants=["llm"]), "zeroshot.variants"),
    (lambda p: p["zeroshot"].update(terms=["global"], features=[["global"], ["parts"]]), "projection no term"),
    (lambda p: p["zeroshot"].update(holdout=14, val_holdout=15), "2 must stay seen"),
    (lambda p: p["zeroshot"].update(holdout=29), "zeroshot.holdout"),
    (lambda p: p["zeroshot"].update(holdout=1), "zeroshot.holdout"),
    (lambda p: p["zeroshot"].update(holdout=0.0), "zeroshot.holdout"),
    (lambda p: p["zeroshot"].update(classes=3), "zeroshot.classes"),
    (lambda p: p["zeroshot"].pop("features"), "zeroshot.features"),
])
def test_zeroshot_params_are_checked(params, change, match):
    validate_params(params)
    change(params)
    with pytest.raises(ParamsError, match=match):
        validate_params(params)
