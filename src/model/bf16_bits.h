// bfloat16 <-> float on raw uint16_t bits, inlined into the kernels' row loops so that they
// vectorize (c10::BFloat16's conversions are not inlined into ISA clones).
#pragma once

#include <cstdint>
#include <cstring>

#include "model/vector_clones.h"

namespace gst {

// bfloat16 -> float is a shift of the raw bits.
GST_INLINE float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

// float -> bfloat16 bits, rounded to nearest even as c10::BFloat16 does (NaN stays a NaN).
GST_INLINE uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  return f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>(rounded);
}

}  // namespace gst
