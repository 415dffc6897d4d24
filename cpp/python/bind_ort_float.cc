// Bindings: register_ort_float (see cpp/python/module.cc). Marshalling only; the math lives in
// cpp/ops/ort_float_conv.cc (onnxruntime's float32 fallback for int8-activation QDQ 1x1 convs).
#include <pybind11/stl.h>

#include "ops/ort_float_conv.h"
#include "ops/ort_float_eltwise.h"
#include "python/common.h"
#include "runtime/cpu.h"

namespace lowp {

namespace {

std::shared_ptr<ops::OrtFloatConv> make_params(const py::array& wf, const py::array& bf, const py::array& ws, float xs,
                                               int32_t zx, const std::string& x_dtype, float ys, int32_t zy,
                                               const std::string& y_dtype, int32_t qmin, int32_t qmax, int stride_k,
                                               const std::vector<int>& input_hwc, const std::vector<int>& kernel,
                                               const std::vector<int>& strides, const std::vector<int>& dilations,
                                               const std::vector<int>& pads, int group, int mode) {
  LOWP_CHECK(input_hwc.size() == 3 && kernel.size() == 2 && strides.size() == 2 && dilations.size() == 2 &&
                 pads.size() == 4,
             "ort float conv: input_hwc (H, W, C), kernel, strides, dilations (2) and pads (t, l, b, r)");
  LOWP_CHECK(wf.ndim() == 2 && wf.shape(0) >= 1 && wf.shape(1) >= 1 && wf.shape(0) <= INT32_MAX / 4 &&
                 wf.shape(1) <= INT32_MAX / 4,
             "ort float conv: weights must be a non-empty 2-D (M, K) array");
  auto p = std::make_shared<ops::OrtFloatConv>();
  p->M = static_cast<int>(wf.shape(0));
  p->K = static_cast<int>(wf.shape(1));
  p->wf = to_vector<float>(wf);
  p->bf = to_vector<float>(bf);
  p->x_type = parse_dtype(x_dtype);
  p->y_type = parse_dtype(y_dtype);
  p->xs = xs;
  p->zx = zx;
  p->ys = ys;
  p->zy = zy;
  p->qmin = qmin;
  p->qmax = qmax;
  p->stride_k = stride_k;
  p->H = input_hwc[0];
  p->W = input_hwc[1];
  p->C = input_hwc[2];
  p->KH = kernel[0];
  p->KW = kernel[1];
  p->sh = strides[0];
  p->sw = strides[1];
  p->dh = dilations[0];
  p->dw = dilations[1];
  p->pt = pads[0];
  p->pl = pads[1];
  p->pb = pads[2];
  p->pr = pads[3];
  p->group = group;
  p->mode = mode;
  p->finalize(to_vector<float>(ws));
  return p;
}

std::pair<ops::OrtFloatBlocksFn, ops::OrtFloatCheckFn> kernels(const std::string& name) {
  if (name.empty()) return {ops::ort_float_blocks_kernel(), ops::ort_float_check_kernel()};
  if (name == "ref") return {ops::ort_float_blocks_ref, ops::ort_float_check_ref};
#if defined(__x86_64__) || defined(_M_X64)
  if (name == "avx2" && cpu::has_avx2()) return {ops::ort_float_blocks_avx2, ops::ort_float_check_avx2};
  if (name == "avx512" && cpu::has_avx512bw()) return {ops::ort_float_blocks_avx512, ops::ort_float_check_avx512};
#endif
  throw Error("lowp: ort float conv kernel '" + name + "' is not available on this machine");
}

py::list kernel_names() {
  py::list out;
  out.append("ref");
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu::has_avx2()) out.append("avx2");
  if (cpu::has_avx512bw()) out.append("avx512");
#endif
  return out;
}

py::tuple finish(const ops::OrtFloatConv& p, const py::array& acc, const py::array& x, int num_threads,
                 const std::string& kernel) {
  const auto fns = kernels(kernel);
  LOWP_CHECK(dtype_of(acc, "acc") == DType::S32, "ort float conv: acc must be int32");
  LOWP_CHECK(dtype_of(x, "x") == p.x_type, "ort float conv: x has the wrong dtype");
  LOWP_CHECK(acc.ndim() == 4 && acc.shape(1) == p.OH && acc.shape(2) == p.OW && acc.shape(3) == p.M,
             "ort float conv: acc must be N x OH x OW x M");
  LOWP_CHECK(x.ndim() == 4 && x.shape(0) == acc.shape(0) && x.shape(1) == p.H && x.shape(2) == p.W && x.shape(3) == p.C,
             "ort float conv: x must be N x H x W x C (the geometry given)");
  const int64_t pixels = acc.size() / p.M;
  auto ac = py::array::ensure(acc, py::array::c_style);
  auto xc = py::array::ensure(x, py::array::c_style);
  if (!ac || !xc) throw Error("lowp: cannot make the inputs contiguous");
  std::vector<py::ssize_t> shape(acc.shape(), acc.shape() + acc.ndim());
  py::array y(np_dtype(p.y_type), shape);
  int64_t redo = 0;
  {
    const int32_t* a = static_cast<const int32_t*>(ac.data());
    const void* xp = xc.data();
    void* yp = y.mutable_data();
    py::gil_scoped_release nogil;
    if (pixels > 0) redo = ops::ort_float_conv_finish(p, a, xp, yp, pixels, num_threads, fns.first, fns.second);
  }
  return py::make_tuple(y, redo);
}

// A conv's input checked against p's geometry and made contiguous, its N x OH x OW x M output allocated.
struct ConvIO {
  py::array x, y;
  int64_t pixels;
};
ConvIO conv_io(const ops::OrtFloatConv& p, const py::array& x) {
  LOWP_CHECK(dtype_of(x, "x") == p.x_type, "ort float conv: x has the wrong dtype");
  LOWP_CHECK(x.ndim() == 4 && x.shape(1) == p.H && x.shape(2) == p.W && x.shape(3) == p.C,
             "ort float conv: x must be N x H x W x C (the geometry given)");
  auto xc = py::array::ensure(x, py::array::c_style);
  if (!xc) throw Error("lowp: cannot make the input contiguous");
  py::array y(np_dtype(p.y_type), {x.shape(0), static_cast<py::ssize_t>(p.OH), static_cast<py::ssize_t>(p.OW),
                                   static_cast<py::ssize_t>(p.M)});
  return {xc, y, static_cast<int64_t>(x.shape(0)) * p.OH * p.OW};
}

py::tuple run_1x1(const ops::OrtFloatConv& p, const PackedConv& w, const py::array& x, int num_threads) {
  ConvIO io = conv_io(p, x);
  int64_t redo = 0;
  {
    const void* xp = io.x.data();
    void* yp = io.y.mutable_data();
    py::gil_scoped_release nogil;
    if (io.pixels > 0) redo = ops::ort_float_conv_1x1(p, w, xp, yp, io.pixels, num_threads);
  }
  return py::make_tuple(io.y, redo);
}

}  // namespace

namespace {

py::array ort_float_binary_py(const py::array& a, const py::array& b, const std::string& op, float sa, int32_t za,
                              float sb, int32_t zb, float sc, int32_t zc, int32_t qmin, int32_t qmax,
                              const std::string& kernel, int num_threads) {
  const DType t = dtype_of(a, "a");
  LOWP_CHECK(dtype_of(b, "b") == t, "ort float binary: a and b must have the same dtype");
  const ops::OrtFloatBinary k = ops::ort_float_binary_params(op, t, sa, za, sb, zb, sc, zc, qmin, qmax);
  std::vector<int64_t> as(a.shape(), a.shape() + a.ndim()), bs(b.shape(), b.shape() + b.ndim());
  const std::vector<int64_t> out = ops::broadcast_out_shape(as, bs);
  auto ac = py::array::ensure(a, py::array::c_style);
  auto bc = py::array::ensure(b, py::array::c_style);
  if (!ac || !bc) throw Error("lowp: cannot make the inputs contiguous");
  py::array c(np_dtype(t), std::vector<py::ssize_t>(out.begin(), out.end()));
  const auto& kern = ops::ort_float_rows(kernel.c_str());  // checks the name before releasing the GIL
  (void)kern;
  {
    const void* ap = ac.data();
    const void* bp = bc.data();
    void* cp = c.mutable_data();
    py::gil_scoped_release nogil;
    ops::ort_float_binary(as, bs, ap, bp, cp, t, k, kernel.c_str(), num_threads);
  }
  return c;
}

py::array run_depthwise(const ops::OrtFloatConv& p, const py::array& x, int num_threads, const std::string& kernel) {
  LOWP_CHECK(ops::ort_float_is_depthwise(p), "ort float conv: not a depthwise conv (group == C == M, mode 1)");
  ConvIO io = conv_io(p, x);
  {
    const void* xp = io.x.data();
    void* yp = io.y.mutable_data();
    py::gil_scoped_release nogil;  // the driver checks the kernel name
    if (io.pixels > 0) ops::ort_float_depthwise(p, xp, yp, io.pixels, num_threads, kernel.c_str());
  }
  return io.y;
}

py::array run_direct(const ops::OrtFloatConv& p, const py::array& x, int num_threads, const std::string& kernel) {
  LOWP_CHECK(p.mode == 0 && p.group == 1, "ort float conv: the direct path is for mode 0 single-group convs");
  ConvIO io = conv_io(p, x);
  {
    const void* xp = io.x.data();
    void* yp = io.y.mutable_data();
    py::gil_scoped_release nogil;  // the driver checks the kernel name
    if (io.pixels > 0) ops::ort_float_direct(p, xp, yp, io.pixels, num_threads, kernel.c_str());
  }
  return io.y;
}

}  // namespace

void register_ort_float(py::module_& m) {
  py::class_<ops::OrtFloatConv, std::shared_ptr<ops::OrtFloatConv>>(m, "OrtFloatConv")
      .def(py::init(&make_params), py::arg("wf"), py::arg("bf"), py::arg("ws"), py::arg("x_scale"),
           py::arg("x_zero_point"), py::arg("x_dtype"), py::arg("y_scale"), py::arg("y_zero_point"),
           py::arg("y_dtype"), py::arg("qmin"), py::arg("qmax"), py::arg("stride_k"), py::arg("input_hwc"),
           py::arg("kernel"), py::arg("strides"), py::arg("dilations"), py::arg("pads"), py::arg("group"), py::arg("mode") = 0)
      .def_property_readonly("output_hw", [](const ops::OrtFloatConv& p) { return py::make_tuple(p.OH, p.OW); })
      .def_property_readonly("M", [](const ops::OrtFloatConv& p) { return p.M; })
      .def_property_readonly("K", [](const ops::OrtFloatConv& p) { return p.K; })
      .def_property_readonly("stride_k", [](const ops::OrtFloatConv& p) { return p.stride_k; })
      .def("run_1x1", &run_1x1, py::arg("w"), py::arg("x"), py::arg("num_threads") = 1,
           "(y, recomputed) for a 1x1 stride-1 unpadded single-group conv with packed weights w, in one pass")
      .def_property_readonly("depthwise", [](const ops::OrtFloatConv& p) { return ops::ort_float_is_depthwise(p); })
      .def("run_depthwise", &run_depthwise, py::arg("x"), py::arg("num_threads") = 1, py::arg("kernel") = "",
           "y for a depthwise conv with onnxruntime's float32 results; kernel: '' (dispatched), 'ref', 'avx512int' "
           "(integer sums + check), 'avx512' (float32 chain, row ring)")
      .def_property_readonly("direct", [](const ops::OrtFloatConv& p) { return p.direct; })
      .def("run_direct", &run_direct, py::arg("x"), py::arg("num_threads") = 1, py::arg("kernel") = "",
           "y for a mode-0 single-group conv wholly in onnxruntime's float32 arithmetic (no integer pass)")
      .def("finish", &finish, py::arg("acc"), py::arg("x"), py::arg("num_threads") = 1, py::arg("kernel") = "",
           "(y, recomputed): onnxruntime's quantized float32 conv result from the exact int32 sums acc "
           "(N x OH x OW x M) and the NHWC input x; recomputed = outputs redone in float32");
  m.def("ort_float_binary", &ort_float_binary_py, py::arg("a"), py::arg("b"), py::arg("op"), py::arg("a_scale"),
        py::arg("a_zero_point"), py::arg("b_scale"), py::arg("b_zero_point"), py::arg("y_scale"),
        py::arg("y_zero_point"), py::arg("qmin"), py::arg("qmax"), py::arg("kernel") = "", py::arg("num_threads") = 1,
        "onnxruntime's float32 DQ -> Add/Mul -> Q on 8-bit tensors (numpy broadcasting)");
  m.def("ort_float_conv_kernels", &kernel_names, "SIMD kernels of OrtFloatConv.finish usable here (same bits)");
  m.def("mlas_sgemm_stride_k", &ops::mlas_sgemm_stride_k, py::arg("N"), py::arg("K"));
}

}  // namespace lowp
