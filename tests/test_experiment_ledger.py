"""The experiment ledger: what a finished unit's key depends on, and a bad line named."""
import json

import pytest

from pipeline.experiment.ledger import Ledger, code_digest, data_digests, unit_key
from pipeline.io import FOLDER_MANIFEST


def _data(tmp_path):
    (tmp_path / "keypoints").mkdir()
    (tmp_path / "keypoints" / FOLDER_MANIFEST).write_text('{"files": {}}')
    for name in ("manifest.parquet", "classes.csv", "gsp.safetensors"):
        (tmp_path / name).write_bytes(name.encode())
    return {"keypoints": tmp_path / "keypoints", "manifest": tmp_path / "manifest.parquet",
            "classes": tmp_path / "classes.csv", "text": tmp_path / "gsp.safetensors"}


def test_the_key_follows_code_data_and_params(tmp_path):
    paths = _data(tmp_path)
    code = code_digest()
    assert code == code_digest() and len(code) == 64
    base = unit_key(code, data_digests(paths)[True], {"seed": 0})
    assert base == unit_key(code, data_digests(paths)[True], {"seed": 0})
    assert base != unit_key(code, data_digests(paths)[True], {"seed": 1})
    assert base != unit_key("other code", data_digests(paths)[True], {"seed": 0})
    without_text = data_digests(paths)[False]
    assert without_text != data_digests(paths)[True]
    paths["text"].write_bytes(b"other texts")
    assert data_digests(paths)[False] == without_text          # a CE unit does not read the texts
    assert base != unit_key(code, data_digests(paths)[True], {"seed": 0})


def test_the_data_digests_are_the_ledgers_so_far(tmp_path):
    """The digests the committed ledger's keys were made with: sha256 over manifest, classes,
    [texts,] the keypoints' folder manifest, in that order."""
    import hashlib
    paths = _data(tmp_path)
    parts = [paths["manifest"], paths["classes"], paths["text"], paths["keypoints"] / "MANIFEST.json"]
    for with_text in (True, False):
        read = b"".join(p.read_bytes() for p in parts if with_text or p != paths["text"])
        assert data_digests(paths)[with_text] == hashlib.sha256(read).hexdigest()


def test_records_survive_a_reload_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    record = {"key": "k1", "setting": "demo", "arm": "ce", "arm_dir": "ce-1", "seed": 0, "test": {"joint": 0.5}}
    ledger.add(record)
    assert Ledger(path).get("k1") == record and Ledger(path).get("k2") is None
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(ValueError, match=r"ledger.jsonl:2: not a ledger record"):
        Ledger(path)
    path.write_text(json.dumps({"setting": "demo"}) + "\n")
    with pytest.raises(ValueError, match=r"ledger.jsonl:1"):
        Ledger(path)
