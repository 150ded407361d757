// The C API of tessera.h, with the fake compiler in place of tessera::compiler.
#include "runtime/tessera.h"

#include "runtime/cuda_driver.h"
#include "test/runtime/fake_compiler.h"
#include "test/runtime/test_kernels.h"
#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tessera::test {
namespace {

constexpr tessera_compile_options kGoodOptions{"sm_90a", 4, 3, 0};

class CApiTest : public testing::Test {
protected:
  void SetUp() override {
    Result created(tessera_runtime_create(&runtime));
    ASSERT_EQ(created.code, TESSERA_OK) << created.message;
  }
  void TearDown() override { tessera_runtime_destroy(runtime); }

  TempDir dir;
  ScopedEnv cacheDir{"TESSERA_CACHE_DIR", dir.path()};
  tessera_runtime_t runtime = nullptr;
};

TEST_F(CApiTest, VersionIsTheCompilers) { EXPECT_STREQ(tessera_version(), kFakeCompilerVersion); }

TEST_F(CApiTest, DeviceCountWithoutDriverIsUnavailable) {
  if (runtime::loadCudaDriver().ok())
    GTEST_SKIP() << "a CUDA driver is present";
  int32_t count = -1;
  Result result(tessera_device_count(runtime, &count));
  EXPECT_EQ(result.code, TESSERA_UNAVAILABLE);
  EXPECT_NE(result.message.find("no CUDA driver: dlopen(\"libcuda.so.1\") failed"),
            std::string::npos)
      << result.message;
  EXPECT_EQ(count, -1); // untouched

  char target[16];
  EXPECT_EQ(Result(tessera_device_target(runtime, 0, target, sizeof(target))).code,
            TESSERA_UNAVAILABLE);
  tessera_kernel_t kernel = reinterpret_cast<tessera_kernel_t>(&count); // must be reset to NULL
  const char ir[] = "tile IR";
  Result get(tessera_kernel_get(runtime, ir, sizeof(ir) - 1, &kGoodOptions, 0, &kernel));
  EXPECT_EQ(get.code, TESSERA_UNAVAILABLE);
  EXPECT_EQ(kernel, nullptr);
  uint64_t pointer = 0;
  EXPECT_EQ(Result(tessera_malloc(runtime, 0, 16, &pointer)).code, TESSERA_UNAVAILABLE);
  EXPECT_EQ(Result(tessera_synchronize(runtime, 0)).code, TESSERA_UNAVAILABLE);
  int32_t device = -1;
  EXPECT_EQ(Result(tessera_pointer_device(runtime, 0x7f0000001000, &device)).code,
            TESSERA_UNAVAILABLE);
  EXPECT_EQ(device, -1);
}

TEST_F(CApiTest, NullArguments) {
  EXPECT_EQ(Result(tessera_runtime_create(nullptr)).message, "out_runtime must not be NULL");
  EXPECT_EQ(Result(tessera_device_count(runtime, nullptr)).message,
            "out_count must not be NULL");
  EXPECT_EQ(Result(tessera_device_target(runtime, 0, nullptr, 8)).message,
            "buf must not be NULL");
  EXPECT_EQ(Result(tessera_pointer_device(runtime, 0x1000, nullptr)).message,
            "out_device must not be NULL");
  EXPECT_EQ(Result(tessera_kernel_launch(nullptr, 1, 1, 1, nullptr, nullptr, 0)).message,
            "kernel must not be NULL");
  EXPECT_EQ(Result(tessera_kernel_get(runtime, "x", 1, &kGoodOptions, 0, nullptr)).message,
            "out_kernel must not be NULL");
  EXPECT_EQ(Result(tessera_malloc(nullptr, 0, 8, nullptr)).message, "runtime must not be NULL");
  EXPECT_EQ(tessera_kernel_num_params(nullptr), -1);
  tessera_runtime_destroy(nullptr); // allowed
}

TEST_F(CApiTest, CacheDirectoryIsTheEnvironments) {
  char directory[4096];
  Result result(tessera_runtime_cache_directory(runtime, directory, sizeof(directory)));
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_EQ(std::string(directory), dir.path());
  char tiny[4];
  Result small(tessera_runtime_cache_directory(runtime, tiny, sizeof(tiny)));
  EXPECT_EQ(small.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(small.message.find("buf_size 4 is too small"), std::string::npos) << small.message;
  EXPECT_EQ(Result(tessera_runtime_cache_directory(nullptr, directory, 8)).message,
            "runtime must not be NULL");
}

TEST_F(CApiTest, PrecompileFillsTheDiskCacheWithoutADevice) {
  int32_t compiled = -1;
  Result first(tessera_kernel_precompile(runtime, kAddOnePtx, std::strlen(kAddOnePtx),
                                         &kGoodOptions, &compiled));
  ASSERT_EQ(first.code, TESSERA_OK) << first.message;
  EXPECT_EQ(compiled, 1);
  ASSERT_EQ(Result(tessera_kernel_precompile(runtime, kAddOnePtx, std::strlen(kAddOnePtx),
                                             &kGoodOptions, &compiled))
                .code,
            TESSERA_OK);
  EXPECT_EQ(compiled, 0); // the second call finds it

  tessera_runtime_t other = nullptr; // as another process would
  ASSERT_EQ(Result(tessera_runtime_create(&other)).code, TESSERA_OK);
  ASSERT_EQ(Result(tessera_kernel_precompile(other, kAddOnePtx, std::strlen(kAddOnePtx),
                                             &kGoodOptions, nullptr))
                .code,
            TESSERA_OK);
  tessera_stats stats{};
  tessera_runtime_get_stats(other, &stats);
  EXPECT_EQ(stats.compiles, 0u);
  EXPECT_EQ(stats.disk_hits, 1u);
  tessera_runtime_destroy(other);

  const tessera_compile_options noTarget{"", 4, 3, 0};
  Result missing(tessera_kernel_precompile(runtime, kAddOnePtx, std::strlen(kAddOnePtx),
                                           &noTarget, nullptr));
  EXPECT_EQ(missing.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(missing.message.find("target"), std::string::npos) << missing.message;
  EXPECT_EQ(Result(tessera_kernel_precompile(nullptr, "x", 1, &kGoodOptions, nullptr)).message,
            "runtime must not be NULL");
}

TEST_F(CApiTest, BundleBuiltWithoutADeviceServesAnotherRuntime) {
  tessera_bundle_t bundle = nullptr;
  ASSERT_EQ(Result(tessera_bundle_create("add_one for sm_90a", &bundle)).code, TESSERA_OK);
  Result added(tessera_bundle_add_kernel(runtime, bundle, "add_one", kAddOnePtx,
                                         std::strlen(kAddOnePtx), &kGoodOptions));
  ASSERT_EQ(added.code, TESSERA_OK) << added.message;
  ASSERT_EQ(Result(tessera_bundle_add_tuning(bundle, "add_one-0123", "[1024]",
                                             "{\"BLOCK\": 256}", 0.0125))
                .code,
            TESSERA_OK);
  std::string path = dir.path() + "/add.tbundle";
  ASSERT_EQ(Result(tessera_bundle_write(bundle, path.c_str())).code, TESSERA_OK);
  tessera_bundle_free(bundle);

  tessera_bundle_t read = nullptr;
  Result opened(tessera_bundle_read(path.c_str(), &read));
  ASSERT_EQ(opened.code, TESSERA_OK) << opened.message;
  EXPECT_EQ(tessera_bundle_num_kernels(read), 1);
  EXPECT_EQ(tessera_bundle_num_tuning(read), 1);
  const char *name = nullptr, *target = nullptr, *kernel = nullptr, *key = nullptr,
             *config = nullptr;
  double milliseconds = 0;
  ASSERT_EQ(Result(tessera_bundle_kernel(read, 0, &name, &target)).code, TESSERA_OK);
  EXPECT_STREQ(name, "add_one");
  EXPECT_STREQ(target, "sm_90a");
  ASSERT_EQ(Result(tessera_bundle_tuning(read, 0, &kernel, &key, &config, &milliseconds)).code,
            TESSERA_OK);
  EXPECT_STREQ(kernel, "add_one-0123");
  EXPECT_STREQ(config, "{\"BLOCK\": 256}");
  EXPECT_EQ(milliseconds, 0.0125);
  EXPECT_EQ(Result(tessera_bundle_kernel(read, 1, &name, &target)).message,
            "kernel index 1 is out of range (the bundle has 1)");

  // Another runtime, with an empty cache of its own, takes the kernel from the bundle.
  TempDir otherDir;
  ScopedEnv otherCache{"TESSERA_CACHE_DIR", otherDir.path()};
  tessera_runtime_t other = nullptr;
  ASSERT_EQ(Result(tessera_runtime_create(&other)).code, TESSERA_OK);
  ASSERT_EQ(Result(tessera_runtime_load_bundle(other, read)).code, TESSERA_OK);
  tessera_bundle_free(read);
  int32_t compiled = -1;
  ASSERT_EQ(Result(tessera_kernel_precompile(other, kAddOnePtx, std::strlen(kAddOnePtx),
                                             &kGoodOptions, &compiled))
                .code,
            TESSERA_OK);
  EXPECT_EQ(compiled, 0);
  tessera_stats stats{};
  tessera_runtime_get_stats(other, &stats);
  EXPECT_EQ(stats.compiles, 0u);
  EXPECT_EQ(stats.disk_hits, 0u);
  EXPECT_EQ(stats.bundle_hits, 1u);
  tessera_runtime_destroy(other);

  EXPECT_EQ(Result(tessera_bundle_read((dir.path() + "/none").c_str(), &read)).code,
            TESSERA_NOT_FOUND);
  EXPECT_EQ(read, nullptr);
  EXPECT_EQ(tessera_bundle_num_kernels(nullptr), -1);
  EXPECT_EQ(Result(tessera_bundle_add_tuning(nullptr, "k", "[]", "{}", 1)).message,
            "bundle, kernel, key and config must not be NULL");
}

// Writes a bundle of add_one compiled for each of `targets` under the lookup name `name` to `path`,
// with `runtime` (whose disk cache then holds those kernels).
void writeAddOneBundle(tessera_runtime_t runtime, const std::string &path, const char *name,
                       const std::vector<const char *> &targets, int32_t numStages = 3) {
  tessera_bundle_t bundle = nullptr;
  ASSERT_EQ(Result(tessera_bundle_create("add_one", &bundle)).code, TESSERA_OK);
  for (const char *target : targets) {
    const tessera_compile_options options{target, 4, numStages, 0};
    Result added(tessera_bundle_add_kernel(runtime, bundle, name, kAddOnePtx,
                                           std::strlen(kAddOnePtx), &options));
    ASSERT_EQ(added.code, TESSERA_OK) << added.message;
  }
  ASSERT_EQ(Result(tessera_bundle_write(bundle, path.c_str())).code, TESSERA_OK);
  tessera_bundle_free(bundle);
}

// Reads the bundle at `path` and loads it into `runtime`.
void loadBundleFile(tessera_runtime_t runtime, const std::string &path) {
  tessera_bundle_t bundle = nullptr;
  Result read(tessera_bundle_read(path.c_str(), &bundle));
  ASSERT_EQ(read.code, TESSERA_OK) << read.message;
  ASSERT_EQ(Result(tessera_runtime_load_bundle(runtime, bundle)).code, TESSERA_OK);
  tessera_bundle_free(bundle);
}

TEST_F(CApiTest, BundledKernelsByName) {
  EXPECT_EQ(tessera_runtime_num_bundled_kernels(runtime), 0);
  std::string path = dir.path() + "/add.tbundle";
  writeAddOneBundle(runtime, path, "add_one", {"sm_90a", "sm_80"});
  loadBundleFile(runtime, path);

  ASSERT_EQ(tessera_runtime_num_bundled_kernels(runtime), 2);
  const char *name = nullptr, *target = nullptr;
  ASSERT_EQ(Result(tessera_runtime_bundled_kernel(runtime, 1, &name, &target)).code, TESSERA_OK);
  EXPECT_STREQ(name, "add_one");
  EXPECT_STREQ(target, "sm_80");
  EXPECT_EQ(Result(tessera_runtime_bundled_kernel(runtime, 2, &name, &target)).message,
            "bundled kernel index 2 is out of range (the runtime has 2)");
  EXPECT_EQ(Result(tessera_runtime_bundled_kernel(runtime, -1, &name, &target)).code,
            TESSERA_INVALID_ARGUMENT);

  // Asked before the device, so the answer needs no driver.
  tessera_kernel_t kernel = reinterpret_cast<tessera_kernel_t>(&name); // must be reset to NULL
  Result missing(tessera_runtime_get_bundled_kernel(runtime, "add_two", 0, &kernel));
  EXPECT_EQ(missing.code, TESSERA_NOT_FOUND);
  EXPECT_EQ(missing.message, "no loaded bundle has a kernel named 'add_two' (the loaded bundles "
                             "name 1 kernel; nearest: 'add_one')");
  EXPECT_EQ(kernel, nullptr);

  if (!runtime::loadCudaDriver().ok()) {
    Result found(tessera_runtime_get_bundled_kernel(runtime, "add_one", 0, &kernel));
    EXPECT_EQ(found.code, TESSERA_UNAVAILABLE) << found.message;
  }
}

TEST_F(CApiTest, BundledKernelNullArguments) {
  tessera_kernel_t kernel = nullptr;
  EXPECT_EQ(Result(tessera_runtime_get_bundled_kernel(runtime, "k", 0, nullptr)).message,
            "out_kernel must not be NULL");
  EXPECT_EQ(Result(tessera_runtime_get_bundled_kernel(nullptr, "k", 0, &kernel)).message,
            "runtime must not be NULL");
  EXPECT_EQ(Result(tessera_runtime_get_bundled_kernel(runtime, nullptr, 0, &kernel)).message,
            "name must be a non-empty string");
  Result empty(tessera_runtime_get_bundled_kernel(runtime, "", 0, &kernel));
  EXPECT_EQ(empty.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(empty.message, "name must be a non-empty string");
  EXPECT_EQ(tessera_runtime_num_bundled_kernels(nullptr), -1);
  EXPECT_EQ(Result(tessera_runtime_bundled_kernel(nullptr, 0, nullptr, nullptr)).message,
            "runtime must not be NULL");
}

TEST_F(CApiTest, StatsStartAtZero) {
  tessera_stats stats{1, 2, 3, 4, 5};
  tessera_runtime_get_stats(runtime, &stats);
  EXPECT_EQ(stats.compiles, 0u);
  EXPECT_EQ(stats.disk_hits, 0u);
  EXPECT_EQ(stats.memory_hits, 0u);
  EXPECT_EQ(stats.launches, 0u);
  EXPECT_EQ(stats.bundle_hits, 0u);
  tessera_runtime_get_stats(runtime, nullptr); // allowed
}

TEST(CApiStatus, CodeNames) {
  EXPECT_STREQ(tessera_status_code_name(TESSERA_OK), "OK");
  EXPECT_STREQ(tessera_status_code_name(TESSERA_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(tessera_status_code_name(static_cast<tessera_status_code>(99)), "UNKNOWN");
}

TEST(CApiCompile, ProducesStages) {
  tessera_compiled_t compiled = nullptr;
  Result result(
      tessera_compile(kAddOnePtx, std::strlen(kAddOnePtx), &kGoodOptions, &compiled));
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_STREQ(tessera_compiled_kernel_name(compiled), "add_one");
  EXPECT_EQ(tessera_compiled_num_params(compiled), 2);
  EXPECT_EQ(tessera_compiled_shared_bytes(compiled), 0);

  const char *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(Result(tessera_compiled_stage(compiled, "ptx", &data, &size)).code, TESSERA_OK);
  EXPECT_EQ(std::string(data, size), kAddOnePtx);

  Result missing(tessera_compiled_stage(compiled, "cubin", &data, &size));
  EXPECT_EQ(missing.code, TESSERA_NOT_FOUND);
  EXPECT_EQ(missing.message, "stage 'cubin' was not produced (available: ptx, tile)");
  tessera_compiled_free(compiled);
  tessera_compiled_free(nullptr); // allowed
}

TEST(CApiCompile, CompileErrorCarriesTheCompilersMessage) {
  tessera_compiled_t compiled = reinterpret_cast<tessera_compiled_t>(&compiled);
  const char ir[] = "FAIL";
  Result result(tessera_compile(ir, sizeof(ir) - 1, &kGoodOptions, &compiled));
  EXPECT_EQ(result.code, TESSERA_COMPILE_ERROR);
  EXPECT_EQ(result.message.rfind("kernel.py:3:5: error: fake compiler rejects this kernel", 0), 0u)
      << result.message;
  EXPECT_EQ(compiled, nullptr);
}

TEST(CApiCompile, OptionValidationNamesTheArgument) {
  const char ir[] = "tile IR";
  tessera_compiled_t compiled = nullptr;
  auto compileWith = [&](tessera_compile_options options) {
    return Result(tessera_compile(ir, sizeof(ir) - 1, &options, &compiled));
  };
  Result target = compileWith({"sm_75", 4, 3, 0});
  EXPECT_EQ(target.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(target.message,
            "options.target 'sm_75' is not a known target (sm_80, sm_86, sm_89, sm_90, sm_90a)");
  EXPECT_EQ(compileWith({nullptr, 4, 3, 0}).message,
            "options.target must be set (one of sm_80, sm_86, sm_89, sm_90, sm_90a)");
  EXPECT_EQ(compileWith({"sm_80", 6, 3, 0}).message,
            "options.num_warps must be a power of two from 1 to 32, got 6");
  EXPECT_EQ(compileWith({"sm_80", 4, 0, 0}).message,
            "options.num_stages must be at least 1, got 0");
  EXPECT_EQ(compileWith({"sm_80", 4, 3, 1}).message,
            "options.flags is reserved and must be 0, got 1");
  EXPECT_EQ(Result(tessera_compile(ir, sizeof(ir) - 1, nullptr, &compiled)).message,
            "options must not be NULL");
  EXPECT_EQ(Result(tessera_compile(nullptr, 0, &kGoodOptions, &compiled)).message,
            "tile_ir must not be NULL");
  EXPECT_EQ(Result(tessera_compile(ir, sizeof(ir) - 1, &kGoodOptions, nullptr)).message,
            "out_compiled must not be NULL");
  EXPECT_EQ(compiled, nullptr);
}

// The whole C API path on a GPU: kernel_get (compile, disk cache), memory, launch, stats.
TEST_F(CApiTest, LaunchOnGpu) {
  if (!runtime::loadCudaDriver().ok())
    GTEST_SKIP() << "no GPU";
  char target[16];
  Result targetResult(tessera_device_target(runtime, 0, target, sizeof(target)));
  ASSERT_EQ(targetResult.code, TESSERA_OK) << targetResult.message;
  char tiny[2];
  EXPECT_EQ(Result(tessera_device_target(runtime, 0, tiny, sizeof(tiny))).code,
            TESSERA_INVALID_ARGUMENT);

  tessera_compile_options options{nullptr, 4, 1, 0}; // the device's target
  tessera_kernel_t kernel = nullptr;
  Result get(tessera_kernel_get(runtime, kAddOnePtx, std::strlen(kAddOnePtx), &options, 0,
                                &kernel));
  ASSERT_EQ(get.code, TESSERA_OK) << get.message;
  EXPECT_EQ(tessera_kernel_num_params(kernel), 2);

  constexpr int kCount = 4097;
  std::vector<float> host(kCount, 2.5f);
  uint64_t data = 0;
  ASSERT_EQ(Result(tessera_malloc(runtime, 0, sizeof(float) * kCount, &data)).code, TESSERA_OK);
  ASSERT_EQ(Result(tessera_memcpy_htod(runtime, 0, data, host.data(), sizeof(float) * kCount)).code,
            TESSERA_OK);
  int32_t n = kCount;
  void *args[] = {&data, &n};
  Result launched(tessera_kernel_launch(kernel, (kCount + 127) / 128, 1, 1, nullptr, args, 2));
  ASSERT_EQ(launched.code, TESSERA_OK) << launched.message;
  Result wrong(tessera_kernel_launch(kernel, 1, 1, 1, nullptr, args, 3));
  EXPECT_EQ(wrong.message, "kernel 'add_one' takes 2 arguments, got num_args=3");
  ASSERT_EQ(Result(tessera_synchronize(runtime, 0)).code, TESSERA_OK);
  ASSERT_EQ(Result(tessera_memcpy_dtoh(runtime, 0, host.data(), data, sizeof(float) * kCount)).code,
            TESSERA_OK);
  for (float value : host)
    ASSERT_EQ(value, 3.5f);
  ASSERT_EQ(Result(tessera_free(runtime, 0, data)).code, TESSERA_OK);

  tessera_kernel_t again = nullptr;
  ASSERT_EQ(Result(tessera_kernel_get(runtime, kAddOnePtx, std::strlen(kAddOnePtx), &options, 0,
                                      &again))
                .code,
            TESSERA_OK);
  EXPECT_EQ(again, kernel);
  tessera_stats stats;
  tessera_runtime_get_stats(runtime, &stats);
  EXPECT_EQ(stats.compiles, 1u);
  EXPECT_EQ(stats.memory_hits, 1u);
  EXPECT_EQ(stats.launches, 1u);
}

// A bundled kernel on a GPU: for the device's target straight from the bundle, for another target
// compiled from its tile IR (JIT fallback); either one launches.
TEST_F(CApiTest, BundledKernelOnGpu) {
  if (!runtime::loadCudaDriver().ok())
    GTEST_SKIP() << "no GPU";
  char target[16];
  Result targetResult(tessera_device_target(runtime, 0, target, sizeof(target)));
  ASSERT_EQ(targetResult.code, TESSERA_OK) << targetResult.message;
  const char *other = std::string(target) == "sm_80" ? "sm_86" : "sm_80";
  std::string path = dir.path() + "/add.tbundle";
  writeAddOneBundle(runtime, path, "add_one", {target});
  std::string otherPath = dir.path() + "/add-other.tbundle";
  // Other stages: a kernel's name is no part of its key, so with add_one's options its spec for
  // this device would be add_one's, already loaded.
  writeAddOneBundle(runtime, otherPath, "add_one_elsewhere", {other}, /*numStages=*/2);

  TempDir loaderDir; // as a fresh process with an empty cache
  ScopedEnv loaderCache{"TESSERA_CACHE_DIR", loaderDir.path()};
  tessera_runtime_t loader = nullptr;
  ASSERT_EQ(Result(tessera_runtime_create(&loader)).code, TESSERA_OK);
  loadBundleFile(loader, path);
  loadBundleFile(loader, otherPath);

  tessera_kernel_t bundled = nullptr, compiled = nullptr;
  Result hit(tessera_runtime_get_bundled_kernel(loader, "add_one", 0, &bundled));
  ASSERT_EQ(hit.code, TESSERA_OK) << hit.message;
  tessera_stats stats{};
  tessera_runtime_get_stats(loader, &stats);
  EXPECT_EQ(stats.bundle_hits, 1u);
  EXPECT_EQ(stats.compiles, 0u);
  Result fallback(tessera_runtime_get_bundled_kernel(loader, "add_one_elsewhere", 0, &compiled));
  ASSERT_EQ(fallback.code, TESSERA_OK) << fallback.message;
  tessera_runtime_get_stats(loader, &stats);
  EXPECT_EQ(stats.compiles, 1u);
  EXPECT_EQ(stats.bundle_hits, 1u);

  constexpr int kCount = 1000;
  std::vector<float> host(kCount, 0.5f);
  uint64_t data = 0;
  ASSERT_EQ(Result(tessera_malloc(loader, 0, sizeof(float) * kCount, &data)).code, TESSERA_OK);
  ASSERT_EQ(Result(tessera_memcpy_htod(loader, 0, data, host.data(), sizeof(float) * kCount)).code,
            TESSERA_OK);
  int32_t n = kCount;
  void *args[] = {&data, &n};
  for (tessera_kernel_t kernel : {bundled, compiled})
    ASSERT_EQ(Result(tessera_kernel_launch(kernel, (kCount + 127) / 128, 1, 1, nullptr, args, 2))
                  .code,
              TESSERA_OK);
  ASSERT_EQ(Result(tessera_memcpy_dtoh(loader, 0, host.data(), data, sizeof(float) * kCount)).code,
            TESSERA_OK);
  for (float value : host)
    ASSERT_EQ(value, 2.5f);
  ASSERT_EQ(Result(tessera_free(loader, 0, data)).code, TESSERA_OK);
  tessera_runtime_destroy(loader);
}

} // namespace
} // namespace tessera::test
