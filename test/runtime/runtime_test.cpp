// The Runtime class without a GPU: the driver's absence is an UNAVAILABLE status, and the
// compile -> disk cache path, and the bundle lookup by name with its JIT fallback, work with no
// driver at all.
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

// A bundle of add_one variants, (target, num_warps) each, compiled by the fake compiler as
// tessera_bundle_add_kernel would, under the lookup name `name`.
Bundle addOneBundle(const std::string &name,
                    const std::vector<std::pair<std::string, int32_t>> &variants) {
  Runtime builder(test::fakeCompilerHooks(), "");
  Bundle bundle;
  bundle.compilerVersion = test::kFakeCompilerVersion;
  for (const auto &[target, numWarps] : variants) {
    KernelSpec spec = addOneSpec();
    spec.target = target;
    spec.numWarps = numWarps;
    std::string key = builder.kernelKey(spec);
    StatusOr<KernelBinary> binary = builder.findOrCompile(spec, key);
    EXPECT_TRUE(binary.ok()) << binary.status().toString();
    bundle.kernels.push_back({name, std::string(spec.tileIR), target, numWarps, spec.numStages,
                              key, binary.ok() ? *binary : KernelBinary()});
  }
  return bundle;
}

TEST(Runtime, BundledKernelForItsTargetIsABundleHit) {
  TempDir dir;
  Runtime runtime(test::fakeCompilerHooks(), dir.path());
  runtime.loadBundle(addOneBundle("add_one", {{"sm_90a", 8}, {"sm_80", 4}}));
  int callsBefore = test::fakeCompileCalls();

  StatusOr<KernelSpec> spec = runtime.bundledKernelSpec("add_one", "sm_80");
  ASSERT_TRUE(spec.ok()) << spec.status().toString();
  EXPECT_EQ(spec->target, "sm_80");
  EXPECT_EQ(spec->numWarps, 4); // the sm_80 kernel's options, not the first-loaded one's
  EXPECT_EQ(spec->tileIR, test::kAddOnePtx);
  StatusOr<KernelBinary> binary = runtime.findOrCompile(*spec, runtime.kernelKey(*spec));
  ASSERT_TRUE(binary.ok()) << binary.status().toString();
  EXPECT_EQ(binary->numWarps, 4);
  EXPECT_EQ(runtime.stats().bundle_hits, 1u);
  EXPECT_EQ(runtime.stats().compiles, 0u);
  EXPECT_EQ(test::fakeCompileCalls(), callsBefore);
}

// A target the bundles lack: the first-loaded kernel's tile IR and options, compiled for it, then
// cached like any kernel.
TEST(Runtime, BundledKernelForAnotherTargetIsCompiled) {
  TempDir dir;
  Runtime runtime(test::fakeCompilerHooks(), dir.path());
  runtime.loadBundle(addOneBundle("add_one", {{"sm_90a", 8}, {"sm_86", 2}}));
  int callsBefore = test::fakeCompileCalls();

  StatusOr<KernelSpec> spec = runtime.bundledKernelSpec("add_one", "sm_80");
  ASSERT_TRUE(spec.ok()) << spec.status().toString();
  EXPECT_EQ(spec->target, "sm_80");
  EXPECT_EQ(spec->numWarps, 8);
  std::string key = runtime.kernelKey(*spec);
  StatusOr<KernelBinary> binary = runtime.findOrCompile(*spec, key);
  ASSERT_TRUE(binary.ok()) << binary.status().toString();
  EXPECT_EQ(binary->kernelName, "add_one");
  EXPECT_EQ(test::fakeCompileCalls(), callsBefore + 1);
  EXPECT_EQ(runtime.stats().compiles, 1u);
  EXPECT_EQ(runtime.stats().bundle_hits, 0u);
  EXPECT_TRUE(std::filesystem::exists(runtime.diskCache().entryPath(key)));
  ASSERT_TRUE(runtime.findOrCompile(*spec, key).ok());
  EXPECT_EQ(runtime.stats().disk_hits, 1u);
  EXPECT_EQ(test::fakeCompileCalls(), callsBefore + 1);
}

TEST(Runtime, BundledKernelNotFoundNamesTheNearest) {
  Runtime runtime(test::fakeCompilerHooks(), "");
  StatusOr<KernelSpec> none = runtime.bundledKernelSpec("add_one", "sm_80");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), TESSERA_NOT_FOUND);
  EXPECT_EQ(none.status().message(),
            "no loaded bundle has a kernel named 'add_one' (no bundle with kernels is loaded)");

  for (const char *name : {"add_one", "add_two", "matmul_fp16", "softmax_bf16"})
    runtime.loadBundle(addOneBundle(name, {{"sm_90a", 4}}));
  StatusOr<KernelSpec> typo = runtime.bundledKernelSpec("add_on", "sm_90a");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().message(),
            "no loaded bundle has a kernel named 'add_on' (the loaded bundles name 4 kernels; "
            "nearest: 'add_one', 'add_two', 'matmul_fp16')");
  // Checked before the device, so that the answer needs no driver.
  EXPECT_EQ(runtime.getBundledKernel("add_on", 0).status().code(), TESSERA_NOT_FOUND);
}

TEST(Runtime, BundledKernelsAreListedOncePerNameAndTarget) {
  Runtime runtime(test::fakeCompilerHooks(), "");
  EXPECT_EQ(runtime.numBundledKernels(), 0u);
  EXPECT_EQ(runtime.bundledKernel(0), nullptr);
  Bundle first = addOneBundle("add_one", {{"sm_90a", 4}, {"sm_80", 4}});
  runtime.loadBundle(first);
  runtime.loadBundle(first); // again: nothing changes
  ASSERT_EQ(runtime.numBundledKernels(), 2u);
  const BundledKernel *original = runtime.bundledKernel(0);
  EXPECT_EQ(original->name, "add_one");
  EXPECT_EQ(original->target, "sm_90a");
  EXPECT_EQ(runtime.bundledKernel(1)->target, "sm_80");

  // A later bundle's kernel of the same name and target takes its place; what was handed out
  // stays valid.
  runtime.loadBundle(addOneBundle("add_one", {{"sm_90a", 8}}));
  ASSERT_EQ(runtime.numBundledKernels(), 2u);
  EXPECT_EQ(runtime.bundledKernel(0)->numWarps, 8);
  EXPECT_EQ(original->numWarps, 4);
  StatusOr<KernelSpec> spec = runtime.bundledKernelSpec("add_one", "sm_90a");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->numWarps, 8);
}

TEST(Runtime, BundledKernelWithoutDriverIsUnavailable) {
  if (haveDriver())
    GTEST_SKIP() << "a CUDA driver is present";
  Runtime runtime(test::fakeCompilerHooks(), "");
  runtime.loadBundle(addOneBundle("add_one", {{"sm_90a", 4}}));
  EXPECT_EQ(runtime.getBundledKernel("add_one", 0).status().code(), TESSERA_UNAVAILABLE);
}

} // namespace
} // namespace tessera::runtime
