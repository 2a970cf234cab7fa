"""The paper's Tables 2-6 from the runs under results/, each measured column beside the
published one. A cell without a run says "not run" (with the reason when one is known).

Runs: Table 2 is the main DAG of the dataset (train/ + metrics.json); Tables 4-6 are rows
of `ablations.runs` (one stream each), matched by what they train with (MC terms,
description variant, keypoint preset, stream), so one run can fill a cell in several
tables; Table 3 is AUTSL's main DAG: measured when the dataset is autsl. The stage reads
only its own dataset's folder, which its DAG declares (another dataset's tree changes
without this stage knowing).

Table 4's row names are the paper's ("+ LLM" meant Moonshot there); its "descriptions by"
column names what produced our texts, read from the provenance of
results/<ds>/descriptions/<variant>.jsonl, so a row the offline composer filled says so.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.wholebody import get_preset
from ..metrics import confusion_matrix, per_class_accuracy
from ..names import MC_TERMS as TERMS
from ..names import STREAMS
from .figures import pyplot, save_png
from .pages import markdown_page
from .published import TABLE2_SLR500, TABLE3_AUTSL, TABLE4_ROWS, TABLE5_TOP1, TABLE6

NOT_RUN = "not run"
TERM_COLUMNS = {"Synonym": "synonym", "Prompt": "global", "Multipart": "parts"}
TABLE_STREAM = "joint"      # Tables 4-6 report one stream


def find_run(runs: dict, terms: frozenset, descriptions: str | None, keypoints: str,
             stream: str = TABLE_STREAM) -> str | None:
    """The first run training with exactly these terms on this preset and stream; the
    description variant only matters when there are MC terms (CE reads no text)."""
    for name, run in runs.items():
        if (frozenset(run["terms"]) == terms and run["keypoints"] == keypoints and run["stream"] == stream
                and (not terms or descriptions is None or run["descriptions"] == descriptions)):
            return name
    return None


def _pct(value: float) -> float:
    return round(100 * value, 2)


def run_metrics(ablations_dir: Path, name: str | None) -> dict | None:
    path = Path(ablations_dir) / name / "metrics.json" if name is not None else None
    return json.loads(path.read_text()) if path is not None and path.exists() else None


def run_top1(ablations_dir: Path, name: str | None) -> float | str:
    metrics = run_metrics(ablations_dir, name)
    return NOT_RUN if metrics is None else _pct(metrics["test"]["top1"])


def texts_used(text: dict | None) -> str:
    """A run's texts in words: the encoder, and per MC term how many classes had texts (how
    many of them degenerate), from metrics.json's ``text``; CE alone reads none."""
    if text is None:
        return "none (CE only)"
    shown = [(term, text["terms"][term]) for term in TERMS if term in text["terms"]]     # in the paper's order
    terms = "; ".join(f"{term} {e['classes_with_texts']}/{text['classes']}"
                      + (f" ({e['degenerate_classes']} degenerate)" if e.get("degenerate_classes") else "")
                      for term, e in shown)
    return f"{text['encoder']} ({text['dim']}-d): {terms}"


def run_texts(ablations_dir: Path, name: str | None) -> str:
    metrics = run_metrics(ablations_dir, name)
    return "–" if metrics is None else texts_used(metrics.get("text"))


def main_texts(metrics_path: Path) -> str:
    """The main DAG's texts (metrics.json ``text``: the same for every stream), in words."""
    if not Path(metrics_path).exists():
        return NOT_RUN
    metrics = json.loads(Path(metrics_path).read_text())
    streams = metrics["streams"]
    if metrics.get("text") is None and any(m.get("text") for m in streams.values()):
        return "; ".join(f"{s}: {texts_used(m.get('text'))}" for s, m in streams.items())
    return texts_used(metrics.get("text"))


def table2(metrics_path: Path) -> pd.DataFrame:
    metrics = json.loads(Path(metrics_path).read_text()) if Path(metrics_path).exists() else None
    rows = []
    for part in [*STREAMS, "ensemble"]:
        measured = NOT_RUN
        if metrics is not None:
            m = metrics["ensemble"] if part == "ensemble" else metrics["streams"][part]
            measured = _pct(m["test"]["top1"])
        rows.append({"stream": "4-stream ensemble" if part == "ensemble" else part, "measured top-1 (%)": measured,
                     "published SLR-500 (%)": TABLE2_SLR500[part]})
    return pd.DataFrame(rows)


def table3(metrics_path: Path, dataset: str) -> pd.DataFrame:
    ens = None
    if dataset == "autsl" and Path(metrics_path).exists():
        ens = json.loads(Path(metrics_path).read_text())["ensemble"]["test"]
    missing = NOT_RUN if dataset == "autsl" else f"{NOT_RUN} (dataset: autsl's tables)"
    return pd.DataFrame([{"metric": k.replace("top", "top-"), "measured AUTSL (%)": _pct(ens[k]) if ens else missing,
                          "published AUTSL (%)": v} for k, v in TABLE3_AUTSL.items()])


def provider_name(provenance: dict) -> str:
    """Who wrote a description, in words that never call the offline composer an LLM."""
    if provenance["provider"] == "offline":
        return "offline composer (no LLM)"
    if provenance["provider"] == "none":
        return "label names (no LLM)"
    return f"{provenance['provider']}: {provenance['model']}"


def descriptions_by(descriptions_dir: Path, variant: str | None) -> str:
    """The provider(s) named in a variant's descriptions provenance ("–" for no text)."""
    if variant is None:
        return "–"
    path = Path(descriptions_dir) / f"{variant}.jsonl"
    if not path.exists():
        return f"unknown ({variant}.jsonl not written)"
    names = [provider_name(json.loads(line)["provenance"]) for line in path.read_text().splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(names)) or f"unknown ({variant}.jsonl is empty)"


def table4(runs: dict, ablations_dir: Path, preset: str, variants: list[str], descriptions_dir: Path) -> pd.DataFrame:
    rows = []
    for label, terms, variant, published in TABLE4_ROWS:
        name = find_run(runs, terms, variant, preset)
        measured = run_top1(ablations_dir, name)
        if name is None and variant is not None and variant not in variants:
            measured = f"{NOT_RUN} (describe.variants lacks {variant})"
        rows.append({"row": label, "descriptions": variant or "–",
                     "descriptions by": descriptions_by(descriptions_dir, variant), "run": name or "–",
                     "texts (classes with texts per term)": run_texts(ablations_dir, name),
                     "measured top-1 (%)": measured, "published SLR-500 (%)": published})
    return pd.DataFrame(rows)


def table5(runs: dict, ablations_dir: Path, preset: str, variant: str) -> pd.DataFrame:
    rows = []
    for terms, published in TABLE5_TOP1.items():
        name = find_run(runs, terms, variant, preset)
        rows.append({**{col: "✓" if t in terms else "–" for col, t in TERM_COLUMNS.items()}, "run": name or "–",
                     "texts (classes with texts per term)": run_texts(ablations_dir, name),
                     "measured top-1 (%)": run_top1(ablations_dir, name), "published SLR-500 (%)": published})
    return pd.DataFrame(rows)


def table6(runs: dict, ablations_dir: Path, variant: str) -> pd.DataFrame:
    rows = []
    for preset, (paper_name, _points, ce_pub, _parts, mp_pub) in TABLE6.items():
        ours = get_preset(preset)
        ce = run_top1(ablations_dir, find_run(runs, frozenset(), variant, preset))
        mp_run = find_run(runs, frozenset({"parts"}), variant, preset)
        mp = run_top1(ablations_dir, mp_run)
        rows.append({"preset": preset, "paper": paper_name, "keypoints": ours.num_points, "parts": len(ours.parts),
                     "measured CE (%)": ce, "measured + Multipart (%)": mp,
                     "+ Multipart texts": run_texts(ablations_dir, mp_run),
                     "gain (points)": round(mp - ce, 2) if isinstance(ce, float) and isinstance(mp, float) else "–",
                     "published (%)": ce_pub, "published + Multipart (%)": mp_pub if mp_pub is not None else "–"})
    return pd.DataFrame(rows)


def _per_class(scores_path: Path, num_class: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(scores_path) as z:
        labels, scores = z["test_labels"], z["test_scores"]
    if scores.shape[1] != num_class:
        raise ValueError(f"{scores_path}: scores for {scores.shape[1]} classes, the class list has {num_class}")
    acc, n = per_class_accuracy(confusion_matrix(scores, labels))
    return acc, n, np.stack([labels, scores.argmax(1)], 1)


def classwise(runs: dict, ablations_dir: Path, preset: str, variant: str, classes: pd.DataFrame
              ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
    """Per-class test accuracy of full GSP-MC vs CE only (paper Fig. 6) and the GSP-MC
    run's most confused pairs; None with the reason when either run is missing."""
    ce = find_run(runs, frozenset(), variant, preset)
    mc = find_run(runs, frozenset(TERMS), variant, preset)
    paths = {k: Path(ablations_dir) / n / "scores.npz" for k, n in (("ce", ce), ("mc", mc)) if n}
    if len(paths) < 2 or not all(p.exists() for p in paths.values()):
        return None, None, (f"{NOT_RUN}: needs a CE-only run and a full GSP-MC run ({', '.join(TERMS)}) on "
                            f"{preset}, {variant}, {TABLE_STREAM} in ablations.runs")
    num = len(classes)
    acc_ce, n, _ = _per_class(paths["ce"], num)
    acc_mc, _, pairs = _per_class(paths["mc"], num)
    per_class = pd.DataFrame({"label": classes["label"], "gloss": classes["gloss"], "test samples": n,
                              "CE only (%)": np.round(100 * acc_ce, 2), "GSP-MC (%)": np.round(100 * acc_mc, 2)})
    per_class["gain (points)"] = (per_class["GSP-MC (%)"] - per_class["CE only (%)"]).round(2)
    per_class = per_class.sort_values(["gain (points)", "label"], ascending=[False, True], ignore_index=True)
    wrong = pairs[pairs[:, 0] != pairs[:, 1]]
    confused = (pd.DataFrame(wrong, columns=["true", "predicted"]).value_counts().rename("count").reset_index()
                .sort_values(["count", "true", "predicted"], ascending=[False, True, True], ignore_index=True))
    gloss = dict(zip(classes["label"], classes["gloss"]))
    confused.insert(1, "true gloss", confused["true"].map(gloss))
    confused.insert(3, "predicted gloss", confused["predicted"].map(gloss))
    return per_class, confused, f"CE only = run `{ce}`, GSP-MC = run `{mc}` ({TABLE_STREAM} stream, test split)"


def plot_classwise(per_class: pd.DataFrame, path: Path, dataset: str) -> None:
    fig, ax = pyplot().subplots(figsize=(max(6.0, 0.22 * len(per_class)), 3.6))
    gains = per_class["gain (points)"].to_numpy()
    ax.bar(range(len(gains)), gains, color=np.where(gains >= 0, "#2b7bba", "#d9534f"))
    ax.set_xticks(range(len(gains)), per_class["gloss"], rotation=90, fontsize=7)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("GSP-MC minus CE only (points)")
    ax.set_title(f"Per-class test top-1 gain on {dataset}")
    fig.tight_layout()
    save_png(fig, path)


def plot_not_run(reason: str, path: Path) -> None:
    fig = pyplot().figure(figsize=(6, 1.2))
    fig.text(0.5, 0.5, reason, ha="center", va="center", wrap=True, fontsize=8)
    save_png(fig, path)


def _markdown(title: str, table: pd.DataFrame, note: str) -> str:
    # columns mixing numbers and "not run" are text to tabulate: format their numbers here
    shown = table.apply(lambda col: col.map(lambda v: f"{v:.2f}" if isinstance(v, float) else v)
                        if col.dtype == object else col)
    body = shown.to_markdown(index=False, floatfmt=".2f")
    return f"# {title}\n\n{body}\n\n{note}\n"


def write_tables(params: dict, results_dir: Path, out_dir: Path) -> list[Path]:
    """Tables 2-6, the class-wise gains (table and plot) and the confusion summary, from
    ``results_dir`` (results/<dataset>)."""
    from ..data.manifest import read_classes
    from ..io import write_text

    def write_doc(name: str, markdown: str) -> None:
        """name.md and its HTML page name.html (what snakemake's report shows)."""
        write_text(out_dir / f"{name}.md", markdown)
        write_text(out_dir / f"{name}.html", markdown_page(markdown))

    ds = params["dataset"]
    res = Path(results_dir)
    runs, abl = params["ablations"]["runs"], res / "ablations"
    preset, variant = params["keypoints"]["preset"], params["mc"]["descriptions"]
    setup = (f"Measured on `{ds}` (test split, seed {params['seed']}); MC weight {params['mc']['weight']}, "
             f"temperature {params['mc']['temperature']}.")
    main = (f"{setup} Texts aligned with (text encoder; classes with texts per MC term): "
            f"{main_texts(res / 'metrics.json')}.")
    encoder_note = ("Each run's `texts` column names its text encoder (the paper's: CLIP's) and, per MC term, "
                    "for how many classes it had texts (and how many of those synonym sets were degenerate).")
    texts_by = descriptions_by(res / "descriptions", variant)
    one = (f"One stream ({TABLE_STREAM}) per row, keypoints `{preset}`, descriptions `{variant}` (by {texts_by}) "
           f"unless the row says.")
    rows_named = ("Row names are the paper's (its descriptions came from an LLM, Moonshot); `descriptions by` "
                  "names what wrote ours, from the descriptions' provenance.")
    tables = {
        "table2": ("Table 2: each stream and the 4-stream ensemble", table2(res / "metrics.json"), main),
        "table3": ("Table 3: AUTSL", table3(res / "metrics.json", ds),
                   "Measured: the 4-stream ensemble when this dataset is autsl (the tables stage of "
                   "`dataset: autsl`)."),
        "table4": ("Table 4: description sources (MC term: Multipart)",
                   table4(runs, abl, preset, params["describe"]["variants"], res / "descriptions"),
                   f"{setup} {one} {rows_named} {encoder_note}"),
        "table5": ("Table 5: MC terms on top of CE", table5(runs, abl, preset, variant),
                   f"{setup} {one} Synonym = synonym term, Prompt = global-description term, Multipart = part terms. "
                   f"{encoder_note}"),
        "table6": ("Table 6: keypoint presets, CE only and with the part terms", table6(runs, abl, variant),
                   f"{setup} One stream ({TABLE_STREAM}) per cell. Parts: the preset's part groups that have points. "
                   f"{encoder_note}"),
    }
    written = []
    for name, (title, table, note) in tables.items():
        write_text(out_dir / f"{name}.csv", table.to_csv(index=False))
        write_doc(name, _markdown(title, table, note))
        written += [out_dir / f"{name}.{ext}" for ext in ("md", "html", "csv")]
    per_class, confused, note = classwise(runs, abl, preset, variant, read_classes(res / "classes.csv"))
    if per_class is None:
        write_text(out_dir / "classwise.csv", "")
        write_doc("classwise", f"# Class-wise gain (paper Fig. 6)\n\n{note}\n")
        write_doc("confusion", f"# Confusion summary\n\n{note}\n")
        plot_not_run(note, out_dir / "classwise.png")
    else:
        write_text(out_dir / "classwise.csv", per_class.to_csv(index=False))
        k = min(10, len(per_class))
        write_doc("classwise", "\n".join([
            "# Class-wise gain (paper Fig. 6): GSP-MC vs CE only", "", note, "",
            f"Mean gain {per_class['gain (points)'].mean():.2f} points; {int((per_class['gain (points)'] > 0).sum())} "
            f"classes gain, {int((per_class['gain (points)'] < 0).sum())} lose.", "",
            "## Largest gains", "", per_class.head(k).to_markdown(index=False, floatfmt=".2f"), "",
            "## Largest drops", "", per_class.tail(k).iloc[::-1].to_markdown(index=False, floatfmt=".2f"), ""]))
        write_doc("confusion", "\n".join([
            "# Confusion summary (GSP-MC run)", "", note, "",
            f"{int(confused['count'].sum())} test errors; the most frequent (true -> predicted) pairs:", "",
            confused.head(15).to_markdown(index=False), ""]))
        plot_classwise(per_class, out_dir / "classwise.png", ds)
    return written + [out_dir / n for n in ("classwise.md", "classwise.html", "classwise.csv", "classwise.png",
                                            "confusion.md", "confusion.html")]
