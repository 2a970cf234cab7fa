"""GSP with the offline provider over every demo class, and knowledge-base errors."""
import logging
import re

import numpy as np
import pytest

from pipeline.data.synthetic.corpus import build_corpus
from pipeline.data.synthetic.dictionary import write_alphabet, write_dictionary
from pipeline.describe.gsp import MissingKnowledge, describe_all
from pipeline.describe.index import Retriever, build_index
from pipeline.describe.knowledge import KnowledgeBase, load_entries
from pipeline.describe.lexicon import tag_parts
from pipeline.describe.offline import OfflineProvider, clauses, label_restatements
from pipeline.describe.stages import table1_report

CFG = {"synonyms": 3, "top_k": 3, "allow_missing": False, "synonym_source": "label"}
UNRESOLVED = re.compile(r"\bhandshape\b|\b(as in|like) the sign\b", re.I)
REMARK = re.compile(r"\b(origin|etymology|homophone|usage|regional variant|related sign|first recorded)\b", re.I)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, ):
    import yaml
    from conftest import ROOT
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    corpus = build_corpus(params["synthetic"], params["seed"])      # the demo's own 40 classes
    kb_dir = tmp_path_factory.mktemp("kb")
    (kb_dir / "dictionary.md").write_text(write_dictionary(corpus.signs, params["seed"]))
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
        assert len(r["synonyms"]) >= 3 and len(set(r["synonyms"])) == len(r["synonyms"])
        tags = {t for seg in r["parts"] for t in seg["parts"]}
        # body is tagged where the text involves the body itself, not for every moving hand
        assert set(spec.parts_used("right_hand")) <= tags, (spec.gloss, r["parts"])
        assert ("body" in tags) == ("body" in spec.parts_used()), (spec.gloss, r["parts"])
        for text in [r["global"], *r["synonyms"], *(seg["text"] for seg in r["parts"])]:
            assert not UNRESOLVED.search(text), (spec.gloss, text)
            assert not REMARK.search(text), (spec.gloss, text)
        prov = r["provenance"]
        assert prov["provider"] == "offline" and prov["variant"] == "gsp" and prov["prompt_version"]
        assert prov["retrieved"][0] == kb.lookup(spec.gloss).id and not prov["unresolved"]
        assert prov["used"] == [kb.lookup(spec.gloss).id]          # the composer reads its own entry only
        assert prov["synonym_source"] == "label"
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
def test_label_synonyms_are_restatements_not_copies(demo, gsp_records):
    """Eq. 4 from the label: each synonym names the label and keeps every clause of the
    description, in another order and wording; it is not a near-copy of the global text
    (MiniLM cosine), yet stays closer to its own class's global text than to the nearest
    other class's, on average."""
    from pipeline.text.encoders import encode

    for r in gsp_records:
        label = r["gloss"].lower().replace("-", " ")
        assert all(s.startswith(f"For {label}, ") for s in r["synonyms"]), r["synonyms"]
        assert len(set(s.split(". ")[0] for s in r["synonyms"])) == len(r["synonyms"])   # each leads differently
        assert r["global"] not in r["synonyms"]
    glob = encode("minilm", [r["global"] for r in gsp_records])
    own, nearest_other = [], []
    for k, r in enumerate(gsp_records):
        sims = encode("minilm", r["synonyms"]) @ glob.T
        own += list(sims[:, k])
        nearest_other += list(np.delete(sims, k, axis=1).max(1))
    own, nearest_other = np.array(own), np.array(nearest_other)
    assert own.mean() < 0.93                         # the description rewordings sit at 0.98
    assert (own - nearest_other).mean() > 0 and (own > nearest_other).mean() > 0.8


def test_label_restatements_keep_every_clause_and_lead_with_another():
    parts = ["The dominant hand is placed at the chin.", "The dominant hand moves down, once.", "The lips are rounded."]
    assert label_restatements("night", parts, 3) == [
        "For night, the strong hand moves down, once. The lips are rounded. The strong hand is placed at the chin.",
        "For night, the lips are rounded. The dominant hand is positioned at the chin. "
        "The dominant hand moves down, once.",
        "For night, the dominant hand is placed at the chin. The dominant hand travels down, once. "
        "The lips are rounded."]
    assert label_restatements("night", [], 3) == []


@pytest.mark.slow
def test_description_synonyms_keep_the_rewording_behaviour(demo):
    corpus, kb, retriever, kb_dir = demo
    classes = [(0, corpus.signs[0].gloss)]
    cfg = dict(CFG, synonym_source="description")
    r = describe_all(classes, "gsp", kb, retriever, OfflineProvider(kb), cfg, str(kb_dir), 1)[0]
    assert r["provenance"]["synonym_source"] == "description"
    assert r["synonyms"] == OfflineProvider(kb).synonyms(r["gloss"], r["global"], 3)


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
    """With an LLM, synonym_source label sends P2 ("The sign <>'s synonyms") with the label and
    the entries the description was grounded in, never the description; without the knowledge
    base (variant llm) only the label and P2. Provenance 'used' is every entry the primary got."""
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
    assert prov["used"] == prov["retrieved"] and prov["synonym_source"] == "label"
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
