// AVX2 peak probe for the int16-widening int8 kernels: 6 independent chains of
// vpmaddwd ymm (16 multiply-accumulates) + vpaddd into an accumulator, unrolled twice.
// This is the arithmetic an exact AVX2 kernel retires (no saturating vpmaddubsw).
#include <immintrin.h>

#include "runtime/peak_probe.h"

namespace lowp {
namespace bench {

uint64_t peak_loop_avx2(uint64_t iters) {
  const __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(-5);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  __m256i t0, t1, t2, t3, t4, t5;
  for (uint64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpmaddwd %[b], %[a], %[t0]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\t"
        "vpmaddwd %[b], %[a], %[t2]\n\t"
        "vpmaddwd %[b], %[a], %[t3]\n\t"
        "vpmaddwd %[b], %[a], %[t4]\n\t"
        "vpmaddwd %[b], %[a], %[t5]\n\t"
        "vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpaddd %[t2], %[c2], %[c2]\n\t"
        "vpaddd %[t3], %[c3], %[c3]\n\t"
        "vpaddd %[t4], %[c4], %[c4]\n\t"
        "vpaddd %[t5], %[c5], %[c5]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\t"
        "vpmaddwd %[b], %[a], %[t2]\n\t"
        "vpmaddwd %[b], %[a], %[t3]\n\t"
        "vpmaddwd %[b], %[a], %[t4]\n\t"
        "vpmaddwd %[b], %[a], %[t5]\n\t"
        "vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpaddd %[t2], %[c2], %[c2]\n\t"
        "vpaddd %[t3], %[c3], %[c3]\n\t"
        "vpaddd %[t4], %[c4], %[c4]\n\t"
        "vpaddd %[t5], %[c5], %[c5]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
          [t0] "=&x"(t0), [t1] "=&x"(t1), [t2] "=&x"(t2), [t3] "=&x"(t3), [t4] "=&x"(t4), [t5] "=&x"(t5)
        : [a] "x"(a), [b] "x"(b));
  }
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(_mm256_add_epi32(c2, c3), _mm256_add_epi32(c4, c5)));
  alignas(32) int lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  volatile int sink = lanes[0] + lanes[7];
  (void)sink;
  return iters * 12u * 16u * 2u;
}

}  // namespace bench
}  // namespace lowp
