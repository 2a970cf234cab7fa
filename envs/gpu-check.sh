#!/usr/bin/env bash
# Issue 30's device check, one call on a lent GPU machine (its python3 holds torch and Triton):
# the fused CTR-GC aggregation's equivalence tests on the GPU, then envs/bench-gpu.sh, then what
# the device's own Triton makes of the kernels (registers, spills, shared memory: `benchmark
# kernels`, compiled for this GPU's architecture). About 8 minutes on an H200; everything lands
# in $OUT (the device tool brings it back).
#
# Prepared here, before the call (both paths ignored by git, so they travel only when carried):
#   .whl/     jsonschema and its pure-Python needs for the device's Python 3.12 (the CLI validates
#             params.yaml): python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12
#             --implementation cp --platform manylinux_2_17_x86_64 -d .whl jsonschema==4.26.0
#             jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
#   .public/ctrgcn.py   the public CTR-GCN's model/ctrgcn.py (CC BY-NC 4.0: never committed)
# The call: run(command="bash envs/gpu-check.sh", carry=[".whl", ".public"], timeout_s=600)
set -uo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"; } 2>&1 | tee "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_fused_aggregate.py tests/test_model.py 2>&1 | tee "$OUT/tests.txt"
PYTHON=python3 STEPS=${STEPS:-6} PUBLIC=$([ -f .public/ctrgcn.py ] && echo .public/ctrgcn.py) \
  bash envs/bench-gpu.sh "$OUT" 2>&1 | tee "$OUT/bench.txt"
arch=$(python3 -c "import torch; major, minor = torch.cuda.get_device_capability(); print(10 * major + minor)")
python3 -m pipeline benchmark kernels --archs "$arch" --json "$OUT/kernels.json" 2>&1 | tee "$OUT/kernels.txt"
