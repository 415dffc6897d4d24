// CPU feature detection (runtime). Each predicate is true only when the CPU and the OS support the
// instructions and LOWP_MAX_ISA (below) allows them: kernels and ops choose their code with these.
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

// LOWP_MAX_ISA (environment, read once): the most lowp's kernels may use, below what the CPU has,
// e.g. to run what an older CPU runs. x86: scalar < avx2 < avx512 < avx512vnni < amx; aarch64:
// scalar < neon < neondot < i8mm. Unset or empty: everything the CPU has.
enum class Isa { kScalar, kAvx2, kAvx512, kAvx512Vnni, kAmx, kNeon, kNeonDot, kI8mm };
bool isa_allowed(Isa isa);
const char* max_isa();    // the LOWP_MAX_ISA value ("" when unset)
bool max_isa_valid();     // false when LOWP_MAX_ISA names no level of this architecture
const char* isa_levels();  // this architecture's levels, lowest first ("scalar, avx2, ...")

// The CPU's own AVX-512 F/BW/DQ/VL, whatever LOWP_MAX_ISA says: for what onnxruntime (which
// ignores it) does on this CPU, e.g. its NCHWc block size.
bool host_has_avx512bw();
}  // namespace cpu
}  // namespace lowp
