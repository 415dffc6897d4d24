// onnxruntime's float32 QDQ Add / Mul (see ort_float_eltwise.h): scalar reference, dispatch, broadcasting.
#include "ops/ort_float_eltwise.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

#include "ops/quantize.h"
#include "runtime/cpu.h"
#include "runtime/thread_pool.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
void rows_ref(const T* a, bool as, const T* b, bool bs, T* c, int64_t n, const OrtFloatBinary& k) {
  for (int64_t i = 0; i < n; ++i) {
    const float fa = static_cast<float>(static_cast<int32_t>(a[as ? 0 : i]) - k.za) * k.sa;
    const float fb = static_cast<float>(static_cast<int32_t>(b[bs ? 0 : i]) - k.zb) * k.sb;
    const float y = k.mul ? fa * fb : fa + fb;
    const int32_t q = quantize_one(y, k.sc, k.zc, k.lo, k.hi);
    c[i] = static_cast<T>(std::min(std::max(q, k.qmin), k.qmax));
  }
}

template <typename T>
void rows_f_ref(const T* a, const float* fb, T* c, int64_t n, const OrtFloatBinary& k) {
  for (int64_t i = 0; i < n; ++i) {
    const float fa = static_cast<float>(static_cast<int32_t>(a[i]) - k.za) * k.sa;
    const float y = k.mul ? fa * fb[i] : fa + fb[i];
    const int32_t q = quantize_one(y, k.sc, k.zc, k.lo, k.hi);
    c[i] = static_cast<T>(std::min(std::max(q, k.qmin), k.qmax));
  }
}

}  // namespace

OrtFloatBinary ort_float_binary_params(const std::string& op, DType t, float sa, int32_t za, float sb, int32_t zb,
                                       float sc, int32_t zc, int32_t qmin, int32_t qmax) {
  LOWP_CHECK(op == "add" || op == "mul", "ort float binary: op must be 'add' or 'mul'");
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "ort float binary: uint8 or int8 only");
  OrtFloatBinary k;
  k.mul = op == "mul";
  k.sa = sa;
  k.sb = sb;
  k.sc = sc;
  k.za = za;
  k.zb = zb;
  k.zc = zc;
  k.lo = t == DType::S8 ? -128 : 0;
  k.hi = t == DType::S8 ? 127 : 255;
  LOWP_CHECK(k.lo <= qmin && qmin <= qmax && qmax <= k.hi, "ort float binary: bad clamp range");
  k.qmin = qmin;
  k.qmax = qmax;
  return k;
}

const OrtFloatRowKernels& ort_float_rows_ref() {
  static const OrtFloatRowKernels k{"ref", rows_ref<int8_t>, rows_ref<uint8_t>, rows_f_ref<int8_t>, rows_f_ref<uint8_t>};
  return k;
}

const OrtFloatRowKernels& ort_float_rows(const char* name) {
  const std::string n = name ? name : "";
#if defined(__x86_64__) || defined(_M_X64)
  if ((n.empty() || n == "avx512") && cpu::has_avx512bw()) return ort_float_rows_avx512();
  if ((n.empty() || n == "avx2") && cpu::has_avx2()) return ort_float_rows_avx2();
#endif
  if (n.empty() || n == "ref") return ort_float_rows_ref();
  throw Error("lowp: ort float eltwise kernel '" + n + "' is not available on this machine");
}

std::vector<int64_t> broadcast_out_shape(const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
  const size_t nd = std::max(as.size(), bs.size());
  std::vector<int64_t> out(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t da = i + as.size() >= nd ? as[i + as.size() - nd] : 1;
    const int64_t db = i + bs.size() >= nd ? bs[i + bs.size() - nd] : 1;
    LOWP_CHECK(da >= 0 && db >= 0 && (da == db || da == 1 || db == 1), "shapes do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void ort_float_binary(const std::vector<int64_t>& as, const std::vector<int64_t>& bs, const void* a, const void* b,
                      void* c, DType t, const OrtFloatBinary& k, const char* kernel, int num_threads) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "ort float binary: uint8 or int8 only");
  LOWP_CHECK(as.size() <= 8 && bs.size() <= 8, "ort float binary: at most 8 dimensions");
  const std::vector<int64_t> out = broadcast_out_shape(as, bs);
  const int nd = static_cast<int>(out.size());
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  if (total == 0) return;
  // element strides of a and b in the output's dims (0 along broadcast dims)
  std::vector<int64_t> sta(nd, 0), stb(nd, 0);
  for (int pass = 0; pass < 2; ++pass) {
    const std::vector<int64_t>& s = pass == 0 ? as : bs;
    std::vector<int64_t>& st = pass == 0 ? sta : stb;
    int64_t run = 1;
    for (int i = nd - 1; i >= 0; --i) {
      const int j = i - (nd - static_cast<int>(s.size()));
      const int64_t d = j >= 0 ? s[static_cast<size_t>(j)] : 1;
      st[static_cast<size_t>(i)] = d == 1 ? 0 : run;
      run *= d;
    }
  }
  // merge the innermost dims while both operands keep contiguous (or constant) runs
  int64_t inner = nd > 0 ? out[static_cast<size_t>(nd - 1)] : 1;
  bool a_sc = nd > 0 ? sta[static_cast<size_t>(nd - 1)] == 0 : true;
  bool b_sc = nd > 0 ? stb[static_cast<size_t>(nd - 1)] == 0 : true;
  int outer_nd = nd > 0 ? nd - 1 : 0;
  while (outer_nd > 0) {
    const size_t i = static_cast<size_t>(outer_nd - 1);
    const bool ok_a = a_sc ? sta[i] == 0 : sta[i] == inner;
    const bool ok_b = b_sc ? stb[i] == 0 : stb[i] == inner;
    if (!ok_a || !ok_b) break;
    inner *= out[i];
    --outer_nd;
  }
  // the SIMD rows' division-free QuantizeLinear needs 1 / sc a normal float (ops/ort_float_quot_avx512.h)
  const bool sc_ok = k.sc >= 0x1p-120f && k.sc <= 0x1p120f;
  const OrtFloatRowKernels& kern = (!kernel || !*kernel) && !sc_ok ? ort_float_rows_ref() : ort_float_rows(kernel);
  const int64_t rows = total / inner;
  const size_t es = 1;  // bytes per element (8-bit types)
  // >= ~2 us of work per task; at most 2 tasks per thread
  constexpr int64_t kMinElems = 16 * 1024;
  const int nt = num_threads <= 0 ? ThreadPool::global().threads() : num_threads;  // <= 0: the whole pool
  const int max_tasks = nt > 1 ? static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(2 * nt, total / kMinElems))) : 1;
  auto run_tasks = [&](int tasks, const std::function<void(int, int)>& body) {
    if (tasks <= 1) return body(0, 1);
    ThreadPool::global().parallel_for(tasks, [&](int task, int) { body(task, tasks); }, num_threads);
  };

  // (rows, C) op (1, C) with both runs contiguous: the C-vector dequantized once, tiled over `reps` rows so the
  // row kernel sees long spans. Add and Mul are commutative in float32 (the same bits either way round), so a
  // repeated a swaps with b.
  const bool a_rep = !a_sc && !b_sc && outer_nd >= 1 && rows > 1 &&
                     [&] { for (int i = 0; i < outer_nd; ++i) if (sta[i] != 0) return false; return true; }() &&
                     stb[static_cast<size_t>(outer_nd - 1)] == inner;
  const bool b_rep = !a_sc && !b_sc && outer_nd >= 1 && rows > 1 &&
                     [&] { for (int i = 0; i < outer_nd; ++i) if (stb[i] != 0) return false; return true; }() &&
                     sta[static_cast<size_t>(outer_nd - 1)] == inner;
  if ((a_rep || b_rep) && inner <= 4096) {
    // the full operand is contiguous over all rows: where the vector's dims are 1 the output's are the full
    // operand's, so it broadcasts along none of them
    const int64_t C = inner;
    OrtFloatBinary kk = k;
    const void* full = b_rep ? a : b;
    const void* vec = b_rep ? b : a;
    if (a_rep) {
      std::swap(kk.sa, kk.sb);
      std::swap(kk.za, kk.zb);
    }
    const int64_t reps = std::max<int64_t>(1, 4096 / C);
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(reps * C));
    for (int64_t j = 0; j < C; ++j) {
      const int32_t v = t == DType::S8 ? static_cast<const int8_t*>(vec)[j] : static_cast<const uint8_t*>(vec)[j];
      tile[static_cast<size_t>(j)] = static_cast<float>(v - kk.zb) * kk.sb;  // DequantizeLinear, one rounding
    }
    for (int64_t r = 1; r < reps; ++r) std::memcpy(tile.data() + r * C, tile.data(), static_cast<size_t>(C) * sizeof(float));
    const float* fb = tile.data();
    const int64_t nb = (rows + reps - 1) / reps;
    run_tasks(static_cast<int>(std::min<int64_t>(max_tasks, nb)), [&](int task, int tasks) {
      for (int64_t blk = nb * task / tasks; blk < nb * (task + 1) / tasks; ++blk) {
        const int64_t r0 = blk * reps, n = std::min(reps, rows - r0) * C;
        if (t == DType::S8)
          kern.s8f(static_cast<const int8_t*>(full) + r0 * C * es, fb, static_cast<int8_t*>(c) + r0 * C, n, kk);
        else
          kern.u8f(static_cast<const uint8_t*>(full) + r0 * C * es, fb, static_cast<uint8_t*>(c) + r0 * C, n, kk);
      }
    });
    return;
  }

  auto row = [&](int64_t r, int64_t i0, int64_t i1) {  // elements [i0, i1) of row r
    int64_t oa = 0, ob = 0, rem = r;
    for (int i = outer_nd - 1; i >= 0; --i) {
      const int64_t d = out[static_cast<size_t>(i)], ix = rem % d;
      rem /= d;
      oa += ix * sta[static_cast<size_t>(i)];
      ob += ix * stb[static_cast<size_t>(i)];
    }
    if (!a_sc) oa += i0;
    if (!b_sc) ob += i0;
    if (t == DType::S8)
      kern.s8(static_cast<const int8_t*>(a) + oa, a_sc, static_cast<const int8_t*>(b) + ob, b_sc,
              static_cast<int8_t*>(c) + r * inner + i0, i1 - i0, k);
    else
      kern.u8(static_cast<const uint8_t*>(a) + oa, a_sc, static_cast<const uint8_t*>(b) + ob, b_sc,
              static_cast<uint8_t*>(c) + r * inner + i0, i1 - i0, k);
  };
  if (rows == 1) {  // one long row (same shapes, a scalar operand): slices of whole 64-element blocks
    const int64_t units = (inner + 63) / 64;
    run_tasks(static_cast<int>(std::min<int64_t>(max_tasks, units)), [&](int task, int tasks) {
      const int64_t i0 = std::min(inner, units * task / tasks * 64), i1 = std::min(inner, units * (task + 1) / tasks * 64);
      if (i1 > i0) row(0, i0, i1);
    });
    return;
  }
  run_tasks(static_cast<int>(std::min<int64_t>(max_tasks, rows)), [&](int task, int tasks) {
    for (int64_t r = rows * task / tasks; r < rows * (task + 1) / tasks; ++r) row(r, 0, inner);
  });
}

}  // namespace ops
}  // namespace lowp
