// GEMV path: GEMMs with few rows (M <= kGemvMaxM, e.g. a fully connected layer at batch 1).
//
// Such calls are bound by streaming B, not by arithmetic: each weight is used M times. The GEMV
// kernels read B in the packed layout of their GEMM kernel (the panels of a PackedB are one
// contiguous stream: panel after panel, k-group after k-group), read A in place (no packing),
// keep several independent accumulator chains per column vector, and fuse the whole output stage
// (zero-point/column-sum terms, bias, requantization, clamp) with no per-call O(N) preparation:
// the column terms are computed per vector from the PackedB's column sums and the call's za.
//
// Dispatch (gemm/dispatch.cc, gemv_kernel_for): each GEMM kernel may have a GEMV twin that
// understands its layout; a forced kernel (LOWP_KERNEL / lowp.use_kernel) forces its twin for
// M <= kGemvMaxM. Kernels without one (the ARM kernels) keep the tiled path.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gemm/kernel.h"

namespace lowp {

constexpr int kGemvMaxM = 4;

// One GEMV call, prepared by the driver (gemm/gemv.cc).
struct GemvCall {
  int m;                    // rows, 1..kGemvMaxM
  const void* a;            // M x K, element type a_type, row stride lda (elements)
  DType a_type;
  ptrdiff_t lda;
  int32_t za_dom;           // za in the kernel's A domain
  int K, N, kgroups;        // kgroups = Kp / kr
  const PackedB* B;
  const uint8_t* layout;    // the GEMV twin's own packing (GemvKernel::build), else nullptr
  const int32_t* colsum;    // N, B's domain
  const int32_t* zb;        // N, zb in B's domain; nullptr when all zero
  const int32_t* row_sums;  // m, A's domain rowsums; valid when zb != nullptr
  const int32_t* bias;      // N or nullptr
  DType out_type;           // S32, U8, S8
  Rounding rounding;
  const int32_t* mult;      // Gemmlowp/Single: 1 or N entries
  const int32_t* shift;
  const float* scale;       // HalfEven: 1 or N entries
  bool per_col;             // requantization parameters have N entries
  int32_t zp, qmin, qmax;
  void* c;
  ptrdiff_t ldc;            // elements
};

// Computes all m rows for the columns of panels [p0, p1) (panel p = columns p*nr ..).
using GemvFn = void (*)(const GemvCall& g, int p0, int p1);

struct GemvKernel {
  const GemmKernel* gemm;     // the GEMM kernel whose packed B layout this reads
  GemvFn run;
  int nr, kr;                 // the layout it was written for (checked against gemm at dispatch)
  DType a_domain, b_domain;
  // Optional own layout, derived once per PackedB from its panels (PackedB::gemv_layout):
  size_t (*layout_bytes)(const PackedB& B) = nullptr;
  void (*build_layout)(const PackedB& B, uint8_t* dst) = nullptr;
};

// The GEMV twin of `k`, or nullptr (gemm/dispatch.cc).
const GemvKernel* gemv_kernel_for(const GemmKernel& k);

// Runs the call through the GEMV path when it applies (M <= kGemvMaxM, the kernel has a twin,
// the path is enabled); returns false otherwise. Arguments were validated by gemm().
bool gemv(const GemmArgs& args, const PackedB& B, const OutputSpec& out, int num_threads);

// The GEMV path can be switched off (tests compare it with the tiled path; benchmarks).
void set_gemv_enabled(bool on);
bool gemv_enabled();

// Column term of column j: bias[j] - za'*colsum'[j] + K*za'*zb'[j] (wrapping, as gemm.cc's).
inline int32_t gemv_col_term(const GemvCall& g, int j) {
  uint32_t v = g.bias ? static_cast<uint32_t>(g.bias[j]) : 0u;
  v -= static_cast<uint32_t>(g.za_dom) * static_cast<uint32_t>(g.colsum[j]);
  if (g.zb) v += static_cast<uint32_t>(g.K) * static_cast<uint32_t>(g.za_dom) * static_cast<uint32_t>(g.zb[j]);
  return static_cast<int32_t>(v);
}

}  // namespace lowp
