// Generic packing of A panels and B panels into the shared interleaved layout (gemm/kernel.h).
#include <algorithm>
#include <cstring>

#include "gemm/kernel.h"

namespace lowp {

size_t element_size(DType d) {
  switch (d) {
    case DType::U8:
    case DType::S8: return 1;
    case DType::S16: return 2;
    case DType::S32: return 4;
  }
  return 1;
}

int32_t domain_shift(DType in, DType dom) {
  if (in == DType::S8 && dom == DType::U8) return 128;
  if (in == DType::U8 && dom == DType::S8) return -128;
  return 0;
}

namespace {

template <typename TIn>
inline int32_t load(const void* p, ptrdiff_t idx) {
  return static_cast<int32_t>(static_cast<const TIn*>(p)[idx]);
}

// Packs `lines` (rows of A or columns of B) of length K, each read with element stride `estride`
// and line stride `lstride`, into [g][line][kk] with `tile` lines per k-group (missing lines zero).
template <typename TIn, typename TDom>
void pack_lines(const void* src, int lines, int tile, int K, int kr, ptrdiff_t lstride, ptrdiff_t estride,
                int32_t shift, void* dst, int32_t* sums) {
  const int Kp = static_cast<int>(round_up(K, kr));  // kr: this layout's k-group
  TDom* out = static_cast<TDom*>(dst);
  std::memset(out, 0, sizeof(TDom) * static_cast<size_t>(Kp) * tile);
  const TIn* s = static_cast<const TIn*>(src);
  const ptrdiff_t group = static_cast<ptrdiff_t>(tile) * kr;  // elements between k-groups of one line
  for (int l = 0; l < lines; ++l) {
    uint32_t sum = 0;
    const TIn* line = s + l * lstride;
    TDom* o = out + static_cast<ptrdiff_t>(l) * kr;
    // k-group by k-group (no division per element: this runs per call for activation x activation GEMMs)
    for (int k0 = 0; k0 < K; k0 += kr, o += group) {
      const int n = std::min(kr, K - k0);
      for (int kk = 0; kk < n; ++kk) {
        const int32_t v = static_cast<int32_t>(line[static_cast<ptrdiff_t>(k0 + kk) * estride]) + shift;
        o[kk] = static_cast<TDom>(v);
        sum += static_cast<uint32_t>(v);
      }
    }
    if (sums) sums[l] = static_cast<int32_t>(sum);
  }
}

template <typename TIn>
void pack_dispatch_dom(DType dom, const void* src, int lines, int tile, int K, int kr, ptrdiff_t lstride,
                       ptrdiff_t estride, int32_t shift, void* dst, int32_t* sums) {
  switch (dom) {
    case DType::U8: return pack_lines<TIn, uint8_t>(src, lines, tile, K, kr, lstride, estride, shift, dst, sums);
    case DType::S8: return pack_lines<TIn, int8_t>(src, lines, tile, K, kr, lstride, estride, shift, dst, sums);
    case DType::S16: return pack_lines<TIn, int16_t>(src, lines, tile, K, kr, lstride, estride, shift, dst, sums);
    default: throw Error("lowp: bad packing domain");
  }
}

void pack_any(DType in, DType dom, const void* src, int lines, int tile, int K, int kr, ptrdiff_t lstride,
              ptrdiff_t estride, void* dst, int32_t* sums) {
  const int32_t shift = domain_shift(in, dom);
  if (in == DType::U8)
    pack_dispatch_dom<uint8_t>(dom, src, lines, tile, K, kr, lstride, estride, shift, dst, sums);
  else
    pack_dispatch_dom<int8_t>(dom, src, lines, tile, K, kr, lstride, estride, shift, dst, sums);
}

}  // namespace

void pack_b_panel(const GemmKernel& k, const void* b, DType b_type, int K, int ncols, ptrdiff_t ldb, void* dst,
                  int32_t* colsum) {
  // Column c of B is a line with element stride ldb, line stride 1.
  pack_any(b_type, k.b_domain, b, ncols, k.nr, K, k.kr, 1, ldb, dst, colsum);
}

void pack_bt_panel(const GemmKernel& k, const void* bt, DType b_type, int K, int ncols, ptrdiff_t ldbt, void* dst,
                   int32_t* colsum) {
  // Column c of B is row c of B^T: a line with element stride 1, line stride ldbt.
  pack_any(b_type, k.b_domain, bt, ncols, k.nr, K, k.kr, ldbt, 1, dst, colsum);
}

void pack_a_panel(const GemmKernel& k, const void* a, DType a_type, int mrows, int K, ptrdiff_t lda, void* dst,
                  int32_t* row_sums) {
  if (k.pack_a) return k.pack_a(a, a_type, mrows, K, lda, dst, row_sums);
  pack_any(a_type, k.a_domain, a, mrows, k.mr, K, a_group(k), lda, 1, dst, row_sums);
}

}  // namespace lowp
