"""Bring your own data: a CSV of (path, label, signer, split), or one folder per class.

CSV: `path` is relative to the CSV's folder unless absolute; `label` is the gloss (any
text); `signer` an integer; `split` train/val/test. Folders: <root>/<gloss>/<video>;
without signers or splits, each video goes to val/test by a stable hash of its path with
`val_fraction`/`test_fraction` (the split is then not signer-independent: say so in results).
Class ids follow the sorted glosses (numerically when every gloss is a number).

The input contract, checked before anything is written (a DatasetLayoutError naming the
row or file otherwise): every video resolves (symlinks and `..` followed) inside the CSV's
folder or the root, or inside a folder of `allowed_roots`; every field is filled, without
spaces around it; two entries never name the same video nor make the same sample id.
CSV rows are counted as a spreadsheet shows them: the header is row 1.
"""
from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

import pandas as pd

from ..manifest import SPLITS
from . import VIDEO_SUFFIXES, DatasetLayoutError, Sources, class_frame, manifest_frame

log = logging.getLogger(__name__)

CSV_COLUMNS = ["path", "label", "signer", "split"]


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _sorted_glosses(glosses) -> list[str]:
    unique = sorted(set(glosses))
    return sorted(unique, key=int) if all(_is_number(g) for g in unique) else unique


def _hash_split(key: str, val_fraction: float, test_fraction: float) -> str:
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x100000000
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def _sample_id(rel: str) -> str:
    return str(Path(rel).with_suffix("")).replace("/", "__")


def _text_problem(name: str, value: str | None) -> str | None:
    """Empty, or spaces around it: a gloss ' hello' would silently become a class of its
    own, and a CSV written with ', ' separators puts a space before every field."""
    if value is None or not value.strip():
        return f"empty {name}"
    if value != value.strip():
        return f"{name} {value!r} has spaces around it"
    return None


def _field_problem(row: dict) -> str | None:
    """The first field of a CSV row that breaks the contract, described; None if none does."""
    for column in CSV_COLUMNS:
        problem = _text_problem(column, row[column])
        if problem:
            return problem
    if not _is_number(row["signer"]):
        return f"signer {row['signer']!r} is not an integer"
    if row["split"] not in SPLITS:
        return f"split {row['split']!r} is not one of {', '.join(SPLITS)}"
    return None


def _allowed_roots(cfg: dict, root: Path) -> list[Path]:
    """The dataset's own folder, then datasets.byo.allowed_roots (absent in a hand-made cfg:
    nothing outside), all resolved so that a symlinked root still contains its videos."""
    return [root.resolve()] + [Path(p).resolve() for p in cfg.get("allowed_roots") or []]


def _require_inside(video: Path, roots: list[Path], culprit: str) -> None:
    """A list that reaches outside its dataset (`../../etc/passwd`, a symlink to elsewhere)
    is refused unless a param says that place is data too."""
    target = video.resolve()
    if not any(target.is_relative_to(r) for r in roots):
        raise DatasetLayoutError(f"{culprit} resolves to {target}, outside {', '.join(map(str, roots))}; list the "
                                 f"folder it is in under datasets.byo.allowed_roots if it belongs to the dataset")


def _require_unique(entries: list[tuple[str, str, Path]], source) -> None:
    """entries: (culprit, path as written, video). Two entries for one file would put one
    video in two samples (maybe in train and test); two paths that make one sample id
    (`a/b.mp4`, `a__b.mp4`) would overwrite each other downstream."""
    by_target, by_id = {}, {}
    for culprit, rel, video in entries:
        target, sample_id = video.resolve(), _sample_id(rel)
        if target in by_target:
            raise DatasetLayoutError(f"{source}: {by_target[target]} and {culprit} are the same video ({target})")
        if sample_id in by_id:
            raise DatasetLayoutError(f"{source}: {by_id[sample_id]} and {culprit} both make sample id "
                                     f"{sample_id!r}; rename one of them")
        by_target[target], by_id[sample_id] = culprit, culprit


def _read_csv_rows(path: Path) -> list[tuple[int, dict]]:
    """(row number, row) of every data row, or an error naming the file. utf-8-sig: a
    spreadsheet's byte-order mark would otherwise hide the first column's name."""
    expected = f"expected a header {','.join(CSV_COLUMNS)} and one row per video"
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            rows = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetLayoutError(f"{path}: not a readable UTF-8 CSV ({exc}); {expected}") from exc
    if not header:
        raise DatasetLayoutError(f"{path}: the file is empty; {expected}")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise DatasetLayoutError(f"{path}: missing columns {missing} (expected {','.join(CSV_COLUMNS)})")
    if not rows:
        raise DatasetLayoutError(f"{path}: a header but no rows; {expected}")
    for number, row in rows:
        if None in row:     # DictReader's key for the fields past the header's
            raise DatasetLayoutError(f"{path}: row {number}: {len(header) + len(row[None])} fields, "
                                     f"the header has {len(header)}")
    return rows


def _byo_csv(cfg: dict) -> tuple[list[dict], list[str]]:
    path = Path(cfg["csv"])
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise DatasetLayoutError(f"{path}: datasets.byo.csv {what} (expected columns {','.join(CSV_COLUMNS)})")
    rows = _read_csv_rows(path)
    roots = _allowed_roots(cfg, path.parent)
    entries = []
    for number, row in rows:
        problem = _field_problem(row)
        if problem:
            raise DatasetLayoutError(f"{path}: row {number}: {problem}")
        culprit = f"row {number} (path {row['path']!r})"
        video = path.parent / row["path"]       # an absolute path stays itself
        _require_inside(video, roots, f"{path}: {culprit}")
        entries.append((culprit, row["path"], video))
    _require_unique(entries, path)
    glosses = _sorted_glosses(row["label"] for _, row in rows)
    label_of = {g: k for k, g in enumerate(glosses)}
    manifest = [{"sample_id": _sample_id(row["path"]), "split": row["split"], "signer": int(row["signer"]),
                 "label": label_of[row["label"]], "gloss": row["label"], "video": str(video)}
                for (_, row), (_, _, video) in zip(rows, entries)]
    return manifest, glosses


def _log_ignored(root: Path) -> None:
    """Files the folder layout does not read are said, not dropped silently: videos right
    in the root (no gloss folder) and files in a gloss folder that are not videos."""
    ignored = [p for p in root.glob("*") if p.is_file()]
    ignored += [p for p in root.glob("*/*") if p.is_file() and p.suffix.lower() not in VIDEO_SUFFIXES]
    if ignored:
        log.warning("datasets.byo.root: ignored %d file(s) that are not <root>/<gloss>/<video> with a video "
                    "suffix (%s) (first: %s)", len(ignored), ", ".join(VIDEO_SUFFIXES), ignored[0])


def _byo_folders(cfg: dict, seed: int) -> tuple[list[dict], list[str]]:
    root = Path(cfg["root"])
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: datasets.byo.root is not a folder (expected <root>/<gloss>/<video>)")
    videos = sorted(p for p in root.glob("*/*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise DatasetLayoutError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)}) in <root>/<gloss>/")
    _log_ignored(root)
    roots = _allowed_roots(cfg, root)
    entries = []
    for p in videos:
        rel = str(p.relative_to(root))
        problem = _text_problem("gloss folder name", p.parent.name)
        if problem:
            raise DatasetLayoutError(f"{root}: {rel!r}: {problem}")
        _require_inside(p, roots, f"{root}: {rel!r}")
        entries.append((repr(rel), rel, p))
    _require_unique(entries, root)
    glosses = _sorted_glosses(p.parent.name for p in videos)
    label_of = {g: k for k, g in enumerate(glosses)}
    manifest = [{"sample_id": _sample_id(rel), "signer": 0, "label": label_of[p.parent.name],
                 "gloss": p.parent.name, "video": str(p),
                 "split": _hash_split(f"{seed}:{rel}", cfg["val_fraction"], cfg["test_fraction"])}
                for _, rel, p in entries]
    return manifest, glosses


def sources(cfg: dict) -> Sources:
    """The CSV by content and the videos its rows name by listing, or the root's listing. A CSV
    the manifest stage will refuse is still a source: the error is that stage's to give."""
    if cfg["root"]:
        return Sources(trees=(Path(cfg["root"]),))
    if not cfg["csv"]:
        return Sources()
    path = Path(cfg["csv"])
    if not path.is_file():
        return Sources(files=(path,))
    try:
        named = tuple(path.parent / row["path"] for _, row in _read_csv_rows(path) if row.get("path"))
    except (DatasetLayoutError, OSError):
        named = ()
    return Sources(files=(path,), trees=named)


def byo(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg, seed = params["datasets"]["byo"], params["seed"]
    if bool(cfg["csv"]) == bool(cfg["root"]):
        raise DatasetLayoutError("datasets.byo: set exactly one of csv (a path,label,signer,split file) "
                                 "or root (one folder per class)")
    rows, glosses = _byo_csv(cfg) if cfg["csv"] else _byo_folders(cfg, seed)
    return manifest_frame(rows), class_frame(glosses)
