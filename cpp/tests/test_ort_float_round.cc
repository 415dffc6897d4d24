// The clamp-first QuantizeLinear of the AVX-512 depthwise and Add / Mul kernels (ops/ort_float_quot_avx512.h ort_round_clamped_avx512,
// through the test hook ops::ort_float_round_clamped_avx512) against the true float32 division.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ops/ort_float_eltwise.h"
#include "runtime/cpu.h"
#include "tests/test_framework.h"

using namespace lowp;

#if defined(__x86_64__) || defined(_M_X64)
// The clamp-first QuantizeLinear of the depthwise and Add / Mul kernels (ops/ort_float_quot_avx512.h ort_round_clamped_avx512) equals
// the true division, rounded half to even, + zy, clamped, at +-64 ulps of every .5 boundary in and around the
// clamp range, on random values and on extremes, for several zero points and clamps.
LOWP_TEST(ort_float_round_clamped_matches_division) {
  if (!cpu::has_avx512bw()) return;
  std::mt19937 rng(12);
  const float scales[] = {2.f * (0.0173f * 0.0029f), 0.0173f, 0.1f, 0.0235294122f, 3.0f, 7.3e-6f};
  const int32_t zps[] = {-5, 0, 100, -128};
  for (float ys : scales)
    for (int32_t zy : zps)
      for (int c = 0; c < 3; ++c) {
        const int32_t qmin = c == 1 ? std::max(-128, zy) : -128, qmax = c == 1 ? std::min(127, zy + 6) : 127;
        std::vector<float> y;
        for (int k = -300; k <= 300; ++k) {
          const float v0 = static_cast<float>((k + 0.5) * static_cast<double>(ys));
          uint32_t b;
          std::memcpy(&b, &v0, 4);
          for (int d = -64; d <= 64; ++d) {
            const uint32_t bb = b + static_cast<uint32_t>(d);
            float v;
            std::memcpy(&v, &bb, 4);
            y.push_back(v);
          }
        }
        std::uniform_real_distribution<float> ud(-400.f, 400.f);
        for (int i = 0; i < 5000; ++i) y.push_back(ud(rng) * ys);
        for (float e : {0.f, -0.f, 1e-40f, -1e-40f, 3e38f, -3e38f}) y.push_back(e);
        std::vector<int32_t> got(y.size());
        ops::ort_float_round_clamped_avx512(y.data(), static_cast<int64_t>(y.size()), ys, zy, qmin, qmax, got.data());
        int bad = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          volatile float qv = y[i] / ys;  // the true float32 division, then QuantizeLinear's saturation and the clamp
          const float cl = std::fmin(std::fmax(static_cast<float>(qv), static_cast<float>(-128 - zy)),
                                     static_cast<float>(127 - zy));
          const int32_t ref = std::min(std::max(static_cast<int32_t>(std::nearbyint(cl)) + zy, qmin), qmax);
          bad += ref != got[i];
        }
        EXPECT_TRUE(bad == 0, "clamp-first QuantizeLinear differs from the division");
      }
}
#endif
