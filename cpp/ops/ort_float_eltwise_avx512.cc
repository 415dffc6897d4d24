// AVX-512 twin of the ort float Add / Mul rows (ops/ort_float_eltwise.h): the reference's float32
// operations on 16 lanes (DequantizeLinear multiply, add or multiply, true division, clamp to the type
// range less the zero point, round half to even by cvtps2dq, + zero point, clamp).
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
  const __m512 flo = _mm512_set1_ps(static_cast<float>(k.lo - k.zc)), fhi = _mm512_set1_ps(static_cast<float>(k.hi - k.zc));
  const __m512i qmin = _mm512_set1_epi32(k.qmin), qmax = _mm512_set1_epi32(k.qmax);
  const __m512 fa_s = _mm512_set1_ps(static_cast<float>(static_cast<int32_t>(a[0]) - k.za) * k.sa);
  const __m512 fb_s = _mm512_set1_ps(static_cast<float>(static_cast<int32_t>(b[0]) - k.zb) * k.sb);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 fa = as ? fa_s : _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(a + i, m), za)), sa);
    const __m512 fb = bs ? fb_s : _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(b + i, m), zb)), sb);
    __m512 v = ort_quot_avx512(k.mul ? _mm512_mul_ps(fa, fb) : _mm512_add_ps(fa, fb), sc, inv);
    v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), zc);
    q = _mm512_min_epi32(_mm512_max_epi32(q, qmin), qmax);
    _mm_mask_storeu_epi8(c + i, m, _mm512_cvtepi32_epi8(q));
  }
}

template <typename T>
void rows_f_avx512(const T* a, const float* fb, T* c, int64_t n, const OrtFloatBinary& k) {
  const __m512i za = _mm512_set1_epi32(k.za), zc = _mm512_set1_epi32(k.zc);
  const __m512 sa = _mm512_set1_ps(k.sa), sc = _mm512_set1_ps(k.sc), inv = _mm512_set1_ps(1.f / k.sc);
  // saturation to the type then the clamp = one clamp to [qmin, qmax] (integers: commutes with the rounding)
  const __m512 flo = _mm512_set1_ps(static_cast<float>(k.qmin - k.zc)), fhi = _mm512_set1_ps(static_cast<float>(k.qmax - k.zc));
  auto one = [&](int64_t i, __mmask16 m) {
    const __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(load16(a + i, m), za)), sa);
    const __m512 f = _mm512_maskz_loadu_ps(m, fb + i);
    __m512 v = ort_quot_avx512(k.mul ? _mm512_mul_ps(fa, f) : _mm512_add_ps(fa, f), sc, inv);
    v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
    _mm_mask_storeu_epi8(c + i, m, _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zc)));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) one(i, static_cast<__mmask16>(0xffff));
  if (i < n) one(i, static_cast<__mmask16>((1u << (n - i)) - 1));
}

}  // namespace

const OrtFloatRowKernels& ort_float_rows_avx512() {
  static const OrtFloatRowKernels k{"avx512", rows_avx512<int8_t>, rows_avx512<uint8_t>, rows_f_avx512<int8_t>,
                                    rows_f_avx512<uint8_t>};
  return k;
}

}  // namespace ops
}  // namespace lowp
