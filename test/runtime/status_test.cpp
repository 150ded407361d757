// Status, StatusOr and the C API's status objects.
#include "runtime/status.h"
#include "runtime/tessera.h"

#include <gtest/gtest.h>

#include <memory>

namespace tessera::runtime {
namespace {

TEST(Status, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), TESSERA_OK);
  EXPECT_EQ(status.toString(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status status = invalidArgument("options.num_warps must be a power of two");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(status.toString(), "INVALID_ARGUMENT: options.num_warps must be a power of two");
}

TEST(Status, AnnotateChainsContext) {
  Status status = cudaError("cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (invalid argument)")
                      .annotate("launching kernel 'add'");
  EXPECT_EQ(status.code(), TESSERA_CUDA_ERROR);
  EXPECT_EQ(status.message(),
            "launching kernel 'add': cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (invalid "
            "argument)");
  EXPECT_TRUE(Status().annotate("ignored").ok());
}

TEST(Status, CodeNames) {
  EXPECT_STREQ(statusCodeName(TESSERA_COMPILE_ERROR), "COMPILE_ERROR");
  EXPECT_STREQ(statusCodeName(TESSERA_UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(statusCodeName(TESSERA_IO_ERROR), "IO_ERROR");
  EXPECT_STREQ(statusCodeName(TESSERA_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(statusCodeName(TESSERA_INTERNAL), "INTERNAL");
}

TEST(StatusOr, HoldsValueOrStatus) {
  StatusOr<std::string> value(std::string("sm_90a"));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, "sm_90a");
  EXPECT_EQ(value->size(), 6u);

  StatusOr<std::string> failure(unavailable("no CUDA driver"));
  EXPECT_FALSE(failure.ok());
  EXPECT_EQ(failure.status().code(), TESSERA_UNAVAILABLE);
}

TEST(StatusOr, OkStatusWithoutValueIsAnInternalError) {
  StatusOr<int> broken{Status()};
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), TESSERA_INTERNAL);
}

TEST(StatusOr, MoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> value(std::make_unique<int>(7));
  ASSERT_TRUE(value.ok());
  std::unique_ptr<int> taken = std::move(value).value();
  EXPECT_EQ(*taken, 7);
}

Status failsThenNeverReached(bool *reached) {
  TESSERA_RETURN_IF_ERROR(notFound("missing"));
  *reached = true;
  return Status();
}

TEST(Status, ReturnIfErrorReturnsEarly) {
  bool reached = false;
  Status status = failsThenNeverReached(&reached);
  EXPECT_EQ(status.code(), TESSERA_NOT_FOUND);
  EXPECT_FALSE(reached);
}

TEST(CApiStatus, NullMeansSuccess) {
  EXPECT_EQ(tessera_status_get_code(nullptr), TESSERA_OK);
  EXPECT_STREQ(tessera_status_message(nullptr), "");
  tessera_status_free(nullptr); // allowed, does nothing
}

TEST(CApiStatus, CarriesCodeAndMessage) {
  tessera_status_t status = tessera_device_count(nullptr, nullptr);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(tessera_status_get_code(status), TESSERA_INVALID_ARGUMENT);
  EXPECT_STREQ(tessera_status_message(status), "runtime must not be NULL");
  tessera_status_free(status);
}

} // namespace
} // namespace tessera::runtime
