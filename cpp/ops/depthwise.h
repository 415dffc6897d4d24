// Depthwise convolution kernels (internal). One DwKernel per ISA file (depthwise_ref.cc,
// depthwise_avx2.cc, depthwise_avx512.cc, depthwise_neon.cc); ops/depthwise.cc holds the only
// table that picks one, and the driver (indirection rows, threads, channel multiplier).
//
// Arithmetic (exact, int32 with wrap-around like every int32 accumulator):
//   w'[t][c] = w[t][c] - zw[c]                     (int16, |w'| <= 255)
//   acc[c]   = bias[c] - zx * sum_t w'[t][c] + sum_t x[t][c] * w'[t][c]
// which equals bias + sum_t (x - zx) * w' because out-of-image taps read a row filled with zx.
// SIMD kernels widen x to int16 and multiply tap pairs with vpmaddwd (each product <= 255*255,
// a pair sum <= 2*65025: no saturation anywhere), then requantize bit-exactly (requant.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/types.h"

namespace lowp {

struct DwPacked {
  int C = 0;      // channels seen by the kernel (= Cout; the driver expands a channel multiplier)
  int taps = 0;   // KH * KW
  std::vector<int16_t> wn;     // natural layout [taps][C]: w - zw
  std::vector<int32_t> wsum;   // [C]: sum_t wn[t][c]
  std::vector<int16_t> wp;     // kernel-specific packing (filled by DwKernel::pack), may be empty
  int KH = 0, KW = 0;          // kernel shape (taps = KH * KW)
  std::vector<int8_t> wq;      // row-kernel packing (int8 weights), valid when row_ok
  bool row_ok = false;         // the kernel's run_row can be used with these weights
  std::vector<int8_t> wq2;     // 3x3 row-pair packing (see depthwise_avx512vnni.cc)
  bool pair_ok = false;        // run_row accepts 4 input rows (nrows == 4) and two outputs (y2)
  int fold = 1;                // VNNI row kernel: pixels per vector in the last channel block (1, 2, 4)
};

// One output row for row-oriented kernels (DwKernel::run_row): the KH input rows it reads.
struct DwRowArgs {
  const uint8_t* const* rows;  // nrows pointers to input rows (pixel 0, channel 0); nullptr = padding
  int nrows;                   // KH, or KH + 1 for a row pair (pair_ok kernels, stride 1, dilation 1)
  const uint8_t* zrow;         // C bytes equal to the input zero point
  int W, OW, sw, dw, pl;       // input width, output width, stride/dilation/left pad along W
  DType x_type;
  void* y;                     // output row: OW pixels x C
  void* y2;                    // row pair: the next output row (or nullptr: last row)
  // Channels [c_begin, c_end) of the row (c_begin a multiple of kDwRowChannelBlock, c_end <= C
  // or c_end == -1 for all): the driver splits small layers over threads by channel blocks too.
  int c_begin = 0, c_end = -1;
};
// Channel granularity of row kernels: a channel range given to run_row starts on a multiple of it.
constexpr int kDwRowChannelBlock = 64;

struct DwEpilogue {
  DType out_type;           // S32, U8 or S8
  Rounding rounding;
  int32_t zp, qmin, qmax;
  const int32_t* col_term;  // C: bias - zx * wsum   (wrapping)
  const int32_t* mult;      // C (Gemmlowp / Single)
  const int32_t* shift;     // C
  const float* scale;       // C (HalfEven)
  bool scale_below_half = false;  // every HalfEven scale < 0.5: |acc * scale| < 2^30 (no float clamp needed)
};

// One call computes `pixels` output pixels. ind holds pixels * taps pointers, each to channel 0
// of a C-channel input row (or of a row filled with zx). y: output of pixel p at
// y + p * y_stride elements (of ep.out_type).
using DwRunFn = void (*)(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y,
                         ptrdiff_t y_stride, const DwEpilogue& ep);
using DwPackFn = void (*)(DwPacked& p);
using DwRowFn = void (*)(const DwPacked& p, const DwRowArgs& r, const DwEpilogue& ep);

struct DwKernel {
  const char* name;  // "ref", "avx2", "avx512", "neon"
  CpuCheckFn cpu_supported;
  DwPackFn pack;
  DwRunFn run;
  int priority;
  DwRowFn run_row = nullptr;  // optional row kernel, used when the packing sets row_ok
};

// Dispatch (ops/depthwise.cc).
const DwKernel& select_dw_kernel(const char* name);
std::vector<const DwKernel*> dw_kernels(bool available_only);

// Shared scalar helpers (ops/depthwise_ref.cc).
// Requantizes/stores acc[0..n) as channels c0..c0+n of one output pixel at y (pixel base).
void dw_store_ref(const int32_t* acc, int c0, int n, const DwEpilogue& ep, void* y);
// Scalar computation of channels [c0, c1) for one pixel (used by SIMD kernels for tails).
void dw_pixel_ref(const DwPacked& p, const void* const* ind, int c0, int c1, DType x_type, void* y,
                  const DwEpilogue& ep);
// Packing for the x86 vpmaddwd kernels: [block of cb channels][tap pair][lo cb int16][hi cb int16]
// in the lane order of unpacklo/unpackhi_epi16 (lanes of 8 int16). Odd taps get a zero partner.
void dw_pack_pairs(DwPacked& p, int cb);

#if defined(__x86_64__) || defined(_M_X64)
// The AVX-512 vpmaddwd kernel (depthwise_avx512.cc), also the fallback of the VNNI row kernel.
void dw_run_avx512(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
                   const DwEpilogue& ep);
void dw_pack_avx512(DwPacked& p);
#endif

}  // namespace lowp

namespace lowp {
class PackedConv;
struct ConvGeometry;
struct OutputSpec;
// Per-channel output-stage terms of a depthwise conv (DwEpilogue arrays, C entries), fixed by the
// weights, zx and the output spec: computed per call by depthwise_conv, or once (ConvTerms).
struct DwTerms {
  std::vector<int32_t> col_term;      // bias - zx * wsum (wrapping)
  std::vector<int32_t> mult, shift;   // Gemmlowp / Single: C entries (per-tensor values broadcast)
  std::vector<float> scale;           // HalfEven: C entries
  bool scale_below_half = false;
};
// Fills t for weights p, input zero point zx and spec out (per-channel arrays copied).
void dw_fill_terms(const DwPacked& p, int32_t zx, const OutputSpec& out, DwTerms& t);
// Driver: depthwise convolution of NHWC x with a PackedConv whose depthwise() is true. terms:
// optional precomputed terms for (w, zx, out).
void depthwise_conv(const PackedConv& w, const ConvGeometry& g, const void* x, DType x_type, int32_t zx, void* y,
                    const OutputSpec& out, int num_threads, const DwTerms* terms = nullptr);
// Builds the natural packing (wn, wsum) from OHWI weights with Cg == 1 (Cout x taps).
void dw_prepare(DwPacked& p, const void* w, DType w_type, int Cout, int taps, const int32_t* zw, int zw_count);
}  // namespace lowp
