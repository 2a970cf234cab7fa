"""The embed stage: one encoding per unique text, cache hits on rerun, bad input."""
import json
import logging

import numpy as np
import pandas as pd
import pytest

from pipeline.data.wholebody import PART_NAMES
from pipeline.text.bank import TextBank
from pipeline.text.stages import run_embed

RECORDS = [
    {"label": 0, "gloss": "HOUSE", "global": "Both hands form a roof.", "synonyms": ["Both hands make a roof.",
     "Both hands form a roof."], "parts": [{"text": "Both hands touch.", "parts": ["left_hand", "right_hand"]},
                                         {"text": "The mouth is round.", "parts": ["mouth"]}]},
    {"label": 1, "gloss": "TREE", "global": "The forearm stands upright.", "synonyms": [],
     "parts": [{"text": "The forearm stands upright.", "parts": ["body", "right_hand"]}]},
]


def _write(tmp_path, records):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pd.DataFrame({"label": [0, 1], "gloss": ["HOUSE", "TREE"]}).to_csv(tmp_path / "classes.csv", index=False)
    return {"embed": {"encoder": "minilm", "cache": str(tmp_path / "cache.sqlite")}}


@pytest.mark.slow
def test_bank_layout_and_cache_hits(tmp_path):
    params = _write(tmp_path, RECORDS)
    stats = run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")
    assert stats["texts"] == 7 and stats["unique"] == 5 and stats["encoded"] == 5 and stats["cache_hits"] == 0
    bank = TextBank.load(tmp_path / "bank.safetensors")
    assert bank.global_.shape == (2, 384) and bank.synonyms.shape == (2, 2, 384)
    assert bank.synonym_mask.tolist() == [[True, True], [False, False]]
    assert bank.segment_members.tolist() == [[True, False], [True, False], [False, True]]
    assert all(bank.segment_parts[0, PART_NAMES.index(hand)] for hand in ("left_hand", "right_hand"))
    np.testing.assert_allclose(np.linalg.norm(bank.global_, axis=1), 1.0, atol=1e-5)
    # the same text in two roles is one vector
    np.testing.assert_array_equal(bank.global_[1], bank.segments[2])
    again = run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank2.safetensors")
    assert again["encoded"] == 0 and again["cache_hits"] == 5
    assert (tmp_path / "bank.safetensors").read_bytes() == (tmp_path / "bank2.safetensors").read_bytes()


def test_missing_class_is_an_error(tmp_path):
    params = _write(tmp_path, RECORDS[:1])
    with pytest.raises(ValueError, match=r"no description for class label\(s\) \[1\]"):
        run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")
    assert not (tmp_path / "bank.safetensors").exists()


def test_empty_part_list_is_an_error(tmp_path):
    bad = json.loads(json.dumps(RECORDS))
    bad[1]["parts"][0]["parts"] = []
    params = _write(tmp_path, bad)
    with pytest.raises(ValueError, match="empty part list"):
        run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")


def test_overlong_text_is_counted_and_logged(tmp_path, caplog):
    long = json.loads(json.dumps(RECORDS))
    long[0]["global"] = "The hands move. " * 200
    params = _write(tmp_path, long)
    with caplog.at_level(logging.WARNING):
        stats = run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")
    assert stats["truncated"] == 1
    assert "truncated" in caplog.text


def test_a_segment_shared_by_classes_is_stored_once_and_owned_by_each(tmp_path):
    shared = json.loads(json.dumps(RECORDS))
    shared[1]["parts"].append({"text": "The mouth is round.", "parts": ["mouth"]})
    params = _write(tmp_path, shared)
    stats = run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")
    bank = TextBank.load(tmp_path / "bank.safetensors")
    assert stats["segments"] == 3 and stats["shared_segments"] == 1
    assert bank.segment_members.tolist() == [[True, False], [True, True], [False, True]]
    assert bank.global_members.tolist() == [[True, False], [False, True]]
    assert bank.synonym_members[0, :, 0].all() and not bank.synonym_members[0, :, 1].any()
