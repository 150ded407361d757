// Tensor map encoding: what TMA cannot describe is rejected before the driver is asked, with the
// offending field named.
#include "runtime/tensor_map.h"

#include <gtest/gtest.h>

#include <string>

namespace tessera::runtime {
namespace {

TensorMapSpec validSpec() {
  TensorMapSpec spec;
  spec.address = 1 << 20;
  spec.sizes = {4096, 4096};
  spec.strideBytes = {8192};
  spec.box = {128, 64};
  spec.elementBytes = 2;
  spec.swizzleBytes = 128;
  return spec;
}

void expectInvalid(const TensorMapSpec &spec, const std::string &field) {
  unsigned char map[kTensorMapBytes];
  Status status = encodeTensorMap(spec, map);
  EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT) << status.toString();
  EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
}

TEST(TensorMap, RejectsWhatTMACannotDescribe) {
  TensorMapSpec spec = validSpec();
  spec.address += 8;
  expectInvalid(spec, "address must be 16-byte aligned");

  spec = validSpec();
  spec.strideBytes = {8200};
  expectInvalid(spec, "strideBytes[0]");

  spec = validSpec();
  spec.box = {512, 64};
  expectInvalid(spec, "box[0]");

  spec = validSpec();
  spec.box = {128, 128}; // 256-byte rows under a 128-byte swizzle
  expectInvalid(spec, "swizzled box row");

  spec = validSpec();
  spec.elementBytes = 3;
  expectInvalid(spec, "elementBytes");

  spec = validSpec();
  spec.sizes = {1, 2, 3, 4, 5, 6};
  expectInvalid(spec, "rank must be 1 to 5");

  spec = validSpec();
  spec.strideBytes = {};
  expectInvalid(spec, "strideBytes needs 1 entries");

  spec = validSpec();
  spec.sizes = {0, 4096};
  expectInvalid(spec, "sizes[0]");
}

TEST(TensorMap, RejectsANullOutput) {
  EXPECT_EQ(encodeTensorMap(validSpec(), nullptr).code(), TESSERA_INVALID_ARGUMENT);
}

TEST(TensorMap, CAPIChecksItsPointers) {
  uint64_t sizes[2] = {64, 64};
  uint32_t box[2] = {64, 64};
  unsigned char map[TESSERA_TENSOR_MAP_BYTES];
  tessera_status_t status = tessera_encode_tensor_map(0, 2, sizes, nullptr, box, 2, 128, map);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(tessera_status_get_code(status), TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tessera_status_message(status)).find("stride_bytes"), std::string::npos);
  tessera_status_free(status);
}

} // namespace
} // namespace tessera::runtime
