#!/usr/bin/env bash
# The GPU training benchmark (issue 30), what `make bench-gpu` runs: the paper's encoder (V=87,
# T=64, 226 classes) at the SLR-500 recipe's batch 120 and AUTSL's 80, ours fp32 and bf16 with the
# CTR-GC aggregation eager and fused (Triton), beside the reference and, with PUBLIC, the public
# CTR-GCN itself (fp32 and under bf16 autocast); then through the real data path (busy fraction,
# the recipe's projected hours); then bf16 compiled (train.compile), eager and fused.
#
#   [PYTHON=.venv/bin/python] [DEVICE=cuda] [STEPS=8] [BATCHES="120 80"] [PUBLIC=<checkout>/model/ctrgcn.py] \
#     bash envs/bench-gpu.sh [OUT_DIR]
#
# PUBLIC is never shipped (CC BY-NC 4.0): on a lent device copy it to the ignored .public/ and
# carry that path. Results: OUT_DIR/benchmark-train-<device>-b<batch>.json and -compiled.json.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-8}
OUT=${1:-.}
public=()
if [ -n "${PUBLIC:-}" ]; then public=(--public "$PUBLIC"); fi
mkdir -p "$OUT"
for batch in ${BATCHES:-120 80}; do
  "$PY" -m pipeline benchmark train --config paper --device "$DEVICE" --batch "$batch" --steps "$STEPS" \
    --precisions fp32 bf16 --feeder --json "$OUT/benchmark-train-$DEVICE-b$batch.json" "${public[@]}"
done
"$PY" -m pipeline benchmark train --config paper --device "$DEVICE" --batch "${BATCHES%% *}" --steps "$STEPS" \
  --precisions bf16 --compile --feeder --json "$OUT/benchmark-train-$DEVICE-compiled.json"
