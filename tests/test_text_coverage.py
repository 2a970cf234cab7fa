"""No MC term vanishes silently: a term without texts for some classes, or a synonym term
whose texts are all degenerate, stops training before it starts with one line naming the
term, how many classes and the remedy, unless a param allows it; then metrics.json records,
per term, for how many classes it had texts."""
import json
import logging

import numpy as np
import pytest
from conftest import tiny_params
from test_no_validation import CLASSES, tiny_dataset

from pipeline.data.wholebody import PART_NAMES
from pipeline.text.bank import TextBank
from pipeline.train.mc import check_text_coverage, degenerate_synonyms, text_coverage
from pipeline.train.stages import run_train

MC = {"allow_missing_texts": False, "allow_degenerate_synonyms": False, "degenerate_cos": 0.98}
GLOSSES = ["HELLO", "THANKS", "HOUSE"]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def bank(synonyms: np.ndarray, segments: int, meta: dict | None = None) -> TextBank:
    """3 classes, 8-d; ``synonyms`` (3, S, 8); ``segments`` part segments, one per class from the first."""
    C, D = 3, 8
    glob = _unit(np.eye(C, D) + 0.1)
    seg_members = np.eye(C, dtype=bool)[:segments]
    seg_parts = np.zeros((segments, len(PART_NAMES)), bool)
    seg_parts[:, PART_NAMES.index("right_hand")] = True
    return TextBank(glob, np.eye(C, dtype=bool), synonyms, np.ones(synonyms.shape[:2], bool),
                    np.repeat(np.eye(C, dtype=bool)[:, None, :], synonyms.shape[1], 1),
                    _unit(np.random.default_rng(1).normal(size=(segments, D))) if segments else np.zeros((0, D),
                                                                                                       np.float32),
                    seg_members, seg_parts, {"encoder": "minilm", "variant": "gsp", "dim": D, **(meta or {})})


def distinct_synonyms() -> np.ndarray:
    return _unit(np.random.default_rng(0).normal(size=(3, 2, 8)))


def test_a_term_without_texts_for_some_classes_is_refused_naming_term_count_and_remedy():
    b = bank(distinct_synonyms(), segments=1)
    with pytest.raises(ValueError) as err:
        check_text_coverage(b, ["global", "parts"], MC, GLOSSES, "text/gsp.safetensors")
    message = str(err.value)
    assert "\n" not in message
    assert "the parts term has no texts for 2 of 3 classes (THANKS, HOUSE) in text/gsp.safetensors" in message
    assert "describe.provider: openai" in message and "mc.allow_missing_texts: true" in message
    coverage = check_text_coverage(b, ["global", "parts"], dict(MC, allow_missing_texts=True), GLOSSES, "bank")
    assert coverage["terms"]["parts"]["classes_with_texts"] == 1 and coverage["terms"]["global"] == {
        "classes_with_texts": 3}
    assert coverage["terms"]["parts"]["per_part"]["right_hand"] == 1
    assert coverage["encoder"] == "minilm" and coverage["dim"] == 8 and coverage["classes"] == 3


def test_degenerate_synonyms_are_measured_and_declared():
    b = bank(distinct_synonyms(), segments=3)
    assert not degenerate_synonyms(b, 0.98).any()
    copies = np.repeat(b.global_[:, None, :], 2, 1)                 # every synonym is the global text
    assert degenerate_synonyms(bank(copies, 3), 0.98).all()
    twins = np.repeat(distinct_synonyms()[:, :1], 2, 1)              # the synonyms are one text twice
    assert degenerate_synonyms(bank(twins, 3), 0.98).all()
    declared = bank(distinct_synonyms(), 3, {"label_only_synonyms": [1]})
    assert degenerate_synonyms(declared, 0.98).tolist() == [False, True, False]
    assert degenerate_synonyms(declared.only_classes([1, 2]), 0.98).tolist() == [True, False]


def test_an_all_degenerate_synonym_term_is_refused_a_partly_degenerate_one_recorded(caplog):
    copies = bank(np.repeat(bank(distinct_synonyms(), 3).global_[:, None, :], 2, 1), 3)
    with pytest.raises(ValueError, match=r"synonym term's texts are degenerate for 3 of 3 classes.*"
                                         r"mc.allow_degenerate_synonyms: true"):
        check_text_coverage(copies, ["synonym"], MC, GLOSSES, "bank")
    allowed = check_text_coverage(copies, ["synonym"], dict(MC, allow_degenerate_synonyms=True), GLOSSES, "bank")
    assert allowed["terms"]["synonym"] == {"classes_with_texts": 3, "degenerate_classes": 3}
    partly = bank(distinct_synonyms(), 3, {"label_only_synonyms": [0]})
    with caplog.at_level(logging.WARNING):
        coverage = check_text_coverage(partly, ["global", "synonym", "parts"], MC, GLOSSES, "bank")
    assert coverage["terms"]["synonym"]["degenerate_classes"] == 1 and "HELLO" in caplog.text
    assert text_coverage(partly, [], degenerate_synonyms(partly, 0.98))["terms"] == {}


def test_training_with_a_parts_term_and_no_segments_stops_before_it_starts(tmp_path):
    paths = tiny_dataset(tmp_path, {"train": range(2), "val": range(2, 3), "test": range(3, 4)})
    no_segments = bank(distinct_synonyms(), segments=0)
    assert no_segments.num_classes == len(CLASSES)
    no_segments.save(paths["text_bank"])
    params = tiny_params()
    params["mc"]["terms"] = ["global", "parts"]
    params["train"].update(batch_size=3, epochs=1)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"the parts term has no texts for 3 of 3 classes \(hello, thanks, house\)"):
        run_train(params, "joint", out_dir=out, **paths)
    assert not out.exists() or not any(out.iterdir())
    params["mc"]["allow_missing_texts"] = True
    run_train(params, "joint", out_dir=out, **paths)
    text = json.loads((out / "metrics.json").read_text())["text"]
    assert text["terms"]["parts"]["classes_with_texts"] == 0 and text["terms"]["global"]["classes_with_texts"] == 3
