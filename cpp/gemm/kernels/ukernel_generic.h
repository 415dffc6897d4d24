// Portable C++ microkernel, templated on the packed layout. The scalar reference ("ref")
// instantiates it, and each ISA file may instantiate it as a stand-in until it has intrinsics.
// Arithmetic is done in uint32 so that sums wrap modulo 2^32 exactly like the SIMD kernels.
#pragma once
#include "gemm/kernel.h"

namespace lowp {

template <typename TA, typename TB, int MR, int NR, int KR>
void ukernel_generic(const Tile& t, const Epilogue& ep) {
  uint32_t acc[MR][NR] = {};
  const TA* a = static_cast<const TA*>(t.a);
  const TB* b = static_cast<const TB*>(t.b);
  for (int g = 0; g < t.kgroups; ++g) {
    for (int r = 0; r < MR; ++r) {
      for (int c = 0; c < NR; ++c) {
        uint32_t s = 0;
        for (int kk = 0; kk < KR; ++kk)
          s += static_cast<uint32_t>(static_cast<int32_t>(a[r * KR + kk]) * static_cast<int32_t>(b[c * KR + kk]));
        acc[r][c] += s;
      }
    }
    a += MR * KR;
    b += NR * KR;
  }
  epilogue_ref(t, ep, reinterpret_cast<const int32_t*>(&acc[0][0]), NR);
}

}  // namespace lowp
