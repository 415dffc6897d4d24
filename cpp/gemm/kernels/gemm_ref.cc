// Scalar reference kernel: portable C++, the path every optimized kernel is tested against.
#include "gemm/kernels/ukernel_generic.h"

namespace lowp {

static bool always() { return true; }

extern const GemmKernel kGemmRef = {
    "ref", 4, 4, 4, DType::S16, DType::S16, always, ukernel_generic<int16_t, int16_t, 4, 4, 4>, 0,
};

}  // namespace lowp
