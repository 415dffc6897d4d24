// AMX-INT8 peak probe: 4 independent tile accumulators updated by tdpbusd (u8 x s8 -> s32,
// 16x16 outputs x 64-deep = 16384 multiply-accumulates per instruction). Intel Xeon 4th gen+
// (Sapphire Rapids) has it, and onnxruntime's MLAS uses it for u8 x s8 GEMMs, so this is the
// int8 peak that counts on such machines.
//
// There is no `_amx` ISA suffix in CMakeLists.txt (the build gives this file no -m flags), so the
// instructions are written in inline asm, the whole file is x86-64/Linux only, and the CPU and the
// kernel (XCR0 tile state + arch_prctl permission) are checked here at run time.
#include <cstdint>
#include <cstring>

#include "runtime/cpu.h"
#include "runtime/peak_probe.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gemm/kernels/amx_tiles.h"

namespace lowp {
namespace bench {

namespace {

bool cpu_and_os_have_amx_int8() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_tile = (d >> 24) & 1u, amx_int8 = (d >> 25) & 1u;
  if (!amx_tile || !amx_int8) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1u)) return false;  // OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const uint64_t xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  if (((xcr0 >> 17) & 3u) != 3u) return false;  // XTILECFG + XTILEDATA enabled by the OS
  // Linux >= 5.16: a process must ask for the tile data state before using it.
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}


}  // namespace

bool peak_amx_supported() {
  static const bool ok = cpu::isa_allowed(cpu::Isa::kAmx) && cpu_and_os_have_amx_int8();
  return ok;
}

uint64_t peak_loop_amx(uint64_t iters) {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {  // tmm0-3: C (16 x 16 int32), tmm4-5: A (16 x 64 u8), tmm6-7: B (16 x 64 s8)
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  alignas(64) static thread_local uint8_t src[16 * 64];
  alignas(64) static thread_local int32_t dst[4][16 * 16];
  std::memset(src, 3, sizeof(src));
  std::memset(dst, 0, sizeof(dst));
  const long stride = 64;
  __asm__ volatile(
      "ldtilecfg %[cfg]\n\t"
      "tileloadd (%[c0],%[s],1), %%tmm0\n\t"
      "tileloadd (%[c1],%[s],1), %%tmm1\n\t"
      "tileloadd (%[c2],%[s],1), %%tmm2\n\t"
      "tileloadd (%[c3],%[s],1), %%tmm3\n\t"
      "tileloadd (%[x],%[s],1), %%tmm4\n\t"
      "tileloadd (%[x],%[s],1), %%tmm5\n\t"
      "tileloadd (%[x],%[s],1), %%tmm6\n\t"
      "tileloadd (%[x],%[s],1), %%tmm7\n\t"
      :
      : [cfg] "m"(cfg), [c0] "r"(dst[0]), [c1] "r"(dst[1]), [c2] "r"(dst[2]), [c3] "r"(dst[3]), [x] "r"(src),
        [s] "r"(stride)
      : "memory");
  for (uint64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "tdpbusd %%tmm6, %%tmm4, %%tmm0\n\t"
        "tdpbusd %%tmm7, %%tmm4, %%tmm1\n\t"
        "tdpbusd %%tmm6, %%tmm5, %%tmm2\n\t"
        "tdpbusd %%tmm7, %%tmm5, %%tmm3\n\t" ::
            : "memory");
  }
  __asm__ volatile(
      "tilestored %%tmm0, (%[c0],%[s],1)\n\t"
      "tilestored %%tmm1, (%[c1],%[s],1)\n\t"
      "tilestored %%tmm2, (%[c2],%[s],1)\n\t"
      "tilestored %%tmm3, (%[c3],%[s],1)\n\t"
      "tilerelease\n\t"
      :
      : [c0] "r"(dst[0]), [c1] "r"(dst[1]), [c2] "r"(dst[2]), [c3] "r"(dst[3]), [s] "r"(stride)
      : "memory");
  volatile int32_t sink = dst[0][0] + dst[3][255];
  (void)sink;
  return iters * 4u * 16u * 16u * 64u * 2u;
}

}  // namespace bench
}  // namespace lowp

#else  // not x86-64 Linux: no AMX

namespace lowp {
namespace bench {
bool peak_amx_supported() { return false; }
uint64_t peak_loop_amx(uint64_t) { return 0; }
}  // namespace bench
}  // namespace lowp

#endif
