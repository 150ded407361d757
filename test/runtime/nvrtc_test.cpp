// The NVRTC backend without a GPU: loading libnvrtc, compiling CUDA C++ into a cubin (with the
// toolkit's headers), compile errors and missing entries, the C API's argument checks, CUDA source
// keys, and the disk cache. Tests that compile skip themselves when no NVRTC is found.
#include "runtime/nvrtc.h"

#include "runtime/kernel_spec.h"
#include "runtime/runtime.h"
#include "runtime/tessera.h"
#include "runtime/tessera.hpp"
#include "test/runtime/fake_compiler.h"
#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tessera::runtime {
namespace {

using tessera::test::Result;

constexpr const char kAxpb[] = R"(
extern "C" __global__ void axpb(const float *x, float *y, float a, float b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    y[i] = a * x[i] + b * SCALE;
}
)";

CudaSourceSpec axpbSpec() {
  CudaSourceSpec spec;
  spec.source = kAxpb;
  spec.entry = "axpb";
  spec.options = {"-DSCALE=2"};
  spec.target = "sm_90a";
  return spec;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

class NvrtcTest : public testing::Test {
protected:
  void SetUp() override {
    StatusOr<const Nvrtc *> loaded = loadNvrtc();
    if (!loaded.ok())
      GTEST_SKIP() << "no NVRTC: " << loaded.status().toString();
    nvrtc = *loaded;
  }
  const Nvrtc *nvrtc = nullptr;
};

TEST_F(NvrtcTest, CompilesACubinAndCountsTheEntrysParameters) {
  EXPECT_GE(nvrtc->major, 11);
  EXPECT_EQ(nvrtc->version(),
            "nvrtc " + std::to_string(nvrtc->major) + "." + std::to_string(nvrtc->minor));
  for (const char *target : {"sm_80", "sm_90a"}) {
    CudaSourceSpec spec = axpbSpec();
    spec.target = target;
    StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
    ASSERT_TRUE(program.ok()) << program.status().toString();
    EXPECT_EQ(program->cubin.compare(0, 4,
                                     "\x7f"
                                     "ELF"),
              0)
        << "not an ELF cubin";
    EXPECT_TRUE(contains(program->ptx, std::string(".target ") + target)) << program->ptx;
    EXPECT_EQ(program->numParams, 5);
    EXPECT_EQ(program->log, "");
  }
}

TEST_F(NvrtcTest, FindsTheToolkitHeaders) {
  ASSERT_FALSE(nvrtc->includeDirectory.empty()) << "no CUDA include directory found";
  CudaSourceSpec spec;
  spec.source = R"(
#include <cuda_bf16.h>
#include <cuda_fp16.h>
extern "C" __global__ void convert(const __nv_bfloat16 *x, __half *y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    y[i] = __float2half(__bfloat162float(x[i]));
}
)";
  spec.entry = "convert";
  spec.target = "sm_90a";
  StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
  ASSERT_TRUE(program.ok()) << program.status().toString();
  EXPECT_EQ(program->numParams, 3);
}

// A host where only /usr/local/cuda exists: no CUDA_HOME, NVRTC found by its path there, and the
// headers of that toolkit. A CUDA_HOME without headers falls back to the library's toolkit.
TEST_F(NvrtcTest, HeadersOfTheToolkitTheLibraryCameFrom) {
  const std::string library = "/usr/local/cuda/lib64/libnvrtc.so." + std::to_string(nvrtc->major);
  if (!std::filesystem::exists(library))
    GTEST_SKIP() << library << " does not exist";
  for (std::optional<std::string> home :
       {std::optional<std::string>(), std::optional<std::string>("/nonexistent-cuda")}) {
    test::ScopedEnv cudaHome("CUDA_HOME", home);
    StatusOr<const Nvrtc *> opened = openNvrtc({library});
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    // The library may be reached through another path to the same toolkit (its real directory).
    std::error_code error;
    EXPECT_TRUE(
        std::filesystem::equivalent((*opened)->includeDirectory, "/usr/local/cuda/include", error))
        << (*opened)->includeDirectory;
    EXPECT_TRUE(std::filesystem::exists((*opened)->includeDirectory + "/cuda_bf16.h"));
  }
  EXPECT_EQ(nvrtcLibraryCandidates().front(), "libnvrtc.so.13");
  EXPECT_EQ(nvrtcLibraryCandidates().back(), "/usr/local/cuda/lib64/libnvrtc.so");
}

TEST(NvrtcLoad, MissingLibraryIsUnavailableNamingWhatWasTried) {
  StatusOr<const Nvrtc *> opened = openNvrtc({"libnvrtc-missing.so.99", "/nowhere/libnvrtc.so"});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), TESSERA_UNAVAILABLE);
  const std::string &message = opened.status().message();
  EXPECT_TRUE(contains(message, "NVRTC (CUDA's run-time compiler) is not available")) << message;
  EXPECT_TRUE(contains(message, "\n  libnvrtc-missing.so.99: ")) << message;
  EXPECT_TRUE(contains(message, "\n  /nowhere/libnvrtc.so: ")) << message;
  EXPECT_TRUE(contains(message, "CUDA_HOME")) << message;
}

TEST_F(NvrtcTest, SyntaxErrorIsACompileErrorWithTheLog) {
  CudaSourceSpec spec = axpbSpec();
  spec.source = "extern \"C\" __global__ void axpb(float *x) { x[0] = 1.0f }\n";
  StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(program.status().code(), TESSERA_COMPILE_ERROR);
  const std::string &message = program.status().message();
  EXPECT_TRUE(contains(message, "NVRTC could not compile 'axpb' for sm_90a:\n")) << message;
  EXPECT_TRUE(contains(message, "axpb.cu(1): error: expected a \";\"")) << message;
}

TEST_F(NvrtcTest, UndefinedMacroAndBadOption) {
  CudaSourceSpec spec = axpbSpec();
  spec.options.clear(); // SCALE undefined
  StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
  ASSERT_EQ(program.status().code(), TESSERA_COMPILE_ERROR);
  EXPECT_TRUE(contains(program.status().message(), "identifier \"SCALE\" is undefined"))
      << program.status().message();

  spec.options = {"-DSCALE=1", "--no-such-option"};
  program = compileCudaSource(*nvrtc, spec);
  ASSERT_EQ(program.status().code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(program.status().message(), "--no-such-option"))
      << program.status().message();
}

TEST_F(NvrtcTest, MissingEntryIsNotFound) {
  CudaSourceSpec spec = axpbSpec();
  spec.entry = "axpy";
  StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(program.status().code(), TESSERA_NOT_FOUND);
  EXPECT_TRUE(contains(program.status().message(),
                       "the program has no kernel named 'axpy' (its kernels: axpb)"))
      << program.status().message();

  // Without extern "C" the name is mangled, and the message shows it.
  spec.source = "__global__ void axpy(float *x) {}\n";
  program = compileCudaSource(*nvrtc, spec);
  ASSERT_EQ(program.status().code(), TESSERA_NOT_FOUND);
  EXPECT_TRUE(contains(program.status().message(), "_Z4axpyPf")) << program.status().message();
}

TEST_F(NvrtcTest, WarningsAreKeptInTheLog) {
  CudaSourceSpec spec = axpbSpec();
  std::string source = std::string("#warning \"look here\"\n") + kAxpb;
  spec.source = source;
  StatusOr<CudaProgram> program = compileCudaSource(*nvrtc, spec);
  ASSERT_TRUE(program.ok()) << program.status().toString();
  EXPECT_TRUE(contains(program->log, "look here")) << program->log;
}

TEST(PtxEntryParamCount, ReadsTheEntrysParameterList) {
  const char ptx[] = R"(
.version 9.0
.target sm_90a
	// .globl	first
.visible .entry first(
	.param .u64 first_param_0,
	.param .align 8 .b8 first_param_1[16],
	.param .f32 first_param_2
)
{ ret; }
.visible .entry none()
{ ret; }
.weak .entry last (.param .u32 last_param_0)
{ ret; }
)";
  EXPECT_EQ(*ptxEntryParamCount(ptx, "first"), 3);
  EXPECT_EQ(*ptxEntryParamCount(ptx, "none"), 0);
  EXPECT_EQ(*ptxEntryParamCount(ptx, "last"), 1);
  StatusOr<int32_t> missing = ptxEntryParamCount(ptx, "firs");
  EXPECT_EQ(missing.status().code(), TESSERA_NOT_FOUND);
  EXPECT_TRUE(contains(missing.status().message(), "(its kernels: first, none, last)"))
      << missing.status().message();
  EXPECT_TRUE(contains(ptxEntryParamCount("", "k").status().message(), "(its kernels: none)"));
}

// ---- keys --------------------------------------------------------------------------------------

// Pins the encoding, like KernelKey.MatchesIndependentlyComputedValue (Python's hashlib over the
// documented encoding): changing it orphans every cached CUDA kernel.
TEST(CudaSourceKey, MatchesIndependentlyComputedValue) {
  CudaSourceSpec spec;
  spec.source = "extern \"C\" __global__ void k(float *x) { x[0] = N; }";
  spec.entry = "k";
  spec.options = {"-DN=1", "--use_fast_math"};
  spec.target = "sm_90a";
  EXPECT_EQ(cudaSourceKey(spec, "nvrtc 13.0"),
            "ca44012521383c038ed643d638ac646288cd1ac3306e8adaedb1b13514706c00");
}

TEST(CudaSourceKey, EveryFieldChangesTheKeyAndNothingElse) {
  const std::string base = cudaSourceKey(axpbSpec(), "nvrtc 13.0");
  EXPECT_EQ(cudaSourceKey(axpbSpec(), "nvrtc 13.0"), base);
  std::string copy(kAxpb); // the same text elsewhere in memory
  CudaSourceSpec same = axpbSpec();
  same.source = copy;
  EXPECT_EQ(cudaSourceKey(same, "nvrtc 13.0"), base);

  std::set<std::string> keys = {base};
  auto add = [&](const CudaSourceSpec &spec, const char *version = "nvrtc 13.0") {
    EXPECT_TRUE(keys.insert(cudaSourceKey(spec, version)).second) << "a repeated key";
  };
  std::string edited = std::string(kAxpb) + " ";
  CudaSourceSpec spec = axpbSpec();
  spec.source = edited;
  add(spec);
  spec = axpbSpec();
  spec.entry = "axpc";
  add(spec);
  spec = axpbSpec();
  spec.options = {"-DSCALE=3"};
  add(spec);
  spec.options = {"-DSCALE=2", "-DX"};
  add(spec);
  spec.options = {"-DX", "-DSCALE=2"}; // order matters to NVRTC, so to the key
  add(spec);
  spec.options = {"-DX -DSCALE=2"};
  add(spec);
  spec.options = {};
  add(spec);
  spec = axpbSpec();
  spec.target = "sm_80";
  add(spec);
  spec = axpbSpec();
  spec.numWarps = 8;
  add(spec);
  spec = axpbSpec();
  spec.sharedBytes = 1024;
  add(spec);
  add(axpbSpec(), "nvrtc 13.1");

  // A tile kernel of the same text never shares a key with the CUDA kernel.
  KernelSpec tile{kAxpb, "sm_90a", 4, 3, 0};
  EXPECT_EQ(keys.count(kernelKey(tile, "nvrtc 13.0")), 0u);
}

TEST(CudaSourceSpecValidation, NamesTheOffendingField) {
  auto message = [](const CudaSourceSpec &spec) { return validateCudaSourceSpec(spec).message(); };
  EXPECT_TRUE(validateCudaSourceSpec(axpbSpec()).ok());
  CudaSourceSpec spec = axpbSpec();
  spec.entry = "a-b";
  EXPECT_TRUE(contains(message(spec), "options.entry must name an extern \"C\" __global__"));
  spec = axpbSpec();
  spec.target = "sm_75";
  EXPECT_TRUE(contains(message(spec), "options.target 'sm_75' is not a known target"));
  spec = axpbSpec();
  spec.numWarps = 64;
  EXPECT_TRUE(contains(message(spec), "options.num_warps must be a power of two"));
  spec = axpbSpec();
  spec.sharedBytes = -4;
  EXPECT_EQ(message(spec), "options.shared_bytes must be >= 0, got -4");
  spec = axpbSpec();
  spec.options = {"-DSCALE=1", ""};
  EXPECT_EQ(message(spec), "options.options[1] must not be empty");
  spec.options = {"--gpu-architecture=sm_80"};
  EXPECT_EQ(message(spec), "options.options[0] ('--gpu-architecture=sm_80') sets the "
                           "architecture: use options.target instead");
  spec.options = {"-I/usr/include"};
  EXPECT_TRUE(contains(message(spec), "options.options[0] ('-I/usr/include') adds headers that "
                                      "the kernel key cannot see"));
  spec.options = {"-DA", "--pre-include=x.h"};
  EXPECT_TRUE(contains(message(spec), "options.options[1] ('--pre-include=x.h') adds headers"));
  spec = axpbSpec();
  spec.source = "";
  EXPECT_EQ(message(spec), "source must not be empty");
  std::string withNul("__global__\0", 11);
  spec.source = withNul;
  EXPECT_EQ(message(spec), "source has a NUL byte at offset 10 (NVRTC reads it as a C string)");
}

// ---- C API -------------------------------------------------------------------------------------

class CudaCApiTest : public testing::Test {
protected:
  void SetUp() override {
    Result created(tessera_runtime_create(&runtime));
    ASSERT_EQ(created.code, TESSERA_OK) << created.message;
  }
  void TearDown() override { tessera_runtime_destroy(runtime); }

  tessera_cuda_options options(const char *entry = "axpb", const char *target = "sm_90a") {
    return tessera_cuda_options{entry, target, 4, 0, kOptions, 1};
  }
  Result precompile(const char *source, size_t size, const tessera_cuda_options *o,
                    int32_t *compiled = nullptr) {
    return Result(tessera_cuda_kernel_precompile(runtime, source, size, o, compiled));
  }

  static constexpr const char *kOptions[] = {"-DSCALE=2"};
  test::TempDir dir;
  test::ScopedEnv cacheDir{"TESSERA_CACHE_DIR", dir.path()};
  tessera_runtime_t runtime = nullptr;
};

TEST_F(CudaCApiTest, BadArgumentsAreInvalidAndNamed) {
  const size_t size = std::strlen(kAxpb);
  tessera_cuda_options o = options();
  auto expect = [&](Result result, const std::string &part) {
    EXPECT_EQ(result.code, TESSERA_INVALID_ARGUMENT) << result.message;
    EXPECT_TRUE(contains(result.message, part)) << result.message;
  };
  expect(precompile(nullptr, size, &o), "source must not be NULL");
  expect(precompile(kAxpb, 0, &o), "source_size must be > 0");
  expect(precompile(kAxpb, size, nullptr), "options must not be NULL");
  expect(precompile(kAxpb, size + 1, &o), "source has a NUL byte at offset");
  tessera_cuda_options bad = options(nullptr);
  expect(precompile(kAxpb, size, &bad), "options.entry must not be NULL");
  bad = options("");
  expect(precompile(kAxpb, size, &bad), "options.entry must name");
  bad = options("axpb", "sm_35");
  expect(precompile(kAxpb, size, &bad), "options.target 'sm_35' is not a known target");
  bad = options("axpb", nullptr);
  expect(precompile(kAxpb, size, &bad), "options.target must be set");
  for (int32_t warps : {0, 3, 64}) {
    bad = options();
    bad.num_warps = warps;
    expect(precompile(kAxpb, size, &bad), "options.num_warps must be a power of two");
  }
  bad = options();
  bad.shared_bytes = -1;
  expect(precompile(kAxpb, size, &bad), "options.shared_bytes must be >= 0");
  bad = options();
  bad.options = nullptr;
  expect(precompile(kAxpb, size, &bad),
         "options.options must not be NULL when options.num_options is 1");
  const char *withNull[] = {"-DSCALE=2", nullptr};
  bad = options();
  bad.options = withNull;
  bad.num_options = 2;
  expect(precompile(kAxpb, size, &bad), "options.options[1] must not be NULL");
  const char *arch[] = {"-arch=sm_80"};
  bad = options();
  bad.options = arch;
  expect(precompile(kAxpb, size, &bad), "options.options[0] ('-arch=sm_80') sets the arch");

  expect(Result(tessera_cuda_kernel_precompile(nullptr, kAxpb, size, &o, nullptr)),
         "runtime must not be NULL");
  tessera_kernel_t kernel = reinterpret_cast<tessera_kernel_t>(&o);
  expect(Result(tessera_cuda_kernel_get(nullptr, kAxpb, size, &o, 0, &kernel)),
         "runtime must not be NULL");
  EXPECT_EQ(kernel, nullptr); // reset on failure
  expect(Result(tessera_cuda_kernel_get(runtime, kAxpb, size, &o, 0, nullptr)),
         "out_kernel must not be NULL");
  expect(Result(tessera_cuda_compile(kAxpb, size, &o, nullptr)), "out_compiled must not be NULL");
  tessera_compiled_t compiled = nullptr;
  expect(Result(tessera_cuda_compile(kAxpb, size, &bad, &compiled)), "options.options[0]");
  EXPECT_EQ(compiled, nullptr);
  expect(Result(tessera_nvrtc_version(nullptr, nullptr)), "out_major and out_minor");
}

TEST_F(CudaCApiTest, CompileGivesStagesAndParameterCount) {
  if (!loadNvrtc().ok())
    GTEST_SKIP() << "no NVRTC";
  int32_t major = 0, minor = -1;
  ASSERT_EQ(Result(tessera_nvrtc_version(&major, &minor)).code, TESSERA_OK);
  EXPECT_EQ(major, (*loadNvrtc())->major);
  EXPECT_GE(minor, 0);

  tessera_cuda_options o = options();
  o.num_warps = 2;
  o.shared_bytes = 256;
  tessera_compiled_t compiled = nullptr;
  Result result(tessera_cuda_compile(kAxpb, std::strlen(kAxpb), &o, &compiled));
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_STREQ(tessera_compiled_kernel_name(compiled), "axpb");
  EXPECT_EQ(tessera_compiled_num_params(compiled), 5);
  EXPECT_EQ(tessera_compiled_shared_bytes(compiled), 256);
  const char *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(Result(tessera_compiled_stage(compiled, "cuda", &data, &size)).code, TESSERA_OK);
  EXPECT_EQ(std::string(data, size), kAxpb);
  ASSERT_EQ(Result(tessera_compiled_stage(compiled, "ptx", &data, &size)).code, TESSERA_OK);
  EXPECT_TRUE(contains(std::string(data, size), ".visible .entry axpb("));
  ASSERT_EQ(Result(tessera_compiled_stage(compiled, "cubin", &data, &size)).code, TESSERA_OK);
  EXPECT_EQ(std::string(data, 4), "\x7f"
                                  "ELF");
  EXPECT_EQ(Result(tessera_compiled_stage(compiled, "log", &data, &size)).code, TESSERA_NOT_FOUND);
  tessera_compiled_free(compiled);

  const char broken[] = "extern \"C\" __global__ void axpb() { undefined_call(); }";
  result = Result(tessera_cuda_compile(broken, std::strlen(broken), &o, &compiled));
  EXPECT_EQ(result.code, TESSERA_COMPILE_ERROR);
  EXPECT_TRUE(contains(result.message, "identifier \"undefined_call\" is undefined"))
      << result.message;
  o.entry = "axpy";
  result = Result(tessera_cuda_compile(kAxpb, std::strlen(kAxpb), &o, &compiled));
  EXPECT_EQ(result.code, TESSERA_NOT_FOUND) << result.message;
}

// Precompiling writes the cubin to the disk cache; a second runtime finds it there.
TEST_F(CudaCApiTest, PrecompileFillsTheDiskCache) {
  if (!loadNvrtc().ok())
    GTEST_SKIP() << "no NVRTC";
  tessera_cuda_options o = options();
  int32_t compiled = -1;
  Result first = precompile(kAxpb, std::strlen(kAxpb), &o, &compiled);
  ASSERT_EQ(first.code, TESSERA_OK) << first.message;
  EXPECT_EQ(compiled, 1);
  ASSERT_EQ(precompile(kAxpb, std::strlen(kAxpb), &o, &compiled).code, TESSERA_OK);
  EXPECT_EQ(compiled, 0);
  tessera_stats stats{};
  tessera_runtime_get_stats(runtime, &stats);
  EXPECT_EQ(stats.compiles, 1u);
  EXPECT_EQ(stats.disk_hits, 1u);

  // Another target is another kernel; so is another option.
  o.target = "sm_80";
  ASSERT_EQ(precompile(kAxpb, std::strlen(kAxpb), &o, &compiled).code, TESSERA_OK);
  EXPECT_EQ(compiled, 1);
  EXPECT_EQ(test::listDirectory(dir.path()).size(), 2u);

  // Through the C++ API, in a runtime of its own.
  tessera::Runtime cpp;
  tessera::CudaOptions options;
  options.entry = "axpb";
  options.target = "sm_90a";
  options.nvrtc_options = {"-DSCALE=2"};
  EXPECT_FALSE(cpp.precompile_cuda_kernel(kAxpb, options));
  EXPECT_EQ(cpp.stats().disk_hits, 1u);
  options.nvrtc_options = {"-DSCALE=3"};
  EXPECT_TRUE(cpp.precompile_cuda_kernel(kAxpb, options));
  options.entry = "missing";
  try {
    cpp.precompile_cuda_kernel(kAxpb, options);
    ADD_FAILURE() << "no exception";
  } catch (const tessera::Error &error) {
    EXPECT_EQ(error.code(), TESSERA_NOT_FOUND) << error.what();
  }
}

// ---- the Runtime's compile-without-GPU path ----------------------------------------------------

TEST_F(NvrtcTest, DiskCacheRoundTrip) {
  test::TempDir dir;
  CudaSourceSpec spec = axpbSpec();
  spec.numWarps = 8;
  spec.sharedBytes = 512;
  Runtime first(test::fakeCompilerHooks(), dir.path());
  StatusOr<std::string> key = first.cudaKernelKey(spec);
  ASSERT_TRUE(key.ok()) << key.status().toString();
  EXPECT_EQ(*key, cudaSourceKey(spec, nvrtc->version()));
  bool compiled = false;
  StatusOr<KernelBinary> built = first.findOrCompileCuda(spec, *key, &compiled);
  ASSERT_TRUE(built.ok()) << built.status().toString();
  EXPECT_TRUE(compiled);
  EXPECT_EQ(first.stats().compiles, 1u);

  // What the disk holds is a cubin entry with the launch's metadata.
  std::optional<KernelBinary> entry = first.diskCache().read(*key);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->kind, BinaryKind::Cubin);
  EXPECT_EQ(entry->kernelName, "axpb");
  EXPECT_EQ(entry->numWarps, 8);
  EXPECT_EQ(entry->sharedBytes, 512);
  EXPECT_EQ(entry->numParams, 5);
  EXPECT_EQ(entry->data, built->data);

  Runtime second(test::fakeCompilerHooks(), dir.path());
  StatusOr<KernelBinary> cached = second.findOrCompileCuda(spec, *key, &compiled);
  ASSERT_TRUE(cached.ok()) << cached.status().toString();
  EXPECT_FALSE(compiled);
  EXPECT_EQ(cached->data, built->data);
  tessera_stats stats = second.stats();
  EXPECT_EQ(stats.compiles, 0u);
  EXPECT_EQ(stats.disk_hits, 1u);

  // A compile error is reported and nothing is cached.
  CudaSourceSpec broken = axpbSpec();
  broken.options = {};
  StatusOr<std::string> brokenKey = second.cudaKernelKey(broken);
  ASSERT_TRUE(brokenKey.ok());
  EXPECT_EQ(second.findOrCompileCuda(broken, *brokenKey).status().code(), TESSERA_COMPILE_ERROR);
  EXPECT_FALSE(second.diskCache().read(*brokenKey).has_value());
  EXPECT_EQ(second.stats().compiles, 0u);
}

} // namespace
} // namespace tessera::runtime
