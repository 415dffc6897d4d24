// x86 AMX-INT8 GEMM kernel (Sapphire Rapids and later): tdpbusd, u8 activations x s8 weights,
// 32x32 tiles, with the AVX-512 VNNI output stage.
//
// Layouts. B is the shared layout with nr=32, kr=4 ([g][32 columns][4], 128 bytes per k-group),
// so 16 k-groups of 16 columns are exactly one AMX B tile (16 rows of 64 bytes, stride 128).
// A has its own layout (pack_a_amx): [k-block of 64][32 rows][64 bytes], zero padded, so one A
// tile is 16 rows x 64 bytes at stride 64. For panels of 3..32 rows with K >= 64 the driver does
// not pack A up front (in_place_a_amx): panel_amx packs it one K chunk (up to 1280 k) at a time into
// an L1-resident buffer and runs that chunk over all B panels of the block, with partial sums parked
// in a per-thread buffer between chunks.
//
// Tile registers: tmm0..3 = C (rows 0-15 / 16-31 x columns 0-15 / 16-31), tmm4,5 = A, tmm6,7 = B.
// tdpbusd sums u8*s8 products into int32 with wrap-around, as vpdpbusd does, so results are
// exact modulo 2^32. K < 64 takes one AMX step with a shortened K (amx_small_k). The k-groups
// past the last full 64-k block when K > 64 take one more full AMX step on the zero-padded last
// A block (its B tiles read past the panel's valid k-groups: PackedB keeps kBSlackBytes after
// the last panel). Tiles of at most 2 rows (GEMV-like calls, which are bandwidth bound) go
// through vpdpbusd on the same packed data.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gemm/kernel.h"
#include "gemm/kernels/vnni_avx512.h"  // first: its pragma quiets GCC 12 header warnings
#include "gemm/kernels/requant_pack_avx512.h"
#include "runtime/cpu.h"
#include "gemm/kernels/amx_tiles.h"

namespace lowp {

bool cpu_has_amx_int8();  // gemm_amx_cpu.cc (portable code: safe to call on any x86 CPU)

namespace {

constexpr int kMR = 32, kNR = 32, kKR = 4;
constexpr int kKB = 64;                         // k per AMX block
constexpr int kGB = kKB / kKR;                  // k-groups per block (16)
constexpr int kABlockBytes = kMR * kKB;         // 2048
constexpr int kBBlockBytes = kGB * kNR * kKR;   // 2048


// Palette 1, tiles 0..7 of 16 rows x 64 bytes. Constant-initialised: this file is compiled with
// AVX-512 flags, so it must not run any code before dispatch has checked the CPU.
constexpr TileConfig kConfig = {1, 0, {}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

// Loads our tile configuration unless this thread already has it. Reading the current one back
// (sttilecfg) is cheaper than ldtilecfg, and checking it (rather than trusting a flag) stays
// correct when other code on this thread (e.g. another library's AMX kernels) changed it.
__attribute__((target("amx-tile"))) inline void configure_tiles(const TileConfig& cfg = kConfig) {
  // GCC's sttilecfg/ldtilecfg intrinsics declare only a pointer-sized memory operand, so the
  // compiler is told explicitly (memory clobbers) that all 64 bytes are written / read.
  TileConfig cur;
  _tile_storeconfig(&cur);
  __asm__ volatile("" ::: "memory");
  const __m512i want = _mm512_load_si512(&cfg), have = _mm512_load_si512(&cur);
  if (_mm512_cmpneq_epi32_mask(want, have) != 0) {
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&cfg);
  }
}

// C(32 x 32, int32, row stride 32) = A . B over `blocks` full 64-k blocks. A tile rows are
// `as` bytes apart, rows 16..31 start at a + a16, and each k-block advances A by `astep`
// (packed A: as 64, a16 1024, astep 2048; A in place: as lda, a16 16*lda, astep 64).
// With `accumulate`, C starts from the values in c instead of zero (K blocking). With a_tail, one
// more step follows on the packed K-tail block (a_tail: 32 rows x 64 bytes, zero past K; b_tail:
// its B k-block, whose tile rows past the valid k-groups are read but meet zero A bytes: see
// kBSlackBytes in gemm.cc for the last panel).
__attribute__((target("amx-tile,amx-int8"))) void amx_blocks(const uint8_t* a, size_t as, size_t a16, size_t astep,
                                                             const int8_t* b, int blocks, bool two_row_tiles,
                                                             int32_t* c, bool accumulate = false,
                                                             const uint8_t* a_tail = nullptr,
                                                             const int8_t* b_tail = nullptr) {
  configure_tiles();
  __asm__ volatile("" ::: "memory");  // A and B were just written by the packers
  if (accumulate) {
    _tile_loadd(0, c, kNR * 4);
    _tile_loadd(1, c + 16, kNR * 4);
  } else {
    _tile_zero(0);
    _tile_zero(1);
  }
  if (two_row_tiles) {
    if (accumulate) {
      _tile_loadd(2, c + 16 * kNR, kNR * 4);
      _tile_loadd(3, c + 16 * kNR + 16, kNR * 4);
    } else {
      _tile_zero(2);
      _tile_zero(3);
    }
    for (int kb = 0; kb < blocks; ++kb) {
      _tile_loadd(4, a, as);
      _tile_loadd(6, b, 128);
      _tile_loadd(7, b + 64, 128);
      _tile_loadd(5, a + a16, as);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
      a += astep;
      b += kBBlockBytes;
    }
    if (a_tail) {
      _tile_loadd(4, a_tail, kKB);
      _tile_loadd(6, b_tail, 128);
      _tile_loadd(7, b_tail + 64, 128);
      _tile_loadd(5, a_tail + kABlockBytes / 2, kKB);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(2, c + 16 * kNR, kNR * 4);
    _tile_stored(3, c + 16 * kNR + 16, kNR * 4);
  } else {
    for (int kb = 0; kb < blocks; ++kb) {
      _tile_loadd(4, a, as);
      _tile_loadd(6, b, 128);
      _tile_loadd(7, b + 64, 128);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      a += astep;
      b += kBBlockBytes;
    }
    if (a_tail) {
      _tile_loadd(4, a_tail, kKB);
      _tile_loadd(6, b_tail, 128);
      _tile_loadd(7, b_tail + 64, 128);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
    }
  }
  _tile_stored(0, c, kNR * 4);
  _tile_stored(1, c + 16, kNR * 4);
  // The tile load/store intrinsics do not declare their memory operands: order them explicitly.
  __asm__ volatile("" ::: "memory");
  // No tilerelease: the next call on this thread reuses the configuration.
}

void finish_rows(const Tile& t, const int32_t* c, const Epilogue& ep, int r0, int r1);

// B tile loads of the panel kernel: tileloaddt1 (kStreamB) or tileloadd, see kKC.
#define LOWP_AMX_LOAD_B(tmm, p)          \
  do {                                   \
    if (kStreamB)                        \
      _tile_stream_loadd(tmm, p, 128);   \
    else                                 \
      _tile_loadd(tmm, p, 128);          \
  } while (0)

// The output stage of a panel whose sums are in c, run rows_per rows at a time between the tile
// steps of the next panel (amx_panel_steps), so that the tile unit has work queued while the core
// runs it.
// As one piece after the next panel's tile instructions (several hundred instructions for 8-bit
// output, more than the reorder buffer holds behind a panel's tile instructions), 1 thread u8
// 64x1024x1024 and 1024^3 were ~5-10 % slower.
struct OutJob {
  Tile t;
  const int32_t* c;
  const Epilogue* ep;
  int row;       // next row
  int rows_per;  // rows per slice (a multiple of 8)
  int next;      // the next slice after this tile step (k-block index in the chunk; -1: none)
  int every;     // then one every `every` steps
  void slice() {
    const int r1 = std::min(row + rows_per, t.m);
    finish_rows(t, c, *ep, row, r1);
    row = r1;
    next = row < t.m ? next + every : -1;
  }
};

// One B panel of a K chunk for the panel kernel, software-pipelined across B panels: the C tiles
// of a panel are left in the tile registers (not stored), and the next call stores them (to
// prev_c) tile by tile inside its own first step, each store right before the tdpbusd that
// starts that tile's next sums, so the tile unit keeps working instead of draining at every panel
// (a store waits for its tile's last tdpbusd; ~150-250 cycles a panel against ~70 per 64-k step).
// prev_c == nullptr: no previous panel in the tiles (the first call of a chunk configures them);
// its rows are pcs int32 apart (kNR in the partial-sum buffer, ldc for int32 output written by
// the tile stores). Without `accumulate`, C starts from zero, or with c_init (32 int32) in every
// row. amx_store_c stores the last panel. Arguments otherwise as amx_blocks, blocks >= 1. Nothing
// else may use the tile registers between the calls (the output stage is plain AVX-512).
template <bool kStreamB>
__attribute__((target("amx-tile,amx-int8"))) void amx_panel_steps(const uint8_t* a, size_t as, size_t a16, size_t astep,
                                                                  const int8_t* b, int blocks, bool two, int32_t* c,
                                                                  bool accumulate, const uint8_t* a_tail,
                                                                  const int8_t* b_tail, int32_t* prev_c,
                                                                  size_t pcs, const int32_t* c_init, OutJob* job) {
  __asm__ volatile("" ::: "memory");  // A and B were just written by the packers; prev_c is read after
  // First step: loads of this panel's first A/B tiles and the previous panel's C stores
  // interleaved; A0 (tmm4) and B0 (tmm6) are free once the previous panel's last step has read them.
  if (prev_c == nullptr) {
    configure_tiles();
    __asm__ volatile("" ::: "memory");
  }
  _tile_loadd(4, a, as);
  LOWP_AMX_LOAD_B(6, b);
  if (prev_c) _tile_stored(0, prev_c, pcs * 4);
  if (accumulate) _tile_loadd(0, c, kNR * 4); else if (c_init) _tile_loadd(0, c_init, 0); else _tile_zero(0);
  _tile_dpbusd(0, 4, 6);
  if (two) {
    _tile_loadd(5, a + a16, as);
    if (prev_c) _tile_stored(2, prev_c + 16 * pcs, pcs * 4);
    if (accumulate) _tile_loadd(2, c + 16 * kNR, kNR * 4); else if (c_init) _tile_loadd(2, c_init, 0); else _tile_zero(2);
    _tile_dpbusd(2, 5, 6);
  }
  LOWP_AMX_LOAD_B(7, b + 64);
  if (prev_c) _tile_stored(1, prev_c + 16, pcs * 4);
  if (accumulate) _tile_loadd(1, c + 16, kNR * 4); else if (c_init) _tile_loadd(1, c_init + 16, 0); else _tile_zero(1);
  _tile_dpbusd(1, 4, 7);
  if (two) {
    if (prev_c) _tile_stored(3, prev_c + 16 * pcs + 16, pcs * 4);
    if (accumulate) _tile_loadd(3, c + 16 * kNR + 16, kNR * 4); else if (c_init) _tile_loadd(3, c_init + 16, 0); else _tile_zero(3);
    _tile_dpbusd(3, 5, 7);
  }
  a += astep;
  b += kBBlockBytes;
  // dp order C00, C10, C01, C11: A0 and B0 are free early for the next step / panel.
  if (two) {
    for (int kb = 1; kb < blocks; ++kb) {
      _tile_loadd(4, a, as);
      LOWP_AMX_LOAD_B(6, b);
      LOWP_AMX_LOAD_B(7, b + 64);
      _tile_loadd(5, a + a16, as);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(3, 5, 7);
      a += astep;
      b += kBBlockBytes;
      if (job && kb == job->next) job->slice();
    }
    if (a_tail) {
      _tile_loadd(4, a_tail, kKB);
      LOWP_AMX_LOAD_B(6, b_tail);
      LOWP_AMX_LOAD_B(7, b_tail + 64);
      _tile_loadd(5, a_tail + kABlockBytes / 2, kKB);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(3, 5, 7);
    }
  } else {
    for (int kb = 1; kb < blocks; ++kb) {
      _tile_loadd(4, a, as);
      LOWP_AMX_LOAD_B(6, b);
      LOWP_AMX_LOAD_B(7, b + 64);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      a += astep;
      b += kBBlockBytes;
      if (job && kb == job->next) job->slice();
    }
    if (a_tail) {
      _tile_loadd(4, a_tail, kKB);
      LOWP_AMX_LOAD_B(6, b_tail);
      LOWP_AMX_LOAD_B(7, b_tail + 64);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
    }
  }
  if (job)
    while (job->row < job->t.m) job->slice();
  __asm__ volatile("" ::: "memory");  // prev_c's stores above are seen by the output stage
}

// Stores the C tiles amx_panel_steps left in the tile registers.
__attribute__((target("amx-tile"))) void amx_store_c(int32_t* c, size_t cs, bool two) {
  _tile_stored(0, c, cs * 4);
  _tile_stored(1, c + 16, cs * 4);
  if (two) {
    _tile_stored(2, c + 16 * cs, cs * 4);
    _tile_stored(3, c + 16 * cs + 16, cs * 4);
  }
  __asm__ volatile("" ::: "memory");
}

// Small K (no full 64-k block, groups = Kp/4 in 1..15): one AMX step with the K dimension
// shortened to `groups` k-groups: A tiles of 16 rows x 4*groups bytes (the first bytes of each
// 64-byte packed row), B tiles of `groups` rows x 64 bytes (stride 128). This needs its own tile
// configuration (loaded once per thread while every tile of a GEMM has the same K), and reads
// exactly the packed k-groups: nothing past the B panel.
__attribute__((target("amx-tile,amx-int8"))) void amx_small_k(const uint8_t* a, const int8_t* b, int groups,
                                                              bool two_row_tiles, int32_t* c) {
  alignas(64) TileConfig cfg = kConfig;
  cfg.colsb[4] = cfg.colsb[5] = static_cast<uint16_t>(groups * kKR);
  cfg.rows[6] = cfg.rows[7] = static_cast<uint8_t>(groups);
  configure_tiles(cfg);
  __asm__ volatile("" ::: "memory");  // A and B were just written by the packers
  _tile_zero(0);
  _tile_zero(1);
  _tile_loadd(4, a, 64);
  _tile_loadd(6, b, 128);
  _tile_loadd(7, b + 64, 128);
  _tile_dpbusd(0, 4, 6);
  _tile_dpbusd(1, 4, 7);
  if (two_row_tiles) {
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(5, a + 1024, 64);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
    _tile_stored(2, c + 16 * kNR, kNR * 4);
    _tile_stored(3, c + 16 * kNR + 16, kNR * 4);
  }
  _tile_stored(0, c, kNR * 4);
  _tile_stored(1, c + 16, kNR * 4);
  __asm__ volatile("" ::: "memory");
}

// The packed output stage (requant_pack_avx512.h) applies: 8-bit half_even output, no row-sum
// term, every scale of the tile's columns |s| < 1 (the case of every real model).
inline bool packed_output(const Tile& t, const Epilogue& ep) {
  return ep.out_type != DType::S32 && ep.rounding == Rounding::HalfEven && ep.zb == nullptr &&
         rqpack::scales_below_one(ep.scale + t.col0, std::min(t.n, 16)) &&
         (t.n <= 16 || rqpack::scales_below_one(ep.scale + t.col0 + 16, t.n - 16));
}

// Packed output stage of a tile: column terms added to the sums in c (32 rows readable).
void store_tile_packed(const Tile& t, const int32_t* c, const Epilogue& ep, int r0, int r1) {
  using rqpack::mask16;
  const int n = t.n;
  const __m512i ct0 = _mm512_maskz_loadu_epi32(mask16(n), ep.col_term + t.col0);
  const __m512i ct1 = n > 16 ? _mm512_maskz_loadu_epi32(mask16(n - 16), ep.col_term + t.col0 + 16) : _mm512_setzero_si512();
  const __m512 s0 = _mm512_maskz_loadu_ps(mask16(n), ep.scale + t.col0);
  const __m512 s1 = n > 16 ? _mm512_maskz_loadu_ps(mask16(n - 16), ep.scale + t.col0 + 16) : _mm512_setzero_ps();
  const rqpack::Params p = rqpack::make_params(ep.zp, ep.qmin, ep.qmax);
  const ptrdiff_t ldc = ep.ldc;
  uint8_t* const cb = static_cast<uint8_t*>(ep.c) + static_cast<size_t>(t.row0 + r0) * ldc + t.col0;
  c += r0 * kNR;
  const int m = r1 - r0;
  const bool sgn = ep.out_type == DType::S8;
  const bool clamp = sgn ? (ep.qmin > -128 || ep.qmax < 127) : (ep.qmin > 0 || ep.qmax < 255);
  if (sgn) {
    if (clamp)
      rqpack::store_rows_packed<true, true, true>(c, kNR, m, n, cb, ldc, s0, s1, p, ct0, ct1);
    else
      rqpack::store_rows_packed<true, false, true>(c, kNR, m, n, cb, ldc, s0, s1, p, ct0, ct1);
  } else {
    if (clamp)
      rqpack::store_rows_packed<false, true, true>(c, kNR, m, n, cb, ldc, s0, s1, p, ct0, ct1);
    else
      rqpack::store_rows_packed<false, false, true>(c, kNR, m, n, cb, ldc, s0, s1, p, ct0, ct1);
  }
}

// Output stage of rows [r0, r1) (r0 a multiple of 8) of a 32x32 tile whose AMX sums are in c
// (row stride 32, 32 rows readable).
void finish_rows(const Tile& t, const int32_t* c, const Epilogue& ep, int r0, int r1) {
  if (packed_output(t, ep)) return store_tile_packed(t, c, ep, r0, r1);
  __m512i acc[8][2];
  for (; r0 < r1; r0 += 8) {
    const int rows = std::min(8, r1 - r0);
    for (int r = 0; r < rows; ++r) {
      acc[r][0] = _mm512_load_si512(c + (r0 + r) * kNR);
      acc[r][1] = _mm512_load_si512(c + (r0 + r) * kNR + 16);
    }
    vnni::store_rows(acc, rows, r0, t, ep);
  }
}

void finish_tile(const Tile& t, const int32_t* c, const Epilogue& ep) { finish_rows(t, c, ep, 0, t.m); }

void panel_amx(const Tile& t0, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep);

void ukernel_amx(const Tile& t, const Epilogue& ep) {
  if (t.a_src) return panel_amx(t, 1, 0, t.n, ep);  // A deferred by in_place_a_amx
  const uint8_t* a = static_cast<const uint8_t*>(t.a);
  const int8_t* b = static_cast<const int8_t*>(t.b);
  const int blocks = t.kgroups / kGB, grem = t.kgroups % kGB;
  __m512i acc[8][2];
  if (t.m <= 2) {
    // GEMV-like: vpdpbusd over all k-groups (rows at stride 64, groups at stride 4 in a block).
    vnni::zero_acc(acc);
    if (t.m == 2)
      vnni::dpbusd_rows<2, kKB, kKR, kGB, kABlockBytes>(a, b, t.kgroups, acc);
    else
      vnni::dpbusd_rows<1, kKB, kKR, kGB, kABlockBytes>(a, b, t.kgroups, acc);
    vnni::store_rows(acc, t.m, 0, t, ep);
    return;
  }
  alignas(64) int32_t c[kMR * kNR];
  if (blocks == 0) {
    // K < 64: a single shortened AMX step instead of vpdpbusd over the whole tile.
    amx_small_k(a, b, grem, t.m > 16, c);
    finish_tile(t, c, ep);
    return;
  }
  // The K tail (grem k-groups) is one more AMX step on the zero-padded last block of packed A.
  const uint8_t* a_tail = a + static_cast<size_t>(blocks) * kABlockBytes;
  amx_blocks(a, kKB, kABlockBytes / 2, kABlockBytes, b, blocks, t.m > 16, c, false, grem ? a_tail : nullptr,
             b + static_cast<size_t>(blocks) * kBBlockBytes);
  finish_tile(t, c, ep);
}

// K chunk of the panel kernel, in 64-k blocks: the A chunk (32 rows x 64 bytes per block) stays in
// L1 while the chunk runs over every B panel. Every chunk boundary costs each B panel a store
// (and, after the first chunk, a reload) of its 4 C tiles (~150-250 cycles of drained tile
// pipeline against ~70 per 64-k step in a standalone loop), so longer chunks pay, as far as L1
// holds them: A chunks of 32 KB and more were evicted by B tiles streaming from L2 through plain
// tileloadd (2x2 steps ~6500 -> ~5000 GOP/s), not with tileloaddt1 for B (~6500 up to 40 KB).
// So: chunks of up to kKC blocks (24 KB: K <= 768 one chunk, K = 1024 two of 8), or kKCLong
// (36 KB: K <= 1280 one chunk, 2304 two) where they measured faster (see panel_amx); B tiles by
// tileloaddt1 when a chunk's B panels exceed kStreamBBytes (below that they can stay in L1 across
// A panels). Chunks of fewer than kMinPipelinedSteps steps run panel by panel (see panel_amx).
constexpr int kKC = 12, kKCMax = 12;
constexpr int kKCLong = 18, kKCMaxLong = 20;
constexpr int kLongChunkPanels = 8;
constexpr size_t kStreamBBytes = 32 * 1024;
constexpr int kMinPipelinedSteps = 8;
constexpr int kSliceRows = 16;  // output stage slices (OutJob)

struct PanelScratch {
  std::vector<int32_t> c;   // partial sums, 32x32 per B panel
  std::vector<uint8_t> a;   // one packed A chunk, [k-block][32 rows][64 bytes]
  template <typename T>
  static T* aligned(std::vector<T>& v, size_t n) {
    if (v.size() < n + 64 / sizeof(T)) v.resize(n + 64 / sizeof(T));
    return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t{63});
  }
};
thread_local PanelScratch t_panel;

// amx_blocks on packed A for the first B panel of a chunk, fused with packing that chunk: block
// kb+1 is packed (loads from A, which streams from L3/memory on large M) while the tile unit
// works on block kb, instead of packing the whole chunk first with the tile unit idle.
template <bool kStreamB>
__attribute__((target("amx-tile,amx-int8"))) void amx_blocks_packing(const uint8_t* src, ptrdiff_t lda, int m, int rows,
                                                                     int kb0, int nb, __m512i flip, uint8_t* abuf,
                                                                     const int8_t* b, bool two, int32_t* c,
                                                                     bool accumulate, const uint8_t* a_tail,
                                                                     const int8_t* b_tail) {
  const __m512i zero = _mm512_setzero_si512();
  src += static_cast<size_t>(kb0) * kKB;
  auto pack_block = [&](int kb) {
    uint8_t* o = abuf + static_cast<size_t>(kb) * kABlockBytes;
    const uint8_t* p = src + static_cast<size_t>(kb) * kKB;
    for (int r = 0; r < m; ++r, p += lda) _mm512_store_si512(o + r * kKB, _mm512_xor_si512(_mm512_loadu_si512(p), flip));
    for (int r = m; r < rows; ++r) _mm512_store_si512(o + r * kKB, zero);
  };
  configure_tiles();
  pack_block(0);
  __asm__ volatile("" ::: "memory");
  if (accumulate) {
    _tile_loadd(0, c, kNR * 4);
    _tile_loadd(1, c + 16, kNR * 4);
    if (two) {
      _tile_loadd(2, c + 16 * kNR, kNR * 4);
      _tile_loadd(3, c + 16 * kNR + 16, kNR * 4);
    }
  } else {
    _tile_zero(0);
    _tile_zero(1);
    if (two) {
      _tile_zero(2);
      _tile_zero(3);
    }
  }
  for (int kb = 0; kb < nb; ++kb) {
    const uint8_t* a = abuf + static_cast<size_t>(kb) * kABlockBytes;
    _tile_loadd(4, a, kKB);
    LOWP_AMX_LOAD_B(6, b);
    LOWP_AMX_LOAD_B(7, b + 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if (two) {
      _tile_loadd(5, a + kABlockBytes / 2, kKB);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
    b += kBBlockBytes;
    if (kb + 1 < nb) {
      __asm__ volatile("" ::: "memory");  // the tile loads above read the previous block first
      pack_block(kb + 1);
      __asm__ volatile("" ::: "memory");
    }
  }
  if (a_tail) {  // as in amx_blocks
    _tile_loadd(4, a_tail, kKB);
    _tile_loadd(6, b_tail, 128);
    _tile_loadd(7, b_tail + 64, 128);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if (two) {
      _tile_loadd(5, a_tail + kABlockBytes / 2, kKB);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, c, kNR * 4);
  _tile_stored(1, c + 16, kNR * 4);
  if (two) {
    _tile_stored(2, c + 16 * kNR, kNR * 4);
    _tile_stored(3, c + 16 * kNR + 16, kNR * 4);
  }
  __asm__ volatile("" ::: "memory");
}

// One A panel x `panels` B panels (the driver's inner loop).
//  - A deferred by in_place_a_amx (t0.a_src set: 3..32 rows, K >= 64): A is packed one K chunk at
//    a time into a per-thread buffer of up to 40 KB (or read in place) that stays in L1 while the
//    chunk runs over every B panel (B tiles from L2: see kKC); the partial 32x32 int32 sums of
//    every panel wait in a per-thread buffer between chunks (tile stores/loads: 8 KB per chunk
//    and panel). Chunks of >= kMinPipelinedSteps blocks are pipelined across B panels
//    (amx_panel_steps), with each panel's output stage in slices between the next panel's tile
//    steps. Packing this way never writes A to L2, works for any alignment and row stride of A,
//    and is cheap next to the chunk's AMX work.
//  - Packed A (GEMV-like tiles, K < 64): the per-tile kernel.
void panel_amx(const Tile& t0, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep) {
  const int8_t* b0 = static_cast<const int8_t*>(t0.b);
  Tile t = t0;
  if (!t0.a_src) {
    for (int p = 0; p < panels; ++p) {
      t.b = b0 + p * b_stride;
      t.col0 = t0.col0 + p * kNR;
      t.n = std::min(kNR, ncols - p * kNR);
      ukernel_amx(t, ep);
    }
    return;
  }
  const int blocks = t0.kgroups / kGB, grem = t0.kgroups % kGB;
  int32_t* cbuf = PanelScratch::aligned(t_panel.c, static_cast<size_t>(panels) * kMR * kNR);
  uint8_t* abuf = PanelScratch::aligned(t_panel.a, static_cast<size_t>(kKCMaxLong) * kABlockBytes);
  const uint8_t* a_src = static_cast<const uint8_t*>(t0.a_src);
  const uint8_t* a_tail = static_cast<const uint8_t*>(t0.a);  // packed by in_place_a_amx
  const __m512i flip = _mm512_set1_epi8(t0.a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const bool two = t0.m > 16;
  // Full panels of uint8 A whose rows start on 64-byte boundaries are read in place by the tile
  // loads (rows that straddle cache lines make tile loads up to twice as slow; row strides that
  // are multiples of 512 bytes put a chunk's rows into a few L1 sets): saves the chunk packing.
  const size_t lda = static_cast<size_t>(t0.a_lda);
  const bool direct = t0.m == kMR && t0.a_type == DType::U8 && lda % 64 == 0 && lda % 512 != 0 &&
                      (reinterpret_cast<uintptr_t>(a_src) & 63) == 0;
  // Balanced chunks of at most kKC blocks (21 blocks: 11 + 10, not 18 + 3); up to kKCMax blocks
  // stay one chunk, which saves a round of partial-sum loads/stores. Long chunks (kKCLong) over
  // >= 8 B panels (with 4, 784x128x1152 was ~10 % slower) with 8-bit output, or int32 output that
  // the tile stores write (s32_tiles, below); with the core's int32 output stage (128-byte rows
  // written while the next panel runs) they were ~12 % slower on 64x1024x1024.
  const bool s32_tiles = ep.out_type == DType::S32 && ep.zb == nullptr && t0.m == kMR;
  const bool long_chunks = (ep.out_type != DType::S32 || s32_tiles) && panels >= kLongChunkPanels;
  const int kc_max = long_chunks ? kKCLong : kKC, kc_one = long_chunks ? kKCMaxLong : kKCMax;
  const int nchunks = blocks <= kc_one ? 1 : (blocks + kc_max - 1) / kc_max;
  const int chunk = (blocks + nchunks - 1) / nchunks;
  auto finish_panel = [&](int p) {
    const int8_t* b = b0 + p * b_stride;
    t.b = b;
    t.col0 = t0.col0 + p * kNR;
    t.n = std::min(kNR, ncols - p * kNR);
    finish_tile(t, cbuf + static_cast<size_t>(p) * kMR * kNR, ep);
  };
  // int32 output without row-sum terms, full 32-row panels, every chunk pipelined: the tile
  // stores write the output (C starts from the column terms), no output stage on the core. For
  // the B panels that amx_panel_steps runs in every chunk (not the first one when A is packed by
  // chunks) and that have 32 columns. 1 thread, with long chunks: 64x1024x1024 and 1024^3 int32
  // ~+30 %, 3136x64x576 ~+7 %.
  const bool out_by_tiles = s32_tiles && blocks - (nchunks - 1) * chunk >= kMinPipelinedSteps;
  auto tiles_out = [&](int p) { return (direct || p > 0) && ncols - p * kNR >= kNR; };
  for (int kc = 0; kc < blocks; kc += chunk) {
    const int nb = std::min(chunk, blocks - kc);
    const bool last = kc + nb == blocks;
    // Short chunks (fewer than kMinPipelinedSteps 64-k steps: 196x1280x320 has 5) run each panel
    // on its own (amx_blocks, C stored at its end, the previous panel's output stage after it):
    // pipelined, 196x1280x320 u8 was ~3-5 % slower, with or without tileloaddt1 and slicing.
    const bool pipelined = nb >= kMinPipelinedSteps;
    // B tiles by tileloaddt1 when the chunk's B panels cannot stay in L1 anyway (see kKC).
    const bool stream_b = pipelined && static_cast<size_t>(panels) * nb * kBBlockBytes > kStreamBBytes;
    // C tiles of the previous panel still in the tile registers (amx_panel_steps), or nullptr,
    // and their row stride.
    int32_t* pending = nullptr;
    size_t pending_cs = kNR;
    for (int p = 0; p < panels; ++p) {
      const int8_t* b = b0 + p * b_stride;
      int32_t* c = cbuf + static_cast<size_t>(p) * kMR * kNR;
      const int8_t* bk = b + static_cast<size_t>(kc) * kBBlockBytes;
      // The K tail (grem k-groups): one more step of the last chunk, on the block in_place_a_amx
      // packed (zero past K).
      const uint8_t* at = last && grem ? a_tail : nullptr;
      const int8_t* bt = b + static_cast<size_t>(blocks) * kBBlockBytes;
      if (!direct && p == 0) {
        (stream_b ? amx_blocks_packing<true> : amx_blocks_packing<false>)(
            a_src, t0.a_lda, t0.m, two ? kMR : kMR / 2, kc, nb, flip, abuf, bk, two, c, kc > 0, at, bt);
        continue;
      }
      if (!pipelined) {
        if (direct)
          amx_blocks(a_src + static_cast<size_t>(kc) * kKB, lda, 16 * lda, kKB, bk, nb, true, c, kc > 0, at, bt);
        else
          amx_blocks(abuf, kKB, kABlockBytes / 2, kABlockBytes, bk, nb, two, c, kc > 0, at, bt);
        if (last && p > 0) finish_panel(p - 1);
        continue;
      }
      // The previous panel's output stage (its sums stored by this call's first step) runs in
      // slices of kSliceRows rows between this panel's tile steps, from the second step on.
      OutJob job, *jp = nullptr;
      if (last && p > 0 && !(out_by_tiles && tiles_out(p - 1))) {
        job.t = t0;
        job.t.b = b0 + (p - 1) * b_stride;
        job.t.col0 = t0.col0 + (p - 1) * kNR;
        job.t.n = std::min(kNR, ncols - (p - 1) * kNR);
        job.c = c - kMR * kNR;
        job.ep = &ep;
        job.row = 0;
        job.rows_per = kSliceRows;
        job.next = 1;
        job.every = std::max(1, (nb - 1) / ((t0.m + kSliceRows - 1) / kSliceRows));
        jp = &job;
      }
      const uint8_t* a = direct ? a_src + static_cast<size_t>(kc) * kKB : abuf;
      const size_t as = direct ? lda : kKB, a16 = direct ? 16 * lda : kABlockBytes / 2;
      const size_t astep = direct ? kKB : kABlockBytes;
      // int32 output by the tile stores: C starts from the column terms, and the last chunk's sums
      // go straight to the output.
      const bool by_tiles = out_by_tiles && tiles_out(p);
      int32_t* dst = c;
      size_t dst_cs = kNR;
      if (by_tiles && last) {
        dst = static_cast<int32_t*>(ep.c) + static_cast<size_t>(t0.row0) * ep.ldc + t0.col0 + p * kNR;
        dst_cs = static_cast<size_t>(ep.ldc);
      }
      (stream_b ? amx_panel_steps<true> : amx_panel_steps<false>)(a, as, a16, astep, bk, nb, two || direct, c,
                                                                  kc > 0, at, bt, pending, pending_cs,
                                                                  by_tiles ? ep.col_term + t0.col0 + p * kNR : nullptr, jp);
      pending = dst;
      pending_cs = dst_cs;
    }
    if (pending) amx_store_c(pending, pending_cs, two || direct);
    if (last && !(out_by_tiles && tiles_out(panels - 1))) finish_panel(panels - 1);
  }
}

// Packs up to 32 rows of A into the U8 domain, layout [k-block][32 rows][64 bytes]; missing rows
// and k past K are zero (masked loads: nothing outside A is read). Row sums via vpsadbw.
// k-block outer, rows inner: the stores are sequential (a row-outer order writes 64 bytes every
// 2 KB, which for deep K is about twice as slow once the panel outgrows L1).
void pack_a_amx(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const __m512i flip = _mm512_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const __m512i zero = _mm512_setzero_si512();
  const int blocks = (K + kKB - 1) / kKB;
  const int tail = K - (blocks - 1) * kKB;  // 1..64
  const __mmask64 tail_mask = tail == 64 ? ~__mmask64{0} : ((__mmask64{1} << tail) - 1);
  // Missing rows: zero. Tiles of <= 2 rows never read them (they take the vpdpbusd path), so
  // there the zeros bypass the caches with streaming stores instead of evicting the B panel that
  // GEMV calls stream through.
  const bool stream = m <= 2 && (reinterpret_cast<uintptr_t>(out) & 63) == 0;
  __m512i sums[kMR];
  for (int r = 0; r < m; ++r) sums[r] = zero;
  for (int kb = 0; kb < blocks; ++kb) {
    uint8_t* o = out + static_cast<size_t>(kb) * kABlockBytes;
    const __mmask64 km = kb == blocks - 1 ? tail_mask : ~__mmask64{0};
    const uint8_t* p = src + kb * kKB;
    for (int r = 0; r < m; ++r, p += lda) {
      const __m512i v = _mm512_maskz_mov_epi8(km, _mm512_xor_si512(_mm512_mask_loadu_epi8(zero, km, p), flip));
      _mm512_storeu_si512(o + r * kKB, v);
      if (row_sums) sums[r] = _mm512_add_epi64(sums[r], _mm512_sad_epu8(v, zero));
    }
    for (int r = m; r < kMR; ++r) {
      if (stream)
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + r * kKB), zero);
      else
        _mm512_storeu_si512(o + r * kKB, zero);
    }
  }
  if (stream) _mm_sfence();
  if (row_sums) {
    for (int r = 0; r < m; ++r) row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi64(sums[r])));
    for (int r = m; r < kMR; ++r) row_sums[r] = 0;
  }
}

// A panels of 3..32 rows with K >= 64 are packed by panel_amx one K chunk at a time (see there).
// This hook, run once per A panel instead of the packer, packs only the K tail (K % 64 columns,
// if any: one [32 rows][64 bytes] block in dst, zero padded, for the vpdpbusd tail) and computes
// the row sums (U8 domain).
bool in_place_a_amx(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  // K % 64 in 61..63: the kernel (which sees only the k-group count, K rounded up to 4) would
  // take the last partial block for a full one and read past the rows of A: packed instead.
  if (m <= 2 || K < kKB || K % kKB > kKB - kKR) return false;
  const uint8_t* src = static_cast<const uint8_t*>(a);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const int full = K / kKB, tail = K % kKB;
  const __mmask64 tail_mask = (__mmask64{1} << tail) - 1;  // tail < 64
  if (tail == 0 && !row_sums) return true;  // nothing to write (and no need to touch A here)
  for (int r = 0; r < kMR; ++r) {
    if (r >= m) {
      if (row_sums) row_sums[r] = 0;
      continue;
    }
    const uint8_t* p = src + static_cast<ptrdiff_t>(r) * lda;
    const __m512i t = _mm512_maskz_mov_epi8(tail_mask, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail_mask, p + full * kKB), flip));
    if (tail) _mm512_storeu_si512(static_cast<uint8_t*>(dst) + r * kKB, t);
    if (row_sums) {
      __m512i s0 = _mm512_sad_epu8(t, zero), s1 = zero;
      int kb = 0;
      for (; kb + 2 <= full; kb += 2) {
        s0 = _mm512_add_epi64(s0, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(p + kb * kKB), flip), zero));
        s1 = _mm512_add_epi64(s1, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(p + kb * kKB + kKB), flip), zero));
      }
      if (kb < full) s0 = _mm512_add_epi64(s0, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(p + kb * kKB), flip), zero));
      row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1))));
    }
  }
  return true;
}

}  // namespace

extern const GemmKernel kGemmAmx = {
    "amx", kMR, kNR, kKR, DType::U8, DType::S8, cpu_has_amx_int8, ukernel_amx, 40, pack_a_amx, kKB, in_place_a_amx, panel_amx,
};

}  // namespace lowp
