// Bindings: register_ops_eltwise (see cpp/python/module.cc). Marshalling only; the math lives in
// cpp/ops/{quantize,eltwise,pool,softmax}.cc. Shapes and dtypes are checked here before any memory
// is touched; the Python layer (python/lowp/ops/eltwise.py) does the user-facing validation.
#include "ops/eltwise.h"
#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/quantize.h"
#include "ops/resize.h"
#include "ops/softmax.h"
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "python/common.h"
#include "runtime/cpu.h"

namespace lowp {

namespace {

int64_t elem_stride(const py::array& a, int d) {
  const ptrdiff_t isz = a.itemsize();
  LOWP_CHECK(a.strides(d) % isz == 0, "array strides must be multiples of the item size");
  return a.strides(d) / isz;
}

void need_c_contig(const py::array& a, const char* what) {
  LOWP_CHECK(a.flags() & py::array::c_style, std::string(what) + " must be C-contiguous");
}

// [outer, axis_len, inner] split of a C-contiguous array around `axis`.
void split_axis(const py::array& a, int axis, int64_t* outer, int64_t* len, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  *len = 1;
  for (int d = 0; d < a.ndim(); ++d) {
    if (d < axis) *outer *= a.shape(d);
    else if (d == axis) *len = a.shape(d);
    else *inner *= a.shape(d);
  }
}

py::array quantize_linear_py(const py::array& x, const py::array& scale, const py::array& zp, int axis,
                             const std::string& out_dtype) {
  LOWP_CHECK(x.dtype().equal(py::dtype::of<float>()), "x must be float32");
  need_c_contig(x, "x");
  DType yt;
  if (out_dtype == "uint8") yt = DType::U8;
  else if (out_dtype == "int8") yt = DType::S8;
  else if (out_dtype == "int16") yt = DType::S16;
  else throw Error("lowp: quantize_linear output must be uint8, int8 or int16");
  auto s = to_vector<float>(scale);
  auto z = to_vector<int32_t>(zp);
  LOWP_CHECK(s.size() == z.size(), "scale and zero point must have the same length");
  LOWP_CHECK(axis >= 0 && (axis < x.ndim() || (x.ndim() == 0 && axis == 0)), "axis out of range");
  int64_t outer, len, inner;
  split_axis(x, axis, &outer, &len, &inner);
  LOWP_CHECK(s.size() == 1 || static_cast<int64_t>(s.size()) == len, "per-axis scale must match the axis length");
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  py::array y(np_dtype(yt), shape);
  const float* xp = static_cast<const float*>(x.data());
  void* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    ops::quantize_linear(xp, yp, yt, outer, len, inner, s.data(), z.data(), static_cast<int64_t>(s.size()));
  }
  return y;
}

// NCHW float32 (N, C, H, W) -> NHWC 8-bit (N, H, W, C), per-tensor QuantizeLinear (graph input boundary).
py::array quantize_nchw_to_nhwc_py(const py::array& x, float scale, int32_t zp, const std::string& out_dtype,
                                   int num_threads) {
  LOWP_CHECK(x.dtype().equal(py::dtype::of<float>()), "x must be float32");
  need_c_contig(x, "x");
  LOWP_CHECK(x.ndim() == 4, "x must be 4-D (N, C, H, W)");
  LOWP_CHECK(std::isfinite(scale) && scale > 0, "scale must be finite and > 0");
  DType yt;
  if (out_dtype == "uint8") yt = DType::U8;
  else if (out_dtype == "int8") yt = DType::S8;
  else throw Error("lowp: quantize_nchw_to_nhwc output must be uint8 or int8");
  LOWP_CHECK(yt == DType::U8 ? (zp >= 0 && zp <= 255) : (zp >= -128 && zp <= 127), "zero point out of range");
  const int64_t N = x.shape(0), C = x.shape(1), H = x.shape(2), W = x.shape(3);
  LOWP_CHECK(C >= 1, "x must have at least one channel");
  py::array y(np_dtype(yt), std::vector<py::ssize_t>{N, H, W, C});
  const float* xp = static_cast<const float*>(x.data());
  void* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    ops::quantize_nchw_to_nhwc(xp, yp, yt, N, C, H * W, scale, zp, num_threads);
  }
  return y;
}

py::array dequantize_linear_py(const py::array& x, const py::array& scale, const py::array& zp, int axis) {
  const DType xt = dtype_of(x, "x");
  need_c_contig(x, "x");
  auto s = to_vector<float>(scale);
  auto z = to_vector<int32_t>(zp);
  LOWP_CHECK(s.size() == z.size(), "scale and zero point must have the same length");
  LOWP_CHECK(axis >= 0 && (axis < x.ndim() || (x.ndim() == 0 && axis == 0)), "axis out of range");
  int64_t outer, len, inner;
  split_axis(x, axis, &outer, &len, &inner);
  LOWP_CHECK(s.size() == 1 || static_cast<int64_t>(s.size()) == len, "per-axis scale must match the axis length");
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  py::array_t<float> y(shape);
  const void* xp = x.data();
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    ops::dequantize_linear(xp, xt, yp, outer, len, inner, s.data(), z.data(), static_cast<int64_t>(s.size()));
  }
  return y;
}

// A caller-provided output: right dtype and shape, C-contiguous, writeable (checked before use).
py::array checked_out(const py::object& out, DType t, const std::vector<py::ssize_t>& shape) {
  if (!py::isinstance<py::array>(out)) throw py::type_error("lowp: out must be a numpy array");
  py::array o = py::reinterpret_borrow<py::array>(out);
  LOWP_CHECK(dtype_of(o, "out") == t, std::string("out must have dtype ") + dtype_name(t));
  LOWP_CHECK(static_cast<size_t>(o.ndim()) == shape.size(), "out has the wrong shape");
  for (size_t d = 0; d < shape.size(); ++d) LOWP_CHECK(o.shape(d) == shape[d], "out has the wrong shape");
  LOWP_CHECK(o.flags() & py::array::c_style, "out must be C-contiguous");
  LOWP_CHECK(o.writeable(), "out is read-only");
  return o;
}

py::array lut_py(const py::array& x, const py::array& table, const std::string& out_dtype, const py::object& out) {
  const DType xt = dtype_of(x, "x");
  LOWP_CHECK(xt == DType::U8 || xt == DType::S8, "x must be uint8 or int8");
  need_c_contig(x, "x");
  const DType yt = parse_dtype(out_dtype);
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "lookup table output must be uint8 or int8");
  LOWP_CHECK(table.ndim() == 1 && table.shape(0) == 256 && table.itemsize() == 1, "table must have 256 8-bit entries");
  auto t = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(py::array(table).view("uint8"));
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  py::array y = out.is_none() ? py::array(np_dtype(yt), shape) : checked_out(out, yt, shape);
  const uint8_t* xp = static_cast<const uint8_t*>(x.data());
  const uint8_t* tp = t.data();
  uint8_t* yp = static_cast<uint8_t*>(y.mutable_data());
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    ops::lut_apply(xp, tp, yp, n);
  }
  return y;
}

// Per-axis lookup: x C-contiguous, axis `axis` of length C, tables (C, 256).
py::array lut_axis_py(const py::array& x, const py::array& tables, int axis, const std::string& out_dtype) {
  const DType xt = dtype_of(x, "x");
  LOWP_CHECK(xt == DType::U8 || xt == DType::S8, "x must be uint8 or int8");
  need_c_contig(x, "x");
  const DType yt = parse_dtype(out_dtype);
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "lookup table output must be uint8 or int8");
  LOWP_CHECK(axis >= 0 && axis < x.ndim(), "axis out of range");
  int64_t outer, len, inner;
  split_axis(x, axis, &outer, &len, &inner);
  LOWP_CHECK(tables.ndim() == 2 && tables.shape(0) == len && tables.shape(1) == 256 && tables.itemsize() == 1,
             "tables must be (axis length, 256) 8-bit entries");
  auto t = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(py::array(tables).view("uint8"));
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  py::array y(np_dtype(yt), shape);
  const uint8_t* xp = static_cast<const uint8_t*>(x.data());
  const uint8_t* tp = t.data();
  uint8_t* yp = static_cast<uint8_t*>(y.mutable_data());
  {
    py::gil_scoped_release nogil;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < len; ++c) {
        const int64_t off = (o * len + c) * inner;
        ops::lut_apply(xp + off, tp + c * 256, yp + off, inner);
      }
  }
  return y;
}

// Concatenate C-contiguous 8-bit arrays along `axis`; tables[i] (256 entries) requantizes input i,
// None copies it. Shapes are checked here; values go through ops::lut_apply or memcpy.
py::array concat_py(const py::list& xs, const py::list& tables, int axis, const std::string& out_dtype) {
  const size_t k = xs.size();
  LOWP_CHECK(k >= 1 && tables.size() == k, "concat needs inputs and one table slot per input");
  const DType yt = parse_dtype(out_dtype);
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "concat output must be uint8 or int8");
  std::vector<py::array> arrs;
  std::vector<py::array_t<uint8_t>> tabs(k);
  std::vector<bool> has_tab(k, false);
  for (size_t i = 0; i < k; ++i) {
    py::array a = py::reinterpret_borrow<py::array>(xs[i]);
    LOWP_CHECK(dtype_of(a, "input") == yt, "concat inputs must share the output dtype");
    need_c_contig(a, "input");
    arrs.push_back(a);
    if (!tables[i].is_none()) {
      py::array t = py::reinterpret_borrow<py::array>(tables[i]);
      LOWP_CHECK(t.ndim() == 1 && t.shape(0) == 256 && t.itemsize() == 1, "tables must have 256 8-bit entries");
      tabs[i] = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(t.view("uint8"));
      has_tab[i] = true;
    }
  }
  const int nd = static_cast<int>(arrs[0].ndim());
  LOWP_CHECK(axis >= 0 && axis < nd, "axis out of range");
  std::vector<py::ssize_t> shape(arrs[0].shape(), arrs[0].shape() + nd);
  shape[axis] = 0;
  for (auto& a : arrs) {
    LOWP_CHECK(a.ndim() == nd, "concat inputs must have the same rank");
    for (int d = 0; d < nd; ++d)
      if (d != axis) LOWP_CHECK(a.shape(d) == arrs[0].shape(d), "concat inputs differ outside the axis");
    shape[axis] += a.shape(axis);
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (int d = axis + 1; d < nd; ++d) inner *= shape[d];
  py::array y(np_dtype(yt), shape);
  std::vector<const uint8_t*> src(k), tp(k, nullptr);
  std::vector<int64_t> blk(k);
  for (size_t i = 0; i < k; ++i) {
    src[i] = static_cast<const uint8_t*>(arrs[i].data());
    blk[i] = arrs[i].shape(axis) * inner;
    if (has_tab[i]) tp[i] = tabs[i].data();
  }
  uint8_t* dst = static_cast<uint8_t*>(y.mutable_data());
  int64_t row = 0;
  for (size_t i = 0; i < k; ++i) row += blk[i];
  {
    py::gil_scoped_release nogil;
    if (outer > 1 && *std::min_element(blk.begin(), blk.end()) < 256) {
      // Short blocks (an NHWC channel concat: a few dozen bytes per pixel): requantize each input in
      // one contiguous table pass, then interleave with strided row copies.
      std::vector<uint8_t> tmp;
      int64_t off = 0;
      for (size_t i = 0; i < k; ++i) {
        const uint8_t* s0 = src[i];
        if (tp[i]) {
          tmp.resize(static_cast<size_t>(outer * blk[i]));
          ops::lut_apply(s0, tp[i], tmp.data(), outer * blk[i]);
          s0 = tmp.data();
        }
        ops::copy_rows(s0, blk[i], dst + off, row, blk[i], outer);
        off += blk[i];
      }
    } else {
      for (int64_t o = 0; o < outer; ++o)
        for (size_t i = 0; i < k; ++i) {
          const uint8_t* s0 = src[i] + o * blk[i];
          if (tp[i]) ops::lut_apply(s0, tp[i], dst, blk[i]);
          else if (blk[i]) std::memcpy(dst, s0, static_cast<size_t>(blk[i]));
          dst += blk[i];
        }
    }
  }
  return y;
}

// y[..., j] = x[..., idx[j]] for a C-contiguous 8-bit x (channel gather on the last axis).
py::array gather_channels_py(const py::array& x, const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& idx) {
  need_c_contig(x, "x");
  LOWP_CHECK(x.itemsize() == 1 && x.ndim() >= 1, "gather_channels takes an 8-bit array of rank >= 1");
  LOWP_CHECK(idx.ndim() == 1, "gather_channels: indices must be 1-D");
  const int nd = static_cast<int>(x.ndim());
  const int64_t c_in = x.shape(nd - 1), c_out = idx.shape(0);
  const int64_t* ip = idx.data();
  for (int64_t j = 0; j < c_out; ++j) LOWP_CHECK(ip[j] >= 0 && ip[j] < c_in, "gather_channels: index out of range");
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + nd);
  shape[nd - 1] = c_out;
  py::array y(x.dtype(), shape);
  const int64_t pixels = c_in ? static_cast<int64_t>(x.size()) / c_in : 0;
  {
    py::gil_scoped_release nogil;
    ops::gather_channels(static_cast<const uint8_t*>(x.data()), c_in, ip, c_out, static_cast<uint8_t*>(y.mutable_data()),
                         pixels);
  }
  return y;
}

// Split a C-contiguous array along `axis` into contiguous pieces of the given sizes (ONNX Split).
py::list split_py(const py::array& x, const std::vector<int64_t>& sizes, int axis) {
  need_c_contig(x, "x");
  const int nd = static_cast<int>(x.ndim());
  LOWP_CHECK(axis >= 0 && axis < nd, "axis out of range");
  int64_t total = 0;
  for (int64_t v : sizes) {
    LOWP_CHECK(v >= 0, "split sizes must be >= 0");
    total += v;
  }
  LOWP_CHECK(total == x.shape(axis), "split sizes must add up to the axis length");
  int64_t outer = 1, inner = static_cast<int64_t>(x.itemsize());
  for (int d = 0; d < axis; ++d) outer *= x.shape(d);
  for (int d = axis + 1; d < nd; ++d) inner *= x.shape(d);
  const int64_t row = total * inner;
  const uint8_t* src = static_cast<const uint8_t*>(x.data());
  py::list out;
  int64_t off = 0;
  for (int64_t v : sizes) {
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + nd);
    shape[axis] = v;
    py::array y(x.dtype(), shape);
    {
      py::gil_scoped_release nogil;
      ops::copy_rows(src + off, row, static_cast<uint8_t*>(y.mutable_data()), v * inner, v * inner, outer);
    }
    off += v * inner;
    out.append(y);
  }
  return out;
}

py::array binary_py(const py::array& a, const py::array& b, const std::string& op, const std::string& rounding,
                    float sa, int32_t za, float sb, int32_t zb, float sc, int32_t zc, int left_shift, int32_t ma,
                    int sha, int32_t mb, int shb, int32_t mc, int shc, int32_t qmin, int32_t qmax,
                    const py::object& out, int num_threads) {
  const DType t = dtype_of(a, "A");
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "A must be uint8 or int8");
  LOWP_CHECK(dtype_of(b, "B") == t, "A and B must have the same dtype");
  // numpy broadcasting: align on the right, size-1 (or missing) axes get stride 0
  const int nd = static_cast<int>(std::max(a.ndim(), b.ndim()));
  LOWP_CHECK(nd <= ops::kMaxDims, "at most 8 dimensions");
  ops::BroadcastShape bs;
  bs.ndim = nd;
  std::vector<py::ssize_t> shape(nd);
  for (int d = 0; d < nd; ++d) {
    const int da = d - (nd - static_cast<int>(a.ndim())), db = d - (nd - static_cast<int>(b.ndim()));
    const int64_t sa_ = da >= 0 ? a.shape(da) : 1, sb_ = db >= 0 ? b.shape(db) : 1;
    LOWP_CHECK(sa_ == sb_ || sa_ == 1 || sb_ == 1,
               "shapes do not broadcast (axis " + std::to_string(d) + ": " + std::to_string(sa_) + " vs " +
                   std::to_string(sb_) + ")");
    const int64_t n = sa_ == 1 ? sb_ : sa_;
    shape[d] = n;
    bs.shape[d] = n;
    bs.stride_a[d] = (da >= 0 && sa_ == n && n != 1) ? elem_stride(a, da) : 0;
    bs.stride_b[d] = (db >= 0 && sb_ == n && n != 1) ? elem_stride(b, db) : 0;
  }
  ops::BinaryParams p;
  if (op == "add") p.op = ops::BinaryOp::Add;
  else if (op == "sub") p.op = ops::BinaryOp::Sub;
  else if (op == "mul") p.op = ops::BinaryOp::Mul;
  else throw Error("lowp: unknown binary op '" + op + "'");
  p.rounding = parse_rounding(rounding);
  p.scale_a = sa; p.scale_b = sb; p.scale_c = sc;
  p.zp_a = za; p.zp_b = zb; p.zp_c = zc;
  p.left_shift = left_shift;
  p.mult_a = ma; p.shift_a = sha; p.mult_b = mb; p.shift_b = shb; p.mult_c = mc; p.shift_c = shc;
  p.qmin = qmin; p.qmax = qmax;
  const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
  LOWP_CHECK(qmin >= lo && qmax <= hi && qmin <= qmax, "activation range must lie inside the output type");
  py::array c = out.is_none() ? py::array(np_dtype(t), shape) : checked_out(out, t, shape);
  const void* ap = a.data();
  const void* bp = b.data();
  void* cp = c.mutable_data();
  {
    py::gil_scoped_release nogil;
    ops::binary_op(bs, ap, bp, cp, t, p, num_threads);
  }
  return c;
}

// x and y are 4-D views in logical (N, C, H, W) order with arbitrary strides; y is written in place.
ops::Pool2D pool_geometry(const py::array& x, const py::array& y, const std::vector<int64_t>& k,
                          const std::vector<int64_t>& s, const std::vector<int64_t>& d,
                          const std::vector<int64_t>& pads) {
  LOWP_CHECK(x.ndim() == 4 && y.ndim() == 4, "pooling works on 4-D (N, C, H, W) views");
  LOWP_CHECK(x.dtype().equal(y.dtype()), "pooling output dtype must match the input");
  LOWP_CHECK(y.writeable(), "pooling output is read-only");
  LOWP_CHECK(k.size() == 2 && s.size() == 2 && d.size() == 2 && pads.size() == 2, "2-D pooling parameters expected");
  LOWP_CHECK(x.shape(0) == y.shape(0) && x.shape(1) == y.shape(1), "pooling output N, C must match the input");
  ops::Pool2D g;
  g.N = x.shape(0); g.C = x.shape(1); g.H = x.shape(2); g.W = x.shape(3);
  g.OH = y.shape(2); g.OW = y.shape(3);
  for (int i = 0; i < 4; ++i) {
    g.xs[i] = elem_stride(x, i);
    g.ys[i] = elem_stride(y, i);
  }
  g.kh = k[0]; g.kw = k[1]; g.sh = s[0]; g.sw = s[1]; g.dh = d[0]; g.dw = d[1];
  g.pad_top = pads[0]; g.pad_left = pads[1];
  // Every output tap must have at least its window origin inside [-pad, H + pad) — enforced by
  // the caller's output-size computation; the kernels bound-check each tap anyway.
  return g;
}

void max_pool_py(const py::array& x, py::array& y, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                 const std::vector<int64_t>& d, const std::vector<int64_t>& pads) {
  const DType t = dtype_of(x, "x");
  ops::Pool2D g = pool_geometry(x, y, k, s, d, pads);
  const void* xp = x.data();
  void* yp = y.mutable_data();
  py::gil_scoped_release nogil;
  ops::max_pool(g, xp, yp, t);
}

void avg_pool_py(const py::array& x, py::array& y, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                 const std::vector<int64_t>& pads, const std::string& mode, float xs, int32_t xz, float ys,
                 int32_t yz, bool count_include_pad, int32_t qmin, int32_t qmax) {
  const DType t = dtype_of(x, "x");
  ops::Pool2D g = pool_geometry(x, y, k, s, {1, 1}, pads);
  const void* xp = x.data();
  void* yp = y.mutable_data();
  if (mode == "float") {
    py::gil_scoped_release nogil;
    ops::avg_pool_float(g, xp, yp, t, xs, xz, ys, yz, count_include_pad);
  } else if (mode == "float_as_uint8") {
    LOWP_CHECK(t == DType::S8, "average pool mode 'float_as_uint8' takes int8 data");
    py::gil_scoped_release nogil;
    ops::avg_pool_float(g, xp, yp, t, xs, xz, ys, yz, count_include_pad, true);
  } else if (mode == "ort_float_rows" || mode == "ort_float_columns" || mode == "ort_float_lanes4") {
    const ops::PoolSumOrder order = mode == "ort_float_rows"      ? ops::PoolSumOrder::kRows
                                    : mode == "ort_float_columns" ? ops::PoolSumOrder::kColumns
                                                                  : ops::PoolSumOrder::kLanes4;
    py::gil_scoped_release nogil;
    ops::avg_pool_ort_float(g, xp, yp, t, xs, xz, ys, yz, count_include_pad, order);
  } else if (mode == "int") {
    const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
    LOWP_CHECK(qmin >= lo && qmax <= hi && qmin <= qmax, "activation range must lie inside the output type");
    py::gil_scoped_release nogil;
    ops::avg_pool_int(g, xp, yp, t, xz, count_include_pad, qmin, qmax);
  } else if (mode == "global_mlas") {
    LOWP_CHECK(g.OH == 1 && g.OW == 1 && g.kh == g.H && g.kw == g.W, "global pooling geometry expected");
    py::gil_scoped_release nogil;
    ops::global_avg_pool_mlas(g, xp, yp, t, xs, xz, ys, yz);
  } else {
    throw Error("lowp: unknown average pool mode '" + mode + "'");
  }
}

py::array softmax_py(const py::array& x, float x_scale, float y_scale, int32_t y_zp, const std::string& out) {
  const DType t = dtype_of(x, "x");
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "x must be uint8 or int8");
  need_c_contig(x, "x");
  LOWP_CHECK(x.ndim() == 2, "softmax works on a 2-D (rows, D) array");
  const int64_t rows = x.shape(0), D = x.shape(1);
  LOWP_CHECK(D > 0, "softmax axis must not be empty");
  if (out == "tflite_gemmlowp" || out == "tflite_single") {
    // y_scale carries beta here
    py::array y(np_dtype(t), {rows, D});
    const void* xp = x.data();
    void* yp = y.mutable_data();
    py::gil_scoped_release nogil;
    ops::tflite_softmax(xp, yp, t, rows, D, x_scale, y_scale, out == "tflite_single");
    return y;
  }
  float table[256];
  ops::softmax_ort_table(x_scale, D, t == DType::S8, table);
  const void* xp = x.data();
  if (out == "float32") {
    py::array_t<float> y({rows, D});
    float* yp = y.mutable_data();
    py::gil_scoped_release nogil;
    ops::qlinear_softmax_ort_float(xp, yp, t, rows, D, table);
    return std::move(y);
  }
  py::array y(np_dtype(t), {rows, D});
  void* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    ops::qlinear_softmax_ort(xp, yp, t, rows, D, table, y_scale, y_zp);
  }
  return y;
}

// x, y: 4-D (N, C, H, W) views (any strides); per-axis index/weight arrays from Python.
void resize_bilinear_py(const py::array& x, py::array& y, const py::array& yi1, const py::array& yi2,
                        const py::array& yd1, const py::array& yd2, const py::array& xi1, const py::array& xi2,
                        const py::array& xd1, const py::array& xd2) {
  const DType t = dtype_of(x, "x");
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "x must be uint8 or int8");
  LOWP_CHECK(x.ndim() == 4 && y.ndim() == 4 && x.dtype().is(y.dtype()), "resize works on 4-D views of one dtype");
  LOWP_CHECK(y.writeable(), "resize output is read-only");
  LOWP_CHECK(x.shape(0) == y.shape(0) && x.shape(1) == y.shape(1), "resize keeps N and C");
  const int64_t OH = y.shape(2), OW = y.shape(3);
  auto i64 = [](const py::array& a, int64_t n, const char* what) {
    auto c = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    LOWP_CHECK(c && c.ndim() == 1 && c.shape(0) == n, std::string("resize: bad ") + what);
    return c;
  };
  auto f32 = [](const py::array& a, int64_t n, const char* what) {
    auto c = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
    LOWP_CHECK(c && c.ndim() == 1 && c.shape(0) == n, std::string("resize: bad ") + what);
    return c;
  };
  auto a1 = i64(yi1, OH, "row indices"), a2 = i64(yi2, OH, "row indices");
  auto b1 = f32(yd1, OH, "row weights"), b2 = f32(yd2, OH, "row weights");
  auto c1 = i64(xi1, OW, "column indices"), c2 = i64(xi2, OW, "column indices");
  auto e1 = f32(xd1, OW, "column weights"), e2 = f32(xd2, OW, "column weights");
  int64_t xs[4], ys[4];
  for (int d = 0; d < 4; ++d) {
    xs[d] = elem_stride(x, d);
    ys[d] = elem_stride(y, d);
  }
  ops::ResizeAxis ay{a1.data(), a2.data(), b1.data(), b2.data()};
  ops::ResizeAxis ax{c1.data(), c2.data(), e1.data(), e2.data()};
  const void* xp = x.data();
  void* yp = y.mutable_data();
  const int64_t N = x.shape(0), C = x.shape(1), H = x.shape(2), W = x.shape(3);
  py::gil_scoped_release nogil;
  ops::resize_bilinear(xp, yp, t, N, C, H, W, OH, OW, xs, ys, ay, ax);
}

py::array logistic_py(const py::array& x, bool fma) {
  auto xf = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
  LOWP_CHECK(xf, "x must be convertible to float32");
  std::vector<py::ssize_t> shape(xf.shape(), xf.shape() + xf.ndim());
  py::array_t<float> y(shape);
  const float* xp = xf.data();
  float* yp = y.mutable_data();
  for (py::ssize_t i = 0; i < xf.size(); ++i) yp[i] = fma ? ops::mlas_logistic_fma(xp[i]) : ops::mlas_logistic_nofma(xp[i]);
  return y;
}

}  // namespace

void register_ops_eltwise(py::module_& m) {
  m.def("quantize_linear", &quantize_linear_py, py::arg("x"), py::arg("scale"), py::arg("zero_point"),
        py::arg("axis"), py::arg("out_dtype"));
  m.def("dequantize_linear", &dequantize_linear_py, py::arg("x"), py::arg("scale"), py::arg("zero_point"),
        py::arg("axis"));
  m.def("lut", &lut_py, py::arg("x"), py::arg("table"), py::arg("out_dtype"), py::arg("out") = py::none());
  m.def("concat", &concat_py, py::arg("inputs"), py::arg("tables"), py::arg("axis"), py::arg("out_dtype"));
  m.def("gather_channels", &gather_channels_py, py::arg("x"), py::arg("idx"));
  m.def("split", &split_py, py::arg("x"), py::arg("sizes"), py::arg("axis"));
  m.def("lut_axis", &lut_axis_py, py::arg("x"), py::arg("tables"), py::arg("axis"), py::arg("out_dtype"));
  m.def("quantize_nchw_to_nhwc", &quantize_nchw_to_nhwc_py, py::arg("x"), py::arg("scale"), py::arg("zero_point"),
        py::arg("out_dtype"), py::arg("num_threads") = 1);
  m.def("binary", &binary_py, py::arg("a"), py::arg("b"), py::arg("op"), py::arg("rounding"), py::arg("sa"),
        py::arg("za"), py::arg("sb"), py::arg("zb"), py::arg("sc"), py::arg("zc"), py::arg("left_shift"),
        py::arg("ma"), py::arg("sha"), py::arg("mb"), py::arg("shb"), py::arg("mc"), py::arg("shc"),
        py::arg("qmin"), py::arg("qmax"), py::arg("out") = py::none(), py::arg("num_threads") = 1);
  m.def("max_pool", &max_pool_py, py::arg("x"), py::arg("y"), py::arg("kernel"), py::arg("strides"),
        py::arg("dilations"), py::arg("pads"));
  // MLAS's NCHWc block size on this CPU (onnxruntime runs float pools of C % block == 0 channels in
  // NCHWc layout): 16 with AVX-512, 8 with AVX2 + FMA, 0 where it has no NCHWc kernels.
  m.def("ort_nchwc_block_size", [] {
#if defined(__x86_64__) || defined(_M_X64)
    // onnxruntime's choice on this CPU (it ignores LOWP_MAX_ISA).
    return cpu::host_has_avx512bw() ? 16 : __builtin_cpu_supports("avx2") ? 8 : 0;
#else
    return 0;
#endif
  });
  m.def("avg_pool", &avg_pool_py, py::arg("x"), py::arg("y"), py::arg("kernel"), py::arg("strides"),
        py::arg("pads"), py::arg("mode"), py::arg("x_scale"), py::arg("x_zero_point"), py::arg("y_scale"),
        py::arg("y_zero_point"), py::arg("count_include_pad"), py::arg("qmin"), py::arg("qmax"));
  m.def("softmax", &softmax_py, py::arg("x"), py::arg("x_scale"), py::arg("y_scale"), py::arg("y_zero_point"),
        py::arg("out"));
  m.def("resize_bilinear", &resize_bilinear_py, py::arg("x"), py::arg("y"), py::arg("yi1"), py::arg("yi2"),
        py::arg("yd1"), py::arg("yd2"), py::arg("xi1"), py::arg("xi2"), py::arg("xd1"), py::arg("xd2"));
  m.def("mlas_logistic", &logistic_py, py::arg("x"), py::arg("fma") = true);
  m.def("tflite_logistic_table", [](float x_scale, int32_t x_zp, const std::string& dtype, bool single) {
    LOWP_CHECK(dtype == "uint8" || dtype == "int8", "dtype must be uint8 or int8");
    LOWP_CHECK(std::isfinite(x_scale) && x_scale > 0, "x_scale must be finite and > 0");
    py::array_t<uint8_t> t(256);
    ops::tflite_logistic_table(x_scale, x_zp, dtype == "int8", single, t.mutable_data());
    return t;
  }, py::arg("x_scale"), py::arg("x_zero_point"), py::arg("dtype"), py::arg("single"));
  m.def("_set_eltwise_simd", &ops::set_eltwise_simd, py::arg("on"),
        "Testing hook: False forces the scalar reference row kernels of the elementwise ops.");
  m.def("_eltwise_kernel", [] { return std::string(ops::eltwise_kernels().name); });
  m.def("_eltwise_kernels", [] {
    std::vector<std::string> v;
    for (const char* const* p = ops::eltwise_kernel_names(); *p; ++p) v.emplace_back(*p);
    return v;
  });
  m.def("_force_eltwise_kernel", [](const std::string& name) { ops::force_eltwise_kernel(name.c_str()); },
        py::arg("name"), "Testing hook: run the elementwise rows with one kernel set ('' = automatic).");
  m.def("_set_lut_simd", &ops::set_lut_simd, py::arg("on"), "Testing hook: False forces the scalar LUT kernel.");
  m.def("_lut_kernel", [] { return std::string(ops::lut_kernel_name()); });
}

}  // namespace lowp
