// Bindings: register_bench (see cpp/python/module.cc). Marshalling only; the probes live in
// cpp/runtime/peak_probe*.cc.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "runtime/peak_probe.h"

namespace lowp {
void register_bench(pybind11::module_& m) {
  namespace py = pybind11;
  m.def(
      "peak_probe",
      [](const std::string& isa, double seconds, int threads) {
        py::gil_scoped_release nogil;
        return bench::peak_probe(isa, seconds, threads);
      },
      py::arg("isa"), py::arg("seconds") = 0.2, py::arg("threads") = 1,
      "Measured int8 multiply-accumulate peak of this CPU in GOP/s (2 ops per MAC) for `isa` "
      "('avx512vnni': vpdpbusd zmm chains, 'avx2': vpmaddwd+vpaddd ymm chains), running "
      "`threads` threads at once for about `seconds`. ValueError if the CPU lacks the ISA.");
  m.def("peak_probe_isas", &bench::peak_probe_isas, "ISAs peak_probe can measure on this CPU.");
}
}  // namespace lowp
