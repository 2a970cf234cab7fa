"""A ledger of finished experiment units, kept in the repository so that an experiment longer
than one machine's session can be run in parts (issue 27: `experiment mc` at 10 seeds is ~170
training runs, hours on 2 cores).

A unit is one (setting, arm, seed): its streams trained and ensembled. Its record holds what the
summary needs (val and test top-1 per stream and of the ensemble), the CPU it ran on, and a key:
the sha256 of everything its result depends on. Those are the training and ensemble code (their
modules and everything of the package they import; not the CLI or the params checks), the data it trained on
(the keypoint folder's MANIFEST.json, which holds every shard's sha256, the manifest and class
list, and the text bank when the arm aligns with texts), the params the runs read, the streams,
the seed and the CPU model (another one rounds float32 differently). A record whose key no longer
matches is never used: a change to any of them trains the unit again. Records from several kinds
of machine can sit in one ledger; a summary only ever combines those of the machine it runs on,
so a seed's two arms are always paired on one kind of CPU.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io import FOLDER_MANIFEST, write_text
from ..stage_code import PACKAGE, module_files

# the code a unit's figures come from: the training run and the ensemble, with what they import
RESULT_MODULES = {"pipeline.train.stages", "pipeline.evaluate.ensemble"}


def code_digest() -> str:
    h = hashlib.sha256()
    for f in module_files(RESULT_MODULES):
        h.update(f.relative_to(PACKAGE.parent).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def data_digests(paths: dict[str, Path]) -> dict[bool, str]:
    """The data a unit reads, by whether it reads the text bank (an MC arm) or not (CE): the
    manifest, the class list, [the texts,] the keypoints' folder manifest; each file read once."""
    common = hashlib.sha256()
    for name in ("manifest", "classes"):
        common.update(Path(paths[name]).read_bytes())
    keypoints = (Path(paths["keypoints"]) / FOLDER_MANIFEST).read_bytes()
    with_text, without_text = common.copy(), common
    with_text.update(Path(paths["text"]).read_bytes())
    for h in (with_text, without_text):
        h.update(keypoints)
    return {True: with_text.hexdigest(), False: without_text.hexdigest()}


def unit_key(code: str, data: str, run_params: dict) -> str:
    return hashlib.sha256(json.dumps({"code": code, "data": data, "params": run_params}, sort_keys=True,
                                     default=str).encode()).hexdigest()


class Ledger:
    """Records by key in a JSON-lines file; each add rewrites the file atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        if self.path.exists():
            for n, line in enumerate(self.path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self.records[record["key"]] = record
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise ValueError(f"{self.path}:{n}: not a ledger record ({exc}); fix or delete the line") from exc

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def add(self, record: dict) -> None:
        self.records[record["key"]] = record
        lines = [json.dumps(r, sort_keys=True) for r in sorted(self.records.values(),
                                                                key=lambda r: (r["setting"], r["arm_dir"], r["seed"]))]
        write_text(self.path, "\n".join(lines) + "\n")
