// im2col for NHWC: each tap copies a contiguous run of Cg channels; rows of padding are memset
// to the input zero point. Runs of taps along kw with dilation 1 are contiguous in the input and
// are copied as one run: runs of at most 32 bytes (3-channel stems) as one or two 16-byte blocks,
// longer ones (KW * Cin = 48..576 for 16..192 channels) as inline 32-byte blocks, the last one
// overlapping (a libc memcpy call per 48-byte run cost more than the copy: ~30 % of ResNet-8).
#include "ops/im2col.h"

#include <algorithm>
#include <cstring>

namespace lowp {

namespace {
// n >= 32 bytes as 32-byte blocks, the last one ending at n (it may overlap the previous one); reads
// and writes stay inside [0, n) of both buffers.
inline void copy_long(uint8_t* d, const uint8_t* s, size_t n) {
  size_t i = 0;
  for (; i + 32 < n; i += 32) std::memcpy(d + i, s + i, 32);
  std::memcpy(d + n - 32, s + n - 32, 32);
}

// Copies of a few bytes (e.g. KW*Cg = 9 or 21 for 3-channel stems) are dominated by the memcpy
// call; two overlapping fixed-size copies stay inside [0, n) of both buffers.
inline void copy_bytes(uint8_t* d, const uint8_t* s, size_t n) {
  if (n > 32) {
    copy_long(d, s, n);
  } else if (n >= 16) {
    std::memcpy(d, s, 16);
    std::memcpy(d + n - 16, s + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(d, s, 8);
    std::memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(d, s, 4);
    std::memcpy(d + n - 4, s + n - 4, 4);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  }
}
}  // namespace

void im2col_nhwc(const uint8_t* x, const ConvGeometry& g, int Cin, int c0, int Cg, int KH, int KW, uint8_t zx,
                 int64_t m0, int64_t mc, uint8_t* dst, int64_t ld) {
  const int OH = g.OH(), OW = g.OW();
  const bool contiguous_kw = g.dw == 1 && Cg == Cin;  // whole kw run is one contiguous block
  const size_t run = static_cast<size_t>(KW) * Cg;     // bytes of one kh row of a patch
  // Short runs (3-channel stems: 9, 15 or 21 bytes) are copied as whole 16/32-byte blocks: the
  // extra bytes land in the part of the row (or the next row, at most ld bytes on) that is
  // written right after, so this is only done when the block stays inside the input and is not
  // the call's last patch (callers may split rows between threads).
  const size_t blk = run <= 16 ? 16 : 32;
  const bool blocks_ok = contiguous_kw && run <= 32 && static_cast<int64_t>(blk - run) <= ld;
  const bool long_runs = contiguous_kw && run > 32;  // exact-length copies: no overshoot
  const uint8_t* const x_end = x + static_cast<int64_t>(g.N) * g.H * g.W * Cin;
  constexpr int kMaxRows = 16;
  const uint8_t* rowp[kMaxRows];
  const bool hoisted = KH <= kMaxRows;
  int64_t n = m0 / (static_cast<int64_t>(OH) * OW);
  const int rem0 = static_cast<int>(m0 - n * OH * OW);
  int oh = rem0 / OW, ow = rem0 % OW;
  const int64_t m_end = m0 + mc;
  for (int64_t m = m0; m < m_end;) {
    // One segment: consecutive patches of output row (n, oh), from ow on.
    const int seg = static_cast<int>(std::min<int64_t>(OW - ow, m_end - m));
    const uint8_t* ximg = x + n * g.H * g.W * static_cast<int64_t>(Cin);
    if (hoisted)
      for (int kh = 0; kh < KH; ++kh) {
        const int ih = oh * g.sh - g.pt + kh * g.dh;
        rowp[kh] = (ih < 0 || ih >= g.H) ? nullptr : ximg + static_cast<int64_t>(ih) * g.W * Cin + c0;
      }
    // One patch through the general path (padding, partial kw runs, short copies).
    auto general = [&](int i, int64_t mm) {
      const int o = ow + i;
      uint8_t* d = dst + (mm - m0) * ld;
      const int iw0 = o * g.sw - g.pl;
      const bool interior = contiguous_kw && iw0 >= 0 && iw0 + KW <= g.W;
      const bool last = mm + 1 == m_end;
      for (int kh = 0; kh < KH; ++kh) {
        const uint8_t* xrow;
        if (hoisted) {
          xrow = rowp[kh];
        } else {
          const int ih = oh * g.sh - g.pt + kh * g.dh;
          xrow = (ih < 0 || ih >= g.H) ? nullptr : ximg + static_cast<int64_t>(ih) * g.W * Cin + c0;
        }
        if (!xrow) {
          std::memset(d, zx, run);
          d += run;
          continue;
        }
        if (interior) {
          const uint8_t* s = xrow + static_cast<int64_t>(iw0) * Cin;
          if (blocks_ok && !last && s + blk <= x_end) {
            std::memcpy(d, s, 16);
            if (blk == 32) std::memcpy(d + 16, s + 16, 16);
          } else {
            copy_bytes(d, s, run);
          }
          d += run;
          continue;
        }
        if (contiguous_kw) {
          // A border patch: taps [kw_lo, kw_hi) are inside the image and contiguous in the input;
          // the rest is padding. One fill and one copy instead of one call per tap.
          const int kw_lo = std::min(KW, std::max(0, -iw0)), kw_hi = std::max(kw_lo, std::min(KW, g.W - iw0));
          if (kw_lo > 0) std::memset(d, zx, static_cast<size_t>(kw_lo) * Cg);
          if (kw_hi > kw_lo)
            copy_bytes(d + static_cast<size_t>(kw_lo) * Cg, xrow + static_cast<int64_t>(iw0 + kw_lo) * Cin,
                       static_cast<size_t>(kw_hi - kw_lo) * Cg);
          if (kw_hi < KW) std::memset(d + static_cast<size_t>(kw_hi) * Cg, zx, static_cast<size_t>(KW - kw_hi) * Cg);
          d += run;
          continue;
        }
        for (int kw = 0; kw < KW; ++kw) {
          const int iw = iw0 + kw * g.dw;
          if (iw < 0 || iw >= g.W)
            std::memset(d, zx, Cg);
          else
            copy_bytes(d, xrow + static_cast<int64_t>(iw) * Cin, Cg);
          d += Cg;
        }
      }
    };
    // Fast stretch [i_lo, i_hi): every kh row inside the image, the patch inside along W; for short
    // runs also block reads inside the input and not the call's last patch.
    int i_lo = seg, i_hi = seg;
    if ((blocks_ok || long_runs) && hoisted) {
      bool rows_in = true;
      for (int kh = 0; kh < KH; ++kh) rows_in = rows_in && rowp[kh] != nullptr;
      if (rows_in) {
        // iw0 = (ow + i) * sw - pl >= 0  and  iw0 + KW <= W
        i_lo = std::min(seg, std::max(0, (g.pl + g.sw - 1) / g.sw - ow));
        const int o_max = g.W - KW + g.pl >= 0 ? (g.W - KW + g.pl) / g.sw : -1;  // last interior ow
        i_hi = std::min(seg, o_max - ow + 1);
        if (!long_runs) {  // the block copies overshoot the run: not for the call's last patch, inside x
          if (m + i_hi >= m_end) i_hi = static_cast<int>(m_end - m) - 1;
          while (i_hi > i_lo &&
                 rowp[KH - 1] + static_cast<int64_t>((ow + i_hi - 1) * g.sw - g.pl) * Cin + blk > x_end)
            --i_hi;
        }
        if (i_hi <= i_lo) i_lo = i_hi = seg;
      }
    }
    int i = 0;
    for (; i < i_lo; ++i, ++m) general(i, m);
    if (i < i_hi) {
      uint8_t* d = dst + (m - m0) * ld;
      for (; i < i_hi; ++i, ++m, d += ld) {
        const int64_t off = static_cast<int64_t>((ow + i) * g.sw - g.pl) * Cin;
        uint8_t* dd = d;
        for (int kh = 0; kh < KH; ++kh, dd += run) {
          const uint8_t* s0 = rowp[kh] + off;
          if (long_runs) {
            copy_long(dd, s0, run);
          } else {
            std::memcpy(dd, s0, 16);
            if (blk == 32) std::memcpy(dd + 16, s0 + 16, 16);
          }
        }
      }
    }
    for (; i < seg; ++i, ++m) general(i, m);
    ow += seg;
    if (ow == OW) {
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        ++n;
      }
    }
  }
}

}  // namespace lowp
