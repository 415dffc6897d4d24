// x86 AVX2 GEMV (M <= 4 rows): exact vpmaddwd + vpaddd. vpmaddubsw (saturating) is never used:
// both operands are int16 in [-128, 255], each pair sum is at most 2*255*255 in magnitude, and
// vpaddd accumulates modulo 2^32.
//
// B layout: the avx2 GEMM kernel packs B as int16 ([panel][g][16 columns][2], 64 bytes per
// k-group), twice the bytes of the weights, and a GEMV is bound by streaming B. So this twin
// narrows that packing once per PackedB (build_layout_avx2: every int16 to its low byte, same
// order, 32 bytes per k-group) and widens it back in registers (vpmovsxbw for int8 weights,
// vpmovzxbw for uint8: exactly the int16 values of the original packing, so the column sums and
// zero points of the PackedB still apply).
//
// A is widened once per call into a per-thread int16 buffer (zero padded to whole k-groups), so
// the loop broadcasts each row's int16 pair from memory. Chains: rows x 2 vectors x U k-groups
// (U = 4, 2, 1, 1 for 1..4 rows). The output stage (column terms from the column sums and za,
// zb*rowsum, int32 store or requantization of requant_avx2.h) is fused.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "gemm/gemv.h"
#include "gemm/kernels/requant_avx2.h"

namespace lowp {

namespace {

constexpr int kNR = 16, kKR = 2, kGroupBytes = kNR * kKR;  // narrowed layout: 1 byte per value
constexpr int kPrefetch = 1024;  // bytes of B ahead (32 k-groups)

template <bool kU8>
inline __m256i widen(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return kU8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
}

inline __m256i bcast_pair(const int16_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return _mm256_set1_epi32(w);
}

template <int M, bool kU8>
inline __attribute__((always_inline)) void panel_dot(const int16_t* a, size_t a_stride, const uint8_t* b, int groups,
                                                     __m256i (&out)[M][2]) {
  constexpr int U = M == 1 ? 4 : (M == 2 ? 2 : 1);
  __m256i acc[U][M][2];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[u][r][0] = acc[u][r][1] = _mm256_setzero_si256();
  int g = 0;
  for (; g + U <= groups; g += U) {
#pragma GCC unroll 8
    for (int l = 0; l < (U + 1) / 2; ++l) _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetch + 64 * l, _MM_HINT_T0);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const __m256i b0 = widen<kU8>(b + u * kGroupBytes);
      const __m256i b1 = widen<kU8>(b + u * kGroupBytes + 16);
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) {
        const __m256i av = bcast_pair(a + r * a_stride + kKR * (g + u));
        acc[u][r][0] = _mm256_add_epi32(acc[u][r][0], _mm256_madd_epi16(av, b0));
        acc[u][r][1] = _mm256_add_epi32(acc[u][r][1], _mm256_madd_epi16(av, b1));
      }
    }
    b += U * kGroupBytes;
  }
  for (; g < groups; ++g) {
    const __m256i b0 = widen<kU8>(b);
    const __m256i b1 = widen<kU8>(b + 16);
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) {
      const __m256i av = bcast_pair(a + r * a_stride + kKR * g);
      acc[0][r][0] = _mm256_add_epi32(acc[0][r][0], _mm256_madd_epi16(av, b0));
      acc[0][r][1] = _mm256_add_epi32(acc[0][r][1], _mm256_madd_epi16(av, b1));
    }
    b += kGroupBytes;
  }
#pragma GCC unroll 8
  for (int r = 0; r < M; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v) {
      __m256i s = acc[0][r][v];
#pragma GCC unroll 8
      for (int u = 1; u < U; ++u) s = _mm256_add_epi32(s, acc[u][r][v]);
      out[r][v] = s;
    }
  }
}

// A widened to int16 (the S16 domain is the value itself), rows zero padded to whole k-groups.
const int16_t* prepare_a(const GemvCall& g, size_t row_elems) {
  thread_local std::vector<int16_t> buf;
  const size_t need = row_elems * g.m + 16;
  if (buf.size() < need) buf.resize(need);
  int16_t* out = buf.data();
  for (int r = 0; r < g.m; ++r) {
    const uint8_t* src = static_cast<const uint8_t*>(g.a) + static_cast<size_t>(r) * g.lda;
    int16_t* dst = out + r * row_elems;
    int k = 0;
    if (g.a_type == DType::U8) {
      for (; k + 16 <= g.K; k += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k),
                            _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k))));
      for (; k < g.K; ++k) dst[k] = src[k];
    } else {
      for (; k + 16 <= g.K; k += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k),
                            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k))));
      for (; k < g.K; ++k) dst[k] = static_cast<int8_t>(src[k]);
    }
    for (; k < static_cast<int>(row_elems); ++k) dst[k] = 0;
  }
  return out;
}

inline __m256i load_or_bcast(const int32_t* p, int j, bool per_col, int nn, __m256i m) {
  return per_col ? avx2::load_cols(p + j, nn, m) : _mm256_set1_epi32(p[0]);
}

void rq_params(avx2::ColParams& p, const GemvCall& g, int j, int nn, __m256i m) {
  p.zp = _mm256_set1_epi32(g.zp);
  switch (g.rounding) {
    case Rounding::HalfEven:
      p.scale = g.per_col ? _mm256_castsi256_ps(avx2::load_cols(reinterpret_cast<const int32_t*>(g.scale + j), nn, m))
                          : _mm256_set1_ps(g.scale[0]);
      p.flo = _mm256_set1_ps(static_cast<float>(g.qmin - g.zp));
      p.fhi = _mm256_set1_ps(static_cast<float>(g.qmax - g.zp));
      break;
    case Rounding::Gemmlowp: {
      p.mult = load_or_bcast(g.mult, j, g.per_col, nn, m);
      p.mult_odd = _mm256_srli_epi64(p.mult, 32);
      const __m256i s = load_or_bcast(g.shift, j, g.per_col, nn, m);
      p.left = _mm256_max_epi32(s, _mm256_setzero_si256());
      p.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s), _mm256_setzero_si256());
      p.lo = _mm256_set1_epi32(g.qmin - g.zp);
      p.hi = _mm256_set1_epi32(g.qmax - g.zp);
      break;
    }
    case Rounding::Single: {
      p.mult = load_or_bcast(g.mult, j, g.per_col, nn, m);
      p.mult_odd = _mm256_srli_epi64(p.mult, 32);
      const __m256i s = load_or_bcast(g.shift, j, g.per_col, nn, m);
      const __m256i ts = _mm256_sub_epi32(_mm256_set1_epi32(31), s);  // 1..62
      p.ts_even = _mm256_and_si256(ts, _mm256_set1_epi64x(0xffffffff));
      p.ts_odd = _mm256_srli_epi64(ts, 32);
      const __m256i one64 = _mm256_set1_epi64x(1);
      p.rnd_even = _mm256_sllv_epi64(one64, _mm256_sub_epi64(p.ts_even, one64));
      p.rnd_odd = _mm256_sllv_epi64(one64, _mm256_sub_epi64(p.ts_odd, one64));
      p.lo64 = _mm256_set1_epi64x(g.qmin - g.zp);
      p.hi64 = _mm256_set1_epi64x(g.qmax - g.zp);
      break;
    }
  }
}

template <int M, bool kU8>
void gemv_rows(const GemvCall& g, int p0, int p1) {
  const size_t panel_bytes = static_cast<size_t>(g.kgroups) * kGroupBytes;
  const size_t row_elems = static_cast<size_t>(g.kgroups) * kKR;
  const int16_t* a = prepare_a(g, row_elems);
  const __m256i za = _mm256_set1_epi32(g.za_dom);
  const __m256i kza = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(g.K) * static_cast<uint32_t>(g.za_dom)));
  const size_t esz = g.out_type == DType::S32 ? 4 : 1;
  uint8_t* const c = static_cast<uint8_t*>(g.c);
  for (int p = p0; p < p1; ++p) {
    const int j0 = p * kNR;
    __m256i acc[M][2];
    panel_dot<M, kU8>(a, row_elems, g.layout + p * panel_bytes, g.kgroups, acc);
    for (int v = 0; v < 2; ++v) {
      const int j = j0 + 8 * v;
      if (j >= g.N) break;
      const int nn = g.N - j < 8 ? g.N - j : 8;
      const __m256i m = avx2::lane_mask(nn);
      __m256i ct = _mm256_mullo_epi32(za, avx2::load_cols(g.colsum + j, nn, m));
      ct = g.bias ? _mm256_sub_epi32(avx2::load_cols(g.bias + j, nn, m), ct) : _mm256_sub_epi32(_mm256_setzero_si256(), ct);
      __m256i zb = _mm256_setzero_si256();
      if (g.zb) {
        zb = avx2::load_cols(g.zb + j, nn, m);
        ct = _mm256_add_epi32(ct, _mm256_mullo_epi32(kza, zb));
      }
      avx2::ColParams rp{};
      if (g.out_type != DType::S32) rq_params(rp, g, j, nn, m);
      for (int r = 0; r < M; ++r) {
        __m256i x = _mm256_add_epi32(acc[r][v], ct);
        if (g.zb) x = _mm256_sub_epi32(x, _mm256_mullo_epi32(zb, _mm256_set1_epi32(g.row_sums[r])));
        uint8_t* dst = c + (static_cast<size_t>(r) * g.ldc + j) * esz;
        if (g.out_type == DType::S32) {
          if (nn == 8)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), x);
          else
            _mm256_maskstore_epi32(reinterpret_cast<int*>(dst), m, x);
          continue;
        }
        const __m256i q = g.rounding == Rounding::HalfEven   ? avx2::requant_half_even(x, rp)
                          : g.rounding == Rounding::Gemmlowp ? avx2::requant_gemmlowp(x, rp)
                                                             : avx2::requant_single(x, rp);
        // q lies in [qmin, qmax] inside the output type, so the saturating packs are exact.
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        const __m128i bytes = g.out_type == DType::U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
        if (nn == 8) {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
        } else {
          alignas(16) uint8_t tmp[16];
          _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
          std::memcpy(dst, tmp, nn);
        }
      }
    }
  }
}

}  // namespace

template <bool kU8>
void gemv_avx2_t(const GemvCall& g, int p0, int p1) {
  switch (g.m) {
    case 1: return gemv_rows<1, kU8>(g, p0, p1);
    case 2: return gemv_rows<2, kU8>(g, p0, p1);
    case 3: return gemv_rows<3, kU8>(g, p0, p1);
    default: return gemv_rows<4, kU8>(g, p0, p1);
  }
}

void gemv_avx2(const GemvCall& g, int p0, int p1) {
  if (g.B->b_type() == DType::U8)
    gemv_avx2_t<true>(g, p0, p1);
  else
    gemv_avx2_t<false>(g, p0, p1);
}

// The narrowed layout: one byte per int16 of the avx2 packing, same order (gemv_layout).
size_t layout_bytes_avx2(const PackedB& B) { return B.packed_bytes() / 2; }

void build_layout_avx2(const PackedB& B, uint8_t* dst) {
  const int16_t* src = static_cast<const int16_t*>(B.panel(0));
  const size_t n = B.packed_bytes() / 2;
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i]);  // values lie in [-128, 255]
}

}  // namespace lowp
