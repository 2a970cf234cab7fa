"""A trained run loaded from its bundles alone: ``run.json`` (the ensemble's streams,
weights and rule) or one stream's folder (``bundle.json`` + ``model.pt``). Nothing here
reads params.yaml or the run's data folders; the keypoint preset, clip preparation,
window, classes and pose settings all come from the bundles."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..evaluate.ensemble import combine
from ..evaluate.run_record import RUN, check_bundles_agree, read_bundle, read_run
from ..io import file_digest
from ..train.bundle import BUNDLE, FORMAT
from ..train.feeder import Feeder
from ..train.loop import WeightsFileError, build_model, pick_device, predict_logits
from ..train.loop import load_weights as load_torch_weights

log = logging.getLogger(__name__)


class RunError(ValueError):
    """A run folder or bundle that cannot be used as one; the message names the file."""


@dataclass
class StreamModel:
    name: str
    bundle: dict
    model: torch.nn.Module

    def scores(self, clips: list[np.ndarray], device: torch.device, batch_size: int | None = None) -> np.ndarray:
        """Logits (N, classes) of prepared (T, V, 3) clips, scored as training scored its test split."""
        clip = self.bundle["clip"]
        parents = tuple(self.bundle["keypoints"]["parents"])
        feeder = Feeder(clips, np.zeros(len(clips), np.int64), [str(i) for i in range(len(clips))],
                        self.bundle["stream"], parents, clip["window"], 1.0, clip["test_crop"])
        return predict_logits(self.model, feeder, batch_size or self.bundle["scoring"]["batch_size"], device)


@dataclass
class TrainedRun:
    source: Path
    streams: dict[str, StreamModel]
    weights: dict[str, float]
    rule: str
    device: torch.device

    @property
    def bundle(self) -> dict:
        """What every stream shares (classes, keypoints, pose): the first stream's bundle."""
        return next(iter(self.streams.values())).bundle

    @property
    def glosses(self) -> list[str]:
        return [c["gloss"] for c in self.bundle["classes"]]

    @property
    def num_points(self) -> int:
        return len(self.bundle["keypoints"]["indices"])

    def check_clip(self, clip: np.ndarray, name: str) -> None:
        kp = self.bundle["keypoints"]
        if clip.ndim != 3 or clip.shape[1:] != (self.num_points, 3):
            raise RunError(f"{name}: clip of shape {clip.shape}, but the run was trained on preset {kp['preset']!r} "
                           f"with {self.num_points} points: expected (T, {self.num_points}, 3)")

    def stream_scores(self, clips: list[np.ndarray], batch_size: int | None = None) -> dict[str, np.ndarray]:
        for k, clip in enumerate(clips):
            self.check_clip(clip, f"clip {k}")
        return {s: m.scores(clips, self.device, batch_size) for s, m in self.streams.items()}

    def combine(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        """The ensemble stage's combination (ensemble.rule, the weights it chose)."""
        return combine(scores, self.weights, self.rule)


def load_weights(path: Path) -> dict:
    """A model.pt, loaded weights-only (train/loop.load_weights), its refusal as a RunError."""
    try:
        return load_torch_weights(path)
    except WeightsFileError as exc:
        raise RunError(str(exc)) from exc


def load_stream(stream_dir: Path, name: str | None = None) -> StreamModel:
    stream_dir = Path(stream_dir)
    try:
        bundle = read_bundle(stream_dir)
    except json.JSONDecodeError as exc:
        raise RunError(f"{stream_dir / BUNDLE}: not valid JSON ({exc})") from exc
    except FileNotFoundError as exc:
        raise RunError(str(exc)) from exc
    if bundle.get("format") != FORMAT:
        raise RunError(f"{stream_dir / BUNDLE}: format {bundle.get('format')!r}, expected {FORMAT!r}")
    spec = bundle["model"]
    path = stream_dir / spec["file"]
    digest = file_digest(path)
    if digest is None:
        raise RunError(f"{path}: the model file the bundle names is missing")
    if digest != spec["sha256"]:
        raise RunError(f"{path}: not the model this bundle was written with (sha256 differs): the folder mixes "
                       f"two runs; retrain the stream")
    state = load_weights(path)
    if state["num_points"] != spec["num_points"] or state["num_class"] != spec["num_class"]:
        raise RunError(f"{path}: {state['num_points']} points, {state['num_class']} classes; the bundle says "
                       f"{spec['num_points']} and {spec['num_class']}")
    parents = bundle["keypoints"]["parents"]
    edges = [(c, p) for c, p in enumerate(parents) if p >= 0]
    model = build_model(spec["cfg"], spec["num_class"], edges, spec["num_points"], spec["in_channels"])
    model.load_state_dict(state["model"])
    model.eval()
    return StreamModel(name or bundle["stream"], bundle, model)


def load_run(path: str | Path, device: str = "cpu") -> TrainedRun:
    """``path``: a run folder with run.json (every stream, combined as the ensemble stage
    combined them), run.json itself, or one stream's folder (that stream alone)."""
    path = Path(path)
    try:
        found = read_run(path)
    except (ValueError, json.JSONDecodeError) as exc:
        raise RunError(str(exc)) from exc
    if found is not None:
        run_file, record = found
        streams = {e["stream"]: load_stream(run_file.parent / e["dir"], e["stream"]) for e in record["streams"]}
        weights, rule = {s: float(w) for s, w in record["weights"].items()}, record["rule"]
    elif (path / BUNDLE).is_file():
        stream = load_stream(path)
        streams, weights, rule = {stream.name: stream}, {stream.name: 1.0}, "scores"
    else:
        raise RunError(f"{path}: neither a run ({RUN}, written by the ensemble stage) nor a trained stream "
                       f"({BUNDLE}, written by the train stage)")
    try:
        check_bundles_agree({s: m.bundle for s, m in streams.items()})
    except ValueError as exc:
        raise RunError(f"{path}: {exc}") from exc
    dev = pick_device(device)
    if dev.type == "cpu":
        # the training job's thread count: CPU kernels split their sums by thread, so the
        # same count gives the scores the ensemble stage combined, bit for bit
        torch.set_num_threads(streams[next(iter(streams))].bundle["scoring"]["threads"])
    for m in streams.values():
        m.model.to(dev)
    log.info("run %s: streams %s, weights %s (%s rule), preset %s, %d classes", path, ", ".join(streams),
             weights, rule, streams[next(iter(streams))].bundle["keypoints"]["preset"],
             len(next(iter(streams.values())).bundle["classes"]))
    return TrainedRun(path, streams, weights, rule, dev)
