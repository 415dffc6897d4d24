#!/usr/bin/env bash
# Cross-compile the C++ core + test runner for aarch64 and run it under qemu on three CPUs:
# max (NEON + dotprod + i8mm), cortex-a76 (dotprod, no i8mm), cortex-a72 (plain NEON).
# Each run asserts the exact kernel set the CPU must expose (--expect-kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/aarch64
cmake --no-warn-unused-cli -S . -B "$BUILD" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DLOWP_BUILD_PYTHON=OFF -DLOWP_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2
status=0
for spec in max:i8mm,neondot,neon,ref cortex-a76:neondot,neon,ref cortex-a72:neon,ref; do
  cpu=${spec%%:*}
  expect=${spec#*:}
  echo "== qemu-aarch64 -cpu $cpu (expect kernels: $expect)"
  start=$(date +%s)
  qemu-aarch64 -cpu "$cpu" "$BUILD/lowp_tests" --expect-kernels="$expect" > "$BUILD/log-$cpu.txt" 2>&1 || status=1
  grep -E "^(FAIL|  FAIL|kernels:)" "$BUILD/log-$cpu.txt" || true
  echo "$(tail -n 1 "$BUILD/log-$cpu.txt")   [$(( $(date +%s) - start ))s]"
done
exit $status
