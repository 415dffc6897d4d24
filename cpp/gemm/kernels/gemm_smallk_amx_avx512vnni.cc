// x86 AMX-INT8 GEMM kernel for shallow GEMMs (K <= 64 by default): 1x1 convolutions
// (MobileNet expansions K = 16..64), 3-channel stems after im2col (K = 27),
// ... The dispatch table picks it instead of "amx" by default for such depths
// (dispatch.cc); forced, it runs any K.
//
// At such depths a 32 x 32 tile takes one or two tdpbusd steps and the time goes to the output
// stage and to moving tiles, so this kernel differs from "amx" (gemm_amx_avx512vnni.cc) in the
// parts around the multiply:
//  * 128-row panels (4 chunks of 32 rows): the tile configuration check (and, for K <= 64, the
//    two B tiles) once per 128 x 32 block instead of per 32 x 32 tile;
//  * the column terms (bias - za'*colsum' + K*za'*zb') are loaded into the C tiles before
//    tdpbusd accumulates onto them (no vector add per output vector);
//  * the next 32-row chunk's tiles are issued before the current chunk's output stage runs;
//  * "half_even" requantization to 8 bits narrows four vectors at once with saturating packs
//    (requant_pack_avx512.h) when every scale has |s| < 1, the case of every real model; other
//    cases (int32 output, gemmlowp/single, per-column weight zero points, |s| >= 1) use the
//    shared per-vector output stage (vnni_avx512.h);
//  * K <= 64: one tdpbusd step shortened to the packed k-groups (own tile configuration);
//    K > 64: full 64-k steps with the configuration of "amx": A is zero past K, and a partial
//    last k-block of B is copied into a zero-padded 2 KiB buffer, so no tile reads past the
//    packed B panel.
// Layouts: B is the shared layout (nr=32, kr=4: 16 k-groups of 16 columns = one B tile at
// stride 128). A panels are the generic layout with k-group 64: [k-block][128 rows][64 bytes].
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
#include "gemm/kernels/amx_tiles.h"

namespace lowp {

bool cpu_has_amx_int8();  // gemm_amx_cpu.cc

namespace {

constexpr int kMR = 128, kNR = 32, kKR = 4;
constexpr int kChunk = 32;              // rows per AMX step (two 16-row tiles)
constexpr int kKB = 64;                 // k per tdpbusd step
constexpr int kGB = kKB / kKR;          // k-groups per step (16)
constexpr int kABlock = kMR * kKB;      // bytes of one k-block of an A panel (8 KiB)
constexpr int kBBlock = kGB * kNR * kKR;  // bytes of one k-block of a B panel (2 KiB)


// Palette 1, tmm0..3: C (16 rows x 16 int32), tmm4,5: A (16 rows x 4*groups bytes), tmm6,7: B
// (groups rows x 64 bytes). K > 64 uses groups = 16 (the configuration of "amx", so alternating
// with it costs no reload); K <= 64 shortens the one step to the packed k-groups (tdpbusd then
// takes proportionally less time, and the B tiles read exactly the packed panel).
inline TileConfig make_config(int groups) {
  TileConfig c;
  std::memset(&c, 0, sizeof(c));
  c.palette_id = 1;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  c.colsb[4] = c.colsb[5] = static_cast<uint16_t>(groups * kKR);
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

__attribute__((target("amx-tile"))) inline void load_b(const int8_t* b) {
  _tile_loadd(6, b, 128);
  _tile_loadd(7, b + 64, 128);
}

// One 32-row chunk: buf (32 rows x 32 int32, row stride 128 bytes) = ct + A . B over `blocks`
// k-blocks. a: the chunk's rows in k-block 0 (blocks kABlock apart). b_blocks[kb]: B k-block kb,
// or null when blocks == 1 (B tiles already loaded). ct: 16 rows of the first 16 column terms,
// then 16 rows of the next 16 (or null: start at 0).
__attribute__((target("amx-tile,amx-int8"))) inline void chunk_step(const uint8_t* a, int blocks,
                                                                    const int8_t* const* b_blocks, bool two,
                                                                    const int32_t* ct, int32_t* buf) {
  if (ct) {
    _tile_loadd(0, ct, 64);
    _tile_loadd(1, ct + 256, 64);
  } else {
    _tile_zero(0);
    _tile_zero(1);
  }
  if (!b_blocks) {
    // One step, B tiles already loaded.
    _tile_loadd(4, a, kKB);
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
      _tile_loadd(5, a + 16 * kKB, kKB);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  } else {
    if (two) {
      if (ct) {
        _tile_loadd(2, ct, 64);
        _tile_loadd(3, ct + 256, 64);
      } else {
        _tile_zero(2);
        _tile_zero(3);
      }
    }
    for (int kb = 0; kb < blocks; ++kb) {
      load_b(b_blocks[kb]);
      const uint8_t* ak = a + static_cast<size_t>(kb) * kABlock;
      _tile_loadd(4, ak, kKB);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      if (two) {
        _tile_loadd(5, ak + 16 * kKB, kKB);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
    }
  }
  if (two) {
    _tile_stored(2, buf + 16 * kNR, kNR * 4);
    _tile_stored(3, buf + 16 * kNR + 16, kNR * 4);
  }
  _tile_stored(0, buf, kNR * 4);
  _tile_stored(1, buf + 16, kNR * 4);
  // The tile intrinsics do not declare their memory operands: order them explicitly.
  __asm__ volatile("" ::: "memory");
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

// kMulti = false: K <= 64, one step with the k dimension shortened to the packed groups, B tiles
// loaded once. kMulti = true: K > 64, B k-blocks per step; a partial last block is copied into a
// zero-padded buffer (tiles read 16 groups). (Two instantiations: the K <= 64 one keeps the
// smaller stack frame, which measured ~10 % faster.)
template <bool kMulti>
__attribute__((target("amx-tile,amx-int8"))) void run_t(const Tile& t, const Epilogue& ep) {
  const uint8_t* a = static_cast<const uint8_t*>(t.a);
  const int8_t* b = static_cast<const int8_t*>(t.b);
  const int n = t.n;
  const int blocks = kMulti ? (t.kgroups + kGB - 1) / kGB : 1, grem = t.kgroups % kGB;
  constexpr int kMaxListed = kMulti ? 64 : 1;  // B blocks listed on the stack (K <= 4096); deeper: per step
  alignas(64) int8_t bpad[kMulti ? kBBlock : 64];
  const int8_t* blist[kMaxListed];
  if (kMulti && grem) {
    const int8_t* last = b + static_cast<size_t>(blocks - 1) * kBBlock;
    for (int i = 0; i < grem * 2; ++i) _mm512_store_si512(bpad + 64 * i, _mm512_loadu_si512(last + 64 * i));
    for (int i = grem * 2; i < kBBlock / 64; ++i) _mm512_store_si512(bpad + 64 * i, _mm512_setzero_si512());
  }
  const int listed = std::min(blocks, kMaxListed);
  for (int kb = 0; kb < listed; ++kb)
    blist[kb] = (kMulti && kb == blocks - 1 && grem) ? bpad : b + static_cast<size_t>(kb) * kBBlock;
  // Packed output stage: 8-bit half_even output, no row-sum term, every scale |s| < 1.
  const bool packed = ep.out_type != DType::S32 && ep.rounding == Rounding::HalfEven && ep.zb == nullptr &&
                      rqpack::scales_below_one(ep.scale + t.col0, std::min(n, 16)) &&
                      (n <= 16 || rqpack::scales_below_one(ep.scale + t.col0 + 16, n - 16));
  alignas(64) int32_t ct[2 * 256];  // 16 rows of columns 0..15, then 16 rows of 16..31
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  if (packed) {
    const __m512i c0 = _mm512_maskz_loadu_epi32(rqpack::mask16(n), ep.col_term + t.col0);
    const __m512i c1 = n > 16 ? _mm512_maskz_loadu_epi32(rqpack::mask16(n - 16), ep.col_term + t.col0 + 16) : _mm512_setzero_si512();
    for (int r = 0; r < 16; ++r) {
      _mm512_store_si512(ct + r * 16, c0);
      _mm512_store_si512(ct + 256 + r * 16, c1);
    }
    s0 = _mm512_maskz_loadu_ps(rqpack::mask16(n), ep.scale + t.col0);
    if (n > 16) s1 = _mm512_maskz_loadu_ps(rqpack::mask16(n - 16), ep.scale + t.col0 + 16);
  }
  const rqpack::Params p = rqpack::make_params(ep.zp, ep.qmin, ep.qmax);
  const TileConfig cfg = make_config(kMulti ? kGB : t.kgroups);
  configure_tiles(cfg);
  __asm__ volatile("" ::: "memory");  // A, B and the buffers above were just written
  alignas(64) int32_t buf[2][kChunk * kNR + 16];  // +64 bytes: the two buffers must not alias mod 4 KiB
  const int chunks = (t.m + kChunk - 1) / kChunk;
  const ptrdiff_t ldc = ep.ldc;
  uint8_t* const cbase = static_cast<uint8_t*>(ep.c) + static_cast<size_t>(t.row0) * ldc + t.col0;
  const bool sgn = ep.out_type == DType::S8;
  const bool clamp = sgn ? (ep.qmin > -128 || ep.qmax < 127) : (ep.qmin > 0 || ep.qmax < 255);
  const int32_t* cti = packed ? ct : nullptr;
  auto rows_of = [&](int ch) { return std::min(kChunk, t.m - ch * kChunk); };
  if (kMulti && blocks > kMaxListed) {
    // Very deep (forced only): one chunk at a time, B blocks looked up per step.
    for (int ch = 0; ch < chunks; ++ch) {
      const int rows = rows_of(ch);
      const uint8_t* ach = a + static_cast<size_t>(ch) * kChunk * kKB;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int kb = 0; kb < blocks; ++kb) {
        load_b((kb == blocks - 1 && grem) ? bpad : b + static_cast<size_t>(kb) * kBBlock);
        _tile_loadd(4, ach + static_cast<size_t>(kb) * kABlock, kKB);
        _tile_loadd(5, ach + static_cast<size_t>(kb) * kABlock + 16 * kKB, kKB);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
      _tile_stored(0, buf[0], kNR * 4);
      _tile_stored(1, buf[0] + 16, kNR * 4);
      _tile_stored(2, buf[0] + 16 * kNR, kNR * 4);
      _tile_stored(3, buf[0] + 16 * kNR + 16, kNR * 4);
      __asm__ volatile("" ::: "memory");
      store_generic(buf[0], rows, ch * kChunk, t, ep);
    }
    return;
  }
  const int8_t* const* bl = kMulti ? blist : nullptr;
  if (!kMulti) load_b(b);  // stays in tmm6/7 for every chunk
  chunk_step(a, blocks, bl, rows_of(0) > 16, cti, buf[0]);
  for (int ch = 0; ch < chunks; ++ch) {
    // Issue the next chunk's tiles before this chunk's output stage.
    if (ch + 1 < chunks)
      chunk_step(a + static_cast<size_t>(ch + 1) * kChunk * kKB, blocks, bl, rows_of(ch + 1) > 16, cti,
                 buf[(ch + 1) & 1]);
    const int32_t* cb = buf[ch & 1];
    const int rows = rows_of(ch);
    if (packed) {
      uint8_t* c = cbase + static_cast<size_t>(ch) * kChunk * ldc;
      if (sgn) {
        if (clamp)
          rqpack::store_rows_packed<true, true>(cb, kNR, rows, n, c, ldc, s0, s1, p);
        else
          rqpack::store_rows_packed<true, false>(cb, kNR, rows, n, c, ldc, s0, s1, p);
      } else {
        if (clamp)
          rqpack::store_rows_packed<false, true>(cb, kNR, rows, n, c, ldc, s0, s1, p);
        else
          rqpack::store_rows_packed<false, false>(cb, kNR, rows, n, c, ldc, s0, s1, p);
      }
    } else {
      store_generic(cb, rows, ch * kChunk, t, ep);
    }
  }
}

void ukernel_smallk(const Tile& t, const Epilogue& ep) {
  if (t.kgroups <= kGB) return run_t<false>(t, ep);
  run_t<true>(t, ep);
}

// A panel: the generic layout with k-group 64, [k-block][128 rows][64 bytes], in the U8 domain;
// k past K and rows past m are zero. Row sums (in the domain) from vpsadbw.
void pack_a_smallk(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const __m512i flip = _mm512_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const int blocks = (K + kKB - 1) / kKB;
  const int tail = K - (blocks - 1) * kKB;  // 1..64
  const __mmask64 tail_mask = tail == 64 ? ~__mmask64{0} : ((__mmask64{1} << tail) - 1);
  if (blocks == 1) {
    for (int r = 0; r < m; ++r) {
      const __m512i v =
          _mm512_maskz_mov_epi8(tail_mask, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail_mask, src + r * lda), flip));
      _mm512_storeu_si512(out + r * kKB, v);
      if (row_sums)
        row_sums[r] = static_cast<int32_t>(
            static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_sad_epu8(v, _mm512_setzero_si512()))));
    }
  }
  for (int r = 0; r < m && blocks > 1; ++r) {
    const uint8_t* row = src + static_cast<ptrdiff_t>(r) * lda;
    __m512i sum = _mm512_setzero_si512();
    for (int kb = 0; kb < blocks; ++kb) {
      const __mmask64 km = kb == blocks - 1 ? tail_mask : ~__mmask64{0};
      const __m512i v = _mm512_maskz_mov_epi8(km, _mm512_xor_si512(_mm512_maskz_loadu_epi8(km, row + kb * kKB), flip));
      _mm512_storeu_si512(out + static_cast<size_t>(kb) * kABlock + r * kKB, v);
      if (row_sums) sum = _mm512_add_epi64(sum, _mm512_sad_epu8(v, _mm512_setzero_si512()));
    }
    if (row_sums) row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi64(sum)));
  }
  for (int kb = 0; kb < blocks; ++kb)
    for (int r = m; r < kMR; ++r) _mm512_storeu_si512(out + static_cast<size_t>(kb) * kABlock + r * kKB, _mm512_setzero_si512());
  if (row_sums)
    for (int r = m; r < kMR; ++r) row_sums[r] = 0;
}

}  // namespace

extern const GemmKernel kGemmAmxSmallK = {
    "amx_smallk", kMR, kNR, kKR, DType::U8, DType::S8, cpu_has_amx_int8, ukernel_smallk, 35, pack_a_smallk, kKB,
};

}  // namespace lowp
