// AVX-512 VNNI peak probe: 12 independent accumulator chains of vpdpbusd zmm (u8 x s8 -> s32,
// 64 multiply-accumulates per instruction). 12 chains cover the instruction's latency (~5 cycles)
// times its throughput on current cores. Inline asm so the compiler cannot fold or drop the work.
#include <immintrin.h>

#include "runtime/peak_probe.h"

namespace lowp {
namespace bench {

uint64_t peak_loop_avx512vnni(uint64_t iters) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,
          c9 = c0, c10 = c0, c11 = c0;
  for (uint64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpdpbusd %[b], %[a], %[c0]\n\t"
        "vpdpbusd %[b], %[a], %[c1]\n\t"
        "vpdpbusd %[b], %[a], %[c2]\n\t"
        "vpdpbusd %[b], %[a], %[c3]\n\t"
        "vpdpbusd %[b], %[a], %[c4]\n\t"
        "vpdpbusd %[b], %[a], %[c5]\n\t"
        "vpdpbusd %[b], %[a], %[c6]\n\t"
        "vpdpbusd %[b], %[a], %[c7]\n\t"
        "vpdpbusd %[b], %[a], %[c8]\n\t"
        "vpdpbusd %[b], %[a], %[c9]\n\t"
        "vpdpbusd %[b], %[a], %[c10]\n\t"
        "vpdpbusd %[b], %[a], %[c11]\n\t"
        : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5), [c6] "+v"(c6),
          [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)
        : [a] "v"(a), [b] "v"(b));
  }
  // Keep the results observable.
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                               _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, s);
  volatile int sink = lanes[0] + lanes[15];
  (void)sink;
  return iters * 12u * 64u * 2u;
}

}  // namespace bench
}  // namespace lowp
