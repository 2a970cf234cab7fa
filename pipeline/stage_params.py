"""The params.yaml keys each stage's outputs depend on: what the DAGs list as params deps.

The Snakefile gives each rule these values (from the config with the dataset's preset applied);
dvc.yaml lists the same keys, plus `presets.${dataset}` where a stage reads a section a preset
may override (DVC reads params.yaml as written). tests/test_dag.py compares the two.

Left out on purpose, as they change speed or where a cache lives, never a result:
pose.workers, describe.cache_dir, embed.cache; what only shapes the DAG (ablations.keypoints:
one keypoints job per preset; describe.variants too, except for the tables, which read it), or
runs outside it (experiments). UNUSED_KEYS names them; a test checks every key of params.yaml is
read by a stage or named there.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .names import ZEROSHOT_MC_KEYS
from .pose.backends.registry import SETTINGS_SECTIONS

# the backend, its checks and every backend's settings: what the train stage's bundle records
# (how videos are to be read at predict time, pipeline/train/bundle.py)
POSE_KEYS = ("pose.backend", "pose.min_decoded_fraction", "pose.min_frames",
             *(f"pose.{section}" for section in SETTINGS_SECTIONS))
KEYPOINT_KEYS = ("keypoints.normalise", "keypoints.min_score", "keypoints.mirror_left_handed")

STAGE_PARAMS = {
    "sources": ("dataset", "datasets"),
    "manifest": ("dataset", "seed", "synthetic", "datasets"),
    "pose": (*POSE_KEYS, "pose.shard_size", "pose.on_error"),
    "keypoints": ("keypoints.preset", *KEYPOINT_KEYS),
    "kb-index": ("knowledge.encoder",),
    "describe": ("describe.provider", "describe.synonyms", "describe.top_k", "describe.min_score",
                 "describe.allow_missing", "describe.languages", "describe.report_classes", "describe.openai",
                 "knowledge.encoder"),
    "embed": ("embed.encoder",),
    "train": ("dataset", "seed", "model", "train", "mc", *POSE_KEYS),
    "ensemble": ("dataset", "ensemble"),
    "tables": ("dataset", "seed", "ablations.runs", "mc.descriptions", "mc.weight", "mc.temperature",
               "keypoints.preset", "describe.variants"),
    "zeroshot": ("dataset", "seed", "model", "train", *(f"mc.{k}" for k in ZEROSHOT_MC_KEYS), "zeroshot"),
    "figures": (),
    "page": (),
}
UNUSED_KEYS = ("pose.workers", "describe.cache_dir", "embed.cache", "ablations.keypoints",
               "experiments", "presets", "knowledge.path", "resources")
SCHEMA = Path(__file__).resolve().parent / "params.schema.json"


@cache
def preset_sections() -> tuple[str, ...]:
    """The sections a preset may override (the schema's presets.<dataset> properties)."""
    schema = json.loads(SCHEMA.read_text())
    return tuple(schema["properties"]["presets"]["additionalProperties"]["properties"])


def stage_params(command: str, *, preset: bool = False, ablation: str | None = None) -> tuple[str, ...]:
    """The keys `python -m pipeline <command>` depends on. preset: keypoints --preset (the
    preset is the command's, not keypoints.preset); ablation: train --ablation RUN (its run's
    terms, descriptions, keypoints and stream)."""
    if command not in STAGE_PARAMS:
        raise ValueError(f"{command!r}: no such stage (pipeline/stage_params.py lists {sorted(STAGE_PARAMS)})")
    keys = [k for k in STAGE_PARAMS[command] if not (preset and k == "keypoints.preset")]
    if ablation is not None:
        keys.append(f"ablations.runs.{ablation}")
    return tuple(keys)


def reads_preset(keys: tuple[str, ...]) -> bool:
    """Whether presets.<dataset> can change one of `keys` (DVC must then list it)."""
    sections = preset_sections()
    return any(k.split(".")[0] in sections for k in keys)


def lookup(params: dict, key: str):
    """params['a']['b'] for 'a.b'; a KeyError names the key."""
    value = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"params: {key} not found")
        value = value[part]
    return value
