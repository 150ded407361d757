// The C++ wrapper of tessera.hpp over the C API (with the fake compiler): errors become
// tessera::Error with the status code, handles are released by their owners, and launch
// arguments are packed by their C++ types.
#include "runtime/tessera.hpp"

#include "runtime/cuda_driver.h"
#include "test/runtime/test_kernels.h"
#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tessera::test {
namespace {

bool haveDriver() { return runtime::loadCudaDriver().ok(); }

// The code and message of the Error that `body` throws.
template <typename Body> std::pair<tessera_status_code, std::string> errorOf(Body &&body) {
  try {
    body();
  } catch (const Error &error) {
    return {error.code(), error.what()};
  }
  ADD_FAILURE() << "no tessera::Error was thrown";
  return {TESSERA_OK, ""};
}

class CppApiTest : public testing::Test {
protected:
  // A bundle file holding add_one for each of `targets`, written through the C API.
  std::string writeBundle(const std::vector<const char *> &targets) {
    tessera_bundle_t bundle = nullptr;
    tessera_status_free(tessera_bundle_create("add_one", &bundle));
    for (const char *target : targets) {
      const tessera_compile_options options{target, 4, 3, 0};
      tessera_status_t status = tessera_bundle_add_kernel(
          builder.get(), bundle, "add_one", kAddOnePtx, std::strlen(kAddOnePtx), &options);
      EXPECT_EQ(status, nullptr) << tessera_status_message(status);
      tessera_status_free(status);
    }
    std::string path = dir.path() + "/add.tbundle";
    tessera_status_free(tessera_bundle_write(bundle, path.c_str()));
    tessera_bundle_free(bundle);
    return path;
  }

  TempDir dir;
  ScopedEnv cacheDir{"TESSERA_CACHE_DIR", dir.path()};
  Runtime builder;
};

TEST_F(CppApiTest, BundlesAreReadListedAndLoaded) {
  std::string path = writeBundle({"sm_90a", "sm_80"});
  Bundle bundle = Bundle::read(path);
  std::vector<BundledKernelInfo> kernels = bundle.kernels();
  ASSERT_EQ(kernels.size(), 2u);
  EXPECT_EQ(kernels[0].name, "add_one");
  EXPECT_EQ(kernels[0].target, "sm_90a");
  EXPECT_EQ(kernels[1].target, "sm_80");
  EXPECT_EQ(bundle.num_tuning(), 0);

  Runtime runtime;
  EXPECT_TRUE(runtime.bundled_kernels().empty());
  runtime.load_bundle(bundle);
  runtime.load_bundle(path); // the same kernels again: still listed once
  std::vector<BundledKernelInfo> loaded = runtime.bundled_kernels();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[1].name, "add_one");
  EXPECT_EQ(loaded[1].target, "sm_80");

  Bundle moved = std::move(bundle); // the moved-from bundle frees nothing
  EXPECT_EQ(moved.kernels().size(), 2u);
}

TEST_F(CppApiTest, FailuresThrowErrorWithTheStatusCode) {
  auto [code, message] = errorOf([&] { Bundle::read(dir.path() + "/missing.tbundle"); });
  EXPECT_EQ(code, TESSERA_NOT_FOUND);
  EXPECT_NE(message.find("missing.tbundle"), std::string::npos) << message;

  Runtime runtime;
  runtime.load_bundle(writeBundle({"sm_90a"}));
  auto [lookupCode, lookupMessage] = errorOf([&] { runtime.kernel("add_once"); });
  EXPECT_EQ(lookupCode, TESSERA_NOT_FOUND);
  EXPECT_EQ(lookupMessage, "no loaded bundle has a kernel named 'add_once' (the loaded bundles "
                           "name 1 kernel; nearest: 'add_one')");

  if (!haveDriver()) {
    EXPECT_EQ(errorOf([&] { runtime.device_count(); }).first, TESSERA_UNAVAILABLE);
    EXPECT_EQ(errorOf([&] { runtime.pointer_device(0x7f0000001000); }).first, TESSERA_UNAVAILABLE);
    EXPECT_EQ(errorOf([&] { runtime.kernel("add_one"); }).first, TESSERA_UNAVAILABLE);
    EXPECT_EQ(errorOf([&] { runtime.allocate(64); }).first, TESSERA_UNAVAILABLE);
  }
  EXPECT_EQ(errorOf([] { Kernel().launch(Grid{1}, nullptr, 1); }).second,
            "kernel must not be NULL");
}

TEST(CppApiArguments, EachIsPackedByItsType) {
  float *device = reinterpret_cast<float *>(uintptr_t(0x7f0000001000));
  uint64_t address = 0x7f0000002000;
  int64_t wide = -(int64_t(1) << 40);
  detail::PackedArguments<float *, uint64_t, int32_t, int64_t, float, double, bool, int16_t,
                          uint32_t, std::nullptr_t>
      packed(device, address, -7, wide, 1.5f, -2.25, true, int16_t(-3), 4000000000u, nullptr);
  ASSERT_EQ(packed.size(), 10u);
  void **args = packed.data();
  EXPECT_EQ(*static_cast<uint64_t *>(args[0]), 0x7f0000001000u);
  EXPECT_EQ(*static_cast<uint64_t *>(args[1]), address);
  EXPECT_EQ(*static_cast<int32_t *>(args[2]), -7);
  EXPECT_EQ(*static_cast<int64_t *>(args[3]), wide);
  EXPECT_EQ(*static_cast<float *>(args[4]), 1.5f);
  EXPECT_EQ(*static_cast<double *>(args[5]), -2.25);
  EXPECT_EQ(*static_cast<uint8_t *>(args[6]), 1u); // i1 is one byte
  EXPECT_EQ(*static_cast<int32_t *>(args[7]), -3); // narrow integers are widened
  EXPECT_EQ(*static_cast<uint32_t *>(args[8]), 4000000000u);
  EXPECT_EQ(*static_cast<uint64_t *>(args[9]), 0u);

  // The slot types, which set how many bytes the driver reads.
  using Packed = decltype(detail::parameter(std::declval<const long long &>()));
  static_assert(std::is_same_v<Packed, int64_t>);
  static_assert(std::is_same_v<decltype(detail::parameter(std::declval<const unsigned char &>())),
                               uint32_t>);
  static_assert(std::is_same_v<decltype(detail::parameter(std::declval<const DeviceBuffer &>())),
                               uint64_t>);
  static_assert(
      std::is_same_v<decltype(detail::parameter(std::declval<const bool &>())), uint8_t>);

  detail::PackedArguments<> none;
  EXPECT_EQ(none.size(), 0u);
  EXPECT_NE(none.data(), nullptr);
}

// The wrapper end to end on a GPU: a bundled kernel, device buffers, a launch, the stats.
TEST_F(CppApiTest, LaunchOnGpu) {
  if (!haveDriver())
    GTEST_SKIP() << "no GPU";
  std::string target = builder.device_target(0);
  std::string path = writeBundle({target.c_str()});
  TempDir loaderDir;
  ScopedEnv loaderCache{"TESSERA_CACHE_DIR", loaderDir.path()};
  Runtime runtime;
  runtime.load_bundle(path);
  Kernel kernel = runtime.kernel("add_one");
  EXPECT_EQ(kernel.num_params(), 2);

  constexpr int32_t kCount = 3000;
  std::vector<float> host(kCount, 1.25f);
  DeviceBuffer data = runtime.allocate(sizeof(float) * kCount);
  data.upload(host);
  kernel.launch(Grid{(kCount + 127) / 128}, nullptr, data, kCount);
  kernel.launch(Grid{(kCount + 127) / 128}, nullptr, data.as<float>(), kCount);
  runtime.synchronize();
  data.download(host);
  for (float value : host)
    ASSERT_EQ(value, 3.25f);
  EXPECT_EQ(errorOf([&] { kernel.launch(Grid{1}, nullptr, data); }).second,
            "kernel 'add_one' takes 2 arguments, got num_args=1");
  std::vector<float> tooLarge(kCount + 1);
  EXPECT_EQ(errorOf([&] { data.upload(tooLarge); }).first, TESSERA_INVALID_ARGUMENT);

  tessera_stats stats = runtime.stats();
  EXPECT_EQ(stats.bundle_hits, 1u);
  EXPECT_EQ(stats.compiles, 0u);
  EXPECT_EQ(stats.launches, 2u);
}

} // namespace
} // namespace tessera::test
