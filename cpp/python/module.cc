// The pybind11 module `lowp._lowp`. Each area registers its functions from its own file.
#include <pybind11/pybind11.h>

#include "lowp/types.h"

namespace py = pybind11;

namespace lowp {
void register_gemm(py::module_& m);         // bind_gemm.cc: GEMM core, requantization, kernels, threads
void register_ops_conv(py::module_& m);     // bind_ops_conv.cc: conv, depthwise, FC, matmul
void register_ops_eltwise(py::module_& m);  // bind_ops_eltwise.cc: pooling, elementwise, LUT, softmax, (de)quantize
void register_bench(py::module_& m);        // bind_bench.cc: peak probes for the benchmarks
void register_program(py::module_& m);      // bind_program.cc: the native executor (cpp/exec)
void register_ort_float(py::module_& m);    // bind_ort_float.cc: onnxruntime's float32 QDQ conv fallback
void register_float_glue(py::module_& m);   // bind_float_glue.cc: float LayerNorm / Softmax / Gelu / MatMul glue
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
  lowp::register_ops_conv(m);
  lowp::register_ops_eltwise(m);
  lowp::register_bench(m);
  lowp::register_ort_float(m);
  lowp::register_float_glue(m);
  lowp::register_program(m);
}
