// onnxruntime's float32 QDQ Add / Mul (see ort_float_eltwise.h): scalar reference, dispatch, broadcasting.
#include "ops/ort_float_eltwise.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ops/quantize.h"
#include "runtime/cpu.h"

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
  static const OrtFloatRowKernels k{"ref", rows_ref<int8_t>, rows_ref<uint8_t>};
  return k;
}

const OrtFloatRowKernels& ort_float_rows(const char* name) {
  const std::string n = name ? name : "";
#if defined(__x86_64__) || defined(_M_X64)
  if ((n.empty() || n == "avx512") && cpu::has_avx512bw()) return ort_float_rows_avx512();
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
                      void* c, DType t, const OrtFloatBinary& k, const char* kernel) {
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
  const OrtFloatRowKernels& kern = ort_float_rows(kernel);
  std::vector<int64_t> idx(static_cast<size_t>(outer_nd), 0);
  const int64_t rows = total / inner;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa = 0, ob = 0;
    for (int i = 0; i < outer_nd; ++i) {
      oa += idx[static_cast<size_t>(i)] * sta[static_cast<size_t>(i)];
      ob += idx[static_cast<size_t>(i)] * stb[static_cast<size_t>(i)];
    }
    if (t == DType::S8)
      kern.s8(static_cast<const int8_t*>(a) + oa, a_sc, static_cast<const int8_t*>(b) + ob, b_sc,
              static_cast<int8_t*>(c) + r * inner, inner, k);
    else
      kern.u8(static_cast<const uint8_t*>(a) + oa, a_sc, static_cast<const uint8_t*>(b) + ob, b_sc,
              static_cast<uint8_t*>(c) + r * inner, inner, k);
    for (int i = outer_nd - 1; i >= 0; --i) {
      if (++idx[static_cast<size_t>(i)] < out[static_cast<size_t>(i)]) break;
      idx[static_cast<size_t>(i)] = 0;
    }
  }
}

}  // namespace ops
}  // namespace lowp
