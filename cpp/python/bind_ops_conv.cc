// Bindings: register_ops_conv (see cpp/python/module.cc). Marshalling only; the math lives in
// cpp/ops/conv.cc and cpp/ops/depthwise*.cc.
#include <pybind11/stl.h>

#include "lowp/gemm.h"
#include "ops/conv.h"
#include "python/common.h"

namespace lowp {

namespace {

std::shared_ptr<PackedConv> make_packed_conv(const py::array& w, const py::array& zw, int group,
                                             const std::string& gemm_kernel, const std::string& dw_kernel) {
  const DType wt = dtype_of(w, "w");
  if (wt != DType::U8 && wt != DType::S8) throw py::type_error("lowp: conv weights must be uint8 or int8");
  LOWP_CHECK(w.ndim() == 4, "packed conv weights must be 4-D (Cout, KH, KW, Cin/group)");
  auto wc = py::array::ensure(w, py::array::c_style);
  if (!wc) throw Error("lowp: cannot make the weights contiguous");
  std::vector<int32_t> z = to_vector<int32_t>(zw);
  if (z.empty()) z.push_back(0);
  for (int i = 0; i < 4; ++i) LOWP_CHECK(w.shape(i) >= 1 && w.shape(i) <= INT32_MAX / 4, "conv weights have a bad shape");
  return std::make_shared<PackedConv>(wc.data(), wt, static_cast<int>(w.shape(0)), static_cast<int>(w.shape(1)),
                                      static_cast<int>(w.shape(2)), static_cast<int>(w.shape(3)), group, z.data(),
                                      static_cast<int>(z.size()), gemm_kernel.c_str(), dw_kernel.c_str());
}

py::array run_conv(const py::array& x, int32_t zx, const PackedConv& w, std::vector<int> strides,
                   std::vector<int> dilations, std::vector<int> pads, const std::string& out_dtype,
                   const std::string& rounding, const py::object& bias, const py::object& multiplier,
                   const py::object& shift, const py::object& scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                   int num_threads) {
  const DType xt = dtype_of(x, "x");
  if (xt != DType::U8 && xt != DType::S8) throw py::type_error("lowp: conv input must be uint8 or int8");
  LOWP_CHECK(x.ndim() == 4, "conv input must be 4-D (N, H, W, C)");
  LOWP_CHECK(strides.size() == 2 && dilations.size() == 2 && pads.size() == 4, "bad strides/dilations/pads");
  auto xc = py::array::ensure(x, py::array::c_style);
  if (!xc) throw Error("lowp: cannot make the input contiguous");
  for (int i = 0; i < 4; ++i) LOWP_CHECK(x.shape(i) <= INT32_MAX / 4, "conv input is too large");
  LOWP_CHECK(x.shape(3) == w.Cin(), "input has " + std::to_string(x.shape(3)) + " channels but the weights expect " +
                                        std::to_string(w.Cin()) + " (Cin/group * group)");
  const ConvGeometry g = conv_geometry(w, x.shape(0), x.shape(1), x.shape(2), strides, dilations, pads);
  const int OH = g.OH(), OW = g.OW();
  const OutputSpec spec = output_spec(out_dtype, rounding, bias, multiplier, shift, scale, zero_point, qmin, qmax);
  py::array y = new_output(spec.out_type, {static_cast<py::ssize_t>(g.N), static_cast<py::ssize_t>(OH),
                                        static_cast<py::ssize_t>(OW), static_cast<py::ssize_t>(w.Cout())});
  const void* xp = xc.data();
  void* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    conv2d(w, g, xp, xt, zx, yp, spec, num_threads);
  }
  return y;
}

// A conv call with every argument but x bound once (graph executors, QLinearConv's call cache):
// call(x) checks x against the bound shape and runs without re-marshalling the parameters.
struct ConvCall {
  std::shared_ptr<PackedConv> w;
  ConvGeometry g;
  int32_t zx = 0;
  DType xt = DType::U8;
  OutputSpec spec;
  int num_threads = 0;

  py::array call(const py::array& x) const {
    if (dtype_of(x, "x") != xt) throw py::type_error(std::string("lowp: x must be ") + dtype_name(xt));
    LOWP_CHECK(x.ndim() == 4 && x.shape(0) == g.N && x.shape(1) == g.H && x.shape(2) == g.W && x.shape(3) == w->Cin(),
               "x does not have the shape this conv call was prepared for");
    auto xc = py::array::ensure(x, py::array::c_style);
    if (!xc) throw Error("lowp: cannot make the input contiguous");
    py::array y = new_output(spec.out_type, {static_cast<py::ssize_t>(g.N), static_cast<py::ssize_t>(g.OH()),
                                          static_cast<py::ssize_t>(g.OW()), static_cast<py::ssize_t>(w->Cout())});
    const void* xp = xc.data();
    void* yp = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      conv2d(*w, g, xp, xt, zx, yp, spec, num_threads);
    }
    return y;
  }
};

std::shared_ptr<ConvCall> make_conv_call(const std::vector<int64_t>& x_shape, const std::string& x_dtype, int32_t zx,
                                         std::shared_ptr<PackedConv> w, std::vector<int> strides,
                                         std::vector<int> dilations, std::vector<int> pads,
                                         const std::string& out_dtype, const std::string& rounding,
                                         const py::object& bias, const py::object& multiplier, const py::object& shift,
                                         const py::object& scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                                         int num_threads) {
  LOWP_CHECK(x_shape.size() == 4, "x shape must be 4-D (N, H, W, C)");
  LOWP_CHECK(strides.size() == 2 && dilations.size() == 2 && pads.size() == 4, "bad strides/dilations/pads");
  for (int64_t d : x_shape) LOWP_CHECK(d >= 1 && d <= INT32_MAX / 4, "bad x shape");
  LOWP_CHECK(x_shape[3] == w->Cin(), "x has the wrong number of channels for these weights");
  auto c = std::make_shared<ConvCall>();
  c->w = std::move(w);
  c->xt = parse_dtype(x_dtype);
  LOWP_CHECK(c->xt == DType::U8 || c->xt == DType::S8, "x must be uint8 or int8");
  c->zx = zx;
  c->g = conv_geometry(*c->w, x_shape[0], x_shape[1], x_shape[2], strides, dilations, pads);
  c->spec = output_spec(out_dtype, rounding, bias, multiplier, shift, scale, zero_point, qmin, qmax);
  c->num_threads = num_threads;
  return c;
}

}  // namespace

void register_ops_conv(py::module_& m) {
  py::class_<ConvCall, std::shared_ptr<ConvCall>>(m, "ConvCall")
      .def(py::init(&make_conv_call), py::arg("x_shape"), py::arg("x_dtype"), py::arg("x_zero_point"), py::arg("w"),
           py::arg("strides"), py::arg("dilations"), py::arg("pads"), py::arg("out_dtype") = "int32",
           py::arg("rounding") = "half_even", py::arg("bias") = py::none(), py::arg("multiplier") = py::none(),
           py::arg("shift") = py::none(), py::arg("scale") = py::none(), py::arg("zero_point") = 0,
           py::arg("qmin") = 0, py::arg("qmax") = 0, py::arg("num_threads") = 0)
      .def("__call__", &ConvCall::call, py::arg("x"));

  py::class_<PackedConv, std::shared_ptr<PackedConv>>(m, "PackedConv")
      .def(py::init(&make_packed_conv), py::arg("w"), py::arg("w_zero_point"), py::arg("group") = 1,
           py::arg("gemm_kernel") = "", py::arg("dw_kernel") = "")
      .def_property_readonly("kernel", [](const PackedConv& p) { return std::string(p.kernel_name()); })
      .def_property_readonly("depthwise", &PackedConv::depthwise)
      .def_property_readonly("nbytes", &PackedConv::packed_bytes)
      .def_property_readonly("Cout", &PackedConv::Cout)
      .def_property_readonly("Cin", &PackedConv::Cin)
      .def_property_readonly("group", &PackedConv::group)
      .def_property_readonly("kernel_shape", [](const PackedConv& p) { return py::make_tuple(p.KH(), p.KW()); });

  m.def("conv2d", &run_conv, py::arg("x"), py::arg("x_zero_point"), py::arg("w"), py::arg("strides"),
        py::arg("dilations"), py::arg("pads"), py::arg("out_dtype") = "int32", py::arg("rounding") = "half_even",
        py::arg("bias") = py::none(), py::arg("multiplier") = py::none(), py::arg("shift") = py::none(),
        py::arg("scale") = py::none(), py::arg("zero_point") = 0, py::arg("qmin") = 0, py::arg("qmax") = 0,
        py::arg("num_threads") = 0);
  m.def("depthwise_kernels", [] { return depthwise_kernel_names(true); });
  m.def("compiled_depthwise_kernels", [] { return depthwise_kernel_names(false); });
  m.def("default_depthwise_kernel", [] { return default_depthwise_kernel(); });
}

}  // namespace lowp
