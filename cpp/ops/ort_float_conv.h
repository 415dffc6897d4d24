// onnxruntime's float32 fallback for a QDQ 1x1 convolution, reproduced bit for bit.
//
// Why: on x86 onnxruntime rewrites int8-activation Q -> DQ pairs to uint8 (QDQS8ToU8Transformer)
// only where the QuantizeLinear feeds exactly one DequantizeLinear with one consumer. A conv whose
// input and output end up with different types (one int8 tensor shared by several consumers, e.g.
// a residual branch, the other uint8) is not fused into QLinearConv: it runs DequantizeLinear ->
// float Conv -> QuantizeLinear. Its result is a float32 computation, not the exact integer sum
// requantized, and differs from it by one step where the float32 value lies within rounding error of
// a .5 boundary. See docs/PERFORMANCE.md "int8-activation exactness".
//
// What onnxruntime computes for such a conv (MLAS: 1x1 stride 1 unpadded convs are one SGEMM of the
// filter (M x K) and the NCHW input (K x pixels), "GemmDirect"; every other shape on x86 expands
// im2col columns in K order (c, kh, kw) (padding 0.0f) and runs the same SGEMM over them, K block by
// K block, per group and image ("ExpandThenGemm[Segmented]"); the arithmetic per output is the same):
//   xf[k] = float(x[k] - zx) * xs                    (DequantizeLinear, one rounding)
//   wf[m][k] = float(w[m][k] - zw[m]) * ws[m]        (per-channel DequantizeLinear)
//   bf[m] = float(bias[m]) * bias_scale[m]           (int32 DequantizeLinear)
//   c = for each K block of `stride_k` (MLAS SGEMM's K stride): a fused multiply-add chain over the
//       block from 0 in k order; the block sums added to c in order (first block: c = sum)
//   y = c + bf[m]                                    (MlasActivation's bias add, after the GEMM)
//   q = saturate(round_half_even(y / ys) + zy)       (MlasQuantizeLinear: a division, cvtps2dq)
// Two MLAS special cases change the per-output arithmetic (MlasSgemmOperation, AVX kernels on x86):
//   M == 1 (one filter per group: depthwise) -> MlasSgemmKernelM1Avx: per K chunk, groups of four
//     products (multiply, then add: no FMA) summed left to right, added to the running sum; then a pair,
//     then a single product.
//   N == 1 (one output pixel, M >= 2: squeeze-excite 1x1 convs) -> MlasSgemmKernelM1TransposeBAvx: eight
//     lane sums (lane j: products k = j mod 8, multiply then add), reduced by a tree that depends on
//     whether the filter row is in a block of 4, 2 or 1 rows (rows taken 4 at a time, then 2, then 1).
// Measured: zero mismatches against onnxruntime 1.32 on all 1.4 M outputs of MobileNetV2-s8's
// fifteen float convs (its own inputs), 1 and 2 threads (MLAS splits M / N over threads, never K).
//
// How lowp computes it: on AVX-512 machines single-group FMA-kernel convs run the float32 chain outright
// (ort_float_direct below: an implicit GEMM near FMA peak). Elsewhere, cheaply: the integer GEMM gives the exact sum acc = sum (x - zx)(w - zw), so
// the exact real value t = (acc * xs * ws[m] + bf[m]) / ys is known; onnxruntime's float32 result
// differs from t by at most a proven bound B (rounding of xf, wf, every FMA, the block adds, the bias
// add and the division: (K + blocks + 12) * 2^-24 * (sum |xf wf| + |bf|) / ys, with sum |xf wf|
// bounded by the per-pixel and per-channel L1 / max norms). Where t is farther than B from a .5
// boundary, round(t) is onnxruntime's answer; the rest (typically 0.1-4 % of outputs) is recomputed
// with the float32 chain above.
#pragma once
#include <cstdint>
#include <vector>

#include "lowp/types.h"
#include "ops/conv.h"

namespace lowp {
namespace ops {

struct OrtFloatConv {
  int M = 0, K = 0;            // output channels, K per group (Cg * KH * KW)
  // geometry (NHWC input N x H x W x C, output N x OH x OW x M)
  int H = 1, W = 1, C = 0, KH = 1, KW = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  int group = 1, OH = 1, OW = 1;
  int stride_k = 128;          // MLAS SGEMM K block (mlas_sgemm_stride_k); M1 mode: the kernel's K chunk
  int mode = 0;                // 0: FMA SGEMM kernel, 1: M == 1 kernel, 2: N == 1 (transposed B) kernel
  DType x_type = DType::U8, y_type = DType::U8;
  int32_t zx = 0;
  float xs = 1.f, ys = 1.f;
  int32_t zy = 0, qmin = 0, qmax = 255;  // output zero point, clamp range (type range or fused Relu/Clip)
  std::vector<float> wf;       // M x K: onnxruntime's dequantized weights, K in (c, kh, kw) order
  std::vector<float> bf;       // M: onnxruntime's dequantized bias (0 without bias)
  // derived (finalize())
  std::vector<float> xtab;     // 256: dequantized input by raw byte
  std::vector<float> sc;       // M: xs * ws[m] / ys as float (check only)
  std::vector<float> bt;       // M: bf[m] / ys
  std::vector<float> l1w, maxw;  // M: sum_k |wf| / ys, max_k |wf| / ys (with xs folded in)
  std::vector<float> slack;    // M: bound term from |bf|
  std::vector<float> wt;       // mode 0, group 1: K x Mpad transposed weights (Mpad = M rounded up to 16);
                               // depthwise: taps x Mpad (channel-contiguous weights per tap)
  std::vector<float> wti;      // depthwise: taps x Mpad integer weights w - zw as floats (empty: not recoverable)
  int Mpad = 0;
  bool direct = false;         // ort_float_use_direct: every output in float32, no integer pass (set by finalize)
  std::vector<float> wpk;      // direct, AVX-512: weights in 32-channel tiles, tile t = K x 32 floats
  std::vector<int32_t> koff;   // direct: offset of K index k = (c, kh, kw) from a pixel's top-left tap in the padded
                               // dequantized NHWC input ((kh dh Wp + kw dw) C + c, Wp = W + pl + pr)
  float g = 0.f;               // relative bound coefficient
  void finalize(const std::vector<float>& ws);  // ws: M per-channel weight scales (for sc); checks geometry
};

// Mode 0, group 1: the pre-bias float32 sums of 16-channel blocks i (channels m0[i] .. m0[i] + 15,
// m0[i] % 16 == 0, of the pixel whose column (K floats) is columns[i]), in onnxruntime's order (each lane
// an FMA chain per K block, blocks added), into y[16 * i + lane]. Lanes are independent, so every width
// gives the same bits; blocks of different pixels run as independent chains.
using OrtFloatBlocksFn = void (*)(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks,
                                  float* y);
void ort_float_blocks_ref(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks, float* y);
#if defined(__x86_64__) || defined(_M_X64)
void ort_float_blocks_avx2(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks, float* y);
void ort_float_blocks_avx512(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks,
                             float* y);
#endif
OrtFloatBlocksFn ort_float_blocks_kernel();  // the widest compiled and supported one
// All Mpad channels of ncols pixel columns (same arithmetic as the blocks kernels), y: ncols x Mpad;
// used when most blocks of a batch need the float32 chain (a register tile of 4 pixels x 32 channels).
using OrtFloatFullFn = void (*)(const OrtFloatConv& p, const float* const* columns, int ncols, float* y);
void ort_float_full_ref(const OrtFloatConv& p, const float* const* columns, int ncols, float* y);
OrtFloatFullFn ort_float_full_kernel();  // nullptr where no SIMD twin exists
#if defined(__x86_64__) || defined(_M_X64)
void ort_float_full_avx512(const OrtFloatConv& p, const float* const* columns, int ncols, float* y);
#endif

// The fast path of one pixel's outputs m0 .. m1-1: y_row[m] = round(exact value) (clamped), and the
// channels within the bound of a .5 boundary appended (ascending) to `flagged`; returns how many.
// l1x / maxx: the pixel's patch norms sum |x - zx| and max |x - zx|. Every width gives the same bits.
using OrtFloatCheckFn = int (*)(const OrtFloatConv& p, const int32_t* acc_row, int m0, int m1, float l1x,
                                float maxx, void* y_row, int* flagged);
int ort_float_check_ref(const OrtFloatConv& p, const int32_t* acc_row, int m0, int m1, float l1x, float maxx,
                        void* y_row, int* flagged);
#if defined(__x86_64__) || defined(_M_X64)
int ort_float_check_avx2(const OrtFloatConv& p, const int32_t* acc_row, int m0, int m1, float l1x, float maxx,
                         void* y_row, int* flagged);
int ort_float_check_avx512(const OrtFloatConv& p, const int32_t* acc_row, int m0, int m1, float l1x, float maxx,
                           void* y_row, int* flagged);
#endif
OrtFloatCheckFn ort_float_check_kernel();

// Patch norms: l1 += sum |x[c] - zx|, mx = max(mx, max |x[c] - zx|) over n raw bytes of type t.
using OrtFloatNormsFn = void (*)(const void* x, DType t, int n, int32_t zx, int32_t& l1, int32_t& mx);
void ort_float_norms_ref(const void* x, DType t, int n, int32_t zx, int32_t& l1, int32_t& mx);
#if defined(__x86_64__) || defined(_M_X64)
void ort_float_norms_avx512(const void* x, DType t, int n, int32_t zx, int32_t& l1, int32_t& mx);
#endif
OrtFloatNormsFn ort_float_norms_kernel();

// MLAS SGEMM's K stride for an (M x K) * (K x N) product, NoTrans A (sgemm.cpp's rule).
int mlas_sgemm_stride_k(int64_t N, int64_t K);

// acc: pixels x M int32 exact sums (no bias; pixels = N * OH * OW); x: N x H x W x C raw 8-bit input;
// y: pixels x M 8-bit.
// Returns the number of outputs recomputed in float32 (for tests / reports).
// blocks_fn / check_fn: forced kernels (nullptr: the dispatched ones); every kernel gives the same bits.
int64_t ort_float_conv_finish(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t pixels,
                              int num_threads = 1, OrtFloatBlocksFn blocks_fn = nullptr,
                              OrtFloatCheckFn check_fn = nullptr);

// 1x1 stride-1 unpadded single-group convs in one pass: per chunk of pixels the exact int32 sums
// (conv2d with `w`, the same weights as p.wf) into a per-thread buffer, then the finish pass.
int64_t ort_float_conv_1x1(const OrtFloatConv& p, const PackedConv& w, const void* x, void* y, int64_t pixels,
                           int num_threads = 1);

// Depthwise convs (group == C == M, mode 1): each output is the MlasSgemmKernelM1Avx chain over its KH*KW taps
// (the reference and the float32 SIMD kernels compute it outright, vectorized over channels; the integer kernel
// checks the exact sums against a bound and computes the chain where they cannot decide).
// x: N x H x W x C, y: N x OH x OW x C.
using OrtFloatDepthwiseFn = void (*)(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1);
void ort_float_depthwise_ref(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1);
#if defined(__x86_64__) || defined(_M_X64)
// Its AVX2 twin (ops/ort_float_conv_avx2.cc): 8 channels per vector, each lane ort_float_depthwise_ref's
// chain (products, the M1 kernel's sums, bias, division, half-even rounding, clamp); for CPUs without
// AVX-512, where the row-ring kernels (ort_float_depthwise_avx512.cc) do not run.
void ort_float_depthwise_avx2(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1);
// The same chain with the input rows dequantized once into a row ring, as ort_float_depthwise_rows_avx512 below
// (ops/ort_float_depthwise_avx2.cc): the default without AVX-512 (taps <= 64; cb % 8 == 0).
void ort_float_depthwise_rows_avx2(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1, int cb,
                                   int ce);
#endif
#if defined(__x86_64__) || defined(_M_X64)
// Output rows [oh0, oh1), channels [cb, ce) (cb % 16 == 0) of image n, the input rows dequantized into a ring of
// (KH - 1) dh + 1 rows as they are needed (ops/ort_float_depthwise_avx512.cc): the default on AVX-512 machines
// (the whole padded image of a 112 x 112 x 96 layer is 4.8 MB of floats, past the L2 cache).
void ort_float_depthwise_rows_avx512(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1,
                                     int cb, int ce);
// The same outputs from the exact integer sums (FMAs on float(x - zx) and the integer weights p.wti, exact below
// 2^24) rounded as ort_float_check_ref does, with the bound taken at the largest |x - zx| of the input type;
// the 16-channel vectors of a pixel with a lane within the bound of a .5 boundary (a few % of them) take the
// float32 chain above. Needs p.wti.
void ort_float_depthwise_int_avx512(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1,
                                    int cb, int ce);
#endif
#if defined(__x86_64__) || defined(_M_X64)
// Test hooks for ort_quot_clamp_avx512 (q[i] = cvtps2dq of it, bounds flo, fhi) and ort_quantize4_avx512 (q: n
// bytes of type t, 64 values at a time): must equal onnxruntime's QuantizeLinear (true division, clamp, + zy).
void ort_float_quot_clamp_round_avx512(const float* y, int64_t n, float ys, float flo, float fhi, int32_t* q);
void ort_float_quantize_avx512(const float* y, int64_t n, float ys, int32_t zy, DType t, int32_t qmin, int32_t qmax,
                               void* q);
#endif
bool ort_float_is_depthwise(const OrtFloatConv& p);
// kernel: "" (the dispatched one: "avx512int" where p.wti exists, else "avx512", where available; else "avx2"),
// "ref", "avx512int" (integer sums + check, row ring), "avx512" (float32 chain, row ring; tasks = bands of output
// rows x channel slices), "avx2" (float32 chain, row ring, 8 lanes; more than 64 taps: "avx2pixels"),
// "avx2pixels" (float32 chain per output pixel, 8 lanes).
void ort_float_depthwise(const OrtFloatConv& p, const void* x, void* y, int64_t pixels, int num_threads = 1,
                         const char* kernel = "");

// Direct float32 path (mode 0, group 1): every output is onnxruntime's float32 chain computed outright
// (im2col columns dequantized through xtab, then the MLAS-order SGEMM, bias, QuantizeLinear); no integer
// conv and no check. Used where most outputs of the check path would be recomputed anyway (large K: the
// bound grows with K). Any register tiling that keeps each output's k order gives the same bits; the
// AVX-512 kernel runs register tiles of 6 pixels x 64 channels (two 32-channel weight tiles), 12 x 32, or 12 x 16
// (24, 24, 12 accumulators) per K block, weights packed per 32-channel tile at load, reading the input dequantized
// with its zero padding (an implicit GEMM: no im2col; the K order is followed through p.koff; the pixels of an evenly
// spaced 12-pixel panel addressed from one base and the pixel step), the running sums of earlier K blocks through
// a small buffer, bias + QuantizeLinear (ort_quantize4_avx512) fused into the last K block's tile. Pixels [p0, p1)
// of the output, in chunks of kOrtFloatDirectChunk pixels.
void ort_float_direct_ref(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1);
#if defined(__x86_64__) || defined(_M_X64)
// Padded rows [r0, r1) of the images x (H + pt + pb) rows of the input (a thread's share, or a band of rows) as
// DequantizeLinear of x, 0 in the padding: row r at xpad + (r - row0) (W + pl + pr) C floats.
void ort_float_dequant_padded_rows_avx512(const OrtFloatConv& p, const void* x, int64_t r0, int64_t r1, float* xpad,
                                          int64_t row0 = 0);
constexpr int kOrtFloatDirectChunk = 48;
// Output channels 32 t0 .. 32 t1 - 1 (32-channel weight tiles [t0, t1); t1 = -1: to the last) of pixels [p0, p1).
// xpad == nullptr (pointwise convs only: ort_float_direct_pointwise): each chunk's pixels dequantized from the raw
// input x on the way (no full-image pass).
// row0: xpad holds padded rows from row0 on (a band: the rows pixels [p0, p1) read).
void ort_float_direct_avx512(const OrtFloatConv& p, const float* xpad, const void* x, void* y, int64_t p0, int64_t p1,
                             int t0 = 0, int t1 = -1, int64_t row0 = 0);
// Their AVX2 twins (ops/ort_float_conv_avx2.cc) for CPUs without AVX-512: the same contracts and the same chains
// (each output an FMA chain from 0 per K block over onnxruntime's K order, blocks added in order, + bias), register
// tiles of 6 pixels x 16 channels (each 32-channel weight tile as two halves), then a true division by ys, the
// clamp and cvtps2dq.
void ort_float_dequant_padded_rows_avx2(const OrtFloatConv& p, const void* x, int64_t r0, int64_t r1, float* xpad,
                                        int64_t row0 = 0);
void ort_float_direct_avx2(const OrtFloatConv& p, const float* xpad, const void* x, void* y, int64_t p0, int64_t p1,
                           int t0 = 0, int t1 = -1, int64_t row0 = 0);
#endif
// 1x1 unpadded (any stride): the input needs no padded copy.
bool ort_float_direct_pointwise(const OrtFloatConv& p);
// The policy finalize() applies: mode 0, group 1, an AVX-512 machine (no SIMD twin elsewhere: the check path is
// faster there), 2^-120 <= y_scale <= 2^120 (ort_quantize4_avx512's precondition) and K >= LOWP_ORT_FLOAT_DIRECT_K (default 1: every such layer, measured fastest on all 9
// models; 0 disables the direct path, N > 1 keeps the integer + check path for K < N).
bool ort_float_use_direct(const OrtFloatConv& p);
// Threads share pixel chunks (and, with few chunks, 32-channel weight tiles). Inputs over 1 MB as floats (not
// pointwise) run in bands of output rows, each task dequantizing the input rows it reads into its own buffer.
// kernel: "" (the dispatched one), "ref", "avx512" (needs p.direct, which packs wpk), "avx512bands" /
// "avx512whole" (force bands of one output row / one dequantized input for all).
void ort_float_direct(const OrtFloatConv& p, const void* x, void* y, int64_t pixels, int num_threads = 1,
                      const char* kernel = "");

// NHWC offsets (channel 0) of output pixel (n, oh, ow)'s KH*KW input taps in kernel order, -1 for a
// padding tap; and the step to the next output pixel (row-major over N, OH, OW).
inline void ort_float_pixel_taps(const OrtFloatConv& p, int64_t n, int64_t oh, int64_t ow, int64_t* tap) {
  for (int kh = 0; kh < p.KH; ++kh)
    for (int kw = 0; kw < p.KW; ++kw) {
      const int64_t ih = oh * p.sh - p.pt + static_cast<int64_t>(kh) * p.dh;
      const int64_t iw = ow * p.sw - p.pl + static_cast<int64_t>(kw) * p.dw;
      tap[kh * p.KW + kw] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? ((n * p.H + ih) * p.W + iw) * p.C : -1;
    }
}
inline void ort_float_next_pixel(const OrtFloatConv& p, int64_t& n, int64_t& oh, int64_t& ow) {
  if (++ow == p.OW) {
    ow = 0;
    if (++oh == p.OH) {
      oh = 0;
      ++n;
    }
  }
}

// The float32 chain for one output (p's arithmetic above) given its dequantized K-column (padding
// 0), returned as the quantized value.
int32_t ort_float_conv_one(const OrtFloatConv& p, const float* column, int m);
#if defined(__x86_64__) || defined(_M_X64)
// The same for mode 2 (N == 1) with the eight lane sums in one vector (ops/ort_float_m1t_avx512.cc): the finish
// pass's recompute of one-pixel convs when its SIMD kernels are in use.
int32_t ort_float_conv_one_m1t_avx512(const OrtFloatConv& p, const float* column, int m);
#endif

}  // namespace ops
}  // namespace lowp
