"""The ensemble and table stage entries."""
from __future__ import annotations

import logging
from pathlib import Path

from ..io import write_json
from ..names import STREAMS
from .ensemble import ensemble
from .run_record import run_record

log = logging.getLogger(__name__)


def run_ensemble(params: dict, train_dir: Path, out: Path, run_file: Path | None = None) -> dict:
    """``run_file``: where to write run.json, the run bundle predict and evaluate load."""
    dirs = {s: Path(train_dir) / s for s in STREAMS}
    for s, d in dirs.items():
        if not (d / "scores.npz").exists():
            raise FileNotFoundError(f"{d / 'scores.npz'}: stream {s} has not been trained")
    cfg = params["ensemble"]
    metrics = ensemble(dirs, cfg["weights"], cfg["tune_on_val"], cfg["rule"])
    metrics["dataset"] = params["dataset"]
    if run_file is not None:
        write_json(run_file, run_record(dirs, run_file, params["dataset"], metrics["ensemble"]))
    write_json(out, metrics)
    e = metrics["ensemble"]
    log.info("ensemble (%s, %s weights %s): test top-1 %.3f top-5 %.3f (chance %.3f) -> %s", e["rule"],
             e["weights_source"], e["weights"], e["test"]["top1"], e["test"]["top5"], metrics["chance_top1"], out)
    return metrics


def run_tables(params: dict, results_dir: Path, out_dir: Path) -> None:
    from .tables import write_tables

    written = write_tables(params, Path(results_dir), Path(out_dir))
    log.info("tables: %d files -> %s", len(written), out_dir)
