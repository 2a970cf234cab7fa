"""The machine a measurement ran on, as results record it."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name and whether it has AMX (its bf16/int8 matrix units change float
    rounding in oneDNN's kernels, so results differ between CPUs with and without)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return f"{name} ({'with' if 'amx_tile' in flags else 'no'} AMX)"
