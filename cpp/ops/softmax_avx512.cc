// AVX-512 twins of the two per-element loops of TFLite's SOFTMAX rows (softmax.cc tflite_softmax_t; the scalar
// loops there are the reference): the row sum of the table terms and the branch-free output stage. Intrinsics
// only, nothing shared by inclusion: no inline function is compiled here for AVX-512 and merged elsewhere.
#include <immintrin.h>

#include <cstdint>

#include "ops/softmax.h"

namespace lowp {
namespace ops {

namespace {

// 16 stored bytes (int8 or uint8, masked tail) as int32 lanes.
inline __m512i load16(const void* p, __mmask16 m, bool s8) {
  const __m128i b = _mm_maskz_loadu_epi8(m, p);
  return s8 ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

}  // namespace

uint32_t tflite_softmax_row_sum_avx512(const void* x, int64_t D, int32_t max_in_row, const int32_t* acc, bool s8) {
  const auto* p = static_cast<const uint8_t*>(x);
  const __m512i mx = _mm512_set1_epi32(max_in_row);
  __m512i s = _mm512_setzero_si512();
  for (int64_t c = 0; c < D; c += 16) {
    const __mmask16 m = D - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (D - c)) - 1);
    const __m512i idx = _mm512_sub_epi32(mx, load16(p + c, m, s8));
    s = _mm512_add_epi32(s, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, acc, 4));
  }
  return static_cast<uint32_t>(_mm512_reduce_add_epi32(s));  // additions modulo 2^32: any order
}

void tflite_softmax_row_out_avx512(const void* x, void* y, int64_t D, int32_t max_in_row, const int32_t* exp_tab,
                                   int32_t scale, int shift, bool s8) {
  const auto* p = static_cast<const uint8_t*>(x);
  auto* q = static_cast<uint8_t*>(y);
  const __m512i mx = _mm512_set1_epi32(max_in_row), sc = _mm512_set1_epi64(scale);
  const __m512i round31 = _mm512_set1_epi64(int64_t{1} << 30), lo32 = _mm512_set1_epi64(0xFFFFFFFFLL);
  const __m512i half = _mm512_set1_epi32(1 << (shift - 1));
  const __m512i out_min = _mm512_set1_epi32(s8 ? -128 : 0), out_max = _mm512_set1_epi32(s8 ? 127 : 255);
  const __m128i count = _mm_cvtsi32_si128(shift);
  for (int64_t c = 0; c < D; c += 16) {
    const __mmask16 m = D - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (D - c)) - 1);
    const __m512i idx = _mm512_sub_epi32(mx, load16(p + c, m, s8));
    const __m512i e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, exp_tab, 4);
    // (scale * e + 2^30) >> 31 for the even and the odd lanes (both factors in [0, 2^31): unsigned products)
    const __m512i pe = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epu32(e, sc), round31), 31);
    const __m512i po = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(e, 32), sc), round31), 31);
    const __m512i prod = _mm512_or_si512(_mm512_and_si512(pe, lo32), _mm512_slli_epi64(po, 32));
    // (p + 2^(shift-1)) >> shift (p < 2^31: no wrap as unsigned), + out_min, at most out_max
    __m512i v = _mm512_add_epi32(_mm512_srl_epi32(_mm512_add_epi32(prod, half), count), out_min);
    v = _mm512_min_epi32(v, out_max);
    _mm512_mask_cvtepi32_storeu_epi8(q + c, m, v);
  }
}

}  // namespace ops
}  // namespace lowp
