// Bindings for the GEMM core: packed weights, gemm, requantization helpers, kernels, threads.
#include <pybind11/stl.h>

#include "gemm/gemv.h"
#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "python/common.h"
#include "requant/requant.h"
#include "runtime/cpu.h"

namespace lowp {

namespace {

std::shared_ptr<PackedB> make_packed(const py::array& b, const py::array& zb, const std::string& kernel) {
  const DType bt = dtype_of(b, "B");
  if (bt != DType::U8 && bt != DType::S8) throw py::type_error("lowp: B must be uint8 or int8");
  const ptrdiff_t ldb = row_stride_2d(b, "B");
  std::vector<int32_t> z = to_vector<int32_t>(zb);
  if (z.empty()) z.push_back(0);
  LOWP_CHECK(b.shape(0) <= INT32_MAX && b.shape(1) <= INT32_MAX, "B is too large");
  const GemmKernel& k = select_kernel_for(kernel.c_str(), static_cast<int>(b.shape(0)));
  return std::make_shared<PackedB>(k, b.data(), bt, static_cast<int>(b.shape(0)), static_cast<int>(b.shape(1)), ldb,
                                   z.data(), static_cast<int>(z.size()));
}

py::array run_gemm(const py::array& a, int32_t za, const PackedB& B, const std::string& out_dtype,
                   const std::string& rounding, const py::object& bias, const py::object& multiplier,
                   const py::object& shift, const py::object& scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                   int num_threads, const py::object& out) {
  const DType at = dtype_of(a, "A");
  if (at != DType::U8 && at != DType::S8) throw py::type_error("lowp: A must be uint8 or int8");
  const ptrdiff_t lda = row_stride_2d(a, "A");
  LOWP_CHECK(a.shape(1) == B.K(), "A has " + std::to_string(a.shape(1)) + " columns but B has K=" + std::to_string(B.K()));
  LOWP_CHECK(a.shape(0) <= INT32_MAX, "A has more than 2**31 - 1 rows");
  const int M = static_cast<int>(a.shape(0));
  const OutputSpec spec = output_spec(out_dtype, rounding, bias, multiplier, shift, scale, zero_point, qmin, qmax);
  py::array c;
  if (out.is_none()) {
    c = new_output(spec.out_type, {static_cast<py::ssize_t>(M), static_cast<py::ssize_t>(B.N())});
  } else {
    c = py::array(out);
    LOWP_CHECK(dtype_of(c, "out") == spec.out_type, "out has the wrong dtype");
    LOWP_CHECK(c.ndim() == 2 && c.shape(0) == M && c.shape(1) == B.N(), "out has the wrong shape");
    LOWP_CHECK(c.writeable(), "out is read-only");
  }
  const ptrdiff_t ldc = row_stride_2d(c, "out");
  GemmArgs args;
  args.M = M;
  args.a = a.data();
  args.a_type = at;
  args.lda = lda;
  args.za = za;
  args.c = c.mutable_data();
  args.ldc = ldc;
  {
    py::gil_scoped_release nogil;
    gemm(args, B, spec, num_threads);
  }
  return c;
}

// ---- fast path of matmul_integer / qlinear_matmul with a PackedMatrix (python/lowp/gemm.py) ----
// The Python side checks the zero point and thread count; these return None (the caller then
// takes the general path, which copies or raises the detailed error) when `a` is not a 2-D
// uint8/int8 array with contiguous rows and K columns, so the common call is one native call
// that allocates nothing but its output.
bool fast_a_ok(const py::handle& h, const PackedB& B, DType* at, ptrdiff_t* lda) {
  if (!py::isinstance<py::array>(h)) return false;
  const auto a = py::reinterpret_borrow<py::array>(h);
  if (a.ndim() != 2 || a.shape(0) < 1 || a.shape(0) > INT32_MAX || a.shape(1) != B.K()) return false;
  const auto dt = a.dtype();
  if (dt.equal(py::dtype::of<uint8_t>()))
    *at = DType::U8;
  else if (dt.equal(py::dtype::of<int8_t>()))
    *at = DType::S8;
  else
    return false;
  if (a.shape(1) > 1 && a.strides(1) != 1) return false;
  if (a.shape(0) > 1 && a.strides(0) < a.shape(1)) return false;
  *lda = a.shape(0) > 1 ? a.strides(0) : a.shape(1);
  return true;
}

py::object fast_gemm(const PackedB& B, const py::handle& a_h, int32_t za, const OutputSpec& spec, int num_threads) {
  DType at;
  ptrdiff_t lda;
  if (!fast_a_ok(a_h, B, &at, &lda)) return py::none();
  const auto a = py::reinterpret_borrow<py::array>(a_h);
  const int M = static_cast<int>(a.shape(0));
  py::array c = new_output(spec.out_type, {static_cast<py::ssize_t>(M), static_cast<py::ssize_t>(B.N())});
  GemmArgs args;
  args.M = M;
  args.a = a.data();
  args.a_type = at;
  args.lda = lda;
  args.za = za;
  args.c = c.mutable_data();
  args.ldc = B.N();
  {
    py::gil_scoped_release nogil;
    gemm(args, B, spec, num_threads);
  }
  return std::move(c);
}

const OutputSpec& int32_spec() {
  static const OutputSpec s;  // out_type S32
  return s;
}

// Requantize an int32 array; per-channel parameters run along the last axis.
py::array requantize_array(const py::array& acc_in, const py::array& multiplier, const py::array& shift,
                           const py::array& scale, int32_t zp, int32_t qmin, int32_t qmax, const std::string& rounding,
                           const std::string& out_dtype) {
  auto acc = py::array_t<int32_t, py::array::c_style>::ensure(acc_in);
  if (!acc) throw py::type_error("lowp: acc must be int32");
  const Rounding r = parse_rounding(rounding);
  const DType ot = parse_dtype(out_dtype);
  LOWP_CHECK(ot == DType::U8 || ot == DType::S8, "output dtype must be uint8 or int8");
  const int32_t lo = ot == DType::U8 ? 0 : -128, hi = ot == DType::U8 ? 255 : 127;
  LOWP_CHECK(qmin >= lo && qmax <= hi && qmin <= qmax, "activation range must lie inside the output type");
  LOWP_CHECK(zp >= lo && zp <= hi, "zero point out of range for the output type");
  const std::vector<int32_t> mv = r == Rounding::HalfEven ? std::vector<int32_t>{0} : to_vector<int32_t>(multiplier);
  const std::vector<int32_t> sv = r == Rounding::HalfEven ? std::vector<int32_t>{0} : to_vector<int32_t>(shift);
  const std::vector<float> fv = r == Rounding::HalfEven ? to_vector<float>(scale) : std::vector<float>{0.f};
  const py::ssize_t C = acc.ndim() ? acc.shape(acc.ndim() - 1) : 1;
  const size_t nparam = r == Rounding::HalfEven ? fv.size() : mv.size();
  LOWP_CHECK(nparam == 1 || static_cast<py::ssize_t>(nparam) == C, "per-channel parameters must match the last axis");
  if (r != Rounding::HalfEven) {
    LOWP_CHECK(mv.size() == sv.size(), "multiplier and shift must have the same length");
    for (size_t i = 0; i < mv.size(); ++i) {
      LOWP_CHECK(mv[i] >= 0, "multiplier must be >= 0");
      LOWP_CHECK(sv[i] >= -31 && sv[i] <= 30, "shift must be in [-31, 30]");
    }
  }
  std::vector<py::ssize_t> shape(acc.shape(), acc.shape() + acc.ndim());
  py::array res(np_dtype(ot), shape);
  const int32_t* src = acc.data();
  const py::ssize_t n = acc.size();
  uint8_t* dst = static_cast<uint8_t*>(res.mutable_data());
  {
    py::gil_scoped_release nogil;
    for (py::ssize_t i = 0; i < n; ++i) {
      const size_t ch = nparam == 1 ? 0 : static_cast<size_t>(i % C);
      const int32_t q = requant::requantize_one(src[i], r, mv[r == Rounding::HalfEven ? 0 : ch],
                                                sv[r == Rounding::HalfEven ? 0 : ch], fv[r == Rounding::HalfEven ? ch : 0],
                                                zp, qmin, qmax);
      dst[i] = static_cast<uint8_t>(q);  // two's complement store is right for int8 too
    }
  }
  return res;
}

}  // namespace

void register_gemm(py::module_& m) {
  py::class_<PackedB, std::shared_ptr<PackedB>>(m, "PackedB")
      .def(py::init(&make_packed), py::arg("b"), py::arg("b_zero_point"), py::arg("kernel") = "")
      .def_property_readonly("K", &PackedB::K)
      .def_property_readonly("N", &PackedB::N)
      .def_property_readonly("kernel", [](const PackedB& p) { return std::string(p.kernel().name); })
      .def_property_readonly("nbytes", &PackedB::packed_bytes)
      .def_property_readonly("dtype", [](const PackedB& p) { return std::string(dtype_name(p.b_type())); })
      .def("matmul", [](const PackedB& B, const py::handle& a, int32_t za, int num_threads) {
        return fast_gemm(B, a, za, int32_spec(), num_threads);
      })
      .def("qlinear", [](const PackedB& B, const py::handle& a, int32_t za, const OutputSpec& spec,
                         const py::handle& bias, int num_threads) -> py::object {
        if (bias.is_none()) return fast_gemm(B, a, za, spec, num_threads);
        if (!py::isinstance<py::array>(bias)) return py::none();
        const auto b = py::reinterpret_borrow<py::array>(bias);
        if (!b.dtype().equal(py::dtype::of<int32_t>()))
          throw py::type_error("lowp: bias must be int32, got " + std::string(py::str(b.dtype())));
        if (b.ndim() != 1 || b.shape(0) != B.N())
          throw Error("lowp: bias must have shape (" + std::to_string(B.N()) + ",), got " +
                      std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(b.shape(), b.shape() + b.ndim()))))));
        // The cached spec stays untouched: a per-thread copy takes the bias (no allocation once warm).
        thread_local OutputSpec with_bias;
        with_bias = spec;
        const int32_t* bp = static_cast<const int32_t*>(b.data());
        if (b.strides(0) == 4) {
          with_bias.bias.assign(bp, bp + B.N());
        } else {
          with_bias.bias.resize(B.N());
          for (int j = 0; j < B.N(); ++j) with_bias.bias[j] = *reinterpret_cast<const int32_t*>(
              static_cast<const char*>(b.data()) + static_cast<ptrdiff_t>(j) * b.strides(0));
        }
        return fast_gemm(B, a, za, with_bias, num_threads);
      });

  // A requantization spec (everything but the bias), built once per set of scales by gemm.py.
  py::class_<OutputSpec, std::shared_ptr<OutputSpec>>(m, "OutputSpec")
      .def(py::init([](const std::string& out_dtype, const std::string& rounding, const py::object& multiplier,
                       const py::object& shift, const py::object& scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
             return std::make_shared<OutputSpec>(
                 output_spec(out_dtype, rounding, py::none(), multiplier, shift, scale, zero_point, qmin, qmax));
           }),
           py::arg("out_dtype"), py::arg("rounding"), py::arg("multiplier"), py::arg("shift"), py::arg("scale"),
           py::arg("zero_point"), py::arg("qmin"), py::arg("qmax"));

  m.def("_set_gemv", [](bool on) { set_gemv_enabled(on); }, "Enable/disable the M <= 4 GEMV path (tests).");
  m.def("_gemv_enabled", [] { return gemv_enabled(); });
  m.attr("GEMV_MAX_M") = kGemvMaxM;

  m.def("gemm", &run_gemm, py::arg("a"), py::arg("a_zero_point"), py::arg("b"), py::arg("out_dtype") = "int32",
        py::arg("rounding") = "half_even", py::arg("bias") = py::none(), py::arg("multiplier") = py::none(),
        py::arg("shift") = py::none(), py::arg("scale") = py::none(), py::arg("zero_point") = 0, py::arg("qmin") = 0,
        py::arg("qmax") = 0, py::arg("num_threads") = 0, py::arg("out") = py::none());

  m.def("requantize", &requantize_array, py::arg("acc"), py::arg("multiplier"), py::arg("shift"), py::arg("scale"),
        py::arg("zero_point"), py::arg("qmin"), py::arg("qmax"), py::arg("rounding"), py::arg("out_dtype"));

  m.def("quantize_multiplier", [](double real, bool single_rounding) {
    LOWP_CHECK(real >= 0.0 && std::isfinite(real), "multiplier must be finite and >= 0");
    int32_t q;
    int s;
    quantize_multiplier(real, &q, &s, single_rounding);
    return py::make_tuple(q, s);
  }, py::arg("real"), py::arg("single_rounding") = false);

  m.def("kernels", [] {
    std::vector<std::string> v;
    for (auto* k : available_kernels()) v.emplace_back(k->name);
    return v;
  });
  m.def("compiled_kernels", [] {
    std::vector<std::string> v;
    for (auto* k : compiled_kernels()) v.emplace_back(k->name);
    return v;
  });
  m.def("default_kernel", [](int K) { return std::string((K > 0 ? select_kernel_for(nullptr, K) : select_kernel(nullptr)).name); },
        py::arg("K") = 0);
  m.def("kernel_info", [](const std::string& name) {
    const GemmKernel& k = select_kernel(name.c_str());
    py::dict d;
    d["name"] = k.name;
    d["mr"] = k.mr;
    d["nr"] = k.nr;
    d["kr"] = k.kr;
    d["a_domain"] = dtype_name(k.a_domain);
    d["b_domain"] = dtype_name(k.b_domain);
    return d;
  });
  m.def("set_num_threads", [](int n) {
    LOWP_CHECK(n >= 1, "number of threads must be >= 1");
    py::gil_scoped_release nogil;
    set_num_threads(n);
  });
  m.def("get_num_threads", &get_num_threads);
  m.def("arch", [] { return std::string(cpu::arch()); });
  m.def("max_isa", [] { return std::string(cpu::max_isa()); },
        "LOWP_MAX_ISA as lowp read it at load ('' when unset): the most its kernels may use.");
  m.def("max_isa_valid", &cpu::max_isa_valid);
  m.def("isa_levels", [] { return std::string(cpu::isa_levels()); });
}

}  // namespace lowp
