// IEEE binary16 on the host, for the examples' fp16 inputs and outputs (C++17 has no half type).
#ifndef TESSERA_EXAMPLES_HALF_H
#define TESSERA_EXAMPLES_HALF_H

#include <cmath>
#include <cstdint>
#include <cstring>

// Half from float, rounding to nearest even.
inline uint16_t to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) // infinity or NaN
    return uint16_t(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  if (magnitude >= 0x477ff000u) // 65520 and above round to infinity
    return uint16_t(sign | 0x7c00u);
  if (magnitude < 0x38800000u) { // below 2^-14: a subnormal half, in units of 2^-24
    float absolute;
    std::memcpy(&absolute, &magnitude, sizeof(absolute));
    return uint16_t(sign | uint32_t(std::nearbyint(absolute * 16777216.0f)));
  }
  uint32_t half = (((magnitude >> 23) - 112) << 10) | ((magnitude >> 13) & 0x3ffu);
  const uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    ++half; // a carry out of the mantissa correctly bumps the exponent
  return uint16_t(sign | half);
}

inline float from_half(uint16_t half) {
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(float(mantissa | 0x400), exponent - 25);
  return (half & 0x8000) ? -magnitude : magnitude;
}

#endif // TESSERA_EXAMPLES_HALF_H
