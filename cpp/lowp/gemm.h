// lowp public C++ GEMM API.
//
//   Y[i,j] = sum_k (A[i,k] - za) * (B[k,j] - zb[j])        (int32, wraps modulo 2^32)
//   then optionally + bias[j], requantize (one of three Rounding families) + zero point, clamp.
//
// B (weights, K x N) is prepacked once into the layout of one kernel (PackedB).
// A (activations, M x K, row stride lda) is read in place and packed per tile by the driver.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "lowp/types.h"

namespace lowp {

struct GemmKernel;  // gemm/kernel.h

// Per-column requantization spec. Arrays have length 1 (per tensor) or N (per column).
struct OutputSpec {
  DType out_type = DType::S32;           // S32: no requantization (MatMulInteger)
  Rounding rounding = Rounding::HalfEven;
  std::vector<int32_t> bias;             // empty or N
  std::vector<int32_t> multiplier;       // Gemmlowp/Single: Q31 multipliers (1 or N)
  std::vector<int32_t> shift;            // Gemmlowp/Single: exponents, >0 = left (1 or N)
  std::vector<float> scale;              // HalfEven: float32 scales (1 or N)
  int32_t zero_point = 0;
  int32_t qmin = 0, qmax = 0;            // clamp range in output type (defaults to full range)
};

class PackedB {
 public:
  // b: K x N, element type b_type (U8 or S8), row stride ldb (elements). zb: 1 or N entries.
  // b_transposed: b holds B^T instead (N rows of K elements, row stride ldb >= K).
  PackedB(const GemmKernel& kernel, const void* b, DType b_type, int K, int N, ptrdiff_t ldb,
          const int32_t* zb, int zb_count, bool b_transposed = false);
  const GemmKernel& kernel() const { return *kernel_; }
  int K() const { return K_; }
  int N() const { return N_; }
  int Kp() const { return Kp_; }
  DType b_type() const { return b_type_; }
  const void* panel(int j0) const;       // start of the panel holding column j0 (j0 % nr == 0)
  const int32_t* zb_domain() const { return zb_dom_.data(); }   // N entries, kernel domain
  const int32_t* colsum_domain() const { return colsum_.data(); }  // N entries
  bool zb_nonzero() const { return zb_nonzero_; }
  size_t packed_bytes() const { return bytes_; }
  // A second packing of these weights in the own layout of the kernel's GEMV twin (gemm/gemv.cc),
  // built by `build` into `bytes` bytes on first use (thread-safe) and kept; see gemm/gemv.h.
  const uint8_t* gemv_layout(size_t bytes, void (*build)(const PackedB&, uint8_t*)) const;

 private:
  const GemmKernel* kernel_;
  int K_, N_, Kp_;
  DType b_type_;
  std::vector<int32_t> zb_dom_, colsum_;
  bool zb_nonzero_ = false;
  size_t bytes_ = 0;
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* data_ = nullptr;  // 64-byte aligned into storage_
  mutable std::unique_ptr<std::once_flag> gemv_once_ = std::make_unique<std::once_flag>();
  mutable std::unique_ptr<uint8_t[]> gemv_storage_;
  mutable uint8_t* gemv_data_ = nullptr;
};

struct GemmArgs {
  int M = 0;
  const void* a = nullptr;  // M x K
  DType a_type = DType::U8;
  ptrdiff_t lda = 0;        // elements
  int32_t za = 0;
  void* c = nullptr;        // M x N, type out.out_type
  ptrdiff_t ldc = 0;        // elements
};

// The output stage's column terms of one GEMM (bias - za*colsum(B) + K*za*zb per column, and the
// requantization parameters broadcast to N entries), fixed by the packed weights, the activation
// type and zero point and the output spec. gemm() without them computes these O(N) arrays on every
// call, on each thread that runs tasks; a caller that runs the same GEMM many times (a conv or
// gemm step of a native program) builds them once and passes them in. They are a copy: later
// changes to `out` are not seen, and gemm() checks that B, a_type, za and the spec's shape match.
class GemmTerms {
 public:
  GemmTerms(const PackedB& b, DType a_type, int32_t za, const OutputSpec& out);
  const PackedB& b() const { return *b_; }
  DType a_type() const { return a_type_; }
  int32_t za() const { return za_; }
  const int32_t* col_term() const { return col_term_.data(); }  // N entries, kernel domain
  const int32_t* mult() const { return mult_.empty() ? nullptr : mult_.data(); }    // N or none
  const int32_t* shift() const { return shift_.empty() ? nullptr : shift_.data(); }  // N or none
  const float* scale() const { return scale_.empty() ? nullptr : scale_.data(); }    // N or none
  bool zb_uniform() const { return zb_uniform_; }
  // Throws unless these terms were built for (b, a_type, za) and an output spec shaped like out.
  void check(const PackedB& b, DType a_type, int32_t za, const OutputSpec& out) const;

 private:
  const PackedB* b_;
  DType a_type_;
  int32_t za_;
  DType out_type_;
  Rounding rounding_;
  size_t bias_n_, mult_n_, scale_n_;
  std::vector<int32_t> col_term_, mult_, shift_;
  std::vector<float> scale_;
  bool zb_uniform_ = false;
};

// Runs the GEMM on `num_threads` threads of the global pool (<=0: pool default).
// Results are identical for any thread count, and with or without precomputed `terms`.
void gemm(const GemmArgs& args, const PackedB& b, const OutputSpec& out, int num_threads = 0,
          const GemmTerms* terms = nullptr);

// ---- kernel registry / dispatch (gemm/dispatch.cc) ----
// Kernels this CPU can run, best first. The last is always "ref".
std::vector<const GemmKernel*> available_kernels();
// All kernels compiled into this build (including ones the CPU cannot run).
std::vector<const GemmKernel*> compiled_kernels();
// nullptr/"" -> default: $LOWP_KERNEL if set, else the best available. Throws on unknown or
// unsupported names.
const GemmKernel& select_kernel(const char* name);
// The kernel to pack weights of depth K for: a forced name (or $LOWP_KERNEL) as select_kernel;
// the default may depend on K (shape rules in dispatch.cc, e.g. "amx_smallk" for K <= 64).
const GemmKernel& select_kernel_for(const char* name, int K);
const char* kernel_name(const GemmKernel& k);

// ---- requantization entry points (requant/requant.h has the scalar functions) ----
void quantize_multiplier(double real, int32_t* multiplier, int* shift, bool single_rounding);

// ---- threads ----
void set_num_threads(int n);
int get_num_threads();

}  // namespace lowp
