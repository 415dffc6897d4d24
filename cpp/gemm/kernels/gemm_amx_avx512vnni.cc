// x86 AMX-INT8 GEMM kernel (Sapphire Rapids and later): tdpbusd, u8 activations x s8 weights,
// 32x32 tiles, with the AVX-512 VNNI output stage.
//
// Layouts. B is the shared layout with nr=32, kr=4 ([g][32 columns][4], 128 bytes per k-group),
// so 16 k-groups of 16 columns are exactly one AMX B tile (16 rows of 64 bytes, stride 128).
// A has its own layout (pack_a_amx): [k-block of 64][32 rows][64 bytes], zero padded, so one A
// tile is 16 rows x 64 bytes at stride 64.
//
// Tile registers: tmm0..3 = C (rows 0-15 / 16-31 x columns 0-15 / 16-31), tmm4,5 = A, tmm6,7 = B.
// tdpbusd sums u8*s8 products into int32 with wrap-around, as vpdpbusd does, so results are
// exact modulo 2^32. K < 64 takes one AMX step with a shortened K (amx_small_k). The k-groups
// past the last full 64-k block when K > 64, and tiles of at most 2 rows (GEMV-like calls,
// which are bandwidth bound), go through vpdpbusd on the same packed data.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "gemm/kernel.h"
#include "gemm/kernels/vnni_avx512.h"
#include "runtime/cpu.h"

namespace lowp {

bool cpu_has_amx_int8();  // gemm_amx_cpu.cc (portable code: safe to call on any x86 CPU)

namespace {

constexpr int kMR = 32, kNR = 32, kKR = 4;
constexpr int kKB = 64;                         // k per AMX block
constexpr int kGB = kKB / kKR;                  // k-groups per block (16)
constexpr int kABlockBytes = kMR * kKB;         // 2048
constexpr int kBBlockBytes = kGB * kNR * kKR;   // 2048

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Palette 1, tiles 0..7 of 16 rows x 64 bytes. Constant-initialised: this file is compiled with
// AVX-512 flags, so it must not run any code before dispatch has checked the CPU.
static_assert(sizeof(TileConfig) == 64, "tile configuration is 64 bytes");
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

// C(32 x 32, int32, row stride 32) = A . B over `blocks` full 64-k blocks.
__attribute__((target("amx-tile,amx-int8"))) void amx_blocks(const uint8_t* a, const int8_t* b, int blocks,
                                                             bool two_row_tiles, int32_t* c) {
  configure_tiles();
  __asm__ volatile("" ::: "memory");  // A and B were just written by the packers
  _tile_zero(0);
  _tile_zero(1);
  if (two_row_tiles) {
    _tile_zero(2);
    _tile_zero(3);
    for (int kb = 0; kb < blocks; ++kb) {
      _tile_loadd(4, a, 64);
      _tile_loadd(6, b, 128);
      _tile_loadd(7, b + 64, 128);
      _tile_loadd(5, a + 1024, 64);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
      a += kABlockBytes;
      b += kBBlockBytes;
    }
    _tile_stored(2, c + 16 * kNR, kNR * 4);
    _tile_stored(3, c + 16 * kNR + 16, kNR * 4);
  } else {
    for (int kb = 0; kb < blocks; ++kb) {
      _tile_loadd(4, a, 64);
      _tile_loadd(6, b, 128);
      _tile_loadd(7, b + 64, 128);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      a += kABlockBytes;
      b += kBBlockBytes;
    }
  }
  _tile_stored(0, c, kNR * 4);
  _tile_stored(1, c + 16, kNR * 4);
  // The tile load/store intrinsics do not declare their memory operands: order them explicitly.
  __asm__ volatile("" ::: "memory");
  // No tilerelease: the next call on this thread reuses the configuration.
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

void ukernel_amx(const Tile& t, const Epilogue& ep) {
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
    for (int r0 = 0; r0 < t.m; r0 += 8) {
      const int rows = std::min(8, t.m - r0);
      for (int r = 0; r < rows; ++r) {
        acc[r][0] = _mm512_load_si512(c + (r0 + r) * kNR);
        acc[r][1] = _mm512_load_si512(c + (r0 + r) * kNR + 16);
      }
      vnni::store_rows(acc, rows, r0, t, ep);
    }
    return;
  }
  amx_blocks(a, b, blocks, t.m > 16, c);
  const uint8_t* a_tail = a + static_cast<size_t>(blocks) * kABlockBytes;
  const int8_t* b_tail = b + static_cast<size_t>(blocks) * kBBlockBytes;
  for (int r0 = 0; r0 < t.m; r0 += 8) {
    const int rows = std::min(8, t.m - r0);
    for (int r = 0; r < rows; ++r) {
      acc[r][0] = _mm512_load_si512(c + (r0 + r) * kNR);
      acc[r][1] = _mm512_load_si512(c + (r0 + r) * kNR + 16);
    }
    if (grem) vnni::dpbusd_rows_n<kKB, kKR>(rows, a_tail + r0 * kKB, b_tail, grem, acc);
    vnni::store_rows(acc, rows, r0, t, ep);
  }
}

// Packs up to 32 rows of A into the U8 domain, layout [k-block][32 rows][64 bytes]; missing rows
// and k past K are zero (masked loads: nothing outside A is read). Row sums via vpsadbw.
void pack_a_amx(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const __m512i flip = _mm512_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const int blocks = (K + kKB - 1) / kKB;
  const int tail = K - (blocks - 1) * kKB;  // 1..64
  const __mmask64 tail_mask = tail == 64 ? ~__mmask64{0} : ((__mmask64{1} << tail) - 1);
  // Missing rows: zero, written block by block (each block's rows m..31 are contiguous). Tiles of
  // <= 2 rows never read them (they take the vpdpbusd path), so there the zeros bypass the caches
  // with streaming stores instead of evicting the B panel that GEMV calls stream through.
  const bool stream = m <= 2 && (reinterpret_cast<uintptr_t>(out) & 63) == 0;
  for (int kb = 0; kb < blocks; ++kb) {
    uint8_t* o = out + static_cast<size_t>(kb) * kABlockBytes;
    for (int r = m; r < kMR; ++r) {
      if (stream)
        _mm512_stream_si512(reinterpret_cast<__m512i*>(o + r * kKB), _mm512_setzero_si512());
      else
        _mm512_storeu_si512(o + r * kKB, _mm512_setzero_si512());
    }
  }
  if (stream) _mm_sfence();
  for (int r = 0; r < kMR; ++r) {
    uint8_t* o = out + static_cast<size_t>(r) * kKB;
    if (r >= m) {
      if (row_sums) row_sums[r] = 0;
      continue;
    }
    const uint8_t* p = src + static_cast<ptrdiff_t>(r) * lda;
    __m512i sum = _mm512_setzero_si512();
    for (int kb = 0; kb < blocks; ++kb) {
      const __mmask64 km = kb == blocks - 1 ? tail_mask : ~__mmask64{0};
      const __m512i v =
          _mm512_maskz_mov_epi8(km, _mm512_xor_si512(_mm512_mask_loadu_epi8(_mm512_setzero_si512(), km, p + kb * kKB), flip));
      _mm512_storeu_si512(o + static_cast<size_t>(kb) * kABlockBytes, v);
      if (row_sums) sum = _mm512_add_epi64(sum, _mm512_sad_epu8(v, _mm512_setzero_si512()));
    }
    if (row_sums) row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi64(sum)));
  }
}

}  // namespace

extern const GemmKernel kGemmAmx = {
    "amx", kMR, kNR, kKR, DType::U8, DType::S8, cpu_has_amx_int8, ukernel_amx, 40, pack_a_amx, kKB,
};

}  // namespace lowp
