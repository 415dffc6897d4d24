// ARM NEON dotprod GEMV (M <= 4 rows, -march=armv8.2-a+dotprod): SDOT on the packed B of the
// neondot GEMM kernel (s8 domain, nr=8, kr=4: [panel][g][8 columns][4], 32 bytes per k-group).
//
// The 8x8 tile kernel spends 16 SDOT per k-group whatever the row count; here a k-group costs
// 2 SDOT per row. A is copied once per call into a per-thread s8 buffer (uint8 flipped to s8 by
// xor 0x80; the correction is in za'/rowsum'), zero padded to whole blocks of 4 k-groups, and
// loaded 16 bytes (4 k-groups) at a time; SDOT by lane picks each group. Independent chains:
// rows x 2 vectors x S accumulator sets (S = 4, 2, 1, 1 for 1..4 rows). The output stage is the
// shared NEON one (epilogue_neon.h) on an 8-column Epilogue whose column terms are computed here.
//
// The same file serves the i8mm kernel's layout (kr=8: [g][8 columns][8], 64 bytes per k-group,
// 16-byte vector = 2 columns x 8 k) with plain SDOT: A's 8 bytes are duplicated into both halves,
// so each accumulator lane sums half a column's k-group ([c lo, c hi, c+1 lo, c+1 hi]) and one
// pairwise add per 4 columns finishes them. The i8mm kernel itself already requires dotprod
// (its A packer computes row sums with SDOT), so this twin adds no requirement.
#include <arm_neon.h>

#include <cstring>
#include <vector>

#include "gemm/gemv.h"
#include "gemm/kernels/epilogue_neon.h"

namespace lowp {

namespace {

constexpr int kNR = 8, kKR = 4, kGroupBytes = kNR * kKR;
constexpr int kGroupBytes8 = kNR * 8;  // i8mm layout

template <int M>
inline __attribute__((always_inline)) void panel_dot(const int8_t* a, size_t a_stride, const int8_t* b, int groups,
                                                     int32x4_t (&out)[M][2]) {
  constexpr int S = M == 1 ? 4 : (M == 2 ? 2 : 1);
  int32x4_t acc[S][M][2];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[s][r][0] = acc[s][r][1] = vdupq_n_s32(0);
  int g = 0;
  for (; g + 4 <= groups; g += 4) {
    int8x16_t va[M];
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) va[r] = vld1q_s8(a + r * a_stride + kKR * g);
#define LOWP_GEMV_GROUP(u)                                                          \
  {                                                                                 \
    const int8x16_t b0 = vld1q_s8(b + (u) * kGroupBytes), b1 = vld1q_s8(b + (u) * kGroupBytes + 16); \
    for (int r = 0; r < M; ++r) {                                                   \
      acc[(u) % S][r][0] = vdotq_laneq_s32(acc[(u) % S][r][0], b0, va[r], u);       \
      acc[(u) % S][r][1] = vdotq_laneq_s32(acc[(u) % S][r][1], b1, va[r], u);       \
    }                                                                               \
  }
    LOWP_GEMV_GROUP(0)
    LOWP_GEMV_GROUP(1)
    LOWP_GEMV_GROUP(2)
    LOWP_GEMV_GROUP(3)
#undef LOWP_GEMV_GROUP
    b += 4 * kGroupBytes;
  }
  for (; g < groups; ++g) {
    const int8x16_t b0 = vld1q_s8(b), b1 = vld1q_s8(b + 16);
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) {
      int32_t w;
      std::memcpy(&w, a + r * a_stride + kKR * g, 4);
      const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(w));
      acc[0][r][0] = vdotq_s32(acc[0][r][0], b0, av);
      acc[0][r][1] = vdotq_s32(acc[0][r][1], b1, av);
    }
    b += kGroupBytes;
  }
#pragma GCC unroll 8
  for (int r = 0; r < M; ++r) {
    for (int h = 0; h < 2; ++h) {
      uint32x4_t s = vreinterpretq_u32_s32(acc[0][r][h]);  // wrapping sums: unsigned lanes
#pragma GCC unroll 8
      for (int t = 1; t < S; ++t) s = vaddq_u32(s, vreinterpretq_u32_s32(acc[t][r][h]));
      out[r][h] = vreinterpretq_s32_u32(s);
    }
  }
}

// kr = 8 (i8mm layout): out[r][0] = columns 0-3, out[r][1] = columns 4-7.
template <int M>
inline __attribute__((always_inline)) void panel_dot8(const int8_t* a, size_t a_stride, const int8_t* b, int groups,
                                                      int32x4_t (&out)[M][2]) {
  constexpr int S = M == 1 ? 2 : 1;
  int32x4_t acc[S][M][4];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[s][r][0] = acc[s][r][1] = acc[s][r][2] = acc[s][r][3] = vdupq_n_s32(0);
  for (int g = 0; g < groups; ++g) {
    const int s = S == 1 ? 0 : (g & (S - 1));
    const int8x16_t q0 = vld1q_s8(b), q1 = vld1q_s8(b + 16), q2 = vld1q_s8(b + 32), q3 = vld1q_s8(b + 48);
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) {
      uint64_t w;
      std::memcpy(&w, a + r * a_stride + 8 * g, 8);
      const int8x16_t av = vreinterpretq_s8_u64(vdupq_n_u64(w));
      acc[s][r][0] = vdotq_s32(acc[s][r][0], q0, av);
      acc[s][r][1] = vdotq_s32(acc[s][r][1], q1, av);
      acc[s][r][2] = vdotq_s32(acc[s][r][2], q2, av);
      acc[s][r][3] = vdotq_s32(acc[s][r][3], q3, av);
    }
    b += kGroupBytes8;
  }
#pragma GCC unroll 8
  for (int r = 0; r < M; ++r) {
    uint32x4_t t[4];
    for (int i = 0; i < 4; ++i) {
      t[i] = vreinterpretq_u32_s32(acc[0][r][i]);
#pragma GCC unroll 4
      for (int u = 1; u < S; ++u) t[i] = vaddq_u32(t[i], vreinterpretq_u32_s32(acc[u][r][i]));
    }
    out[r][0] = vreinterpretq_s32_u32(vpaddq_u32(t[0], t[1]));
    out[r][1] = vreinterpretq_s32_u32(vpaddq_u32(t[2], t[3]));
  }
}

// A' in the s8 domain, rows padded with zeros to whole blocks of 4 k-groups (16 bytes).
const int8_t* prepare_a(const GemvCall& g, size_t row_bytes) {
  thread_local std::vector<int8_t> buf;
  const size_t need = row_bytes * g.m;
  if (buf.size() < need) buf.resize(need);
  int8_t* out = buf.data();
  const uint8_t flip = g.a_type == DType::U8 ? 0x80 : 0;
  const uint8x16_t vflip = vdupq_n_u8(flip);
  for (int r = 0; r < g.m; ++r) {
    const uint8_t* src = static_cast<const uint8_t*>(g.a) + static_cast<size_t>(r) * g.lda;
    int8_t* dst = out + r * row_bytes;
    int k = 0;
    for (; k + 16 <= g.K; k += 16) vst1q_s8(dst + k, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(src + k), vflip)));
    for (; k < g.K; ++k) dst[k] = static_cast<int8_t>(src[k] ^ flip);
    std::memset(dst + g.K, 0, row_bytes - g.K);
  }
  return out;
}

template <int M, int KR>
void gemv_rows(const GemvCall& g, int p0, int p1) {
  const size_t row_bytes = static_cast<size_t>((g.kgroups + 3) / 4) * 4 * KR;
  const int8_t* a = prepare_a(g, row_bytes);
  // Per-tensor requantization parameters expanded to the 8 columns of a panel, once per call.
  int32_t mult8[kNR], shift8[kNR];
  float scale8[kNR];
  if (g.out_type != DType::S32 && !g.per_col) {
    for (int c = 0; c < kNR; ++c) {
      if (g.rounding == Rounding::HalfEven) {
        scale8[c] = g.scale[0];
      } else {
        mult8[c] = g.mult[0];
        shift8[c] = g.shift[0];
      }
    }
  }
  const size_t esz = g.out_type == DType::S32 ? 4 : 1;
  for (int p = p0; p < p1; ++p) {
    const int j0 = p * kNR;
    const int n = g.N - j0 < kNR ? g.N - j0 : kNR;
    int32x4_t acc[M][2];
    if (KR == 4)
      panel_dot<M>(a, row_bytes, static_cast<const int8_t*>(g.B->panel(j0)), g.kgroups, acc);
    else
      panel_dot8<M>(a, row_bytes, static_cast<const int8_t*>(g.B->panel(j0)), g.kgroups, acc);
    int32_t ct[kNR];
    for (int c = 0; c < n; ++c) ct[c] = gemv_col_term(g, j0 + c);
    // An Epilogue and Tile for this panel alone: column 0 of them is column j0 of C.
    Epilogue ep{};
    ep.out_type = g.out_type;
    ep.rounding = g.rounding;
    ep.zp = g.zp;
    ep.qmin = g.qmin;
    ep.qmax = g.qmax;
    ep.col_term = ct;
    ep.zb = g.zb ? g.zb + j0 : nullptr;
    if (g.out_type != DType::S32) {
      ep.mult = g.per_col && g.mult ? g.mult + j0 : mult8;
      ep.shift = g.per_col && g.shift ? g.shift + j0 : shift8;
      ep.scale = g.per_col && g.scale ? g.scale + j0 : scale8;
    }
    ep.c = static_cast<uint8_t*>(g.c) + static_cast<size_t>(j0) * esz;
    ep.ldc = g.ldc;
    const Tile t{g.m, n, g.kgroups, nullptr, nullptr, g.row_sums, 0, 0};
    neon_epilogue<M>(t, ep, acc);
  }
}

template <int KR>
void gemv_kr(const GemvCall& g, int p0, int p1) {
  switch (g.m) {
    case 1: return gemv_rows<1, KR>(g, p0, p1);
    case 2: return gemv_rows<2, KR>(g, p0, p1);
    case 3: return gemv_rows<3, KR>(g, p0, p1);
    default: return gemv_rows<4, KR>(g, p0, p1);
  }
}

}  // namespace

void gemv_neondot(const GemvCall& g, int p0, int p1) { gemv_kr<4>(g, p0, p1); }
void gemv_neondot_kr8(const GemvCall& g, int p0, int p1) { gemv_kr<8>(g, p0, p1); }

}  // namespace lowp
