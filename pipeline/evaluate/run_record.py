"""``run.json``: the run bundle the ensemble stage writes beside metrics.json. It names
the streams (folders relative to it, each with its own bundle.json), the weights and the
rule that combine their scores, so `predict` and `evaluate` combine streams exactly as the
ensemble stage did, without params.yaml."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..names import BUNDLE

RUN = "run.json"
RUN_FORMAT = "gspmc-run/1"
# what every stream of one run must share: the same classes of the same keypoints
SHARED = ("classes", "keypoints")


def read_bundle(stream_dir: Path) -> dict:
    path = Path(stream_dir) / BUNDLE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no bundle (a run trained before bundles existed: retrain it, "
                                f"e.g. snakemake --forcerun train)")
    return json.loads(path.read_text())


def check_bundles_agree(bundles: dict[str, dict]) -> None:
    """Streams combined by one ensemble must score the same classes from the same keypoints."""
    first, ref = next(iter(bundles.items()))
    for name, bundle in bundles.items():
        for key in SHARED:
            if bundle[key] != ref[key]:
                raise ValueError(f"stream {name}'s bundle differs from stream {first}'s in {key!r}: "
                                 f"they cannot be combined")


def run_record(stream_dirs: dict[str, Path], run_file: Path, dataset: str, ensemble: dict) -> dict:
    """``ensemble``: the "ensemble" entry of the metrics (weights, rule, where the weights came from)."""
    check_bundles_agree({s: read_bundle(d) for s, d in stream_dirs.items()})
    here = Path(run_file).resolve().parent
    return {"format": RUN_FORMAT, "dataset": dataset,
            # a list: the ensemble stage's order, so scores are summed in the same order
            "streams": [{"stream": s, "dir": os.path.relpath(Path(d).resolve(), here)} for s, d in stream_dirs.items()],
            "weights": ensemble["weights"], "rule": ensemble["rule"], "weights_source": ensemble["weights_source"]}


def read_run(path: Path) -> tuple[Path, dict] | None:
    """``path``: a run folder with run.json, or run.json itself -> (run.json, its record);
    None when there is no run.json (a stream folder, say)."""
    path = Path(path)
    run_file = path if path.suffix == ".json" else path / RUN
    if not run_file.is_file():
        return None
    record = json.loads(run_file.read_text())
    if record.get("format") != RUN_FORMAT:
        raise ValueError(f"{run_file}: format {record.get('format')!r}, expected {RUN_FORMAT!r}")
    return run_file, record


def run_bundle(path: Path) -> dict:
    """The bundle of a run's first stream (what every stream shares), or of the stream
    folder ``path``."""
    found = read_run(path)
    if found is None:
        return read_bundle(path)
    run_file, record = found
    return read_bundle(run_file.parent / record["streams"][0]["dir"])
