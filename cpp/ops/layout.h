// Layout changes at the graph boundary: NCHW float32 -> NHWC 8-bit in one call; strided row copies
// (channel concat / split of NHWC tensors).
#pragma once
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

// y[n, p, c] = QuantizeLinear(x[n, c, p]) for x contiguous (N, C, HW) float32 and y contiguous
// (N, HW, C) of `yt` (U8 or S8); per-tensor scale / zero point, onnxruntime's arithmetic
// (quantize_linear of the same values, bit for bit). Each channel's run of pixels is quantized by
// the dispatched quantize_linear kernel into a small buffer, then interleaved. Blocks of pixels
// are split over up to num_threads threads of the pool (<= 0: all) when the tensor is large.
void quantize_nchw_to_nhwc(const float* x, void* y, DType yt, int64_t N, int64_t C, int64_t HW, float scale,
                           int32_t zp, int num_threads = 1);

// dst[r * dst_stride + j] = src[r * src_stride + j] for r < rows, j < row_bytes (ranges must not
// overlap). Concat / Split along an inner axis are this with rows = outer extent: an NHWC channel
// concat copies a few dozen bytes per pixel, so short rows are copied in fixed 16-byte pieces the
// compiler inlines instead of one memcpy call each. copy_rows_ref is the plain reference.
void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
               int64_t rows);
void copy_rows_ref(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
                   int64_t rows);

// y[p, j] = x[p, idx[j]] for p < pixels, j < c_out, x rows of c_in bytes (an NHWC channel gather:
// ShuffleNet's channel shuffle, channel slices). Runs of consecutive indices are copied with
// copy_rows; idx must hold values in [0, c_in) (checked by the caller).
void gather_channels(const uint8_t* x, int64_t c_in, const int64_t* idx, int64_t c_out, uint8_t* y, int64_t pixels);
void gather_channels_ref(const uint8_t* x, int64_t c_in, const int64_t* idx, int64_t c_out, uint8_t* y,
                         int64_t pixels);
// Switch for the tests: false makes gather_channels use its portable loops only.
void set_gather_simd(bool on);
bool simd_gather_enabled();
#if defined(__x86_64__) || defined(_M_X64)
// layout_avx512.cc (AVX-512 VBMI), for c_in <= 128 and c_out <= 256.
void gather_channels_vbmi(const uint8_t* x, int64_t c_in, const int64_t* idx, int64_t c_out, uint8_t* y,
                          int64_t pixels);
// layout_avx512.cc (AVX-512 VBMI): quantize_nchw_to_nhwc for C == 3 over the first pixels & ~63
// pixels of one image (x: channel planes hw floats apart; y: pixels * 3 bytes); lo / hi: the
// output type's range. Needs scale and 1 / scale normal (the caller checks).
void quantize3_nchw_to_nhwc_vbmi(const float* x, int64_t hw, uint8_t* y, int64_t pixels, float scale, int32_t zp,
                                 int32_t lo, int32_t hi);
#endif

}  // namespace ops
}  // namespace lowp
