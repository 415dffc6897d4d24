// ARM NEON dotprod GEMM kernel (sdot, -march=armv8.2-a+dotprod): s8 x s8, kr=4.
// Stand-in: the generic microkernel until the intrinsics version lands.
#include "gemm/kernels/ukernel_generic.h"
#include "runtime/cpu.h"

namespace lowp {

extern const GemmKernel kGemmNeonDot = {
    "neondot", 4, 8, 4, DType::S8, DType::S8, cpu::has_neondot, ukernel_generic<int8_t, int8_t, 4, 8, 4>, 20,
};

}  // namespace lowp
