#!/usr/bin/env bash
# The installed package on an x86 CPU without AVX-512: the same interpreter, extension and wheels as
# the README's test step, run under qemu-x86_64 -cpu Haswell (AVX2 + FMA, no AVX-512, no VNNI), so
# that lowp's runtime dispatch picks its AVX2 paths everywhere (GEMM, GEMV, convolutions, depthwise,
# element-wise ops, the float fallbacks of int8 models) as it would on such a machine:
#   - lowp.kernels() lists exactly avx2,ref;
#   - the GEMM / GEMV / requantization / error tests (numpy int64 and independent Python references);
#   - 33 quantized models + the demo model give the bits onnxruntime gives on this (VNNI) machine:
#     .ci/cross_outputs.py records them natively, then checks under qemu (0 differing values);
#   - `lowp demo`, which must notice that onnxruntime is not exact on this CPU (below) and say so.
# onnxruntime itself is not the reference under qemu: on CPUs without VNNI its u8 x s8 kernels use
# vpmaddubsw, which saturates pairs of products at int16, so its int8 results there are not exact
# (`.ci/cross_outputs.py ort DIR` under the same qemu measures it; docs/PERFORMANCE.md). About 2
# minutes.   bash .ci/x86_avx2_python.sh   needs: qemu-user, and lowp + onnxruntime + torch installed
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/x86-avx2
mkdir -p "$BUILD"
PYBIN=$(python3 -c "import sys; print(sys.executable)")
RUNPY=(qemu-x86_64 -cpu Haswell "$PYBIN")

echo "== onnxruntime's outputs on this machine for the AVX2 check"
python3 .ci/cross_outputs.py write "$BUILD/models" > "$BUILD/cross-write.txt" 2>&1 || {
  grep -v "W:onnxruntime" "$BUILD/cross-write.txt" | tail -n 20; exit 1; }
tail -n 1 "$BUILD/cross-write.txt"

status=0
# qemu warns once per start about CPUID bits TCG lacks (pcid, x2apic, ...): filtered out below.
quiet() { grep -v "TCG doesn't support requested feature" || true; }
echo "== Python under qemu-x86_64 -cpu Haswell"
start=$(date +%s)
got=$("${RUNPY[@]}" -c "import lowp; print(','.join(lowp.kernels()))" 2> >(quiet >&2))
echo "kernels: $got"
[ "$got" = "avx2,ref" ] || { echo "FAIL: expected kernels avx2,ref"; status=1; }
TESTS=(tests/test_gemm.py tests/test_gemm_errors.py tests/test_gemv.py tests/test_requant.py)
LOWP_TEST_PYTHON="${RUNPY[*]}" "${RUNPY[@]}" -m pytest -q -p no:cacheprovider "${TESTS[@]}" > "$BUILD/log.txt" 2>&1 || status=1
grep -E "^(FAILED|ERROR)" "$BUILD/log.txt" || true
echo "pytest: $(tail -n 1 "$BUILD/log.txt")"
"${RUNPY[@]}" .ci/cross_outputs.py check "$BUILD/models" > "$BUILD/cross.txt" 2>&1 || status=1
grep -vE ": 0 differing values$|TCG doesn't support" "$BUILD/cross.txt" | tail -n 5
echo "[$(( $(date +%s) - start ))s]"
echo "== lowp demo (qemu-x86_64 -cpu Haswell)"
"${RUNPY[@]}" -m lowp.cli demo --reps 3 > "$BUILD/demo.txt" 2> >(quiet >&2) || status=1
cat "$BUILD/demo.txt"
# onnxruntime clips here (no VNNI), and the demo must say so next to its mismatch count.
grep -q "^note: onnxruntime clips int8 products on this CPU" "$BUILD/demo.txt" || {
  echo "FAIL: the demo did not detect onnxruntime's int8 saturation on this CPU"; status=1; }
exit $status
