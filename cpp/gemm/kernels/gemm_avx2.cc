// x86 AVX2 GEMM kernel: int16 domain, kr=2, 6x16 tiles, exact vpmaddwd + vpaddd.
//
// A and B are widened to int16 while packing (values stay in [-128, 255]). vpmaddwd multiplies
// pairs of int16 and adds the two products into an int32 lane: |a0*b0 + a1*b1| <= 2*255*255,
// far from the single saturating case (-32768 * -32768 * 2), and vpaddd accumulates modulo 2^32.
// vpmaddubsw (which saturates to int16) is never used.
//
// Per k-group (2 k values): two ymm of B (16 columns x 2 int16), one vpbroadcastd of each A
// row's pair, 12 vpmaddwd + 12 vpaddd into 12 accumulators (6 rows x 2 vectors; with the two B
// vectors, the broadcast and the product: all 16 ymm registers). 6 rows instead of 4 read each B
// vector from L2 for 6 rows' work: 4x16 tiles reached ~85 % of the vpmaddwd + vpaddd probe.
// The output stage is the AVX2 twin of the one in gemm_avx512vnni.cc (same arithmetic, 8 lanes,
// vpmaskmovd / partial stores for tails), bit-exact with requant/requant.h.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm/kernel.h"
#include "gemm/kernels/requant_avx2.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 6, kNR = 16, kKR = 2;
constexpr int kGS = kMR * kKR;  // int16 values of A per k-group

using namespace avx2;  // ColParams, requant_*, lane_mask, load_cols (requant_avx2.h)

inline void load_params(ColParams& p, const Epilogue& ep, int j, int nn, __m256i m) {
  p.ct = load_cols(ep.col_term + j, nn, m);
  p.zb = ep.zb ? load_cols(ep.zb + j, nn, m) : _mm256_setzero_si256();
  if (ep.out_type == DType::S32) return;
  p.zp = _mm256_set1_epi32(ep.zp);
  switch (ep.rounding) {
    case Rounding::HalfEven:
      p.scale = _mm256_castsi256_ps(load_cols(reinterpret_cast<const int32_t*>(ep.scale + j), nn, m));
      p.flo = _mm256_set1_ps(static_cast<float>(ep.qmin - ep.zp));
      p.fhi = _mm256_set1_ps(static_cast<float>(ep.qmax - ep.zp));
      break;
    case Rounding::Gemmlowp: {
      p.mult = load_cols(ep.mult + j, nn, m);
      p.mult_odd = _mm256_srli_epi64(p.mult, 32);
      const __m256i s = load_cols(ep.shift + j, nn, m);
      p.left = _mm256_max_epi32(s, _mm256_setzero_si256());
      p.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s), _mm256_setzero_si256());
      p.lo = _mm256_set1_epi32(ep.qmin - ep.zp);
      p.hi = _mm256_set1_epi32(ep.qmax - ep.zp);
      break;
    }
    case Rounding::Single: {
      p.mult = load_cols(ep.mult + j, nn, m);
      p.mult_odd = _mm256_srli_epi64(p.mult, 32);
      const __m256i s = load_cols(ep.shift + j, nn, m);
      const __m256i ts = _mm256_sub_epi32(_mm256_set1_epi32(31), s);  // 1..62
      p.ts_even = _mm256_and_si256(ts, _mm256_set1_epi64x(0xffffffff));
      p.ts_odd = _mm256_srli_epi64(ts, 32);
      const __m256i one64 = _mm256_set1_epi64x(1);
      p.rnd_even = _mm256_sllv_epi64(one64, _mm256_sub_epi64(p.ts_even, one64));
      p.rnd_odd = _mm256_sllv_epi64(one64, _mm256_sub_epi64(p.ts_odd, one64));
      p.lo64 = _mm256_set1_epi64x(ep.qmin - ep.zp);
      p.hi64 = _mm256_set1_epi64x(ep.qmax - ep.zp);
      break;
    }
  }
}

// x: the full int32 result of 8 columns of one row (column and row terms already in it).
inline void store_row(__m256i x, const ColParams& p, const Epilogue& ep, size_t off, int nn, __m256i m) {
  if (ep.out_type == DType::S32) {
    int32_t* dst = static_cast<int32_t*>(ep.c) + off;
    if (nn == 8)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), x);
    else
      _mm256_maskstore_epi32(dst, m, x);
    return;
  }
  __m256i q;
  switch (ep.rounding) {
    case Rounding::HalfEven: q = requant_half_even(x, p); break;
    case Rounding::Gemmlowp: q = requant_gemmlowp(x, p); break;
    default: q = requant_single(x, p); break;
  }
  // q lies in [qmin, qmax] inside the output type, so the saturating packs are exact.
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i bytes = ep.out_type == DType::U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
  uint8_t* dst = static_cast<uint8_t*>(ep.c) + off;
  if (nn == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(dst, tmp, nn);
  }
}

// Column parameters of one tile (two 8-column vectors) and the starting accumulators:
// col_term - zb'*rowsum'(r), with the row term one scalar per row when zb' is uniform.
struct TileStart {
  ColParams p[2];
  int nn[2];
  __m256i m[2];
  __m256i init[kMR][2];
};

inline void tile_start(TileStart& ts, const Tile& t, const Epilogue& ep, int rows, const int32_t* row_term) {
  for (int v = 0; v < 2; ++v) {
    const int c0 = v * 8;
    ts.nn[v] = std::max(0, std::min(8, t.n - c0));
    if (ts.nn[v] == 0) {
      for (int r = 0; r < kMR; ++r) ts.init[r][v] = _mm256_setzero_si256();
      continue;
    }
    ts.m[v] = lane_mask(ts.nn[v]);
    load_params(ts.p[v], ep, t.col0 + c0, ts.nn[v], ts.m[v]);
    for (int r = 0; r < kMR; ++r) {
      if (r >= rows) {
        ts.init[r][v] = _mm256_setzero_si256();
      } else if (ep.zb && !ep.zb_uniform) {
        ts.init[r][v] = _mm256_sub_epi32(ts.p[v].ct, _mm256_mullo_epi32(ts.p[v].zb, _mm256_set1_epi32(t.row_sums[r])));
      } else {
        ts.init[r][v] = _mm256_add_epi32(ts.p[v].ct, _mm256_set1_epi32(row_term[r]));
      }
    }
  }
}

inline void epilogue(const __m256i (&acc)[kMR][2], int M, const Tile& t, const Epilogue& ep, const TileStart& ts) {
  for (int v = 0; v < 2; ++v) {
    if (ts.nn[v] == 0) break;
    const int j = t.col0 + v * 8;
    for (int r = 0; r < M; ++r) {
      const size_t off = static_cast<size_t>(t.row0 + r) * static_cast<size_t>(ep.ldc) + j;
      store_row(acc[r][v], ts.p[v], ep, off, ts.nn[v], ts.m[v]);
    }
  }
}

inline __m256i bcast_pair(const int16_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return _mm256_set1_epi32(w);
}

#define LOWP_AVX2_ROW(r)                                                       \
  if (M > r) {                                                                 \
    const __m256i av = bcast_pair(a + r * kKR);                                \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0));            \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));            \
  }

template <int M>
void ukernel_m(const Tile& t, const Epilogue& ep, const int32_t* row_term) {
  TileStart ts;
  tile_start(ts, t, ep, M, row_term);
  const __m256i z = _mm256_setzero_si256();
  __m256i c00 = ts.init[0][0], c01 = ts.init[0][1], c10 = ts.init[1][0], c11 = ts.init[1][1];
  __m256i c20 = ts.init[2][0], c21 = ts.init[2][1], c30 = ts.init[3][0], c31 = ts.init[3][1];
  __m256i c40 = ts.init[4][0], c41 = ts.init[4][1], c50 = ts.init[5][0], c51 = ts.init[5][1];
  const int16_t* a = static_cast<const int16_t*>(t.a);
  const int16_t* b = static_cast<const int16_t*>(t.b);
  const int G = t.kgroups;
  int g = 0;
  if (M == 1) {
    // One row: split K over the idle accumulators of rows 1..3 (which start at zero) for
    // independent chains.
    for (; g + 4 <= G; g += 4) {
      const __m256i* bv = reinterpret_cast<const __m256i*>(b);
      c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(bcast_pair(a), _mm256_loadu_si256(bv + 0)));
      c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(bcast_pair(a), _mm256_loadu_si256(bv + 1)));
      c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(bcast_pair(a + kGS), _mm256_loadu_si256(bv + 2)));
      c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(bcast_pair(a + kGS), _mm256_loadu_si256(bv + 3)));
      c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(bcast_pair(a + 2 * kGS), _mm256_loadu_si256(bv + 4)));
      c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(bcast_pair(a + 2 * kGS), _mm256_loadu_si256(bv + 5)));
      c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(bcast_pair(a + 3 * kGS), _mm256_loadu_si256(bv + 6)));
      c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(bcast_pair(a + 3 * kGS), _mm256_loadu_si256(bv + 7)));
      a += 4 * kGS;
      b += 4 * kNR * kKR;
    }
    c00 = _mm256_add_epi32(_mm256_add_epi32(c00, c10), _mm256_add_epi32(c20, c30));
    c01 = _mm256_add_epi32(_mm256_add_epi32(c01, c11), _mm256_add_epi32(c21, c31));
    c10 = c11 = c20 = c21 = c30 = c31 = z;
  }
#pragma GCC unroll 2
  for (; g < G; ++g) {
    // B streams from L2 (A stays in L1): fetch ~16 k-groups ahead.
    _mm_prefetch(reinterpret_cast<const char*>(b) + 1024, _MM_HINT_T0);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b) + 1);
    LOWP_AVX2_ROW(0)
    LOWP_AVX2_ROW(1)
    LOWP_AVX2_ROW(2)
    LOWP_AVX2_ROW(3)
    LOWP_AVX2_ROW(4)
    LOWP_AVX2_ROW(5)
    a += kGS;
    b += kNR * kKR;
  }
  const __m256i acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  epilogue(acc, M, t, ep, ts);
  (void)z;
}

// Full 6x16 tile with the accumulators in registers from the column terms to the output:
// Mode 0 writes int32; Modes 1-4 the packed 8-bit half_even output stage (every |scale| < 1,
// checked by the caller): 1 uint8, 2 uint8 clamped, 3 int8, 4 int8 clamped ("clamped": [qmin,
// qmax] is not the whole output type). After cvtps2dq (no overflow: |float(x) * s| < 2^31),
// two rows narrow together by saturating packs, the zero point is added in int16 with
// saturation and the bytes are clamped last: each step is a monotone saturation to a range
// that contains [qmin - zp, qmax - zp], so the result is exactly clamp(r + zp, qmin, qmax)
// (the reasoning of requant_pack_avx512.h). ~4.5 vector ops per 8 outputs instead of ~9.
template <int Mode>
void full_tile(const Tile& t, const Epilogue& ep, const int32_t* row_term) {
  const int j = t.col0;
  const __m256i ct0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.col_term + j));
  const __m256i ct1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.col_term + j + 8));
  __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (ep.zb && !ep.zb_uniform) {
    const __m256i z0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.zb + j));
    const __m256i z1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.zb + j + 8));
#define LOWP_INIT(r)                                                                        \
  {                                                                                         \
    const __m256i rs = _mm256_set1_epi32(t.row_sums[r]);                                    \
    c##r##0 = _mm256_sub_epi32(ct0, _mm256_mullo_epi32(z0, rs));                            \
    c##r##1 = _mm256_sub_epi32(ct1, _mm256_mullo_epi32(z1, rs));                            \
  }
    LOWP_INIT(0) LOWP_INIT(1) LOWP_INIT(2) LOWP_INIT(3) LOWP_INIT(4) LOWP_INIT(5)
#undef LOWP_INIT
  } else {
#define LOWP_INIT(r)                                    \
  {                                                     \
    const __m256i rt = _mm256_set1_epi32(row_term[r]);  \
    c##r##0 = _mm256_add_epi32(ct0, rt);                \
    c##r##1 = _mm256_add_epi32(ct1, rt);                \
  }
    LOWP_INIT(0) LOWP_INIT(1) LOWP_INIT(2) LOWP_INIT(3) LOWP_INIT(4) LOWP_INIT(5)
#undef LOWP_INIT
  }
  const int16_t* a = static_cast<const int16_t*>(t.a);
  const int16_t* b = static_cast<const int16_t*>(t.b);
  const int G = t.kgroups;
  constexpr int M = kMR;  // every row of LOWP_AVX2_ROW
#pragma GCC unroll 2
  for (int g = 0; g < G; ++g) {
    _mm_prefetch(reinterpret_cast<const char*>(b) + 1024, _MM_HINT_T0);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b) + 1);
    LOWP_AVX2_ROW(0)
    LOWP_AVX2_ROW(1)
    LOWP_AVX2_ROW(2)
    LOWP_AVX2_ROW(3)
    LOWP_AVX2_ROW(4)
    LOWP_AVX2_ROW(5)
    a += kGS;
    b += kNR * kKR;
  }
  const ptrdiff_t ldc = ep.ldc;
  if (Mode == 0) {
    int32_t* d = static_cast<int32_t*>(ep.c) + static_cast<size_t>(t.row0) * static_cast<size_t>(ldc) + j;
#define LOWP_OUT(r)                                                                  \
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + (r) * ldc), c##r##0);           \
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + (r) * ldc + 8), c##r##1);
    LOWP_OUT(0) LOWP_OUT(1) LOWP_OUT(2) LOWP_OUT(3) LOWP_OUT(4) LOWP_OUT(5)
#undef LOWP_OUT
  } else {
    constexpr bool kSigned = Mode >= 3, kClamp = Mode == 2 || Mode == 4;
    uint8_t* d = static_cast<uint8_t*>(ep.c) + static_cast<size_t>(t.row0) * static_cast<size_t>(ldc) + j;
    const __m256 s0 = _mm256_loadu_ps(ep.scale + j), s1 = _mm256_loadu_ps(ep.scale + j + 8);
    const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(ep.zp));
    auto rnd = [](__m256i x, __m256 s) { return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(x), s)); };
    // Rows r, r+1 -> 32 bytes [row r cols 0..15 | row r+1 cols 0..15].
    auto st = [&](int r, __m256i x0, __m256i x1, __m256i y0, __m256i y1) {
      // In-lane packs: lane L of w_x holds [x0 cols 4L..4L+3, x1 cols 4L..4L+3] as int16.
      const __m256i wx = _mm256_adds_epi16(_mm256_packs_epi32(rnd(x0, s0), rnd(x1, s1)), zp16);
      const __m256i wy = _mm256_adds_epi16(_mm256_packs_epi32(rnd(y0, s0), rnd(y1, s1)), zp16);
      __m256i v = kSigned ? _mm256_packs_epi16(wx, wy) : _mm256_packus_epi16(wx, wy);
      // dwords now: [x c0-3, x c8-11, y c0-3, y c8-11 | x c4-7, x c12-15, y c4-7, y c12-15]
      v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      if (kClamp) {
        const __m256i lo = _mm256_set1_epi8(static_cast<char>(ep.qmin)), hi = _mm256_set1_epi8(static_cast<char>(ep.qmax));
        v = kSigned ? _mm256_min_epi8(_mm256_max_epi8(v, lo), hi) : _mm256_min_epu8(_mm256_max_epu8(v, lo), hi);
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + r * ldc), _mm256_castsi256_si128(v));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (r + 1) * ldc), _mm256_extracti128_si256(v, 1));
    };
    st(0, c00, c01, c10, c11);
    st(2, c20, c21, c30, c31);
    st(4, c40, c41, c50, c51);
  }
}
#undef LOWP_AVX2_ROW

// True when every scale[0..16) has |s| < 1 (NaN fails).
inline bool scales_below_one16(const float* scale) {
  const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), one = _mm256_set1_ps(1.0f);
  const __m256 a0 = _mm256_and_ps(_mm256_loadu_ps(scale), abs), a1 = _mm256_and_ps(_mm256_loadu_ps(scale + 8), abs);
  const __m256 lt = _mm256_and_ps(_mm256_cmp_ps(a0, one, _CMP_LT_OQ), _mm256_cmp_ps(a1, one, _CMP_LT_OQ));
  return _mm256_movemask_ps(lt) == 0xff;
}

// One A panel against `panels` B panels (b_stride bytes apart) covering ncols columns: the
// row terms are computed once per A panel, and the driver makes one call per A panel.
void panels_avx2(const Tile& t0, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  int32_t row_term[kMR] = {};
  if (ep.zb && ep.zb_uniform)
    for (int r = 0; r < std::min(t0.m, kMR); ++r)
      row_term[r] = static_cast<int32_t>(0u - static_cast<uint32_t>(ep.zb[0]) * static_cast<uint32_t>(t0.row_sums[r]));
  // Output stage of full 6x16 tiles (full_tile), -1: through ukernel_m.
  int mode = -1;
  if (t0.m == kMR) {
    if (ep.out_type == DType::S32) {
      mode = 0;
    } else if (ep.rounding == Rounding::HalfEven) {
      const bool s8 = ep.out_type == DType::S8;
      const bool whole = s8 ? ep.qmin <= -128 && ep.qmax >= 127 : ep.qmin <= 0 && ep.qmax >= 255;
      mode = (s8 ? 3 : 1) + (whole ? 0 : 1);
    }
  }
  Tile t = t0;
  for (int p = 0; p < panels; ++p) {
    t.col0 = t0.col0 + p * kNR;
    t.n = std::min(kNR, ncols - p * kNR);
    t.b = static_cast<const uint8_t*>(t0.b) + p * b_stride;
    if (mode >= 0 && t.n == kNR && (mode == 0 || scales_below_one16(ep.scale + t.col0))) {
      switch (mode) {
        case 0: full_tile<0>(t, ep, row_term); break;
        case 1: full_tile<1>(t, ep, row_term); break;
        case 2: full_tile<2>(t, ep, row_term); break;
        case 3: full_tile<3>(t, ep, row_term); break;
        default: full_tile<4>(t, ep, row_term); break;
      }
      continue;
    }
    switch (t.m) {
      case 6: ukernel_m<6>(t, ep, row_term); break;
      case 5: ukernel_m<5>(t, ep, row_term); break;
      case 4: ukernel_m<4>(t, ep, row_term); break;
      case 3: ukernel_m<3>(t, ep, row_term); break;
      case 2: ukernel_m<2>(t, ep, row_term); break;
      default: ukernel_m<1>(t, ep, row_term); break;
    }
  }
}

void ukernel_avx2(const Tile& t, const Epilogue& ep) { panels_avx2(t, 1, 0, t.n, ep); }

// Packs up to 6 rows of A into the S16 domain, layout [g][r][2], 16 k at a time: each row's
// 16 bytes widen to 8 int16 pairs (dwords); rows 0-3 are transposed into 16-byte group blocks,
// rows 4-5 interleaved into 8-byte ones, and each group's 24 bytes written. Row sums via vpmaddwd
// with ones (wrapping int32, like the generic packer).
void pack_a_avx2(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const bool s8 = a_type == DType::S8;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sum[kMR];
  for (int r = 0; r < kMR; ++r) sum[r] = _mm256_setzero_si256();
  auto widen = [&](__m128i v) { return s8 ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v); };
  constexpr size_t kGroupBytes = kGS * sizeof(int16_t);  // 24
  // Writes the k-groups of 6 rows x 16 k (as int16) to out_g (ngroups of them).
  auto emit = [&](const __m256i (&w)[kMR], uint8_t* out_g, int ngroups) {
    const __m256i u0 = _mm256_unpacklo_epi32(w[0], w[1]), u1 = _mm256_unpackhi_epi32(w[0], w[1]);
    const __m256i u2 = _mm256_unpacklo_epi32(w[2], w[3]), u3 = _mm256_unpackhi_epi32(w[2], w[3]);
    const __m256i o0 = _mm256_unpacklo_epi64(u0, u2), o1 = _mm256_unpackhi_epi64(u0, u2);
    const __m256i o2 = _mm256_unpacklo_epi64(u1, u3), o3 = _mm256_unpackhi_epi64(u1, u3);
    // rows 0-3 of groups (0, 4), (1, 5), (2, 6), (3, 7) in the two lanes of o0 .. o3
    const __m256i v0 = _mm256_unpacklo_epi32(w[4], w[5]), v1 = _mm256_unpackhi_epi32(w[4], w[5]);
    // rows 4-5 of groups (0, 1 | 4, 5) in v0 and (2, 3 | 6, 7) in v1
    alignas(32) uint8_t lo[4][32], hi[2][32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo[0]), o0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo[1]), o1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo[2]), o2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo[3]), o3);
    _mm256_store_si256(reinterpret_cast<__m256i*>(hi[0]), v0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(hi[1]), v1);
    for (int g = 0; g < ngroups; ++g) {
      uint8_t* o = out_g + static_cast<size_t>(g) * kGroupBytes;
      std::memcpy(o, lo[g & 3] + 16 * (g >> 2), 16);
      std::memcpy(o + 16, hi[(g >> 1) & 1] + 16 * (g >> 2) + 8 * (g & 1), 8);
    }
  };
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    __m256i w[kMR];
    for (int r = 0; r < kMR; ++r) {
      w[r] = r < m ? widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + r * lda + k))) : _mm256_setzero_si256();
      if (row_sums) sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(w[r], ones));
    }
    emit(w, out + static_cast<size_t>(k / kKR) * kGroupBytes, 8);
  }
  if (k < K) {
    const int rem = K - k;
    __m256i w[kMR];
    for (int r = 0; r < kMR; ++r) {
      alignas(16) uint8_t buf[16] = {};
      if (r < m) std::memcpy(buf, src + r * lda + k, rem);
      // Bytes past K are zero in the input domain; for int8 0 widens to 0 as well.
      w[r] = r < m ? widen(_mm_load_si128(reinterpret_cast<const __m128i*>(buf))) : _mm256_setzero_si256();
      if (row_sums) sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(w[r], ones));
    }
    emit(w, out + static_cast<size_t>(k / kKR) * kGroupBytes, (rem + kKR - 1) / kKR);
  }
  if (row_sums) {
    for (int r = 0; r < kMR; ++r) {
      alignas(32) uint32_t s[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(s), sum[r]);
      uint32_t t = 0;
      for (int i = 0; i < 8; ++i) t += s[i];
      row_sums[r] = static_cast<int32_t>(t);
    }
  }
}

}  // namespace

extern const GemmKernel kGemmAvx2 = {
    "avx2", kMR, kNR, kKR, DType::S16, DType::S16, cpu::has_avx2, ukernel_avx2, 20, pack_a_avx2, 0, nullptr, panels_avx2, true,
};

}  // namespace lowp
