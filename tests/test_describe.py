"""GSP with the offline provider over every demo class, and knowledge-base errors."""
import logging
import re

import pytest

from pipeline.data.synthetic.corpus import build_corpus
from pipeline.data.synthetic.dictionary import write_alphabet, write_dictionary
from pipeline.describe.gsp import MissingKnowledge, describe_all
from pipeline.describe.index import Retriever, build_index
from pipeline.describe.knowledge import KnowledgeBase, load_entries
from pipeline.describe.offline import OfflineProvider

CFG = {"synonyms": 3, "top_k": 3, "allow_missing": False}
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


def test_every_demo_class_gets_a_full_self_contained_description(demo):
    corpus, kb, retriever, kb_dir = demo
    classes = [(k, s.gloss) for k, s in enumerate(corpus.signs)]
    records = describe_all(classes, "gsp", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)
    assert [r["gloss"] for r in records] == [s.gloss for s in corpus.signs]
    for r, spec in zip(records, corpus.signs):
        assert r["global"].strip()
        assert len(r["synonyms"]) >= 3 and len(set(r["synonyms"])) == len(r["synonyms"])
        tags = {t for seg in r["parts"] for t in seg["parts"]}
        assert set(spec.parts_used("right_hand")) <= tags, (spec.gloss, r["parts"])
        for text in [r["global"], *r["synonyms"], *(seg["text"] for seg in r["parts"])]:
            assert not UNRESOLVED.search(text), (spec.gloss, text)
            assert not REMARK.search(text), (spec.gloss, text)
        prov = r["provenance"]
        assert prov["provider"] == "offline" and prov["variant"] == "gsp" and prov["prompt_version"]
        assert prov["retrieved"][0] == kb.lookup(spec.gloss).id and not prov["unresolved"]
        if spec.derived_from:      # the base sign's entry was followed
            assert kb.lookup(spec.derived_from).id in prov["followed"]


def test_minimal_pair_texts_differ_where_the_signs_do(demo):
    corpus, kb, retriever, kb_dir = demo
    provider = OfflineProvider(kb)
    pair = next(s for s in corpus.signs if s.differs_in == "handshape")
    texts = {g: provider.refine(g, kb.lookup(g).text)[0] for g in (pair.gloss, pair.derived_from)}
    assert texts[pair.gloss] != texts[pair.derived_from]


def test_label_and_kb_variants(demo):
    corpus, kb, retriever, kb_dir = demo
    classes = [(0, corpus.signs[0].gloss)]
    label = describe_all(classes, "label", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)[0]
    assert label["global"] == corpus.signs[0].gloss.lower().replace("-", " ") and not label["parts"]
    raw = describe_all(classes, "kb", kb, retriever, OfflineProvider(kb), CFG, str(kb_dir), 1)[0]
    assert raw["global"] == kb.lookup(corpus.signs[0].gloss).text      # grounded but unrefined


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
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
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
