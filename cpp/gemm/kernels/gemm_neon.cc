// ARM NEON GEMM kernel (armv8-a baseline): int16 domain, smlal.
// Stand-in: the generic microkernel until the intrinsics version lands.
#include "gemm/kernels/ukernel_generic.h"
#include "runtime/cpu.h"

namespace lowp {

extern const GemmKernel kGemmNeon = {
    "neon", 4, 8, 2, DType::S16, DType::S16, cpu::has_neon, ukernel_generic<int16_t, int16_t, 4, 8, 2>, 10,
};

}  // namespace lowp
