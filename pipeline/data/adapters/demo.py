"""The demo dataset: generated from params.synthetic (no download), with a dictionary and a
handshape alphabet written by a lexicographer that shares no words with the renderer
(synthetic/lexicographer.py) as the knowledge base."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..synthetic.corpus import build_corpus
from ..synthetic.lexicographer import write_alphabet, write_dictionary
from . import Dataset


def demo(params: dict, corpus_path: Path) -> Dataset:
    """Every sample's source (the manifest's `video` column) is ``corpus_path``: the
    synthetic pose backend renders a sample from the corpus there, as a video backend
    decodes the file a row names."""
    corpus = build_corpus(params["synthetic"], params["seed"])
    classes = pd.DataFrame({"label": range(len(corpus.signs)), "gloss": [s.gloss for s in corpus.signs]})
    knowledge = {"dictionary.md": write_dictionary(corpus.signs, params["seed"], params["synthetic"]["dictionary"]),
                 "alphabet.md": write_alphabet()}
    return Dataset(corpus.manifest(source=str(corpus_path)), classes, knowledge, corpus.to_dict())
