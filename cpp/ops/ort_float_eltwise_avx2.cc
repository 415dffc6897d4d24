// AVX2 twin of the ort float Add / Mul rows (ops/ort_float_eltwise.h) for CPUs without AVX-512: the
// reference's float32 operations on 8 lanes (DequantizeLinear multiply, add or multiply), then
// QuantizeLinear as quantize_one computes it (a true division, the clamp with NaN to its lower end, as
// MAXPS does, cvtps2dq's half-to-even rounding) with [qmin, qmax] as the clamp (rounding is monotone and
// the bounds are integers, so clamping before it to [qmin - zc, qmax - zc] is the same). Tails of < 8
// elements run the same steps one lane at a time.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "ops/ort_float_eltwise.h"
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
inline void store8(T* p, __m256i q) {  // q in T's range: the saturating packs are exact
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b = std::is_same<T, int8_t>::value ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
}

struct Quant {
  __m256 sc, flo, fhi;
  __m256i zc;
  explicit Quant(const OrtFloatBinary& k)
      : sc(_mm256_set1_ps(k.sc)),
        flo(_mm256_set1_ps(static_cast<float>(k.qmin - k.zc))),
        fhi(_mm256_set1_ps(static_cast<float>(k.qmax - k.zc))),
        zc(_mm256_set1_epi32(k.zc)) {}
  __m256i operator()(__m256 y) const {
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(y, sc), flo), fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zc);
  }
};

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
  const Quant quant(k);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = as ? fa_s : _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a + i), za)), sa);
    const __m256 fb = bs ? fb_s : _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(b + i), zb)), sb);
    store8(c + i, quant(k.mul ? _mm256_mul_ps(fa, fb) : _mm256_add_ps(fa, fb)));
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
  const Quant quant(k);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a + i), za)), sa);
    const __m256 f = _mm256_loadu_ps(fb + i);
    store8(c + i, quant(k.mul ? _mm256_mul_ps(fa, f) : _mm256_add_ps(fa, f)));
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
