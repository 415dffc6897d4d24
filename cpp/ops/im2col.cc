// im2col for NHWC: each tap copies a contiguous run of Cg channels; rows of padding are memset
// to the input zero point. Runs of taps along kw with dilation 1 are contiguous in the input and
// are copied in one memcpy.
#include "ops/im2col.h"

#include <cstring>

namespace lowp {

void im2col_nhwc(const uint8_t* x, const ConvGeometry& g, int Cin, int c0, int Cg, int KH, int KW, uint8_t zx,
                 int64_t m0, int64_t mc, uint8_t* dst, int64_t ld) {
  const int OH = g.OH(), OW = g.OW();
  const bool contiguous_kw = g.dw == 1 && Cg == Cin;  // whole kw run is one contiguous block
  for (int64_t m = m0; m < m0 + mc; ++m) {
    const int64_t n = m / (static_cast<int64_t>(OH) * OW);
    const int rem = static_cast<int>(m - n * OH * OW);
    const int oh = rem / OW, ow = rem % OW;
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
        std::memcpy(d, xrow + static_cast<int64_t>(iw0) * Cin, static_cast<size_t>(KW) * Cg);
        d += static_cast<size_t>(KW) * Cg;
        continue;
      }
      for (int kw = 0; kw < KW; ++kw) {
        const int iw = iw0 + kw * g.dw;
        if (iw < 0 || iw >= g.W)
          std::memset(d, zx, Cg);
        else
          std::memcpy(d, xrow + static_cast<int64_t>(iw) * Cin, Cg);
        d += Cg;
      }
    }
  }
}

}  // namespace lowp
