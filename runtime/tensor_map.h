// TMA tensor maps: the 128-byte descriptors (CUtensorMap) through which sm_90 kernels copy blocks
// of a tensor between global and shared memory. The host encodes one per tensor descriptor
// argument and passes it by value.
#ifndef TESSERA_RUNTIME_TENSOR_MAP_H
#define TESSERA_RUNTIME_TENSOR_MAP_H

#include "runtime/status.h"

#include <cstdint>
#include <vector>

namespace tessera::runtime {

constexpr size_t kTensorMapBytes = 128;

// A tiled view of a tensor in device memory, every list outermost dimension first. The last
// dimension is contiguous; `strideBytes` holds the other dimensions' strides.
struct TensorMapSpec {
  uint64_t address = 0;
  std::vector<uint64_t> sizes;
  std::vector<uint64_t> strideBytes; // sizes.size() - 1 entries
  std::vector<uint32_t> box;         // elements per dimension of one copy
  uint32_t elementBytes = 0;         // 1, 2, 4 or 8
  uint32_t swizzleBytes = 0;         // 0 (none), 32, 64 or 128
};

// INVALID_ARGUMENT, naming the field, for what TMA cannot describe: ranks outside 1..5,
// addresses not 16-byte aligned, strides not multiples of 16 bytes, boxes of more than 256
// elements along a dimension, a swizzled box row wider than the swizzle. UNAVAILABLE without a
// driver.
Status encodeTensorMap(const TensorMapSpec &spec, void *out);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_TENSOR_MAP_H
