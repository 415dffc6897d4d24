// x86 AVX2 GEMM kernel (compiled with -mavx2 -mfma). int16 domain, kr=2: exact vpmaddwd products.
// Stand-in: the generic microkernel compiled for AVX2 until the intrinsics version lands.
#include "gemm/kernels/ukernel_generic.h"
#include "runtime/cpu.h"

namespace lowp {

extern const GemmKernel kGemmAvx2 = {
    "avx2", 4, 16, 2, DType::S16, DType::S16, cpu::has_avx2, ukernel_generic<int16_t, int16_t, 4, 16, 2>, 20,
};

}  // namespace lowp
