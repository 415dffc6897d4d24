// A-panel packers: every available kernel's pack_a hook and the generic pack_a_panel, for every
// partial panel m in 1..mr, depths K in 1..40, uint8 and int8 A, tight and padded row strides.
//
// Each packer runs twice per case:
//   1. into a heap buffer of exactly mr*Kp*elem_size bytes (ASan reports any write past it; A is
//      also an exactly sized heap buffer, so reads past A[m-1][K-1] are reported too);
//   2. into a buffer followed by a canary region that must stay untouched (catches overruns in
//      builds without ASan, e.g. under qemu).
// Packed bytes and row sums are compared with an independent layout computed in this file
// ([g][r][kk], domain shift, zero padding), and with the generic packer's output.
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

constexpr size_t kCanary = 64;
constexpr uint8_t kCanaryByte = 0xA5;

// 64-byte aligned heap block of exactly `bytes` (like the driver's buffers, minus the slack).
struct Block {
  explicit Block(size_t n) : bytes(n), p(static_cast<uint8_t*>(::operator new(n == 0 ? 1 : n, std::align_val_t(64)))) {}
  ~Block() { ::operator delete(p, std::align_val_t(64)); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  size_t bytes;
  uint8_t* p;
};

// Expected panel: [g][r][kk] in the kernel's domain, zero outside rows 0..m-1 / k 0..K-1.
std::vector<uint8_t> expected_panel(const GemmKernel& k, const uint8_t* a, DType at, int m, int K, ptrdiff_t lda,
                                    std::vector<int32_t>* sums) {
  const int g = a_group(k);
  const size_t esz = element_size(k.a_domain);
  std::vector<uint8_t> out(a_panel_bytes(k, K), 0);
  sums->assign(m, 0);
  const int32_t shift = domain_shift(at, k.a_domain);
  for (int r = 0; r < m; ++r) {
    int64_t s = 0;
    for (int kk = 0; kk < K; ++kk) {
      const uint8_t raw = a[r * lda + kk];
      const int32_t v = (at == DType::U8 ? static_cast<int32_t>(raw) : static_cast<int32_t>(static_cast<int8_t>(raw))) + shift;
      s += v;
      const size_t idx = (static_cast<size_t>(kk / g) * k.mr * g + static_cast<size_t>(r) * g + kk % g) * esz;
      if (esz == 1) {
        out[idx] = static_cast<uint8_t>(v);
      } else {
        const int16_t v16 = static_cast<int16_t>(v);
        std::memcpy(&out[idx], &v16, 2);
      }
    }
    (*sums)[r] = static_cast<int32_t>(s);
  }
  return out;
}

std::string where(const GemmKernel& k, bool generic, DType at, int m, int K, ptrdiff_t lda) {
  return std::string(k.name) + (generic ? " (generic pack_a_panel)" : " (pack_a hook)") +
         (at == DType::U8 ? " u8" : " s8") + " m=" + std::to_string(m) + " K=" + std::to_string(K) +
         " lda=" + std::to_string(lda);
}

// Runs one packer on one case; returns the packed panel (from the exact-size run).
std::vector<uint8_t> run_packer(const GemmKernel& k, bool generic, const uint8_t* a, DType at, int m, int K,
                                ptrdiff_t lda, const std::vector<uint8_t>& want, const std::vector<int32_t>& want_sums) {
  GemmKernel gk = k;
  if (generic) gk.pack_a = nullptr;
  const size_t panel = a_panel_bytes(k, K);
  const std::string ctx = where(k, generic, at, m, K, lda);

  // 1. Exactly sized panel (pre-filled with garbage: the packer must write every byte).
  Block exact(panel);
  std::memset(exact.p, 0x5A, panel);
  std::vector<int32_t> sums(k.mr + 16, 0x7EADBEEF);
  pack_a_panel(gk, a, at, m, K, lda, exact.p, sums.data());
  std::vector<uint8_t> got(exact.p, exact.p + panel);
  EXPECT_TRUE(got == want, ctx + ": packed panel differs from the expected layout");
  for (int r = 0; r < m; ++r)
    EXPECT_TRUE(sums[r] == want_sums[r], ctx + ": row sum " + std::to_string(r) + " = " + std::to_string(sums[r]) +
                                             ", want " + std::to_string(want_sums[r]));
  for (size_t i = k.mr; i < sums.size(); ++i)
    EXPECT_TRUE(sums[i] == 0x7EADBEEF, ctx + ": row_sums written past mr entries");

  // 2. Panel followed by a canary; no row sums requested.
  Block guarded(panel + kCanary);
  std::memset(guarded.p, kCanaryByte, panel + kCanary);
  pack_a_panel(gk, a, at, m, K, lda, guarded.p, nullptr);
  EXPECT_TRUE(std::memcmp(guarded.p, want.data(), panel) == 0, ctx + ": packed panel (row_sums=nullptr) differs");
  for (size_t i = 0; i < kCanary; ++i)
    if (guarded.p[panel + i] != kCanaryByte) {
      EXPECT_TRUE(false, ctx + ": wrote past the panel end (byte +" + std::to_string(i) + " of " +
                             std::to_string(panel) + "-byte panel)");
      break;
    }
  return got;
}

}  // namespace

LOWP_TEST(pack_a_every_kernel_exact_bounds) {
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> byte(0, 255);
  int cases = 0;
  for (const GemmKernel* k : available_kernels()) {
    for (DType at : {DType::U8, DType::S8}) {
      for (int m = 1; m <= k->mr; ++m) {
        for (int K = 1; K <= 40; ++K) {
          for (ptrdiff_t pad : {0, 5}) {
            const ptrdiff_t lda = K + pad;
            // A: exactly the bytes a packer may read (rows 0..m-1, last row only K long).
            const size_t abytes = static_cast<size_t>(m - 1) * lda + K;
            Block a(abytes);
            for (size_t i = 0; i < abytes; ++i) a.p[i] = static_cast<uint8_t>(byte(rng));
            // Extremes in the first and last valid elements.
            a.p[0] = at == DType::U8 ? 255 : 0x80;
            a.p[abytes - 1] = at == DType::U8 ? 0 : 0x7F;
            std::vector<int32_t> want_sums;
            const std::vector<uint8_t> want = expected_panel(*k, a.p, at, m, K, lda, &want_sums);
            const std::vector<uint8_t> gen = run_packer(*k, true, a.p, at, m, K, lda, want, want_sums);
            if (k->pack_a) {
              const std::vector<uint8_t> fast = run_packer(*k, false, a.p, at, m, K, lda, want, want_sums);
              EXPECT_TRUE(fast == gen, where(*k, false, at, m, K, lda) + ": differs from the generic packer");
            }
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_TRUE(cases > 0, "no kernel available");
}
