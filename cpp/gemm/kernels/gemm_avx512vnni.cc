// x86 AVX-512 VNNI GEMM kernel: vpdpbusd, u8 activations x s8 weights, kr=4, 8x32 tiles.
//
// Per k-group (4 k values) the kernel loads two zmm of B (32 columns x 4 s8), broadcasts the
// 4 u8 of each A row and issues 16 independent vpdpbusd (8 rows x 2 vectors). vpdpbusd adds
// four u8*s8 products (each |p| <= 255*128) into an int32 lane without saturation, so sums wrap
// modulo 2^32 exactly like the int64 reference reduced to int32. The fused output stage is in
// vnni_avx512.h (shared with the AMX kernel).
#include <immintrin.h>

#include <algorithm>

#include "gemm/kernel.h"
#include "gemm/kernels/vnni_avx512.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 8, kNR = 32, kKR = 4;

void ukernel_avx512vnni(const Tile& t, const Epilogue& ep) {
  __m512i acc[8][2];
  vnni::zero_acc(acc);
  const int rows = t.m < kMR ? t.m : kMR;
  vnni::dpbusd_rows_n<kKR, kMR * kKR>(rows, static_cast<const uint8_t*>(t.a), static_cast<const int8_t*>(t.b),
                                      t.kgroups, acc);
  vnni::store_rows(acc, rows, 0, t, ep);
}

// Packs up to 8 rows of A (uint8 or int8) into the U8 domain, layout [g][r][4], 16 k at a time:
// 8 rows x 16 bytes are transposed as 8 x 4 dwords (one dword = one k-group of one row).
// Missing rows and k past K are zero (masked loads: nothing outside A is read). Row sums (in
// the domain) come from vpsadbw.
void pack_a_avx512vnni(const void* a, DType a_type, int m, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const __m128i flip = _mm_set1_epi8(a_type == DType::S8 ? static_cast<char>(0x80) : 0);
  const uint8_t* p[kMR];
  __mmask16 rmask[kMR];
  for (int r = 0; r < kMR; ++r) {
    p[r] = src + static_cast<ptrdiff_t>(std::min(r, m - 1)) * lda;
    rmask[r] = r < m ? 0xFFFF : 0;
  }
  const __m256i zero = _mm256_setzero_si256();
  __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  auto block = [&](int k, __mmask16 kmask, int ngroups) {
    __m128i x[kMR];
    for (int r = 0; r < kMR; ++r) {
      const __mmask16 mk = rmask[r] & kmask;
      const __m128i v = _mm_mask_loadu_epi8(_mm_setzero_si128(), mk, p[r] + k);
      x[r] = _mm_maskz_mov_epi8(mk, _mm_xor_si128(v, flip));
    }
    const __m256i t0 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[0]), x[4], 1);
    const __m256i t1 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[1]), x[5], 1);
    const __m256i t2 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[2]), x[6], 1);
    const __m256i t3 = _mm256_inserti128_si256(_mm256_castsi128_si256(x[3]), x[7], 1);
    if (row_sums) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(t0, zero));
      s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(t1, zero));
      s2 = _mm256_add_epi64(s2, _mm256_sad_epu8(t2, zero));
      s3 = _mm256_add_epi64(s3, _mm256_sad_epu8(t3, zero));
    }
    const __m256i u0 = _mm256_unpacklo_epi32(t0, t1), u1 = _mm256_unpackhi_epi32(t0, t1);
    const __m256i u2 = _mm256_unpacklo_epi32(t2, t3), u3 = _mm256_unpackhi_epi32(t2, t3);
    __m256i* o = reinterpret_cast<__m256i*>(out + static_cast<size_t>(k / kKR) * kMR * kKR);
    _mm256_storeu_si256(o + 0, _mm256_unpacklo_epi64(u0, u2));
    if (ngroups > 1) _mm256_storeu_si256(o + 1, _mm256_unpackhi_epi64(u0, u2));
    if (ngroups > 2) _mm256_storeu_si256(o + 2, _mm256_unpacklo_epi64(u1, u3));
    if (ngroups > 3) _mm256_storeu_si256(o + 3, _mm256_unpackhi_epi64(u1, u3));
  };
  int k = 0;
  for (; k + 16 <= K; k += 16) block(k, 0xFFFF, 4);
  if (k < K) {
    const int rem = K - k;
    block(k, static_cast<__mmask16>((1u << rem) - 1), (rem + kKR - 1) / kKR);
  }
  if (row_sums) {
    const __m256i s[4] = {s0, s1, s2, s3};
    for (int r = 0; r < 4; ++r) {
      alignas(32) uint64_t q[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), s[r]);
      row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(q[0] + q[1]));
      row_sums[r + 4] = static_cast<int32_t>(static_cast<uint32_t>(q[2] + q[3]));
    }
  }
}

}  // namespace

extern const GemmKernel kGemmAvx512Vnni = {
    "avx512vnni", kMR, kNR, kKR, DType::U8, DType::S8, cpu::has_avx512vnni, ukernel_avx512vnni, 30,
    pack_a_avx512vnni,
};

}  // namespace lowp
