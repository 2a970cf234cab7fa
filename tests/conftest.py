import copy
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# ../shared next to the checkout, or wherever GSPMC_SHARED points (a clone elsewhere)
SHARED = Path(os.environ.get("GSPMC_SHARED", ROOT.parent / "shared"))
FIXTURE = SHARED / "fixtures/video/signing-person.mp4"     # the real signing video, 58 frames
needs_fixture = pytest.mark.skipif(not FIXTURE.exists(),
                                   reason=f"{FIXTURE} absent: ../shared is not next to this checkout "
                                          f"(set GSPMC_SHARED to its path)")


@pytest.fixture(scope="session", autouse=True)
def _own_precision_probe_cache(tmp_path_factory):
    """train.precision auto's CPU probe (pipeline/train/precision_probe.py) caches its answers
    here, not in the user's cache: a test never reads what another session measured."""
    os.environ["GSPMC_CACHE_DIR"] = str(tmp_path_factory.mktemp("gspmc-cache"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def tiny_params() -> dict:
    """A config the whole DAG runs in well under a minute on 2 cores."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p = copy.deepcopy(p)
    # 2 minimal pairs of 6 classes: zero-shot draws 2 seen, 2 validation-unseen, 2 test-unseen classes
    p["synthetic"].update(classes=6, signers=5, val_signers=1, test_signers=1, repetitions=2,
                          minimal_pair_fraction=0.34)
    p["zeroshot"].update(holdout=2, val_holdout=2, draws=1)
    p["pose"]["shard_size"] = 16
    p["model"].update(base_channels=8, num_units=3, stride_units=[2])
    p["train"].update(window=12, epochs=2, batch_size=8, warmup_epochs=1, lr_steps=[2], threads=1)
    keep = ["ce", "multipart", "all", "kb_multipart", "sam27_ce", "sam27_multipart"]
    p["ablations"]["runs"] = {k: p["ablations"]["runs"][k] for k in keep}
    p["ablations"]["keypoints"] = ["gspmc87", "sam27"]
    return p


def make_workdir(tmp: Path, params: dict) -> Path:
    """A project copy (workflow files, the package's source, params) where snakemake/dvc can run:
    the stages' code is part of their deps, and `python -m pipeline` there runs the copy."""
    for name in ("Snakefile", "dvc.yaml", ".dvcignore"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tmp / name)
    for folder in ("workflow", "experiments"):
        shutil.copytree(ROOT / folder, tmp / folder)
    shutil.copytree(ROOT / "pipeline", tmp / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp


def edit_params_no_demo_stage_reads(text: str) -> str:
    """params.yaml with another dataset's preset and knobs that change no result edited
    (pipeline/stage_params.py): no stage of the demo may rerun."""
    params = yaml.safe_load(text)
    params["presets"]["slr500"]["train"]["epochs"] += 1
    params["presets"]["slr500"]["model"]["base_channels"] *= 2
    params["pose"]["workers"] += 3
    params["describe"]["cache_dir"] = ".cache/elsewhere"
    return yaml.safe_dump(params, sort_keys=False)


def job_stats(out: str) -> dict:
    """snakemake's "Job stats" table: rule -> count (as strings); {} when nothing is to be done."""
    stats = re.search(r"Job stats:\njob\s+count\n[- ]+\n((?:\w+\s+\d+\n)+)", out)
    return dict(line.split() for line in stats.group(1).splitlines()) if stats else {}


def tool_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


# The files that each build a DAG and take minutes, longest first. `make test` runs two xdist
# workers that take whole files in collection order (--dist loadfile --no-loadscope-reorder):
# starting with these spreads them over both workers instead of queueing two behind each other.
LONG_FILES = ("test_end_to_end.py", "test_dvc_workflow.py", "test_slurm.py")


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))    # stable: files keep their order
