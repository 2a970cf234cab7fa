"""The report's figures (`snakemake --report`): each stream's training curves from its
log.csv, and the ensemble's test confusion matrix from the streams' scores combined as the
ensemble stage combined them (run.json's weights and rule). Beside the confusion matrix,
predictions.csv holds the same test predictions one clip a row (sample, actual, predicted:
glosses), the data of DVC's `confusion` plot.

One PNG per stream, not one figure for all: the report lists each with its stream as a
label, each training job's log has its own figure, and a stream's panels keep their own
scales. PNGs are deterministic: no timestamp or software name in their metadata.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from ..metrics import confusion_matrix
from .ensemble import combine, load_stream_scores

log = logging.getLogger(__name__)

CURVES = "curves-{stream}.png"
CONFUSION = "confusion.png"
PREDICTIONS = "predictions.csv"   # the confusion matrix's clips, for `dvc plots` (template: confusion)
LABEL_TICKS_UP_TO = 60      # classes: above this the axes carry no glosses (unreadable)
ANNOTATE_UP_TO = 30         # classes: up to this each cell shows its count


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), every text literal: class
    names are data, and two '$' in one would otherwise be read as mathtext (issue 28)."""
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt
    return plt


def save_png(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically, without metadata that changes from run to run."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    pyplot().close(fig)


def _column(log_df: pd.DataFrame, name: str) -> pd.Series | None:
    """A numeric log column, or None when it is absent or empty (no validation split)."""
    if name not in log_df:
        return None
    values = pd.to_numeric(log_df[name], errors="coerce")
    return None if values.isna().all() else values


def plot_training_curves(log_df: pd.DataFrame, stream: str, path: Path) -> None:
    """Three panels per epoch: losses (training total, its MC part, validation CE), the
    learning rate, and top-1 on the training batches and the validation split."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epoch = log_df["epoch"]
    fig, (loss_ax, lr_ax, acc_ax) = plt.subplots(1, 3, figsize=(11, 3.2))
    for name, label in (("train_loss", "train (CE + MC)"), ("train_mc_loss", "train MC terms (mean)"),
                        ("val_loss", "val CE")):
        values = _column(log_df, name)
        if values is not None and (name != "train_mc_loss" or values.abs().sum() > 0):
            loss_ax.plot(epoch, values, marker=".", label=label)
    loss_ax.set(title="loss", xlabel="epoch")
    lr_ax.plot(epoch, log_df["lr"], marker=".", color="tab:gray")
    lr_ax.set(title="learning rate", xlabel="epoch")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    for name, label in (("train_top1", "train"), ("val_top1", "val")):
        values = _column(log_df, name)
        if values is not None:
            acc_ax.plot(epoch, 100 * values, marker=".", label=label)
    acc_ax.set(title="top-1 (%)", xlabel="epoch", ylim=(0, 100))
    if _column(log_df, "val_top1") is None:
        acc_ax.text(0.5, 0.05, "no validation split", transform=acc_ax.transAxes, ha="center", fontsize=8)
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize=7)
    for ax in (loss_ax, lr_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"{stream} stream")
    fig.tight_layout()
    save_png(fig, path)


def plot_confusion(confusion: np.ndarray, glosses: list[str], path: Path, title: str) -> None:
    """Rows: true class, columns: predicted; colour = share of the true class's clips, so
    classes with more test clips do not dominate."""
    plt = pyplot()
    num = len(confusion)
    if len(glosses) != num:
        raise ValueError(f"{num} classes in the confusion matrix, {len(glosses)} glosses")
    rows = confusion.sum(1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    side = min(max(4.0, 0.28 * num + 2.0), 30.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's test clips")
    if num <= LABEL_TICKS_UP_TO:
        ax.set_xticks(range(num), glosses, rotation=90, fontsize=7)
        ax.set_yticks(range(num), glosses, fontsize=7)
    if num <= ANNOTATE_UP_TO:
        for (i, j), count in np.ndenumerate(confusion):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    save_png(fig, path)


def _run_record(run_file: Path) -> tuple[Path, dict]:
    from .run_record import read_run

    found = read_run(run_file)
    if found is None:
        raise FileNotFoundError(f"{run_file}: no run record (run.json, written by the ensemble stage)")
    return found


def ensemble_test_scores(run_file: Path, record: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ensemble's test clips: their sample ids, true labels and combined scores, every
    stream's test scores (``record``, run.json, in its order) combined with its weights and
    rule, as the ensemble stage combined them."""
    loaded = {e["stream"]: load_stream_scores(Path(run_file).parent / e["dir"] / "scores.npz")
              for e in record["streams"]}
    first = next(iter(loaded.values()))
    scores = combine({s: z["test_scores"] for s, z in loaded.items()},
                     {s: float(w) for s, w in record["weights"].items()}, record["rule"])
    return first["test_ids"], first["test_labels"], scores


def ensemble_test_confusion(run_file: Path, record: dict) -> np.ndarray:
    """The ensemble's test confusion matrix (``ensemble_test_scores``)."""
    _, labels, scores = ensemble_test_scores(run_file, record)
    return confusion_matrix(scores, labels)


def write_predictions(ids: np.ndarray, labels: np.ndarray, scores: np.ndarray, glosses: list[str],
                      path: Path) -> None:
    """One test clip a row: its sample id, true and top-1 predicted gloss (the confusion
    matrix's cells, as DVC's `confusion` plot template reads them)."""
    frame = pd.DataFrame({"sample": [str(i) for i in ids],
                          "actual": [glosses[int(k)] for k in labels],
                          "predicted": [glosses[int(k)] for k in np.asarray(scores).argmax(1)]})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def run_figures(run_file: Path, classes_path: Path, out_dir: Path) -> list[Path]:
    """Training curves of every stream of the run and the ensemble's test confusion matrix
    (returned: these PNGs), and the matrix's clips as predictions.csv beside them."""
    from ..data.manifest import read_classes

    run_file, record = _run_record(run_file)
    out_dir = Path(out_dir)
    written = []
    for entry in record["streams"]:
        path = out_dir / CURVES.format(stream=entry["stream"])
        plot_training_curves(pd.read_csv(run_file.parent / entry["dir"] / "log.csv"), entry["stream"], path)
        written.append(path)
    ids, labels, scores = ensemble_test_scores(run_file, record)
    confusion = confusion_matrix(scores, labels)
    glosses = [str(g) for g in read_classes(classes_path)["gloss"]]
    top1 = np.trace(confusion) / max(int(confusion.sum()), 1)
    path = out_dir / CONFUSION
    plot_confusion(confusion, glosses, path, f"{record['dataset']}: {len(record['streams'])}-stream ensemble, "
                   f"test ({record['rule']} rule), top-1 {100 * top1:.1f} %")
    written.append(path)
    # the same clips as data, for `dvc plots` (not a figure: not in the list returned)
    write_predictions(ids, labels, scores, glosses, out_dir / PREDICTIONS)
    log.info("figures: %d files and %s -> %s", len(written), PREDICTIONS, out_dir)
    return written
