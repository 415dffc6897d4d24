// Scalar reference GEMV (M <= kGemvMaxM): plain loops over the packed B layout of its GEMM
// kernel ([panel][g][nr][kr], gemm/kernel.h), A read in place and shifted into the kernel's
// domain, uint32 arithmetic (sums wrap modulo 2^32), scalar output stage of requant/requant.h.
#include "gemm/gemv.h"
#include "requant/requant.h"

namespace lowp {

// Output stage of one element (shared by the GEMV kernels' scalar tails and tests).
void gemv_store_ref(const GemvCall& g, int r, int j, uint32_t acc) {
  uint32_t v = acc + static_cast<uint32_t>(gemv_col_term(g, j));
  if (g.zb) v -= static_cast<uint32_t>(g.zb[j]) * static_cast<uint32_t>(g.row_sums[r]);
  const int32_t x = static_cast<int32_t>(v);
  const size_t idx = static_cast<size_t>(r) * g.ldc + j;
  if (g.out_type == DType::S32) {
    static_cast<int32_t*>(g.c)[idx] = x;
    return;
  }
  const int s = g.per_col ? j : 0;
  const int32_t q = g.rounding == Rounding::HalfEven
                        ? requant::requant_half_even(x, g.scale[s], g.zp, g.qmin, g.qmax)
                        : requant::requantize_one(x, g.rounding, g.mult[s], g.shift[s], 0.f, g.zp, g.qmin, g.qmax);
  static_cast<uint8_t*>(g.c)[idx] = static_cast<uint8_t>(q);  // two's complement: right for int8 too
}

namespace {

template <typename TA, typename TB>
void gemv_ref_t(const GemvCall& g, int p0, int p1) {
  const GemmKernel& k = g.B->kernel();
  const int nr = k.nr, kr = k.kr;
  const int32_t a_shift = domain_shift(g.a_type, k.a_domain);
  for (int p = p0; p < p1; ++p) {
    const int j0 = p * nr;
    const int n = j0 + nr <= g.N ? nr : g.N - j0;
    const TB* b = static_cast<const TB*>(g.B->panel(j0));
    for (int r = 0; r < g.m; ++r) {
      const TA* a = static_cast<const TA*>(g.a) + static_cast<size_t>(r) * g.lda;
      for (int c = 0; c < n; ++c) {
        uint32_t acc = 0;
        for (int kk = 0; kk < g.K; ++kk) {
          const int32_t av = static_cast<int32_t>(a[kk]) + a_shift;
          const int32_t bv = b[(kk / kr) * nr * kr + c * kr + kk % kr];
          acc += static_cast<uint32_t>(av * bv);
        }
        gemv_store_ref(g, r, j0 + c, acc);
      }
    }
  }
}

template <typename TA>
void gemv_ref_b(const GemvCall& g, int p0, int p1) {
  switch (g.B->kernel().b_domain) {
    case DType::U8: return gemv_ref_t<TA, uint8_t>(g, p0, p1);
    case DType::S8: return gemv_ref_t<TA, int8_t>(g, p0, p1);
    default: return gemv_ref_t<TA, int16_t>(g, p0, p1);
  }
}

}  // namespace

void gemv_ref(const GemvCall& g, int p0, int p1) {
  if (g.a_type == DType::U8)
    gemv_ref_b<uint8_t>(g, p0, p1);
  else
    gemv_ref_b<int8_t>(g, p0, p1);
}

}  // namespace lowp
