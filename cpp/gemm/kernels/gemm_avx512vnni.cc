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
// L2 block). uint8 A with K % 4 == 0 is read in place (no packing), and the next A panel of the
// task is prefetched while this one computes. The accumulators start from the column terms (bias, zero-point terms) and the row
// term -zb'*rowsum'(i) instead of adding them after the loop, so the int32 output stage is a
// plain store and the requantizing ones are the requantization alone (vnni_avx512.h; 8-bit
// half_even with every |scale| < 1: four vectors narrowed at once, requant_pack_avx512.h).
// Full 12-row panels run full_tile (k loop in inline asm), the last partial panel dot_rows.
#include <immintrin.h>

#include <algorithm>

#include "gemm/kernel.h"
#include "gemm/kernels/requant_pack_avx512.h"
#include "gemm/kernels/vnni_avx512.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 12, kNR = 32, kKR = 4;
constexpr int kAGroupBytes = kMR * kKR;  // one k-group of a packed A panel
constexpr int kBGroupBytes = kNR * kKR;  // one k-group of a packed B panel

using Acc = __m512i[kMR][2];

inline __mmask16 col_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << std::max(n, 0)) - 1);
}


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

// pf/n_pf: the first n_pf two-group steps each prefetch one cache line from pf onwards (the next
// A panel, read in place, loaded from L3/memory while this one computes).
template <int M, bool InPlace>
LOWP_INLINE void dot_rows(const uint8_t* a, ptrdiff_t lda, const int8_t* b, int groups, Acc& acc,
                          const char* pf = nullptr, int n_pf = 0) {
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
  if (M > 4) for (const int g_pf = std::min(groups / 2, n_pf) * 2; g < g_pf; g += 2) {
    _mm_prefetch(pf, _MM_HINT_T0);
    pf += 64;
    LOWP_STEP(0, 0)
    LOWP_STEP(gs, kBGroupBytes)
    q0 += 2 * gs, q1 += 2 * gs, q2 += 2 * gs, q3 += 2 * gs;
    b += 2 * kBGroupBytes;
  }
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


// The k loop of a full tile in inline assembly: with 24 accumulators, GCC's register allocation of
// the intrinsics loop depended on the code around it (the output stage after the loop) and in
// some instantiations kept accumulators on the stack inside the loop (18 spills / reloads per 48
// vpdpbusd: the uint8 output ran at ~55 % of peak). Here the accumulators are register operands
// ("+v"), so the loop is 2 B loads + 12 broadcasts + 24 vpdpbusd per k-group whatever follows.
// GCC allows 30 operands per asm statement (an in-out operand counts twice), so a k-group is two
// statements of 6 rows each; b0 / b1 (the group's two B vectors) are their inputs. Rows 3i..3i+2
// are read from q_i, q_i + rs and q_i + 2*rs (rs: the A row stride, 4 in a packed panel); zmm31
// takes the A broadcasts.
#define LOWP_AS_ROW(q, idx, aoff, c0, c1)               \
  "vpbroadcastd " #aoff "(%[" #q "]" idx "), %%zmm31\n\t" \
  "vpdpbusd %[b0], %%zmm31, %[" #c0 "]\n\t"              \
  "vpdpbusd %[b1], %%zmm31, %[" #c1 "]\n\t"
// Rows 0..5 (qa = q0, qb = q1) or 6..11 (q2, q3) of one k-group at A offset aoff.
#define LOWP_AS_HALF(aoff, ra, rb, rc, rd, re, rf)                                                          \
  asm(LOWP_AS_ROW(qa, "", aoff, x##ra##0, x##ra##1) LOWP_AS_ROW(qa, ",%[rs],1", aoff, x##rb##0, x##rb##1)        \
      LOWP_AS_ROW(qa, ",%[rs],2", aoff, x##rc##0, x##rc##1) LOWP_AS_ROW(qb, "", aoff, x##rd##0, x##rd##1)         \
      LOWP_AS_ROW(qb, ",%[rs],1", aoff, x##re##0, x##re##1) LOWP_AS_ROW(qb, ",%[rs],2", aoff, x##rf##0, x##rf##1) \
      : [x##ra##0] "+v"(c##ra##0), [x##ra##1] "+v"(c##ra##1), [x##rb##0] "+v"(c##rb##0),                         \
        [x##rb##1] "+v"(c##rb##1), [x##rc##0] "+v"(c##rc##0), [x##rc##1] "+v"(c##rc##1),                         \
        [x##rd##0] "+v"(c##rd##0), [x##rd##1] "+v"(c##rd##1), [x##re##0] "+v"(c##re##0),                         \
        [x##re##1] "+v"(c##re##1), [x##rf##0] "+v"(c##rf##0), [x##rf##1] "+v"(c##rf##1)                          \
      : [b0] "v"(b0), [b1] "v"(b1), [qa] "r"(qa), [qb] "r"(qb), [rs] "r"(rs)                                       \
      : "xmm31", "memory")
// One k-group: B at b + boff, A at offset aoff from the row pointers.
#define LOWP_AS_GROUP(aoff, boff)                                                       \
  {                                                                                     \
    const __m512i b0 = _mm512_loadu_si512(b + (boff)), b1 = _mm512_loadu_si512(b + (boff) + 64); \
    {                                                                                   \
      const uint8_t *qa = q0, *qb = q1;                                                 \
      LOWP_AS_HALF(aoff, 0, 1, 2, 3, 4, 5);                                       \
    }                                                                                   \
    {                                                                                   \
      const uint8_t *qa = q2, *qb = q3;                                                 \
      LOWP_AS_HALF(aoff, 6, 7, 8, 9, 10, 11);                                     \
    }                                                                                   \
  }

// Output modes of a tile: 0 int32; 1 half_even, 2 gemmlowp, 3 single (per-vector requantization,
// vnni_avx512.h); 4..7 half_even narrowed four vectors at a time (requant_pack_avx512.h, needs
// every |scale| < 1): 4 uint8 clamped, 5 uint8 full range, 6 int8 clamped, 7 int8 full range.
constexpr bool packed_mode(int mode) { return mode >= 4; }
#define LOWP_INLINE_LAMBDA __attribute__((always_inline))

// A full 12-row tile from the column terms to the output: the 24 accumulators stay in named
// registers throughout (an Acc array between the loop and the output stage was spilled to the
// stack and reloaded, 48 extra memory operations per tile). ct/zv: column terms and per-column
// zb' of the tile's two column vectors; row_term / row_sums: the row terms (zb uniform / per
// column). c: the tile's first output (row 0, column j), n valid columns.
template <int Mode, bool InPlace>
LOWP_INLINE void full_tile(const uint8_t* a, ptrdiff_t lda, const int8_t* b, int groups, const __m512i (&ct)[2],
                           bool per_col_zb, const __m512i (&zv)[2], const int32_t* row_term, const int32_t* row_sums,
                           const Epilogue& ep, int j, uint8_t* c, ptrdiff_t ldc, int n, const char* pf, int n_pf) {
  const ptrdiff_t rs = InPlace ? lda : kKR;         // row stride
  constexpr int gs = InPlace ? kKR : kAGroupBytes;  // k-group stride
  const uint8_t* q0 = a;
  const uint8_t* q1 = a + 3 * rs;
  const uint8_t* q2 = a + 6 * rs;
  const uint8_t* q3 = a + 9 * rs;
  auto init = [&](int r, int v) LOWP_INLINE_LAMBDA {
    return per_col_zb ? _mm512_sub_epi32(ct[v], _mm512_mullo_epi32(zv[v], _mm512_set1_epi32(row_sums[r])))
                      : _mm512_add_epi32(ct[v], _mm512_set1_epi32(row_term[r]));
  };
#define LOWP_INIT(r) __m512i c##r##0 = init(r, 0), c##r##1 = init(r, 1);
  LOWP_INIT(0) LOWP_INIT(1) LOWP_INIT(2) LOWP_INIT(3) LOWP_INIT(4) LOWP_INIT(5)
  LOWP_INIT(6) LOWP_INIT(7) LOWP_INIT(8) LOWP_INIT(9) LOWP_INIT(10) LOWP_INIT(11)
#undef LOWP_INIT
  // Two k-groups per step (the A offset of the second: one group of the layout).
  auto step2 = [&]() LOWP_INLINE_LAMBDA {
    LOWP_AS_GROUP(0, 0)
    if (InPlace)
      LOWP_AS_GROUP(4, kBGroupBytes)
    else
      LOWP_AS_GROUP(48, kBGroupBytes)
    q0 += 2 * gs, q1 += 2 * gs, q2 += 2 * gs, q3 += 2 * gs;
    b += 2 * kBGroupBytes;
  };
  static_assert(kKR == 4 && kAGroupBytes == 48, "A offsets in the asm steps");
  int g = 0;
  for (const int g_pf = std::min(groups / 2, n_pf) * 2; g < g_pf; g += 2) {
    _mm_prefetch(pf, _MM_HINT_T0);
    pf += 64;
    step2();
  }
  for (; g + 2 <= groups; g += 2) step2();
  if (g < groups) LOWP_AS_GROUP(0, 0)
  // The output parameters are loaded only now: held in registers across the loop, they pushed
  // accumulators out to the stack inside it.
  const bool full = n == kNR;
  if (Mode == 0) {
    const __mmask16 k0 = col_mask(n), k1 = col_mask(n - 16);
    auto st = [&](int r, __m512i x0, __m512i x1) LOWP_INLINE_LAMBDA {
      int32_t* d = reinterpret_cast<int32_t*>(c) + r * ldc;
      if (full) {
        _mm512_storeu_si512(d, x0);
        _mm512_storeu_si512(d + 16, x1);
      } else {
        _mm512_mask_storeu_epi32(d, k0, x0);
        _mm512_mask_storeu_epi32(d + 16, k1, x1);
      }
    };
#define LOWP_OUT(r) st(r, c##r##0, c##r##1);
    LOWP_OUT(0) LOWP_OUT(1) LOWP_OUT(2) LOWP_OUT(3) LOWP_OUT(4) LOWP_OUT(5)
    LOWP_OUT(6) LOWP_OUT(7) LOWP_OUT(8) LOWP_OUT(9) LOWP_OUT(10) LOWP_OUT(11)
#undef LOWP_OUT
  } else if (!packed_mode(Mode)) {
    // Per-vector requantization (gemmlowp / single, or half_even with a scale >= 1): its
    // parameters take ~13 registers, so the accumulators are parked in L1 first (with them all
    // live, GCC moved and spilled accumulators inside the k loop).
    alignas(64) int32_t buf[kMR * kNR];
#define LOWP_PARK(r)                                  \
  _mm512_store_si512(buf + (r) * kNR, c##r##0);        \
  _mm512_store_si512(buf + (r) * kNR + 16, c##r##1);
    LOWP_PARK(0) LOWP_PARK(1) LOWP_PARK(2) LOWP_PARK(3) LOWP_PARK(4) LOWP_PARK(5)
    LOWP_PARK(6) LOWP_PARK(7) LOWP_PARK(8) LOWP_PARK(9) LOWP_PARK(10) LOWP_PARK(11)
#undef LOWP_PARK
    const __mmask16 k0 = col_mask(n), k1 = col_mask(n - 16);
    vnni::ColParams p[2];
    vnni::load_params(p[0], ep, j, k0);
    vnni::load_params(p[1], ep, j + 16, k1);
    auto rq = [&](__m512i x, const vnni::ColParams& cp) LOWP_INLINE_LAMBDA {
      return Mode == 1 ? vnni::requant_half_even(x, cp) : Mode == 2 ? vnni::requant_gemmlowp(x, cp) : vnni::requant_single(x, cp);
    };
    // q lies in [qmin, qmax] inside the output type: truncation (vpmovdb) is exact.
#pragma GCC unroll 2
    for (int r = 0; r < kMR; ++r) {
      uint8_t* d = c + r * ldc;
      const __m512i q0v = rq(_mm512_load_si512(buf + r * kNR), p[0]), q1v = rq(_mm512_load_si512(buf + r * kNR + 16), p[1]);
      if (full) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm512_cvtepi32_epi8(q0v));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm512_cvtepi32_epi8(q1v));
      } else {
        _mm512_mask_cvtepi32_storeu_epi8(d, k0, q0v);
        _mm512_mask_cvtepi32_storeu_epi8(d + 16, k1, q1v);
      }
    }
  } else {
    constexpr bool kSigned = Mode >= 6, kClamp = Mode == 4 || Mode == 6;
    const __mmask32 km = rqpack::mask32(n);
    const __m512 s0 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(km), ep.scale + j);
    const __m512 s1 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(km >> 16), ep.scale + j + 16);
    const rqpack::Params pp = rqpack::make_params(ep.zp, ep.qmin, ep.qmax);
    // Rows r and r+1: 64 bytes [row r cols 0..31 | row r+1 cols 0..31].
    auto st = [&](int r, __m512i x0, __m512i x1, __m512i y0, __m512i y1) LOWP_INLINE_LAMBDA {
      const __m512i v = rqpack::narrow4<kSigned, kClamp>(rqpack::round_scaled(x0, s0), rqpack::round_scaled(x1, s1),
                                                         rqpack::round_scaled(y0, s0), rqpack::round_scaled(y1, s1), pp);
      uint8_t* d = c + r * ldc;
      if (full) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm512_castsi512_si256(v));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + ldc), _mm512_extracti64x4_epi64(v, 1));
      } else {
        _mm256_mask_storeu_epi8(d, km, _mm512_castsi512_si256(v));
        _mm256_mask_storeu_epi8(d + ldc, km, _mm512_extracti64x4_epi64(v, 1));
      }
    };
#define LOWP_OUT(r, s) st(r, c##r##0, c##r##1, c##s##0, c##s##1);
    LOWP_OUT(0, 1) LOWP_OUT(2, 3) LOWP_OUT(4, 5) LOWP_OUT(6, 7) LOWP_OUT(8, 9) LOWP_OUT(10, 11)
#undef LOWP_OUT
  }
}

#undef LOWP_INLINE_LAMBDA
#undef LOWP_AS_ROW
#undef LOWP_AS_HALF
#undef LOWP_AS_GROUP
#undef LOWP_DECL
#undef LOWP_ROW
#undef LOWP_ROW_ODD
#undef LOWP_STEP
#undef LOWP_STORE

template <bool InPlace>
LOWP_INLINE void dot_rows_n(int rows, const uint8_t* a, ptrdiff_t lda, const int8_t* b, int groups, Acc& acc,
                            const char* pf = nullptr, int n_pf = 0) {
  if (rows == kMR) return dot_rows<kMR, InPlace>(a, lda, b, groups, acc, pf, n_pf);
  switch (rows) {
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

// Output stage of one tile whose accumulators already hold the full int32 results.
template <int Mode>
LOWP_INLINE void store_tile(const Acc& acc, int rows, int n, int j, const vnni::ColParams (&p)[2], uint8_t* c,
                            ptrdiff_t ldc) {
  for (int v = 0; v < 2; ++v) {
    const int nn = n - 16 * v;
    if (nn <= 0) break;
    const __mmask16 km = col_mask(nn);
#pragma GCC unroll 12
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
// columns from t.col0. Rows = kMR: full panel, one full_tile per B panel (accumulators in
// registers from the column terms to the output); Rows = 0: t.m < kMR rows (the last panel),
// through an Acc array (dot_rows / store_tile).
template <int Mode, int Rows>
void panels_mode(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  const int rows = Rows > 0 ? Rows : std::min(t.m, kMR);
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
  // Next A panel read in place (dense rows): its lines are prefetched over this panel's tiles,
  // one per two k-groups (A streams from L3/memory; B stays in L2).
  const char* pf = nullptr;
  int pf_per_tile = 0;
  if (t.a_src && t.a_next && t.a_next_rows > 0 && t.a_lda <= t.kgroups * kKR + 64) {
    pf = static_cast<const char*>(t.a_next);
    const ptrdiff_t span = (t.a_next_rows - 1) * t.a_lda + t.kgroups * kKR;
    const int lines = static_cast<int>((span + 63) / 64);
    pf_per_tile = (lines + panels - 1) / panels;
  }
  const bool per_col_zb = zb && !zb_uniform;
  for (int p = 0; p < panels; ++p) {
    const int j = t.col0 + p * kNR;
    const int n = std::min(kNR, ncols - p * kNR);
    const int8_t* b = static_cast<const int8_t*>(t.b) + p * b_stride;
    __m512i zv[2];
    if (Rows == kMR) {
      __m512i ct[2];
      for (int v = 0; v < 2; ++v) {
        const __mmask16 km = col_mask(n - 16 * v);
        ct[v] = vnni::load_cols(ep.col_term + j + 16 * v, km);
        zv[v] = per_col_zb ? vnni::load_cols(zb + j + 16 * v, km) : _mm512_setzero_si512();
      }
      const char* pf_tile = nullptr;
      int n_pf = 0;
      if (t.a_src) {
        // Lines beyond one per two k-groups (small K) are prefetched up front.
        for (int l = t.kgroups / 2; l < pf_per_tile; ++l) _mm_prefetch(pf + 64 * l, _MM_HINT_T0);
        pf_tile = pf;
        n_pf = pf_per_tile;
        if (pf) pf += 64 * pf_per_tile;
      }
      uint8_t* cj = c + static_cast<size_t>(j) * (Mode == 0 ? 4 : 1);
      if (t.a_src)
        full_tile<Mode, true>(static_cast<const uint8_t*>(t.a_src), t.a_lda, b, t.kgroups, ct, per_col_zb, zv, row_term,
                              t.row_sums, ep, j, cj, ldc, n, pf_tile, n_pf);
      else
        full_tile<Mode, false>(a, 0, b, t.kgroups, ct, per_col_zb, zv, row_term, t.row_sums, ep, j, cj, ldc, n, nullptr, 0);
      continue;
    }
    vnni::ColParams cp[2];
    for (int v = 0; v < 2; ++v) {
      const __mmask16 km = col_mask(n - 16 * v);
      if (Mode == 0) {
        cp[v].ct = vnni::load_cols(ep.col_term + j + 16 * v, km);
      } else {
        vnni::load_params(cp[v], ep, j + 16 * v, km);  // km == 0: zero column terms
      }
      zv[v] = per_col_zb ? vnni::load_cols(zb + j + 16 * v, km) : _mm512_setzero_si512();
    }
    Acc acc;
    for (int v = 0; v < 2; ++v) {
      if (per_col_zb) {
#pragma GCC unroll 12
        for (int r = 0; r < rows; ++r)
          acc[r][v] = _mm512_sub_epi32(cp[v].ct, _mm512_mullo_epi32(zv[v], _mm512_set1_epi32(t.row_sums[r])));
      } else {
#pragma GCC unroll 12
        for (int r = 0; r < rows; ++r) acc[r][v] = _mm512_add_epi32(cp[v].ct, _mm512_set1_epi32(row_term[r]));
      }
    }
    if (t.a_src) {
      dot_rows_n<true>(rows, static_cast<const uint8_t*>(t.a_src), t.a_lda, b, t.kgroups, acc, pf, pf_per_tile);
      if (pf) pf += 64 * pf_per_tile;
    } else {
      dot_rows_n<false>(rows, a, 0, b, t.kgroups, acc);
    }
    store_tile<packed_mode(Mode) ? 1 : Mode>(acc, rows, n, j, cp, c, ldc);
  }
}

// Half_even to 8 bits: the packed output stage when it applies (every |scale| of the columns
// [col0, col0 + ncols) below 1, see requant_pack_avx512.h), else the per-vector one.
template <int Rows>
void panels_half_even(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  if constexpr (Rows != kMR) {
    return panels_mode<1, Rows>(t, panels, b_stride, ncols, ep);
  } else {
    bool packed = true;
    for (int j = 0; packed && j < ncols; j += 16)
      packed = rqpack::scales_below_one(ep.scale + t.col0 + j, std::min(16, ncols - j));
    if (!packed) return panels_mode<1, Rows>(t, panels, b_stride, ncols, ep);
    if (ep.out_type == DType::U8) {
      if (ep.qmin == 0 && ep.qmax == 255) return panels_mode<5, Rows>(t, panels, b_stride, ncols, ep);
      return panels_mode<4, Rows>(t, panels, b_stride, ncols, ep);
    }
    if (ep.qmin == -128 && ep.qmax == 127) return panels_mode<7, Rows>(t, panels, b_stride, ncols, ep);
    return panels_mode<6, Rows>(t, panels, b_stride, ncols, ep);
  }
}

template <int Rows>
void panels_rows(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  if (ep.out_type == DType::S32) return panels_mode<0, Rows>(t, panels, b_stride, ncols, ep);
  switch (ep.rounding) {
    case Rounding::HalfEven: return panels_half_even<Rows>(t, panels, b_stride, ncols, ep);
    case Rounding::Gemmlowp: return panels_mode<2, Rows>(t, panels, b_stride, ncols, ep);
    default: return panels_mode<3, Rows>(t, panels, b_stride, ncols, ep);
  }
}

void panels_avx512vnni(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  if (t.m >= kMR) return panels_rows<kMR>(t, panels, b_stride, ncols, ep);
  panels_rows<0>(t, panels, b_stride, ncols, ep);
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
    pack_a_avx512vnni, 0, in_place_a_avx512vnni, panels_avx512vnni, true,
};

}  // namespace lowp
