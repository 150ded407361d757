// The Runtime class without a GPU: the driver's absence is an UNAVAILABLE status, and the
// compile -> disk cache path works with no driver at all.
#include "runtime/runtime.h"

#include "test/runtime/fake_compiler.h"
#include "test/runtime/test_kernels.h"
#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

namespace tessera::runtime {
namespace {

using test::TempDir;

KernelSpec addOneSpec() {
  KernelSpec spec;
  spec.tileIR = test::kAddOnePtx;
  spec.target = "sm_80";
  spec.numWarps = 4;
  spec.numStages = 1;
  return spec;
}

bool haveDriver() { return loadCudaDriver().ok(); }

TEST(Runtime, DriverAbsenceIsUnavailable) {
  if (haveDriver())
    GTEST_SKIP() << "a CUDA driver is present";
  TempDir dir;
  Runtime runtime(test::fakeCompilerHooks(), dir.path());

  StatusOr<int32_t> count = runtime.deviceCount();
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), TESSERA_UNAVAILABLE);
  EXPECT_NE(count.status().message().find("libcuda.so.1"), std::string::npos)
      << count.status().message();

  EXPECT_EQ(runtime.deviceTarget(0).status().code(), TESSERA_UNAVAILABLE);
  EXPECT_EQ(runtime.getKernel(addOneSpec(), 0).status().code(), TESSERA_UNAVAILABLE);
  EXPECT_EQ(runtime.allocate(0, 16).status().code(), TESSERA_UNAVAILABLE);
  EXPECT_EQ(runtime.synchronize(0).code(), TESSERA_UNAVAILABLE);
}

TEST(Runtime, CompilesOnceThenLoadsFromDisk) {
  TempDir dir;
  KernelSpec spec = addOneSpec();
  int callsBefore = test::fakeCompileCalls();
  {
    Runtime first(test::fakeCompilerHooks(), dir.path());
    std::string key = first.kernelKey(spec);
    StatusOr<KernelBinary> binary = first.findOrCompile(spec, key);
    ASSERT_TRUE(binary.ok()) << binary.status().toString();
    EXPECT_EQ(binary->kernelName, "add_one");
    EXPECT_EQ(binary->numParams, 2);
    EXPECT_EQ(first.stats().compiles, 1u);
    EXPECT_EQ(first.stats().disk_hits, 0u);
    EXPECT_TRUE(std::filesystem::exists(first.diskCache().entryPath(key)));
  }
  // A second runtime (as another process would) finds the entry and compiles nothing.
  Runtime second(test::fakeCompilerHooks(), dir.path());
  StatusOr<KernelBinary> binary = second.findOrCompile(spec, second.kernelKey(spec));
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->data, test::kAddOnePtx);
  EXPECT_EQ(second.stats().compiles, 0u);
  EXPECT_EQ(second.stats().disk_hits, 1u);
  EXPECT_EQ(test::fakeCompileCalls(), callsBefore + 1);
}

TEST(Runtime, CorruptEntryIsRebuilt) {
  TempDir dir;
  KernelSpec spec = addOneSpec();
  Runtime runtime(test::fakeCompilerHooks(), dir.path());
  std::string key = runtime.kernelKey(spec);
  ASSERT_TRUE(runtime.findOrCompile(spec, key).ok());

  std::string path = runtime.diskCache().entryPath(key);
  std::string bytes = test::readFile(path);
  bytes[bytes.size() / 2] ^= 0x01;
  test::writeFile(path, bytes);

  ASSERT_TRUE(runtime.findOrCompile(spec, key).ok());
  EXPECT_EQ(runtime.stats().compiles, 2u); // rebuilt
  ASSERT_TRUE(runtime.findOrCompile(spec, key).ok());
  EXPECT_EQ(runtime.stats().disk_hits, 1u); // and the rebuilt entry is good
}

TEST(Runtime, CompileErrorsPropagateAndAreNotCached) {
  TempDir dir;
  KernelSpec spec = addOneSpec();
  spec.tileIR = "FAIL";
  Runtime runtime(test::fakeCompilerHooks(), dir.path());
  StatusOr<KernelBinary> binary = runtime.findOrCompile(spec, runtime.kernelKey(spec));
  ASSERT_FALSE(binary.ok());
  EXPECT_EQ(binary.status().code(), TESSERA_COMPILE_ERROR);
  EXPECT_EQ(binary.status().message().rfind("kernel.py:3:5: error: fake compiler rejects", 0), 0u);
  EXPECT_EQ(runtime.stats().compiles, 0u);
  EXPECT_TRUE(test::listDirectory(dir.path()).empty());
}

TEST(Runtime, WithoutACompilerOnlyCachedKernelsLoad) {
  TempDir dir;
  KernelSpec spec = addOneSpec();
  Runtime noCompiler(CompilerHooks{test::kFakeCompilerVersion, nullptr}, dir.path());
  std::string key = noCompiler.kernelKey(spec);
  EXPECT_EQ(noCompiler.findOrCompile(spec, key).status().code(), TESSERA_UNAVAILABLE);

  Runtime withCompiler(test::fakeCompilerHooks(), dir.path());
  ASSERT_TRUE(withCompiler.findOrCompile(spec, key).ok());
  EXPECT_TRUE(noCompiler.findOrCompile(spec, key).ok());
}

TEST(Runtime, KeyIncludesCompilerVersion) {
  Runtime a(CompilerHooks{"1.0", nullptr}, ""), b(CompilerHooks{"1.1", nullptr}, "");
  EXPECT_NE(a.kernelKey(addOneSpec()), b.kernelKey(addOneSpec()));
  EXPECT_EQ(a.kernelKey(addOneSpec()), kernelKey(addOneSpec(), "1.0"));
}

TEST(Runtime, UnwritableCacheStillCompiles) {
  TempDir dir;
  test::writeFile(dir.path() + "/file", "");
  Runtime runtime(test::fakeCompilerHooks(), dir.path() + "/file/cache");
  KernelSpec spec = addOneSpec();
  testing::internal::CaptureStderr();
  ASSERT_TRUE(runtime.findOrCompile(spec, runtime.kernelKey(spec)).ok());
  ASSERT_TRUE(runtime.findOrCompile(spec, runtime.kernelKey(spec)).ok());
  std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(runtime.stats().compiles, 2u);
  EXPECT_NE(printed.find("tessera: warning: cannot write the kernel cache"), std::string::npos);
  EXPECT_EQ(printed.find("warning", printed.find("warning") + 1), std::string::npos) << printed;
}

} // namespace
} // namespace tessera::runtime
