#!/usr/bin/env bash
# Cross-compile the C++ core + test runner for aarch64 and run it under qemu on three CPUs:
# max (NEON + dotprod + i8mm), cortex-a76 (dotprod, no i8mm), cortex-a72 (plain NEON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/aarch64
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DLOWP_BUILD_PYTHON=OFF -DLOWP_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2
status=0
for cpu in max cortex-a76 cortex-a72; do
  echo "== qemu-aarch64 -cpu $cpu"
  qemu-aarch64 -cpu "$cpu" "$BUILD/lowp_tests" > "$BUILD/log-$cpu.txt" 2>&1 || status=1
  grep -E "^(FAIL|  FAIL|kernels:)" "$BUILD/log-$cpu.txt" || true
  tail -n 1 "$BUILD/log-$cpu.txt"
done
exit $status
