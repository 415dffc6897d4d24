// AVX2 channels-last max pool (x and y channel stride 1): for each output pixel the in-bounds tap
// offsets are listed once, then 32 channels at a time are reduced with vpmaxub / vpmaxsb in a
// register (one load per tap, one store). The channel tail (< 32) uses the scalar loop. Exact:
// a max of the same integers as the reference (pool.cc, max_pool_t).
#include <immintrin.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "ops/pool.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
void max_pool_channels_last_avx2_t(const Pool2D& g, const T* x, T* y) {
  constexpr bool kSigned = std::numeric_limits<T>::is_signed;
  const int64_t C = g.C;
  const __m256i lowest = _mm256_set1_epi8(static_cast<char>(std::numeric_limits<T>::lowest()));
  std::vector<int64_t> offs(static_cast<size_t>(g.kh * g.kw));
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
        size_t nt = 0;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t h = h0 + i * g.dh;
          if (h < 0 || h >= g.H) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t w = w0 + j * g.dw;
            if (w < 0 || w >= g.W) continue;
            offs[nt++] = n * g.xs[0] + h * g.xs[2] + w * g.xs[3];
          }
        }
        T* yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
        int64_t c = 0;
        for (; c + 32 <= C; c += 32) {
          __m256i m = lowest;
          for (size_t t = 0; t < nt; ++t) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + offs[t] + c));
            m = kSigned ? _mm256_max_epi8(m, v) : _mm256_max_epu8(m, v);
          }
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), m);
        }
        for (; c < C; ++c) {
          T m = std::numeric_limits<T>::lowest();
          for (size_t t = 0; t < nt; ++t) m = x[offs[t] + c] > m ? x[offs[t] + c] : m;
          yp[c] = m;
        }
      }
}

}  // namespace

void max_pool_channels_last_avx2(const Pool2D& g, const void* x, void* y, DType t) {
  if (t == DType::U8)
    max_pool_channels_last_avx2_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  else
    max_pool_channels_last_avx2_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y));
}

namespace {
// Channels [c0, c0 + 32 * V) of every pixel: V 32-channel vectors accumulate in int16 registers over
// blocks of 128 pixels (|block sum| <= 128 * 255 < 2^15), each block then widened into acc (int32).
// One pass reads up to 128 contiguous bytes per pixel.
template <int V, bool S8>
void global_sum_stripe(const uint8_t* x, int64_t count, int64_t stride, int32_t* acc) {
  for (int64_t p0 = 0; p0 < count; p0 += 128) {
    const int64_t p1 = p0 + 128 < count ? p0 + 128 : count;
    __m256i lo[V], hi[V];
    for (int v = 0; v < V; ++v) lo[v] = hi[v] = _mm256_setzero_si256();
    for (int64_t p = p0; p < p1; ++p) {
      const uint8_t* xp = x + p * stride;
      for (int v = 0; v < V; ++v) {
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp + 32 * v));
        const __m128i b0 = _mm256_castsi256_si128(b), b1 = _mm256_extracti128_si256(b, 1);
        lo[v] = _mm256_add_epi16(lo[v], S8 ? _mm256_cvtepi8_epi16(b0) : _mm256_cvtepu8_epi16(b0));
        hi[v] = _mm256_add_epi16(hi[v], S8 ? _mm256_cvtepi8_epi16(b1) : _mm256_cvtepu8_epi16(b1));
      }
    }
    for (int v = 0; v < V; ++v) {
      int32_t* a = acc + 32 * v;
      const __m256i parts[4] = {_mm256_cvtepi16_epi32(_mm256_castsi256_si128(lo[v])),
                                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(lo[v], 1)),
                                _mm256_cvtepi16_epi32(_mm256_castsi256_si128(hi[v])),
                                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(hi[v], 1))};
      for (int q = 0; q < 4; ++q) {
        __m256i* ap = reinterpret_cast<__m256i*>(a + 8 * q);
        _mm256_storeu_si256(ap, _mm256_add_epi32(_mm256_loadu_si256(ap), parts[q]));
      }
    }
  }
}

template <bool S8>
void global_sum_t(const uint8_t* x, int64_t count, int64_t stride, int64_t C, int32_t* acc) {
  int64_t c = 0;
  for (; c + 128 <= C; c += 128) global_sum_stripe<4, S8>(x + c, count, stride, acc + c);
  switch ((C - c) / 32) {
    case 3: global_sum_stripe<3, S8>(x + c, count, stride, acc + c); c += 96; break;
    case 2: global_sum_stripe<2, S8>(x + c, count, stride, acc + c); c += 64; break;
    case 1: global_sum_stripe<1, S8>(x + c, count, stride, acc + c); c += 32; break;
    default: break;
  }
  if (C - c >= 16) {  // 16 channels: one 16 x int16 register per block of 128 pixels
    for (int64_t p0 = 0; p0 < count; p0 += 128) {
      const int64_t p1 = p0 + 128 < count ? p0 + 128 : count;
      __m256i s16 = _mm256_setzero_si256();
      for (int64_t p = p0; p < p1; ++p) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + p * stride + c));
        s16 = _mm256_add_epi16(s16, S8 ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b));
      }
      __m256i* a0 = reinterpret_cast<__m256i*>(acc + c);
      __m256i* a1 = reinterpret_cast<__m256i*>(acc + c + 8);
      _mm256_storeu_si256(a0, _mm256_add_epi32(_mm256_loadu_si256(a0), _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s16))));
      _mm256_storeu_si256(a1, _mm256_add_epi32(_mm256_loadu_si256(a1),
                                               _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s16, 1))));
    }
    c += 16;
  }
  if (C - c >= 8) {  // 8 channels: 8 bytes per pixel into 8 x int16
    for (int64_t p0 = 0; p0 < count; p0 += 128) {
      const int64_t p1 = p0 + 128 < count ? p0 + 128 : count;
      __m128i s8v = _mm_setzero_si128();
      for (int64_t p = p0; p < p1; ++p) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + p * stride + c));
        s8v = _mm_add_epi16(s8v, S8 ? _mm_cvtepi8_epi16(b) : _mm_cvtepu8_epi16(b));
      }
      __m256i* a0 = reinterpret_cast<__m256i*>(acc + c);
      _mm256_storeu_si256(a0, _mm256_add_epi32(_mm256_loadu_si256(a0), _mm256_cvtepi16_epi32(s8v)));
    }
    c += 8;
  }
  for (; c < C; ++c) {  // the last < 8 channels
    int32_t sum = 0;
    for (int64_t p = 0; p < count; ++p)
      sum += S8 ? static_cast<int32_t>(static_cast<int8_t>(x[p * stride + c])) : static_cast<int32_t>(x[p * stride + c]);
    acc[c] += sum;
  }
}
}  // namespace

// y[c] = requant_half_even(acc[c] - sub, scale, zp, lo, hi) for c < C (y contiguous 8-bit): the
// same float32 operations (exact int32 -> float conversion, one multiply, clamp to [lo - zp,
// hi - zp], cvtps2dq half to even, + zp), 8 channels per step. The scalar loop called nearbyintf
// once per channel (~3 us of MobileNetV2's 1280-channel pool).
void global_requant_row_avx2(const int32_t* acc, int32_t sub, int64_t C, float scale, int32_t zp, int32_t lo,
                             int32_t hi, void* yv, bool s8) {
  uint8_t* y = static_cast<uint8_t*>(yv);
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256 fl = _mm256_set1_ps(static_cast<float>(lo - zp)), fh = _mm256_set1_ps(static_cast<float>(hi - zp));
  const __m256i z = _mm256_set1_epi32(zp), sb = _mm256_set1_epi32(sub);
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    const __m256i a = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + c)), sb);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(a), sc);
    f = _mm256_min_ps(_mm256_max_ps(f, fl), fh);
    const __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);  // in [lo, hi]
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + c), s8 ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
  }
  for (; c < C; ++c) {
    float f = static_cast<float>(acc[c] - sub) * scale;
    f = _mm_cvtss_f32(_mm_min_ss(_mm_max_ss(_mm_set_ss(f), _mm256_castps256_ps128(fl)), _mm256_castps256_ps128(fh)));
    y[c] = static_cast<uint8_t>(_mm_cvtss_si32(_mm_set_ss(f)) + zp);
  }
}

// acc[c] += sum over `count` pixels (row stride `stride` elements) of x[p * stride + c], c < C: the
// channels-last global-average-pool sums, exact (the same integer sums as the scalar loop in pool.cc).
void global_sum_channels_last_avx2(const void* xv, DType t, int64_t count, int64_t stride, int64_t C, int32_t* acc) {
  const uint8_t* x = static_cast<const uint8_t*>(xv);
  if (t == DType::S8) global_sum_t<true>(x, count, stride, C, acc);
  else global_sum_t<false>(x, count, stride, C, acc);
}

}  // namespace ops
}  // namespace lowp
