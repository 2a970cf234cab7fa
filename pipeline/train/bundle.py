"""A trained stream's self-description, ``bundle.json`` beside its ``model.pt``.

It records everything inference needs, so that nothing can be mismatched when a run is
used on new data: the stream, the keypoint preset (133-layout indices, bone tree, parts)
and how clips were prepared (normalisation, min score, left-hand mirroring), the window
and test crop, the classes (label and gloss), the pose backend and its settings, the
package versions and a digest of the params. Loading a bundle (``pipeline.infer``) needs
neither the run's other folders nor params.yaml. The model file's sha256 is recorded, so
a bundle paired with another run's weights is refused.
"""
from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..io import file_digest, write_json
from ..names import BUNDLE  # noqa: F401  (re-exported: the file this module writes)

FORMAT = "gspmc-stream-bundle/1"
# what the keypoints stage records in its shards about how a clip was prepared
CLIP_SETTINGS = ("normalise", "min_score", "mirror_left_handed")
PACKAGES = ("gspmc-pipeline", "torch", "numpy", "mediapipe", "opencv-contrib-python")
# the pose params a backend needs besides its own section (pose.<SETTINGS[backend]>)
POSE_CHECKS = ("min_decoded_fraction", "min_frames")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def params_digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def keypoint_spec(meta: dict, source: str) -> dict:
    """The preset and preparation settings of a keypoint folder, from its shard metadata."""
    missing = [k for k in ("layout", "indices", "parents", "parts", "normalised", "min_score", "mirror_left_handed")
               if k not in meta]
    if missing:
        raise ValueError(f"{source}: the keypoint shards do not record {', '.join(missing)} (written by an older "
                         f"version): rebuild them (snakemake --forcerun keypoints)")
    return {"preset": meta["layout"], "indices": list(meta["indices"]), "parents": list(meta["parents"]),
            "parts": {k: list(v) for k, v in meta["parts"].items()}, "normalise": bool(meta["normalised"]),
            "min_score": float(meta["min_score"]), "mirror_left_handed": bool(meta["mirror_left_handed"])}


def pose_spec(pose_cfg: dict, meta: dict) -> dict:
    """The pose backend the keypoints came from and every backend's settings: a run trained
    on imported or synthetic keypoints still says how videos were meant to be read."""
    from ..pose.backends.registry import SETTINGS

    source = meta.get("source", {})
    return {"backend": pose_cfg["backend"], "backend_version": source.get("backend_version"),
            **{k: pose_cfg[k] for k in POSE_CHECKS},
            **{section: pose_cfg[section] for section in sorted(set(SETTINGS.values()))}}


def stream_bundle(params: dict, stream: str, mc_cfg: dict, meta: dict, classes: pd.DataFrame, num_points: int,
                  model_file: Path, keypoints_dir: Path) -> dict:
    """``mc_cfg``: the MC settings the run trained with (an ablation run's own terms)."""
    cfg = params["train"]
    return {
        "format": FORMAT,
        "stream": stream,
        "dataset": params["dataset"],
        "model": {"file": model_file.name, "sha256": file_digest(model_file), "num_class": int(len(classes)),
                  "num_points": int(num_points), "in_channels": 3, "cfg": params["model"]},
        "keypoints": keypoint_spec(meta, str(keypoints_dir)),
        "clip": {"window": cfg["window"], "test_crop": cfg["test_crop"]},
        # how training scored val and test: the same batches and threads give the same bits
        "scoring": {"batch_size": cfg["batch_size"], "threads": cfg["threads"]},
        "classes": [{"label": int(r.label), "gloss": str(r.gloss)} for r in classes.itertuples()],
        "pose": pose_spec(params["pose"], meta),
        "mc": {"terms": list(mc_cfg["terms"]), "descriptions": mc_cfg["descriptions"]},
        "seed": params["seed"],
        "params_sha256": params_digest(params),
        "versions": package_versions(),
    }


def write_bundle(out_dir: Path, bundle: dict) -> Path:
    path = Path(out_dir) / BUNDLE
    write_json(path, bundle)
    return path
