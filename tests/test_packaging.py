"""`pip install .` gets what the pipeline imports: every top-level requirement of the pinned
set (envs/requirements.in) is a dependency of the package (pyproject.toml), test-only ones an
extra, so the package alone runs the default pose backend, the tables and the report."""
import re
import tomllib

from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_package_declares_every_top_level_requirement():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for r in project["optional-dependencies"]["test"]}
    wanted = {_name(line) for line in (ROOT / "envs/requirements.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert wanted - declared - extras == set()
    assert declared & extras == set()


def test_the_pinned_versions_satisfy_the_declared_ranges():
    """Exact pins in pyproject (torch, mediapipe) are the lock's pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(line.split("==", 1) for line in (ROOT / "envs/requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {_name(k): v for k, v in pins.items()}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        if "==" in requirement:
            name, version = requirement.split("==")
            assert pins[_name(name)] == version, requirement
