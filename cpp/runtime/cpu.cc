#include "runtime/cpu.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace lowp {
namespace cpu {

#if defined(__x86_64__) || defined(_M_X64)
// libgcc's __builtin_cpu_supports also checks that the OS enabled the AVX/AVX-512 state (XCR0).
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool has_avx512bw() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
bool has_avx512vnni() { return has_avx512bw() && __builtin_cpu_supports("avx512vnni"); }
bool has_neon() { return false; }
bool has_neondot() { return false; }
bool has_i8mm() { return false; }
const char* arch() { return "x86_64"; }
#elif defined(__aarch64__)
bool has_avx2() { return false; }
bool has_avx512bw() { return false; }
bool has_avx512vnni() { return false; }
bool has_neon() { return true; }
#if defined(__linux__)
bool has_neondot() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
bool has_i8mm() {
#ifdef HWCAP2_I8MM
  return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#else
  return (getauxval(AT_HWCAP2) & (1UL << 13)) != 0;
#endif
}
#else
bool has_neondot() { return false; }
bool has_i8mm() { return false; }
#endif
const char* arch() { return "aarch64"; }
#else
bool has_avx2() { return false; }
bool has_avx512bw() { return false; }
bool has_avx512vnni() { return false; }
bool has_neon() { return false; }
bool has_neondot() { return false; }
bool has_i8mm() { return false; }
const char* arch() { return "other"; }
#endif

}  // namespace cpu
}  // namespace lowp
