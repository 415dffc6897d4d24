// Bindings: register_float_glue (see cpp/python/module.cc). Marshalling only: the float glue functions of
// ops/float_glue.h on float32 numpy arrays, for the Python steps of passes/float_ops.py (the native executor's ops
// call the same functions).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <tuple>

#include "ops/float_glue.h"
#include "python/common.h"

namespace lowp {

namespace {

using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

F32 softmax_py(const F32& x) {  // rows of the last axis
  LOWP_CHECK(x.ndim() >= 1 && x.shape(x.ndim() - 1) >= 1, "float_softmax: needs a non-empty last axis");
  F32 y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const int64_t len = x.shape(x.ndim() - 1), rows = x.size() / len;
  {
    py::gil_scoped_release nogil;
    ops::float_softmax_rows(x.data(), y.mutable_data(), rows, len);
  }
  return y;
}

std::tuple<F32, F32, F32> layer_norm_py(const F32& x, const F32& scale, const py::object& bias, double eps) {
  LOWP_CHECK(x.ndim() == 2 && x.shape(1) >= 1 && scale.size() == x.shape(1), "float_layer_norm: x rows x len, "
             "scale of len");
  F32 b;
  if (!bias.is_none()) {
    b = F32::ensure(bias);
    LOWP_CHECK(b && b.size() == x.shape(1), "float_layer_norm: bias of len");
  }
  F32 y({x.shape(0), x.shape(1)}), mean({x.shape(0)}), inv({x.shape(0)});
  const float* bp = bias.is_none() ? nullptr : b.data();
  {
    py::gil_scoped_release nogil;
    ops::float_layer_norm_rows(x.data(), y.mutable_data(), x.shape(0), x.shape(1), scale.data(), bp, eps,
                               mean.mutable_data(), inv.mutable_data());
  }
  return {y, mean, inv};
}

F32 gelu_py(const F32& x, bool tanh_form) {
  F32 y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  {
    py::gil_scoped_release nogil;
    ops::float_gelu(x.data(), y.mutable_data(), x.size(), tanh_form);
  }
  return y;
}

F32 matmul_py(const F32& a, const F32& b) {  // (B, M, K) x (B, K, N) -> (B, M, N)
  LOWP_CHECK(a.ndim() == 3 && b.ndim() == 3 && a.shape(0) == b.shape(0) && a.shape(2) == b.shape(1),
             "float_matmul: (B, M, K) x (B, K, N)");
  const int64_t B = a.shape(0), M = a.shape(1), K = a.shape(2), N = b.shape(2);
  F32 c({B, M, N});
  {
    py::gil_scoped_release nogil;
    for (int64_t i = 0; i < B; ++i)
      ops::float_matmul(a.data() + i * M * K, b.data() + i * K * N, c.mutable_data() + i * M * N, M, K, N);
  }
  return c;
}

}  // namespace

void register_float_glue(py::module_& m) {
  m.def("float_softmax", &softmax_py, py::arg("x"));
  m.def("float_layer_norm", &layer_norm_py, py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("eps"));
  m.def("float_gelu", &gelu_py, py::arg("x"), py::arg("tanh_form"));
  m.def("float_matmul", &matmul_py, py::arg("a"), py::arg("b"));
}

}  // namespace lowp
