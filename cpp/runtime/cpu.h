// CPU feature detection (runtime). Each predicate is true only when both the CPU and the OS
// support the instructions.
#pragma once

namespace lowp {
namespace cpu {
bool has_avx2();        // AVX2 + FMA
bool has_avx512bw();    // AVX-512 F/BW/DQ/VL
bool has_avx512vnni();  // has_avx512bw() + AVX512_VNNI
bool has_neon();        // aarch64 baseline
bool has_neondot();     // aarch64 dotprod (sdot/udot)
bool has_i8mm();        // aarch64 i8mm (smmla/usdot)
const char* arch();     // "x86_64", "aarch64" or "other"
}  // namespace cpu
}  // namespace lowp
