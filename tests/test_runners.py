"""One DAG runner at a time per checkout (issue 28, item 10): a stage started by snakemake while
DVC holds the checkout is refused naming DVC, one started by DVC while snakemake holds it is
refused naming snakemake, and a stage run by hand or by a runner alone is not. The runners are
stand-ins named like them (what the check reads: the ancestor's command line, DVC's lock file,
snakemake's lock folder), so no real DAG runs here."""
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_workdir, tiny_params, tool_env

# a runner stand-in: runs `python -m pipeline ARGS` as its child, as both runners run stages
RUNNER = (f"#!{sys.executable}\nimport subprocess, sys\n"
          "sys.exit(subprocess.call([sys.executable, '-m', 'pipeline', *sys.argv[1:]]))\n")
# DVC while it works: its lock file holds its pid
DVC_HOLDING = (f"#!{sys.executable}\nimport os, time\nos.makedirs('.dvc/tmp', exist_ok=True)\n"
               "open('.dvc/tmp/lock', 'w').write(' %d\\n' % os.getpid())\ntime.sleep(120)\n")


@pytest.fixture()
def checkout(tmp_path):
    (tmp_path / "wd").mkdir()
    wd = make_workdir(tmp_path / "wd", tiny_params())
    bin_dir = tmp_path / "bin"
    (bin_dir / "holders").mkdir(parents=True)
    for name, text in (("snakemake", RUNNER), ("dvc", RUNNER), ("holders/dvc", DVC_HOLDING),
                       ("holders/other", DVC_HOLDING)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return wd, bin_dir


def _stage(wd: Path, runner: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(runner), "sources", "--out", "results/demo/sources.json"], cwd=wd, env=tool_env(),
                          capture_output=True, text=True, timeout=120)


def _stage_while_held(wd: Path, holder_script: Path, runner: Path) -> tuple[subprocess.CompletedProcess, int]:
    holder = subprocess.Popen([str(holder_script)], cwd=wd)
    try:
        deadline = time.time() + 30
        lock = wd / ".dvc/tmp/lock"
        while not (lock.exists() and str(holder.pid) in lock.read_text()) and time.time() < deadline:
            time.sleep(0.05)
        return _stage(wd, runner), holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_stage_under_snakemake_is_refused_while_dvc_holds_the_checkout(checkout):
    wd, bin_dir = checkout
    res, _ = _stage_while_held(wd, bin_dir / "holders/other", bin_dir / "snakemake")
    assert res.returncode == 0, res.stderr[-2000:]        # the lock names a live process that is not DVC
    res, pid = _stage_while_held(wd, bin_dir / "holders/dvc", bin_dir / "snakemake")
    assert res.returncode == 2
    assert f"dvc (pid {pid}) is running in this checkout" in res.stderr, res.stderr[-2000:]
    assert _stage(wd, bin_dir / "snakemake").returncode == 0        # DVC gone (its lock file stays behind)


def test_a_stage_under_dvc_is_refused_while_snakemake_holds_the_checkout(checkout):
    wd, bin_dir = checkout
    (wd / ".snakemake/locks").mkdir(parents=True)
    (wd / ".snakemake/locks/0.output.lock").write_text("results/demo/manifest.parquet\n")
    res = _stage(wd, bin_dir / "dvc")
    assert res.returncode == 2
    assert "snakemake holds this checkout" in res.stderr and "snakemake --unlock" in res.stderr, res.stderr[-2000:]
    assert not (wd / "results/demo/sources.json").exists()
    # snakemake's own jobs, and a stage run by hand, go on
    assert _stage(wd, bin_dir / "snakemake").returncode == 0
    by_hand = subprocess.run([sys.executable, "-m", "pipeline", "sources", "--out", "results/demo/s.json"], cwd=wd,
                             env=tool_env(), capture_output=True, text=True, timeout=120)
    assert by_hand.returncode == 0, by_hand.stderr[-2000:]
