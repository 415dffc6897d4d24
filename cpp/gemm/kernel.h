// Internal GEMM kernel interface. One GemmKernel per ISA file in gemm/kernels/; the table in
// gemm/dispatch.cc is the only place that decides which one runs.
//
// Packed layouts (shared by every kernel, parameterised by mr/nr/kr and the "domain" types):
//   packed A panel: mr rows x Kp (Kp = K rounded up to kr), stored k-group by k-group:
//       [g][r][kk]  (g < Kp/kr, r < mr, kk < kr), element type a_domain
//   packed B panel: nr columns x Kp, stored [g][c][kk], element type b_domain
// Rows/columns/k past the valid range are zero in the domain, so they add nothing.
//
// Domains: values are shifted into the types the instructions multiply:
//   U8 domain of an int8 input: a' = a + 128 (za' = za + 128)
//   S8 domain of a uint8 input: b' = b - 128 (zb' = zb - 128)
//   S16 domain: the value itself, widened.
// The driver folds the shifts into per-column terms (see Epilogue), so results stay exact:
//   Y = sum a'b' - zb'[j]*rowsum'(i) - za'*colsum'(j) + K*za'*zb'[j] + bias[j]
#pragma once
#include <cstddef>
#include <cstdint>

#include "lowp/gemm.h"
#include "lowp/types.h"

namespace lowp {

// Everything an output tile needs besides its accumulators. Arrays are indexed by absolute
// column (0..N-1) and are always expanded to N entries by the driver.
struct Epilogue {
  DType out_type;          // S32, U8 or S8
  Rounding rounding;
  int32_t zp, qmin, qmax;
  const int32_t* col_term; // bias - za'*colsum' + K*za'*zb'   (N)
  const int32_t* zb;       // zb' per column (N), nullptr when all zero (no row sums needed)
  bool zb_uniform;         // zb != nullptr and every zb[j] is the same (per-tensor B zero point)
  const int32_t* mult;     // Gemmlowp/Single (N)
  const int32_t* shift;    // Gemmlowp/Single (N)
  const float* scale;      // HalfEven (N)
  void* c;                 // output base
  ptrdiff_t ldc;           // elements
};

// One microkernel call: an (m <= mr) x (n <= nr) tile at (row0, col0).
struct Tile {
  int m, n;
  int kgroups;              // Kp / kr
  const void* a;            // packed A panel
  const void* b;            // packed B panel
  const int32_t* row_sums;  // rowsum'(row0 .. row0+m-1), valid when ep.zb != nullptr
  int row0, col0;
  // Set when the kernel's in_place_a hook accepted this A panel: the kernel reads A itself
  // (a_type, row stride a_lda elements) and `a` holds only what that hook wrote.
  const void* a_src = nullptr;
  ptrdiff_t a_lda = 0;
  DType a_type = DType::U8;
  // The A panel this thread runs next, in place (a_lda), when known: a kernel may prefetch it.
  const void* a_next = nullptr;
  int a_next_rows = 0;
};

using UKernelFn = void (*)(const Tile& t, const Epilogue& ep);
// Optional: one A panel against `panels` consecutive B panels (b_stride bytes apart), covering
// `ncols` columns from t.col0 (t.b, t.n describe the first panel). Same results as calling the
// ukernel per panel; lets a kernel block K across the panels (AMX keeps a K chunk of A in L1).
using PanelKernelFn = void (*)(const Tile& t, int panels, ptrdiff_t b_stride, int ncols, const Epilogue& ep);
using CpuCheckFn = bool (*)();
// Optional fast packer of one A panel (same contract as pack_a_panel below). A kernel that has
// one may use its own A layout, within round_up(Kp, 64) * mr elements (e.g. AMX tiles).
using PackAFn = void (*)(const void* a, DType a_type, int mrows, int K, ptrdiff_t lda, void* dst,
                         int32_t* row_sums);

// Optional: lets a kernel read an A panel itself instead of having it packed up front (AMX packs
// it chunk by chunk into an L1-resident buffer). Returns false to decline (the driver then packs). When it accepts, it writes to
// dst only what the kernel needs besides A itself (at most what pack_a may write) and the row
// sums (when row_sums != nullptr), like a packer.
using InPlaceAFn = bool (*)(const void* a, DType a_type, int mrows, int K, ptrdiff_t lda, void* dst,
                            int32_t* row_sums);

struct GemmKernel {
  const char* name;   // "ref", "avx2", "avx512vnni", "neon", "neondot", "i8mm"
  int mr, nr, kr;
  DType a_domain;     // U8, S8 or S16
  DType b_domain;     // U8, S8 or S16
  CpuCheckFn cpu_supported;
  UKernelFn ukernel;
  int priority;       // higher wins in default dispatch
  PackAFn pack_a = nullptr;  // nullptr: the generic pack_a_panel
  int a_kr = 0;              // k-group of the A panel layout when it differs from kr (AMX: 64)
  InPlaceAFn in_place_a = nullptr;  // nullptr: A panels are always packed
  PanelKernelFn panel_kernel = nullptr;  // nullptr: the driver calls ukernel per B panel
  // With a panel kernel, threaded calls give each task one A panel (AMX: task start is costly,
  // see gemm.cc); true keeps the generic M-first split (up to 256 rows of A panels per task,
  // ~8 tasks per thread) for panel kernels whose tasks start cheaply (avx512vnni, avx2).
  bool generic_split = false;
};

// k-group of packed A panels, and the bytes one A panel takes (what a packer may write).
inline int a_group(const GemmKernel& k) { return k.a_kr > 0 ? k.a_kr : k.kr; }

// ---- helpers shared by kernels (gemm/epilogue.cc) ----

// Scalar epilogue over a raw accumulator tile acc[r*acc_stride + c] (sum a'b', wrapping).
void epilogue_ref(const Tile& t, const Epilogue& ep, const int32_t* acc, int acc_stride);

// Packing (gemm/pack.cc). Generic over domain and kr; kernels may provide faster ones later.
size_t element_size(DType d);
inline size_t a_panel_bytes(const GemmKernel& k, int K) {
  return static_cast<size_t>(round_up(round_up(K, k.kr), a_group(k))) * k.mr * element_size(k.a_domain);
}
void pack_b_panel(const GemmKernel& k, const void* b, DType b_type, int K, int ncols, ptrdiff_t ldb,
                  void* dst, int32_t* colsum);
// The same from B^T: column c of B is row c of `bt` (K contiguous elements, row stride ldbt).
void pack_bt_panel(const GemmKernel& k, const void* bt, DType b_type, int K, int ncols, ptrdiff_t ldbt,
                   void* dst, int32_t* colsum);
void pack_a_panel(const GemmKernel& k, const void* a, DType a_type, int mrows, int K, ptrdiff_t lda,
                  void* dst, int32_t* row_sums);
// Shift added to a value of type `in` to bring it into domain `dom` (0, +128 or -128).
int32_t domain_shift(DType in, DType dom);

}  // namespace lowp
