// AVX-512 VBMI channel gather for rows of at most 128 bytes: per pixel the row sits in two zmm
// registers and every 64 output bytes are one VPERMI2B with a precomputed index vector. Exact by
// construction (a byte gather); compared with gather_channels_ref in the tests. Called only where the
// CPU reports AVX512_VBMI (the check lives in portable layout.cc).
#include <immintrin.h>

#include "ops/layout.h"

namespace lowp {
namespace ops {

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void gather_channels_vbmi(const uint8_t* x, int64_t c_in,
                                                                                   const int64_t* idx, int64_t c_out,
                                                                                   uint8_t* y, int64_t pixels) {
  // c_in <= 128 and c_out <= 256 (checked by the caller).
  alignas(64) uint8_t ib[256] = {};
  for (int64_t j = 0; j < c_out; ++j) ib[j] = static_cast<uint8_t>(idx[j]);
  const int nchunks = static_cast<int>((c_out + 63) / 64);
  __m512i iv[4];
  __mmask64 om[4];
  for (int k = 0; k < nchunks; ++k) {
    iv[k] = _mm512_load_si512(ib + 64 * k);
    const int64_t left = c_out - 64 * k;
    om[k] = left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
  }
  const __mmask64 m_lo = c_in >= 64 ? ~__mmask64{0} : ((__mmask64{1} << c_in) - 1);
  const __mmask64 m_hi = c_in <= 64 ? 0 : (c_in >= 128 ? ~__mmask64{0} : ((__mmask64{1} << (c_in - 64)) - 1));
  for (int64_t p = 0; p < pixels; ++p) {
    const uint8_t* xp = x + p * c_in;
    uint8_t* yp = y + p * c_out;
    const __m512i lo = _mm512_maskz_loadu_epi8(m_lo, xp);
    const __m512i hi = _mm512_maskz_loadu_epi8(m_hi, xp + 64);
    for (int k = 0; k < nchunks; ++k)
      _mm512_mask_storeu_epi8(yp + 64 * k, om[k], _mm512_permutex2var_epi8(lo, iv[k], hi));
  }
}

}  // namespace ops
}  // namespace lowp
