"""`predict`: videos or keypoint files in, each one's top-k glosses out, through the run's
own pose backend, preset, streams and ensemble (all from its bundles)."""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..evaluate.ensemble import softmax
from ..io import write_json, write_text
from .inputs import Clip, ClipReader, expand_inputs, video_pose_settings
from .run import TrainedRun

log = logging.getLogger(__name__)

CHUNK = 256       # clips scored at once: memory stays bounded however many files come in
CSV_FIELDS = ["input", "rank", "label", "gloss", "score", "softmax", "error"]


def top_k(combined: np.ndarray, glosses: list[str], k: int) -> list[dict]:
    """The k best classes of one clip. ``score`` is the ensemble's combined score (what its
    argmax decides on); ``softmax`` of it is a relative confidence, not a calibrated one."""
    prob = softmax(combined[None])[0]
    order = np.argsort(-combined, kind="stable")[:k]
    return [{"label": int(c), "gloss": glosses[c], "score": float(combined[c]), "softmax": float(prob[c])}
            for c in order]


def predict(run: TrainedRun, inputs: list[str | Path], k: int = 5) -> list[dict]:
    """One entry per clip, in input order: ``input``, ``top`` (k dicts) or ``error``."""
    reader = ClipReader(run.bundle)
    results: list[dict] = []
    pending: list[tuple[int, Clip]] = []

    def flush() -> None:
        if not pending:
            return
        scores = run.stream_scores([c.points for _, c in pending])
        combined = run.combine(scores)
        for row, (slot, clip) in enumerate(pending):
            results[slot] = {"input": clip.name, "top": top_k(combined[row], run.glosses, k), "mirrored": clip.mirrored}
        pending.clear()

    for path in tqdm(expand_inputs(inputs), desc="predict", unit="file", disable=None):
        for clip in reader.read(path):
            if clip.points is None:
                log.warning("skipped %s: %s", clip.name, clip.reason)
                results.append({"input": clip.name, "error": clip.reason})
                continue
            results.append({})
            pending.append((len(results) - 1, clip))
            if len(pending) >= CHUNK:
                flush()
    flush()
    return results


def pose_note(run: TrainedRun) -> str:
    trained = run.bundle["pose"]["backend"]
    used = video_pose_settings(run.bundle["pose"])["backend"]
    return (f"videos read with pose backend {used}" if used == trained else
            f"videos read with pose backend {used} (the run's keypoints came from {trained}, which reads no video)")


def as_table(results: list[dict]) -> str:
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"{r['input']}\n  skipped: {r['error']}")
            continue
        lines.append(r["input"] + ("  (mirrored: left hand leads)" if r.get("mirrored") else ""))
        for rank, t in enumerate(r["top"], 1):
            lines.append(f"  {rank}. {t['gloss']:<24} score {t['score']:9.3f}  softmax {t['softmax']:.3f}")
    return "\n".join(lines)


def as_csv(results: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        if "error" in r:
            writer.writerow({"input": r["input"], "error": r["error"]})
        for rank, t in enumerate(r.get("top", []), 1):
            writer.writerow({"input": r["input"], "rank": rank, **t})
    return buf.getvalue()


def write_results(results: list[dict], run: TrainedRun, json_path: Path | None, csv_path: Path | None) -> None:
    if json_path is not None:
        write_json(json_path, {"run": str(run.source), "streams": list(run.streams), "weights": run.weights,
                               "rule": run.rule, "preset": run.bundle["keypoints"]["preset"],
                               "pose": pose_note(run), "results": results})
    if csv_path is not None:
        write_text(csv_path, as_csv(results))
