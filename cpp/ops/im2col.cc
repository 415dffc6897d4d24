// im2col for NHWC: each tap copies a contiguous run of Cg channels; rows of padding are memset
// to the input zero point. Runs of taps along kw with dilation 1 are contiguous in the input and
// are copied in one memcpy.
#include "ops/im2col.h"

#include <cstring>

namespace lowp {

namespace {
// Copies of a few bytes (e.g. KW*Cg = 9 or 21 for 3-channel stems) are dominated by the memcpy
// call; two overlapping fixed-size copies stay inside [0, n) of both buffers.
inline void copy_bytes(uint8_t* d, const uint8_t* s, size_t n) {
  if (n > 32) {
    std::memcpy(d, s, n);
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
  int64_t n = m0 / (static_cast<int64_t>(OH) * OW);
  const int rem0 = static_cast<int>(m0 - n * OH * OW);
  int oh = rem0 / OW, ow = rem0 % OW - 1;
  for (int64_t m = m0; m < m0 + mc; ++m) {
    if (++ow == OW) {  // walk (n, oh, ow) without divisions
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        ++n;
      }
    }
    const uint8_t* ximg = x + n * g.H * g.W * static_cast<int64_t>(Cin);
    uint8_t* d = dst + (m - m0) * ld;
    for (int kh = 0; kh < KH; ++kh) {
      const int ih = oh * g.sh - g.pt + kh * g.dh;
      if (ih < 0 || ih >= g.H) {
        std::memset(d, zx, static_cast<size_t>(KW) * Cg);
        d += static_cast<size_t>(KW) * Cg;
        continue;
      }
      const uint8_t* xrow = ximg + static_cast<int64_t>(ih) * g.W * Cin + c0;
      const int iw0 = ow * g.sw - g.pl;
      if (contiguous_kw && iw0 >= 0 && iw0 + KW <= g.W) {
        copy_bytes(d, xrow + static_cast<int64_t>(iw0) * Cin, static_cast<size_t>(KW) * Cg);
        d += static_cast<size_t>(KW) * Cg;
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
  }
}

}  // namespace lowp
