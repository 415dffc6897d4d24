// Bindings: register_ops_conv (see cpp/python/module.cc). Marshalling only; the math lives in cpp/.
#include <pybind11/pybind11.h>

namespace lowp {
void register_ops_conv(pybind11::module_& m) { (void)m; }
}  // namespace lowp
