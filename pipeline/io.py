"""Atomic writes: every artifact is written to a temporary sibling and renamed into
place, so a killed stage never leaves a half-written file that looks complete.

Folder outputs prove themselves: a folder a stage writes whole carries MANIFEST.json
(each file's size and sha256, and the stage that wrote it), written last. Readers verify
it before reading and name the file that fails; the Snakefile checks sizes before it
plans (``damaged_folders``) and says which rule to force to rebuild a damaged folder."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


class NoSpaceError(RuntimeError):
    """The disk filled while an output was written: named, with nothing of it left behind."""


@contextlib.contextmanager
def _naming_a_full_disk(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise NoSpaceError(f"{path}: {os.strerror(exc.errno).lower()} while writing it; nothing of it was kept "
                           f"(an earlier version stays as it was): free space there and rerun") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.
    ``suffix`` ends the temporary name: a writer that picks the format from the name
    (cv2.VideoWriter) needs the real extension there, e.g. ``.tmp.mp4``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())   # mkstemp's 0600 is not what a plain open() gives
    try:
        with _naming_a_full_disk(path):
            yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path, producer: str) -> Iterator[Path]:
    """Yield an empty temporary directory; on success its manifest is written (``producer``:
    the stage, named in errors about the folder) and it replaces ``path`` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        with _naming_a_full_disk(path):
            yield tmp
            write_folder_manifest(tmp, producer)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(path: str | Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


FOLDER_MANIFEST = "MANIFEST.json"


class CorruptOutputError(ValueError):
    """A folder output that does not match its manifest; the message names the file and
    the stage that rebuilds it."""


def _folder_files(folder: Path) -> list[str]:
    """Files a manifest covers: all but itself and hidden ones (a writer's temporaries,
    snakemake's .snakemake_timestamp)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != FOLDER_MANIFEST
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def write_folder_manifest(folder: str | Path, producer: str) -> None:
    folder = Path(folder)
    files = {name: {"size": (folder / name).stat().st_size, "sha256": file_digest(folder / name)}
             for name in _folder_files(folder)}
    write_json(folder / FOLDER_MANIFEST, {"producer": producer, "files": files})


def folder_problem(folder: str | Path, deep: bool = True) -> str | None:
    """What is wrong with a folder output, naming the file, or None. ``deep``: compare
    digests too (readers); without it only presence and sizes (cheap: the Snakefile's
    check before every plan)."""
    folder = Path(folder)
    manifest = folder / FOLDER_MANIFEST
    try:
        files = json.loads(manifest.read_text())["files"]
    except FileNotFoundError:
        return f"{manifest} is missing: the folder is incomplete or not written by this pipeline"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{manifest} is unreadable ({exc})"
    for name, want in files.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing (listed in {FOLDER_MANIFEST})"
        size = path.stat().st_size
        if size != want["size"]:
            return f"{path} has {size} bytes, {FOLDER_MANIFEST} says {want['size']} (truncated or changed)"
        if deep and file_digest(path) != want["sha256"]:
            return f"{path}: content differs from {FOLDER_MANIFEST} (changed after it was written)"
    extra = sorted(set(_folder_files(folder)) - set(files))
    if extra:
        return f"{folder / extra[0]} is not listed in {FOLDER_MANIFEST} ({len(extra)} unlisted file(s))"
    return None


def producer_of(folder: str | Path, default: str) -> str:
    try:
        return json.loads((Path(folder) / FOLDER_MANIFEST).read_text())["producer"]
    except (OSError, ValueError, KeyError, TypeError):
        return default


def verify_folder(folder: str | Path, producer: str) -> None:
    """Raise CorruptOutputError when the folder fails its manifest (digests included)."""
    problem = folder_problem(folder, deep=True)
    if problem:
        raise CorruptOutputError(f"{problem}; rerun the {producer_of(folder, producer)} stage "
                                 f"(snakemake and dvc repro rebuild it)")


def damaged_folders(folders) -> dict[str, str]:
    """The cheap check (presence and sizes) of every existing folder in ``folders``:
    folder -> what is wrong, for those that fail it."""
    found = {}
    for folder in folders:
        problem = folder_problem(folder, deep=False) if Path(folder).is_dir() else None
        if problem:
            found[folder] = problem
    return found
