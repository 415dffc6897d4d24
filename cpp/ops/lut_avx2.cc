// AVX2 lookup-table kernel (CPUs without AVX-512 VBMI): 32 bytes per step. vpshufb looks up 16 entries per lane
// and gives 0 where the index byte has its top bit set; an XOR cascade turns eight such lookups into one of 128
// entries: with T_i = entries 16i .. 16i + 15 and S_0 = T_0, S_i = T_i ^ T_(i-1), the lookups of S_i at index
// v - 16i (i = 0..7) are non-zero exactly for i <= v / 16 (v < 128: v - 16i < 0 wraps to a byte >= 144) and all
// read entry v % 16, so their XOR telescopes to T_(v/16)[v % 16]. One cascade per table half (the upper one at
// index v ^ 0x80 = v - 128), and the index's top bit picks between them (vpblendvb). Exact by construction (a
// byte gather); compared with the scalar lut_apply_ref in the tests.
#include <immintrin.h>

#include <cstring>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

namespace {

struct Cascades {
  __m256i lo[8], hi[8];
  explicit Cascades(const uint8_t* table) {
    auto row = [&](int i) {
      return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * i)));
    };
    for (int i = 0; i < 8; ++i) {
      lo[i] = i == 0 ? row(0) : _mm256_xor_si256(row(i), row(i - 1));
      hi[i] = i == 0 ? row(8) : _mm256_xor_si256(row(8 + i), row(7 + i));
    }
  }
  __m256i operator()(__m256i v) const {
    const __m256i sixteen = _mm256_set1_epi8(16), top = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256i idx = v;
    __m256i rl = _mm256_shuffle_epi8(lo[0], idx), rh = _mm256_shuffle_epi8(hi[0], _mm256_xor_si256(idx, top));
    for (int i = 1; i < 8; ++i) {
      idx = _mm256_sub_epi8(idx, sixteen);
      rl = _mm256_xor_si256(rl, _mm256_shuffle_epi8(lo[i], idx));
      rh = _mm256_xor_si256(rh, _mm256_shuffle_epi8(hi[i], _mm256_xor_si256(idx, top)));
    }
    return _mm256_blendv_epi8(rl, rh, v);
  }
};

}  // namespace

void lut_apply_avx2(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n) {
  const Cascades look(table);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {  // two independent cascades in flight
    const __m256i a = look(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    const __m256i b = look(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 32)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i + 32), b);
  }
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        look(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  if (i < n) {  // 1..31 left: through a 32-byte buffer (no read or write past the arrays)
    alignas(32) uint8_t buf[32] = {};
    const size_t m = static_cast<size_t>(n - i);
    std::memcpy(buf, x + i, m);
    _mm256_store_si256(reinterpret_cast<__m256i*>(buf), look(_mm256_load_si256(reinterpret_cast<const __m256i*>(buf))));
    std::memcpy(y + i, buf, m);
  }
}

}  // namespace ops
}  // namespace lowp
