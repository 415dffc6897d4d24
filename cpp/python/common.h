// Helpers shared by the binding files: array checks and dtype mapping. Bindings only marshal.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "lowp/gemm.h"
#include "lowp/types.h"
#include "ops/conv.h"

namespace lowp {
namespace py = pybind11;

inline DType dtype_of(const py::array& a, const char* what) {
  const auto dt = a.dtype();
  if (dt.equal(py::dtype::of<uint8_t>())) return DType::U8;
  if (dt.equal(py::dtype::of<int8_t>())) return DType::S8;
  if (dt.equal(py::dtype::of<int32_t>())) return DType::S32;
  if (dt.equal(py::dtype::of<int16_t>())) return DType::S16;
  throw py::type_error(std::string("lowp: ") + what + " has unsupported dtype " + std::string(py::str(dt)));
}

inline py::dtype np_dtype(DType t) {
  switch (t) {
    case DType::U8: return py::dtype::of<uint8_t>();
    case DType::S8: return py::dtype::of<int8_t>();
    case DType::S16: return py::dtype::of<int16_t>();
    default: return py::dtype::of<int32_t>();
  }
}

inline DType parse_dtype(const std::string& s) {
  if (s == "uint8") return DType::U8;
  if (s == "int8") return DType::S8;
  if (s == "int32") return DType::S32;
  throw Error("lowp: unsupported output dtype '" + s + "'");
}

inline Rounding parse_rounding(const std::string& s) {
  if (s == "gemmlowp") return Rounding::Gemmlowp;
  if (s == "single") return Rounding::Single;
  if (s == "half_even") return Rounding::HalfEven;
  throw Error("lowp: unknown rounding '" + s + "' (expected 'gemmlowp', 'single' or 'half_even')");
}

// A 2-D array whose rows are contiguous (inner stride == itemsize); returns the row stride in elements.
inline ptrdiff_t row_stride_2d(const py::array& a, const char* what) {
  if (a.ndim() != 2) throw Error(std::string("lowp: ") + what + " must be 2-D");
  const ptrdiff_t isz = a.itemsize();
  if (a.shape(1) > 1 && a.strides(1) != isz)
    throw Error(std::string("lowp: ") + what + " must have contiguous rows");
  if (a.shape(0) > 1 && (a.strides(0) % isz != 0 || a.strides(0) < a.shape(1) * isz))
    throw Error(std::string("lowp: ") + what + " has an unsupported row stride");
  return a.shape(0) > 1 ? a.strides(0) / isz : a.shape(1);
}

// A new C-contiguous output array whose data starts on a 64-byte boundary once it is large
// enough to matter. numpy's allocator gives 16-byte alignment (its large buffers start 16 bytes
// past a cache line), so every full-width 64-byte store of an int32 GEMM row would split two
// cache lines. The data is a 64-byte aligned window of a numpy uint8 buffer that stays the
// array's base (so the result is an ordinary, writeable numpy array, freed with its base).
// Small outputs (a few rows or a single vector) gain nothing measurable and keep the cheaper
// single allocation.
inline py::array new_output(const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  constexpr size_t kAlign = 64, kMinBytes = 16384;
  size_t count = 1;
  for (py::ssize_t d : shape) count *= static_cast<size_t>(d);
  const size_t bytes = count * static_cast<size_t>(dt.itemsize());
  if (bytes < kMinBytes) return py::array(dt, shape);
  py::array raw(py::dtype::of<uint8_t>(), std::vector<py::ssize_t>{static_cast<py::ssize_t>(bytes + kAlign)});
  uint8_t* p = static_cast<uint8_t*>(raw.mutable_data());
  p += (kAlign - reinterpret_cast<uintptr_t>(p) % kAlign) % kAlign;  // numpy data is >= 16-byte aligned
  return py::array(dt, shape, p, raw);
}
inline py::array new_output(DType t, const std::vector<py::ssize_t>& shape) { return new_output(np_dtype(t), shape); }

template <typename T>
std::vector<T> to_vector(const py::array& a) {
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw Error("lowp: cannot convert array");
  return std::vector<T>(c.data(), c.data() + c.size());
}

// The output stage arguments every GEMM-based binding takes, marshalled into an OutputSpec.
inline OutputSpec output_spec(const std::string& out_dtype, const std::string& rounding, const py::object& bias,
                              const py::object& multiplier, const py::object& shift, const py::object& scale,
                              int32_t zero_point, int32_t qmin, int32_t qmax) {
  OutputSpec spec;
  spec.out_type = parse_dtype(out_dtype);
  spec.rounding = parse_rounding(rounding);
  if (!bias.is_none()) spec.bias = to_vector<int32_t>(py::array(bias));
  if (!multiplier.is_none()) spec.multiplier = to_vector<int32_t>(py::array(multiplier));
  if (!shift.is_none()) spec.shift = to_vector<int32_t>(py::array(shift));
  if (!scale.is_none()) spec.scale = to_vector<float>(py::array(scale));
  spec.zero_point = zero_point;
  spec.qmin = qmin;
  spec.qmax = qmax;
  return spec;
}

// Conv geometry for an N x H x W input and packed weights w, checked: strides/dilations >= 1, pads
// >= 0, a non-empty output. strides/dilations: 2 values (h, w); pads: 4 (top, left, bottom, right).
inline ConvGeometry conv_geometry(const PackedConv& w, int64_t N, int64_t H, int64_t W, const std::vector<int>& strides,
                                  const std::vector<int>& dilations, const std::vector<int>& pads) {
  LOWP_CHECK(strides.size() == 2 && dilations.size() == 2 && pads.size() == 4, "bad strides/dilations/pads");
  LOWP_CHECK(N >= 1 && H >= 1 && W >= 1, "conv input must have N, H, W >= 1");
  LOWP_CHECK(N <= INT32_MAX / 4 && H <= INT32_MAX / 4 && W <= INT32_MAX / 4, "conv input is too large");
  ConvGeometry g;
  g.N = static_cast<int>(N);
  g.H = static_cast<int>(H);
  g.W = static_cast<int>(W);
  g.KH = w.KH();
  g.KW = w.KW();
  g.sh = strides[0];
  g.sw = strides[1];
  g.dh = dilations[0];
  g.dw = dilations[1];
  g.pt = pads[0];
  g.pl = pads[1];
  g.pb = pads[2];
  g.pr = pads[3];
  LOWP_CHECK(g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1, "strides and dilations must be >= 1");
  LOWP_CHECK(g.pt >= 0 && g.pl >= 0 && g.pb >= 0 && g.pr >= 0, "pads must be >= 0");
  LOWP_CHECK(g.OH() >= 1 && g.OW() >= 1, "the (dilated) kernel is larger than the padded input: empty output");
  return g;
}

}  // namespace lowp
