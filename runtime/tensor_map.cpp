#include "runtime/tensor_map.h"

#include "runtime/cuda_driver.h"

#include <cstring>
#include <string>

namespace tessera::runtime {
namespace {

constexpr uint64_t kMaxBoxExtent = 256;

Status invalid(const std::string &message) {
  return invalidArgument("tensor map: " + message);
}

Status validate(const TensorMapSpec &spec) {
  const size_t rank = spec.sizes.size();
  if (rank < 1 || rank > 5)
    return invalid("rank must be 1 to 5, got " + std::to_string(rank));
  if (spec.strideBytes.size() != rank - 1)
    return invalid("strideBytes needs " + std::to_string(rank - 1) + " entries, got " +
                   std::to_string(spec.strideBytes.size()));
  if (spec.box.size() != rank)
    return invalid("box needs " + std::to_string(rank) + " entries, got " +
                   std::to_string(spec.box.size()));
  if (spec.elementBytes != 1 && spec.elementBytes != 2 && spec.elementBytes != 4 &&
      spec.elementBytes != 8)
    return invalid("elementBytes must be 1, 2, 4 or 8, got " + std::to_string(spec.elementBytes));
  if (spec.address % 16 != 0)
    return invalid("the address must be 16-byte aligned");
  for (size_t d = 0; d < rank; ++d) {
    if (spec.sizes[d] == 0 || spec.sizes[d] > (uint64_t(1) << 32))
      return invalid("sizes[" + std::to_string(d) + "] must be in [1, 2^32], got " +
                     std::to_string(spec.sizes[d]));
    if (spec.box[d] == 0 || spec.box[d] > kMaxBoxExtent)
      return invalid("box[" + std::to_string(d) + "] must be in [1, 256], got " +
                     std::to_string(spec.box[d]));
  }
  for (size_t d = 0; d + 1 < rank; ++d)
    if (spec.strideBytes[d] % 16 != 0 || spec.strideBytes[d] >= (uint64_t(1) << 40))
      return invalid("strideBytes[" + std::to_string(d) +
                     "] must be a multiple of 16 below 2^40, got " +
                     std::to_string(spec.strideBytes[d]));
  const uint64_t rowBytes = uint64_t(spec.box.back()) * spec.elementBytes;
  if (rowBytes % 16 != 0)
    return invalid("the box's last dimension must span a multiple of 16 bytes, got " +
                   std::to_string(rowBytes));
  if (spec.swizzleBytes != 0 && spec.swizzleBytes != 32 && spec.swizzleBytes != 64 &&
      spec.swizzleBytes != 128)
    return invalid("swizzleBytes must be 0, 32, 64 or 128, got " +
                   std::to_string(spec.swizzleBytes));
  if (spec.swizzleBytes != 0 && rowBytes > spec.swizzleBytes)
    return invalid("a swizzled box row spans at most " + std::to_string(spec.swizzleBytes) +
                   " bytes, got " + std::to_string(rowBytes));
  return Status();
}

CUtensorMapDataType dataType(uint32_t elementBytes) {
  // Copies move bits; out-of-bounds elements are zero bits whatever the type.
  switch (elementBytes) {
  case 1:
    return CU_TENSOR_MAP_DATA_TYPE_UINT8;
  case 2:
    return CU_TENSOR_MAP_DATA_TYPE_UINT16;
  case 4:
    return CU_TENSOR_MAP_DATA_TYPE_UINT32;
  default:
    return CU_TENSOR_MAP_DATA_TYPE_UINT64;
  }
}

CUtensorMapSwizzle swizzleMode(uint32_t swizzleBytes) {
  switch (swizzleBytes) {
  case 32:
    return CU_TENSOR_MAP_SWIZZLE_32B;
  case 64:
    return CU_TENSOR_MAP_SWIZZLE_64B;
  case 128:
    return CU_TENSOR_MAP_SWIZZLE_128B;
  default:
    return CU_TENSOR_MAP_SWIZZLE_NONE;
  }
}

} // namespace

Status encodeTensorMap(const TensorMapSpec &spec, void *out) {
  if (!out)
    return invalid("the output must not be NULL");
  if (Status status = validate(spec); !status.ok())
    return status;
  StatusOr<const CudaDriver *> driver = loadCudaDriver();
  if (!driver.ok())
    return driver.status();
  // The driver counts dimensions innermost first.
  const size_t rank = spec.sizes.size();
  cuuint64_t sizes[5], strides[4];
  cuuint32_t box[5], elementStrides[5];
  for (size_t d = 0; d < rank; ++d) {
    sizes[d] = spec.sizes[rank - 1 - d];
    box[d] = spec.box[rank - 1 - d];
    elementStrides[d] = 1;
  }
  for (size_t d = 0; d + 1 < rank; ++d)
    strides[d] = spec.strideBytes[rank - 2 - d];
  CUtensorMap map;
  Status status = (*driver)->check(
      (*driver)->cuTensorMapEncodeTiled(
          &map, dataType(spec.elementBytes), static_cast<cuuint32_t>(rank),
          reinterpret_cast<void *>(static_cast<uintptr_t>(spec.address)), sizes, strides, box,
          elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzleMode(spec.swizzleBytes),
          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
      "cuTensorMapEncodeTiled");
  if (!status.ok())
    return status;
  std::memcpy(out, &map, kTensorMapBytes);
  return Status();
}

} // namespace tessera::runtime
