"""The bring-your-own input contract: a list that escapes its folder, blank or padded fields,
two rows for one video or one sample id, an empty file, an unknown split: each is a
DatasetLayoutError naming the file and the row (or the path), before anything is written."""
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_workdir, tiny_params, tool_env

from pipeline.data.adapters import DatasetLayoutError, build_dataset

HEADER = "path,label,signer,split"


def _byo(**section) -> dict:
    p = tiny_params()
    p["dataset"] = "byo"
    p["datasets"]["byo"].update(section)
    return p


def _csv(folder: Path, *rows: str, header: str = HEADER) -> Path:
    """A list in `folder` (made) with these lines after the header; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "list.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _refused(params: dict, *needles: str) -> str:
    with pytest.raises(DatasetLayoutError) as err:
        build_dataset(params)
    message = str(err.value)
    for needle in needles:
        assert needle in message, message
    return message


GOOD = ["clips/a.mp4,hello,1,train", "clips/b.mp4,thanks,2,test"]


def _symlink_out_of_data(tmp_path: Path) -> None:
    """data/clips/c.mp4 -> elsewhere/secret.mp4: inside the list's folder by name only."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/secret.mp4").write_bytes(b"")
    (tmp_path / "data/clips").mkdir(parents=True)
    (tmp_path / "data/clips/c.mp4").symlink_to(tmp_path / "elsewhere/secret.mp4")


def test_a_clean_list_passes(tmp_path):
    manifest, classes = build_dataset(_byo(csv=str(_csv(tmp_path / "data", *GOOD))))
    assert list(manifest["sample_id"]) == ["clips__a", "clips__b"] and list(classes["gloss"]) == ["hello", "thanks"]


@pytest.mark.parametrize("escape", ["../../etc/passwd", "clips/../../outside.mp4", "/etc/passwd"])
def test_a_path_escaping_the_csv_folder_names_the_row_and_path(tmp_path, escape):
    csv = _csv(tmp_path / "data", *GOOD, f"{escape},hello,1,train")
    _refused(_byo(csv=str(csv)), str(csv), "row 4", repr(escape), "outside", "datasets.byo.allowed_roots")


def test_a_symlink_escaping_the_csv_folder_names_the_row_and_path(tmp_path):
    _symlink_out_of_data(tmp_path)
    csv = _csv(tmp_path / "data", *GOOD, "clips/c.mp4,hello,1,train")
    _refused(_byo(csv=str(csv)), "row 4", "'clips/c.mp4'", str(tmp_path / "elsewhere/secret.mp4"))


def test_the_allow_list_lets_a_list_reach_another_folder(tmp_path):
    _symlink_out_of_data(tmp_path)
    csv = _csv(tmp_path / "data", *GOOD, "clips/c.mp4,hello,1,train", f"{tmp_path}/elsewhere/d.mp4,hello,1,val")
    manifest, _ = build_dataset(_byo(csv=str(csv), allowed_roots=[str(tmp_path / "elsewhere")]))
    assert manifest.set_index("sample_id").loc["clips__c", "video"] == str(tmp_path / "data/clips/c.mp4")
    assert len(manifest) == 4
    # the allow-list opens that folder, not every other one
    _csv(tmp_path / "data", *GOOD, "../../x.mp4,hello,1,train")
    _refused(_byo(csv=str(csv), allowed_roots=[str(tmp_path / "elsewhere")]), "row 4", "'../../x.mp4'")


def test_a_folder_layout_symlink_escaping_the_root_is_refused_unless_allowed(tmp_path):
    root = tmp_path / "signs"
    for gloss in ("hello", "thanks"):
        (root / gloss).mkdir(parents=True)
        (root / gloss / "v0.mp4").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/w.mp4").write_bytes(b"")
    (root / "house").symlink_to(tmp_path / "elsewhere", target_is_directory=True)    # a whole gloss folder
    _refused(_byo(root=str(root)), str(root), "'house/w.mp4'", "outside")
    manifest, classes = build_dataset(_byo(root=str(root), allowed_roots=[str(tmp_path / "elsewhere")]))
    assert "house__w" in set(manifest["sample_id"]) and len(classes) == 3


@pytest.mark.parametrize("label", ["", "   "])
def test_an_empty_label_names_the_row(tmp_path, label):
    _refused(_byo(csv=str(_csv(tmp_path, *GOOD, f"clips/c.mp4,{label},3,train"))), "row 4", "empty label")


def test_a_label_with_spaces_around_it_names_the_row(tmp_path):
    """' hello' would otherwise be a second class beside 'hello'."""
    _refused(_byo(csv=str(_csv(tmp_path, *GOOD, "clips/c.mp4, hello,3,train"))), "row 4", "label ' hello'")


def test_colliding_sample_ids_name_both_rows_and_paths(tmp_path):
    csv = _csv(tmp_path, "a/b.mp4,hello,1,train", *GOOD, "a__b.mp4,thanks,2,test")
    _refused(_byo(csv=str(csv)), "row 2 (path 'a/b.mp4')", "row 5 (path 'a__b.mp4')", "'a__b'")


@pytest.mark.parametrize("second", ["clips/a.mp4", "clips/../clips/a.mp4", "./clips/a.mp4"])
def test_one_video_listed_twice_names_both_rows(tmp_path, second):
    """The same file under one name or two: one video in two samples (maybe train and test)."""
    csv = _csv(tmp_path, *GOOD, f"{second},thanks,2,test")
    _refused(_byo(csv=str(csv)), "row 2 (path 'clips/a.mp4')", f"row 4 (path {second!r})", "same video")


def test_folder_videos_making_one_sample_id_name_both_paths(tmp_path):
    root = tmp_path / "signs"
    (root / "hello").mkdir(parents=True)
    for name in ("v0.mp4", "v0.avi", "v1.mp4"):
        (root / "hello" / name).write_bytes(b"")
    _refused(_byo(root=str(root)), "'hello/v0.avi'", "'hello/v0.mp4'", "'hello__v0'")


@pytest.mark.parametrize("content,needle", [("", "the file is empty"), (HEADER + "\n", "no rows"),
                                            (HEADER + "\n\n\n", "no rows")])
def test_an_empty_csv_names_the_file(tmp_path, content, needle):
    csv = tmp_path / "list.csv"
    csv.write_text(content)
    _refused(_byo(csv=str(csv)), str(csv), needle, HEADER)


@pytest.mark.parametrize("split", ["dev", "Train", "validation"])
def test_a_split_outside_train_val_test_names_the_row(tmp_path, split):
    _refused(_byo(csv=str(_csv(tmp_path, *GOOD, f"clips/c.mp4,hello,3,{split}"))), "row 4", f"split {split!r}",
             "train, val, test")


@pytest.mark.parametrize("row,needle", [("clips/c.mp4,hello,three,train", "signer 'three'"),
                                        ("clips/c.mp4,hello,²,train", "signer '²'"),
                                        ("clips/c.mp4,hello,3", "empty split"),
                                        ("clips/c.mp4,hello,3,train,extra", "5 fields, the header has 4"),
                                        (",hello,3,train", "empty path")])
def test_a_malformed_row_names_the_row(tmp_path, row, needle):
    _refused(_byo(csv=str(_csv(tmp_path, *GOOD, "", row))), "row 5", needle)     # the blank line counts


def test_a_spreadsheet_byte_order_mark_is_not_a_missing_column(tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_bytes(("\ufeff" + "\n".join([HEADER, *GOOD]) + "\n").encode())
    assert len(build_dataset(_byo(csv=str(csv)))[0]) == 2


def test_files_the_folder_layout_does_not_read_are_logged(tmp_path, caplog):
    root = tmp_path / "signs"
    (root / "hello").mkdir(parents=True)
    (root / "hello/v0.mp4").write_bytes(b"")
    (root / "hello/notes.txt").write_text("")
    (root / "stray.mp4").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        build_dataset(_byo(root=str(root), val_fraction=0, test_fraction=0))
    assert "ignored 2 file(s)" in caplog.text


def test_the_manifest_stage_prints_the_error_and_writes_nothing(tmp_path):
    csv = _csv(tmp_path / "data", *GOOD, "../../etc/passwd,hello,1,train")
    params = _byo(csv=str(csv))
    params["pose"]["backend"] = "mediapipe"          # synthetic is for the demo only
    wd = make_workdir(tmp_path, params)
    res = subprocess.run([sys.executable, "-m", "pipeline", "manifest", "--out-dir", "results/byo"], cwd=wd,
                         env=tool_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "row 4 (path '../../etc/passwd')" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and not (wd / "results/byo").exists()


def test_a_fifo_named_as_a_video_is_refused_before_it_is_opened(tmp_path):
    """Issue 28, item 14: it hung the pose stage. The manifest stage names it and opens nothing."""
    import os

    from pipeline.data.stages import run_manifest

    csv = _csv(tmp_path / "data", *GOOD, "clips/pipe.mp4,hello,3,val")
    for name in ("a", "b"):
        (tmp_path / "data/clips" / f"{name}.mp4").parent.mkdir(exist_ok=True)
        (tmp_path / "data/clips" / f"{name}.mp4").write_bytes(b"")
    os.mkfifo(tmp_path / "data/clips/pipe.mp4")
    with pytest.raises(ValueError, match=r"clips/pipe.mp4: not a regular file \(a FIFO"):
        run_manifest(_byo(csv=str(csv)), tmp_path / "out")
    assert not (tmp_path / "out/manifest.parquet").exists()


def test_protocol_violations_and_lookalike_classes_are_warned_about(tmp_path, caplog):
    """Issue 28, items 5 and 7: the run goes on, and the manifest stage says each once."""
    from pipeline.data.stages import run_manifest

    nfc, nfd = "caf\u00e9", "cafe\u0301"
    rows = ["clips/a.mp4,hello,1,train", "clips/b.mp4,hello,2,train", "clips/c.mp4,Hello,1,train",
            "clips/d.mp4,Hello,2,train", f"clips/e.mp4,{nfc},1,train", f"clips/f.mp4,{nfd},1,train",
            f"clips/g.mp4,{nfd},2,train", "clips/h.mp4,thanks,2,test", "clips/i.mp4,hello,2,test"]
    csv = _csv(tmp_path / "data", *rows)
    with caplog.at_level(logging.WARNING):
        run_manifest(_byo(csv=str(csv)), tmp_path / "out")
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "manifest: 1 class(es) with no training clip: 'thanks'; the model cannot learn them and will " \
           "still predict them" in said
    assert f"manifest: 1 class(es) with one training clip: {nfc!r}" in said
    assert "manifest: signer(s) '2' in both train and test: test is not signer-independent" in said
    assert "manifest: classes 'Hello' and 'hello' differ only in case or Unicode form: two classes, named alike" \
        in said
    assert "manifest: classes 'cafe\\u0301' and 'caf\\xe9' differ only in case or Unicode form: two classes, " \
           "named alike" in said
    assert (tmp_path / "out/manifest.parquet").exists()


@pytest.mark.parametrize("glosses", [("001", "010", "100"), ("NA", "null", "nan")])
def test_all_digit_and_na_class_names_stay_words_through_manifest_and_describe(tmp_path, glosses):
    """Issue 28, item 3: glosses "001" and "010" were read back as integers and crashed describe."""
    from pipeline.data.manifest import read_classes
    from pipeline.data.stages import run_manifest
    from pipeline.describe.stages import run_describe

    rows = [f"clips/{gloss}-{signer}.mp4,{gloss},{signer},{split}" for gloss in glosses
            for signer, split in ((1, "train"), (2, "test"))]
    params = _byo(csv=str(_csv(tmp_path / "data", *rows)))
    run_manifest(params, tmp_path / "out")
    classes = read_classes(tmp_path / "out/classes.csv")
    assert classes["gloss"].tolist() == sorted(glosses) and classes["label"].tolist() == [0, 1, 2]
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb/signs.md").write_text(f"{glosses[0]} — The index finger points up once.\n")
    run_describe(params, "label", tmp_path / "out/classes.csv", tmp_path / "kb", tmp_path / "no-index",
                 tmp_path / "label.jsonl", tmp_path / "label.md")
    written = [json.loads(line) for line in (tmp_path / "label.jsonl").read_text().splitlines()]
    assert [r["gloss"] for r in written] == sorted(glosses)


def test_the_autsl_class_list_keeps_leading_zeros(tmp_path):
    from pipeline.data.adapters.autsl import read_class_list
    (tmp_path / "SignList_ClassId_TR_EN.csv").write_text("ClassId,TR,EN\n0,010,ten\n1,011,eleven\n")
    assert read_class_list(tmp_path / "SignList_ClassId_TR_EN.csv", "TR") == ["010", "011"]
