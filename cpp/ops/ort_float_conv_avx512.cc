// AVX-512 twin of ort_float_blocks_ref (ops/ort_float_conv.h): 16 output channels per vector, each lane
// the same FMA chain (vfmadd231ps rounds once, like std::fma) over K blocks, blocks added in order.
#include <immintrin.h>

#include <algorithm>

#include "ops/ort_float_conv.h"

namespace lowp {
namespace ops {

void ort_float_blocks_avx512(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks,
                             float* y) {
  const int K = p.K, Mp = p.Mpad;
  const float* wt = p.wt.data();
  for (int b0 = 0; b0 < nblocks; b0 += 8) {
    const int nb = std::min(8, nblocks - b0);
    __m512 c[8], a[8];
    for (int k0 = 0; k0 < K; k0 += p.stride_k) {
      const int k1 = std::min(K, k0 + p.stride_k);
      for (int i = 0; i < 8; ++i) a[i] = _mm512_setzero_ps();
      const float* const* col = columns + b0;
      for (int k = k0; k < k1; ++k) {
        const float* row = wt + static_cast<size_t>(k) * Mp;
        for (int i = 0; i < nb; ++i)
          a[i] = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[b0 + i]), _mm512_set1_ps(col[i][k]), a[i]);
      }
      for (int i = 0; i < nb; ++i) c[i] = k0 == 0 ? a[i] : _mm512_add_ps(c[i], a[i]);
    }
    for (int i = 0; i < nb; ++i) _mm512_storeu_ps(y + 16 * (b0 + i), c[i]);
  }
}

int ort_float_check_avx512(const OrtFloatConv& p, const int32_t* a, int m0, int m1, float fl1, float fmx, void* y_row,
                           int* flagged) {
  const bool s8out = p.y_type == DType::S8;
  const __m512 lo = _mm512_set1_ps(-4194304.f), hi = _mm512_set1_ps(4194304.f), magic = _mm512_set1_ps(12582912.f);
  const __m512 half = _mm512_set1_ps(0.5f), vg = _mm512_set1_ps(p.g), vl1 = _mm512_set1_ps(fl1),
               vmx = _mm512_set1_ps(fmx);
  const __m512i zy = _mm512_set1_epi32(p.zy), qmin = _mm512_set1_epi32(p.qmin), qmax = _mm512_set1_epi32(p.qmax),
                one = _mm512_set1_epi32(1);
  int nf = 0;
  for (int m = m0; m < m1; m += 16) {
    const __mmask16 k = m + 16 <= m1 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (m1 - m)) - 1);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a + m)), _mm512_maskz_loadu_ps(k, &p.sc[m])),
                             _mm512_maskz_loadu_ps(k, &p.bt[m]));
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    const __m512 rr = _mm512_sub_ps(_mm512_add_ps(t, magic), magic);
    const __m512 d = _mm512_abs_ps(_mm512_sub_ps(t, rr));
    const __m512 S = _mm512_min_ps(_mm512_mul_ps(vl1, _mm512_maskz_loadu_ps(k, &p.maxw[m])),
                                   _mm512_mul_ps(vmx, _mm512_maskz_loadu_ps(k, &p.l1w[m])));
    const __m512 B = _mm512_add_ps(_mm512_mul_ps(vg, S), _mm512_maskz_loadu_ps(k, &p.slack[m]));
    const __m512i qr = _mm512_add_epi32(_mm512_cvtps_epi32(rr), zy);
    const __m512i q = _mm512_min_epi32(_mm512_max_epi32(qr, qmin), qmax);
    const __m128i qb = _mm512_cvtepi32_epi8(q);
    if (s8out)
      _mm_mask_storeu_epi8(static_cast<int8_t*>(y_row) + m, k, qb);
    else
      _mm_mask_storeu_epi8(static_cast<uint8_t*>(y_row) + m, k, qb);
    const __mmask16 near = k & _mm512_cmp_ps_mask(_mm512_sub_ps(half, d), B, _CMP_LE_OQ);
    if (near == 0) continue;
    const __mmask16 clamped = _mm512_cmp_ps_mask(B, half, _CMP_LT_OQ) &
                              (_mm512_cmpge_epi32_mask(_mm512_sub_epi32(qr, one), qmax) |
                               _mm512_cmple_epi32_mask(_mm512_add_epi32(qr, one), qmin));
    unsigned bits = static_cast<unsigned>(near & static_cast<__mmask16>(~clamped));
    while (bits) {
      flagged[nf++] = m + __builtin_ctz(bits);
      bits &= bits - 1;
    }
  }
  return nf;
}

}  // namespace ops
}  // namespace lowp
