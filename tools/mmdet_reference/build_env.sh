#!/usr/bin/env bash
# Build the dev-only mmdetection reference environment (issue 17).
#
# Creates tools/mmdet_reference/.venv (git-ignored) with torch 2.14.1, mmengine, mmcv 2.1.0 built
# from its sdist with its C++/CUDA-free CPU ops, and mmdet 3.3.0 installed without its pins.
# mmdetection is never a runtime or test dependency of scrpn: the generator in this folder runs
# mmdetection's own functions on fixed inputs and writes small fixtures under tests/fixtures/mmdet/,
# which the project's tests read. About 15 minutes on 2 cores (the mmcv compile is most of it).
#
# Two patches are needed to build mmcv 2.1.0 against torch 2.14:
#   * its setup.py asks for -std=c++14 / c++17, torch 2.14's headers need C++20;
#   * its build imports pkg_resources, so setuptools stays below 81 in this venv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q "setuptools<81" wheel "numpy<2.4" ninja
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  $PIP install -q "torch==2.14.1" "torchvision==0.29.1"
fi
$PIP install -q "mmengine==0.10.7" opencv-python-headless pycocotools scipy shapely terminaltables tqdm six
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops" 2>/dev/null; then
  BUILD="$HERE/.build"
  rm -rf "$BUILD" && mkdir -p "$BUILD"
  $PIP download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==2.1.0" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
  SRC="$BUILD/mmcv-2.1.0"
  # torch 2.14's headers use C++20 features.
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  grep -q 'c++20' "$SRC/setup.py" || { echo "build_env: could not patch mmcv's setup.py" >&2; exit 1; }
  (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 \
     "$VENV/bin/python" -m pip install -q --no-build-isolation --no-deps .)
fi
if ! "$VENV/bin/python" -c "import mmdet" 2>/dev/null; then
  # mmdet 3.3 pins mmcv < 2.2 (satisfied) but checks the version at import; --no-deps keeps pip
  # from replacing the hand-built mmcv.
  $PIP install -q --no-deps "mmdet==3.3.0"
fi
"$VENV/bin/python" -c "import torch, mmcv, mmcv.ops, mmdet; print('reference env ready:', torch.__version__, mmcv.__version__, mmdet.__version__)"
