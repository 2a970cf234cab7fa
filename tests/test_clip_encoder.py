"""The CLIP text encoder (the paper's; the slr500 and autsl presets'): the real loading and
tokenising code on a small CLIP text model the test builds and saves itself (random weights),
from a folder and from a Hugging Face cache, never from the network; its absence is one line
saying how to switch to minilm; the encoder's name and dimension reach the text bank."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, tiny_params

from pipeline.config import apply_preset
from pipeline.text.bank import TextBank
from pipeline.text.encoders import EncoderUnavailable, load_encoder
from pipeline.text.stages import run_embed

PROJECTION = 16


def build_tiny_clip(folder: Path) -> Path:
    """A 2-layer, 32-wide CLIP text tower with a 16-d projection and a byte-level tokenizer
    (every byte a token, no merges), saved as `save_pretrained` saves the real ones."""
    import torch
    from tokenizers import pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=[]).save_pretrained(folder)
    torch.manual_seed(0)
    config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=4, max_position_embeddings=77, projection_dim=PROJECTION,
                            bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1, pad_token_id=len(vocab) - 1)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.mark.slow
def test_a_clip_text_tower_loads_from_a_folder_and_encodes(tiny_clip):
    encoder = load_encoder(f"clip:{tiny_clip}")
    texts = ["The dominant hand taps the chin.", "Both hands form a roof.", "谢谢"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, PROJECTION) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, encoder.encode(texts))          # frozen, deterministic
    np.testing.assert_allclose(encoder.encode(texts[:1])[0], vectors[0], atol=1e-5)   # padding changes nothing
    assert encoder.max_tokens == 77
    assert encoder.token_counts(["ab"]) == [4]                             # start, a, b</w>, end
    assert encoder.token_counts(["x " * 100])[0] > 77


@pytest.mark.slow
def test_the_embed_stage_records_the_clip_encoder_and_counts_what_its_context_cuts(tiny_clip, tmp_path):
    records = [{"label": 0, "gloss": "HOUSE", "global": "Both hands form a roof. " * 20,
                "synonyms": ["the sign for home"],
                "parts": [{"text": "Both hands touch.", "parts": ["left_hand", "right_hand"]}]},
               {"label": 1, "gloss": "TREE", "global": "The forearm stands upright.", "synonyms": [], "parts": []}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pd.DataFrame({"label": [0, 1], "gloss": ["HOUSE", "TREE"]}).to_csv(tmp_path / "classes.csv", index=False)
    params = {"embed": {"encoder": f"clip:{tiny_clip}", "cache": str(tmp_path / "cache.sqlite")}}
    stats = run_embed(params, tmp_path / "d.jsonl", tmp_path / "classes.csv", tmp_path / "bank.safetensors")
    assert stats["truncated"] == 1
    bank = TextBank.load(tmp_path / "bank.safetensors")
    assert bank.meta["encoder"] == f"clip:{tiny_clip}" and bank.meta["dim"] == bank.dim == PROJECTION


@pytest.mark.slow
def test_a_clip_model_in_the_hugging_face_cache_loads_by_its_hub_id_offline(tiny_clip, tmp_path):
    """The layout a download leaves (models--org--name/snapshots/<rev>, refs/main), found by
    hub id with HF_HUB_OFFLINE set: what a machine that fetched CLIP once has."""
    repo = tmp_path / "hub" / "models--gspmc--tiny-clip"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for f in tiny_clip.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    code = "from pipeline.text.encoders import encode; print(encode('clip:gspmc/tiny-clip', ['a', 'b']).shape)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == f"(2, {PROJECTION})"


def test_a_missing_clip_model_is_one_line_naming_minilm(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(EncoderUnavailable) as err:
        load_encoder("clip:gspmc-test/not-downloaded")
    message = str(err.value)
    assert "\n" not in message and "embed.encoder: minilm" in message and "gspmc-test/not-downloaded" in message


def test_the_paper_presets_align_with_clip():
    for dataset in ("slr500", "autsl"):
        p = tiny_params()
        p["dataset"] = dataset
        p["pose"]["backend"] = "mediapipe"
        p["ensemble"]["tune_on_val"] = False
        assert apply_preset(p)["embed"]["encoder"] == "clip:openai/clip-vit-base-patch32"
    assert tiny_params()["embed"]["encoder"] == "minilm"
