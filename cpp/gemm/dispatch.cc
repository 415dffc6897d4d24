// The one table that decides which GEMM kernel runs.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gemm/gemv.h"
#include "gemm/kernel.h"

namespace lowp {

extern const GemmKernel kGemmRef;
#if defined(__x86_64__) || defined(_M_X64)
extern const GemmKernel kGemmAvx2;
extern const GemmKernel kGemmAvx512Vnni;
extern const GemmKernel kGemmAmx;
extern const GemmKernel kGemmAmxSmallK;
#endif
#if defined(__aarch64__)
extern const GemmKernel kGemmNeon;
extern const GemmKernel kGemmNeonDot;
extern const GemmKernel kGemmI8mm;
#endif

// GEMV twins (gemm/gemv.h): M <= kGemvMaxM calls of these kernels run the GEMV kernel on the
// same packed B. nr == 0: reads any layout (the scalar reference).
void gemv_ref(const GemvCall& g, int p0, int p1);
#if defined(__x86_64__) || defined(_M_X64)
void gemv_avx512vnni(const GemvCall& g, int p0, int p1);
void gemv_avx2(const GemvCall& g, int p0, int p1);
size_t layout_bytes_avx2(const PackedB& B);
void build_layout_avx2(const PackedB& B, uint8_t* dst);
#endif
#if defined(__aarch64__)
void gemv_neondot(const GemvCall& g, int p0, int p1);
void gemv_neondot_kr8(const GemvCall& g, int p0, int p1);
#endif

namespace {
const GemmKernel* const kTable[] = {
#if defined(__x86_64__) || defined(_M_X64)
    &kGemmAmx,        &kGemmAmxSmallK, &kGemmAvx512Vnni, &kGemmAvx2,
#endif
#if defined(__aarch64__)
    &kGemmI8mm,       &kGemmNeonDot, &kGemmNeon,
#endif
    &kGemmRef,
};

const GemvKernel kGemvTable[] = {
#if defined(__x86_64__) || defined(_M_X64)
    {&kGemmAmx, gemv_avx512vnni, 32, 4, DType::U8, DType::S8},
    {&kGemmAmxSmallK, gemv_avx512vnni, 32, 4, DType::U8, DType::S8},
    {&kGemmAvx512Vnni, gemv_avx512vnni, 32, 4, DType::U8, DType::S8},
    {&kGemmAvx2, gemv_avx2, 16, 2, DType::S16, DType::S16, layout_bytes_avx2, build_layout_avx2},
#endif
#if defined(__aarch64__)
    {&kGemmI8mm, gemv_neondot_kr8, 8, 8, DType::S8, DType::S8},
    {&kGemmNeonDot, gemv_neondot, 8, 4, DType::S8, DType::S8},
#endif
    {&kGemmRef, gemv_ref, 0, 0, DType::S16, DType::S16},
};

// Shape rules for the default choice: at depth K <= max_k, `variant` (same CPU requirement)
// replaces the best kernel `base`. A forced kernel (name or $LOWP_KERNEL) is never replaced.
struct ShapeRule {
  const GemmKernel* base;
  const GemmKernel* variant;
  int max_k;
};
const ShapeRule kShapeRules[] = {
#if defined(__x86_64__) || defined(_M_X64)
    // One tdpbusd step per tile: output-stage bound (gemm_smallk_amx_avx512vnni.cc). Since "amx"
    // has the same packed output stage and takes its K tail as an AMX step, it is as fast or
    // faster from K = 96 up (1 thread, us: 784x128x128 15.8 vs 19.9, 3136x64x128 30.3 vs 41.3,
    // 196x96x112 3.3 vs 4.0, 784x96x96 12.6 vs 13.3; ties at 196x576x96, 196x256x128; 49x512x128
    // 5.6 vs 5.1), and threads better; at K <= 64 amx_smallk wins (196x384x64 9.2 vs 11.9 us,
    // 3136x144x24 53 vs 60 us).
    {&kGemmAmx, &kGemmAmxSmallK, 64},
#endif
    {nullptr, nullptr, 0},
};
}  // namespace

const GemvKernel* gemv_kernel_for(const GemmKernel& k) {
  for (const GemvKernel& g : kGemvTable) {
    if (g.gemm != &k) continue;
    // A layout change of the GEMM kernel must not silently feed the GEMV the wrong bytes.
    if (g.nr == 0 || (g.nr == k.nr && g.kr == k.kr && g.a_domain == k.a_domain && g.b_domain == k.b_domain)) return &g;
  }
  return nullptr;
}

std::vector<const GemmKernel*> compiled_kernels() {
  std::vector<const GemmKernel*> v(std::begin(kTable), std::end(kTable));
  std::stable_sort(v.begin(), v.end(), [](const GemmKernel* a, const GemmKernel* b) { return a->priority > b->priority; });
  return v;
}

std::vector<const GemmKernel*> available_kernels() {
  std::vector<const GemmKernel*> v;
  for (const GemmKernel* k : compiled_kernels())
    if (k->cpu_supported()) v.push_back(k);
  return v;
}

const char* kernel_name(const GemmKernel& k) { return k.name; }

const GemmKernel& select_kernel(const char* name) {
  if (name == nullptr || name[0] == '\0') {
    static const char* env = std::getenv("LOWP_KERNEL");
    if (env && env[0] != '\0') name = env;
  }
  if (name == nullptr || name[0] == '\0') {
    static const GemmKernel* best = available_kernels().front();
    return *best;
  }
  std::string names;
  for (const GemmKernel* k : compiled_kernels()) {
    if (std::strcmp(k->name, name) == 0) {
      LOWP_CHECK(k->cpu_supported(), std::string("kernel '") + name + "' is not supported by this CPU");
      return *k;
    }
    names += (names.empty() ? "" : ", ") + std::string(k->name);
  }
  throw Error(std::string("lowp: unknown kernel '") + name + "' (compiled: " + names + ")");
}

const GemmKernel& select_kernel_for(const char* name, int K) {
  const GemmKernel& k = select_kernel(name);
  static const char* env = std::getenv("LOWP_KERNEL");
  if ((name && name[0]) || (env && env[0])) return k;
  for (const ShapeRule& r : kShapeRules)
    if (r.base == &k && K <= r.max_k && r.variant->cpu_supported()) return *r.variant;
  return k;
}

}  // namespace lowp
