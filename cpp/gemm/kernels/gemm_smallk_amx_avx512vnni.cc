// x86 AMX-INT8 GEMM kernel for small depths (K <= 64): 1x1 convolutions with few input
// channels (MobileNet expansions K = 16..32), 3-channel stems after im2col (K = 27), ...
// The dispatch table picks it instead of "amx" by default when K <= 64 (dispatch.cc).
//
// At such depths the multiply is a single shortened tdpbusd step and the time goes to the
// output stage and to moving tiles, so this kernel differs from "amx" (gemm_amx_avx512vnni.cc)
// in the parts around the multiply:
//  * 128-row panels (4 chunks of 32 rows): the tile configuration check and the two B tiles are
//    loaded once per 128 x 32 block instead of per 32 x 32 tile;
//  * the column terms (bias - za'*colsum' + K*za'*zb') are loaded into the C tiles before
//    tdpbusd accumulates onto them (no vector add per output vector);
//  * the next 32-row chunk's tiles are issued before the current chunk's output stage runs;
//  * "half_even" requantization to 8 bits narrows four vectors at once with saturating packs
//    (requant_pack_avx512.h) when every scale has |s| < 1, the case of every real model; other
//    cases (int32 output, gemmlowp/single, per-column weight zero points, |s| >= 1) use the
//    shared per-vector output stage (vnni_avx512.h).
// For K > 64 the kernel packs A as consecutive "amx" panels of 32 rows and runs "amx" on them,
// so it is correct (and tested) for every shape when forced.
//
// Exactness: tdpbusd sums u8*s8 products into int32 with wrap-around, as vpdpbusd does; the
// column terms added first wrap the same way (addition is associative modulo 2^32).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "gemm/kernel.h"
#include "gemm/kernels/vnni_avx512.h"  // first: its pragma quiets GCC 12 header warnings
#include "gemm/kernels/requant_pack_avx512.h"
#include "runtime/cpu.h"

namespace lowp {

bool cpu_has_amx_int8();         // gemm_amx_cpu.cc
extern const GemmKernel kGemmAmx;  // gemm_amx_avx512vnni.cc: K > 64

namespace {

constexpr int kMR = 128, kNR = 32, kKR = 4;
constexpr int kChunk = 32;        // rows per AMX step (two 16-row tiles)
constexpr int kMaxGroups = 16;    // K <= 64: one tdpbusd step
constexpr int kAmxRows = 32;      // "amx" panel rows (K > 64)
constexpr int kRowBytes = 64;     // A panel row stride (K <= 64)

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "tile configuration is 64 bytes");

// tmm0..3: C (16 rows x 16 int32), tmm4,5: A (16 rows x Kp bytes), tmm6,7: B (groups rows x 64).
inline TileConfig make_config(int groups) {
  TileConfig c;
  std::memset(&c, 0, sizeof(c));
  c.palette_id = 1;
  for (int i = 0; i < 4; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  c.colsb[4] = c.colsb[5] = static_cast<uint16_t>(groups * kKR);
  c.rows[4] = c.rows[5] = 16;
  c.colsb[6] = c.colsb[7] = 64;
  c.rows[6] = c.rows[7] = static_cast<uint8_t>(groups);
  return c;
}

// Loads `cfg` unless this thread's current configuration already is it (reading it back is
// cheaper than loading it, and checking stays correct when other code changed it).
__attribute__((target("amx-tile"))) inline void configure_tiles(const TileConfig& cfg) {
  TileConfig cur;
  _tile_storeconfig(&cur);
  __asm__ volatile("" ::: "memory");
  const __m512i want = _mm512_load_si512(&cfg), have = _mm512_load_si512(&cur);
  if (_mm512_cmpneq_epi32_mask(want, have) != 0) {
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&cfg);
  }
}

// One 32-row chunk: C = ct + A . B into buf (32 rows x 32 int32, row stride 128 bytes).
// ct: 16 rows of the first 16 column terms, then 16 rows of the next 16 (or null: start at 0).
__attribute__((target("amx-tile,amx-int8"))) inline void chunk_step(const uint8_t* a, bool two,
                                                                    const int32_t* ct, int32_t* buf) {
  if (ct) {
    _tile_loadd(0, ct, 64);
    _tile_loadd(1, ct + 256, 64);
  } else {
    _tile_zero(0);
    _tile_zero(1);
  }
  _tile_loadd(4, a, kRowBytes);
  _tile_dpbusd(0, 4, 6);
  _tile_dpbusd(1, 4, 7);
  if (two) {
    if (ct) {
      _tile_loadd(2, ct, 64);
      _tile_loadd(3, ct + 256, 64);
    } else {
      _tile_zero(2);
      _tile_zero(3);
    }
    _tile_loadd(5, a + 16 * kRowBytes, kRowBytes);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
    _tile_stored(2, buf + 16 * kNR, kNR * 4);
    _tile_stored(3, buf + 16 * kNR + 16, kNR * 4);
  }
  _tile_stored(0, buf, kNR * 4);
  _tile_stored(1, buf + 16, kNR * 4);
  // The tile intrinsics do not declare their memory operands: order them explicitly.
  __asm__ volatile("" ::: "memory");
}

__attribute__((target("amx-tile"))) inline void load_b(const int8_t* b) {
  _tile_loadd(6, b, 128);
  _tile_loadd(7, b + 64, 128);
}

inline __mmask32 mask32(int n) { return n >= 32 ? ~__mmask32{0} : ((__mmask32{1} << n) - 1); }
inline __mmask16 mask16(int n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

// Packed half_even output stage of `rows` rows of buf (ct already added) to C.
template <bool kSigned>
void store_packed(const int32_t* buf, int rows, int n, uint8_t* c, ptrdiff_t ldc, __m512 s0, __m512 s1,
                  const rqpack::Params& p) {
  using rqpack::round_scaled;
  if (n > 16) {
    const __mmask32 km = mask32(n);
    for (int r = 0; r < rows; r += 2) {
      const int32_t* q = buf + r * kNR;
      const __m512i v = rqpack::narrow4<kSigned>(
          round_scaled(_mm512_load_si512(q), s0), round_scaled(_mm512_load_si512(q + 16), s1),
          round_scaled(_mm512_load_si512(q + kNR), s0), round_scaled(_mm512_load_si512(q + kNR + 16), s1), p);
      uint8_t* d = c + r * ldc;
      if (n == 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm512_castsi512_si256(v));
        if (r + 1 < rows) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + ldc), _mm512_extracti64x4_epi64(v, 1));
      } else {
        _mm256_mask_storeu_epi8(d, km, _mm512_castsi512_si256(v));
        if (r + 1 < rows) _mm256_mask_storeu_epi8(d + ldc, km, _mm512_extracti64x4_epi64(v, 1));
      }
    }
  } else {
    const __mmask16 km = mask16(n);
    for (int r = 0; r < rows; r += 4) {
      const int32_t* q = buf + r * kNR;
      const __m512i v = rqpack::narrow4<kSigned>(round_scaled(_mm512_load_si512(q), s0),
                                                 round_scaled(_mm512_load_si512(q + kNR), s0),
                                                 round_scaled(_mm512_load_si512(q + 2 * kNR), s0),
                                                 round_scaled(_mm512_load_si512(q + 3 * kNR), s0), p);
      const __m128i x[4] = {_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1),
                            _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
      const int nr = std::min(4, rows - r);
      for (int i = 0; i < nr; ++i) {
        uint8_t* d = c + (r + i) * ldc;
        if (n == 16)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(d), x[i]);
        else
          _mm_mask_storeu_epi8(d, km, x[i]);
      }
    }
  }
}

// Generic output stage (every mode) for `rows` rows starting at tile row r0, from buf.
void store_generic(const int32_t* buf, int rows, int r0, const Tile& t, const Epilogue& ep) {
  __m512i acc[8][2];
  for (int rr = 0; rr < rows; rr += 8) {
    const int nr = std::min(8, rows - rr);
    for (int r = 0; r < nr; ++r) {
      acc[r][0] = _mm512_load_si512(buf + (rr + r) * kNR);
      acc[r][1] = _mm512_load_si512(buf + (rr + r) * kNR + 16);
    }
    vnni::store_rows(acc, nr, r0 + rr, t, ep);
  }
}

void ukernel_large_k(const Tile& t, const Epilogue& ep) {
  const size_t panel = static_cast<size_t>(round_up(t.kgroups * kKR, 64)) * kAmxRows;
  for (int s = 0; s * kAmxRows < t.m; ++s) {
    Tile sub = t;
    sub.m = std::min(kAmxRows, t.m - s * kAmxRows);
    sub.a = static_cast<const uint8_t*>(t.a) + s * panel;
    sub.row_sums = t.row_sums + s * kAmxRows;
    sub.row0 = t.row0 + s * kAmxRows;
    kGemmAmx.ukernel(sub, ep);
  }
}

__attribute__((target("amx-tile,amx-int8"))) void ukernel_smallk(const Tile& t, const Epilogue& ep) {
  if (t.kgroups > kMaxGroups) return ukernel_large_k(t, ep);
  const int groups = t.kgroups;
  const uint8_t* a = static_cast<const uint8_t*>(t.a);
  const int n = t.n;
  // Packed output stage: 8-bit half_even output, no row-sum term, every scale |s| < 1.
  const bool packed = ep.out_type != DType::S32 && ep.rounding == Rounding::HalfEven && ep.zb == nullptr &&
                      rqpack::scales_below_one(ep.scale + t.col0, std::min(n, 16)) &&
                      (n <= 16 || rqpack::scales_below_one(ep.scale + t.col0 + 16, n - 16));
  alignas(64) int32_t ct[2 * 256];  // 16 rows of columns 0..15, then 16 rows of 16..31
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  if (packed) {
    const __m512i c0 = _mm512_maskz_loadu_epi32(mask16(n), ep.col_term + t.col0);
    const __m512i c1 = n > 16 ? _mm512_maskz_loadu_epi32(mask16(n - 16), ep.col_term + t.col0 + 16) : _mm512_setzero_si512();
    for (int r = 0; r < 16; ++r) {
      _mm512_store_si512(ct + r * 16, c0);
      _mm512_store_si512(ct + 256 + r * 16, c1);
    }
    s0 = _mm512_maskz_loadu_ps(mask16(n), ep.scale + t.col0);
    if (n > 16) s1 = _mm512_maskz_loadu_ps(mask16(n - 16), ep.scale + t.col0 + 16);
  }
  const rqpack::Params p = rqpack::make_params(ep.zp, ep.qmin, ep.qmax);
  const TileConfig cfg = make_config(groups);
  configure_tiles(cfg);
  __asm__ volatile("" ::: "memory");  // A and B were just written by the packers
  load_b(static_cast<const int8_t*>(t.b));
  alignas(64) int32_t buf[2][kChunk * kNR];
  const int chunks = (t.m + kChunk - 1) / kChunk;
  const ptrdiff_t ldc = ep.ldc;
  uint8_t* const cbase = static_cast<uint8_t*>(ep.c) + static_cast<size_t>(t.row0) * ldc + t.col0;
  const bool sgn = ep.out_type == DType::S8;
  auto rows_of = [&](int ch) { return std::min(kChunk, t.m - ch * kChunk); };
  chunk_step(a, rows_of(0) > 16, packed ? ct : nullptr, buf[0]);
  for (int ch = 0; ch < chunks; ++ch) {
    // Issue the next chunk's tiles before this chunk's output stage.
    if (ch + 1 < chunks)
      chunk_step(a + static_cast<size_t>(ch + 1) * kChunk * kRowBytes, rows_of(ch + 1) > 16, packed ? ct : nullptr,
                 buf[(ch + 1) & 1]);
    const int32_t* b = buf[ch & 1];
    const int rows = rows_of(ch);
    if (packed) {
      uint8_t* c = cbase + static_cast<size_t>(ch) * kChunk * ldc;
      if (sgn)
        store_packed<true>(b, rows, n, c, ldc, s0, s1, p);
      else
        store_packed<false>(b, rows, n, c, ldc, s0, s1, p);
    } else {
      store_generic(b, rows, ch * kChunk, t, ep);
    }
  }
}

// A panel for K <= 64: [128 rows][64 bytes] in the U8 domain (the generic layout with k-group
// 64), k past K and rows past m zero. K > 64: consecutive "amx" panels of 32 rows.
void pack_a_smallk(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  if (K > kMaxGroups * kKR) {
    const size_t panel = static_cast<size_t>(round_up(round_up(K, kKR), 64)) * kAmxRows;
    for (int s = 0; s * kAmxRows < m; ++s)
      kGemmAmx.pack_a(src + static_cast<ptrdiff_t>(s) * kAmxRows * lda, a_type, std::min(kAmxRows, m - s * kAmxRows), K,
                      lda, out + s * panel, row_sums ? row_sums + s * kAmxRows : nullptr);
    return;
  }
  const __m512i flip = _mm512_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const __mmask64 kmask = K >= 64 ? ~__mmask64{0} : ((__mmask64{1} << K) - 1);
  for (int r = 0; r < m; ++r) {
    const __m512i v = _mm512_maskz_mov_epi8(kmask, _mm512_xor_si512(_mm512_maskz_loadu_epi8(kmask, src + r * lda), flip));
    _mm512_storeu_si512(out + r * kRowBytes, v);
    if (row_sums)
      row_sums[r] = static_cast<int32_t>(
          static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_sad_epu8(v, _mm512_setzero_si512()))));
  }
  for (int r = m; r < kMR; ++r) _mm512_storeu_si512(out + r * kRowBytes, _mm512_setzero_si512());
  if (row_sums)
    for (int r = m; r < kMR; ++r) row_sums[r] = 0;
}

}  // namespace

extern const GemmKernel kGemmAmxSmallK = {
    "amx_smallk", kMR, kNR, kKR, DType::U8, DType::S8, cpu_has_amx_int8, ukernel_smallk, 35, pack_a_smallk, 64,
};

}  // namespace lowp
