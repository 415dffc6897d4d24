// AVX2 twin of the ort float Add / Mul rows (ops/ort_float_eltwise.h) for CPUs without AVX-512: the
// reference's float32 operations on 8 lanes (DequantizeLinear multiply, add or multiply), then
// QuantizeLinear and the clamp (ops/ort_float_quant_avx2.h). Tails of < 8 elements run the same steps one
// lane at a time.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "ops/ort_float_eltwise.h"
#include "ops/ort_float_quant_avx2.h"
#include "ops/quantize.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
inline __m256i load8(const T* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return std::is_same<T, int8_t>::value ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

template <typename T>
inline T quant_scalar(float y, const OrtFloatBinary& k) {
  return static_cast<T>(std::min(std::max(quantize_one(y, k.sc, k.zc, k.lo, k.hi), k.qmin), k.qmax));
}

template <typename T>
void rows_avx2(const T* a, bool as, const T* b, bool bs, T* c, int64_t n, const OrtFloatBinary& k) {
  const __m256i za = _mm256_set1_epi32(k.za), zb = _mm256_set1_epi32(k.zb);
  const __m256 sa = _mm256_set1_ps(k.sa), sb = _mm256_set1_ps(k.sb);
  const float fa0 = static_cast<float>(static_cast<int32_t>(a[0]) - k.za) * k.sa;
  const float fb0 = static_cast<float>(static_cast<int32_t>(b[0]) - k.zb) * k.sb;
  const __m256 fa_s = _mm256_set1_ps(fa0), fb_s = _mm256_set1_ps(fb0);
  constexpr bool kS8 = std::is_same<T, int8_t>::value;
  const OrtQuantizeAvx2 quant(k.sc, k.zc, k.qmin, k.qmax);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = as ? fa_s : _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a + i), za)), sa);
    const __m256 fb = bs ? fb_s : _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(b + i), zb)), sb);
    ort_store8_avx2(reinterpret_cast<uint8_t*>(c + i), quant(k.mul ? _mm256_mul_ps(fa, fb) : _mm256_add_ps(fa, fb)), kS8);
  }
  for (; i < n; ++i) {
    const float fa = as ? fa0 : static_cast<float>(static_cast<int32_t>(a[i]) - k.za) * k.sa;
    const float fb = bs ? fb0 : static_cast<float>(static_cast<int32_t>(b[i]) - k.zb) * k.sb;
    c[i] = quant_scalar<T>(k.mul ? fa * fb : fa + fb, k);
  }
}

template <typename T>
void rows_f_avx2(const T* a, const float* fb, T* c, int64_t n, const OrtFloatBinary& k) {
  const __m256i za = _mm256_set1_epi32(k.za);
  const __m256 sa = _mm256_set1_ps(k.sa);
  constexpr bool kS8 = std::is_same<T, int8_t>::value;
  const OrtQuantizeAvx2 quant(k.sc, k.zc, k.qmin, k.qmax);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a + i), za)), sa);
    const __m256 f = _mm256_loadu_ps(fb + i);
    ort_store8_avx2(reinterpret_cast<uint8_t*>(c + i), quant(k.mul ? _mm256_mul_ps(fa, f) : _mm256_add_ps(fa, f)), kS8);
  }
  for (; i < n; ++i) {
    const float fa = static_cast<float>(static_cast<int32_t>(a[i]) - k.za) * k.sa;
    c[i] = quant_scalar<T>(k.mul ? fa * fb[i] : fa + fb[i], k);
  }
}

}  // namespace

const OrtFloatRowKernels& ort_float_rows_avx2() {
  static const OrtFloatRowKernels k{"avx2", rows_avx2<int8_t>, rows_avx2<uint8_t>, rows_f_avx2<int8_t>,
                                    rows_f_avx2<uint8_t>};
  return k;
}

}  // namespace ops
}  // namespace lowp
