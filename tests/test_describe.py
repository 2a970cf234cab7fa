"""GSP with the offline provider over every demo class, and knowledge-base errors."""
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import tool_env

from pipeline.data.synthetic.corpus import build_corpus
from pipeline.data.synthetic.lexicographer import write_alphabet, write_dictionary
from pipeline.describe.gsp import MissingKnowledge, describe_all
from pipeline.describe.index import Retriever, build_index
from pipeline.describe.knowledge import KnowledgeBase, load_entries
from pipeline.describe.lexicon import tag_parts
from pipeline.describe.offline import OfflineProvider, clauses
from pipeline.describe.stages import table1_report

CFG = {"synonyms": 3, "top_k": 3, "min_score": 0.6, "allow_missing": False}
UNRESOLVED = re.compile(r"\bhandshape\b|\b(as in|like) the sign\b|\bLike [A-Z]{2,}")
REMARK = re.compile(r"\b(common in|older signers|used as a verb|confused with|see also|school vocabularies)\b", re.I)
# the demo's lexicographer with nothing lost: every detail stated right, every class under its
# gloss, no distractors, every minimal-pair partner written relative to its base (followed)
LOSSLESS = dict(drop=[0, 0], wrong_detail=0, missing=0, synonym_headwords=0, distractors=0, relative_pairs=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, ):
    import yaml
    from conftest import ROOT
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    corpus = build_corpus(params["synthetic"], params["seed"])      # the demo's own classes
    kb_dir = tmp_path_factory.mktemp("kb")
    (kb_dir / "dictionary.md").write_text(write_dictionary(corpus.signs, params["seed"], LOSSLESS))
    (kb_dir / "alphabet.md").write_text(write_alphabet())
    index_dir = tmp_path_factory.mktemp("index")
    build_index(load_entries(kb_dir), "minilm", index_dir)
    kb = KnowledgeBase(load_entries(kb_dir))
    return corpus, kb, Retriever(index_dir, kb), kb_dir


@pytest.fixture(scope="module")
def gsp_records(demo):
    corpus, kb, retriever, kb_dir = demo
    classes = [(k, s.gloss) for k, s in enumerate(corpus.signs)]
    return describe_all(classes, "gsp", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)


@pytest.mark.slow
def test_every_demo_class_gets_a_full_self_contained_description(demo, gsp_records):
    corpus, kb, retriever, kb_dir = demo
    records = gsp_records
    assert [r["gloss"] for r in records] == [s.gloss for s in corpus.signs]
    for r, spec in zip(records, corpus.signs):
        assert r["global"].strip()
        assert 1 <= len(r["synonyms"]) <= 3 and len(set(r["synonyms"])) == len(r["synonyms"])
        tags = {t for seg in r["parts"] for t in seg["parts"]}
        # body is tagged where the text involves the body itself, not for every moving hand
        assert set(spec.parts_used("right_hand")) <= tags, (spec.gloss, r["parts"])
        if not spec.derived_from:   # a partner's text is its base's plus "Unlike that sign, <difference>"
            assert ("body" in tags) == ("body" in spec.parts_used()), (spec.gloss, r["parts"])
        for text in [r["global"], *r["synonyms"], *(seg["text"] for seg in r["parts"])]:
            assert not UNRESOLVED.search(text), (spec.gloss, text)
            assert not REMARK.search(text), (spec.gloss, text)
        prov = r["provenance"]
        assert prov["provider"] == "offline" and prov["variant"] == "gsp" and prov["prompt_version"]
        assert prov["retrieved"][0] == kb.lookup(spec.gloss).id and not prov["unresolved"]
        assert prov["used"] == [kb.lookup(spec.gloss).id]          # the composer reads its own entry only
        assert prov["synonyms_from"] in ("wordnet", "label")
        assert prov["flags"] == []                 # the checks do not cry wolf on grounded texts
        if spec.derived_from:      # the base sign's entry was followed
            assert kb.lookup(spec.derived_from).id in prov["followed"]


def test_a_moving_hand_alone_is_not_the_body():
    assert tag_parts("The dominant hand moves down.") == ["right_hand"]
    assert tag_parts("The dominant hand pushes straight forward, three times.") == ["right_hand"]
    assert tag_parts("As in the sign NIGHT, but the hand moves out to the side.") == ["right_hand"]
    assert "body" in tag_parts("The dominant hand is placed on the chest.")
    assert "body" in tag_parts("Both hands are placed in the signing space in front of the body.")
    assert "body" in tag_parts("The elbow rests on the back of the other hand.")


@pytest.mark.slow
def test_offline_synonyms_come_from_the_label_alone(demo, gsp_records):
    """Eq. 4 offline: WordNet's synonyms of the label ("the sign for nighttime"), or label-only
    variants where WordNet has none; no synonym holds any clause of the class's description."""
    by_gloss = {r["gloss"]: r for r in gsp_records}
    assert by_gloss["NIGHT"]["synonyms"][0] == "the sign for nighttime"
    assert by_gloss["NIGHT"]["provenance"]["synonyms_from"] == "wordnet"
    assert by_gloss["UNCLE"]["provenance"]["synonyms_from"] == "label"
    assert by_gloss["UNCLE"]["synonyms"] == ["uncle", "the sign for uncle", "the sign uncle"]
    for r in gsp_records:
        for clause in clauses(r["global"]):
            assert not any(clause.rstrip(".").lower() in s.lower() for s in r["synonyms"]), (r["gloss"], clause)
        assert all(s.startswith("the sign for ") or r["provenance"]["synonyms_from"] == "label"
                   for s in r["synonyms"])


@pytest.mark.slow
def test_report_shows_only_the_knowledge_used(demo, gsp_records):
    """The Table-1 report's knowledge column holds the entries the description drew on; the
    neighbours retrieval returned, which the offline composer does not read, are named apart."""
    corpus, kb, retriever, kb_dir = demo
    report = table1_report(gsp_records, kb, len(gsp_records))
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in report.splitlines()[2:]}
    for r in gsp_records:
        _, _, used, not_used, _ = rows[r["gloss"]]
        own = kb.lookup(r["gloss"])
        assert own.text in used
        for i in r["provenance"]["retrieved"][1:]:
            neighbour = kb.by_id[i]
            if i not in r["provenance"]["followed"]:
                assert neighbour.text not in used and neighbour.headword in not_used


@pytest.mark.slow
def test_minimal_pair_texts_differ_where_the_signs_do(demo):
    corpus, kb, retriever, kb_dir = demo
    provider = OfflineProvider(kb)
    pair = next(s for s in corpus.signs if s.differs_in == "handshape")
    texts = {g: provider.refine(g, kb.lookup(g).text)[0] for g in (pair.gloss, pair.derived_from)}
    assert texts[pair.gloss] != texts[pair.derived_from]


@pytest.mark.slow
def test_label_and_kb_variants(demo):
    corpus, kb, retriever, kb_dir = demo
    classes = [(0, corpus.signs[0].gloss)]
    label = describe_all(classes, "label", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)[0]
    assert label["global"] == corpus.signs[0].gloss.lower().replace("-", " ") and not label["parts"]
    raw = describe_all(classes, "kb", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)[0]
    assert raw["global"] == kb.lookup(corpus.signs[0].gloss).text      # grounded but unrefined


@pytest.mark.slow
def test_class_absent_from_the_knowledge_base(demo, caplog):
    corpus, kb, retriever, kb_dir = demo
    with pytest.raises(MissingKnowledge, match="UNICORN"):
        describe_all([(0, "UNICORN")], "gsp", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)
    with caplog.at_level(logging.WARNING):
        r = describe_all([(0, "UNICORN")], "gsp", kb, retriever, OfflineProvider(kb),
                         dict(CFG, allow_missing=True), str(kb_dir), 1)[0]
    assert r["provenance"]["kb_missing"] is True and r["global"] == "unicorn"
    assert "UNICORN" in caplog.text


def test_missing_or_empty_knowledge_base(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_entries(tmp_path / "nope")
    (tmp_path / "notes.md").write_text("# Only a heading\n")
    with pytest.raises(ValueError, match="no entries"):
        load_entries(tmp_path)


def _minimal_pdf(lines):
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one line each)."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{k} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_entries_from_pdf(tmp_path):
    (tmp_path / "dict.pdf").write_bytes(_minimal_pdf(["TREE - The forearm stands upright,",
                                                      "the hand open.", "HOUSE - Both hands form a roof."]))
    kb = KnowledgeBase(load_entries(tmp_path))
    assert kb.lookup("TREE").text == "The forearm stands upright, the hand open."
    assert kb.lookup("HOUSE").text == "Both hands form a roof."


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("name,content,why", [
    ("signs.txt", b"\x00\xff\xfe\x89PNG binary", "not UTF-8 text"),
    ("signs.csv", "Gloss,Text\nB\xe4r,x\n".encode("latin-1"), "not UTF-8 text"),
    ("dict.pdf", b"", "not a readable PDF"),
    ("dict.pdf", b"%PDF-1.4\n1 0 obj garbage\n", "not a readable PDF"),
    ("dict.pdf", None, "an encrypted PDF"),
])
def test_a_knowledge_file_that_cannot_be_read_names_itself(tmp_path, name, content, why):
    """Issue 28, item 9: each gave a traceback without the file's name."""
    (tmp_path / "ok.md").write_text("TREE - The forearm stands upright.\n")
    (tmp_path / name).write_bytes(_encrypted_pdf() if content is None else content)
    with pytest.raises(ValueError, match=f"^{tmp_path / name}: {why}"):
        load_entries(tmp_path)


def test_a_fifo_in_the_knowledge_folder_is_refused_unopened(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(ValueError, match="pipe.txt: not a regular file"):
        load_entries(tmp_path)


def test_entries_from_csv_and_text(tmp_path):
    (tmp_path / "signs.csv").write_text("Gloss,Description\nTREE,The forearm stands upright.\n")
    (tmp_path / "more.txt").write_text("HOUSE - Both hands form a roof.\n\nA paragraph with no headword.\n")
    entries = load_entries(tmp_path)
    kb = KnowledgeBase(entries)
    assert kb.lookup("tree").text == "The forearm stands upright."
    assert kb.lookup("HOUSE").text == "Both hands form a roof."
    assert any(e.headword is None and e.id.startswith("more-txt") for e in entries)


@pytest.mark.slow
def test_openai_label_synonyms_are_asked_from_the_label(demo, tmp_path, monkeypatch):
    """With an LLM, the synonyms step sends P2 ("The sign <>'s synonyms") with the label and
    the entries the description was grounded in, never the description; without the knowledge
    base (variant llm) only the label and P2. Provenance 'used' is every entry the primary got:
    the own entry and the retrieved ones scoring describe.min_score or more."""
    from pipeline.describe.echo_server import EchoServer
    from pipeline.describe.openai_provider import OpenAIProvider

    corpus, kb, retriever, kb_dir = demo
    monkeypatch.setenv("GSPMC_TEST_KEY", "sk-test")
    gloss = next(s.gloss for s in corpus.signs if s.derived_from)
    with EchoServer() as server:
        cfg = server.provider_cfg(api_key_env="GSPMC_TEST_KEY", timeout_s=5, max_retries=0)
        provider = OpenAIProvider(cfg, kb, str(tmp_path / "cache"))
        grounded = describe_all([(0, gloss)], "gsp", kb, retriever, provider, CFG, str(kb_dir), 1)[0]
        bare = describe_all([(0, gloss)], "llm", kb, retriever, provider, CFG, str(kb_dir), 1)[0]
        asked = [b["messages"][-1]["content"] for b in server.requests
                 if b["response_format"]["json_schema"]["name"] == "synonyms"]
    prov = grounded["provenance"]
    assert prov["used"] == [prov["retrieved"][0]] + [i for i in prov["retrieved"][1:]
                                                     if prov["scores"][i] >= CFG["min_score"]]
    assert prov["used"][0] == kb.lookup(gloss).id and prov["synonyms_from"] == "llm"
    assert len(grounded["synonyms"]) == 3 and len(asked) == 2
    for prompt_text in asked:
        assert f'The sign "{gloss}"\'s synonyms' in prompt_text
        assert grounded["global"] not in prompt_text
    assert kb.lookup(gloss).text in asked[0]
    assert all(kb.by_id[i].text in asked[0] for i in prov["followed"])
    assert "Dictionary entries" not in asked[1] and not bare["provenance"]["used"]


def test_clauses_keep_each_verb_with_its_subject():
    assert clauses("As in the sign WEAK, but the hand is held with the palm facing forward.") == [
        "As in the sign WEAK.", "But the hand is held with the palm facing forward."]
    assert clauses("The dominant hand in the V handshape, palm facing the other hand, is placed at the nose.") == [
        "The dominant hand in the V handshape, palm facing the other hand.", "The dominant hand is placed at the nose."]


def test_side_named_hand_parts_tag_that_hand():
    assert tag_parts("The non-dominant palm faces up.") == ["left_hand"]
    assert tag_parts("The dominant arm extends forward.") == ["body", "right_hand"]
    assert tag_parts("The non-dominant arm is bent.") == ["body", "left_hand"]
    assert tag_parts("The hand taps the non-dominant wrist.") == ["left_hand", "right_hand"]


MISMATCHED = {   # headwords that are not the glosses, and distractors
    "thank you": "The flat dominant hand starts at the chin and moves forward and down, palm up.",
    "nighttime": "The bent dominant hand moves down over the wrist of the non-dominant arm, twice.",
    "bike": "Both fists circle forward alternately in front of the body, like pedals.",
    "tree": "The dominant forearm stands upright on the back of the non-dominant hand and twists.",
    "apple": "The bent index knuckle twists at the cheek.",
    "mother": "The thumb of the open dominant hand taps the chin twice.",
}


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory):
    kb_dir = tmp_path_factory.mktemp("kb-mismatch")
    (kb_dir / "dictionary.md").write_text("\n\n".join(f"{h} — {t}" for h, t in MISMATCHED.items()) + "\n")
    index_dir = tmp_path_factory.mktemp("index-mismatch")
    build_index(load_entries(kb_dir), "minilm", index_dir)
    kb = KnowledgeBase(load_entries(kb_dir))
    return kb, Retriever(index_dir, kb), kb_dir


@pytest.mark.slow
def test_a_dictionary_whose_headwords_are_not_the_glosses_grounds_through_retrieval(mismatched):
    """No headword is a gloss: each class's primary text is the retrieved entry that
    provenance names as used, with its score; a gloss nothing scores describe.min_score for
    follows describe.allow_missing."""
    kb, retriever, kb_dir = mismatched
    classes = [(0, "THANKS"), (1, "NIGHT"), (2, "BICYCLE")]
    records = describe_all(classes, "gsp", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)
    for r, head in zip(records, ("thank you", "nighttime", "bike")):
        entry = kb.lookup(head)
        prov = r["provenance"]
        assert r["primary"] == entry.text and prov["used"] == [entry.id] and prov["retrieved"][0] == entry.id
        assert prov["scores"][entry.id] >= CFG["min_score"] and not prov["kb_missing"]
        assert r["parts"] and r["global"]
    kb_records = describe_all(classes[:1], "kb", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)
    assert kb_records[0]["global"] == MISMATCHED["thank you"]
    with pytest.raises(MissingKnowledge, match=r"'SOUP'.*describe.min_score 0.6.*describe.allow_missing"):
        describe_all([(3, "SOUP")], "gsp", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)
    missing = describe_all([(3, "SOUP")], "gsp", kb, retriever, OfflineProvider(kb), dict(CFG, allow_missing=True),
                           str(kb_dir), 1)[0]
    assert missing["provenance"]["kb_missing"] and missing["global"] == "soup" and not missing["provenance"]["used"]


def test_a_stopped_kb_index_leaves_no_temporary_folder(tmp_path):
    """Issue 28, item 9: SIGTERM while the index is built (what snakemake sends its jobs when
    stopped) removes the stage's temporary folder on the way out."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "signs.md").write_text("".join(f"SIGN{k} - The hand moves {k} times.\n\n" for k in range(3000)))
    out = tmp_path / "out" / "kb_index"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "kb-index", "--knowledge", str(kb), "--out", str(out)],
                            env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(out.parent.glob(".kb_index.*.tmp")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the stage ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM
    assert list(out.parent.iterdir()) == []
