// x86 AVX-512 VNNI GEMM kernel (vpdpbusd): u8 activations x s8 weights, kr=4.
// Stand-in: the generic microkernel compiled for AVX-512 until the intrinsics version lands.
#include "gemm/kernels/ukernel_generic.h"
#include "runtime/cpu.h"

namespace lowp {

extern const GemmKernel kGemmAvx512Vnni = {
    "avx512vnni", 8, 32, 4, DType::U8, DType::S8, cpu::has_avx512vnni, ukernel_generic<uint8_t, int8_t, 8, 32, 4>, 30,
};

}  // namespace lowp
