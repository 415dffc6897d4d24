// Shared by the row-ring depthwise kernels with onnxruntime's float32 results (ort_float_depthwise_avx512.cc,
// ort_float_depthwise_avx2.cc; include only from such *_avx2 / *_avx512 files): the ring of dequantized input
// rows, and MlasSgemmKernelM1Avx's chain over the taps for a few output pixels, generic over the lane vector V.
//
// Everything here has internal linkage (an unnamed namespace): each ISA file compiles its own copy with its own
// flags, so the linker can never hand the AVX2 file a copy built with AVX-512 instructions.
//
// V provides: using reg (the lane vector of floats); static reg zero(); static reg add(reg, reg); static reg
// mul(reg, reg).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/ort_float_conv.h"

namespace lowp {
namespace ops {
namespace {

// The input rows of one channel slice of one image, dequantized on demand into a ring of (KH - 1) dh + 1 row slots
// of Wp x Cp floats (Cp: the slice's channels rounded up to whole vectors), and a zero row for the padding rows.
// The storage is one thread_local buffer per ISA file, 64-byte aligned, with `slack` floats after the zero row.
class DwRowRing {
 public:
  DwRowRing(const OrtFloatConv& p, int Cp, size_t slack) : p_(p) {
    span_ = (p.KH - 1) * p.dh + 1;
    row_ = static_cast<size_t>(p.W + p.pl + p.pr) * Cp;
    thread_local std::vector<float> storage;
    const size_t need = (static_cast<size_t>(span_) + 1) * row_ + 16 + slack;
    if (storage.size() < need) storage.resize(need);
    ring_ = storage.data() + ((64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64) / sizeof(float);
    zero_ = ring_ + static_cast<size_t>(span_) * row_;
    std::memset(zero_, 0, sizeof(float) * row_);
    tags_ = tag_;
    if (span_ > kTags) {
      tagv_.resize(span_);
      tags_ = tagv_.data();
    }
    for (int s = 0; s < span_; ++s) tags_[s] = -1;
    for (int k = 0; k < p.KH * p.KW; ++k) coff_[k] = static_cast<int64_t>(k % p.KW) * p.dw * Cp;
  }
  // rp[k] (k < KH * KW <= 64): tap k's input row for output row oh, at its kw offset. fill(ih, dst) dequantizes
  // input row ih into a slot (Wp x Cp floats), once while the row stays in the ring.
  template <typename Fill>
  void rows_for(int oh, Fill fill, const float** rp) {
    for (int kh = 0; kh < p_.KH; ++kh) {
      const int ih = oh * p_.sh - p_.pt + kh * p_.dh;
      const float* r = zero_;
      if (ih >= 0 && ih < p_.H) {
        const int s = ih % span_;
        float* slot = ring_ + static_cast<size_t>(s) * row_;
        if (tags_[s] != ih) {
          fill(ih, slot);
          tags_[s] = ih;
        }
        r = slot;
      }
      for (int kw = 0; kw < p_.KW; ++kw) rp[kh * p_.KW + kw] = r + coff_[kh * p_.KW + kw];
    }
  }

 private:
  const OrtFloatConv& p_;
  int span_;
  size_t row_;
  float *ring_, *zero_;
  static constexpr int kTags = 65;
  int tag_[kTags];  // input row held by each slot (span <= taps <= 64 rows when dh == 1; else tagv_)
  std::vector<int> tagv_;
  int* tags_;
  int64_t coff_[64];
};

// acc[i] (i < NP): the M1 chain of output pixel i's lane vector over the taps: per K chunk of stride_k taps, groups
// of four products (multiply, then add: no FMA) summed left to right and added to the running sum, then a pair,
// then a single product. Tap k's product for pixel i: mul(w(k), x(k, i)) (w(k): the tap's weights, loaded once for
// the NP pixels).
template <class V, int NP, typename WFn, typename XFn>
inline void dw_m1_chain(int taps, int stride_k, WFn w, XFn x, typename V::reg (&acc)[NP]) {
  using R = typename V::reg;
  for (int i = 0; i < NP; ++i) acc[i] = V::zero();
  for (int k0 = 0; k0 < taps; k0 += stride_k) {
    const int k1 = std::min(taps, k0 + stride_k);
    int k = k0;
    for (; k + 4 <= k1; k += 4) {
      const R w0 = w(k), w1 = w(k + 1), w2 = w(k + 2), w3 = w(k + 3);
      for (int i = 0; i < NP; ++i) {
        R t = V::add(V::mul(w0, x(k, i)), V::mul(w1, x(k + 1, i)));
        t = V::add(t, V::mul(w2, x(k + 2, i)));
        t = V::add(t, V::mul(w3, x(k + 3, i)));
        acc[i] = k == 0 ? t : V::add(t, acc[i]);  // 0 + t = t (up to the sign of a zero)
      }
    }
    if (k1 - k >= 2) {
      const R w0 = w(k), w1 = w(k + 1);
      for (int i = 0; i < NP; ++i) acc[i] = V::add(V::add(V::mul(w0, x(k, i)), V::mul(w1, x(k + 1, i))), acc[i]);
      k += 2;
    }
    if (k < k1) {
      const R w0 = w(k);
      for (int i = 0; i < NP; ++i) acc[i] = V::add(V::mul(w0, x(k, i)), acc[i]);
    }
  }
}

// Channels [cb, ce) (ce clamped to C) in slices of a multiple of `lanes` channels small enough that a slice's ring
// (span rows) stays in the L1 cache (~24 KB): every input cache line then comes from L2 once per slice, not once per
// output row (a 112 x 112 x 32 layer's 3-row ring is 44 KB: 1.5x slower as one slice). slice(s0, s1) runs one.
template <typename Slice>
inline void dw_slices(const OrtFloatConv& p, int cb, int ce, int lanes, Slice slice) {
  ce = std::min(ce, p.C);
  const int64_t span = (p.KH - 1) * static_cast<int64_t>(p.dh) + 1, Wp = p.W + p.pl + p.pr;
  const int64_t fit = (24 * 1024) / (4 * span * Wp);  // floats per pixel that fit
  const int width = static_cast<int>(std::max<int64_t>(lanes, fit / lanes * lanes));
  for (int s0 = cb; s0 < ce; s0 += width) slice(s0, std::min(ce, s0 + width));
}

}  // namespace
}  // namespace ops
}  // namespace lowp
