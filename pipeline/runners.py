"""One DAG runner at a time per checkout (issue 28: `dvc repro` and `snakemake` run in one
checkout at once; neither refused, and DVC died midway leaving dvc.lock half-written).

Each stage command checks, when it runs under one of the two runners, that the other one does
not hold the checkout, and refuses naming it. DVC holds `.dvc/tmp/lock` while it runs (zc.lockfile:
the file holds the holder's pid); snakemake keeps `.snakemake/locks/` non-empty while it runs (and
after a crash, until `snakemake --unlock`). Read, never taken: a check that took DVC's lock
for a moment could make a DVC starting at that moment fail.
"""
from __future__ import annotations

from pathlib import Path

import psutil

RUNNERS = ("dvc", "snakemake")
DVC_LOCK = Path(".dvc/tmp/lock")
SNAKEMAKE_LOCKS = Path(".snakemake/locks")


class RunnerConflict(RuntimeError):
    """The other DAG runner is at work in this checkout."""


def _runner_of(cmdline: list[str]) -> str | None:
    """'dvc' for `dvc ...` or `python .../dvc ...`, 'snakemake' likewise (also `python -m snakemake`)."""
    names = {Path(token).name for token in cmdline[:4]}
    return next((r for r in RUNNERS if r in names), None)


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def running_under() -> str | None:
    """The runner this process was started by, from its ancestors; None when run by hand."""
    for parent in psutil.Process().parents():
        runner = _runner_of(_cmdline(parent))
        if runner:
            return runner
    return None


def dvc_holder(root: Path) -> int | None:
    """The pid of the live DVC process holding ``root``'s repository lock, if any."""
    try:
        pid = int((root / DVC_LOCK).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        holder = psutil.Process(pid)
    except psutil.Error:
        return None
    return pid if _runner_of(_cmdline(holder)) == "dvc" else None


def check_one_runner(root: Path = Path(".")) -> None:
    """Raise when this stage runs under one runner while the other holds ``root``."""
    under = running_under()
    if under == "snakemake":
        pid = dvc_holder(root)
        if pid is not None:
            raise RunnerConflict(f"dvc (pid {pid}) is running in this checkout ({root / DVC_LOCK}); one DAG runner "
                                 f"at a time: wait for it to finish or stop it, then rerun snakemake")
    elif under == "dvc":
        locks = sorted((root / SNAKEMAKE_LOCKS).glob("*")) if (root / SNAKEMAKE_LOCKS).is_dir() else []
        if locks:
            raise RunnerConflict(f"snakemake holds this checkout ({locks[0]}); one DAG runner at a time: wait for "
                                 f"it to finish, or, if no snakemake is running (a crash left the lock), run "
                                 f"`snakemake --unlock`, then rerun dvc")
