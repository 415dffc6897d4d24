// Bindings: register_program (see cpp/python/module.cc). Marshalling only: builds a native
// exec::Program (cpp/exec/) op by op from python/lowp/passes/native.py, and runs it in one call
// that releases the GIL.
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "exec/ops.h"
#include "exec/program.h"
#include "python/common.h"

namespace lowp {

namespace {

DType parse_qtype(const std::string& s) {
  if (s == "uint8") return DType::U8;
  if (s == "int8") return DType::S8;
  if (s == "int16") return DType::S16;
  if (s == "int32") return DType::S32;
  throw Error("lowp: unsupported element type '" + s + "'");
}

struct TensorSig {
  std::vector<py::ssize_t> shape;
  py::dtype dtype;
  size_t bytes() const {
    size_t n = static_cast<size_t>(dtype.itemsize());
    for (auto d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

inline bool ort_float_fused_1x1(const ops::OrtFloatConv& p) {
  return p.KH == 1 && p.KW == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0 &&
         p.group == 1;
}

class NativeProgram {
 public:
  int input(size_t bytes) { return prog_.add_input(bytes); }
  int constant(const py::array& a) {
    auto c = py::array::ensure(a, py::array::c_style);
    if (!c) throw Error("lowp: cannot make a constant contiguous");
    return prog_.add_const(c.data(), static_cast<size_t>(c.nbytes()));
  }
  int tensor(size_t bytes) { return prog_.add_tensor(bytes); }
  int alias(int slot, size_t bytes) { return prog_.add_alias(slot, bytes); }

  void conv(int x, int y, const std::vector<int64_t>& xs, const std::string& x_dtype, int32_t zx,
            std::shared_ptr<PackedConv> w, const std::vector<int>& strides, const std::vector<int>& dilations,
            const std::vector<int>& pads, const std::string& out_dtype, const std::string& rounding,
            const py::object& bias, const py::object& multiplier, const py::object& shift, const py::object& scale,
            int32_t zero_point, int32_t qmin, int32_t qmax, int num_threads, const std::string& name) {
    LOWP_CHECK(xs.size() == 4 && strides.size() == 2 && dilations.size() == 2 && pads.size() == 4,
               "conv: bad shape / strides / dilations / pads");
    LOWP_CHECK(w && xs[3] == w->Cin(), "conv: input channels do not match the weights");
    for (int64_t d : xs) LOWP_CHECK(d >= 1 && d <= INT32_MAX / 4, "conv: bad input shape");
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(xs[0] * xs[1] * xs[2] * xs[3]),
               "conv: input size does not match its shape");
    const ConvGeometry g = conv_geometry(*w, xs[0], xs[1], xs[2], strides, dilations, pads);
    const OutputSpec spec = output_spec(out_dtype, rounding, bias, multiplier, shift, scale, zero_point, qmin, qmax);
    const size_t osz = spec.out_type == DType::S32 ? 4 : 1;
    LOWP_CHECK(g.OH() >= 1 && g.OW() >= 1 &&
                   prog_.slot_bytes(y) == static_cast<size_t>(g.N) * g.OH() * g.OW() * w->Cout() * osz,
               "conv: output size does not match the geometry");
    prog_.add_op(exec::make_conv(w, g, parse_qtype(x_dtype), zx, spec, num_threads), {x}, {y}, name);
  }

  // onnxruntime's float32 1x1 conv (ops/ort_float_conv.h): the exact int32 conv into an arena
  // tensor, then the finish op (round, or recompute in float32 near a .5 boundary) into y.
  void ort_float_conv(int x, int y, const std::vector<int64_t>& xs, const std::string& x_dtype, int32_t zx,
                      std::shared_ptr<PackedConv> w, const std::vector<int>& strides, const std::vector<int>& dilations,
                      const std::vector<int>& pads, std::shared_ptr<ops::OrtFloatConv> p, int num_threads,
                      const std::string& name) {
    LOWP_CHECK(xs.size() == 4 && strides.size() == 2 && dilations.size() == 2 && pads.size() == 4 && w && p,
               "ort_float_conv: bad shape / strides / dilations / pads or parameters");
    for (int64_t d : xs) LOWP_CHECK(d >= 1 && d <= INT32_MAX / 4, "ort_float_conv: bad input shape");
    LOWP_CHECK(xs[1] == p->H && xs[2] == p->W && xs[3] == p->C && xs[3] == w->Cin() && w->Cout() == p->M &&
                   w->KH() == p->KH && w->KW() == p->KW,
               "ort_float_conv: input shape or weights do not match the parameters");
    LOWP_CHECK(parse_qtype(x_dtype) == p->x_type, "ort_float_conv: input dtype does not match the parameters");
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(xs[0] * xs[1] * xs[2] * xs[3]),
               "ort_float_conv: input size mismatch");
    const ConvGeometry g = conv_geometry(*w, xs[0], xs[1], xs[2], strides, dilations, pads);
    LOWP_CHECK(g.OH() == p->OH && g.OW() == p->OW && g.sh == p->sh && g.sw == p->sw && g.pt == p->pt && g.pl == p->pl,
               "ort_float_conv: geometry does not match the parameters");
    const int64_t pixels = xs[0] * g.OH() * g.OW();
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(pixels * p->M), "ort_float_conv: output size mismatch");
    if (ops::ort_float_is_depthwise(*p)) {
      prog_.add_op(exec::make_ort_float_depthwise(p, pixels, num_threads), {x}, {y}, name);
      return;
    }
    if (p->direct) {
      prog_.add_op(exec::make_ort_float_direct(p, pixels, num_threads), {x}, {y}, name);
      return;
    }
    if (ort_float_fused_1x1(*p)) {
      prog_.add_op(exec::make_ort_float_conv_1x1(p, w, pixels, num_threads), {x}, {y}, name);
      return;
    }
    OutputSpec spec;  // int32 sums, no bias (the finish op adds onnxruntime's float bias)
    const int acc = prog_.add_tensor(static_cast<size_t>(pixels) * p->M * 4);
    prog_.add_op(exec::make_conv(w, g, p->x_type, zx, spec, num_threads), {x}, {acc}, name + ":int32");
    prog_.add_op(exec::make_ort_float_conv_finish(p, pixels, num_threads), {acc, x}, {y}, name);
  }

  void ort_float_binary(int a, int b, int y, const std::vector<int64_t>& as, const std::vector<int64_t>& bs,
                        const std::string& dtype, const std::string& op, float sa, int32_t za, float sb, int32_t zb,
                        float sc, int32_t zc, int32_t qmin, int32_t qmax, int num_threads, const std::string& name) {
    const DType t = parse_qtype(dtype);
    const ops::OrtFloatBinary k = ops::ort_float_binary_params(op, t, sa, za, sb, zb, sc, zc, qmin, qmax);
    auto numel = [](const std::vector<int64_t>& s) {
      int64_t n = 1;
      for (int64_t d : s) {
        LOWP_CHECK(d >= 0, "ort_float_binary: negative dimension");
        n *= d;
      }
      return static_cast<size_t>(n);
    };
    const std::vector<int64_t> out = ops::broadcast_out_shape(as, bs);
    LOWP_CHECK(prog_.slot_bytes(a) == numel(as) && prog_.slot_bytes(b) == numel(bs) && prog_.slot_bytes(y) == numel(out),
               "ort_float_binary: sizes do not match the shapes");
    prog_.add_op(exec::make_ort_float_binary(as, bs, t, k, num_threads), {a, b}, {y}, name);
  }

  void gemm(int x, int y, int M, const std::string& x_dtype, int32_t zx, std::shared_ptr<PackedB> b,
            const std::string& out_dtype, const std::string& rounding, const py::object& bias,
            const py::object& multiplier, const py::object& shift, const py::object& scale, int32_t zero_point,
            int32_t qmin, int32_t qmax, int num_threads, const std::string& name) {
    LOWP_CHECK(b != nullptr, "gemm: no weights");
    const OutputSpec spec = output_spec(out_dtype, rounding, bias, multiplier, shift, scale, zero_point, qmin, qmax);
    const size_t osz = spec.out_type == DType::S32 ? 4 : 1;
    LOWP_CHECK(prog_.slot_bytes(x) >= static_cast<size_t>(M) * b->K(), "gemm: input smaller than M x K");
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(M) * b->N() * osz, "gemm: output size is not M x N");
    prog_.add_op(exec::make_gemm(b, M, parse_qtype(x_dtype), zx, spec, num_threads), {x}, {y}, name);
  }

  // numpy broadcasting of contiguous a (shape as) and b (shape bs_) whose slots hold those sizes (elements of
  // elem_size bytes): the
  // BroadcastShape of binary_op / binary_table, and the output's element count.
  std::pair<ops::BroadcastShape, int64_t> broadcast(int a, int b, const std::vector<int64_t>& as,
                                                    const std::vector<int64_t>& bs_, const char* what,
                                                    size_t elem_size = 1) const {
    const int nd = static_cast<int>(std::max(as.size(), bs_.size()));
    LOWP_CHECK(nd <= ops::kMaxDims, std::string(what) + ": at most 8 dimensions");
    auto cstrides = [](const std::vector<int64_t>& s) {
      std::vector<int64_t> st(s.size(), 1);
      for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d)
        st[static_cast<size_t>(d)] = st[static_cast<size_t>(d + 1)] * s[static_cast<size_t>(d + 1)];
      return st;
    };
    const auto sta = cstrides(as), stb = cstrides(bs_);
    auto numel = [what, elem_size](const std::vector<int64_t>& s) {
      int64_t n = 1;
      for (int64_t d : s) {
        LOWP_CHECK(d >= 0, std::string(what) + ": negative dimension");
        n *= d;
      }
      return static_cast<size_t>(n) * elem_size;
    };
    LOWP_CHECK(prog_.slot_bytes(a) == numel(as) && prog_.slot_bytes(b) == numel(bs_),
               std::string(what) + ": input sizes do not match their shapes");
    ops::BroadcastShape bsh;
    bsh.ndim = nd;
    int64_t total = 1;
    for (int d = 0; d < nd; ++d) {
      const int da = d - (nd - static_cast<int>(as.size())), db = d - (nd - static_cast<int>(bs_.size()));
      const int64_t na = da >= 0 ? as[static_cast<size_t>(da)] : 1, nb = db >= 0 ? bs_[static_cast<size_t>(db)] : 1;
      LOWP_CHECK(na == nb || na == 1 || nb == 1, std::string(what) + ": shapes do not broadcast");
      const int64_t n = na == 1 ? nb : na;
      bsh.shape[d] = n;
      bsh.stride_a[d] = (da >= 0 && na == n && n != 1) ? sta[static_cast<size_t>(da)] : 0;
      bsh.stride_b[d] = (db >= 0 && nb == n && n != 1) ? stb[static_cast<size_t>(db)] : 0;
      total *= n;
    }
    return {bsh, total};
  }

  void binary(int a, int b, int y, const std::vector<int64_t>& as, const std::vector<int64_t>& bs_,
              const std::string& dtype, const std::string& op, const std::string& rounding, float sa, int32_t za,
              float sb, int32_t zb, float sc, int32_t zc, int32_t qmin, int32_t qmax, int num_threads,
              const std::vector<int32_t>& fixed, const std::string& name) {
    const auto [bsh, total] = broadcast(a, b, as, bs_, "binary");
    ops::BinaryParams p;
    if (op == "add") p.op = ops::BinaryOp::Add;
    else if (op == "sub") p.op = ops::BinaryOp::Sub;
    else if (op == "mul") p.op = ops::BinaryOp::Mul;
    else throw Error("lowp: unknown binary op '" + op + "'");
    p.rounding = parse_rounding(rounding);
    p.scale_a = sa; p.scale_b = sb; p.scale_c = sc;
    p.zp_a = za; p.zp_b = zb; p.zp_c = zc;
    p.qmin = qmin; p.qmax = qmax;
    if (p.rounding != Rounding::HalfEven) {
      // TFLite's fixed-point parameters: left_shift, mult_a, shift_a, mult_b, shift_b, mult_c, shift_c
      LOWP_CHECK(fixed.size() == 7, "binary: TFLite rounding needs the 7 fixed-point parameters");
      LOWP_CHECK(fixed[0] >= 0 && fixed[0] <= 24, "binary: left_shift out of range");
      for (int k : {2, 4, 6}) LOWP_CHECK(fixed[k] >= -31 && fixed[k] <= 30, "binary: shift out of range");
      p.left_shift = fixed[0];
      p.mult_a = fixed[1]; p.shift_a = fixed[2];
      p.mult_b = fixed[3]; p.shift_b = fixed[4];
      p.mult_c = fixed[5]; p.shift_c = fixed[6];
    }
    const DType t = parse_qtype(dtype);
    const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
    LOWP_CHECK(qmin >= lo && qmax <= hi && qmin <= qmax, "binary: activation range must lie inside the output type");
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(total), "binary: output size does not match the shapes");
    prog_.add_op(exec::make_binary(bsh, t, p, num_threads), {a, b}, {y}, name);
  }

  // float32 Add / Sub / Mul / Div with numpy broadcasting (float glue between quantized segments).
  void float_binary(int a, int b, int y, const std::vector<int64_t>& as, const std::vector<int64_t>& bs_,
                    const std::string& op, const std::string& name) {
    const auto [bsh, total] = broadcast(a, b, as, bs_, "float_binary", 4);
    ops::FloatBinaryOp o;
    if (op == "Add") o = ops::FloatBinaryOp::Add;
    else if (op == "Sub") o = ops::FloatBinaryOp::Sub;
    else if (op == "Mul") o = ops::FloatBinaryOp::Mul;
    else if (op == "Div") o = ops::FloatBinaryOp::Div;
    else throw Error("lowp: float_binary: unknown op '" + op + "'");
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(total) * 4, "float_binary: output size does not match");
    prog_.add_op(exec::make_float_binary(bsh, o), {a, b}, {y}, name);
  }

  // numpy's float32 mean over the middle axis of [outer, len, inner] (inner > 1).
  void float_mean(int x, int y, int64_t outer, int64_t len, int64_t inner, const std::string& name) {
    LOWP_CHECK(outer >= 0 && len >= 1 && inner > 1 &&
                   prog_.slot_bytes(x) == static_cast<size_t>(outer * len * inner) * 4 &&
                   prog_.slot_bytes(y) == static_cast<size_t>(outer * inner) * 4,
               "float_mean: sizes do not match [outer, len, inner]");
    prog_.add_op(exec::make_float_mean(outer, len, inner), {x}, {y}, name);
  }

  // A binary operator on 8-bit data given as its 64 KiB table of every byte pair (table[ua << 8 | ub], the
  // TFLite importer's SQUARED_DIFFERENCE), with numpy broadcasting.
  void binary_table(int a, int b, int y, const std::vector<int64_t>& as, const std::vector<int64_t>& bs_,
                    const py::array& table, int num_threads, const std::string& name) {
    const auto [bsh, total] = broadcast(a, b, as, bs_, "binary_table");
    auto t = py::array::ensure(table, py::array::c_style);
    LOWP_CHECK(t && t.itemsize() == 1 && t.size() == 65536, "binary_table: the table must be 65536 bytes");
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(total), "binary_table: output size does not match the shapes");
    const auto* tp = static_cast<const uint8_t*>(t.data());
    prog_.add_op(exec::make_binary_table(bsh, std::vector<uint8_t>(tp, tp + 65536), num_threads), {a, b}, {y}, name);
  }

  void lut(int x, int y, const py::array& table, int64_t n, int num_threads, const std::string& name) {
    LOWP_CHECK(table.ndim() == 1 && table.shape(0) == 256 && table.itemsize() == 1, "lut: 256 8-bit entries");
    auto t = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(py::array(table).view("uint8"));
    LOWP_CHECK(prog_.slot_bytes(x) >= static_cast<size_t>(n) && prog_.slot_bytes(y) == static_cast<size_t>(n),
               "lut: sizes do not match");
    prog_.add_op(exec::make_lut(t.data(), n, num_threads), {x}, {y}, name);
  }

  // ONNX DynamicQuantizeLinear of n float32 values into y (uint8), scale (float32) and zero point (uint8).
  void dynamic_quantize(int x, int y, int scale, int zp, int64_t n, const std::string& name) {
    LOWP_CHECK(n >= 1 && prog_.slot_bytes(x) == static_cast<size_t>(n) * 4 && prog_.slot_bytes(y) == static_cast<size_t>(n) &&
                   prog_.slot_bytes(scale) == 4 && prog_.slot_bytes(zp) == 1,
               "dynamic_quantize: sizes do not match");
    prog_.add_op(exec::make_dynamic_quantize(n), {x}, {y, scale, zp}, name);
  }

  // MatMulInteger with a run-time zero point (one element in slot xz): x M x K -> y M x N int32.
  void gemm_dynamic_zero_point(int x, int xz, int y, int M, const std::string& x_dtype, std::shared_ptr<PackedB> b,
                               int num_threads, const std::string& name) {
    const DType t = parse_qtype(x_dtype);
    LOWP_CHECK(b && M >= 1 && (t == DType::U8 || t == DType::S8) &&
                   prog_.slot_bytes(x) == static_cast<size_t>(M) * b->K() && prog_.slot_bytes(xz) == 1 &&
                   prog_.slot_bytes(y) == static_cast<size_t>(M) * b->N() * 4,
               "gemm_dynamic_zero_point: sizes do not match");
    prog_.add_op(exec::make_gemm_dynamic_zero_point(b, M, t, num_threads), {x, xz}, {y}, name);
  }

  // TFLite GATHER with run-time indices: params [outer, n, inner_bytes], n_idx int32 / int64 indices.
  void gather_rows(int params, int idx, int y, int64_t outer, int64_t n, int64_t inner_bytes, int64_t n_idx,
                   const std::string& idx_dtype, const std::string& name) {
    LOWP_CHECK(idx_dtype == "int32" || idx_dtype == "int64", "gather_rows: int32 or int64 indices");
    const size_t isz = idx_dtype == "int64" ? 8 : 4;
    LOWP_CHECK(outer >= 0 && n >= 1 && inner_bytes >= 1 && n_idx >= 0 &&
                   prog_.slot_bytes(params) == static_cast<size_t>(outer * n * inner_bytes) &&
                   prog_.slot_bytes(idx) == static_cast<size_t>(n_idx) * isz &&
                   prog_.slot_bytes(y) == static_cast<size_t>(outer * n_idx * inner_bytes),
               "gather_rows: sizes do not match");
    prog_.add_op(exec::make_gather_rows(outer, n, inner_bytes, n_idx, isz == 8), {params, idx}, {y}, name);
  }

  // ONNX Cast of n int32 / uint8 / int8 values to float32.
  void cast_to_float(int x, int y, int64_t n, const std::string& from, const std::string& name) {
    const DType t = parse_qtype(from);
    const size_t esz = t == DType::S32 ? 4 : 1;
    LOWP_CHECK(t != DType::S16 && prog_.slot_bytes(x) == static_cast<size_t>(n) * esz &&
                   prog_.slot_bytes(y) == static_cast<size_t>(n) * 4,
               "cast_to_float: sizes do not match");
    prog_.add_op(exec::make_cast_to_float(n, t), {x}, {y}, name);
  }

  // Float glue (ops/float_glue.h) of dynamic-quantized transformers.
  void float_softmax(int x, int y, int64_t rows, int64_t len, const std::string& name) {
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(rows * len) * 4 && prog_.slot_bytes(y) == prog_.slot_bytes(x),
               "float_softmax: sizes do not match rows x len");
    prog_.add_op(exec::make_float_softmax(rows, len), {x}, {y}, name);
  }
  void float_layer_norm(int x, int y, int mean, int inv, int64_t rows, int64_t len, std::vector<float> scale,
                        std::vector<float> bias, double eps, const std::string& name) {
    const bool stats = mean >= 0 && inv >= 0;
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(rows * len) * 4 && prog_.slot_bytes(y) == prog_.slot_bytes(x) &&
                   (!stats || (prog_.slot_bytes(mean) == static_cast<size_t>(rows) * 4 &&
                               prog_.slot_bytes(inv) == static_cast<size_t>(rows) * 4)),
               "float_layer_norm: sizes do not match rows x len");
    auto op = exec::make_float_layer_norm(rows, len, std::move(scale), std::move(bias), eps, stats);
    if (stats)
      prog_.add_op(std::move(op), {x}, {y, mean, inv}, name);
    else
      prog_.add_op(std::move(op), {x}, {y}, name);
  }
  void float_gelu(int x, int y, int64_t n, bool tanh_form, const std::string& name) {
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(n) * 4 && prog_.slot_bytes(y) == prog_.slot_bytes(x),
               "float_gelu: sizes do not match");
    prog_.add_op(exec::make_float_gelu(n, tanh_form), {x}, {y}, name);
  }
  void float_matmul(int a, int b, int c, int64_t a_blocks, int64_t b_blocks, std::vector<int64_t> li,
                    std::vector<int64_t> ri, int64_t M, int64_t K, int64_t N, const std::string& name) {
    LOWP_CHECK(li.size() == ri.size() && a_blocks >= 1 && b_blocks >= 1, "float_matmul: bad blocks");
    for (size_t i = 0; i < li.size(); ++i)
      LOWP_CHECK(li[i] >= 0 && li[i] < a_blocks && ri[i] >= 0 && ri[i] < b_blocks, "float_matmul: block out of range");
    LOWP_CHECK(prog_.slot_bytes(a) == static_cast<size_t>(a_blocks * M * K) * 4 &&
                   prog_.slot_bytes(b) == static_cast<size_t>(b_blocks * K * N) * 4 &&
                   prog_.slot_bytes(c) == li.size() * static_cast<size_t>(M * N) * 4,
               "float_matmul: sizes do not match the blocks");
    prog_.add_op(exec::make_float_matmul(std::move(li), std::move(ri), M, K, N), {a, b}, {c}, name);
  }

  // Per-channel tables (C x 256 bytes) over rows x C channels-last bytes.
  void lut_channels(int x, int y, const py::array& tables, int64_t rows, int64_t C, const std::string& name) {
    auto t = py::array::ensure(tables, py::array::c_style);
    LOWP_CHECK(t && t.itemsize() == 1 && C >= 1 && rows >= 0 && t.size() == C * 256,
               "lut_channels: C x 256 8-bit tables");
    LOWP_CHECK(prog_.slot_bytes(x) == static_cast<size_t>(rows * C) && prog_.slot_bytes(y) == static_cast<size_t>(rows * C),
               "lut_channels: sizes do not match rows x C");
    const auto* tp = static_cast<const uint8_t*>(t.data());
    prog_.add_op(exec::make_lut_channels(std::vector<uint8_t>(tp, tp + C * 256), rows, C), {x}, {y}, name);
  }

  // x, y NHWC (N, H, W, C) / (N, OH, OW, C) contiguous.
  void pool(int x, int y, const std::vector<int64_t>& xs, const std::vector<int64_t>& ys, const std::string& dtype,
            exec::PoolMode mode, const std::vector<int64_t>& k, const std::vector<int64_t>& s, const std::vector<int64_t>& d,
            const std::vector<int64_t>& pads, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
            bool count_include_pad, int32_t qmin, int32_t qmax, const std::string& name) {
    LOWP_CHECK(xs.size() == 4 && ys.size() == 4 && k.size() == 2 && s.size() == 2 && d.size() == 2 && pads.size() == 2,
               "pool: bad shapes or parameters");
    LOWP_CHECK(xs[0] == ys[0] && xs[3] == ys[3], "pool: N and C must match");
    ops::Pool2D g;
    g.N = xs[0]; g.C = xs[3]; g.H = xs[1]; g.W = xs[2];
    g.OH = ys[1]; g.OW = ys[2];
    g.xs[0] = xs[1] * xs[2] * xs[3]; g.xs[1] = 1; g.xs[2] = xs[2] * xs[3]; g.xs[3] = xs[3];
    g.ys[0] = ys[1] * ys[2] * ys[3]; g.ys[1] = 1; g.ys[2] = ys[2] * ys[3]; g.ys[3] = ys[3];
    g.kh = k[0]; g.kw = k[1]; g.sh = s[0]; g.sw = s[1]; g.dh = d[0]; g.dw = d[1];
    g.pad_top = pads[0]; g.pad_left = pads[1];
    for (int i = 0; i < 2; ++i) LOWP_CHECK(k[i] >= 1 && s[i] >= 1 && d[i] >= 1 && pads[i] >= 0, "pool: bad parameters");
    const DType t = parse_qtype(dtype);
    const size_t nx = static_cast<size_t>(xs[0] * xs[1] * xs[2] * xs[3]);
    const size_t ny = static_cast<size_t>(ys[0] * ys[1] * ys[2] * ys[3]);
    LOWP_CHECK(prog_.slot_bytes(x) >= nx && prog_.slot_bytes(y) == ny, "pool: sizes do not match");
    exec::AvgPoolParams p;
    p.x_scale = x_scale; p.x_zp = x_zp; p.y_scale = y_scale; p.y_zp = y_zp;
    p.count_include_pad = count_include_pad; p.qmin = qmin; p.qmax = qmax;
    prog_.add_op(exec::make_pool(g, t, mode, p), {x}, {y}, name);
  }

  void quantize_nhwc(int x, int y, int64_t N, int64_t C, int64_t HW, const std::string& dtype, float scale,
                     int32_t zp, int num_threads, const std::string& name) {
    LOWP_CHECK(std::isfinite(scale) && scale > 0, "quantize: scale must be finite and > 0");
    const DType t = parse_qtype(dtype);
    LOWP_CHECK(t == DType::U8 ? (zp >= 0 && zp <= 255) : (zp >= -128 && zp <= 127), "quantize: zero point out of range");
    const size_t n = static_cast<size_t>(N * C * HW);
    LOWP_CHECK(prog_.slot_bytes(x) == 4 * n && prog_.slot_bytes(y) == n, "quantize: sizes do not match");
    prog_.add_op(exec::make_quantize_nchw_to_nhwc(N, C, HW, t, scale, zp, num_threads), {x}, {y}, name);
  }

  void quantize(int x, int y, bool dequant, int64_t outer, int64_t len, int64_t inner, const std::string& dtype,
                const py::array& scale, const py::array& zp, const std::string& name) {
    const DType t = parse_qtype(dtype);
    const size_t n = static_cast<size_t>(outer * len * inner);
    const size_t qb = t == DType::S16 ? 2 : (t == DType::S32 ? 4 : 1);
    LOWP_CHECK(t != DType::S32, "quantize: 8/16-bit types only");
    LOWP_CHECK(prog_.slot_bytes(x) == (dequant ? qb : 4) * n && prog_.slot_bytes(y) == (dequant ? 4 : qb) * n,
               "quantize: sizes do not match");
    auto s = to_vector<float>(scale);
    auto z = to_vector<int32_t>(zp);
    prog_.add_op(dequant ? exec::make_dequantize(outer, len, inner, t, std::move(s), std::move(z))
                         : exec::make_quantize(outer, len, inner, t, std::move(s), std::move(z)),
                 {x}, {y}, name);
  }

  void transpose(int x, int y, const std::vector<int64_t>& shape, const std::vector<int>& perm, size_t esz,
                 const std::string& name) {
    size_t n = esz;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    LOWP_CHECK(prog_.slot_bytes(x) == n && prog_.slot_bytes(y) == n, "transpose: sizes do not match");
    prog_.add_op(exec::make_transpose(shape, perm, esz), {x}, {y}, name);
  }

  void softmax(int x, int y, int64_t rows, int64_t D, const std::string& dtype, float x_scale, float y_scale,
               int32_t y_zp, const std::string& name) {
    const DType t = parse_qtype(dtype);
    LOWP_CHECK(rows >= 0 && D >= 1 && prog_.slot_bytes(x) == static_cast<size_t>(rows * D) &&
                   prog_.slot_bytes(y) == static_cast<size_t>(rows * D),
               "softmax: sizes do not match rows x D");
    prog_.add_op(exec::make_softmax(rows, D, t, x_scale, y_scale, y_zp), {x}, {y}, name);
  }

  void softmax_tflite(int x, int y, int64_t rows, int64_t D, const std::string& dtype, float x_scale, float beta,
                      const std::string& rounding, const std::string& name) {
    const DType t = parse_qtype(dtype);
    const Rounding r = parse_rounding(rounding);
    LOWP_CHECK(r != Rounding::HalfEven, "softmax_tflite: rounding must be gemmlowp or single");
    LOWP_CHECK(rows >= 0 && D >= 1 && prog_.slot_bytes(x) == static_cast<size_t>(rows * D) &&
                   prog_.slot_bytes(y) == static_cast<size_t>(rows * D),
               "softmax: sizes do not match rows x D");
    prog_.add_op(exec::make_softmax_tflite(rows, D, t, x_scale, beta, r == Rounding::Single), {x}, {y}, name);
  }

  // TFLite BATCH_MATMUL (exec::make_batch_matmul): lhs holds lhs_blocks matrices, rhs rhs_blocks, y one per index.
  void batch_matmul(int lhs, int rhs, int y, int64_t lhs_blocks, int64_t rhs_blocks, std::vector<int64_t> lhs_index,
                    std::vector<int64_t> rhs_index, int M, int K, int N, bool adj_x, bool adj_y,
                    const std::string& a_dtype, const std::string& b_dtype, int32_t za, int32_t zb,
                    const std::string& kernel, const std::string& out_dtype, const std::string& rounding,
                    const py::object& multiplier, const py::object& shift, const py::object& scale,
                    int32_t zero_point, int32_t qmin, int32_t qmax, int num_threads, const std::string& name) {
    LOWP_CHECK(M >= 1 && K >= 1 && N >= 1 && lhs_blocks >= 1 && rhs_blocks >= 1 &&
                   lhs_index.size() == rhs_index.size() && !lhs_index.empty(),
               "batch_matmul: bad sizes");
    for (size_t b = 0; b < lhs_index.size(); ++b)
      LOWP_CHECK(lhs_index[b] >= 0 && lhs_index[b] < lhs_blocks && rhs_index[b] >= 0 && rhs_index[b] < rhs_blocks,
                 "batch_matmul: block index out of range");
    exec::BatchMatMulParams p;
    p.M = M, p.K = K, p.N = N, p.adj_x = adj_x, p.adj_y = adj_y;
    p.a_type = parse_qtype(a_dtype), p.b_type = parse_qtype(b_dtype), p.za = za, p.zb = zb;
    LOWP_CHECK(p.a_type != DType::S32 && p.b_type != DType::S32 && p.a_type != DType::S16 && p.b_type != DType::S16,
               "batch_matmul: 8-bit operands only");
    p.lhs_index = std::move(lhs_index), p.rhs_index = std::move(rhs_index);
    const OutputSpec spec = output_spec(out_dtype, rounding, py::none(), multiplier, shift, scale, zero_point,
                                        qmin, qmax);
    const size_t osz = spec.out_type == DType::S32 ? 4 : 1;
    LOWP_CHECK(prog_.slot_bytes(lhs) == static_cast<size_t>(lhs_blocks) * M * K &&
                   prog_.slot_bytes(rhs) == static_cast<size_t>(rhs_blocks) * K * N &&
                   prog_.slot_bytes(y) == p.lhs_index.size() * M * N * osz,
               "batch_matmul: tensor sizes do not match the blocks");
    const GemmKernel& k = select_kernel_for(kernel.c_str(), K);
    prog_.add_op(exec::make_batch_matmul(k, std::move(p), spec, num_threads), {lhs, rhs}, {y}, name);
  }

  void mean_tflite(int x, int y, int64_t outer, int64_t len, int64_t inner, const std::string& dtype, int32_t x_zp,
                   int32_t multiplier, int shift, int32_t y_zp, const std::string& name) {
    const DType t = parse_qtype(dtype);
    LOWP_CHECK(outer >= 0 && len >= 1 && inner >= 0 && prog_.slot_bytes(x) == static_cast<size_t>(outer * len * inner) &&
                   prog_.slot_bytes(y) == static_cast<size_t>(outer * inner),
               "mean_tflite: sizes do not match [outer, len, inner]");
    prog_.add_op(exec::make_mean_tflite(outer, len, inner, t, x_zp, multiplier, shift, y_zp), {x}, {y}, name);
  }

  void quantize_tflite(int x, int y, int64_t n, const std::string& dtype, float scale, int32_t zp,
                       const std::string& name) {
    const DType t = parse_qtype(dtype);
    LOWP_CHECK(n >= 0 && prog_.slot_bytes(x) == static_cast<size_t>(n) * 4 && prog_.slot_bytes(y) == static_cast<size_t>(n),
               "quantize_tflite: sizes do not match n");
    prog_.add_op(exec::make_quantize_tflite(n, t, scale, zp), {x}, {y}, name);
  }

  void copy(int x, int y, const std::string& name) {
    LOWP_CHECK(prog_.slot_bytes(x) == prog_.slot_bytes(y), "copy: sizes differ");
    prog_.add_op(exec::make_copy(prog_.slot_bytes(y)), {x}, {y}, name);
  }

  // runs[k]: (n, 3) int64 array of {src offset, dst offset, bytes} for output ys[k].
  void copy_runs(int x, const std::vector<int>& ys, const py::list& runs, const std::string& name) {
    LOWP_CHECK(!ys.empty() && runs.size() == ys.size(), "copy_runs: one run list per output");
    std::vector<std::vector<exec::CopyRun>> rv(ys.size());
    const int64_t xb = static_cast<int64_t>(prog_.slot_bytes(x));
    for (size_t k = 0; k < ys.size(); ++k) {
      auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(runs[k]);
      LOWP_CHECK(a && a.ndim() == 2 && a.shape(1) == 3, "copy_runs: runs must be (n, 3) int64");
      const int64_t yb = static_cast<int64_t>(prog_.slot_bytes(ys[k]));
      const int64_t* p = a.data();
      int64_t covered = 0;
      for (py::ssize_t i = 0; i < a.shape(0); ++i) {
        const exec::CopyRun r{p[3 * i], p[3 * i + 1], p[3 * i + 2]};
        LOWP_CHECK(r.src >= 0 && r.dst >= 0 && r.len >= 0 && r.src + r.len <= xb && r.dst + r.len <= yb,
                   "copy_runs: a run is out of bounds");
        covered += r.len;
        rv[k].push_back(r);
      }
      LOWP_CHECK(covered == yb, "copy_runs: the runs must cover each output exactly");
    }
    std::vector<int> in{x};
    prog_.add_op(exec::make_copy_runs(std::move(rv)), in, ys, name);
  }

  void gather_channels(int x, int y, int64_t c_in, const std::vector<int64_t>& idx, int64_t pixels,
                       const std::string& name) {
    LOWP_CHECK(c_in >= 1 && pixels >= 0 && prog_.slot_bytes(x) == static_cast<size_t>(pixels * c_in) &&
                   prog_.slot_bytes(y) == static_cast<size_t>(pixels * static_cast<int64_t>(idx.size())),
               "gather_channels: sizes do not match");
    prog_.add_op(exec::make_gather_channels(c_in, idx, pixels), {x}, {y}, name);
  }

  void concat(const std::vector<int>& xs, int y, int64_t outer, const std::vector<int64_t>& block_bytes,
              const py::list& tables, const std::string& name) {
    LOWP_CHECK(xs.size() == block_bytes.size() && tables.size() == xs.size(), "concat: one block and table per input");
    std::vector<std::vector<uint8_t>> tabs(xs.size());
    int64_t total = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      LOWP_CHECK(block_bytes[i] >= 0 && prog_.slot_bytes(xs[i]) == static_cast<size_t>(outer * block_bytes[i]),
                 "concat: input size does not match its block");
      total += block_bytes[i];
      if (!tables[i].is_none()) {
        py::array t = py::reinterpret_borrow<py::array>(tables[i]);
        LOWP_CHECK(t.ndim() == 1 && t.shape(0) == 256 && t.itemsize() == 1, "concat: tables have 256 8-bit entries");
        tabs[i] = to_vector<uint8_t>(py::array(t).view("uint8"));
      }
    }
    LOWP_CHECK(prog_.slot_bytes(y) == static_cast<size_t>(outer * total), "concat: output size does not match");
    prog_.add_op(exec::make_concat(outer, block_bytes, std::move(tabs)), xs, {y}, name);
  }

  void finalize(const py::list& in_shapes, const py::list& in_dtypes, const std::vector<int>& out_slots,
                const py::list& out_shapes, const py::list& out_dtypes) {
    LOWP_CHECK(in_shapes.size() == prog_.num_inputs() && in_dtypes.size() == in_shapes.size(),
               "finalize: one shape and dtype per input");
    LOWP_CHECK(out_shapes.size() == out_slots.size() && out_dtypes.size() == out_slots.size(),
               "finalize: one shape and dtype per output");
    for (size_t i = 0; i < in_shapes.size(); ++i)
      ins_.push_back(TensorSig{in_shapes[i].cast<std::vector<py::ssize_t>>(), py::dtype::from_args(in_dtypes[i])});
    for (size_t i = 0; i < out_shapes.size(); ++i) {
      outs_.push_back(TensorSig{out_shapes[i].cast<std::vector<py::ssize_t>>(), py::dtype::from_args(out_dtypes[i])});
      LOWP_CHECK(outs_.back().bytes() == prog_.slot_bytes(out_slots[i]), "finalize: output size does not match");
    }
    prog_.set_outputs(out_slots);
    prog_.finalize();
  }

  py::object run(const py::sequence& inputs, bool timed) const {
    LOWP_CHECK(prog_.finalized(), "native program is not finalized");
    LOWP_CHECK(inputs.size() == ins_.size(), "native program: wrong number of inputs");
    std::vector<py::array> keep;
    std::vector<const void*> ip(ins_.size());
    for (size_t i = 0; i < ins_.size(); ++i) {
      py::object o = inputs[i];
      if (!py::isinstance<py::array>(o)) throw py::type_error("lowp: native program inputs must be numpy arrays");
      py::array a = py::reinterpret_borrow<py::array>(o);
      const TensorSig& s = ins_[i];
      if (!a.dtype().equal(s.dtype)) throw py::type_error("lowp: native program input " + std::to_string(i) +
                                                          " has the wrong dtype");
      bool same = static_cast<size_t>(a.ndim()) == s.shape.size();
      for (size_t d = 0; same && d < s.shape.size(); ++d) same = a.shape(static_cast<py::ssize_t>(d)) == s.shape[d];
      LOWP_CHECK(same, "native program input " + std::to_string(i) + " has a shape it was not built for");
      if (!(a.flags() & py::array::c_style)) a = py::array::ensure(a, py::array::c_style);
      if (!a) throw Error("lowp: cannot make an input contiguous");
      keep.push_back(a);
      ip[i] = a.data();
    }
    py::list outs;
    std::vector<void*> op(outs_.size());
    for (size_t j = 0; j < outs_.size(); ++j) {
      py::array y = new_output(outs_[j].dtype, outs_[j].shape);
      op[j] = y.mutable_data();
      outs.append(y);
    }
    std::vector<int64_t> ns(timed ? prog_.num_ops() : 0);
    {
      py::gil_scoped_release nogil;
      prog_.run(ip.data(), op.data(), timed ? ns.data() : nullptr);
    }
    if (!timed) return std::move(outs);
    return py::make_tuple(outs, ns);
  }

  std::vector<std::string> op_names() const {
    std::vector<std::string> v;
    for (size_t i = 0; i < prog_.num_ops(); ++i) v.push_back(prog_.op_name(i));
    return v;
  }
  const exec::Program& prog() const { return prog_; }

 private:
  exec::Program prog_;
  std::vector<TensorSig> ins_, outs_;
};

}  // namespace

void register_program(py::module_& m) {
  py::enum_<exec::PoolMode>(m, "PoolMode", "How NativeProgram.pool pools (cpp/exec/ops.h).")
      .value("max", exec::PoolMode::kMax)
      .value("average", exec::PoolMode::kAverage)
      .value("global_mlas", exec::PoolMode::kGlobalMlas)
      .value("average_int", exec::PoolMode::kAverageInt)
      .value("average_s8_as_u8", exec::PoolMode::kAverageS8AsU8)
      .value("ort_float_rows", exec::PoolMode::kOrtFloatRows)
      .value("ort_float_columns", exec::PoolMode::kOrtFloatColumns)
      .value("ort_float_lanes4", exec::PoolMode::kOrtFloatLanes4);
  py::class_<NativeProgram, std::shared_ptr<NativeProgram>>(m, "NativeProgram")
      .def(py::init<>())
      .def("input", &NativeProgram::input, py::arg("nbytes"))
      .def("constant", &NativeProgram::constant, py::arg("array"))
      .def("tensor", &NativeProgram::tensor, py::arg("nbytes"))
      .def("alias", &NativeProgram::alias, py::arg("slot"), py::arg("nbytes"))
      .def("conv", &NativeProgram::conv, py::arg("x"), py::arg("y"), py::arg("x_shape"), py::arg("x_dtype"),
           py::arg("x_zero_point"), py::arg("w"), py::arg("strides"), py::arg("dilations"), py::arg("pads"),
           py::arg("out_dtype"), py::arg("rounding") = "half_even", py::arg("bias") = py::none(),
           py::arg("multiplier") = py::none(), py::arg("shift") = py::none(), py::arg("scale") = py::none(),
           py::arg("zero_point") = 0, py::arg("qmin") = 0, py::arg("qmax") = 0, py::arg("num_threads") = 0,
           py::arg("name") = "conv")
      .def("gemm", &NativeProgram::gemm, py::arg("x"), py::arg("y"), py::arg("M"), py::arg("x_dtype"),
           py::arg("x_zero_point"), py::arg("b"), py::arg("out_dtype"), py::arg("rounding") = "half_even",
           py::arg("bias") = py::none(), py::arg("multiplier") = py::none(), py::arg("shift") = py::none(),
           py::arg("scale") = py::none(), py::arg("zero_point") = 0, py::arg("qmin") = 0, py::arg("qmax") = 0,
           py::arg("num_threads") = 0, py::arg("name") = "gemm")
      .def("float_binary", &NativeProgram::float_binary, py::arg("a"), py::arg("b"), py::arg("y"), py::arg("a_shape"),
           py::arg("b_shape"), py::arg("op"), py::arg("name") = "float_binary")
      .def("float_mean", &NativeProgram::float_mean, py::arg("x"), py::arg("y"), py::arg("outer"), py::arg("len"),
           py::arg("inner"), py::arg("name") = "float_mean")
      .def("dynamic_quantize", &NativeProgram::dynamic_quantize, py::arg("x"), py::arg("y"), py::arg("scale"),
           py::arg("zp"), py::arg("n"), py::arg("name") = "dynamic_quantize")
      .def("gemm_dynamic_zero_point", &NativeProgram::gemm_dynamic_zero_point, py::arg("x"), py::arg("xz"), py::arg("y"),
           py::arg("M"), py::arg("x_dtype"), py::arg("b"), py::arg("num_threads") = 0, py::arg("name") = "gemm")
      .def("gather_rows", &NativeProgram::gather_rows, py::arg("params"), py::arg("idx"), py::arg("y"),
           py::arg("outer"), py::arg("n"), py::arg("inner_bytes"), py::arg("n_idx"), py::arg("idx_dtype"),
           py::arg("name") = "gather")
      .def("cast_to_float", &NativeProgram::cast_to_float, py::arg("x"), py::arg("y"), py::arg("n"), py::arg("from_dtype"),
           py::arg("name") = "cast")
      .def("float_softmax", &NativeProgram::float_softmax, py::arg("x"), py::arg("y"), py::arg("rows"),
           py::arg("len"), py::arg("name") = "float_softmax")
      .def("float_layer_norm", &NativeProgram::float_layer_norm, py::arg("x"), py::arg("y"), py::arg("mean"),
           py::arg("inv"), py::arg("rows"), py::arg("len"), py::arg("scale"), py::arg("bias"), py::arg("eps"),
           py::arg("name") = "float_layer_norm")
      .def("float_gelu", &NativeProgram::float_gelu, py::arg("x"), py::arg("y"), py::arg("n"), py::arg("tanh_form"),
           py::arg("name") = "float_gelu")
      .def("float_matmul", &NativeProgram::float_matmul, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("a_blocks"),
           py::arg("b_blocks"), py::arg("lhs_index"), py::arg("rhs_index"), py::arg("M"), py::arg("K"), py::arg("N"),
           py::arg("name") = "float_matmul")
      .def("lut_channels", &NativeProgram::lut_channels, py::arg("x"), py::arg("y"), py::arg("tables"),
           py::arg("rows"), py::arg("C"), py::arg("name") = "lut_channels")
      .def("binary_table", &NativeProgram::binary_table, py::arg("a"), py::arg("b"), py::arg("y"), py::arg("a_shape"),
           py::arg("b_shape"), py::arg("table"), py::arg("num_threads") = 1, py::arg("name") = "binary_table")
      .def("binary", &NativeProgram::binary, py::arg("a"), py::arg("b"), py::arg("y"), py::arg("a_shape"),
           py::arg("b_shape"), py::arg("dtype"), py::arg("op"), py::arg("rounding"), py::arg("sa"), py::arg("za"),
           py::arg("sb"), py::arg("zb"), py::arg("sc"), py::arg("zc"), py::arg("qmin"), py::arg("qmax"),
           py::arg("num_threads") = 1, py::arg("fixed") = std::vector<int32_t>{}, py::arg("name") = "binary")
      .def("ort_float_conv", &NativeProgram::ort_float_conv, py::arg("x"), py::arg("y"), py::arg("x_shape"),
           py::arg("x_dtype"), py::arg("x_zero_point"), py::arg("w"), py::arg("strides"), py::arg("dilations"),
           py::arg("pads"), py::arg("params"), py::arg("num_threads") = 0,
           py::arg("name") = "ort_float_conv")
      .def("ort_float_binary", &NativeProgram::ort_float_binary, py::arg("a"), py::arg("b"), py::arg("y"),
           py::arg("a_shape"), py::arg("b_shape"), py::arg("dtype"), py::arg("op"), py::arg("a_scale"),
           py::arg("a_zero_point"), py::arg("b_scale"), py::arg("b_zero_point"), py::arg("y_scale"),
           py::arg("y_zero_point"), py::arg("qmin"), py::arg("qmax"), py::arg("num_threads") = 1,
           py::arg("name") = "ort_float_binary")
      .def("lut", &NativeProgram::lut, py::arg("x"), py::arg("y"), py::arg("table"), py::arg("n"),
           py::arg("num_threads") = 1, py::arg("name") = "lut")
      .def("pool", &NativeProgram::pool, py::arg("x"), py::arg("y"), py::arg("x_shape"), py::arg("y_shape"),
           py::arg("dtype"), py::arg("mode"), py::arg("kernel"), py::arg("strides"), py::arg("dilations"),
           py::arg("pads"), py::arg("x_scale") = 1.f, py::arg("x_zero_point") = 0, py::arg("y_scale") = 1.f,
           py::arg("y_zero_point") = 0, py::arg("count_include_pad") = false, py::arg("qmin") = 0,
           py::arg("qmax") = 255, py::arg("name") = "pool")
      .def("quantize_nhwc", &NativeProgram::quantize_nhwc, py::arg("x"), py::arg("y"), py::arg("N"), py::arg("C"),
           py::arg("HW"), py::arg("dtype"), py::arg("scale"), py::arg("zero_point"), py::arg("num_threads") = 1,
           py::arg("name") = "quantize")
      .def("quantize", &NativeProgram::quantize, py::arg("x"), py::arg("y"), py::arg("dequantize"), py::arg("outer"),
           py::arg("len"), py::arg("inner"), py::arg("dtype"), py::arg("scale"), py::arg("zero_point"),
           py::arg("name") = "quantize")
      .def("transpose", &NativeProgram::transpose, py::arg("x"), py::arg("y"), py::arg("shape"), py::arg("perm"),
           py::arg("elem_size"), py::arg("name") = "transpose")
      .def("softmax", &NativeProgram::softmax, py::arg("x"), py::arg("y"), py::arg("rows"), py::arg("D"),
           py::arg("dtype"), py::arg("x_scale"), py::arg("y_scale"), py::arg("y_zero_point"), py::arg("name") = "softmax")
      .def("softmax_tflite", &NativeProgram::softmax_tflite, py::arg("x"), py::arg("y"), py::arg("rows"), py::arg("D"),
           py::arg("dtype"), py::arg("x_scale"), py::arg("beta"), py::arg("rounding"), py::arg("name") = "softmax")
      .def("batch_matmul", &NativeProgram::batch_matmul, py::arg("lhs"), py::arg("rhs"), py::arg("y"),
           py::arg("lhs_blocks"), py::arg("rhs_blocks"), py::arg("lhs_index"), py::arg("rhs_index"), py::arg("M"),
           py::arg("K"), py::arg("N"), py::arg("adj_x"), py::arg("adj_y"), py::arg("a_dtype"), py::arg("b_dtype"),
           py::arg("za"), py::arg("zb"), py::arg("kernel"), py::arg("out_dtype"), py::arg("rounding") = "half_even",
           py::arg("multiplier") = py::none(), py::arg("shift") = py::none(), py::arg("scale") = py::none(),
           py::arg("zero_point") = 0, py::arg("qmin") = 0, py::arg("qmax") = 0, py::arg("num_threads") = 0,
           py::arg("name") = "batch_matmul")
      .def("mean_tflite", &NativeProgram::mean_tflite, py::arg("x"), py::arg("y"), py::arg("outer"), py::arg("len"),
           py::arg("inner"), py::arg("dtype"), py::arg("x_zero_point"), py::arg("multiplier"), py::arg("shift"),
           py::arg("y_zero_point"), py::arg("name") = "mean")
      .def("quantize_tflite", &NativeProgram::quantize_tflite, py::arg("x"), py::arg("y"), py::arg("n"),
           py::arg("dtype"), py::arg("scale"), py::arg("zero_point"), py::arg("name") = "quantize")
      .def("copy", &NativeProgram::copy, py::arg("x"), py::arg("y"), py::arg("name") = "copy")
      .def("copy_runs", &NativeProgram::copy_runs, py::arg("x"), py::arg("ys"), py::arg("runs"),
           py::arg("name") = "copy_runs")
      .def("gather_channels", &NativeProgram::gather_channels, py::arg("x"), py::arg("y"), py::arg("c_in"),
           py::arg("idx"), py::arg("pixels"), py::arg("name") = "gather_channels")
      .def("concat", &NativeProgram::concat, py::arg("inputs"), py::arg("y"), py::arg("outer"),
           py::arg("block_bytes"), py::arg("tables"), py::arg("name") = "concat")
      .def("finalize", &NativeProgram::finalize, py::arg("in_shapes"), py::arg("in_dtypes"), py::arg("out_slots"),
           py::arg("out_shapes"), py::arg("out_dtypes"))
      .def("run", &NativeProgram::run, py::arg("inputs"), py::arg("timed") = false)
      .def_property_readonly("op_names", &NativeProgram::op_names)
      .def_property_readonly("arena_bytes", [](const NativeProgram& p) { return p.prog().arena_bytes(); })
      .def_property_readonly("total_tensor_bytes", [](const NativeProgram& p) { return p.prog().total_tensor_bytes(); })
      .def_property_readonly("arena_allocations", [](const NativeProgram& p) { return p.prog().arena_allocations(); })
      .def_property_readonly("num_ops", [](const NativeProgram& p) { return p.prog().num_ops(); });
}

}  // namespace lowp
