"""`pip install .` gets what the pipeline imports: every top-level requirement of the pinned
set (envs/requirements.in) is a dependency of the package (pyproject.toml), test-only and
optional ones (slurm) an extra, so the package alone runs the default pose backend, the tables
and the report. The mmpose stack is no extra: envs/mmpose-tier.sh installs it --no-deps in a venv
of its own (tests/test_mmpose_tier.py)."""
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser

import pytest
from conftest import ROOT
from packaging.specifiers import SpecifierSet

NOT_LOCKED: set[str] = set()    # extras the pinned set leaves out


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _top_level() -> set[str]:
    return {_name(line) for line in (ROOT / "envs/requirements.in").read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_package_declares_every_top_level_requirement():
    project = _project()
    declared = {_name(r) for r in project["dependencies"]}
    locked_extras = {_name(r) for extra, reqs in project["optional-dependencies"].items()
                     if extra not in NOT_LOCKED for r in reqs}
    assert _top_level() - declared - locked_extras == set()
    assert declared & locked_extras == set()
    assert {"test", "slurm"} <= set(project["optional-dependencies"])


def test_the_mmpose_tier_pins_every_package_it_installs():
    """envs/mmpose-tier.txt goes in with --no-deps: a package without an exact pin there could
    come in at any version, and torch or torchvision must never be among them."""
    lines = [line.strip() for line in (ROOT / "envs/mmpose-tier.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", line) for line in lines), lines
    names = {_name(line) for line in lines}
    assert {"mmpose", "mmcv-lite", "mmdet", "mmengine"} <= names and not names & {"torch", "torchvision"}
    assert "--no-deps -r envs/mmpose-tier.txt" in (ROOT / "envs/mmpose-tier.sh").read_text()


def test_the_pinned_versions_satisfy_the_declared_ranges():
    """Exact pins in pyproject (torch, mediapipe) are the lock's pins."""
    project = _project()
    # an environment marker (triton: Linux only) follows its pin after a ';'
    pins = dict(line.split(";")[0].strip().split("==", 1)
                for line in (ROOT / "envs/requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {_name(k): v for k, v in pins.items()}
    locked = [r for extra, reqs in project["optional-dependencies"].items() if extra not in NOT_LOCKED for r in reqs]
    for requirement in project["dependencies"] + locked:
        if "==" in requirement:
            name, version = requirement.split(";")[0].strip().split("==")
            assert pins[_name(name)] == version, requirement


@pytest.mark.slow
def test_the_built_wheel_carries_the_metadata(tmp_path):
    """The wheel (what `pip install .` installs) requires every top-level requirement, plainly
    or under an extra, keeps pyproject's Requires-Python and has the `gspmc` script. Built
    offline (--no-build-isolation: the venv's setuptools) from a copy, since setuptools writes
    build/ and *.egg-info into the source tree."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "pipeline", src / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "--quiet", "-w", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    wheel, = (tmp_path / "dist").glob("gspmc_pipeline-*.whl")
    project = _project()
    with zipfile.ZipFile(wheel) as zf:
        info = f"gspmc_pipeline-{project['version']}.dist-info"
        meta = Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        assert any(n.startswith(f"{info}/licenses/LICENSE") for n in zf.namelist())
    requires = meta.get_all("Requires-Dist")
    plain = {_name(r) for r in requires if "extra ==" not in r}
    by_extra: dict[str, set[str]] = {}
    for r in requires:
        if m := re.search(r"""extra\s*==\s*["']([^"']+)["']""", r):
            by_extra.setdefault(m.group(1), set()).add(_name(r))
    assert set(meta.get_all("Provides-Extra")) == set(project["optional-dependencies"])
    assert _top_level() - plain - set().union(*by_extra.values()) == set()
    assert "snakemake-executor-plugin-slurm" in by_extra["slurm"]
    assert SpecifierSet(meta["Requires-Python"]) == SpecifierSet(project["requires-python"])   # order may differ
    assert meta["License-Expression"] == project["license"]
    assert re.search(r"^gspmc\s*=\s*pipeline\.cli:main$", entry_points, re.M)
