# Two commands do all the set-up:
#   make demo   # .venv + pinned deps, then the whole DAG on the bundled demo dataset
#   make test   # .venv + pinned deps, then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
# Never reach for a model hub at run time.
export HF_HUB_OFFLINE := 1

.PHONY: setup demo lint test test-fast test-mmpose bench bench-clips bench-gpu dag lock clean

setup: $(STAMP)

# Idempotent: reinstalls only when the pins or the package metadata change.
$(STAMP): envs/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r envs/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) all
	@echo "Metrics: results/$$($(BIN)/python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["dataset"])')/metrics.json"

# pyflakes, pycodestyle, bugbear, import order (pyproject.toml [tool.ruff]); the Snakefile and
# rules are checked by `snakemake --lint` (.ci/run)
lint: $(STAMP)
	$(BIN)/ruff check pipeline tests

# two workers, one test file each at a time (a file's DAG fixture is built once), the long
# files first (tests/conftest.py): the DAG runs leave a core idle often enough that this takes
# ~2/3 of the serial time on 2 cores
test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# the edit-test loop: everything but the end-to-end runs of the DAG
test-fast: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

# the optional mmpose tier: the paper's HRNet-w48 whole-body through the mmpose backend, random
# weights, in a venv of its own (envs/mmpose-tier.sh: ~3 min from nothing, the test ~1 min)
test-mmpose:
	bash envs/mmpose-tier.sh .venv-mmpose
	.venv-mmpose/bin/python -m pytest -q tests/test_mmpose_tier.py

bench: $(STAMP)
	$(BIN)/python -m pipeline benchmark train
	$(BIN)/python -m pipeline benchmark dag
	$(BIN)/snakemake --cores $(CORES) all
	$(BIN)/python -m pipeline benchmark describe

# A training job's peak memory per clip store on 125k synthetic clips (~10 GB written to a temporary
# folder, ~10 GB more for the disk store's scratch file; 10-20 minutes on 2 cores)
bench-clips: $(STAMP)
	$(BIN)/python -m pipeline benchmark clips --samples 125000 --steps 20 --json benchmark-clips.json

# The GPU benchmark (issue 30), envs/bench-gpu.sh: the paper's encoder at batch 120 (SLR-500's recipe)
# and 80 (AUTSL's), ours fp32 and bf16, the CTR-GC aggregation eager and fused (Triton), beside the
# reference; then through the real data path (busy fraction, projected recipe hours); then bf16
# compiled. PUBLIC=<checkout>/model/ctrgcn.py adds the public CTR-GCN itself (never shipped: CC BY-NC
# 4.0). On a lent device machine: envs/gpu-check.sh (the fused op's GPU tests, then this). A dry run
# on the CPU: make bench-gpu DEVICE=cpu BATCHES=2 STEPS=1
DEVICE  ?= cuda
BATCHES ?= 120 80
STEPS   ?= 8
PUBLIC  ?=
bench-gpu: $(STAMP)
	PYTHON=$(BIN)/python DEVICE=$(DEVICE) BATCHES="$(BATCHES)" STEPS=$(STEPS) PUBLIC=$(PUBLIC) bash envs/bench-gpu.sh

# The stage graph as a mermaid chart (GitHub and most markdown viewers draw it): dag.md
dag: $(STAMP)
	$(BIN)/dvc dag --md --collapse-foreach-matrix > dag.md
	@echo "dag.md: every stage family (one node per foreach stage; without the flag, one per job)"

# Re-resolve the pinned set from envs/requirements.in in a scratch venv.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade pip
	.lockvenv/bin/python -m pip install --quiet -r envs/requirements.in
	{ echo "# Generated: pip freeze of a fresh venv after 'pip install -r envs/requirements.in' (Python $$(.lockvenv/bin/python -c 'import sys; print(*sys.version_info[:2], sep=".")'))."; \
	  echo "# Regenerate with: make lock"; \
	  .lockvenv/bin/python -m pip freeze | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } > envs/requirements.txt
	rm -rf .lockvenv

clean:
	rm -rf results .snakemake
