"""Table 5: test top-1 of each MC-terms ablation, per trained stream, beside the paper's."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .published import TABLE5_DATASET, TABLE5_TOP1

# Paper column -> our MC term.
TABLE5_COLUMNS = {"Synonym": "synonym", "Prompt": "global", "Multipart": "parts"}


def ablation_table(ablations_dir: Path, run: list[str], streams: list[str], terms: dict[str, list[str]]) -> pd.DataFrame:
    """One row per ablation in `run`: its terms as paper-style ticks, the measured test top-1
    (%) of every stream in `streams`, and the published number for the same terms (or None)."""
    rows = []
    for name in run:
        chosen = set(terms[name])
        row = {"ablation": name, **{col: "✓" if term in chosen else "–" for col, term in TABLE5_COLUMNS.items()}}
        for stream in streams:
            path = Path(ablations_dir) / name / stream / "metrics.json"
            if not path.exists():
                raise FileNotFoundError(f"{path}: ablation {name!r} has not been trained for stream {stream}")
            row[f"{stream} top-1 (%)"] = round(100 * json.loads(path.read_text())["test"]["top1"], 2)
        row[f"published {TABLE5_DATASET} (%)"] = TABLE5_TOP1.get(frozenset(chosen))
        rows.append(row)
    return pd.DataFrame(rows)


def table_markdown(title: str, table: pd.DataFrame, note: str = "") -> str:
    body = table.to_markdown(index=False, floatfmt=".2f", missingval="–")
    return f"# {title}\n\n{body}\n" + (f"\n{note}\n" if note else "")
