"""The ensemble and table stage entries."""
from __future__ import annotations

import logging
from pathlib import Path

from ..io import write_json, write_text
from ..train.streams import STREAMS
from .ensemble import ensemble

log = logging.getLogger(__name__)


def run_ensemble(params: dict, train_dir: Path, out: Path) -> dict:
    dirs = {s: Path(train_dir) / s for s in STREAMS}
    for s, d in dirs.items():
        if not (d / "scores.npz").exists():
            raise FileNotFoundError(f"{d / 'scores.npz'}: stream {s} has not been trained")
    cfg = params["ensemble"]
    metrics = ensemble(dirs, cfg["weights"], cfg["tune_on_val"])
    metrics["dataset"] = params["dataset"]
    write_json(out, metrics)
    e = metrics["ensemble"]
    log.info("ensemble (%s weights %s): test top-1 %.3f top-5 %.3f (chance %.3f) -> %s", e["weights_source"],
             e["weights"], e["test"]["top1"], e["test"]["top5"], metrics["chance_top1"], out)
    return metrics


def run_ablation_table(params: dict, ablations_dir: Path, out_dir: Path) -> Path:
    from .ablations import ablation_table, table_markdown

    cfg = params["ablations"]
    table = ablation_table(ablations_dir, cfg["run"], cfg["streams"], cfg["terms"])
    out_dir = Path(out_dir)
    write_text(out_dir / "table5.csv", table.to_csv(index=False))
    note = (f"Measured: test top-1 on `{params['dataset']}`, seed {params['seed']}, MC weight "
            f"{params['mc']['weight']}, temperature {params['mc']['temperature']}, texts `{params['mc']['descriptions']}`. "
            "Synonym = synonym term, Prompt = global-description term, Multipart = part terms; all rows train CE. "
            "Published: the paper's Table 5 (one stream; the paper does not say which).")
    write_text(out_dir / "table5.md", table_markdown("Table 5: MC terms ablation", table, note))
    log.info("table 5 (%d ablations x %d streams) -> %s", len(table), len(cfg["streams"]), out_dir / "table5.md")
    return out_dir / "table5.md"
