// x86 AVX-512 VNNI depthwise row kernel (vpdpbusd: u8 x s8 -> int32, exact, no saturation).
//
// For one output row and a block of 64 channels, each input column iw is turned once into
// "quads": the bytes of 4 kernel rows (kh = 4g .. 4g+3) interleaved per channel, 4 zmm holding
// channels in the lane order of unpack{lo,hi}_epi8/epi16. Every output pixel then needs only
// KW * ceil(KH/4) * 4 vpdpbusd against weights prepacked in the same order, and neighbouring
// pixels share the quads (the column is built once, used KW/stride times). The accumulator
// order is undone for free by packssdw/packuswb when storing bytes.
// Domains: x (uint8, or int8 + 128), w' = w - zw must fit in int8 (checked at pack time; else the
// vpmaddwd kernel of depthwise_avx512.cc runs). Exactness: sum (x + s)(w') - (zx + s) sum w' + bias.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/depthwise.h"
#include "ops/depthwise_avx512_requant.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kCb = kDwRowChannelBlock;

// 4x4 transpose of 128-bit lanes: out_k.lane L = in_L.lane k.
inline void transpose_lanes(__m512i& a0, __m512i& a1, __m512i& a2, __m512i& a3) {
  const __m512i u0 = _mm512_shuffle_i32x4(a0, a1, 0x44), u1 = _mm512_shuffle_i32x4(a0, a1, 0xEE);
  const __m512i u2 = _mm512_shuffle_i32x4(a2, a3, 0x44), u3 = _mm512_shuffle_i32x4(a2, a3, 0xEE);
  a0 = _mm512_shuffle_i32x4(u0, u2, 0x88);
  a1 = _mm512_shuffle_i32x4(u0, u2, 0xDD);
  a2 = _mm512_shuffle_i32x4(u1, u3, 0x88);
  a3 = _mm512_shuffle_i32x4(u1, u3, 0xDD);
}

// Loads 64 natural int32 values (channels c .. c+63, masked to n) in accumulator order.
inline void load_perm(const int32_t* src, int n, __m512i out[4]) {
  for (int L = 0; L < 4; ++L) {
    const int rem = n - 16 * L;
    const __mmask16 m = rem >= 16 ? 0xFFFF : (rem <= 0 ? 0 : static_cast<__mmask16>((1u << rem) - 1));
    out[L] = _mm512_maskz_loadu_epi32(m, src + 16 * L);
  }
  transpose_lanes(out[0], out[1], out[2], out[3]);
}

struct RowScratch {
  std::vector<uint8_t> q;
  uint8_t* get(size_t bytes) {
    if (q.size() < bytes + 64) q.resize(bytes + 64);
    return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(q.data()) + 63) & ~uintptr_t{63});
  }
};
thread_local RowScratch t_row;

// Per-channel int32 values of channels c0 .. c0+n-1 in accumulator order; with a fold (see
// row_block) each group of 64 / kFold lanes holds the same n <= 64 / kFold channels.
template <int kFold>
inline void load_perm_fold(const int32_t* src, int c0, int n, __m512i out[4]) {
  if (kFold == 1) return load_perm(src + c0, n, out);
  constexpr int gb = 64 / kFold;
  alignas(64) int32_t t[64];
  for (int i = 0; i < 64; ++i) t[i] = i % gb < n ? src[c0 + i % gb] : 0;
  load_perm(t, 64, out);
}

// One block of channels [c0, c0 + n) of one output row (two with kPair).
// kPair (3x3, stride 1, dilation 1 along H): rows holds the 4 input rows of output rows oh and
// oh+1; the quads of those 4 rows serve both, with weights (w0,w1,w2,0) for oh and (0,w0,w1,w2)
// for oh+1 (p.wq2), so the interleaving is paid once per two output rows.
// kFold > 1 (a last block of n <= 64 / kFold channels, e.g. 16 of C = 144 or 32 of C = 96): the
// 64 lanes hold kFold groups of 64 / kFold lanes, group g computing the block's channels for
// output pixel ow + g * S (S = ceil(OW / kFold)), against weights with the lanes repeated
// (packed after the last block). The same instructions then cover kFold pixels instead of
// one pixel with 64 - n idle lanes.
template <int kKH, int kKW, bool kPair, int kFold>
void row_block(const DwPacked& p, const DwRowArgs& r, const DwEpilogue& ep, int c0, int n) {
  const int KH = kKH > 0 ? kKH : p.KH, KW = kKW > 0 ? kKW : p.KW;
  const int G = (KH + 3) / 4;
  const int C = p.C, W = r.W, OW = r.OW, sw = r.sw, dw = r.dw, pl = r.pl;
  constexpr int gb = 64 / kFold;  // lanes (bytes) per group
  const int S = (OW + kFold - 1) / kFold;  // output pixels per group
  const int ncol = (S - 1) * sw + (KW - 1) * dw + 1;
  const bool s8 = r.x_type == DType::S8;
  const __m512i flip = _mm512_set1_epi8(s8 ? static_cast<char>(0x80) : 0);
  const size_t col_bytes = static_cast<size_t>(G) * 4 * 64;
  uint8_t* Q = t_row.get(static_cast<size_t>(ncol) * col_bytes);
  const size_t wblock = static_cast<size_t>(G) * KW * 4 * 64;
  const size_t wb_index = kFold > 1 ? ceil_div(C, kCb) : c0 / kCb;  // folded weights follow the blocks
  const bool s32 = ep.out_type == DType::S32;
  const bool fast_half_even = !s32 && ep.rounding == Rounding::HalfEven && ep.scale_below_half;
  constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512i zpv = _mm512_set1_epi32(ep.zp);
  const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(ep.qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(ep.qmax));
  const __mmask64 mn = n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);  // n channels (of one group)
  // 1. quads for every input column this row reads. The row pointers live in a local array
  //    (the stores to Q are byte stores: through r they would force a reload per load).
  constexpr int kMaxG = 4;
  const uint8_t* rp[4 * kMaxG];
  const bool local_rows = G <= kMaxG;
  const uint8_t* const zr = r.zrow + c0;
  if (local_rows)
    for (int kh = 0; kh < 4 * G; ++kh) rp[kh] = (kh < r.nrows && r.rows[kh]) ? r.rows[kh] + c0 : nullptr;
  //    Built per strip of output pixels (below), so the quads are still in L1 when read.
  auto build = [&](int cb, int ce) {
    for (int ci = cb; ci < ce; ++ci) {
      __m512i* q = reinterpret_cast<__m512i*>(Q + (ci - cb) * col_bytes);
      for (int g = 0; g < G; ++g) {
        __m512i rr[4];
        for (int k = 0; k < 4; ++k) {
          const int kh = 4 * g + k;
          rr[k] = _mm512_setzero_si512();
          for (int f = 0; f < kFold; ++f) {  // group f reads column ci + f * S * sw
            const int iw = ci + f * S * sw - pl;
            const bool col_in = iw >= 0 && iw < W;
            const size_t xoff = static_cast<size_t>(iw) * C;
            const uint8_t* src;
            if (local_rows)
              src = (col_in && rp[kh]) ? rp[kh] + xoff : zr;
            else
              src = (kh < r.nrows && col_in && r.rows[kh]) ? r.rows[kh] + xoff + c0 : zr;
            // bytes [f * gb, f * gb + n) of the vector from src[0, n): a masked load from an
            // address f * gb before src (masked-off bytes are not accessed)
            rr[k] = _mm512_mask_loadu_epi8(rr[k], mn << (f * gb),
                                           reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(src) - f * gb));
          }
          if (s8) rr[k] = _mm512_xor_si512(rr[k], flip);
        }
        const __m512i t0 = _mm512_unpacklo_epi8(rr[0], rr[1]), t1 = _mm512_unpackhi_epi8(rr[0], rr[1]);
        const __m512i t2 = _mm512_unpacklo_epi8(rr[2], rr[3]), t3 = _mm512_unpackhi_epi8(rr[2], rr[3]);
        _mm512_store_si512(q + 4 * g + 0, _mm512_unpacklo_epi16(t0, t2));
        _mm512_store_si512(q + 4 * g + 1, _mm512_unpackhi_epi16(t0, t2));
        _mm512_store_si512(q + 4 * g + 2, _mm512_unpacklo_epi16(t1, t3));
        _mm512_store_si512(q + 4 * g + 3, _mm512_unpackhi_epi16(t1, t3));
      }
    }
  };
  // 2. per-channel terms in accumulator order
  __m512i ct[4], ws[4], mu[4], sh[4];
  __m512 sc[4];
  load_perm_fold<kFold>(ep.col_term, c0, n, ct);
  if (s8) {  // the +128 input shift: subtract 128 * sum w'
    load_perm_fold<kFold>(p.wsum.data(), c0, n, ws);
    for (int k = 0; k < 4; ++k) ct[k] = _mm512_sub_epi32(ct[k], _mm512_slli_epi32(ws[k], 7));
  }
  if (!s32) {
    if (ep.rounding == Rounding::HalfEven) {
      __m512i t[4];
      load_perm_fold<kFold>(reinterpret_cast<const int32_t*>(ep.scale), c0, n, t);
      for (int k = 0; k < 4; ++k) {
        sc[k] = _mm512_castsi512_ps(t[k]);
        mu[k] = sh[k] = _mm512_setzero_si512();
      }
    } else {
      load_perm_fold<kFold>(ep.mult, c0, n, mu);
      load_perm_fold<kFold>(ep.shift, c0, n, sh);
      for (int k = 0; k < 4; ++k) sc[k] = _mm512_setzero_ps();
    }
  }
  const __m512i* wb = reinterpret_cast<const __m512i*>(p.wq.data() + wb_index * wblock);
  const __m512i* wb2 = kPair ? reinterpret_cast<const __m512i*>(p.wq2.data() + wb_index * wblock) : nullptr;
  // 3. output pixels (3x3: the 12 weight vectors stay in registers across the row)
  constexpr int kHoist = (kKH > 0 && kKH <= 4 && kKW > 0 && kKW <= 3) ? kKW * 4 : 1;
  __m512i wr[kHoist];
  if (kHoist > 1)
    for (int i = 0; i < kHoist; ++i) wr[i] = _mm512_loadu_si512(wb + i);
  constexpr int kStrip = 16;  // output pixels per strip of quads
  for (int ow0 = 0; ow0 < S; ow0 += kStrip) {
    const int ow1 = ow0 + kStrip < S ? ow0 + kStrip : S;
    const int cb = ow0 * sw;
    build(cb, (ow1 - 1) * sw + (KW - 1) * dw + 1);
    for (int ow = ow0; ow < ow1; ++ow) {
      __m512i a0 = ct[0], a1 = ct[1], a2 = ct[2], a3 = ct[3];
      __m512i b0 = ct[0], b1 = ct[1], b2 = ct[2], b3 = ct[3];
      if (kHoist > 1) {
        for (int kw = 0; kw < kKW; ++kw) {
          const __m512i* q = reinterpret_cast<const __m512i*>(Q + (ow * sw + kw * dw - cb) * col_bytes);
          const __m512i q0 = _mm512_load_si512(q + 0), q1 = _mm512_load_si512(q + 1);
          const __m512i q2 = _mm512_load_si512(q + 2), q3 = _mm512_load_si512(q + 3);
          a0 = _mm512_dpbusd_epi32(a0, q0, wr[kw * 4 + 0]);
          a1 = _mm512_dpbusd_epi32(a1, q1, wr[kw * 4 + 1]);
          a2 = _mm512_dpbusd_epi32(a2, q2, wr[kw * 4 + 2]);
          a3 = _mm512_dpbusd_epi32(a3, q3, wr[kw * 4 + 3]);
          if (kPair) {
            const __m512i* w2 = wb2 + kw * 4;
            b0 = _mm512_dpbusd_epi32(b0, q0, _mm512_loadu_si512(w2 + 0));
            b1 = _mm512_dpbusd_epi32(b1, q1, _mm512_loadu_si512(w2 + 1));
            b2 = _mm512_dpbusd_epi32(b2, q2, _mm512_loadu_si512(w2 + 2));
            b3 = _mm512_dpbusd_epi32(b3, q3, _mm512_loadu_si512(w2 + 3));
          }
        }
      } else {
        for (int g = 0; g < G; ++g) {
          for (int kw = 0; kw < KW; ++kw) {
            const __m512i* q = reinterpret_cast<const __m512i*>(Q + (ow * sw + kw * dw - cb) * col_bytes) + 4 * g;
            const __m512i* w = wb + (g * KW + kw) * 4;
            a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512(q + 0), _mm512_loadu_si512(w + 0));
            a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512(q + 1), _mm512_loadu_si512(w + 1));
            a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512(q + 2), _mm512_loadu_si512(w + 2));
            a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512(q + 3), _mm512_loadu_si512(w + 3));
          }
        }
      }
      // Stores group f's bytes (or int32 lanes) to output pixel ow + f * S of the row.
      auto emit = [&](__m512i a0, __m512i a1, __m512i a2, __m512i a3, void* yrow) {
        if (s32) {
          transpose_lanes(a0, a1, a2, a3);
          const __m512i a[4] = {a0, a1, a2, a3};
          constexpr int lpg = 4 / kFold;  // 16-lane groups per fold group
          for (int L = 0; L < 4; ++L) {
            const int px = ow + (L / lpg) * S, rem = n - 16 * (L % lpg);
            if (rem <= 0 || px >= OW) continue;
            int32_t* yp = static_cast<int32_t*>(yrow) + static_cast<size_t>(px) * C + c0 + 16 * (L % lpg);
            _mm512_mask_storeu_epi32(yp, rem >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << rem) - 1), a[L]);
          }
          return;
        }
        __m512i b;
        if (fast_half_even) {
          // |acc * scale| < 2^30: round first, then let the saturating packs and a byte clamp do
          // the clamping (round and clamp to integer bounds commute; saturation is monotonic).
          a0 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a0), sc[0]), kRne), zpv);
          a1 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a1), sc[1]), kRne), zpv);
          a2 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a2), sc[2]), kRne), zpv);
          a3 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a3), sc[3]), kRne), zpv);
          const __m512i p01 = _mm512_packs_epi32(a0, a1), p23 = _mm512_packs_epi32(a2, a3);
          if (ep.out_type == DType::U8)
            b = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(p01, p23), qmin8), qmax8);
          else
            b = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(p01, p23), qmin8), qmax8);
        } else {
          a0 = dw512::requant16_v(a0, sc[0], mu[0], sh[0], ep);
          a1 = dw512::requant16_v(a1, sc[1], mu[1], sh[1], ep);
          a2 = dw512::requant16_v(a2, sc[2], mu[2], sh[2], ep);
          a3 = dw512::requant16_v(a3, sc[3], mu[3], sh[3], ep);
          // values are in [qmin, qmax]: the saturating packs are exact and restore channel order
          const __m512i p01 = _mm512_packs_epi32(a0, a1), p23 = _mm512_packs_epi32(a2, a3);
          b = ep.out_type == DType::U8 ? _mm512_packus_epi16(p01, p23) : _mm512_packs_epi16(p01, p23);
        }
        for (int f = 0; f < kFold; ++f) {
          const int px = ow + f * S;
          if (px >= OW) break;
          const uintptr_t dst = reinterpret_cast<uintptr_t>(static_cast<uint8_t*>(yrow) + static_cast<size_t>(px) * C + c0);
          _mm512_mask_storeu_epi8(reinterpret_cast<void*>(dst - f * gb), mn << (f * gb), b);
        }
      };
      emit(a0, a1, a2, a3, r.y);
      if (kPair && r.y2) emit(b0, b1, b2, b3, r.y2);
    }
  }
}

// Full blocks of 64 channels (row_block's kFold == 1 case written out: the generic version was
// measurably slower); see row_block for kPair.
template <int kKH, int kKW, bool kPair>
void run_row_t(const DwPacked& p, const DwRowArgs& r, const DwEpilogue& ep) {
  const int KH = kKH > 0 ? kKH : p.KH, KW = kKW > 0 ? kKW : p.KW;
  const int G = (KH + 3) / 4;
  const int C = p.C, W = r.W, OW = r.OW, sw = r.sw, dw = r.dw, pl = r.pl;
  const int ncol = (OW - 1) * sw + (KW - 1) * dw + 1;
  const bool s8 = r.x_type == DType::S8;
  const __m512i flip = _mm512_set1_epi8(s8 ? static_cast<char>(0x80) : 0);
  const size_t col_bytes = static_cast<size_t>(G) * 4 * 64;
  uint8_t* Q = t_row.get(static_cast<size_t>(ncol) * col_bytes);
  const int8_t* wq = p.wq.data();
  const size_t wblock = static_cast<size_t>(G) * KW * 4 * 64;
  const bool s32 = ep.out_type == DType::S32;
  const bool fast_half_even = !s32 && ep.rounding == Rounding::HalfEven && ep.scale_below_half;
  constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512i zpv = _mm512_set1_epi32(ep.zp);
  const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(ep.qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(ep.qmax));
  const int c_end = r.c_end < 0 || r.c_end > C ? C : r.c_end;
  for (int c0 = r.c_begin; c0 < c_end; c0 += kCb) {
    const int n = c_end - c0 < kCb ? c_end - c0 : kCb;
    if (n < kCb && c_end == C && p.fold > 1) {  // the last block, folded
      if (p.fold == 4)
        row_block<kKH, kKW, kPair, 4>(p, r, ep, c0, n);
      else
        row_block<kKH, kKW, kPair, 2>(p, r, ep, c0, n);
      continue;
    }
    const __mmask64 m = n == kCb ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);
    // 1. quads for every input column this row reads. The row pointers live in a local array
    //    (the stores to Q are byte stores: through r they would force a reload per load).
    constexpr int kMaxG = 4;
    const uint8_t* rp[4 * kMaxG];
    const bool local_rows = G <= kMaxG;
    const uint8_t* const zr = r.zrow + c0;
    if (local_rows)
      for (int kh = 0; kh < 4 * G; ++kh) rp[kh] = (kh < r.nrows && r.rows[kh]) ? r.rows[kh] + c0 : nullptr;
    //    Built per strip of output pixels (below), so the quads are still in L1 when read.
    auto build = [&](int cb, int ce) {
    for (int ci = cb; ci < ce; ++ci) {
      const int iw = ci - pl;
      const bool col_in = iw >= 0 && iw < W;
      const size_t xoff = static_cast<size_t>(iw) * C;
      __m512i* q = reinterpret_cast<__m512i*>(Q + (ci - cb) * col_bytes);
      for (int g = 0; g < G; ++g) {
        __m512i rr[4];
        for (int k = 0; k < 4; ++k) {
          const int kh = 4 * g + k;
          const uint8_t* src;
          if (local_rows)
            src = (col_in && rp[kh]) ? rp[kh] + xoff : zr;
          else
            src = (kh < r.nrows && col_in && r.rows[kh]) ? r.rows[kh] + xoff + c0 : zr;
          rr[k] = _mm512_maskz_loadu_epi8(m, src);
          if (s8) rr[k] = _mm512_xor_si512(rr[k], flip);
        }
        const __m512i t0 = _mm512_unpacklo_epi8(rr[0], rr[1]), t1 = _mm512_unpackhi_epi8(rr[0], rr[1]);
        const __m512i t2 = _mm512_unpacklo_epi8(rr[2], rr[3]), t3 = _mm512_unpackhi_epi8(rr[2], rr[3]);
        _mm512_store_si512(q + 4 * g + 0, _mm512_unpacklo_epi16(t0, t2));
        _mm512_store_si512(q + 4 * g + 1, _mm512_unpackhi_epi16(t0, t2));
        _mm512_store_si512(q + 4 * g + 2, _mm512_unpacklo_epi16(t1, t3));
        _mm512_store_si512(q + 4 * g + 3, _mm512_unpackhi_epi16(t1, t3));
      }
    }
    };
    // 2. per-channel terms in accumulator order
    __m512i ct[4], ws[4], mu[4], sh[4];
    __m512 sc[4];
    load_perm(ep.col_term + c0, n, ct);
    if (s8) {  // the +128 input shift: subtract 128 * sum w'
      load_perm(p.wsum.data() + c0, n, ws);
      for (int k = 0; k < 4; ++k) ct[k] = _mm512_sub_epi32(ct[k], _mm512_slli_epi32(ws[k], 7));
    }
    if (!s32) {
      if (ep.rounding == Rounding::HalfEven) {
        __m512i t[4];
        load_perm(reinterpret_cast<const int32_t*>(ep.scale + c0), n, t);
        for (int k = 0; k < 4; ++k) {
          sc[k] = _mm512_castsi512_ps(t[k]);
          mu[k] = sh[k] = _mm512_setzero_si512();
        }
      } else {
        load_perm(ep.mult + c0, n, mu);
        load_perm(ep.shift + c0, n, sh);
        for (int k = 0; k < 4; ++k) sc[k] = _mm512_setzero_ps();
      }
    }
    const __m512i* wb = reinterpret_cast<const __m512i*>(wq + (c0 / kCb) * wblock);
    const __m512i* wb2 = kPair ? reinterpret_cast<const __m512i*>(p.wq2.data() + (c0 / kCb) * wblock) : nullptr;
    // 3. output pixels (3x3: the 12 weight vectors stay in registers across the row)
    constexpr int kHoist = (kKH > 0 && kKH <= 4 && kKW > 0 && kKW <= 3) ? kKW * 4 : 1;
    __m512i wr[kHoist];
    if (kHoist > 1)
      for (int i = 0; i < kHoist; ++i) wr[i] = _mm512_loadu_si512(wb + i);
    constexpr int kStrip = 16;  // output pixels per strip of quads
    for (int ow0 = 0; ow0 < OW; ow0 += kStrip) {
    const int ow1 = ow0 + kStrip < OW ? ow0 + kStrip : OW;
    const int cb = ow0 * sw;
    build(cb, (ow1 - 1) * sw + (KW - 1) * dw + 1);
    for (int ow = ow0; ow < ow1; ++ow) {
      __m512i a0 = ct[0], a1 = ct[1], a2 = ct[2], a3 = ct[3];
      __m512i b0 = ct[0], b1 = ct[1], b2 = ct[2], b3 = ct[3];
      if (kHoist > 1) {
        for (int kw = 0; kw < kKW; ++kw) {
          const __m512i* q = reinterpret_cast<const __m512i*>(Q + (ow * sw + kw * dw - cb) * col_bytes);
          const __m512i q0 = _mm512_load_si512(q + 0), q1 = _mm512_load_si512(q + 1);
          const __m512i q2 = _mm512_load_si512(q + 2), q3 = _mm512_load_si512(q + 3);
          a0 = _mm512_dpbusd_epi32(a0, q0, wr[kw * 4 + 0]);
          a1 = _mm512_dpbusd_epi32(a1, q1, wr[kw * 4 + 1]);
          a2 = _mm512_dpbusd_epi32(a2, q2, wr[kw * 4 + 2]);
          a3 = _mm512_dpbusd_epi32(a3, q3, wr[kw * 4 + 3]);
          if (kPair) {
            const __m512i* w2 = wb2 + kw * 4;
            b0 = _mm512_dpbusd_epi32(b0, q0, _mm512_loadu_si512(w2 + 0));
            b1 = _mm512_dpbusd_epi32(b1, q1, _mm512_loadu_si512(w2 + 1));
            b2 = _mm512_dpbusd_epi32(b2, q2, _mm512_loadu_si512(w2 + 2));
            b3 = _mm512_dpbusd_epi32(b3, q3, _mm512_loadu_si512(w2 + 3));
          }
        }
      } else {
        for (int g = 0; g < G; ++g) {
          for (int kw = 0; kw < KW; ++kw) {
            const __m512i* q = reinterpret_cast<const __m512i*>(Q + (ow * sw + kw * dw - cb) * col_bytes) + 4 * g;
            const __m512i* w = wb + (g * KW + kw) * 4;
            a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512(q + 0), _mm512_loadu_si512(w + 0));
            a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512(q + 1), _mm512_loadu_si512(w + 1));
            a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512(q + 2), _mm512_loadu_si512(w + 2));
            a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512(q + 3), _mm512_loadu_si512(w + 3));
          }
        }
      }
      auto emit = [&](__m512i a0, __m512i a1, __m512i a2, __m512i a3, void* yrow) {
        if (s32) {
          transpose_lanes(a0, a1, a2, a3);
          int32_t* yp = static_cast<int32_t*>(yrow) + static_cast<size_t>(ow) * C + c0;
          const __m512i a[4] = {a0, a1, a2, a3};
          for (int L = 0; L < 4; ++L) {
            const int rem = n - 16 * L;
            if (rem <= 0) break;
            _mm512_mask_storeu_epi32(yp + 16 * L, rem >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << rem) - 1), a[L]);
          }
          return;
        }
        if (fast_half_even) {
          // |acc * scale| < 2^30: round first, then let the saturating packs and a byte clamp do
          // the clamping (round and clamp to integer bounds commute; saturation is monotonic).
          a0 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a0), sc[0]), kRne), zpv);
          a1 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a1), sc[1]), kRne), zpv);
          a2 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a2), sc[2]), kRne), zpv);
          a3 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a3), sc[3]), kRne), zpv);
          const __m512i p01 = _mm512_packs_epi32(a0, a1), p23 = _mm512_packs_epi32(a2, a3);
          __m512i b;
          if (ep.out_type == DType::U8)
            b = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(p01, p23), qmin8), qmax8);
          else
            b = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(p01, p23), qmin8), qmax8);
          _mm512_mask_storeu_epi8(static_cast<uint8_t*>(yrow) + static_cast<size_t>(ow) * C + c0, m, b);
          return;
        }
        a0 = dw512::requant16_v(a0, sc[0], mu[0], sh[0], ep);
        a1 = dw512::requant16_v(a1, sc[1], mu[1], sh[1], ep);
        a2 = dw512::requant16_v(a2, sc[2], mu[2], sh[2], ep);
        a3 = dw512::requant16_v(a3, sc[3], mu[3], sh[3], ep);
        // values are in [qmin, qmax]: the saturating packs are exact and restore channel order
        const __m512i p01 = _mm512_packs_epi32(a0, a1), p23 = _mm512_packs_epi32(a2, a3);
        const __m512i b = ep.out_type == DType::U8 ? _mm512_packus_epi16(p01, p23) : _mm512_packs_epi16(p01, p23);
        _mm512_mask_storeu_epi8(static_cast<uint8_t*>(yrow) + static_cast<size_t>(ow) * C + c0, m, b);
      };
      emit(a0, a1, a2, a3, r.y);
      if (kPair && r.y2) emit(b0, b1, b2, b3, r.y2);
    }
    }
  }
}

void run_row(const DwPacked& p, const DwRowArgs& r, const DwEpilogue& ep) {
  if (p.KH == 3 && p.KW == 3) {
    if (r.nrows == 4) return run_row_t<3, 3, true>(p, r, ep);
    return run_row_t<3, 3, false>(p, r, ep);
  }
  if (p.KH == 5 && p.KW == 5) return run_row_t<5, 5, false>(p, r, ep);
  return run_row_t<0, 0, false>(p, r, ep);
}

void pack(DwPacked& p) {
  dw_pack_avx512(p);  // fallback packing (vpmaddwd kernel)
  p.row_ok = false;
  p.pair_ok = false;
  p.fold = 1;
  p.wq.clear();
  p.wq2.clear();
  for (int16_t v : p.wn)
    if (v < -128 || v > 127) return;  // w - zw does not fit int8: use the fallback
  if (p.KH < 1 || p.KW < 1 || p.KH * p.KW != p.taps) return;
  const int G = (p.KH + 3) / 4;
  const int blocks = static_cast<int>(ceil_div(p.C, kCb));
  // A last block of <= 32 (<= 16) channels runs folded (row_block): its weights are packed once
  // more after the blocks, the lanes of each group repeating the first group's channels.
  const int tail = p.C % kCb;
  p.fold = tail == 0 ? 1 : (tail <= 16 ? 4 : (tail <= 32 ? 2 : 1));
  const int packed = blocks + (p.fold > 1 ? 1 : 0);
  const int lpg = 4 / p.fold;  // 16-lane groups of the folded block that hold distinct channels
  // Channel of lane L, dword-byte j, quad k of packed block b (-1: none).
  auto channel = [&](int b, int L, int k, int j) {
    const int c = b < blocks ? b * kCb + 16 * L + 4 * k + j : (blocks - 1) * kCb + 16 * (L % lpg) + 4 * k + j;
    return c < p.C ? c : -1;
  };
  p.wq.assign(static_cast<size_t>(packed) * G * p.KW * 4 * 64, 0);
  int8_t* d = p.wq.data();
  for (int b = 0; b < packed; ++b)
    for (int g = 0; g < G; ++g)
      for (int kw = 0; kw < p.KW; ++kw)
        for (int k = 0; k < 4; ++k)
          for (int i = 0; i < 16; ++i)
            for (int rr = 0; rr < 4; ++rr) {
              const int c = channel(b, i / 4, k, i % 4);
              const int kh = 4 * g + rr;
              *d++ = (c >= 0 && kh < p.KH) ? static_cast<int8_t>(p.wn[static_cast<size_t>(kh * p.KW + kw) * p.C + c]) : 0;
            }
  p.row_ok = true;
  if (p.KH == 3 && p.KW == 3) {  // pair packing: byte rr holds kernel row rr - 1
    p.wq2.assign(p.wq.size(), 0);
    int8_t* e = p.wq2.data();
    for (int b = 0; b < packed; ++b)
      for (int kw = 0; kw < 3; ++kw)
        for (int k = 0; k < 4; ++k)
          for (int i = 0; i < 16; ++i)
            for (int rr = 0; rr < 4; ++rr) {
              const int c = channel(b, i / 4, k, i % 4);
              const int kh = rr - 1;
              *e++ = (c >= 0 && kh >= 0) ? static_cast<int8_t>(p.wn[static_cast<size_t>(kh * 3 + kw) * p.C + c]) : 0;
            }
    p.pair_ok = true;
  }
}

}  // namespace

extern const DwKernel kDwAvx512Vnni = {"avx512vnni", cpu::has_avx512vnni, pack, dw_run_avx512, 30, run_row};

}  // namespace lowp
