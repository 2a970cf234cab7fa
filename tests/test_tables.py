"""Table 4 names who wrote each row's descriptions, from the descriptions' provenance."""
import json

from pipeline.evaluate.tables import NOT_RUN, table4

PRESET = "gspmc87"


def _run(terms, descriptions):
    return {"terms": terms, "descriptions": descriptions, "keypoints": PRESET, "stream": "joint"}


def _descriptions(path, provider, model):
    prov = {"provider": provider, "model": model, "variant": path.stem}
    path.write_text("".join(json.dumps({"label": k, "provenance": prov}) + "\n" for k in range(3)))


def test_table4_rows_name_their_provider(tmp_path):
    descriptions = tmp_path / "descriptions"
    descriptions.mkdir()
    _descriptions(descriptions / "kb.jsonl", "offline", None)
    _descriptions(descriptions / "gsp.jsonl", "openai", "moonshot-v1-8k")
    runs = {"ce": _run([], "gsp"), "kb_multipart": _run(["parts"], "kb"), "multipart": _run(["parts"], "gsp")}
    (tmp_path / "ablations" / "kb_multipart").mkdir(parents=True)
    (tmp_path / "ablations" / "kb_multipart" / "metrics.json").write_text(json.dumps({"test": {"top1": 0.5}}))

    t4 = table4(runs, tmp_path / "ablations", PRESET, ["label", "kb", "gsp"], descriptions).set_index("row")
    by = t4["descriptions by"]
    assert by["VE"] == "–"                                        # CE only reads no text
    assert by["VE + LLM + KB"] == "offline composer (no LLM)"     # the paper's name, but no LLM ran
    assert by["VE + LLM + KB + optimised prompt"] == "openai: moonshot-v1-8k"
    assert by["VE + LLM"] == "unknown (llm.jsonl not written)"
    assert t4.loc["VE + LLM", "measured top-1 (%)"].startswith(NOT_RUN)
    assert t4.loc["VE + LLM + KB", "measured top-1 (%)"] == 50.0


def test_table3_is_measured_only_by_the_autsl_run_itself(tmp_path):
    """The tables stage reads its own dataset's folder only (what its DAG declares)."""
    from pipeline.evaluate.tables import table3

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"ensemble": {"test": {"top1": 0.5, "top5": 0.75}}}))
    measured = table3(metrics, "autsl")["measured AUTSL (%)"].tolist()
    assert measured[:2] == [50.0, 75.0]
    assert set(table3(metrics, "slr500")["measured AUTSL (%)"]) == {f"{NOT_RUN} (dataset: autsl's tables)"}
    assert set(table3(tmp_path / "absent.json", "autsl")["measured AUTSL (%)"]) == {NOT_RUN}
