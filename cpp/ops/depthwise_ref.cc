// Scalar reference depthwise kernel and the scalar helpers the SIMD kernels share.
#include "ops/depthwise.h"
#include "requant/requant.h"

namespace lowp {

void dw_store_ref(const int32_t* acc, int c0, int n, const DwEpilogue& ep, void* y) {
  for (int i = 0; i < n; ++i) {
    const int c = c0 + i;
    const int32_t a = acc[i];
    if (ep.out_type == DType::S32) {
      static_cast<int32_t*>(y)[c] = a;
      continue;
    }
    const int32_t q = ep.rounding == Rounding::HalfEven
                          ? requant::requant_half_even(a, ep.scale[c], ep.zp, ep.qmin, ep.qmax)
                          : requant::requantize_one(a, ep.rounding, ep.mult[c], ep.shift[c], 0.f, ep.zp, ep.qmin, ep.qmax);
    static_cast<uint8_t*>(y)[c] = static_cast<uint8_t>(q);  // two's complement store is right for int8
  }
}

void dw_pixel_ref(const DwPacked& p, const void* const* ind, int c0, int c1, DType x_type, void* y,
                  const DwEpilogue& ep) {
  int32_t acc[64];
  for (int cb = c0; cb < c1; cb += 64) {
    const int n = c1 - cb < 64 ? c1 - cb : 64;
    for (int i = 0; i < n; ++i) acc[i] = ep.col_term[cb + i];
    for (int t = 0; t < p.taps; ++t) {
      const int16_t* w = p.wn.data() + static_cast<size_t>(t) * p.C + cb;
      if (x_type == DType::U8) {
        const uint8_t* x = static_cast<const uint8_t*>(ind[t]) + cb;
        for (int i = 0; i < n; ++i)
          acc[i] = static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(int32_t{x[i]} * w[i]));
      } else {
        const int8_t* x = static_cast<const int8_t*>(ind[t]) + cb;
        for (int i = 0; i < n; ++i)
          acc[i] = static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(int32_t{x[i]} * w[i]));
      }
    }
    dw_store_ref(acc, cb, n, ep, y);
  }
}

void dw_pack_pairs(DwPacked& p, int cb) {
  const int blocks = static_cast<int>(ceil_div(p.C, cb));
  const int pairs = (p.taps + 1) / 2;
  p.wp.assign(static_cast<size_t>(blocks) * pairs * 2 * cb, 0);
  int16_t* d = p.wp.data();
  for (int b = 0; b < blocks; ++b) {
    const int c0 = b * cb;
    for (int pr = 0; pr < pairs; ++pr) {
      const int t0 = 2 * pr, t1 = 2 * pr + 1;
      auto w = [&](int t, int c) -> int16_t {
        if (t >= p.taps || c >= p.C) return 0;
        return p.wn[static_cast<size_t>(t) * p.C + c];
      };
      // unpacklo: lane L holds (a[8L+j], b[8L+j]) for j = 0..3; unpackhi for j = 4..7.
      for (int half = 0; half < 2; ++half) {
        for (int L = 0; L < cb / 8; ++L) {
          for (int j = 0; j < 4; ++j) {
            const int c = c0 + 8 * L + 4 * half + j;
            d[L * 8 + 2 * j] = w(t0, c);
            d[L * 8 + 2 * j + 1] = w(t1, c);
          }
        }
        d += cb;
      }
    }
  }
}

namespace {
bool always() { return true; }
void pack_none(DwPacked& p) { p.wp.clear(); }
void run_ref(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
             const DwEpilogue& ep) {
  const size_t osz = ep.out_type == DType::S32 ? 4 : 1;
  for (int px = 0; px < pixels; ++px)
    dw_pixel_ref(p, ind + static_cast<size_t>(px) * p.taps, 0, p.C, x_type,
                 static_cast<uint8_t*>(y) + static_cast<size_t>(px) * y_stride * osz, ep);
}
}  // namespace

extern const DwKernel kDwRef = {"ref", always, pack_none, run_ref, 0};

}  // namespace lowp
