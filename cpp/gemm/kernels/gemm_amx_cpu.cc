// Run-time check for the AMX kernel (gemm_amx_avx512vnni.cc). Kept in a portable file: the
// kernel file is compiled with AVX-512 flags, and this check runs on every x86 CPU.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <cstdint>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "runtime/cpu.h"

namespace lowp {

bool cpu_has_amx_int8() {
  static const bool ok = [] {
    if (!cpu::isa_allowed(cpu::Isa::kAmx)) return false;  // LOWP_MAX_ISA
    if (!cpu::has_avx512vnni()) return false;  // the kernel's packing and output stage use AVX-512
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    if (!((d >> 24) & 1u) || !((d >> 25) & 1u)) return false;  // AMX-TILE, AMX-INT8
    uint32_t xlo = 0, xhi = 0;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG, XTILEDATA enabled by the OS
#if defined(__linux__)
    // Linux grants the (large) tile data state only on request: ARCH_REQ_XCOMP_PERM, XTILEDATA.
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

}  // namespace lowp
#endif
