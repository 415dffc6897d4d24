// The AMX tile configuration block (ldtilecfg / sttilecfg operand, palette 1), shared by the AMX
// GEMM kernels and the AMX peak probe. Plain data: safe to include from portable code.
#pragma once
#include <cstdint>

namespace lowp {

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of each tile
  uint8_t rows[16];    // rows of each tile
};
static_assert(sizeof(TileConfig) == 64, "tile configuration is 64 bytes");

}  // namespace lowp
