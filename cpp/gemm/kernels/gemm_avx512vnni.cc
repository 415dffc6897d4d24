// x86 AVX-512 VNNI GEMM kernel: vpdpbusd, u8 activations x s8 weights, kr=4, 12x32 tiles.
//
// Register tile: 12 rows x 32 columns = 24 zmm accumulators. Per k-group (4 k values) the
// kernel loads two zmm of B (32 columns x 4 s8), broadcasts the 4 u8 of each A row and issues
// 24 independent vpdpbusd: 14 loads per 24 vpdpbusd (8x32 tiles needed 10 per 16), which is what
// bounds the loop below the bare vpdpbusd rate. vpdpbusd adds four u8*s8 products (each
// |p| <= 255*128) into an int32 lane without saturation, so sums wrap modulo 2^32 exactly like
// the int64 reference reduced to int32.
//
// One call covers an A panel (12 rows, all of K, in L1) against a run of B panels (the driver's
// L2 block). The accumulators start from the column terms (bias, zero-point terms) and the row
// term -zb'*rowsum'(i) instead of adding them after the loop, so the int32 output stage is a
// plain store and the requantizing ones are the requantization alone (vnni_avx512.h).
#include <immintrin.h>

#include <algorithm>

#include "gemm/kernel.h"
#include "gemm/kernels/vnni_avx512.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 12, kNR = 32, kKR = 4;
constexpr int kAGroupBytes = kMR * kKR;  // one k-group of a packed A panel
constexpr int kBGroupBytes = kNR * kKR;  // one k-group of a packed B panel

using Acc = __m512i[kMR][2];

// acc[r][v] += sum over `groups` k-groups of A(row r) . B(columns 16v..16v+15), r < M.
// A is the packed panel ([g][r][4], InPlace = false) or rows of A itself (uint8, row stride
// lda, InPlace = true; then K is a multiple of 4 and every group is inside the row). Rows
// 3i..3i+2 are addressed from one base pointer q_i as q_i + j*row_stride (j < 3), which x86
// addressing does without extra registers.
// The accumulators live in named variables (not an array) so that GCC keeps them in registers.
#define LOWP_DECL(r) __m512i c##r##0 = M > r ? acc[r][0] : z, c##r##1 = M > r ? acc[r][1] : z;
#define LOWP_ROW(r, q, j, off)                                \
  if (M > r) {                                                \
    const __m512i av = vnni::bcast_a(q + (j) * rs + (off));   \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0);           \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1);           \
  }
#define LOWP_STEP(off, boff)                                                                        \
  {                                                                                                 \
    /* B streams from L2 (sequentially: the hardware prefetchers keep up; software prefetches */ \
    /* here only took load slots, measured 0-3 % slower). */                                        \
    const __m512i b0 = _mm512_loadu_si512(b + (boff)), b1 = _mm512_loadu_si512(b + (boff) + 64);  \
    LOWP_ROW(0, q0, 0, off) LOWP_ROW(1, q0, 1, off) LOWP_ROW(2, q0, 2, off)                         \
    LOWP_ROW(3, q1, 0, off) LOWP_ROW(4, q1, 1, off) LOWP_ROW(5, q1, 2, off)                         \
    LOWP_ROW(6, q2, 0, off) LOWP_ROW(7, q2, 1, off) LOWP_ROW(8, q2, 2, off)                         \
    LOWP_ROW(9, q3, 0, off) LOWP_ROW(10, q3, 1, off) LOWP_ROW(11, q3, 2, off)                       \
  }
// Row r (< 4, read from q0 as row j = r of the next k-group) into the accumulators of row o.
#define LOWP_ROW_ODD(r, o)                                        \
  if (M > r) {                                                    \
    const __m512i av = vnni::bcast_a(q0 + (r) * rs + gs);         \
    c##o##0 = _mm512_dpbusd_epi32(c##o##0, av, e0);               \
    c##o##1 = _mm512_dpbusd_epi32(c##o##1, av, e1);               \
  }
#define LOWP_STORE(r) \
  if (M > r) acc[r][0] = c##r##0, acc[r][1] = c##r##1;

template <int M, bool InPlace>
LOWP_INLINE void dot_rows(const uint8_t* a, ptrdiff_t lda, const int8_t* b, int groups, Acc& acc) {
  const ptrdiff_t rs = InPlace ? lda : kKR;                 // row stride
  constexpr int gs = InPlace ? kKR : kAGroupBytes;          // k-group stride
  // Base of rows 3i.. (clamped to the last row: never points past A).
  const uint8_t* q0 = a;
  const uint8_t* q1 = a + std::min(3, M - 1) * rs;
  const uint8_t* q2 = a + std::min(6, M - 1) * rs;
  const uint8_t* q3 = a + std::min(9, M - 1) * rs;
  const __m512i z = _mm512_setzero_si512();
  LOWP_DECL(0) LOWP_DECL(1) LOWP_DECL(2) LOWP_DECL(3) LOWP_DECL(4) LOWP_DECL(5)
  LOWP_DECL(6) LOWP_DECL(7) LOWP_DECL(8) LOWP_DECL(9) LOWP_DECL(10) LOWP_DECL(11)
  int g = 0;
  if (M <= 4) {
    // Few rows: too few independent chains to hide vpdpbusd latency. Odd k-groups go to the
    // idle accumulators of rows 4..7 (named as rows 4..7 of the macros), folded in below.
    for (; g + 2 <= groups; g += 2) {
      const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
      LOWP_ROW(0, q0, 0, 0) LOWP_ROW(1, q0, 1, 0) LOWP_ROW(2, q0, 2, 0) LOWP_ROW(3, q0, 3, 0)
      {
        const __m512i e0 = _mm512_loadu_si512(b + kBGroupBytes), e1 = _mm512_loadu_si512(b + kBGroupBytes + 64);
        LOWP_ROW_ODD(0, 4) LOWP_ROW_ODD(1, 5) LOWP_ROW_ODD(2, 6) LOWP_ROW_ODD(3, 7)
      }
      q0 += 2 * gs;
      b += 2 * kBGroupBytes;
    }
    c00 = _mm512_add_epi32(c00, c40), c01 = _mm512_add_epi32(c01, c41);
    c10 = _mm512_add_epi32(c10, c50), c11 = _mm512_add_epi32(c11, c51);
    c20 = _mm512_add_epi32(c20, c60), c21 = _mm512_add_epi32(c21, c61);
    c30 = _mm512_add_epi32(c30, c70), c31 = _mm512_add_epi32(c31, c71);
    for (; g < groups; ++g) {
      const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
      LOWP_ROW(0, q0, 0, 0) LOWP_ROW(1, q0, 1, 0) LOWP_ROW(2, q0, 2, 0) LOWP_ROW(3, q0, 3, 0)
      q0 += gs;
      b += kBGroupBytes;
    }
  }
  // Two k-groups per iteration: fewer pointer updates and branches competing with vpdpbusd.
  if (M > 4) for (; g + 2 <= groups; g += 2) {
    LOWP_STEP(0, 0)
    LOWP_STEP(gs, kBGroupBytes)
    q0 += 2 * gs, q1 += 2 * gs, q2 += 2 * gs, q3 += 2 * gs;
    b += 2 * kBGroupBytes;
  }
  if (M > 4) for (; g < groups; ++g) {
    LOWP_STEP(0, 0)
    q0 += gs, q1 += gs, q2 += gs, q3 += gs;
    b += kBGroupBytes;
  }
  LOWP_STORE(0) LOWP_STORE(1) LOWP_STORE(2) LOWP_STORE(3) LOWP_STORE(4) LOWP_STORE(5)
  LOWP_STORE(6) LOWP_STORE(7) LOWP_STORE(8) LOWP_STORE(9) LOWP_STORE(10) LOWP_STORE(11)
}
#undef LOWP_DECL
#undef LOWP_ROW
#undef LOWP_ROW_ODD
#undef LOWP_STEP
#undef LOWP_STORE

template <bool InPlace>
LOWP_INLINE void dot_rows_n(int rows, const uint8_t* a, ptrdiff_t lda, const int8_t* b, int groups, Acc& acc) {
  switch (rows) {
    case 12: return dot_rows<12, InPlace>(a, lda, b, groups, acc);
    case 11: return dot_rows<11, InPlace>(a, lda, b, groups, acc);
    case 10: return dot_rows<10, InPlace>(a, lda, b, groups, acc);
    case 9: return dot_rows<9, InPlace>(a, lda, b, groups, acc);
    case 8: return dot_rows<8, InPlace>(a, lda, b, groups, acc);
    case 7: return dot_rows<7, InPlace>(a, lda, b, groups, acc);
    case 6: return dot_rows<6, InPlace>(a, lda, b, groups, acc);
    case 5: return dot_rows<5, InPlace>(a, lda, b, groups, acc);
    case 4: return dot_rows<4, InPlace>(a, lda, b, groups, acc);
    case 3: return dot_rows<3, InPlace>(a, lda, b, groups, acc);
    case 2: return dot_rows<2, InPlace>(a, lda, b, groups, acc);
    default: return dot_rows<1, InPlace>(a, lda, b, groups, acc);
  }
}

inline __mmask16 col_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << std::max(n, 0)) - 1);
}

// Output stage of one tile whose accumulators already hold the full int32 results.
template <int Mode>
LOWP_INLINE void store_tile(const Acc& acc, int rows, int n, int j, const vnni::ColParams (&p)[2], uint8_t* c,
                            ptrdiff_t ldc) {
  for (int v = 0; v < 2; ++v) {
    const int nn = n - 16 * v;
    if (nn <= 0) break;
    const __mmask16 km = col_mask(nn);
    for (int r = 0; r < rows; ++r) {
      const __m512i x = acc[r][v];
      if (Mode == 0) {
        int32_t* dst = reinterpret_cast<int32_t*>(c) + r * ldc + j + 16 * v;
        if (km == 0xFFFF)
          _mm512_storeu_si512(dst, x);
        else
          _mm512_mask_storeu_epi32(dst, km, x);
      } else {
        const __m512i q = Mode == 1   ? vnni::requant_half_even(x, p[v])
                          : Mode == 2 ? vnni::requant_gemmlowp(x, p[v])
                                      : vnni::requant_single(x, p[v]);
        // q lies in [qmin, qmax] inside the output type: truncation (vpmovdb) is exact.
        uint8_t* dst = c + r * ldc + j + 16 * v;
        if (km == 0xFFFF)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(q));
        else
          _mm512_mask_cvtepi32_storeu_epi8(dst, km, q);
      }
    }
  }
}

// One A panel (t.m rows) against `panels` B panels, b_stride bytes apart, covering ncols
// columns from t.col0.
template <int Mode>
void panels_mode(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  const int rows = std::min(t.m, kMR);
  const uint8_t* a = static_cast<const uint8_t*>(t.a);
  const ptrdiff_t ldc = ep.ldc;
  uint8_t* const c = static_cast<uint8_t*>(ep.c) + static_cast<size_t>(t.row0) * ldc * (Mode == 0 ? 4 : 1);
  const int32_t* zb = ep.zb;
  // Row term -zb'*rowsum'(r): one scalar per row when zb' is the same for every column
  // (per-tensor B zero point); otherwise a vector multiply per accumulator.
  const bool zb_uniform = ep.zb_uniform;
  int32_t row_term[kMR] = {};
  if (zb && zb_uniform)
    for (int r = 0; r < rows; ++r)
      row_term[r] = static_cast<int32_t>(0u - static_cast<uint32_t>(zb[t.col0]) * static_cast<uint32_t>(t.row_sums[r]));
  for (int p = 0; p < panels; ++p) {
    const int j = t.col0 + p * kNR;
    const int n = std::min(kNR, ncols - p * kNR);
    const int8_t* b = static_cast<const int8_t*>(t.b) + p * b_stride;
    vnni::ColParams cp[2];
    Acc acc;
    for (int v = 0; v < 2; ++v) {
      const __mmask16 km = col_mask(n - 16 * v);
      if (km == 0) {
        for (int r = 0; r < rows; ++r) acc[r][v] = _mm512_setzero_si512();
        continue;
      }
      if (Mode == 0) {
        cp[v].ct = vnni::load_cols(ep.col_term + j + 16 * v, km);
      } else {
        vnni::load_params(cp[v], ep, j + 16 * v, km);
      }
      if (zb && !zb_uniform) {
        const __m512i zv = vnni::load_cols(zb + j + 16 * v, km);
        for (int r = 0; r < rows; ++r)
          acc[r][v] = _mm512_sub_epi32(cp[v].ct, _mm512_mullo_epi32(zv, _mm512_set1_epi32(t.row_sums[r])));
      } else {
        for (int r = 0; r < rows; ++r) acc[r][v] = _mm512_add_epi32(cp[v].ct, _mm512_set1_epi32(row_term[r]));
      }
    }
    if (t.a_src)
      dot_rows_n<true>(rows, static_cast<const uint8_t*>(t.a_src), t.a_lda, b, t.kgroups, acc);
    else
      dot_rows_n<false>(rows, a, 0, b, t.kgroups, acc);
    store_tile<Mode>(acc, rows, n, j, cp, c, ldc);
  }
}

void panels_avx512vnni(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  if (ep.out_type == DType::S32) return panels_mode<0>(t, panels, b_stride, ncols, ep);
  switch (ep.rounding) {
    case Rounding::HalfEven: return panels_mode<1>(t, panels, b_stride, ncols, ep);
    case Rounding::Gemmlowp: return panels_mode<2>(t, panels, b_stride, ncols, ep);
    default: return panels_mode<3>(t, panels, b_stride, ncols, ep);
  }
}

void ukernel_avx512vnni(const Tile& t, const Epilogue& ep) { panels_avx512vnni(t, 1, 0, t.n, ep); }

// Packs up to 12 rows of A (uint8 or int8) into the U8 domain, layout [g][r][4], 16 k at a
// time: each group of 4 rows x 16 bytes is transposed as 4 x 4 dwords (one dword = one k-group
// of one row). Missing rows and k past K are zero (masked loads: nothing outside A is read).
// Row sums (in the domain) come from vpsadbw.
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
  const int quads = (std::min(m, kMR) + 3) / 4;  // 4-row blocks holding valid rows
  const __m128i zero = _mm_setzero_si128();
  __m128i sums[kMR];
  for (int r = 0; r < kMR; ++r) sums[r] = zero;
  auto block = [&](int k, __mmask16 kmask, int ngroups) {
    uint8_t* o = out + static_cast<size_t>(k / kKR) * kAGroupBytes;
    for (int q = 0; q < kMR / 4; ++q) {
      __m128i x[4];
      if (q < quads) {
        for (int i = 0; i < 4; ++i) {
          const int r = 4 * q + i;
          const __mmask16 mk = rmask[r] & kmask;
          const __m128i v = _mm_mask_loadu_epi8(zero, mk, p[r] + k);
          x[i] = _mm_maskz_mov_epi8(mk, _mm_xor_si128(v, flip));
          if (row_sums) sums[r] = _mm_add_epi64(sums[r], _mm_sad_epu8(x[i], zero));
        }
      } else {
        x[0] = x[1] = x[2] = x[3] = zero;
      }
      const __m128i u0 = _mm_unpacklo_epi32(x[0], x[1]), u1 = _mm_unpackhi_epi32(x[0], x[1]);
      const __m128i u2 = _mm_unpacklo_epi32(x[2], x[3]), u3 = _mm_unpackhi_epi32(x[2], x[3]);
      __m128i* d = reinterpret_cast<__m128i*>(o + 16 * q);
      _mm_storeu_si128(d, _mm_unpacklo_epi64(u0, u2));
      if (ngroups > 1) _mm_storeu_si128(d + kAGroupBytes / 16, _mm_unpackhi_epi64(u0, u2));
      if (ngroups > 2) _mm_storeu_si128(d + 2 * kAGroupBytes / 16, _mm_unpacklo_epi64(u1, u3));
      if (ngroups > 3) _mm_storeu_si128(d + 3 * kAGroupBytes / 16, _mm_unpackhi_epi64(u1, u3));
    }
  };
  int k = 0;
  for (; k + 16 <= K; k += 16) block(k, 0xFFFF, 4);
  if (k < K) {
    const int rem = K - k;
    block(k, static_cast<__mmask16>((1u << rem) - 1), (rem + kKR - 1) / kKR);
  }
  if (row_sums) {
    for (int r = 0; r < kMR; ++r) {
      const uint64_t s = static_cast<uint64_t>(_mm_cvtsi128_si64(sums[r])) +
                         static_cast<uint64_t>(_mm_extract_epi64(sums[r], 1));
      row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(s));
    }
  }
}

// In-place A: uint8 A with K a multiple of 4 is read by the kernel straight from its rows
// (vpbroadcastd of 4 bytes at row + 4g), so no panel is packed; only the row sums (when the B
// zero point needs them) are computed here, 64 bytes per vpsadbw.
bool in_place_a_avx512vnni(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* /*dst*/,
                           int32_t* row_sums) {
  if (a_type != DType::U8 || K % kKR != 0) return false;
  if (!row_sums) return true;
  const uint8_t* src = static_cast<const uint8_t*>(a);
  for (int r = 0; r < std::min(m, kMR); ++r) {
    const uint8_t* row = src + static_cast<ptrdiff_t>(r) * lda;
    __m512i s = _mm512_setzero_si512();
    int k = 0;
    for (; k + 64 <= K; k += 64) s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_loadu_si512(row + k), _mm512_setzero_si512()));
    if (k < K) {
      const __mmask64 km = (~uint64_t{0}) >> (64 - (K - k));
      s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(km, row + k), _mm512_setzero_si512()));
    }
    row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi64(s)));
  }
  return true;
}

}  // namespace

extern const GemmKernel kGemmAvx512Vnni = {
    "avx512vnni", kMR, kNR, kKR, DType::U8, DType::S8, cpu::has_avx512vnni, ukernel_avx512vnni, 30,
    pack_a_avx512vnni, 0, in_place_a_avx512vnni, panels_avx512vnni,
};

}  // namespace lowp
