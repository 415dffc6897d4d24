// The pybind11 module `lowp._lowp`. Each area registers its functions from its own file.
#include <pybind11/pybind11.h>

#include "lowp/types.h"

namespace py = pybind11;

namespace lowp {
void register_gemm(py::module_& m);  // bind_gemm.cc
void register_ops(py::module_& m);   // bind_ops.cc
}  // namespace lowp

PYBIND11_MODULE(_lowp, m) {
  m.doc() = "lowp native core (internal; use the `lowp` package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lowp::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  lowp::register_gemm(m);
  lowp::register_ops(m);
}
