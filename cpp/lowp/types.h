// lowp public C++ types: element types, rounding families, errors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lowp {

enum class DType : uint8_t { U8 = 0, S8 = 1, S32 = 2, S16 = 3 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::U8: return "uint8";
    case DType::S8: return "int8";
    case DType::S32: return "int32";
    case DType::S16: return "int16";
  }
  return "?";
}

// Requantization families (see docs/ARCHITECTURE.md, "Requantization").
//  Gemmlowp: TFLite reference MultiplyByQuantizedMultiplier (SRDHM + RDBPOT, two roundings)
//  Single:   TFLITE_SINGLE_ROUNDING / ruy (one 64-bit product, one rounding, ties upward)
//  HalfEven: onnxruntime MLAS (float32 scale, round half to even)
enum class Rounding : uint8_t { Gemmlowp = 0, Single = 1, HalfEven = 2 };

// All argument errors thrown by the core derive from this; the bindings map it to ValueError.
struct Error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

#define LOWP_CHECK(cond, msg)                                   \
  do {                                                          \
    if (!(cond)) throw ::lowp::Error(std::string("lowp: ") + (msg)); \
  } while (0)

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t ceil_div(int64_t x, int64_t m) { return (x + m - 1) / m; }

}  // namespace lowp
