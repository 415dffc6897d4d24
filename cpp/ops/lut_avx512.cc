// AVX-512 VBMI lookup-table kernel: 64 bytes per step with two VPERMI2B (each covers 128 table
// entries) and a blend on the index's top bit. Exact by construction (a byte gather); compared
// with the scalar lut_apply in the tests. Called only where the CPU reports AVX512_VBMI (the check lives in portable quantize.cc).
#include <immintrin.h>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void lut_apply_vbmi(const uint8_t* x, const uint8_t* table,
                                                                             uint8_t* y, int64_t n) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i idx = _mm512_loadu_si512(x + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);  // entries 0..127 (index bit 6 picks t1)
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);  // entries 128..255
    const __mmask64 top = _mm512_movepi8_mask(idx);            // index bit 7
    _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(top, lo, hi));
  }
  if (i < n) {
    const __mmask64 m = (~uint64_t{0}) >> (64 - (n - i));
    const __m512i idx = _mm512_maskz_loadu_epi8(m, x + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    const __mmask64 top = _mm512_movepi8_mask(idx);
    _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(top, lo, hi));
  }
}

}  // namespace ops
}  // namespace lowp
