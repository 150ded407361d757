// A bad-input sweep of the C API (tessera.h): every entry point called with arguments it must
// refuse: NULL handles and out pointers, NULL or empty buffers, bad compile and CUDA options, grids
// past the hardware's limits, wrong argument counts, and tessera_tensor descriptors and op
// attributes that do not describe a valid call (a bad dtype, rank, size or stride, a misaligned or
// NULL data pointer, extents that overflow 64 bits, unknown or mistyped attributes). Each case
// expects the status code and a message naming the argument; none may crash, and out handles are
// reset to NULL.
//
// Everything runs without a GPU: the ops are asked to describe calls (tessera_op_describe checks a
// call as tessera_op_launch does, then plans it for a target), and no bundle is loaded, so that a
// call the op accepts gets NOT_FOUND for its kernel. Every case of an op therefore starts from a
// valid call, checked to get NOT_FOUND, and breaks one thing in it.
#include "runtime/tessera.h"

#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera::test {
namespace {

constexpr char kHostIR[] = "// host: store program ids";
constexpr tessera_compile_options kOptions{"sm_90a", 4, 3, 0};

// What the sweep's calls use: a runtime, a host kernel, a bundle and the ops, created once.
struct Handles {
  tessera_runtime_t runtime = nullptr;
  tessera_host_kernel_t hostKernel = nullptr;
  tessera_bundle_t bundle = nullptr;

  tessera_op_t op(const char *name) {
    tessera_op_t op = nullptr;
    Result found(tessera_runtime_get_op(runtime, name, &op));
    EXPECT_EQ(found.code, TESSERA_OK) << name << ": " << found.message;
    return op;
  }
};

Handles &handles() {
  static Handles *shared = [] {
    auto *h = new Handles;
    tessera_status_free(tessera_runtime_create(&h->runtime));
    tessera_status_free(tessera_host_kernel_compile(kHostIR, sizeof(kHostIR) - 1, &h->hostKernel));
    tessera_status_free(tessera_bundle_create("sweep", &h->bundle));
    return h;
  }();
  return *shared;
}

// A contiguous tensor of `dtype` and `sizes` at `data`.
tessera_tensor tensor(uint64_t data, tessera_dtype dtype, std::vector<int64_t> sizes) {
  tessera_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.rank = int32_t(sizes.size());
  int64_t stride = 1;
  for (int32_t d = t.rank - 1; d >= 0; --d) {
    t.sizes[d] = sizes[size_t(d)];
    t.strides[d] = stride;
    stride *= sizes[size_t(d)];
  }
  return t;
}

constexpr uint64_t kMiB = 1 << 20;

// A call of op `name`: its tensors and attributes, which a case may break.
struct OpCall {
  const char *name;
  std::vector<tessera_tensor> tensors;
  std::vector<tessera_op_attribute> attributes;
  const char *precision = nullptr;

  tessera_status_t describe(const char *target = "sm_90a") const {
    tessera_op_options options{precision, attributes.empty() ? nullptr : attributes.data(),
                               attributes.size()};
    char buf[4096];
    return tessera_op_describe(handles().op(name), target,
                               tensors.empty() ? nullptr : tensors.data(), tensors.size(), &options,
                               buf, sizeof buf);
  }
};

tessera_op_attribute intAttribute(const char *name, int64_t value) {
  return {name, TESSERA_ATTRIBUTE_INT, value, 0.0, nullptr, nullptr, 0};
}
tessera_op_attribute floatAttribute(const char *name, double value) {
  return {name, TESSERA_ATTRIBUTE_FLOAT, 0, value, nullptr, nullptr, 0};
}
tessera_op_attribute stringAttribute(const char *name, const char *value) {
  return {name, TESSERA_ATTRIBUTE_STRING, 0, 0.0, value, nullptr, 0};
}

// Valid calls, each at its own addresses (64 MiB apart) so that no two tensors overlap.
OpCall addCall() {
  return {"add",
          {tensor(1 * 64 * kMiB, TESSERA_FLOAT32, {64, 128}),
           tensor(2 * 64 * kMiB, TESSERA_FLOAT32, {64, 128}),
           tensor(3 * 64 * kMiB, TESSERA_FLOAT32, {64, 128})},
          {}};
}
OpCall mmCall() {
  return {"mm",
          {tensor(1 * 64 * kMiB, TESSERA_FLOAT16, {256, 128}),
           tensor(2 * 64 * kMiB, TESSERA_FLOAT16, {128, 64}),
           tensor(3 * 64 * kMiB, TESSERA_FLOAT16, {256, 64})},
          {}};
}
const int64_t kNormalizedShape[] = {512};
OpCall layerNormCall() {
  return {"layer_norm",
          {tensor(1 * 64 * kMiB, TESSERA_BFLOAT16, {32, 512}),
           tensor(2 * 64 * kMiB, TESSERA_BFLOAT16, {512}),
           tensor(3 * 64 * kMiB, TESSERA_BFLOAT16, {512}),
           tensor(4 * 64 * kMiB, TESSERA_BFLOAT16, {32, 512})},
          {{"normalized_shape", TESSERA_ATTRIBUTE_INTS, 0, 0.0, nullptr, kNormalizedShape, 1}}};
}
OpCall softmaxCall() {
  return {"softmax",
          {tensor(1 * 64 * kMiB, TESSERA_FLOAT32, {16, 1000}),
           tensor(2 * 64 * kMiB, TESSERA_FLOAT32, {16, 1000})},
          {intAttribute("dim", -1)}};
}
OpCall dropoutCall() {
  return {"dropout",
          {tensor(1 * 64 * kMiB, TESSERA_FLOAT16, {4096}),
           tensor(2 * 64 * kMiB, TESSERA_FLOAT16, {4096})},
          {floatAttribute("p", 0.25), intAttribute("seed", 7)}};
}
OpCall ropeCall() {
  return {"rotary_position_embedding",
          {tensor(1 * 64 * kMiB, TESSERA_BFLOAT16, {2, 16, 4, 64}),
           tensor(2 * 64 * kMiB, TESSERA_FLOAT32, {16, 32}),
           tensor(3 * 64 * kMiB, TESSERA_FLOAT32, {16, 32}),
           tensor(4 * 64 * kMiB, TESSERA_BFLOAT16, {2, 16, 4, 64})},
          {}};
}

struct Case {
  std::string name;
  std::function<tessera_status_t()> call;
  tessera_status_code code;
  std::string message; // a part of the status message
};

// A case that breaks one thing in a valid op call.
Case opCase(std::string name, OpCall (*valid)(), std::function<void(OpCall &)> breakIt,
            std::string message) {
  return {std::move(name),
          [=] {
            OpCall call = valid();
            breakIt(call);
            return call.describe();
          },
          TESSERA_INVALID_ARGUMENT, std::move(message)};
}

std::vector<Case> nullHandleCases() {
  static const char ir[] = "tile IR";
  static const char source[] = "extern \"C\" __global__ void k() {}";
  static tessera_cuda_options cudaOptions{"k", "sm_90a", 4, 0, nullptr, 0};
  static uint64_t sizes[2] = {64, 64}, strides[1] = {128};
  static uint32_t box[2] = {16, 16};
  static char map[TESSERA_TENSOR_MAP_BYTES];
  static const char *text = nullptr;
  static size_t size = 0;
  static int32_t count = 0;
  static double milliseconds = 0;
  static char buf[64];
  static uint64_t pointer = 0;
  Handles &h = handles();
  auto invalid = [](std::string name, std::function<tessera_status_t()> call, std::string message) {
    return Case{std::move(name), std::move(call), TESSERA_INVALID_ARGUMENT, std::move(message)};
  };
  return {
      invalid(
          "RuntimeCreateNullOut", [] { return tessera_runtime_create(nullptr); },
          "out_runtime must not be NULL"),
      invalid(
          "CompileNullIR",
          [] {
            tessera_compiled_t out;
            return tessera_compile(nullptr, 5, &kOptions, &out);
          },
          "tile_ir"),
      invalid(
          "CompileNullOptions",
          [] {
            tessera_compiled_t out;
            return tessera_compile(ir, sizeof ir - 1, nullptr, &out);
          },
          "options"),
      invalid(
          "CompileNullOut", [] { return tessera_compile(ir, sizeof ir - 1, &kOptions, nullptr); },
          "out_compiled must not be NULL"),
      invalid(
          "CompiledStageNullHandle",
          [] { return tessera_compiled_stage(nullptr, "ptx", &text, &size); },
          "compiled must not be NULL"),
      invalid(
          "HostCompileNullIR",
          [] {
            tessera_host_kernel_t out;
            return tessera_host_kernel_compile(nullptr, 0, &out);
          },
          "tile_ir must not be empty"),
      invalid(
          "HostCompileNullOut",
          [] { return tessera_host_kernel_compile(kHostIR, sizeof kHostIR - 1, nullptr); },
          "out_kernel must not be NULL"),
      invalid(
          "HostStageNullHandle",
          [] { return tessera_host_kernel_stage(nullptr, "host", &text, &size); },
          "kernel must not be NULL"),
      invalid(
          "HostStageNullStage",
          [&h] { return tessera_host_kernel_stage(h.hostKernel, nullptr, &text, &size); }, "stage"),
      invalid(
          "HostStageNullOut",
          [&h] { return tessera_host_kernel_stage(h.hostKernel, "host", nullptr, nullptr); },
          "out_data"),
      invalid(
          "HostLaunchNullHandle",
          [] { return tessera_host_kernel_launch(nullptr, 1, 1, 1, nullptr, 0, nullptr, 0); },
          "kernel must not be NULL"),
      invalid(
          "DeviceCountNullRuntime", [] { return tessera_device_count(nullptr, &count); },
          "runtime must not be NULL"),
      invalid(
          "PointerDeviceNullRuntime",
          [] {
            int32_t device = 0;
            return tessera_pointer_device(nullptr, 0x1000, &device);
          },
          "runtime must not be NULL"),
      invalid(
          "DeviceTargetNullBuffer",
          [&h] { return tessera_device_target(h.runtime, 0, nullptr, 8); }, "buf must not be NULL"),
      invalid(
          "CacheDirectoryNullRuntime",
          [] { return tessera_runtime_cache_directory(nullptr, buf, sizeof buf); },
          "runtime must not be NULL"),
      invalid(
          "CacheDirectoryNullBuffer",
          [&h] { return tessera_runtime_cache_directory(h.runtime, nullptr, 8); },
          "buf must not be NULL"),
      invalid(
          "KernelGetNullRuntime",
          [] {
            tessera_kernel_t out;
            return tessera_kernel_get(nullptr, ir, sizeof ir - 1, &kOptions, 0, &out);
          },
          "runtime must not be NULL"),
      invalid(
          "KernelGetNullOut",
          [&h] { return tessera_kernel_get(h.runtime, ir, sizeof ir - 1, &kOptions, 0, nullptr); },
          "out_kernel must not be NULL"),
      invalid(
          "KernelPrecompileNullRuntime",
          [] { return tessera_kernel_precompile(nullptr, ir, sizeof ir - 1, &kOptions, &count); },
          "runtime must not be NULL"),
      invalid(
          "KernelPrecompileNullIR",
          [&h] { return tessera_kernel_precompile(h.runtime, nullptr, 4, &kOptions, &count); },
          "tile_ir"),
      invalid(
          "KernelLaunchNullHandle",
          [] { return tessera_kernel_launch(nullptr, 1, 1, 1, nullptr, nullptr, 0); },
          "kernel must not be NULL"),
      invalid(
          "CudaCompileNullSource",
          [] {
            tessera_compiled_t out;
            return tessera_cuda_compile(nullptr, 4, &cudaOptions, &out);
          },
          "source"),
      invalid(
          "CudaCompileNullOptions",
          [] {
            tessera_compiled_t out;
            return tessera_cuda_compile(source, sizeof source - 1, nullptr, &out);
          },
          "options"),
      invalid(
          "CudaKernelGetNullRuntime",
          [] {
            tessera_kernel_t out;
            return tessera_cuda_kernel_get(nullptr, source, sizeof source - 1, &cudaOptions, 0,
                                           &out);
          },
          "runtime must not be NULL"),
      invalid(
          "CudaPrecompileNullRuntime",
          [] {
            return tessera_cuda_kernel_precompile(nullptr, source, sizeof source - 1, &cudaOptions,
                                                  &count);
          },
          "runtime must not be NULL"),
      invalid(
          "NvrtcVersionNullOut", [] { return tessera_nvrtc_version(nullptr, nullptr); },
          "out_major and out_minor"),
      invalid(
          "TensorMapNullSizes",
          [] { return tessera_encode_tensor_map(kMiB, 2, nullptr, strides, box, 2, 0, map); },
          "sizes, box and (for rank > 1) stride_bytes must not be NULL"),
      invalid(
          "TensorMapNullOut",
          [] { return tessera_encode_tensor_map(kMiB, 2, sizes, strides, box, 2, 0, nullptr); },
          "tensor map: the output must not be NULL"),
      invalid(
          "TensorMapRank0",
          [] { return tessera_encode_tensor_map(kMiB, 0, sizes, strides, box, 2, 0, map); },
          "rank must be 1 to 5, got 0"),
      invalid(
          "TensorMapRank6",
          [] { return tessera_encode_tensor_map(kMiB, 6, sizes, strides, box, 2, 0, map); },
          "rank must be 1 to 5, got 6"),
      invalid(
          "BundleCreateNullOut", [] { return tessera_bundle_create("x", nullptr); },
          "out_bundle must not be NULL"),
      invalid(
          "BundleReadNullPath",
          [] {
            tessera_bundle_t out;
            return tessera_bundle_read(nullptr, &out);
          },
          "path"),
      invalid(
          "BundleReadNullOut", [] { return tessera_bundle_read("/nonexistent", nullptr); },
          "out_bundle must not be NULL"),
      invalid(
          "BundleKernelNullBundle", [] { return tessera_bundle_kernel(nullptr, 0, &text, &text); },
          "bundle must not be NULL"),
      invalid(
          "BundleKernelNegativeIndex",
          [&h] { return tessera_bundle_kernel(h.bundle, -1, &text, &text); }, "-1"),
      invalid(
          "BundleKernelIndexPastEnd",
          [&h] { return tessera_bundle_kernel(h.bundle, 3, &text, &text); },
          "is out of range (the bundle has 0)"),
      invalid(
          "BundleTuningNullBundle",
          [] { return tessera_bundle_tuning(nullptr, 0, &text, &text, &text, &milliseconds); },
          "bundle must not be NULL"),
      invalid(
          "BundleTuningIndexPastEnd",
          [&h] { return tessera_bundle_tuning(h.bundle, 0, &text, &text, &text, &milliseconds); },
          "is out of range (the bundle has 0)"),
      invalid(
          "BundleAddKernelNullBundle",
          [&h] {
            return tessera_bundle_add_kernel(h.runtime, nullptr, "k", ir, sizeof ir - 1, &kOptions);
          },
          "bundle must not be NULL"),
      invalid(
          "BundleAddKernelNullName",
          [&h] {
            return tessera_bundle_add_kernel(h.runtime, h.bundle, nullptr, ir, sizeof ir - 1,
                                             &kOptions);
          },
          "name"),
      invalid(
          "BundleAddTuningNullKernel",
          [&h] { return tessera_bundle_add_tuning(h.bundle, nullptr, "{}", "{}", 1.0); }, "kernel"),
      invalid(
          "BundleAddOpNullRecord", [&h] { return tessera_bundle_add_op(h.bundle, "mm", nullptr); },
          "record"),
      invalid(
          "BundleAddOpNotJSON", [&h] { return tessera_bundle_add_op(h.bundle, "matmul", "{"); },
          "not JSON"),
      invalid(
          "BundleOpNullBundle", [] { return tessera_bundle_op(nullptr, 0, &text, &text); },
          "bundle must not be NULL"),
      invalid(
          "BundleWriteNullPath", [&h] { return tessera_bundle_write(h.bundle, nullptr); }, "path"),
      invalid(
          "LoadBundleNullBundle", [&h] { return tessera_runtime_load_bundle(h.runtime, nullptr); },
          "bundle must not be NULL"),
      invalid(
          "BundledKernelNullName",
          [&h] {
            tessera_kernel_t out;
            return tessera_runtime_get_bundled_kernel(h.runtime, nullptr, 0, &out);
          },
          "name"),
      invalid(
          "BundledKernelIndexPastEnd",
          [&h] { return tessera_runtime_bundled_kernel(h.runtime, 0, &text, &text); },
          "out of range"),
      invalid(
          "GetOpNullRuntime",
          [] {
            tessera_op_t out;
            return tessera_runtime_get_op(nullptr, "add", &out);
          },
          "runtime must not be NULL"),
      invalid(
          "GetOpNullName",
          [&h] {
            tessera_op_t out;
            return tessera_runtime_get_op(h.runtime, nullptr, &out);
          },
          "name"),
      invalid(
          "GetOpNullOut", [&h] { return tessera_runtime_get_op(h.runtime, "add", nullptr); },
          "out_op"),
      Case{"GetOpUnknownName",
           [&h] {
             tessera_op_t out;
             return tessera_runtime_get_op(h.runtime, "conv2d", &out);
           },
           TESSERA_NOT_FOUND, "no op named 'conv2d'"},
      invalid(
          "OpLaunchNullHandle",
          [] { return tessera_op_launch(nullptr, 0, nullptr, nullptr, 0, nullptr); },
          "op must not be NULL"),
      invalid(
          "OpDescribeNullTarget",
          [&h] {
            return tessera_op_describe(h.op("add"), nullptr, nullptr, 0, nullptr, buf, sizeof buf);
          },
          "target must not be NULL"),
      invalid(
          "OpDescribeNullBuffer",
          [&h] {
            return tessera_op_describe(h.op("add"), "sm_90a", nullptr, 0, nullptr, nullptr, 0);
          },
          "buf must not be NULL"),
      invalid(
          "OpPrecompileNullTarget",
          [&h] { return tessera_op_precompile(h.op("add"), nullptr, nullptr, 0, nullptr, &count); },
          "target must not be NULL"),
      invalid(
          "MallocNullRuntime", [] { return tessera_malloc(nullptr, 0, 8, &pointer); },
          "runtime must not be NULL"),
      invalid(
          "FreeNullRuntime", [] { return tessera_free(nullptr, 0, 0); },
          "runtime must not be NULL"),
      invalid(
          "MemcpyHtodNullSource",
          [&h] { return tessera_memcpy_htod(h.runtime, 0, kMiB, nullptr, 8); }, "src"),
      invalid(
          "MemcpyDtohNullDestination",
          [&h] { return tessera_memcpy_dtoh(h.runtime, 0, nullptr, kMiB, 8); }, "dst"),
      invalid(
          "SynchronizeNullRuntime", [] { return tessera_synchronize(nullptr, 0); },
          "runtime must not be NULL"),
  };
}

std::vector<Case> optionCases() {
  static const char ir[] = "tile IR";
  static int32_t compiled = 0;
  Handles &h = handles();
  auto precompile = [&h](tessera_compile_options options) {
    return [&h, options] {
      return tessera_kernel_precompile(h.runtime, ir, sizeof ir - 1, &options, &compiled);
    };
  };
  auto cudaPrecompile = [&h](tessera_cuda_options options) {
    static const char source[] = "extern \"C\" __global__ void k() {}";
    return [&h, options] {
      return tessera_cuda_kernel_precompile(h.runtime, source, sizeof source - 1, &options,
                                            &compiled);
    };
  };
  static const char *includePath[] = {"-I/tmp"};
  return {
      {"CompileWarps3", precompile({"sm_90a", 3, 3, 0}), TESSERA_INVALID_ARGUMENT, "num_warps"},
      {"CompileWarps64", precompile({"sm_90a", 64, 3, 0}), TESSERA_INVALID_ARGUMENT, "num_warps"},
      {"CompileStages0", precompile({"sm_90a", 4, 0, 0}), TESSERA_INVALID_ARGUMENT, "num_stages"},
      {"CompileFlags", precompile({"sm_90a", 4, 3, 1}), TESSERA_INVALID_ARGUMENT, "flags"},
      {"CompileUnknownTarget", precompile({"sm_12", 4, 3, 0}), TESSERA_INVALID_ARGUMENT, "sm_12"},
      {"CompileNullTarget", precompile({nullptr, 4, 3, 0}), TESSERA_INVALID_ARGUMENT, "target"},
      {"CompileEmptyIR",
       [&h] { return tessera_kernel_precompile(h.runtime, ir, 0, &kOptions, &compiled); },
       TESSERA_INVALID_ARGUMENT, "tile_ir"},
      {"CudaNullEntry", cudaPrecompile({nullptr, "sm_90a", 4, 0, nullptr, 0}),
       TESSERA_INVALID_ARGUMENT, "options.entry must not be NULL"},
      {"CudaWarps0", cudaPrecompile({"k", "sm_90a", 0, 0, nullptr, 0}), TESSERA_INVALID_ARGUMENT,
       "num_warps"},
      {"CudaNegativeSharedBytes", cudaPrecompile({"k", "sm_90a", 4, -1, nullptr, 0}),
       TESSERA_INVALID_ARGUMENT, "shared_bytes"},
      {"CudaNullOptionList", cudaPrecompile({"k", "sm_90a", 4, 0, nullptr, 2}),
       TESSERA_INVALID_ARGUMENT, "options.options"},
      {"CudaIncludePath", cudaPrecompile({"k", "sm_90a", 4, 0, includePath, 1}),
       TESSERA_INVALID_ARGUMENT, "options.options[0]"},
  };
}

std::vector<Case> launchCases() {
  static std::vector<int32_t> out(8, -1);
  static uint64_t address = 0;
  static void *args[] = {&address};
  static void *nullArgs[] = {nullptr};
  Handles &h = handles();
  auto host = [&h](uint32_t x, uint32_t y, uint32_t z, void **a, size_t n,
                   const tessera_host_buffer *buffers, size_t numBuffers) {
    return [&h, x, y, z, a, n, buffers, numBuffers] {
      address = reinterpret_cast<uint64_t>(out.data());
      return tessera_host_kernel_launch(h.hostKernel, x, y, z, a, n, buffers, numBuffers);
    };
  };
  static tessera_host_buffer buffer{0, 0, "out"};
  return {
      {"HostLaunchTooManyArgs", host(1, 1, 1, args, 2, nullptr, 0), TESSERA_INVALID_ARGUMENT,
       "takes 1 arguments, got 2"},
      {"HostLaunchNullArgs", host(1, 1, 1, nullptr, 1, nullptr, 0), TESSERA_INVALID_ARGUMENT,
       "args must not be NULL"},
      {"HostLaunchNullArg", host(1, 1, 1, nullArgs, 1, nullptr, 0), TESSERA_INVALID_ARGUMENT,
       "args[0] must not be NULL"},
      {"HostLaunchNullBuffers", host(1, 1, 1, args, 1, nullptr, 1), TESSERA_INVALID_ARGUMENT,
       "buffers must not be NULL"},
      {"HostLaunchGridXPastLimit", host(0x80000000u, 1, 1, args, 1, &buffer, 1),
       TESSERA_INVALID_ARGUMENT, "grid"},
      {"HostLaunchGridYPastLimit", host(1, 65536, 1, args, 1, &buffer, 1), TESSERA_INVALID_ARGUMENT,
       "grid"},
      {"HostLaunchGridZPastLimit", host(1, 1, 70000, args, 1, &buffer, 1), TESSERA_INVALID_ARGUMENT,
       "grid"},
      {"HostLaunchWritesOnlyItsBuffers", host(4, 1, 1, args, 1, &buffer, 1),
       TESSERA_INVALID_ARGUMENT, "out-of-bounds store"},
  };
}

std::vector<Case> tensorCases() {
  auto first = [](std::function<void(tessera_tensor &)> f) {
    return [f](OpCall &call) { f(call.tensors[0]); };
  };
  auto last = [](std::function<void(tessera_tensor &)> f) {
    return [f](OpCall &call) { f(call.tensors.back()); };
  };
  return {
      opCase(
          "AddNullTensors", addCall, [](OpCall &c) { c.tensors.clear(); },
          "add: expected 3 tensors (input, other, out), got NULL"),
      opCase(
          "AddTwoTensors", addCall, [](OpCall &c) { c.tensors.pop_back(); },
          "add: expected 3 tensors (input, other, out), got 2"),
      opCase("AddDtypeZero", addCall, first([](tessera_tensor &t) { t.dtype = TESSERA_NONE; }),
             "add: input is TESSERA_NONE; expected a tensor"),
      opCase("AddDtypeOutOfRange", addCall, first([](tessera_tensor &t) { t.dtype = 99; }),
             "add: input has dtype 99"),
      opCase("AddNegativeRank", addCall, first([](tessera_tensor &t) { t.rank = -1; }),
             "add: input has rank -1 (expected 0 to 8)"),
      opCase("AddRank9", addCall, first([](tessera_tensor &t) { t.rank = 9; }),
             "add: input has rank 9 (expected 0 to 8)"),
      opCase("AddNegativeSize", addCall, first([](tessera_tensor &t) { t.sizes[1] = -128; }),
             "add: input has a negative size or stride in dim 1"),
      opCase("AddNegativeStride", addCall, first([](tessera_tensor &t) { t.strides[0] = -128; }),
             "add: input has a negative size or stride in dim 0"),
      opCase("AddNullData", addCall, first([](tessera_tensor &t) { t.data = 0; }),
             "add: input has a NULL data pointer but is not empty"),
      opCase("AddMisalignedData", addCall, first([](tessera_tensor &t) { t.data += 2; }),
             "add: input's data pointer 0x4000002 is not a multiple of its element size, 4 bytes"),
      opCase("AddMisalignedOut", addCall, last([](tessera_tensor &t) { t.data += 1; }),
             "add: out's data pointer 0xc000001 is not a multiple of its element size, 4 bytes"),
      opCase(
          "AddSizesOverflow", addCall,
          [](OpCall &c) {
            for (tessera_tensor &t : c.tensors)
              t = tensor(t.data, TESSERA_FLOAT32, {int64_t(1) << 40, int64_t(1) << 40});
          },
          "add: input's sizes and strides reach past 2^63 bytes"),
      opCase("AddStrideOverflow", addCall,
             first([](tessera_tensor &t) { t.strides[0] = int64_t(1) << 62; }),
             "add: input's sizes and strides reach past 2^63 bytes"),
      opCase("AddExtentWrapsAddressSpace", addCall,
             first([](tessera_tensor &t) { t.data = ~uint64_t(0) - 255; }),
             "add: input's memory runs past the end of the address space"),
      opCase(
          "AddShapesDoNotBroadcast", addCall,
          [](OpCall &c) {
            c.tensors[1] = tensor(2 * 64 * kMiB, TESSERA_FLOAT32, {64, 127});
          },
          "add: the shapes of input (64, 128), other (64, 127) do not broadcast together"),
      opCase("AddOutWrongShape", addCall, last([](tessera_tensor &t) {
               t = tensor(t.data, TESSERA_FLOAT32, {128, 64});
             }),
             "add: out has shape (128, 64); expected (64, 128)"),
      opCase("AddOutZeroStride", addCall, last([](tessera_tensor &t) { t.strides[0] = 0; }),
             "add: out has elements that share memory"),
      opCase("AddOutOverlapsInput", addCall,
             last([](tessera_tensor &t) { t.data = 1 * 64 * kMiB + 256; }),
             "add: out overlaps input in memory"),
      opCase("AddOutCannotHoldResult", addCall,
             last([](tessera_tensor &t) { t.dtype = TESSERA_INT32; }),
             "add: out has dtype TESSERA_INT32, but the result has dtype TESSERA_FLOAT32"),
      opCase(
          "AddPrecision", addCall, [](OpCall &c) { c.precision = "tf32"; },
          "add: options.input_precision must be NULL or \"ieee\", got \"tf32\""),
      opCase(
          "MmRank1", mmCall,
          [](OpCall &c) { c.tensors[0] = tensor(64 * kMiB, TESSERA_FLOAT16, {128}); },
          "mm: input must have 2 dimensions, got rank 1"),
      opCase(
          "MmInnerSizes", mmCall,
          [](OpCall &c) {
            c.tensors[1] = tensor(2 * 64 * kMiB, TESSERA_FLOAT16, {127, 64});
          },
          "mm: input of shape (256, 128) and mat2 of shape (127, 64) cannot be multiplied"),
      opCase(
          "MmMixedDtypes", mmCall, [](OpCall &c) { c.tensors[1].dtype = TESSERA_BFLOAT16; },
          "mm: mat2 is bf16 but input is fp16"),
      opCase("MmMisalignedInput", mmCall, first([](tessera_tensor &t) { t.data += 1; }),
             "mm: input's data pointer 0x4000001 is not a multiple of its element size, 2 bytes"),
      opCase("MmSizesOverflow", mmCall,
             first([](tessera_tensor &t) { t.strides[0] = int64_t(1) << 61; }),
             "mm: input has size 256 and stride 2305843009213693952 in dimension 0"),
      opCase("MmOutOverlapsMat2", mmCall,
             last([](tessera_tensor &t) { t.data = 2 * 64 * kMiB + 64; }), "mm: out overlaps mat2"),
      opCase(
          "MmIntegerDtype", mmCall,
          [](OpCall &c) {
            for (tessera_tensor &t : c.tensors)
              t.dtype = TESSERA_INT32;
          },
          "mm: input has dtype"),
      opCase(
          "LayerNormMissingShape", layerNormCall, [](OpCall &c) { c.attributes.clear(); },
          "normalized_shape"),
      opCase(
          "LayerNormShapeMismatch", layerNormCall,
          [](OpCall &c) {
            static const int64_t wrong[] = {256};
            c.attributes[0].int_values = wrong;
          },
          "normalized_shape"),
      opCase(
          "LayerNormNaNEps", layerNormCall,
          [](OpCall &c) { c.attributes.push_back(floatAttribute("eps", std::nan(""))); },
          "layer_norm: eps must be a finite number >= 0, got nan"),
      opCase(
          "LayerNormNegativeEps", layerNormCall,
          [](OpCall &c) { c.attributes.push_back(floatAttribute("eps", -1.0)); },
          "layer_norm: eps must be a finite number >= 0, got -1"),
      opCase(
          "LayerNormWeightShape", layerNormCall,
          [](OpCall &c) { c.tensors[1] = tensor(2 * 64 * kMiB, TESSERA_BFLOAT16, {256}); },
          "weight"),
      opCase("LayerNormOutDtype", layerNormCall,
             last([](tessera_tensor &t) { t.dtype = TESSERA_FLOAT32; }), "out"),
      opCase(
          "LayerNormMisalignedWeight", layerNormCall, [](OpCall &c) { c.tensors[1].data += 1; },
          "layer_norm: weight's data pointer 0x8000001 is not a multiple of its element size"),
      opCase(
          "SoftmaxMissingDim", softmaxCall, [](OpCall &c) { c.attributes.clear(); }, "dim"),
      opCase(
          "SoftmaxDimOutOfRange", softmaxCall, [](OpCall &c) { c.attributes[0].int_value = 2; },
          "dim"),
      opCase(
          "SoftmaxDimIsFloat", softmaxCall,
          [](OpCall &c) { c.attributes[0] = floatAttribute("dim", 1.0); }, "dim"),
      opCase(
          "DropoutPastOne", dropoutCall, [](OpCall &c) { c.attributes[0].float_value = 1.5; }, "p"),
      opCase(
          "DropoutNaN", dropoutCall, [](OpCall &c) { c.attributes[0].float_value = std::nan(""); },
          "p"),
      opCase(
          "DropoutNegativeSeed", dropoutCall, [](OpCall &c) { c.attributes[1].int_value = -1; },
          "seed"),
      opCase(
          "DropoutMissingSeed", dropoutCall, [](OpCall &c) { c.attributes.pop_back(); }, "seed"),
      opCase(
          "RopeOddHeadDim", ropeCall,
          [](OpCall &c) {
            c.tensors[0] = tensor(64 * kMiB, TESSERA_BFLOAT16, {2, 16, 4, 63});
            c.tensors[3] = tensor(4 * 64 * kMiB, TESSERA_BFLOAT16, {2, 16, 4, 63});
          },
          "rotary_position_embedding"),
      opCase(
          "RopeTableShape", ropeCall,
          [](OpCall &c) {
            c.tensors[1] = tensor(2 * 64 * kMiB, TESSERA_FLOAT32, {15, 32});
          },
          "sin_table"),
  };
}

std::vector<Case> attributeCases() {
  return {
      opCase(
          "AttributeNullName", addCall,
          [](OpCall &c) { c.attributes.push_back(intAttribute(nullptr, 2)); },
          "add: attribute 0 has a NULL name"),
      opCase(
          "AttributeUnknown", addCall,
          [](OpCall &c) { c.attributes.push_back(intAttribute("beta", 2)); },
          "add: takes no attribute 'beta' (it takes alpha)"),
      opCase(
          "AttributeBadKind", addCall,
          [](OpCall &c) {
            c.attributes.push_back(intAttribute("alpha", 2));
            c.attributes[0].kind = 9;
          },
          "add: attribute 'alpha' has kind 9 (expected a tessera_attribute_kind)"),
      opCase(
          "AttributeNullString", addCall,
          [](OpCall &c) { c.attributes.push_back(stringAttribute("alpha", nullptr)); },
          "add: attribute 'alpha' is a string attribute with a NULL string_value"),
      opCase(
          "AttributeStringForNumber", addCall,
          [](OpCall &c) { c.attributes.push_back(stringAttribute("alpha", "2")); }, "alpha"),
      opCase(
          "AttributeGivenTwice", addCall,
          [](OpCall &c) {
            c.attributes.push_back(intAttribute("alpha", 2));
            c.attributes.push_back(intAttribute("alpha", 3));
          },
          "add: attribute 'alpha' is given twice"),
      opCase(
          "AttributeNullInts", layerNormCall,
          [](OpCall &c) { c.attributes[0].int_values = nullptr; },
          "layer_norm: attribute 'normalized_shape' is a list of 1 ints with a NULL "
          "int_values"),
      opCase(
          "RoundingModeUnknown", addCall,
          [](OpCall &c) {
            c.name = "div";
            c.attributes.push_back(stringAttribute("rounding_mode", "ceil"));
          },
          "div: rounding_mode must be one of \"trunc\", \"floor\", got \"ceil\""),
  };
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (auto group :
       {nullHandleCases(), optionCases(), launchCases(), tensorCases(), attributeCases()})
    cases.insert(cases.end(), group.begin(), group.end());
  cases.push_back({"AttributesArrayNull",
                   [] {
                     OpCall call = addCall();
                     tessera_op_options options{nullptr, nullptr, 2};
                     char buf[256];
                     return tessera_op_describe(handles().op("add"), "sm_90a", call.tensors.data(),
                                                call.tensors.size(), &options, buf, sizeof buf);
                   },
                   TESSERA_INVALID_ARGUMENT,
                   "add: options.attributes is NULL but num_attributes is 2"});
  cases.push_back({"OpUnknownTarget", [] { return addCall().describe("sm_12"); },
                   TESSERA_INVALID_ARGUMENT, "target 'sm_12' is not one of"});
  return cases;
}

// gtest prints a parameter in a failure's name: the case's own name, not its bytes.
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

class CApiBadInput : public testing::TestWithParam<Case> {};

TEST_P(CApiBadInput, IsRefusedWithTheArgumentNamed) {
  const Case &c = GetParam();
  Result result(c.call());
  EXPECT_EQ(result.code, c.code) << tessera_status_code_name(result.code) << ": " << result.message;
  EXPECT_NE(result.message.find(c.message), std::string::npos) << result.message;
}

INSTANTIATE_TEST_SUITE_P(Sweep, CApiBadInput, testing::ValuesIn(allCases()),
                         [](const testing::TestParamInfo<Case> &info) { return info.param.name; });

// Tests that each valid call that the op cases break is itself accepted: without a loaded bundle
// the op can only say that it has no kernel for it.
TEST(CApiBadInputControls, ValidOpCallsFindNoKernel) {
  for (OpCall (*valid)() : {addCall, mmCall, layerNormCall, softmaxCall, dropoutCall, ropeCall}) {
    OpCall call = valid();
    Result result(call.describe());
    EXPECT_EQ(result.code, TESSERA_NOT_FOUND) << call.name << ": " << result.message;
  }
}

// Tests that out handles are reset to NULL when a call fails, so that a caller freeing them after
// an error frees nothing.
TEST(CApiBadInputControls, FailedCallsResetOutHandles) {
  Handles &h = handles();
  int sentinel = 0;
  auto *junk = reinterpret_cast<void *>(&sentinel);
  tessera_compiled_t compiled = static_cast<tessera_compiled_t>(junk);
  tessera_status_free(tessera_compile(nullptr, 0, &kOptions, &compiled));
  EXPECT_EQ(compiled, nullptr);
  tessera_host_kernel_t host = static_cast<tessera_host_kernel_t>(junk);
  tessera_status_free(tessera_host_kernel_compile(nullptr, 0, &host));
  EXPECT_EQ(host, nullptr);
  tessera_bundle_t bundle = static_cast<tessera_bundle_t>(junk);
  tessera_status_free(tessera_bundle_read("/nonexistent/sweep.tbundle", &bundle));
  EXPECT_EQ(bundle, nullptr);
  tessera_op_t op = static_cast<tessera_op_t>(junk);
  tessera_status_free(tessera_runtime_get_op(h.runtime, "conv2d", &op));
  EXPECT_EQ(op, nullptr);
}

} // namespace
} // namespace tessera::test
