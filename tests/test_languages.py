"""Glosses and dictionaries in other languages (SLR-500's are Chinese, AUTSL's dictionary is
Turkish): the language is detected; the offline composer, which reads English only, refuses in
one line naming describe.provider: openai before any class is described; the openai provider's
prompts say which languages the texts are in, and every class gets tagged part segments."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_workdir, tiny_params, tool_env

from pipeline.data.wholebody import PART_NAMES
from pipeline.describe.echo_server import EchoServer
from pipeline.describe.index import build_index
from pipeline.describe.knowledge import load_entries
from pipeline.describe.language import detect_entries, detect_glosses, resolve
from pipeline.describe.stages import UnsupportedLanguage, run_describe
from pipeline.io import atomic_dir

CHINESE = {"谢谢": "右手伸出，手掌向上，从下巴向前移动。", "房子": "双手指尖相碰，搭成屋顶形状，然后分开向下移动。",
           "妈妈": "右手拇指轻触下巴两次，其余手指张开。"}
TURKISH = {"teşekkür": "Sağ elin avuç içi yukarı bakar; el çeneden öne doğru hareket eder.",
           "ev": "İki elin parmak uçları birbirine değer ve bir çatı şekli oluşturur, sonra eller aşağı iner.",
           "anne": "Sağ elin başparmağı çeneye iki kez dokunur, diğer parmaklar açıktır."}


def _dataset(tmp_path, entries: dict) -> tuple:
    kb = tmp_path / "knowledge"
    kb.mkdir()
    (kb / "dictionary.md").write_text("\n\n".join(f"{head} — {text}" for head, text in entries.items()) + "\n",
                                      encoding="utf-8")
    classes = tmp_path / "classes.csv"
    pd.DataFrame({"label": range(len(entries)), "gloss": list(entries)}).to_csv(classes, index=False)
    return classes, kb


def test_languages_are_detected_from_the_glosses_and_the_entries():
    assert detect_glosses(list(CHINESE))[0] == "zh"
    assert detect_glosses(["anne", "baba", "teşekkür", "ev", "kitap", "okul"])[0] == "tr"
    assert detect_glosses(["NIGHT", "HOUSE", "THANKS", "MOTHER", "BICYCLE"])[0] == "en"
    assert detect_entries(list(TURKISH.values())) == ("tr", 1.0)
    assert detect_entries(list(CHINESE.values()))[0] == "zh"
    stated = resolve({"glosses": "tr", "knowledge": "auto", "descriptions": "en"}, ["ANNE"], list(CHINESE.values()))
    assert stated == {"glosses": "tr", "knowledge": "zh", "descriptions": "en"}


@pytest.mark.parametrize("entries,code,name", [(CHINESE, "zh", "Chinese"), (TURKISH, "tr", "Turkish")])
def test_the_offline_composer_refuses_another_language_in_one_line(tmp_path, entries, code, name):
    classes, kb = _dataset(tmp_path, entries)
    params = tiny_params()
    with pytest.raises(UnsupportedLanguage) as err:
        run_describe(params, "gsp", classes, kb, tmp_path / "no-index-needed", tmp_path / "gsp.jsonl",
                     tmp_path / "gsp.md")
    message = str(err.value)
    assert "\n" not in message and "describe.provider: openai" in message
    assert f"{name} ({code}, detected)" in message and str(classes) in message and str(kb) in message
    assert not (tmp_path / "gsp.jsonl").exists()
    # the label variant is the gloss itself: nothing to read, nothing refused
    run_describe(params, "label", classes, kb, tmp_path, tmp_path / "label.jsonl", tmp_path / "label.md")
    assert [json.loads(line)["global"] for line in (tmp_path / "label.jsonl").read_text().splitlines()] == \
        [g.lower() for g in entries]


@pytest.mark.slow
@pytest.mark.parametrize("entries,name", [(CHINESE, "Chinese"), (TURKISH, "Turkish")])
def test_the_openai_provider_describes_any_language_with_tagged_segments(tmp_path, monkeypatch, entries, name):
    """Through the loopback OpenAI-compatible server: every prompt names the languages, every
    class comes back with part segments tagged with our five part names."""
    classes, kb = _dataset(tmp_path, entries)
    index = tmp_path / "index"
    with atomic_dir(index, "kb-index") as tmp:
        build_index(load_entries(kb), "minilm", tmp)
    params = tiny_params()
    with EchoServer() as server:
        params["describe"].update(provider="openai", openai=server.provider_cfg(), cache_dir=str(tmp_path / "cache"))
        stats = run_describe(params, "gsp", classes, kb, index, tmp_path / "gsp.jsonl", tmp_path / "gsp.md")
        prompts = [b["messages"][-1]["content"] for b in server.requests]
    assert stats["languages"]["glosses"] == stats["languages"]["knowledge"] != "en"
    assert all(f"gloss is in {name} and the dictionary entries are in {name}" in p for p in prompts)
    assert all("Write every text of your answer in English" in p for p in prompts)
    records = [json.loads(line) for line in (tmp_path / "gsp.jsonl").read_text().splitlines()]
    assert [r["gloss"] for r in records] == list(entries)
    for r, text in zip(records, entries.values()):
        assert r["parts"] and all(seg["parts"] and set(seg["parts"]) <= set(PART_NAMES) for seg in r["parts"])
        assert r["primary"] == text and r["provenance"]["used"][0] == r["provenance"]["retrieved"][0]
        assert r["provenance"]["synonyms_from"] == "llm" and r["synonyms"]
    assert f"knowledge base in {name}" in (tmp_path / "gsp.md").read_text()


@pytest.mark.slow
def test_a_turkish_byo_dataset_with_the_offline_provider_stops_at_describe(tmp_path):
    """`snakemake all` on Turkish glosses and a Turkish knowledge folder with provider offline:
    the run stops at the describe stage, before any training, with the one-line refusal. The
    keypoints come through the sam_slr importer (.npy per video), so no video is decoded."""
    data, poses = tmp_path / "data", tmp_path / "poses"
    data.mkdir()
    poses.mkdir()
    rng = np.random.default_rng(0)
    rows = ["path,label,signer,split"]
    for k, gloss in enumerate(TURKISH):
        for signer, split in ((1, "train"), (2, "test")):
            (data / f"{k}-{split}.mp4").write_bytes(b"")
            clip = np.concatenate([rng.uniform(100, 400, (20, 133, 2)), np.ones((20, 133, 1))], 2)
            np.save(poses / f"{k}-{split}.npy", clip.astype(np.float32))
            rows.append(f"{k}-{split}.mp4,{gloss},{signer},{split}")
    (data / "list.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    _, kb = _dataset(tmp_path, TURKISH)
    params = tiny_params()
    params["dataset"] = "byo"
    params["pose"]["backend"] = "sam_slr"
    params["pose"]["importer"]["dir"] = str(poses)
    params["datasets"]["byo"]["csv"] = str(data / "list.csv")
    params["ensemble"]["tune_on_val"] = False
    params["knowledge"]["path"] = str(kb)
    (tmp_path / "work").mkdir()
    work = make_workdir(tmp_path / "work", params)
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "all"], cwd=work, env=tool_env(),
                         capture_output=True, text=True)
    assert run.returncode != 0
    refusals = [line for log in (work / "results/byo/logs/describe").glob("*.log")
                for line in log.read_text().splitlines() if "failed:" in line]
    assert refusals, run.stderr[-2000:]
    assert all("describe.provider: openai" in line and "Turkish (tr, detected)" in line for line in refusals)
    assert {p.stem for p in (work / "results/byo/descriptions").glob("*.jsonl")} <= {"label"}
    assert not (work / "results/byo/train").exists()
