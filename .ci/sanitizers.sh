#!/usr/bin/env bash
# ASan + UBSan build of the C++ core and its test runner (native).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/sanitize
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOWP_SANITIZE=ON -DLOWP_BUILD_PYTHON=OFF \
  -DLOWP_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$BUILD/lowp_tests" > "$BUILD/log.txt" 2>&1 || { cat "$BUILD/log.txt"; exit 1; }
grep -E "FAIL" "$BUILD/log.txt" || true
tail -n 1 "$BUILD/log.txt"
