#!/usr/bin/env bash
# Cross-compile the C++ core + test runner for aarch64 and run it under qemu on three CPUs:
# max (NEON + dotprod + i8mm), cortex-a76 (dotprod, no i8mm), cortex-a72 (plain NEON).
# Each run asserts the exact kernel set the CPU must expose (--expect-kernels).
# Every core object is linked whole (shared library with --no-undefined, or --whole-archive in
# the sanitizer build), so a symbol missing on aarch64 fails the build even when no test reaches it.
#   bash .ci/neon.sh             Release build (static), three CPUs
#   bash .ci/neon.sh --sanitize  ASan + UBSan build (dynamic, qemu -L sysroot), three CPUs
set -euo pipefail
cd "$(dirname "$0")/.."
SYSROOT=/usr/aarch64-linux-gnu
if [ "${1:-}" = "--sanitize" ]; then
  # CMake links the cross test runner statically, which ASan cannot do: build it directly.
  BUILD=build/aarch64-asan
  mkdir -p "$BUILD/obj"
  CXX="aarch64-linux-gnu-g++ -std=c++17 -O1 -g -ffp-contract=off -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Icpp"
  objs=()
  tests=()
  for src in cpp/gemm/*.cc cpp/gemm/kernels/*.cc cpp/requant/*.cc cpp/ops/*.cc cpp/runtime/*.cc cpp/exec/*.cc cpp/tests/*.cc; do
    [ -e "$src" ] || continue
    stem=$(basename "$src" .cc)
    flags=""
    case "$stem" in
      *_avx2|*_avx512|*_avx512vnni) continue ;;
      *_neon) flags="-march=armv8-a" ;;
      *_neondot) flags="-march=armv8.2-a+dotprod" ;;
      *_i8mm) flags="-march=armv8.6-a+dotprod+i8mm" ;;
    esac
    obj="$BUILD/obj/$(echo "$src" | tr / _).o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find cpp -name '*.h' -newer "$obj" | head -1)" ]; then
      $CXX $flags -c "$src" -o "$obj"
    fi
    case "$src" in cpp/tests/*) tests+=("$obj") ;; *) objs+=("$obj") ;; esac
  done
  # Core as a static archive, like the CMake build, but linked whole: every object's references
  # must resolve (ASan's runtime cannot go into a -shared --no-undefined check library).
  rm -f "$BUILD/liblowp_core.a"
  aarch64-linux-gnu-ar rcs "$BUILD/liblowp_core.a" "${objs[@]}"
  $CXX "${tests[@]}" -Wl,--whole-archive "$BUILD/liblowp_core.a" -Wl,--no-whole-archive -o "$BUILD/lowp_tests" -lpthread
  WHOLE_LINKED=1  # a missing symbol already failed the link above
  RUN=(qemu-aarch64 -L "$SYSROOT")
  export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
else
BUILD=build/aarch64
RUN=(qemu-aarch64)
cmake --no-warn-unused-cli -S . -B "$BUILD" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DLOWP_BUILD_PYTHON=OFF -DLOWP_BUILD_TESTS=ON -DLOWP_BUILD_SHARED_CHECK=ON >/dev/null
cmake --build "$BUILD" -j2 --target lowp_tests
fi
status=0
if [ -z "${WHOLE_LINKED:-}" ]; then
  # Tests still run when this fails (their results stay useful), but the script exits non-zero.
  if ! cmake --build "$BUILD" -j2 --target lowp_core_shared_check > "$BUILD/shared-check.txt" 2>&1; then
    echo "== FAIL: lowp_core does not link whole on aarch64 (undefined symbols):"
    grep -E "undefined reference" "$BUILD/shared-check.txt" | sed 's/^.*undefined/  undefined/' | sort -u
    status=1
  else
    echo "== whole-core link check (shared, --no-undefined): ok"
  fi
fi
for spec in max:i8mm,neondot,neon,ref cortex-a76:neondot,neon,ref cortex-a72:neon,ref; do
  cpu=${spec%%:*}
  expect=${spec#*:}
  echo "== qemu-aarch64 -cpu $cpu (expect kernels: $expect)"
  start=$(date +%s)
  "${RUN[@]}" -cpu "$cpu" "$BUILD/lowp_tests" --expect-kernels="$expect" > "$BUILD/log-$cpu.txt" 2>&1 || status=1
  grep -E "^(FAIL|  FAIL|kernels:)" "$BUILD/log-$cpu.txt" || true
  echo "$(tail -n 1 "$BUILD/log-$cpu.txt")   [$(( $(date +%s) - start ))s]"
done
exit $status
