"""The machine a measurement ran on, as results record it."""
from __future__ import annotations

import functools
import platform
from pathlib import Path


@functools.cache
def _cpuinfo() -> str | None:
    """/proc/cpuinfo, read once per process (a job asks for the model and flags several times)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


def _field(info: str, field: str) -> str | None:
    return next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith(field)), None)


def cpu_flags() -> set[str]:
    """The CPU's feature flags (empty where the OS does not list them)."""
    return set((_field(_cpuinfo() or "", "flags") or "").split())


def cpu_model() -> str:
    """The CPU's model name and whether it has AMX (its bf16/int8 matrix units change float
    rounding in oneDNN's kernels, so results differ between CPUs with and without)."""
    info = _cpuinfo()
    if info is None:
        return platform.processor() or platform.machine()
    name = _field(info, "model name") or platform.machine()
    return f"{name} ({'with' if 'amx_tile' in cpu_flags() else 'no'} AMX)"
