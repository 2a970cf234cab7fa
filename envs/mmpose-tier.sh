#!/usr/bin/env bash
# A venv with this project and the mmpose backend's stack (envs/mmpose-tier.txt), from nothing:
#   bash envs/mmpose-tier.sh [VENV]        (default .venv-mmpose; `make test-mmpose` runs it)
# torch stays the pinned CPU build: every mmpose package goes in with --no-deps. xtcocotools'
# cp311 wheel is built against numpy 1 ("numpy.dtype size changed"), so it is built here against
# this numpy (a C extension: gcc and the Python headers, ~30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-mmpose}
PYTHON=${PYTHON:-python3}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip install --quiet"
$PIP --upgrade "pip>=24"
$PIP -r envs/requirements.txt
$PIP --no-deps -e .
$PIP --no-deps -r envs/mmpose-tier.txt
$PIP --no-deps "Cython>=3" "setuptools<70" wheel
$PIP --no-deps --no-build-isolation --no-binary xtcocotools xtcocotools==1.14.3
"$VENV/bin/python" -c "import mmcv, mmengine, mmpose; print('mmcv', mmcv.__version__, 'mmengine', mmengine.__version__, 'mmpose', mmpose.__version__)"
