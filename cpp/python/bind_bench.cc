// Bindings: register_bench (see cpp/python/module.cc). Marshalling only; the math lives in cpp/.
#include <pybind11/pybind11.h>

namespace lowp {
void register_bench(pybind11::module_& m) { (void)m; }
}  // namespace lowp
