"""The optional mmpose tier (`make test-mmpose`, a venv made by envs/mmpose-tier.sh): the paper's
HRNet-w48 whole-body, built from the config that ships inside mmpose with random weights this
test saves (no weights ship in any registry package), run by the mmpose backend on the real
fixture video. Skipped where mmpose is not installed (the main suite's venv)."""
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURE, needs_fixture, tiny_params

pytest.importorskip("mmpose", reason="the mmpose tier: make test-mmpose")

CONFIG = "wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_hrnet-w48_8xb32-210e_coco-wholebody-256x192.py"


def shipped_config() -> Path:
    import mmpose
    path = Path(mmpose.__file__).parent / ".mim" / "configs" / CONFIG
    assert path.is_file(), f"mmpose {mmpose.__version__} ships no {CONFIG}"
    return path


def first_frames(video: Path, out: Path, frames: int = 8) -> Path:
    """The first ``frames`` frames of the video as a clip of their own (HRNet-w48 takes ~0.7 s a
    frame on one CPU thread)."""
    import cv2
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    for _ in range(frames):
        ok, bgr = cap.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, bgr.shape[1::-1])
        writer.write(bgr)
    writer.release()
    cap.release()
    return out


@needs_fixture
def test_hrnet_w48_wholebody_runs_in_the_mmpose_backend(tmp_path):
    import torch

    from pipeline.pose.backends.mmpose_backend import import_mmpose_apis
    from pipeline.pose.backends.registry import make_backend

    init_model, _ = import_mmpose_apis()       # what the backend imports, stand-ins included
    torch.manual_seed(0)
    model = init_model(str(shipped_config()), checkpoint=None, device="cpu")
    assert model.backbone.__class__.__name__ == "HRNet" and model.head.out_channels == 133
    assert sum(p.numel() for p in model.parameters()) > 60e6                    # w48, not w32
    torch.save({"state_dict": model.state_dict()}, tmp_path / "hrnet_w48_random.pth")

    cfg = tiny_params()["pose"]
    cfg.update(backend="mmpose", min_frames=8)
    cfg["mmpose"].update(config=str(shipped_config()), checkpoint=str(tmp_path / "hrnet_w48_random.pth"),
                         device="cpu", min_score=0.0)
    torch.set_num_threads(1)
    backend = make_backend(cfg)
    assert backend.version.startswith("mmpose 1.3.2 hrnet_w48_random.pth sha256:")
    clip = first_frames(FIXTURE, tmp_path / "clip.mp4")
    out = backend({"sample_id": "clip", "video": str(clip)})
    assert out.shape == (8, 133, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    seen = out[..., 2] > 0
    assert seen.any()
    # random weights put points anywhere in the box mmpose crops: the 540x720 frame at the model's
    # aspect (192/256, the frame's own), padded 1.25 by mmpose's top-down transform
    x, y = out[..., 0][seen], out[..., 1][seen]
    assert (np.abs(x - 270) <= 540 * 1.25 / 2 + 2).all() and (np.abs(y - 360) <= 720 * 1.25 / 2 + 2).all()
    assert x.max() - x.min() > 100             # not one point for all 133: the heatmaps were decoded
