import re

import numpy as np
import pytest

from pipeline.data.synthetic.corpus import build_corpus
from pipeline.data.synthetic.dictionary import write_alphabet, write_dictionary
from pipeline.data.synthetic.phonology import HANDSHAPES, PAIR_DIMENSIONS

CFG = dict(classes=36, signers=6, val_signers=1, test_signers=1, repetitions=1, minimal_pair_fraction=0.5,
           noise=dict(body_px=0.2, face_px=0.25, hands_px=2.4, ar=0.5), dropout=0.03, left_handed_fraction=0.2,
           fps=25, image_size=512)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CFG, seed=3)


def test_same_seed_same_bytes(corpus):
    again = build_corpus(CFG, seed=3)
    sid = corpus.manifest()["sample_id"].iloc[7]
    assert corpus.render(sid).tobytes() == again.render(sid).tobytes()
    assert write_dictionary(corpus.signs, 3) == write_dictionary(again.signs, 3)
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
    # round(0.2 x 6) = 1 left-handed signer, and it is a test signer: the test split sees one
    left = {s.signer_id for s in corpus.signers if not s.right_handed}
    assert len(left) == 1 and left <= signers["test"]


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


def test_dictionary_reads_like_a_dictionary(corpus):
    text = write_dictionary(corpus.signs, 3)
    assert re.search(r"in the (\w|-)+ handshape", text)
    assert "As in the sign " in text
    assert re.search(r"(Origin|Etymology|Homophone|Usage|Regional variant|Related sign|First recorded)", text)
    for s in corpus.signs:
        assert f"\n{s.gloss} — " in text
    alphabet = write_alphabet()
    for name in HANDSHAPES:
        assert f"{name} handshape — " in alphabet


def test_too_many_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="synthetic.classes"):
        build_corpus(dict(CFG, classes=500), 0)
