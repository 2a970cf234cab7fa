"""SLR-500 (CSL-500) from its official folder layout:

    <root>/<videos>/<class folder>/P<signer>_....(avi|mp4)    class folders 000..499
    <root>/<gloss_list>                                        one gloss per class

The known trap: the class-folder order versus the gloss-list order. Folders are read as
numbers (never sorted as strings), and the gloss list is matched to them by the ids it
carries ("000 word", "0\tword") when it has ids, else line i is class i, which is only
accepted when the folders are exactly 0..N-1 and N equals the number of lines.

Splits by signer ranges [first, last]. The paper's protocol trains on 1-35 and tests on
36-50 with no validation split (`val_signers: null`); a validation range takes its signers
out of whichever other range holds them.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from . import VIDEO_SUFFIXES, DatasetLayoutError, Sources, class_frame, manifest_frame, require, root_of, signer_number

log = logging.getLogger(__name__)
ID_LINE = re.compile(r"^\s*(\d+)[\s,;:\t]+(.*\S)\s*$")


def _layout(cfg: dict) -> str:
    return (f"  {cfg['root']}/{cfg['videos']}/000/P01_....avi ... {cfg['root']}/{cfg['videos']}/499/P50_....avi\n"
            f"  {cfg['root']}/{cfg['gloss_list']}   (one gloss per class, optionally '<id> <gloss>')")


def read_gloss_list(path: Path, folder_ids: list[int]) -> dict[int, str]:
    """Class id -> gloss, verified against the class folders' ids."""
    lines = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    matches = [ID_LINE.match(ln) for ln in lines]
    if all(matches):
        glosses = {}
        for m in matches:
            cid = int(m.group(1))
            if cid in glosses:
                raise DatasetLayoutError(f"{path}: id {cid} appears twice")
            glosses[cid] = m.group(2)
        if list(glosses) != sorted(glosses):
            log.warning("%s: ids are not in line order; classes follow the ids, not the lines", path)
    else:
        if folder_ids != list(range(len(folder_ids))) or len(lines) != len(folder_ids):
            raise DatasetLayoutError(f"{path}: {len(lines)} glosses without ids, but the class folders are not "
                                     f"0..{len(lines) - 1} ({len(folder_ids)} folders): cannot tell which gloss "
                                     f"belongs to which folder; write '<folder id> <gloss>' lines")
        glosses = {i: ln.strip() for i, ln in enumerate(lines)}
    no_gloss = sorted(set(folder_ids) - set(glosses))
    no_folder = sorted(set(glosses) - set(folder_ids))
    if no_gloss or no_folder:
        raise DatasetLayoutError(f"{path}: the gloss list and the class folders disagree: folders without a gloss "
                                 f"{no_gloss[:10]}, glosses without a folder {no_folder[:10]}")
    return glosses


def _in(signer: int, first_last: list[int] | None) -> bool:
    """Whether ``signer`` lies in [first, last]; an absent range (null or []) holds nobody."""
    return bool(first_last) and first_last[0] <= signer <= first_last[1]


def sources(cfg: dict) -> Sources:
    if not cfg["root"]:
        return Sources()
    root = Path(cfg["root"])
    return Sources(files=(root / cfg["gloss_list"],), trees=(root / cfg["videos"],))


def slr500(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = params["datasets"]["slr500"]
    root = root_of(cfg, "slr500", _layout)
    videos = root / cfg["videos"]
    require([videos, root / cfg["gloss_list"]], "slr500", _layout(cfg))
    folders = {}
    for d in videos.iterdir():
        if d.is_dir():
            if not d.name.isdigit():
                raise DatasetLayoutError(f"{d}: class folders are numbers (000..499)\n{_layout(cfg)}")
            folders[int(d.name)] = d
    ids = sorted(folders)                  # numerically: '10' after '9', whatever the padding
    if not ids:
        raise DatasetLayoutError(f"{videos}: no class folders\n{_layout(cfg)}")
    glosses = read_gloss_list(root / cfg["gloss_list"], ids)
    label_of = {cid: k for k, cid in enumerate(ids)}
    rows = []
    for cid in ids:
        for f in sorted(folders[cid].iterdir()):
            if f.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            signer = signer_number(f.name, r"^P(\d+)", str(f))
            if _in(signer, cfg["val_signers"]):
                split = "val"
            elif _in(signer, cfg["train_signers"]):
                split = "train"
            elif _in(signer, cfg["test_signers"]):
                split = "test"
            else:
                continue
            rows.append({"sample_id": f"{cid:03d}_{f.stem}", "split": split, "signer": signer,
                         "label": label_of[cid], "gloss": glosses[cid], "video": str(f)})
    return manifest_frame(rows), class_frame([glosses[c] for c in ids])
