#include "ops/layout.h"

#include <cmath>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <vector>

#include "ops/quantize.h"
#include "runtime/thread_pool.h"

namespace lowp {
namespace ops {

void quantize_nchw_to_nhwc(const float* x, void* y, DType yt, int64_t N, int64_t C, int64_t HW, float scale,
                           int32_t zp, int num_threads) {
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "quantize_nchw_to_nhwc: output must be uint8 or int8");
  LOWP_CHECK(N >= 0 && C >= 1 && HW >= 0, "quantize_nchw_to_nhwc: bad shape");
  constexpr int64_t kBlock = 512;  // pixels per block: C * kBlock bytes of buffer stay in L1
  uint8_t* out = static_cast<uint8_t*>(y);
  const int64_t blocks_per_image = (HW + kBlock - 1) / kBlock, blocks = N * blocks_per_image;
  // One block: quantize each channel's run of pixels into buf, then interleave into y.
#if defined(__x86_64__) || defined(_M_X64)
  // RGB input: one AVX-512 VBMI pass (multiply by 1 / scale, divide only near rounding ties).
  const float inv = 1.0f / scale;
  const bool fast3 = C == 3 && eltwise_simd_enabled() && cpu_has_avx512vbmi() && std::isnormal(scale) &&
                     std::isnormal(inv);
  const int32_t lo = yt == DType::U8 ? 0 : -128, hi = yt == DType::U8 ? 255 : 127;  // fast3's clamp
#else
  const bool fast3 = false;
#endif
  auto block = [&](int64_t bi, uint8_t* buf) {
    const int64_t n = bi / blocks_per_image, p0 = bi % blocks_per_image * kBlock;
    const int64_t len = std::min(kBlock, HW - p0);
#if defined(__x86_64__) || defined(_M_X64)
    if (fast3) {
      const float* xs = x + n * C * HW + p0;
      uint8_t* o = out + (n * HW + p0) * C;
      const int64_t body = len & ~int64_t{63};
      quantize3_nchw_to_nhwc_vbmi(xs, HW, o, body, scale, zp, lo, hi);
      for (int64_t p = body; p < len; ++p)
        for (int64_t c = 0; c < 3; ++c)
          o[3 * p + c] = static_cast<uint8_t>(quantize_one(xs[c * HW + p], scale, zp, lo, hi));
      return;
    }
#endif
    for (int64_t c = 0; c < C; ++c)
      quantize_linear(x + (n * C + c) * HW + p0, buf + c * kBlock, yt, 1, 1, len, &scale, &zp, 1);
    uint8_t* __restrict o = out + (n * HW + p0) * C;
    const uint8_t* __restrict b = buf;
    if (C == 3) {
      for (int64_t p = 0; p < len; ++p) {
        o[3 * p] = b[p];
        o[3 * p + 1] = b[kBlock + p];
        o[3 * p + 2] = b[2 * kBlock + p];
      }
    } else {
      for (int64_t p = 0; p < len; ++p)
        for (int64_t c = 0; c < C; ++c) o[p * C + c] = b[c * kBlock + p];
    }
  };
  ThreadPool& pool = ThreadPool::global();
  const int threads = std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads());
  // ~0.3 ns per value (~0.1 ns in cache on the RGB AVX-512 path, but the input usually comes from
  // L3): below ~128K values a second thread does not pay for its wake-up.
  // Several tasks per thread: a worker that wakes late takes only a small share (the caller
  // claims the rest of the worker's range meanwhile).
  const int64_t tasks = std::min<int64_t>(threads * 8, blocks);
  if (threads <= 1 || tasks <= 1 || C * HW * N < (int64_t{1} << 17)) {
    std::vector<uint8_t> buf(fast3 ? 0 : static_cast<size_t>(C * kBlock));
    for (int64_t bi = 0; bi < blocks; ++bi) block(bi, buf.data());
    return;
  }
  pool.parallel_for(static_cast<int>(tasks), [&](int t, int /*thread*/) {
    std::vector<uint8_t> buf(fast3 ? 0 : static_cast<size_t>(C * kBlock));
    for (int64_t bi = blocks * t / tasks, end = blocks * (t + 1) / tasks; bi < end; ++bi) block(bi, buf.data());
  }, threads);
}

void copy_rows_ref(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
                   int64_t rows) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < row_bytes; ++j) dst[r * dst_stride + j] = src[r * src_stride + j];
}

namespace {
template <int kBytes>
void copy_rows_fixed(const uint8_t* src, int64_t ss, uint8_t* dst, int64_t ds, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * ds, src + r * ss, kBytes);
}
}  // namespace

void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
               int64_t rows) {
  if (rows <= 0 || row_bytes <= 0) return;
  if (src_stride == row_bytes && dst_stride == row_bytes) {
    std::memcpy(dst, src, static_cast<size_t>(row_bytes * rows));
    return;
  }
  switch (row_bytes) {  // the channel counts of real networks: one inlined move per row
    case 8: return copy_rows_fixed<8>(src, src_stride, dst, dst_stride, rows);
    case 16: return copy_rows_fixed<16>(src, src_stride, dst, dst_stride, rows);
    case 24: return copy_rows_fixed<24>(src, src_stride, dst, dst_stride, rows);
    case 32: return copy_rows_fixed<32>(src, src_stride, dst, dst_stride, rows);
    case 48: return copy_rows_fixed<48>(src, src_stride, dst, dst_stride, rows);
    case 64: return copy_rows_fixed<64>(src, src_stride, dst, dst_stride, rows);
    default: break;
  }
  if (row_bytes >= 256) {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + r * dst_stride, src + r * src_stride, static_cast<size_t>(row_bytes));
    return;
  }
  const int64_t body = row_bytes & ~int64_t{15};
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    uint8_t* d = dst + r * dst_stride;
    int64_t j = 0;
    for (; j < body; j += 16) std::memcpy(d + j, s + j, 16);
    for (; j < row_bytes; ++j) d[j] = s[j];
  }
}

namespace {
std::atomic<bool> g_gather_simd{true};
}
void set_gather_simd(bool on) { g_gather_simd.store(on); }
bool simd_gather_enabled() { return g_gather_simd.load(); }

void gather_channels_ref(const uint8_t* x, int64_t c_in, const int64_t* idx, int64_t c_out, uint8_t* y,
                         int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t j = 0; j < c_out; ++j) y[p * c_out + j] = x[p * c_in + idx[j]];
}

void gather_channels(const uint8_t* x, int64_t c_in, const int64_t* idx, int64_t c_out, uint8_t* y, int64_t pixels) {
  if (pixels <= 0 || c_out <= 0) return;
  struct Run {
    int64_t src, dst, len;
  };
  std::vector<Run> runs;
  for (int64_t j = 0; j < c_out; ++j) {
    if (!runs.empty() && runs.back().src + runs.back().len == idx[j]) ++runs.back().len;
    else runs.push_back({idx[j], j, 1});
  }
  if (runs.size() <= 4) {  // slices / concatenations of ranges: strided row copies
    for (const Run& r : runs) copy_rows(x + r.src, c_in, y + r.dst, c_out, r.len, pixels);
    return;
  }
#if defined(__x86_64__) || defined(_M_X64)
  if (c_in <= 128 && c_out <= 256 && cpu_has_avx512vbmi() && simd_gather_enabled())
    return gather_channels_vbmi(x, c_in, idx, c_out, y, pixels);
#endif
  // Interleaving permutations (channel shuffle): a byte gather per pixel, the index list in 32-bit.
  std::vector<int32_t> ix(idx, idx + c_out);
  const int32_t* __restrict pi = ix.data();
  for (int64_t p = 0; p < pixels; ++p) {
    const uint8_t* __restrict xp = x + p * c_in;
    uint8_t* __restrict yp = y + p * c_out;
    for (int64_t j = 0; j < c_out; ++j) yp[j] = xp[pi[j]];
  }
}

}  // namespace ops
}  // namespace lowp
