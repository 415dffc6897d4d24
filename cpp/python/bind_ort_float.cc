// Bindings: register_ort_float (see cpp/python/module.cc). Marshalling only; the math lives in
// cpp/ops/ort_float_conv.cc (onnxruntime's float32 fallback for int8-activation QDQ 1x1 convs).
#include <pybind11/stl.h>

#include "ops/ort_float_conv.h"
#include "python/common.h"

namespace lowp {

namespace {

std::shared_ptr<ops::OrtFloatConv> make_params(const py::array& wf, const py::array& bf, const py::array& ws, float xs,
                                               int32_t zx, const std::string& x_dtype, float ys, int32_t zy,
                                               const std::string& y_dtype, int32_t qmin, int32_t qmax, int stride_k) {
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
  p->finalize(to_vector<float>(ws));
  return p;
}

py::tuple finish(const ops::OrtFloatConv& p, const py::array& acc, const py::array& x, int num_threads) {
  LOWP_CHECK(dtype_of(acc, "acc") == DType::S32, "ort float conv: acc must be int32");
  LOWP_CHECK(dtype_of(x, "x") == p.x_type, "ort float conv: x has the wrong dtype");
  LOWP_CHECK(acc.ndim() >= 1 && acc.shape(acc.ndim() - 1) == p.M, "ort float conv: acc's last axis must be M");
  LOWP_CHECK(x.ndim() >= 1 && x.shape(x.ndim() - 1) == p.K, "ort float conv: x's last axis must be K");
  const int64_t pixels = acc.size() / p.M;
  LOWP_CHECK(x.size() / p.K == pixels, "ort float conv: acc and x have different pixel counts");
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
    if (pixels > 0) redo = ops::ort_float_conv_finish(p, a, xp, yp, pixels, num_threads);
  }
  return py::make_tuple(y, redo);
}

}  // namespace

void register_ort_float(py::module_& m) {
  py::class_<ops::OrtFloatConv, std::shared_ptr<ops::OrtFloatConv>>(m, "OrtFloatConv")
      .def(py::init(&make_params), py::arg("wf"), py::arg("bf"), py::arg("ws"), py::arg("x_scale"),
           py::arg("x_zero_point"), py::arg("x_dtype"), py::arg("y_scale"), py::arg("y_zero_point"),
           py::arg("y_dtype"), py::arg("qmin"), py::arg("qmax"), py::arg("stride_k"))
      .def_property_readonly("M", [](const ops::OrtFloatConv& p) { return p.M; })
      .def_property_readonly("K", [](const ops::OrtFloatConv& p) { return p.K; })
      .def_property_readonly("stride_k", [](const ops::OrtFloatConv& p) { return p.stride_k; })
      .def("finish", &finish, py::arg("acc"), py::arg("x"), py::arg("num_threads") = 1,
           "(y, recomputed): onnxruntime's quantized float32 conv result from the exact int32 sums acc "
           "(pixels x M) and the input x (pixels x K); recomputed = outputs redone in float32");
  m.def("mlas_sgemm_stride_k", &ops::mlas_sgemm_stride_k, py::arg("N"), py::arg("K"));
}

}  // namespace lowp
