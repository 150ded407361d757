// The C API of tessera.h: argument checks, handle conversion and Status -> tessera_status_t. The
// work is done by tessera::runtime (the runtime) and tessera::compiler (the compiler), which this
// file joins: it is the only runtime source that sees the compiler.
//
// No C++ exception may cross into C: every entry point that can allocate runs inside guarded(),
// which turns an escaping exception into a TESSERA_INTERNAL status.
#include "runtime/tessera.h"

#include "compiler/Compiler.h"
#include "runtime/disk_cache.h"
#include "runtime/host_kernel.h"
#include "runtime/kernel_spec.h"
#include "runtime/nvrtc.h"
#include "runtime/op.h"
#include "runtime/runtime.h"
#include "runtime/status.h"
#include "runtime/tensor_map.h"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>

using tessera::runtime::BinaryKind;
using tessera::runtime::Bundle;
using tessera::runtime::BundledKernel;
using tessera::runtime::BundleKernel;
using tessera::runtime::BundleOp;
using tessera::runtime::BundleTuning;
using tessera::runtime::CompilerHooks;
using tessera::runtime::CudaProgram;
using tessera::runtime::CudaSourceSpec;
using tessera::runtime::DiskCache;
using tessera::runtime::encodeTensorMap;
using tessera::runtime::invalidArgument;
using tessera::runtime::Kernel;
using tessera::runtime::KernelBinary;
using tessera::runtime::KernelSpec;
using tessera::runtime::Nvrtc;
using tessera::runtime::Op;
using tessera::runtime::readBundleFile;
using tessera::runtime::Runtime;
using tessera::runtime::Status;
using tessera::runtime::StatusOr;
using tessera::runtime::TensorMapSpec;
using tessera::runtime::writeBundleFile;

struct tessera_status {
  tessera_status_code code;
  std::string message;
};

struct tessera_runtime {
  tessera_runtime(CompilerHooks compiler, std::string cacheDirectory)
      : runtime(std::move(compiler), std::move(cacheDirectory)) {}
  Runtime runtime;
  std::mutex opsMutex;
  std::map<std::string, std::unique_ptr<Op>> ops; // created on first lookup; under opsMutex
};

struct tessera_compiled {
  tessera::compiler::CompiledKernel kernel;
};

struct tessera_bundle {
  Bundle bundle;
};

struct tessera_host_kernel {
  tessera::compiler::HostCompiledKernel kernel;
};

// tessera_kernel_t is a Kernel*: kernels are owned by their Runtime, so the handle is only a view
// and needs no wrapper object of its own.
static Kernel *unwrap(tessera_kernel_t kernel) { return reinterpret_cast<Kernel *>(kernel); }
static tessera_kernel_t wrap(Kernel *kernel) { return reinterpret_cast<tessera_kernel_t>(kernel); }
// tessera_op_t is an Op* owned by its runtime, in the same way.
static Op *unwrap(tessera_op_t op) { return reinterpret_cast<Op *>(op); }
static tessera_op_t wrap(Op *op) { return reinterpret_cast<tessera_op_t>(op); }

namespace {

// A kernel that tessera_kernel_precompile and tessera_bundle_add_kernel find in the runtime's
// bundles or disk cache, or compile, with no device.
struct PrecompiledKernel {
  KernelSpec spec;
  std::string key;
  KernelBinary binary;
  bool compiled; // by this call
};

StatusOr<PrecompiledKernel> precompile(Runtime &runtime, const char *tile_ir,
                                       size_t tile_ir_size,
                                       const tessera_compile_options *options) {
  StatusOr<KernelSpec> spec =
      tessera::runtime::kernelSpecFromC(tile_ir, tile_ir_size, options, /*requireTarget=*/true);
  if (!spec.ok())
    return spec.status();
  std::string key = runtime.kernelKey(*spec);
  bool compiled = false;
  StatusOr<KernelBinary> binary = runtime.findOrCompile(*spec, key, &compiled);
  if (!binary.ok())
    return binary.status();
  return PrecompiledKernel{*spec, std::move(key), std::move(binary).value(), compiled};
}

// The error of a compile that failed, with a message even where the compiler gave none.
Status compileFailure(const std::string &error) {
  return tessera::runtime::compileError(error.empty() ? "compilation failed without a message"
                                                      : error);
}

// The text of `stage` in `stages`, or NOT_FOUND listing the stages there are (INVALID_ARGUMENT
// for null pointers).
Status findStage(const std::map<std::string, std::string> &stages, const char *stage,
                 const char **out_data, size_t *out_size) {
  if (!stage)
    return invalidArgument("stage must not be NULL");
  if (!out_data || !out_size)
    return invalidArgument("out_data and out_size must not be NULL");
  auto it = stages.find(stage);
  if (it == stages.end()) {
    std::string available;
    for (const auto &entry : stages)
      available += (available.empty() ? "" : ", ") + entry.first;
    return tessera::runtime::notFound("stage '" + std::string(stage) +
                                      "' was not produced (available: " + available + ")");
  }
  *out_data = it->second.data();
  *out_size = it->second.size();
  return Status();
}

// Copies `value` and its NUL into the caller's `buf` of `buf_size` bytes.
Status copyOut(const std::string &value, char *buf, size_t buf_size) {
  if (value.size() + 1 > buf_size)
    return invalidArgument("buf_size " + std::to_string(buf_size) + " is too small for '" +
                           value + "' (needs " + std::to_string(value.size() + 1) + ")");
  std::memcpy(buf, value.c_str(), value.size() + 1);
  return Status();
}

// The index-th of `items`, or INVALID_ARGUMENT naming the range.
template <typename T>
StatusOr<const T *> element(const std::vector<T> &items, int64_t index, const char *what) {
  if (index < 0 || uint64_t(index) >= items.size())
    return invalidArgument(std::string(what) + " index " + std::to_string(index) +
                           " is out of range (the bundle has " + std::to_string(items.size()) +
                           ")");
  return &items[size_t(index)];
}

// Returned when even the status object cannot be allocated; never freed. (The message fits in
// std::string's inline buffer, so constructing it allocates nothing.)
tessera_status outOfMemoryStatus{TESSERA_INTERNAL, "out of memory"};

tessera_status_t toC(const Status &status) {
  if (status.ok())
    return nullptr;
  auto *out = new (std::nothrow) tessera_status{status.code(), std::string()};
  if (!out)
    return &outOfMemoryStatus;
  try {
    out->message = status.message();
  } catch (...) {
    // Keep the code; an empty message is better than none at all.
  }
  return out;
}

template <typename Body> tessera_status_t guarded(Body &&body) {
  try {
    return toC(body());
  } catch (const std::bad_alloc &) {
    return &outOfMemoryStatus;
  } catch (const std::exception &error) {
    return toC(tessera::runtime::internalError(std::string("unexpected C++ exception: ") +
                                               error.what()));
  } catch (...) {
    return toC(tessera::runtime::internalError("unexpected C++ exception"));
  }
}

tessera::compiler::CompileOptions compilerOptions(const KernelSpec &spec) {
  tessera::compiler::CompileOptions options;
  options.target = spec.target;
  options.numWarps = spec.numWarps;
  options.numStages = spec.numStages;
  return options; // dumpDir left empty: the compiler reads $TESSERA_DUMP_DIR itself
}

// The runtime's view of the compiler: a cubin when ptxas produced one (the driver then loads it
// without a JIT step), else the PTX.
StatusOr<KernelBinary> compileForRuntime(const KernelSpec &spec) {
  tessera::compiler::CompiledKernel compiled;
  std::string error;
  if (!tessera::compiler::compile(std::string(spec.tileIR), compilerOptions(spec), &compiled,
                                  &error))
    return compileFailure(error);
  KernelBinary binary;
  binary.kernelName = compiled.kernelName;
  binary.sharedBytes = compiled.sharedBytes;
  binary.numWarps = compiled.numWarps;
  binary.numParams = compiled.numParams;
  auto cubin = compiled.stages.find("cubin");
  auto ptx = compiled.stages.find("ptx");
  if (cubin != compiled.stages.end() && !cubin->second.empty()) {
    binary.kind = BinaryKind::Cubin;
    binary.data = std::move(cubin->second);
  } else if (ptx != compiled.stages.end() && !ptx->second.empty()) {
    binary.kind = BinaryKind::Ptx;
    binary.data = std::move(ptx->second);
  } else {
    return tessera::runtime::internalError("the compiler produced neither a cubin nor PTX for '" +
                                           compiled.kernelName + "'");
  }
  return binary;
}

CompilerHooks tesseraCompiler() {
  return CompilerHooks{tessera::compiler::compilerVersion(), compileForRuntime};
}

} // namespace

extern "C" {

// ---- status ------------------------------------------------------------------------------------

tessera_status_code tessera_status_get_code(tessera_status_t status) {
  return status ? status->code : TESSERA_OK;
}

const char *tessera_status_message(tessera_status_t status) {
  return status ? status->message.c_str() : "";
}

void tessera_status_free(tessera_status_t status) {
  if (status != &outOfMemoryStatus)
    delete status;
}

const char *tessera_status_code_name(tessera_status_code code) {
  return tessera::runtime::statusCodeName(code);
}

const char *tessera_version(void) { return tessera::compiler::compilerVersion(); }

// ---- compiler ----------------------------------------------------------------------------------

tessera_status_t tessera_compile(const char *tile_ir, size_t tile_ir_size,
                                 const tessera_compile_options *options,
                                 tessera_compiled_t *out_compiled) {
  return guarded([&]() -> Status {
    if (!out_compiled)
      return invalidArgument("out_compiled must not be NULL");
    *out_compiled = nullptr;
    StatusOr<KernelSpec> spec =
        tessera::runtime::kernelSpecFromC(tile_ir, tile_ir_size, options, /*requireTarget=*/true);
    if (!spec.ok())
      return spec.status();
    auto compiled = std::make_unique<tessera_compiled>();
    std::string error;
    if (!tessera::compiler::compile(std::string(spec->tileIR), compilerOptions(*spec),
                                    &compiled->kernel, &error))
      return compileFailure(error);
    *out_compiled = compiled.release();
    return Status();
  });
}

tessera_status_t tessera_compiled_stage(tessera_compiled_t compiled, const char *stage,
                                        const char **out_data, size_t *out_size) {
  return guarded([&]() -> Status {
    if (!compiled)
      return invalidArgument("compiled must not be NULL");
    return findStage(compiled->kernel.stages, stage, out_data, out_size);
  });
}

tessera_status_t tessera_host_kernel_compile(const char *tile_ir, size_t tile_ir_size,
                                             tessera_host_kernel_t *out_kernel) {
  return guarded([&]() -> Status {
    if (!out_kernel)
      return invalidArgument("out_kernel must not be NULL");
    *out_kernel = nullptr;
    if (!tile_ir || tile_ir_size == 0)
      return invalidArgument("tile_ir must not be empty");
    auto kernel = std::make_unique<tessera_host_kernel>();
    std::string error;
    if (!tessera::compiler::compileForHost(std::string(tile_ir, tile_ir_size),
                                           tessera::runtime::hostRuntimeSymbols(), &kernel->kernel,
                                           &error))
      return compileFailure(error);
    *out_kernel = kernel.release();
    return Status();
  });
}

tessera_status_t tessera_host_kernel_stage(tessera_host_kernel_t kernel, const char *stage,
                                           const char **out_data, size_t *out_size) {
  return guarded([&]() -> Status {
    if (!kernel)
      return invalidArgument("kernel must not be NULL");
    return findStage(kernel->kernel.stages, stage, out_data, out_size);
  });
}

const char *tessera_host_kernel_name(tessera_host_kernel_t kernel) {
  return kernel ? kernel->kernel.kernelName.c_str() : "";
}

int32_t tessera_host_kernel_num_params(tessera_host_kernel_t kernel) {
  return kernel ? kernel->kernel.numParams : -1;
}

void tessera_host_set_breakpoint_handler(tessera_breakpoint_handler handler, void *user_data) {
  tessera::runtime::setBreakpointHandler(handler, user_data);
}

tessera_status_t tessera_host_kernel_launch(tessera_host_kernel_t kernel, uint32_t grid_x,
                                            uint32_t grid_y, uint32_t grid_z, void **args,
                                            size_t num_args, const tessera_host_buffer *buffers,
                                            size_t num_buffers) {
  return guarded([&]() -> Status {
    if (!kernel)
      return invalidArgument("kernel must not be NULL");
    if (num_args != size_t(kernel->kernel.numParams))
      return invalidArgument("kernel '" + kernel->kernel.kernelName + "' takes " +
                             std::to_string(kernel->kernel.numParams) + " arguments, got " +
                             std::to_string(num_args));
    if (num_args > 0 && !args)
      return invalidArgument("args must not be NULL");
    for (size_t i = 0; i < num_args; ++i)
      if (!args[i])
        return invalidArgument("args[" + std::to_string(i) + "] must not be NULL");
    if (num_buffers > 0 && !buffers)
      return invalidArgument("buffers must not be NULL when num_buffers is not 0");
    std::vector<tessera::runtime::HostBuffer> regions;
    for (size_t i = 0; i < num_buffers; ++i)
      regions.push_back(
          {buffers[i].address, buffers[i].bytes, buffers[i].name ? buffers[i].name : ""});
    TESSERA_RETURN_IF_ERROR(tessera::runtime::checkGridLimits(grid_x, grid_y, grid_z));
    if (grid_x == 0 || grid_y == 0 || grid_z == 0)
      return Status();
    const uint32_t grid[3] = {grid_x, grid_y, grid_z};
    return tessera::runtime::launchHostProgram(*kernel->kernel.program, grid, args, num_args,
                                               regions);
  });
}

void tessera_host_kernel_free(tessera_host_kernel_t kernel) { delete kernel; }

const char *tessera_compiled_kernel_name(tessera_compiled_t compiled) {
  return compiled ? compiled->kernel.kernelName.c_str() : "";
}

int32_t tessera_compiled_shared_bytes(tessera_compiled_t compiled) {
  return compiled ? compiled->kernel.sharedBytes : -1;
}

int32_t tessera_compiled_num_params(tessera_compiled_t compiled) {
  return compiled ? compiled->kernel.numParams : -1;
}

void tessera_compiled_free(tessera_compiled_t compiled) { delete compiled; }

// ---- runtime -----------------------------------------------------------------------------------

tessera_status_t tessera_runtime_create(tessera_runtime_t *out_runtime) {
  return guarded([&]() -> Status {
    if (!out_runtime)
      return invalidArgument("out_runtime must not be NULL");
    *out_runtime = new tessera_runtime(tesseraCompiler(), DiskCache::defaultDirectory());
    return Status();
  });
}

void tessera_runtime_destroy(tessera_runtime_t runtime) { delete runtime; }

tessera_status_t tessera_device_count(tessera_runtime_t runtime, int32_t *out_count) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!out_count)
      return invalidArgument("out_count must not be NULL");
    StatusOr<int32_t> count = runtime->runtime.deviceCount();
    if (!count.ok())
      return count.status();
    *out_count = *count;
    return Status();
  });
}

tessera_status_t tessera_pointer_device(tessera_runtime_t runtime, uint64_t pointer,
                                        int32_t *out_device) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!out_device)
      return invalidArgument("out_device must not be NULL");
    StatusOr<int32_t> device = runtime->runtime.pointerDevice(CUdeviceptr(pointer));
    if (!device.ok())
      return device.status();
    *out_device = *device;
    return Status();
  });
}

tessera_status_t tessera_device_target(tessera_runtime_t runtime, int32_t device, char *buf,
                                       size_t buf_size) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!buf)
      return invalidArgument("buf must not be NULL");
    StatusOr<std::string> target = runtime->runtime.deviceTarget(device);
    if (!target.ok())
      return target.status();
    return copyOut(*target, buf, buf_size);
  });
}

tessera_status_t tessera_runtime_cache_directory(tessera_runtime_t runtime, char *buf,
                                                 size_t buf_size) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!buf)
      return invalidArgument("buf must not be NULL");
    return copyOut(runtime->runtime.diskCache().directory(), buf, buf_size);
  });
}

tessera_status_t tessera_kernel_get(tessera_runtime_t runtime, const char *tile_ir,
                                    size_t tile_ir_size, const tessera_compile_options *options,
                                    int32_t device, tessera_kernel_t *out_kernel) {
  return guarded([&]() -> Status {
    if (!out_kernel)
      return invalidArgument("out_kernel must not be NULL");
    *out_kernel = nullptr;
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    // A NULL or empty options->target means the device's own target.
    StatusOr<KernelSpec> spec =
        tessera::runtime::kernelSpecFromC(tile_ir, tile_ir_size, options, /*requireTarget=*/false);
    if (!spec.ok())
      return spec.status();
    StatusOr<Kernel *> kernel = runtime->runtime.getKernel(std::move(*spec), device);
    if (!kernel.ok())
      return kernel.status();
    *out_kernel = wrap(*kernel);
    return Status();
  });
}

tessera_status_t tessera_kernel_precompile(tessera_runtime_t runtime, const char *tile_ir,
                                           size_t tile_ir_size,
                                           const tessera_compile_options *options,
                                           int32_t *out_compiled) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    StatusOr<PrecompiledKernel> kernel =
        precompile(runtime->runtime, tile_ir, tile_ir_size, options);
    if (!kernel.ok())
      return kernel.status();
    if (out_compiled)
      *out_compiled = kernel->compiled;
    return Status();
  });
}

// ---- CUDA C++ kernels
// ----------------------------------------------------------------------------

tessera_status_t tessera_nvrtc_version(int32_t *out_major, int32_t *out_minor) {
  return guarded([&]() -> Status {
    if (!out_major || !out_minor)
      return invalidArgument("out_major and out_minor must not be NULL");
    StatusOr<const Nvrtc *> nvrtc = tessera::runtime::loadNvrtc();
    if (!nvrtc.ok())
      return nvrtc.status();
    *out_major = (*nvrtc)->major;
    *out_minor = (*nvrtc)->minor;
    return Status();
  });
}

tessera_status_t tessera_cuda_compile(const char *source, size_t source_size,
                                      const tessera_cuda_options *options,
                                      tessera_compiled_t *out_compiled) {
  return guarded([&]() -> Status {
    if (!out_compiled)
      return invalidArgument("out_compiled must not be NULL");
    *out_compiled = nullptr;
    StatusOr<CudaSourceSpec> spec =
        tessera::runtime::cudaSourceSpecFromC(source, source_size, options, /*requireTarget=*/true);
    if (!spec.ok())
      return spec.status();
    StatusOr<const Nvrtc *> nvrtc = tessera::runtime::loadNvrtc();
    if (!nvrtc.ok())
      return nvrtc.status();
    StatusOr<CudaProgram> program = tessera::runtime::compileCudaSource(**nvrtc, *spec);
    if (!program.ok())
      return program.status();
    auto compiled = std::make_unique<tessera_compiled>();
    tessera::compiler::CompiledKernel &kernel = compiled->kernel;
    kernel.kernelName = spec->entry;
    kernel.sharedBytes = spec->sharedBytes;
    kernel.numWarps = spec->numWarps;
    kernel.numParams = program->numParams;
    kernel.stages["cuda"] = std::string(spec->source);
    kernel.stages["ptx"] = std::move(program->ptx);
    kernel.stages["cubin"] = std::move(program->cubin);
    if (!program->log.empty())
      kernel.stages["log"] = std::move(program->log);
    *out_compiled = compiled.release();
    return Status();
  });
}

tessera_status_t tessera_cuda_kernel_get(tessera_runtime_t runtime, const char *source,
                                         size_t source_size, const tessera_cuda_options *options,
                                         int32_t device, tessera_kernel_t *out_kernel) {
  return guarded([&]() -> Status {
    if (!out_kernel)
      return invalidArgument("out_kernel must not be NULL");
    *out_kernel = nullptr;
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    // A NULL or empty options->target means the device's own target.
    StatusOr<CudaSourceSpec> spec = tessera::runtime::cudaSourceSpecFromC(
        source, source_size, options, /*requireTarget=*/false);
    if (!spec.ok())
      return spec.status();
    StatusOr<Kernel *> kernel = runtime->runtime.getCudaKernel(std::move(*spec), device);
    if (!kernel.ok())
      return kernel.status();
    *out_kernel = wrap(*kernel);
    return Status();
  });
}

tessera_status_t tessera_cuda_kernel_precompile(tessera_runtime_t runtime, const char *source,
                                                size_t source_size,
                                                const tessera_cuda_options *options,
                                                int32_t *out_compiled) {
  return guarded([&]() -> Status {
    if (out_compiled)
      *out_compiled = 0;
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    StatusOr<CudaSourceSpec> spec =
        tessera::runtime::cudaSourceSpecFromC(source, source_size, options, /*requireTarget=*/true);
    if (!spec.ok())
      return spec.status();
    StatusOr<std::string> key = runtime->runtime.cudaKernelKey(*spec);
    if (!key.ok())
      return key.status();
    bool compiled = false;
    StatusOr<KernelBinary> binary = runtime->runtime.findOrCompileCuda(*spec, *key, &compiled);
    if (!binary.ok())
      return binary.status();
    if (out_compiled)
      *out_compiled = compiled ? 1 : 0;
    return Status();
  });
}

int32_t tessera_kernel_num_params(tessera_kernel_t kernel) {
  return kernel ? unwrap(kernel)->numParams() : -1;
}

tessera_status_t tessera_kernel_launch(tessera_kernel_t kernel, uint32_t grid_x, uint32_t grid_y,
                                       uint32_t grid_z, void *stream, void **args,
                                       size_t num_args) {
  return guarded([&]() -> Status {
    if (!kernel)
      return invalidArgument("kernel must not be NULL");
    return unwrap(kernel)->launch(grid_x, grid_y, grid_z, static_cast<CUstream>(stream), args,
                                  num_args);
  });
}

tessera_status_t tessera_encode_tensor_map(uint64_t address, uint32_t rank, const uint64_t *sizes,
                                           const uint64_t *stride_bytes, const uint32_t *box,
                                           uint32_t element_bytes, uint32_t swizzle_bytes,
                                           void *out_map) {
  return guarded([&]() -> Status {
    if (rank < 1 || rank > 5)
      return invalidArgument("rank must be 1 to 5, got " + std::to_string(rank));
    if (!sizes || !box || (rank > 1 && !stride_bytes))
      return invalidArgument("sizes, box and (for rank > 1) stride_bytes must not be NULL");
    TensorMapSpec spec;
    spec.address = address;
    spec.sizes.assign(sizes, sizes + rank);
    if (rank > 1)
      spec.strideBytes.assign(stride_bytes, stride_bytes + rank - 1);
    spec.box.assign(box, box + rank);
    spec.elementBytes = element_bytes;
    spec.swizzleBytes = swizzle_bytes;
    return encodeTensorMap(spec, out_map);
  });
}

void tessera_runtime_get_stats(tessera_runtime_t runtime, tessera_stats *out_stats) {
  if (!out_stats)
    return;
  *out_stats = runtime ? runtime->runtime.stats() : tessera_stats{0, 0, 0, 0, 0};
}

// ---- bundles -----------------------------------------------------------------------------------

tessera_status_t tessera_bundle_create(const char *description, tessera_bundle_t *out_bundle) {
  return guarded([&]() -> Status {
    if (!out_bundle)
      return invalidArgument("out_bundle must not be NULL");
    auto created = std::make_unique<tessera_bundle>();
    created->bundle.compilerVersion = tessera_version();
    created->bundle.description = description ? description : "";
    *out_bundle = created.release();
    return Status();
  });
}

tessera_status_t tessera_bundle_read(const char *path, tessera_bundle_t *out_bundle) {
  return guarded([&]() -> Status {
    if (!out_bundle)
      return invalidArgument("out_bundle must not be NULL");
    *out_bundle = nullptr;
    if (!path)
      return invalidArgument("path must not be NULL");
    StatusOr<Bundle> bundle = readBundleFile(path);
    if (!bundle.ok())
      return bundle.status();
    for (size_t i = 0; i < bundle->ops.size(); ++i) {
      const BundleOp &op = bundle->ops[i];
      Status valid = tessera::runtime::checkOpRecord(op.op, op.record);
      if (!valid.ok())
        return tessera::runtime::ioError("bundle " + std::string(path) + ": op record " +
                                         std::to_string(i) + " ('" + op.op +
                                         "') is malformed: " + valid.message());
    }
    *out_bundle = new tessera_bundle{std::move(bundle).value()};
    return Status();
  });
}

void tessera_bundle_free(tessera_bundle_t bundle) { delete bundle; }

int64_t tessera_bundle_num_kernels(tessera_bundle_t bundle) {
  return bundle ? int64_t(bundle->bundle.kernels.size()) : -1;
}

int64_t tessera_bundle_num_tuning(tessera_bundle_t bundle) {
  return bundle ? int64_t(bundle->bundle.tuning.size()) : -1;
}

tessera_status_t tessera_bundle_kernel(tessera_bundle_t bundle, int64_t index,
                                       const char **out_name, const char **out_target) {
  return guarded([&]() -> Status {
    if (!bundle)
      return invalidArgument("bundle must not be NULL");
    StatusOr<const BundleKernel *> kernel = element(bundle->bundle.kernels, index, "kernel");
    if (!kernel.ok())
      return kernel.status();
    if (out_name)
      *out_name = (*kernel)->name.c_str();
    if (out_target)
      *out_target = (*kernel)->target.c_str();
    return Status();
  });
}

tessera_status_t tessera_bundle_tuning(tessera_bundle_t bundle, int64_t index,
                                       const char **out_kernel, const char **out_key,
                                       const char **out_config, double *out_milliseconds) {
  return guarded([&]() -> Status {
    if (!bundle)
      return invalidArgument("bundle must not be NULL");
    StatusOr<const BundleTuning *> record = element(bundle->bundle.tuning, index, "tuning");
    if (!record.ok())
      return record.status();
    if (out_kernel)
      *out_kernel = (*record)->kernel.c_str();
    if (out_key)
      *out_key = (*record)->key.c_str();
    if (out_config)
      *out_config = (*record)->config.c_str();
    if (out_milliseconds)
      *out_milliseconds = (*record)->milliseconds;
    return Status();
  });
}

tessera_status_t tessera_bundle_add_kernel(tessera_runtime_t runtime, tessera_bundle_t bundle,
                                           const char *name, const char *tile_ir,
                                           size_t tile_ir_size,
                                           const tessera_compile_options *options) {
  return guarded([&]() -> Status {
    if (!runtime || !bundle)
      return invalidArgument("runtime and bundle must not be NULL");
    if (!name || !*name)
      return invalidArgument("name must be a non-empty string");
    StatusOr<PrecompiledKernel> kernel =
        precompile(runtime->runtime, tile_ir, tile_ir_size, options);
    if (!kernel.ok())
      return kernel.status();
    const KernelSpec &spec = kernel->spec;
    bundle->bundle.kernels.push_back({name, std::string(spec.tileIR), spec.target, spec.numWarps,
                                      spec.numStages, std::move(kernel->key),
                                      std::move(kernel->binary)});
    return Status();
  });
}

tessera_status_t tessera_bundle_add_tuning(tessera_bundle_t bundle, const char *kernel,
                                           const char *key, const char *config,
                                           double milliseconds) {
  return guarded([&]() -> Status {
    if (!bundle || !kernel || !key || !config)
      return invalidArgument("bundle, kernel, key and config must not be NULL");
    if (!(milliseconds >= 0))
      return invalidArgument("milliseconds must be >= 0, got " + std::to_string(milliseconds));
    bundle->bundle.tuning.push_back({kernel, key, config, milliseconds});
    return Status();
  });
}

tessera_status_t tessera_bundle_add_op(tessera_bundle_t bundle, const char *op,
                                       const char *record) {
  return guarded([&]() -> Status {
    if (!bundle || !record)
      return invalidArgument("bundle and record must not be NULL");
    if (!op || !*op)
      return invalidArgument("op must be a non-empty string");
    Status valid = tessera::runtime::checkOpRecord(op, record);
    if (!valid.ok())
      return invalidArgument("op record for '" + std::string(op) + "': " + valid.message());
    bundle->bundle.ops.push_back({op, record});
    return Status();
  });
}

int64_t tessera_bundle_num_ops(tessera_bundle_t bundle) {
  return bundle ? int64_t(bundle->bundle.ops.size()) : -1;
}

tessera_status_t tessera_bundle_op(tessera_bundle_t bundle, int64_t index, const char **out_op,
                                   const char **out_record) {
  return guarded([&]() -> Status {
    if (!bundle)
      return invalidArgument("bundle must not be NULL");
    StatusOr<const BundleOp *> op = element(bundle->bundle.ops, index, "op record");
    if (!op.ok())
      return op.status();
    if (out_op)
      *out_op = (*op)->op.c_str();
    if (out_record)
      *out_record = (*op)->record.c_str();
    return Status();
  });
}

tessera_status_t tessera_bundle_write(tessera_bundle_t bundle, const char *path) {
  return guarded([&]() -> Status {
    if (!bundle || !path)
      return invalidArgument("bundle and path must not be NULL");
    return writeBundleFile(path, bundle->bundle);
  });
}

tessera_status_t tessera_runtime_load_bundle(tessera_runtime_t runtime, tessera_bundle_t bundle) {
  return guarded([&]() -> Status {
    if (!runtime || !bundle)
      return invalidArgument("runtime and bundle must not be NULL");
    runtime->runtime.loadBundle(bundle->bundle);
    return Status();
  });
}

tessera_status_t tessera_runtime_get_bundled_kernel(tessera_runtime_t runtime, const char *name,
                                                    int32_t device, tessera_kernel_t *out_kernel) {
  return guarded([&]() -> Status {
    if (!out_kernel)
      return invalidArgument("out_kernel must not be NULL");
    *out_kernel = nullptr;
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!name || !*name)
      return invalidArgument("name must be a non-empty string");
    StatusOr<Kernel *> kernel = runtime->runtime.getBundledKernel(name, device);
    if (!kernel.ok())
      return kernel.status();
    *out_kernel = wrap(*kernel);
    return Status();
  });
}

tessera_status_t tessera_runtime_get_op(tessera_runtime_t runtime, const char *name,
                                        tessera_op_t *out_op) {
  return guarded([&]() -> Status {
    if (!out_op)
      return invalidArgument("out_op must not be NULL");
    *out_op = nullptr;
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!name || !*name)
      return invalidArgument("name must be a non-empty string");
    std::lock_guard<std::mutex> lock(runtime->opsMutex);
    auto found = runtime->ops.find(name);
    if (found == runtime->ops.end()) {
      StatusOr<std::unique_ptr<Op>> created = tessera::runtime::createOp(runtime->runtime, name);
      if (!created.ok())
        return created.status();
      found = runtime->ops.emplace(name, std::move(created).value()).first;
    }
    *out_op = wrap(found->second.get());
    return Status();
  });
}

tessera_status_t tessera_op_launch(tessera_op_t op, int32_t device, void *stream,
                                   const tessera_tensor *tensors, size_t num_tensors,
                                   const tessera_op_options *options) {
  return guarded([&]() -> Status {
    if (!op)
      return invalidArgument("op must not be NULL");
    return unwrap(op)->launch(device, static_cast<CUstream>(stream), tensors, num_tensors,
                              options);
  });
}

tessera_status_t tessera_op_describe(tessera_op_t op, const char *target,
                                     const tessera_tensor *tensors, size_t num_tensors,
                                     const tessera_op_options *options, char *buf,
                                     size_t buf_size) {
  return guarded([&]() -> Status {
    if (!op)
      return invalidArgument("op must not be NULL");
    if (!target)
      return invalidArgument("target must not be NULL");
    if (!buf)
      return invalidArgument("buf must not be NULL");
    StatusOr<std::string> description =
        unwrap(op)->describe(target, tensors, num_tensors, options);
    if (!description.ok())
      return description.status();
    return copyOut(*description, buf, buf_size);
  });
}

tessera_status_t tessera_op_precompile(tessera_op_t op, const char *target,
                                       const tessera_tensor *tensors, size_t num_tensors,
                                       const tessera_op_options *options, int32_t *out_compiled) {
  return guarded([&]() -> Status {
    if (out_compiled)
      *out_compiled = 0;
    if (!op)
      return invalidArgument("op must not be NULL");
    if (!target)
      return invalidArgument("target must not be NULL");
    StatusOr<bool> compiled = unwrap(op)->precompile(target, tensors, num_tensors, options);
    if (!compiled.ok())
      return compiled.status();
    if (out_compiled)
      *out_compiled = *compiled ? 1 : 0;
    return Status();
  });
}

int64_t tessera_runtime_num_bundled_kernels(tessera_runtime_t runtime) {
  return runtime ? int64_t(runtime->runtime.numBundledKernels()) : -1;
}

tessera_status_t tessera_runtime_bundled_kernel(tessera_runtime_t runtime, int64_t index,
                                                const char **out_name, const char **out_target) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    const BundledKernel *kernel =
        index < 0 ? nullptr : runtime->runtime.bundledKernel(uint64_t(index));
    if (!kernel)
      return invalidArgument("bundled kernel index " + std::to_string(index) +
                             " is out of range (the runtime has " +
                             std::to_string(runtime->runtime.numBundledKernels()) + ")");
    if (out_name)
      *out_name = kernel->name.c_str();
    if (out_target)
      *out_target = kernel->target.c_str();
    return Status();
  });
}

// ---- device memory -----------------------------------------------------------------------------

tessera_status_t tessera_malloc(tessera_runtime_t runtime, int32_t device, size_t bytes,
                                uint64_t *out_pointer) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    if (!out_pointer)
      return invalidArgument("out_pointer must not be NULL");
    StatusOr<CUdeviceptr> pointer = runtime->runtime.allocate(device, bytes);
    if (!pointer.ok())
      return pointer.status();
    *out_pointer = uint64_t(*pointer);
    return Status();
  });
}

tessera_status_t tessera_free(tessera_runtime_t runtime, int32_t device, uint64_t pointer) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    return runtime->runtime.deallocate(device, CUdeviceptr(pointer));
  });
}

tessera_status_t tessera_memcpy_htod(tessera_runtime_t runtime, int32_t device, uint64_t dst,
                                     const void *src, size_t bytes) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    return runtime->runtime.copyToDevice(device, CUdeviceptr(dst), src, bytes);
  });
}

tessera_status_t tessera_memcpy_dtoh(tessera_runtime_t runtime, int32_t device, void *dst,
                                     uint64_t src, size_t bytes) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    return runtime->runtime.copyToHost(device, dst, CUdeviceptr(src), bytes);
  });
}

tessera_status_t tessera_synchronize(tessera_runtime_t runtime, int32_t device) {
  return guarded([&]() -> Status {
    if (!runtime)
      return invalidArgument("runtime must not be NULL");
    return runtime->runtime.synchronize(device);
  });
}

} // extern "C"
