// ARM i8mm GEMM kernel (smmla, -march=armv8.6-a+i8mm): s8 x s8, kr=8, 2x2 blocks.
// Stand-in: the generic microkernel until the intrinsics version lands.
#include "gemm/kernels/ukernel_generic.h"
#include "runtime/cpu.h"

namespace lowp {

extern const GemmKernel kGemmI8mm = {
    "i8mm", 4, 8, 8, DType::S8, DType::S8, cpu::has_i8mm, ukernel_generic<int8_t, int8_t, 4, 8, 8>, 30,
};

}  // namespace lowp
