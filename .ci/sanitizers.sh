#!/usr/bin/env bash
# ASan + UBSan build of the C++ core and its test runner (native).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/sanitize
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOWP_SANITIZE=ON -DLOWP_BUILD_PYTHON=OFF \
  -DLOWP_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2
# Twice: the CPU's own kernels, then (x86) LOWP_MAX_ISA=avx2, the code an AVX2-only CPU runs (its GEMM kernel
# and the AVX2 twins of the ops).
caps=("")
[ "$(uname -m)" = x86_64 ] && caps+=(avx2)
for cap in "${caps[@]}"; do
  LOWP_MAX_ISA=$cap ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$BUILD/lowp_tests" \
    > "$BUILD/log$cap.txt" 2>&1 || { cat "$BUILD/log$cap.txt"; exit 1; }
  grep -E "FAIL" "$BUILD/log$cap.txt" || true
  echo "${cap:+LOWP_MAX_ISA=$cap: }$(tail -n 1 "$BUILD/log$cap.txt")"
done
