// x86 AVX-512 VNNI GEMM kernel: vpdpbusd, u8 activations x s8 weights, kr=4, 8x32 tiles.
//
// Per k-group (4 k values) the kernel loads two zmm of B (32 columns x 4 s8), broadcasts the
// 4 u8 of each A row and issues 16 independent vpdpbusd (8 rows x 2 vectors). vpdpbusd adds
// four u8*s8 products (each |p| <= 255*128) into an int32 lane without saturation, so sums wrap
// modulo 2^32 exactly like the int64 reference reduced to int32.
//
// The output stage is fused and vectorised (16 columns per zmm): column terms, zb'*rowsum
// correction, then one of the three requantization families, bit-exact with requant/requant.h:
//   half_even: cvtdq2ps, mulps, clamp, cvtps2dq (MXCSR default: round to nearest even)
//   gemmlowp : x<<left (wrapping), SRDHM as (x*m + 2^30) >> 31 in 64-bit lanes (vpmuldq; equal to
//              gemmlowp's nudge-then-truncate for every input since m >= 0), RDBPOT in 32 bits
//   single   : (x*m + 2^(30-shift)) >> (31-shift) in 64-bit lanes (vpmuldq, vpsravq)
// then clamp to [qmin-zp, qmax-zp] (equal to the scalar "add zp then clamp" because that range
// lies inside int32), add zp, and store with masks (vpmovdb for 8-bit outputs): partial tiles
// never touch memory outside the m x n tile.
#include <immintrin.h>

#include <algorithm>

#include "gemm/kernel.h"
#include "runtime/cpu.h"

// GCC 12 reports its own _mm512_undefined_* placeholders inside unmasked intrinsics as
// "maybe uninitialized"; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace lowp {
namespace {

constexpr int kMR = 8, kNR = 32, kKR = 4;

inline __m512i load_cols(const int32_t* p, __mmask16 km) {
  return _mm512_mask_loadu_epi32(_mm512_setzero_si512(), km, p);
}

// Per-16-column requantization parameters, prepared once per tile column vector.
struct ColParams {
  __m512i ct, zb;
  __m512i mult, mult_odd, left, right;             // gemmlowp / single
  __m512i ts_even, ts_odd, rnd_even, rnd_odd;      // single
  __m512 scale, flo, fhi;                          // half_even
  __m512i lo, hi, zp, lo64, hi64;
};

inline __m512i requant_gemmlowp(__m512i x, const ColParams& p) {
  const __m512i xs = _mm512_sllv_epi32(x, p.left);
  const __m512i half = _mm512_set1_epi64(int64_t{1} << 30);
  // Even lanes: product in the qword, result = bits 31..62 -> low dword after >> 31.
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(xs, p.mult), half);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(xs, 32), p.mult_odd), half);
  const __m512i re = _mm512_srli_epi64(pe, 31);
  const __m512i ro = _mm512_slli_epi64(po, 1);  // bits 31..62 -> high dword
  const __m512i r = _mm512_mask_blend_epi32(0xAAAA, re, ro);
  // RoundingDivideByPOT(r, right): ties away from zero.
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, p.right), one);
  const __m512i rem = _mm512_and_si512(r, mask);
  const __m512i thr = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(r, 31));
  __m512i q = _mm512_srav_epi32(r, p.right);
  q = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, one);
  q = _mm512_min_epi32(_mm512_max_epi32(q, p.lo), p.hi);
  return _mm512_add_epi32(q, p.zp);
}

inline __m512i requant_single(__m512i x, const ColParams& p) {
  __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, p.mult), p.rnd_even);
  __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), p.mult_odd), p.rnd_odd);
  pe = _mm512_srav_epi64(pe, p.ts_even);
  po = _mm512_srav_epi64(po, p.ts_odd);
  pe = _mm512_min_epi64(_mm512_max_epi64(pe, p.lo64), p.hi64);
  po = _mm512_min_epi64(_mm512_max_epi64(po, p.lo64), p.hi64);
  const __m512i q = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
  return _mm512_add_epi32(q, p.zp);
}

inline __m512i requant_half_even(__m512i x, const ColParams& p) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), p.scale);
  f = _mm512_min_ps(_mm512_max_ps(f, p.flo), p.fhi);
  return _mm512_add_epi32(_mm512_cvtps_epi32(f), p.zp);
}

inline void load_params(ColParams& p, const Epilogue& ep, int j, __mmask16 km) {
  p.ct = load_cols(ep.col_term + j, km);
  p.zb = ep.zb ? load_cols(ep.zb + j, km) : _mm512_setzero_si512();
  if (ep.out_type == DType::S32) return;
  p.zp = _mm512_set1_epi32(ep.zp);
  switch (ep.rounding) {
    case Rounding::HalfEven:
      p.scale = _mm512_mask_loadu_ps(_mm512_setzero_ps(), km, ep.scale + j);
      p.flo = _mm512_set1_ps(static_cast<float>(ep.qmin - ep.zp));
      p.fhi = _mm512_set1_ps(static_cast<float>(ep.qmax - ep.zp));
      break;
    case Rounding::Gemmlowp: {
      p.mult = load_cols(ep.mult + j, km);
      p.mult_odd = _mm512_srli_epi64(p.mult, 32);
      const __m512i s = load_cols(ep.shift + j, km);
      p.left = _mm512_max_epi32(s, _mm512_setzero_si512());
      p.right = _mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), s), _mm512_setzero_si512());
      p.lo = _mm512_set1_epi32(ep.qmin - ep.zp);
      p.hi = _mm512_set1_epi32(ep.qmax - ep.zp);
      break;
    }
    case Rounding::Single: {
      p.mult = load_cols(ep.mult + j, km);
      p.mult_odd = _mm512_srli_epi64(p.mult, 32);
      const __m512i s = load_cols(ep.shift + j, km);
      const __m512i ts = _mm512_sub_epi32(_mm512_set1_epi32(31), s);  // 1..62
      p.ts_even = _mm512_and_si512(ts, _mm512_set1_epi64(0xffffffff));
      p.ts_odd = _mm512_srli_epi64(ts, 32);
      const __m512i one64 = _mm512_set1_epi64(1);
      p.rnd_even = _mm512_sllv_epi64(one64, _mm512_sub_epi64(p.ts_even, one64));
      p.rnd_odd = _mm512_sllv_epi64(one64, _mm512_sub_epi64(p.ts_odd, one64));
      p.lo64 = _mm512_set1_epi64(ep.qmin - ep.zp);
      p.hi64 = _mm512_set1_epi64(ep.qmax - ep.zp);
      break;
    }
  }
}

// Output stage for one 16-column vector of one row.
inline void store_row(__m512i x, const ColParams& p, const Epilogue& ep, int32_t row_sum, bool has_zb, size_t off,
                      __mmask16 km) {
  x = _mm512_add_epi32(x, p.ct);
  if (has_zb) x = _mm512_sub_epi32(x, _mm512_mullo_epi32(p.zb, _mm512_set1_epi32(row_sum)));
  if (ep.out_type == DType::S32) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(ep.c) + off, km, x);
    return;
  }
  __m512i q;
  switch (ep.rounding) {
    case Rounding::HalfEven: q = requant_half_even(x, p); break;
    case Rounding::Gemmlowp: q = requant_gemmlowp(x, p); break;
    default: q = requant_single(x, p); break;
  }
  // q lies in [qmin, qmax] inside the output type: truncation (vpmovdb) is exact.
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(ep.c) + off, km, q);
}

template <int M>
inline void epilogue(const __m512i (&acc)[M][2], const Tile& t, const Epilogue& ep) {
  const bool has_zb = ep.zb != nullptr;
  for (int v = 0; v < 2; ++v) {
    const int c0 = v * 16;
    if (c0 >= t.n) break;
    const int nn = std::min(16, t.n - c0);
    const __mmask16 km = nn == 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nn) - 1);
    const int j = t.col0 + c0;
    ColParams p{};
    load_params(p, ep, j, km);
    for (int r = 0; r < M; ++r) {
      const size_t off = static_cast<size_t>(t.row0 + r) * static_cast<size_t>(ep.ldc) + j;
      store_row(acc[r][v], p, ep, has_zb ? t.row_sums[r] : 0, has_zb, off, km);
    }
  }
}

template <int M>
void ukernel_m(const Tile& t, const Epilogue& ep) {
  __m512i acc[M][2];
  for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  const uint8_t* a = static_cast<const uint8_t*>(t.a);
  const int8_t* b = static_cast<const int8_t*>(t.b);
  const int G = t.kgroups;
  int g = 0;
  if (M <= 2) {
    // Few rows: too few independent chains to hide vpdpbusd latency; split K over 4 sets.
    __m512i acc2[3][M][2];
    for (int s = 0; s < 3; ++s)
      for (int r = 0; r < M; ++r) acc2[s][r][0] = acc2[s][r][1] = _mm512_setzero_si512();
    for (; g + 4 <= G; g += 4) {
      for (int l = 0; l < 8; ++l) _mm_prefetch(reinterpret_cast<const char*>(b) + 1024 + 64 * l, _MM_HINT_T0);
      for (int s = 0; s < 4; ++s) {
        const __m512i b0 = _mm512_loadu_si512(b + s * 128);
        const __m512i b1 = _mm512_loadu_si512(b + s * 128 + 64);
        for (int r = 0; r < M; ++r) {
          int32_t w;
          __builtin_memcpy(&w, a + s * kMR * kKR + r * kKR, 4);
          const __m512i av = _mm512_set1_epi32(w);
          if (s == 0) {
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
          } else {
            acc2[s - 1][r][0] = _mm512_dpbusd_epi32(acc2[s - 1][r][0], av, b0);
            acc2[s - 1][r][1] = _mm512_dpbusd_epi32(acc2[s - 1][r][1], av, b1);
          }
        }
      }
      a += 4 * kMR * kKR;
      b += 4 * kNR * kKR;
    }
    for (int s = 0; s < 3; ++s)
      for (int r = 0; r < M; ++r) {
        acc[r][0] = _mm512_add_epi32(acc[r][0], acc2[s][r][0]);
        acc[r][1] = _mm512_add_epi32(acc[r][1], acc2[s][r][1]);
      }
  }
  for (; g < G; ++g) {
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    for (int r = 0; r < M; ++r) {
      int32_t w;
      __builtin_memcpy(&w, a + r * kKR, 4);
      const __m512i av = _mm512_set1_epi32(w);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
    }
    a += kMR * kKR;
    b += kNR * kKR;
  }
  epilogue<M>(acc, t, ep);
}

void ukernel_avx512vnni(const Tile& t, const Epilogue& ep) {
  switch (t.m) {
    case 8: return ukernel_m<8>(t, ep);
    case 7: return ukernel_m<7>(t, ep);
    case 6: return ukernel_m<6>(t, ep);
    case 5: return ukernel_m<5>(t, ep);
    case 4: return ukernel_m<4>(t, ep);
    case 3: return ukernel_m<3>(t, ep);
    case 2: return ukernel_m<2>(t, ep);
    default: return ukernel_m<1>(t, ep);
  }
}

// Packs up to 8 rows of A (uint8 or int8) into the U8 domain, layout [g][r][4], 16 k at a time:
// 8 rows x 16 bytes are transposed as 8 x 4 dwords (one dword = one k-group of one row).
// Missing rows and k past K are zero (masked loads: nothing outside A is read). Row sums (in
// the domain) come from vpsadbw.
void pack_a_avx512vnni(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const __m128i flip = _mm_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const uint8_t* p[kMR];
  __mmask16 rmask[kMR];
  for (int r = 0; r < kMR; ++r) {
    p[r] = src + static_cast<ptrdiff_t>(std::min(r, m - 1)) * lda;
    rmask[r] = r < m ? 0xFFFF : 0;
  }
  const __m256i zero = _mm256_setzero_si256();
  __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  auto block = [&](int k, __mmask16 kmask, int ngroups) {
    __m128i x[kMR];
    for (int r = 0; r < kMR; ++r) {
      const __mmask16 mk = rmask[r] & kmask;
      const __m128i v = _mm_mask_loadu_epi8(_mm_setzero_si128(), mk, p[r] + k);
      x[r] = _mm_maskz_mov_epi8(mk, _mm_xor_si128(v, flip));
    }
    const __m256i t0 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[0]), x[4], 1);
    const __m256i t1 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[1]), x[5], 1);
    const __m256i t2 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[2]), x[6], 1);
    const __m256i t3 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[3]), x[7], 1);
    if (row_sums) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(t0, zero));
      s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(t1, zero));
      s2 = _mm256_add_epi64(s2, _mm256_sad_epu8(t2, zero));
      s3 = _mm256_add_epi64(s3, _mm256_sad_epu8(t3, zero));
    }
    const __m256i u0 = _mm256_unpacklo_epi32(t0, t1), u1 = _mm256_unpackhi_epi32(t0, t1);
    const __m256i u2 = _mm256_unpacklo_epi32(t2, t3), u3 = _mm256_unpackhi_epi32(t2, t3);
    __m256i* o = reinterpret_cast<__m256i*>(out + static_cast<size_t>(k / kKR) * kMR * kKR);
    _mm256_storeu_si256(o + 0, _mm256_unpacklo_epi64(u0, u2));
    if (ngroups > 1) _mm256_storeu_si256(o + 1, _mm256_unpackhi_epi64(u0, u2));
    if (ngroups > 2) _mm256_storeu_si256(o + 2, _mm256_unpacklo_epi64(u1, u3));
    if (ngroups > 3) _mm256_storeu_si256(o + 3, _mm256_unpackhi_epi64(u1, u3));
  };
  int k = 0;
  for (; k + 16 <= K; k += 16) block(k, 0xFFFF, 4);
  if (k < K) {
    const int rem = K - k;
    block(k, static_cast<__mmask16>((1u << rem) - 1), (rem + kKR - 1) / kKR);
  }
  if (row_sums) {
    const __m256i s[4] = {s0, s1, s2, s3};
    for (int r = 0; r < 4; ++r) {
      alignas(32) uint64_t q[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), s[r]);
      row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(q[0] + q[1]));
      row_sums[r + 4] = static_cast<int32_t>(static_cast<uint32_t>(q[2] + q[3]));
    }
  }
}

}  // namespace

extern const GemmKernel kGemmAvx512Vnni = {
    "avx512vnni", kMR, kNR, kKR, DType::U8, DType::S8, cpu::has_avx512vnni, ukernel_avx512vnni, 30,
    pack_a_avx512vnni,
};

}  // namespace lowp
