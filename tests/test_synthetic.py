import re

import numpy as np
import pytest

from pipeline.data.synthetic.body import STRATIFIED_TRAITS
from pipeline.data.synthetic.copy_share import copy_share
from pipeline.data.synthetic.corpus import build_corpus
from pipeline.data.synthetic.glosses import GLOSSES
from pipeline.data.synthetic.lexicographer import HEADWORD_SYNONYMS, write_alphabet, write_dictionary
from pipeline.data.synthetic.phonology import HANDSHAPES, PAIR_DIMENSIONS
from pipeline.describe.knowledge import KnowledgeBase, load_entries

DICTIONARY = dict(drop=[0.2, 0.4], wrong_detail=0.1, missing=0.1, synonym_headwords=0.2, distractors=0.3,
                  relative_pairs=0.5)
CFG = dict(classes=36, signers=9, val_signers=3, test_signers=2, repetitions=1, minimal_pair_fraction=0.5,
           noise=dict(body_px=0.2, face_px=0.25, hands_px=2.4, ar=0.5), dropout=0.03, left_handed_fraction=0.2,
           fps=25, image_size=512, dictionary=DICTIONARY)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CFG, seed=3)


def test_same_seed_same_bytes(corpus):
    again = build_corpus(CFG, seed=3)
    sid = corpus.manifest()["sample_id"].iloc[7]
    assert corpus.render(sid).tobytes() == again.render(sid).tobytes()
    assert write_dictionary(corpus.signs, 3, DICTIONARY) == write_dictionary(again.signs, 3, DICTIONARY)
    other = build_corpus(CFG, seed=4)
    assert [s.phonology() for s in other.signs] != [s.phonology() for s in corpus.signs]


def test_classes_are_distinct_and_include_minimal_pairs_of_every_kind(corpus):
    phon = [s.phonology() for s in corpus.signs]
    assert len(set(phon)) == len(phon)
    by_gloss = {s.gloss: s for s in corpus.signs}
    kinds = set()
    for s in corpus.signs:
        if s.derived_from:
            base = by_gloss[s.derived_from]
            diff = [k for k in PAIR_DIMENSIONS if getattr(s, k) != getattr(base, k)]
            assert diff == [s.differs_in]
            kinds.add(s.differs_in)
    assert kinds == set(PAIR_DIMENSIONS)


def test_signer_independent_split(corpus):
    m = corpus.manifest()
    signers = {split: set(m[m.split == split].signer) for split in ("train", "val", "test")}
    assert all(signers.values())
    assert not (signers["train"] & signers["val"]) and not (signers["train"] & signers["test"])
    assert not (signers["val"] & signers["test"])
    assert m.label.nunique() == 36
    # round(0.2 x 4) -> at least one left-handed signer per split: every split sees one
    left = {s.signer_id for s in corpus.signers if not s.right_handed}
    assert all(len(left & members) == 1 for members in signers.values())


def test_each_split_covers_the_range_of_every_trait(corpus):
    """Stratified, not by luck: a split of m signers has one signer in each 1/m of every
    trait's range (yaw, size, speed, movement size)."""
    for split in ("train", "val", "test"):
        members = [s for s in corpus.signers if corpus.splits[s.signer_id] == split]
        for trait, (lo, hi) in STRATIFIED_TRAITS.items():
            strata = sorted(int((getattr(s, trait) - lo) / (hi - lo) * len(members)) for s in members)
            assert strata == list(range(len(members))), (split, trait, strata)


def test_manifest_frame_counts_match_rendered_clips(corpus):
    m = corpus.manifest()
    for _, row in m.iloc[:5].iterrows():
        clip = corpus.render(row.sample_id)
        assert clip.shape == (row.n_frames, 133, 3)
        assert clip.dtype == np.float32


def test_rendered_layout_is_anatomically_consistent(corpus):
    m = corpus.manifest()
    for sid in m.sample_id.iloc[:20]:
        x = corpus.render(sid)
        ok = (x[:, 9, 2] > 0.3) & (x[:, 91, 2] > 0.3)
        # a hand's root lies at the body wrist of the same side
        d = np.linalg.norm(x[ok, 9, :2] - x[ok, 91, :2], axis=-1)
        width = np.linalg.norm(x[:, 5, :2] - x[:, 6, :2], axis=-1).mean()
        assert np.median(d) < 0.15 * width
        # the signer's left shoulder (5) appears on the image right
        assert (x[:, 5, 0] > x[:, 6, 0]).mean() > 0.9
        # the face is above the shoulders
        assert (x[:, 23:91, 1].mean(1) < x[:, 5, 1]).all()


def test_non_manual_signals_move_the_face(corpus):
    by_gloss = {s.gloss: (k, s) for k, s in enumerate(corpus.signs)}
    pair = next((s, by_gloss[s.derived_from][1]) for s in corpus.signs if s.differs_in == "mouth")
    assert pair[0].mouth != pair[1].mouth


def test_the_dictionary_is_written_in_its_own_words_and_lossy(corpus, tmp_path):
    """The lexicographer copies no renderer phrase or handshape definition; some classes have no
    entry, some sit under a synonym, distractors describe signs outside the corpus, minimal-pair
    partners may be written relative to their base; the alphabet defines every handshape."""
    text = write_dictionary(corpus.signs, 3, DICTIONARY)
    (tmp_path / "dictionary.md").write_text(text)
    (tmp_path / "alphabet.md").write_text(write_alphabet())
    kb = KnowledgeBase(load_entries(tmp_path))
    assert copy_share([e.text for e in kb.entries])["verbatim"] == 0
    for h in HANDSHAPES.values():
        assert h.definition not in text and kb.lookup(f"{h.name} handshape")
    glosses = {s.gloss for s in corpus.signs}
    own = {g for g in glosses if kb.lookup(g)}
    by_synonym = {g for g in glosses if g in HEADWORD_SYNONYMS and kb.lookup(HEADWORD_SYNONYMS[g])}
    missing = glosses - own - by_synonym
    distractors = [e for e in kb.entries if e.headword and not e.headword.endswith("handshape")
                   and e.headword not in glosses and e.headword not in HEADWORD_SYNONYMS.values()]
    assert by_synonym and missing and len(distractors) == round(0.3 * len(glosses))
    assert re.search(r"— Like [A-Z' -]+, except ", text)
    assert not set(HEADWORD_SYNONYMS.values()) & set(GLOSSES)


def test_copy_share_counts_renderer_phrases():
    share = copy_share(["The hand taps the location twice.", "Palm out, by the cheek."])
    assert share["tokens"] == 11 and share["verbatim"] == pytest.approx(3 / 11)


def test_too_many_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="synthetic.classes"):
        build_corpus(dict(CFG, classes=500), 0)
