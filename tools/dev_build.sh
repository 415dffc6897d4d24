#!/usr/bin/env bash
# Fast in-tree developer build: compiles the extension into python/lowp/ so that
# `PYTHONPATH=python pytest tests` runs against the working tree. Usage: tools/dev_build.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/dev}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWP_BUILD_PYTHON=ON \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build "$BUILD" -j2
cp "$BUILD"/_lowp*.so python/lowp/
