#include "runtime/cpu.h"

#include <cstdlib>
#include <string>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace lowp {
namespace cpu {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
constexpr const char* kLevels[] = {"scalar", "avx2", "avx512", "avx512vnni", "amx"};
constexpr Isa kLevelIsa[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAmx};
constexpr const char* kLevelList = "scalar, avx2, avx512, avx512vnni, amx";
#elif defined(__aarch64__)
constexpr const char* kLevels[] = {"scalar", "neon", "neondot", "i8mm"};
constexpr Isa kLevelIsa[] = {Isa::kScalar, Isa::kNeon, Isa::kNeonDot, Isa::kI8mm};
constexpr const char* kLevelList = "scalar, neon, neondot, i8mm";
#else
constexpr const char* kLevels[] = {"scalar"};
constexpr Isa kLevelIsa[] = {Isa::kScalar};
constexpr const char* kLevelList = "scalar";
#endif
constexpr int kNumLevels = static_cast<int>(sizeof(kLevels) / sizeof(kLevels[0]));

// LOWP_MAX_ISA as read at the first query, and the index of its level in kLevels (the last one
// when unset or empty, -1 when unknown).
struct Cap {
  std::string name;
  int level;
};
const Cap& cap() {
  static const Cap c = [] {
    const char* v = std::getenv("LOWP_MAX_ISA");
    Cap r{v ? v : "", kNumLevels - 1};
    if (r.name.empty()) return r;
    r.level = -1;
    for (int i = 0; i < kNumLevels; ++i)
      if (r.name == kLevels[i]) r.level = i;
    return r;
  }();
  return c;
}
int cap_level() { return cap().level; }

}  // namespace

bool isa_allowed(Isa isa) {
  const int level = cap_level();
  if (level < 0) return isa == Isa::kScalar;  // unknown name: the scalar code only (Python raises first)
  for (int i = 0; i <= level; ++i)
    if (kLevelIsa[i] == isa) return true;
  return false;
}
const char* max_isa() { return cap().name.c_str(); }
bool max_isa_valid() { return cap_level() >= 0; }
const char* isa_levels() { return kLevelList; }

#if defined(__x86_64__) || defined(_M_X64)
// libgcc's __builtin_cpu_supports also checks that the OS enabled the AVX/AVX-512 state (XCR0).
bool host_has_avx512bw() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
bool has_avx2() {
  return isa_allowed(Isa::kAvx2) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512bw() { return isa_allowed(Isa::kAvx512) && host_has_avx512bw(); }
bool has_avx512vnni() {
  return isa_allowed(Isa::kAvx512Vnni) && has_avx512bw() && __builtin_cpu_supports("avx512vnni");
}
bool has_neon() { return false; }
bool has_neondot() { return false; }
bool has_i8mm() { return false; }
const char* arch() { return "x86_64"; }
#elif defined(__aarch64__)
bool host_has_avx512bw() { return false; }
bool has_avx2() { return false; }
bool has_avx512bw() { return false; }
bool has_avx512vnni() { return false; }
bool has_neon() { return isa_allowed(Isa::kNeon); }
#if defined(__linux__)
bool has_neondot() { return isa_allowed(Isa::kNeonDot) && (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
bool has_i8mm() {
#ifdef HWCAP2_I8MM
  const bool hw = (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#else
  const bool hw = (getauxval(AT_HWCAP2) & (1UL << 13)) != 0;
#endif
  return isa_allowed(Isa::kI8mm) && hw;
}
#else
bool has_neondot() { return false; }
bool has_i8mm() { return false; }
#endif
const char* arch() { return "aarch64"; }
#else
bool host_has_avx512bw() { return false; }
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
