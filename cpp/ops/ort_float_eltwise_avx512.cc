// AVX-512 twin of the ort float Add / Mul rows (ops/ort_float_eltwise.h): the reference's float32
// operations on 16 lanes (DequantizeLinear multiply, add or multiply), then QuantizeLinear and the clamp
// (ops/ort_float_quot_avx512.h: the true division where the multiply by 1 / scale cannot decide).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "ops/ort_float_quot_avx512.h"
#include "ops/ort_float_eltwise.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
inline __m512i load16(const T* p, __mmask16 k) {
  const __m128i v = _mm_maskz_loadu_epi8(k, p);
  return std::is_same<T, int8_t>::value ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

template <typename T>
void rows_avx512(const T* a, bool as, const T* b, bool bs, T* c, int64_t n, const OrtFloatBinary& k) {
  const __m512i za = _mm512_set1_epi32(k.za), zb = _mm512_set1_epi32(k.zb), zc = _mm512_set1_epi32(k.zc);
  const __m512 sa = _mm512_set1_ps(k.sa), sb = _mm512_set1_ps(k.sb), sc = _mm512_set1_ps(k.sc),
               inv = _mm512_set1_ps(1.f / k.sc);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(k.qmin - k.zc)),
               fhi = _mm512_set1_ps(static_cast<float>(k.qmax - k.zc));
  const __m512 fa_s = _mm512_set1_ps(static_cast<float>(static_cast<int32_t>(a[0]) - k.za) * k.sa);
  const __m512 fb_s = _mm512_set1_ps(static_cast<float>(static_cast<int32_t>(b[0]) - k.zb) * k.sb);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 fa = as ? fa_s : _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(a + i, m), za)), sa);
    const __m512 fb = bs ? fb_s : _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(b + i, m), zb)), sb);
    const __m512 r = ort_round_clamped_avx512(k.mul ? _mm512_mul_ps(fa, fb) : _mm512_add_ps(fa, fb), sc, inv, flo, fhi);
    _mm_mask_storeu_epi8(c + i, m, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(r), zc)));
  }
}

template <typename T>
void rows_f_avx512(const T* a, const float* fb, T* c, int64_t n, const OrtFloatBinary& k) {
  const __m512i za = _mm512_set1_epi32(k.za), zc = _mm512_set1_epi32(k.zc);
  const __m512 sa = _mm512_set1_ps(k.sa), sc = _mm512_set1_ps(k.sc), inv = _mm512_set1_ps(1.f / k.sc);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(k.qmin - k.zc)),
               fhi = _mm512_set1_ps(static_cast<float>(k.qmax - k.zc));
  auto one = [&](int64_t i, __mmask16 m) {
    const __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(a + i, m), za)), sa);
    const __m512 f = _mm512_maskz_loadu_ps(m, fb + i);
    const __m512 r = ort_round_clamped_avx512(k.mul ? _mm512_mul_ps(fa, f) : _mm512_add_ps(fa, f), sc, inv, flo, fhi);
    _mm_mask_storeu_epi8(c + i, m, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(r), zc)));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) one(i, static_cast<__mmask16>(0xffff));
  if (i < n) one(i, static_cast<__mmask16>((1u << (n - i)) - 1));
}

}  // namespace

void ort_float_round_clamped_avx512(const float* y, int64_t n, float ys, int32_t zy, int32_t qmin, int32_t qmax,
                                    int32_t* q) {
  const __m512 vys = _mm512_set1_ps(ys), inv = _mm512_set1_ps(1.f / ys);
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin - zy)), hi = _mm512_set1_ps(static_cast<float>(qmax - zy));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 r = ort_round_clamped_avx512(_mm512_maskz_loadu_ps(m, y + i), vys, inv, lo, hi);
    _mm512_mask_storeu_epi32(q + i, m, _mm512_add_epi32(_mm512_cvtps_epi32(r), _mm512_set1_epi32(zy)));
  }
}

const OrtFloatRowKernels& ort_float_rows_avx512() {
  static const OrtFloatRowKernels k{"avx512", rows_avx512<int8_t>, rows_avx512<uint8_t>, rows_f_avx512<int8_t>,
                                    rows_f_avx512<uint8_t>};
  return k;
}

}  // namespace ops
}  // namespace lowp
