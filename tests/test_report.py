"""The report's figures and pages (pipeline/evaluate/figures.py, pages.py). The report itself
(`snakemake --report` on the tiny DAG) is tests/test_end_to_end.py's test_report_shows_*."""
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluate import figures
from pipeline.evaluate.ensemble import combine
from pipeline.evaluate.pages import markdown_page
from pipeline.metrics import confusion_matrix

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def saved(monkeypatch):
    """The figures each plot function saves (their axes and texts are read before closing)."""
    figs = []
    real = figures.save_png

    def keep(fig, path):
        figs.append({"axes": fig.axes, "titles": [ax.get_title() for ax in fig.axes],
                     "lines": [[line.get_label() for line in ax.get_lines()] for ax in fig.axes],
                     "texts": [[t.get_text() for t in ax.texts] for ax in fig.axes],
                     "xticks": [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes],
                     "images": [im.get_array() for ax in fig.axes for im in ax.get_images()]})
        real(fig, path)

    monkeypatch.setattr(figures, "save_png", keep)
    return figs


def _log(val: bool) -> pd.DataFrame:
    rows = [{"epoch": e, "lr": 0.01 * e, "train_loss": 3.0 / e, "train_mc_loss": 1.0 / e, "train_top1": 0.2 * e,
             "val_loss": 2.0 / e if val else None, "val_top1": 0.1 * e if val else None,
             "val_top5": 0.5 if val else None, "seconds": 1.0} for e in (1, 2, 3)]
    return pd.DataFrame(rows)


def test_training_curves_have_a_panel_each_for_loss_lr_and_top1(tmp_path, saved):
    path = tmp_path / "curves.png"
    figures.plot_training_curves(_log(val=True), "joint", path)
    assert path.read_bytes()[:8] == PNG
    fig = saved[0]
    assert fig["titles"] == ["loss", "learning rate", "top-1 (%)"]
    assert fig["lines"][0] == ["train (CE + MC)", "train MC terms (mean)", "val CE"]
    assert fig["lines"][2] == ["train", "val"]


def test_training_curves_without_a_validation_split_say_so(tmp_path, saved):
    """A log read back from csv: the val columns are empty, so NaN."""
    csv = tmp_path / "log.csv"
    _log(val=False).assign(train_mc_loss=0.0).to_csv(csv, index=False)
    figures.plot_training_curves(pd.read_csv(csv), "bone", tmp_path / "curves.png")
    fig = saved[0]
    assert len(fig["axes"]) == 3
    assert fig["lines"][0] == ["train (CE + MC)"]        # CE only: no MC line, no val line
    assert fig["lines"][2] == ["train"] and "no validation split" in fig["texts"][2]


def test_confusion_figure_of_a_known_matrix(tmp_path, saved):
    confusion = np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    path = tmp_path / "confusion.png"
    figures.plot_confusion(confusion, ["HOUSE", "TREE", "NIGHT"], path, "test")
    assert path.read_bytes()[:8] == PNG
    fig = saved[0]
    assert len(fig["axes"]) == 2                      # the matrix and its colour bar
    assert fig["xticks"][0] == ["HOUSE", "TREE", "NIGHT"]
    np.testing.assert_allclose(fig["images"][0], [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])
    assert sorted(fig["texts"][0]) == ["1", "2", "2", "3"]    # counts; empty cells unlabelled
    with pytest.raises(ValueError, match="3 classes in the confusion matrix, 2 glosses"):
        figures.plot_confusion(confusion, ["HOUSE", "TREE"], path, "test")


def _run(tmp_path, rule: str) -> tuple:
    """Two streams whose raw logits and probabilities disagree: the combination must follow
    run.json's rule and weights."""
    labels = np.array([0, 1, 2, 0])
    # the last clip: the bone stream's large logits win the raw sum, the joint stream's
    # confident probability wins the softmax sum
    a = np.array([[9.0, 0, 0], [0, 1, 0], [0, 0, 1], [3.0, 0, 0]])
    b = np.array([[0, 1.0, 0], [0, 0, 8.0], [0, 0, 2], [0, 0, 10.0]])
    streams = {"joint": a, "bone": b}
    for name, scores in streams.items():
        d = tmp_path / "train" / name
        d.mkdir(parents=True)
        np.savez(d / "scores.npz", test_ids=np.array(["s0", "s1", "s2", "s3"]), test_labels=labels,
                 test_scores=scores)
        _log(val=True).to_csv(d / "log.csv", index=False)
    weights = {"joint": 0.6, "bone": 0.4}
    record = {"format": "gspmc-run/1", "dataset": "demo", "rule": rule, "weights": weights,
              "weights_source": "params", "streams": [{"stream": s, "dir": f"train/{s}"} for s in streams]}
    (tmp_path / "run.json").write_text(json.dumps(record))
    pd.DataFrame({"label": [0, 1, 2], "gloss": ["HOUSE", "TREE", "NIGHT"]}).to_csv(tmp_path / "classes.csv",
                                                                                  index=False)
    return record, confusion_matrix(combine(streams, weights, rule), labels)


@pytest.mark.parametrize("rule", ["scores", "softmax"])
def test_the_confusion_matrix_combines_the_streams_as_the_ensemble_did(tmp_path, rule):
    record, expected = _run(tmp_path, rule)
    got = figures.ensemble_test_confusion(tmp_path / "run.json", record)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == 4 and got[0, 2] == (1 if rule == "scores" else 0)


def test_run_figures_writes_one_curve_per_stream_and_the_confusion_matrix(tmp_path):
    _run(tmp_path, "scores")
    out = tmp_path / "figures"
    written = figures.run_figures(tmp_path / "run.json", tmp_path / "classes.csv", out)
    assert [p.name for p in written] == ["curves-joint.png", "curves-bone.png", "confusion.png"]
    first = {p.name: p.read_bytes() for p in written}
    assert all(b[:8] == PNG for b in first.values())
    figures.run_figures(tmp_path / "run.json", tmp_path / "classes.csv", out)
    assert {p.name: p.read_bytes() for p in written} == first        # deterministic bytes
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_markdown_page_renders_tables_and_escapes_raw_html():
    md = ("# Table 9: things\n\n| a | b |\n|---|---|\n| **x**<br>y | <script>alert(1)</script> |\n\n"
          "A note.\n")
    page = markdown_page(md)
    assert page.startswith("<!DOCTYPE html>") and "<title>Table 9: things</title>" in page
    assert "<table>" in page and "<th>a</th>" in page
    assert "<strong>x</strong><br>y" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_markdown_from_data_fetches_nothing_and_links_nowhere():
    """Issue 28, item 12: an LLM answer or a dictionary entry with an image or a link."""
    page = markdown_page("# d\n\nSee ![x](http://evil.example/t.png) and [here](https://evil.example/) "
                         "or <https://evil.example/a>.\n")
    assert "<img" not in page and "<a " not in page and "href" not in page
    assert "![x](http://evil.example/t.png)" in page        # said as text, not dropped


def test_class_names_with_dollar_signs_are_drawn_as_text(tmp_path, saved):
    """Issue 28, item 6: two '$' in a class name were parsed as mathtext and crashed the figures."""
    glosses = ["US$ 5 $", "$a_$", "TREE"]          # "$a_$" is no valid mathtext: savefig raised
    figures.plot_confusion(np.eye(3, dtype=int), glosses, tmp_path / "c.png", "test")
    assert saved[0]["xticks"][0] == glosses
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
