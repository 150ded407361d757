#include "runtime/runtime.h"

#include "runtime/nvrtc.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

namespace tessera::runtime {
namespace {

// Kernels may use up to 48 KiB of dynamic shared memory by default; more needs an explicit opt-in
// per function (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
constexpr int32_t kDefaultSharedBytesLimit = 48 * 1024;

// Size of each JIT log buffer handed to cuModuleLoadDataEx.
constexpr size_t kJitLogSize = 16 * 1024;

// Makes `context` current on this thread for the scope of one driver operation.
//  - Already current (the usual case: PyTorch and Tessera share the device's primary context):
//    nothing to do, which keeps a launch at one cuCtxGetCurrent plus the launch itself.
//  - No context current: set ours and leave it, as the CUDA runtime itself does lazily; a thread
//    without a context cannot be disturbed by getting one.
//  - Another context current: push ours and pop it afterwards, so that the caller's notion of
//    the current device (PyTorch's torch.cuda.current_device(), say) never changes under it.
class ContextScope {
public:
  ContextScope(const CudaDriver &driver, CUcontext context) : driver_(driver), context_(context) {}
  ~ContextScope() {
    if (pushed_) {
      CUcontext popped = nullptr;
      (void)driver_.cuCtxPopCurrent(&popped);
    }
  }
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;

  Status enter() {
    CUcontext current = nullptr;
    TESSERA_RETURN_IF_ERROR(driver_.check(driver_.cuCtxGetCurrent(&current), "cuCtxGetCurrent"));
    if (current == context_)
      return Status();
    if (current == nullptr)
      return driver_.check(driver_.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
    TESSERA_RETURN_IF_ERROR(driver_.check(driver_.cuCtxPushCurrent(context_), "cuCtxPushCurrent"));
    pushed_ = true;
    return Status();
  }

private:
  const CudaDriver &driver_;
  CUcontext context_;
  bool pushed_ = false;
};

// The Levenshtein distance between a and b: how a mistyped kernel name ranks the bundled ones.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string kernelDescription(const KernelBinary &binary, int32_t device) {
  return "kernel '" + binary.kernelName + "' (" + binaryKindName(binary.kind) + ") on device " +
         std::to_string(device);
}

// The log text in a JIT buffer, without trailing NULs and whitespace.
std::string logText(const std::vector<char> &buffer) {
  std::string text(buffer.data(), strnlen(buffer.data(), buffer.size()));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

} // namespace

// ---- Kernel ------------------------------------------------------------------------------------

Status checkGridLimits(uint32_t gridX, uint32_t gridY, uint32_t gridZ) {
  constexpr uint32_t kMaxGridX = 0x7fffffff, kMaxGridYZ = 65535;
  if (gridX > kMaxGridX)
    return invalidArgument("grid x = " + std::to_string(gridX) + " is past the limit of " +
                           std::to_string(kMaxGridX) + " programs");
  if (gridY > kMaxGridYZ || gridZ > kMaxGridYZ)
    return invalidArgument("grid (y, z) = (" + std::to_string(gridY) + ", " +
                           std::to_string(gridZ) + ") is past the limit of " +
                           std::to_string(kMaxGridYZ) + " programs in y and in z");
  return Status();
}

Kernel::Kernel(const CudaDriver &driver, CUcontext context, int32_t device, std::string key,
               KernelBinary binary, std::atomic<uint64_t> &launchCounter)
    : driver_(driver), context_(context), device_(device), key_(std::move(key)),
      binary_(std::move(binary)), launchCounter_(launchCounter) {}

Kernel::~Kernel() {
  if (!module_)
    return;
  // cuModuleUnload acts on the module's context. Errors are ignored: at process exit the driver
  // may already be shut down, and the module then goes with its context anyway.
  ContextScope scope(driver_, context_);
  if (scope.enter().ok())
    (void)driver_.cuModuleUnload(module_);
}

Status Kernel::launch(uint32_t gridX, uint32_t gridY, uint32_t gridZ, CUstream stream,
                      void **args, size_t numArgs) const {
  if (numArgs != size_t(binary_.numParams))
    return invalidArgument("kernel '" + binary_.kernelName + "' takes " +
                           std::to_string(binary_.numParams) + " arguments, got num_args=" +
                           std::to_string(numArgs));
  if (numArgs > 0 && !args)
    return invalidArgument("args must not be NULL: kernel '" + binary_.kernelName + "' takes " +
                           std::to_string(numArgs) + " arguments");
  for (size_t i = 0; i < numArgs; ++i)
    if (!args[i])
      return invalidArgument("args[" + std::to_string(i) + "] must not be NULL");
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return invalidArgument("grid dimensions must be at least 1, got (" + std::to_string(gridX) +
                           ", " + std::to_string(gridY) + ", " + std::to_string(gridZ) + ")");
  TESSERA_RETURN_IF_ERROR(checkGridLimits(gridX, gridY, gridZ));

  ContextScope scope(driver_, context_);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  CUresult result = driver_.cuLaunchKernel(function_, gridX, gridY, gridZ,
                                           32 * uint32_t(binary_.numWarps), 1, 1,
                                           uint32_t(binary_.sharedBytes), stream, args, nullptr);
  if (result != CUDA_SUCCESS)
    return driver_.check(result, "cuLaunchKernel")
        .annotate("launching " + kernelDescription(binary_, device_));
  launchCounter_.fetch_add(1, std::memory_order_relaxed);
  return Status();
}

// ---- Runtime -----------------------------------------------------------------------------------

Runtime::Runtime(CompilerHooks compiler, std::string cacheDirectory)
    : compiler_(std::move(compiler)), diskCache_(std::move(cacheDirectory)) {}

Runtime::~Runtime() {
  for (std::unique_ptr<Device> &device : devices_) {
    if (!device)
      continue;
    device->kernels.clear(); // unloads the modules while the context is still retained
    if (device->context)
      (void)driver_->cuDevicePrimaryCtxRelease(device->handle);
  }
}

StatusOr<Runtime::Device *> Runtime::device(int32_t index) {
  StatusOr<const CudaDriver *> loaded = loadCudaDriver();
  if (!loaded.ok())
    return loaded.status();
  const CudaDriver &driver = **loaded;

  std::lock_guard<std::mutex> lock(mutex_);
  driver_ = &driver;
  if (!devicesCounted_) {
    int count = 0;
    TESSERA_RETURN_IF_ERROR(driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount"));
    devices_.resize(size_t(count));
    devicesCounted_ = true;
  }
  if (index < 0 || size_t(index) >= devices_.size())
    return invalidArgument("device " + std::to_string(index) + " does not exist: this machine has " +
                           std::to_string(devices_.size()) + " CUDA device(s)");
  if (devices_[index])
    return devices_[index].get();

  auto device = std::make_unique<Device>();
  device->index = index;
  TESSERA_RETURN_IF_ERROR(driver.check(driver.cuDeviceGet(&device->handle, index), "cuDeviceGet"));
  int major = 0, minor = 0, maxShared = 0;
  TESSERA_RETURN_IF_ERROR(driver.check(
      driver.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                  device->handle),
      "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)"));
  TESSERA_RETURN_IF_ERROR(driver.check(
      driver.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                  device->handle),
      "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)"));
  TESSERA_RETURN_IF_ERROR(driver.check(
      driver.cuDeviceGetAttribute(&maxShared,
                                  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                  device->handle),
      "cuDeviceGetAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)"));
  device->target = targetForComputeCapability(major, minor);
  device->maxSharedBytesPerBlock = maxShared;
  // The primary context is the one the CUDA runtime, and so PyTorch, uses: memory and streams
  // from either side are valid on the other. Retained once here, released in ~Runtime.
  TESSERA_RETURN_IF_ERROR(driver.check(
      driver.cuDevicePrimaryCtxRetain(&device->context, device->handle),
      "cuDevicePrimaryCtxRetain"));
  devices_[index] = std::move(device);
  return devices_[index].get();
}

StatusOr<int32_t> Runtime::deviceCount() {
  StatusOr<const CudaDriver *> loaded = loadCudaDriver();
  if (!loaded.ok())
    return loaded.status();
  int count = 0;
  TESSERA_RETURN_IF_ERROR((*loaded)->check((*loaded)->cuDeviceGetCount(&count), "cuDeviceGetCount"));
  return int32_t(count);
}

StatusOr<int32_t> Runtime::pointerDevice(CUdeviceptr pointer) {
  StatusOr<const CudaDriver *> loaded = loadCudaDriver();
  if (!loaded.ok())
    return loaded.status();
  // The plural call reports an address the driver does not know as memory type 0, where the
  // singular one fails with CUDA_ERROR_INVALID_VALUE (which memcheck counts as an API error).
  unsigned memoryType = 0;
  int ordinal = -1;
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                      CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
  void *values[] = {&memoryType, &ordinal};
  TESSERA_RETURN_IF_ERROR((*loaded)->check(
      (*loaded)->cuPointerGetAttributes(2, attributes, values, pointer), "cuPointerGetAttributes"));
  if (memoryType == 0) {
    char address[32];
    std::snprintf(address, sizeof address, "0x%llx", static_cast<unsigned long long>(pointer));
    return invalidArgument(std::string("pointer ") + address +
                           " is not CUDA memory: the driver does not know it (host memory, "
                           "memory already freed, or no allocation)");
  }
  return int32_t(ordinal);
}

StatusOr<std::string> Runtime::deviceTarget(int32_t index) {
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  return (*device)->target;
}

std::string Runtime::kernelKey(const KernelSpec &spec) const {
  return runtime::kernelKey(spec, compiler_.version);
}

void Runtime::loadBundle(const Bundle &bundle) {
  // Keyed under this runtime's compiler: a bundle is an artifact its user chose to ship, so its
  // binaries serve their tile IR and options even when another build of the compiler made them.
  std::vector<std::string> keys;
  for (const BundleKernel &kernel : bundle.kernels)
    keys.push_back(
        kernelKey({kernel.tileIR, kernel.target, kernel.numWarps, kernel.numStages, 0}));
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < keys.size(); ++i)
    bundled_.insert_or_assign(std::move(keys[i]), bundle.kernels[i].binary);
  // The ops plan again only when what they plan from changes: kernels or records new or replaced.
  bool changed = false;

  for (const BundleKernel &kernel : bundle.kernels) {
    auto entry = std::make_unique<const BundledKernel>(BundledKernel{
        kernel.name, kernel.target, kernel.tileIR, kernel.numWarps, kernel.numStages});
    std::vector<size_t> &named = bundledByName_[kernel.name];
    auto same = std::find_if(named.begin(), named.end(), [&](size_t index) {
      return bundledKernels_[index]->target == kernel.target;
    });
    if (same == named.end()) {
      named.push_back(bundledKernels_.size());
      bundledKernels_.push_back(std::move(entry));
      changed = true;
      continue;
    }
    std::unique_ptr<const BundledKernel> &slot = bundledKernels_[*same];
    // Loading a bundle again changes nothing and keeps nothing more.
    if (slot->tileIR == entry->tileIR && slot->numWarps == entry->numWarps &&
        slot->numStages == entry->numStages)
      continue;
    replacedBundledKernels_.push_back(std::exchange(slot, std::move(entry)));
    changed = true;
  }
  for (const BundleOp &op : bundle.ops) {
    bool known = std::any_of(bundledOps_.begin(), bundledOps_.end(), [&](const BundleOp &seen) {
      return seen.op == op.op && seen.record == op.record;
    });
    if (!known) {
      bundledOps_.push_back(op);
      changed = true;
    }
  }
  if (changed)
    ++bundleGeneration_;
}

std::vector<std::string> Runtime::bundledOpRecords(const std::string &op) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> records;
  for (const BundleOp &entry : bundledOps_)
    if (entry.op == op)
      records.push_back(entry.record);
  return records;
}

StatusOr<int32_t> Runtime::maxSharedBytes(int32_t index) {
  StatusOr<Device *> found = device(index);
  if (!found.ok())
    return found.status();
  return (*found)->maxSharedBytesPerBlock;
}

Status Runtime::bundledNameNotFound(const std::string &name) const {
  std::string message = "no loaded bundle has a kernel named '" + name + "'";
  if (bundledByName_.empty())
    return notFound(message + " (no bundle with kernels is loaded)");
  std::vector<std::pair<size_t, const std::string *>> ranked;
  for (const auto &entry : bundledByName_)
    ranked.emplace_back(editDistance(name, entry.first), &entry.first);
  size_t shown = std::min<size_t>(ranked.size(), 3);
  std::partial_sort(ranked.begin(), ranked.begin() + shown, ranked.end(),
                    [](const auto &a, const auto &b) {
                      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
                    });
  message += " (the loaded bundles name " + std::to_string(ranked.size()) + " kernel" +
             (ranked.size() == 1 ? "" : "s") + "; nearest: ";
  for (size_t i = 0; i < shown; ++i)
    message += (i ? ", '" : "'") + *ranked[i].second + "'";
  return notFound(message + ")");
}

StatusOr<KernelSpec> Runtime::bundledKernelSpec(const std::string &name,
                                                const std::string &target) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto named = bundledByName_.find(name);
  if (named == bundledByName_.end())
    return bundledNameNotFound(name);
  const BundledKernel *chosen = bundledKernels_[named->second.front()].get();
  for (size_t index : named->second)
    if (bundledKernels_[index]->target == target) {
      chosen = bundledKernels_[index].get();
      break;
    }
  // For another target's kernel this is a new spec: findOrCompile misses the bundles and
  // compiles it (or finds it in the disk cache).
  return KernelSpec{chosen->tileIR, target, chosen->numWarps, chosen->numStages, 0};
}

StatusOr<Kernel *> Runtime::getBundledKernel(const std::string &name, int32_t device) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bundledByName_.count(name) == 0)
      return bundledNameNotFound(name);
  }
  StatusOr<std::string> target = deviceTarget(device);
  if (!target.ok())
    return target.status();
  StatusOr<KernelSpec> spec = bundledKernelSpec(name, *target);
  if (!spec.ok())
    return spec.status();
  return getKernel(std::move(*spec), device);
}

size_t Runtime::numBundledKernels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bundledKernels_.size();
}

const BundledKernel *Runtime::bundledKernel(size_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index < bundledKernels_.size() ? bundledKernels_[index].get() : nullptr;
}

StatusOr<KernelBinary> Runtime::findOrBuild(const std::string &key, const Build &build,
                                            bool *compiledHere) {
  if (compiledHere)
    *compiledHere = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = bundled_.find(key);
    if (it != bundled_.end()) {
      bundleHits_.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
  }
  if (std::optional<KernelBinary> cached = diskCache_.read(key)) {
    diskHits_.fetch_add(1, std::memory_order_relaxed);
    return std::move(*cached);
  }
  StatusOr<KernelBinary> compiled = build();
  if (!compiled.ok())
    return compiled.status();
  compiles_.fetch_add(1, std::memory_order_relaxed);
  if (compiledHere)
    *compiledHere = true;
  diskCache_.write(key, *compiled);
  return compiled;
}

StatusOr<KernelBinary> Runtime::findOrCompile(const KernelSpec &spec, const std::string &key,
                                              bool *compiledHere) {
  return findOrBuild(
      key,
      [&]() -> StatusOr<KernelBinary> {
        if (!compiler_.compile)
          return unavailable("kernel " + key +
                             " is not in the disk cache and this runtime has "
                             "no compiler to build it");
        return compiler_.compile(spec);
      },
      compiledHere);
}

StatusOr<std::string> Runtime::cudaKernelKey(const CudaSourceSpec &spec) const {
  StatusOr<const Nvrtc *> nvrtc = loadNvrtc();
  if (!nvrtc.ok())
    return nvrtc.status();
  return cudaSourceKey(spec, (*nvrtc)->version());
}

StatusOr<KernelBinary> Runtime::findOrCompileCuda(const CudaSourceSpec &spec,
                                                  const std::string &key, bool *compiledHere) {
  return findOrBuild(
      key,
      [&]() -> StatusOr<KernelBinary> {
        StatusOr<const Nvrtc *> nvrtc = loadNvrtc();
        if (!nvrtc.ok())
          return nvrtc.status();
        StatusOr<CudaProgram> program = compileCudaSource(**nvrtc, spec);
        if (!program.ok())
          return program.status();
        KernelBinary binary;
        binary.kernelName = spec.entry;
        binary.sharedBytes = spec.sharedBytes;
        binary.numWarps = spec.numWarps;
        binary.numParams = program->numParams;
        binary.kind = BinaryKind::Cubin;
        binary.data = std::move(program->cubin);
        return binary;
      },
      compiledHere);
}

StatusOr<Kernel *> Runtime::getKernel(KernelSpec spec, int32_t index) {
  StatusOr<Device *> found = device(index);
  if (!found.ok())
    return found.status();
  Device &device = **found;
  if (spec.target.empty())
    spec.target = device.target;
  TESSERA_RETURN_IF_ERROR(validateKernelSpec(spec));
  std::string key = kernelKey(spec);
  return getOrLoad(device, key, [&] { return findOrCompile(spec, key); });
}

StatusOr<Kernel *> Runtime::getCudaKernel(CudaSourceSpec spec, int32_t index) {
  StatusOr<Device *> found = device(index);
  if (!found.ok())
    return found.status();
  Device &device = **found;
  if (spec.target.empty())
    spec.target = device.target;
  TESSERA_RETURN_IF_ERROR(validateCudaSourceSpec(spec));
  StatusOr<std::string> key = cudaKernelKey(spec);
  if (!key.ok())
    return key.status();
  return getOrLoad(device, *key, [&] { return findOrCompileCuda(spec, *key); });
}

StatusOr<Kernel *> Runtime::getOrLoad(Device &device, const std::string &key, const Build &find) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = device.kernels.find(key);
    if (it != device.kernels.end()) {
      memoryHits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.get();
    }
  }

  // Compiling can take seconds: do it without the lock. Two threads asking for the same new
  // kernel may both build it; the first to finish is kept.
  StatusOr<KernelBinary> binary = find();
  if (!binary.ok())
    return binary.status();
  StatusOr<std::unique_ptr<Kernel>> loaded = load(device, key, std::move(*binary));
  if (!loaded.ok())
    return loaded.status();

  std::unique_ptr<Kernel> duplicate; // destroyed (unloaded) after the lock is released
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = device.kernels.try_emplace(key, nullptr);
  if (inserted)
    it->second = std::move(*loaded);
  else
    duplicate = std::move(*loaded);
  return it->second.get();
}

StatusOr<std::unique_ptr<Kernel>> Runtime::load(Device &device, const std::string &key,
                                                 KernelBinary binary) {
  const CudaDriver &driver = *driver_;
  std::string what = kernelDescription(binary, device.index);
  if (binary.sharedBytes > device.maxSharedBytesPerBlock)
    return invalidArgument(what + " needs " + std::to_string(binary.sharedBytes) +
                           " bytes of shared memory per block; the device allows at most " +
                           std::to_string(device.maxSharedBytesPerBlock) +
                           " (lower num_stages or the block sizes)");

  ContextScope scope(driver, device.context);
  TESSERA_RETURN_IF_ERROR(scope.enter());

  // The JIT writes its diagnostics (ptxas errors for PTX) into these buffers; they become part
  // of the error message, which is otherwise only "CUDA_ERROR_INVALID_PTX".
  std::vector<char> infoLog(kJitLogSize, '\0'), errorLog(kJitLogSize, '\0');
  CUjit_option options[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size() - 1)),
                    errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size() - 1))};
  CUmodule module = nullptr;
  // std::string keeps a NUL after its bytes, which PTX text needs; a cubin ignores it.
  CUresult result = driver.cuModuleLoadDataEx(&module, binary.data.c_str(), 4, options, values);
  if (result != CUDA_SUCCESS) {
    Status status = driver.check(result, "cuModuleLoadDataEx").annotate("loading " + what);
    std::string log = logText(errorLog);
    if (log.empty())
      return status;
    return Status(status.code(), status.message() + "\nJIT error log:\n" + log);
  }

  binary.data.clear(); // the driver has its copy; keep only the metadata
  binary.data.shrink_to_fit();
  std::unique_ptr<Kernel> kernel(
      new Kernel(driver, device.context, device.index, key, std::move(binary), launches_));
  kernel->module_ = module; // owned by the kernel from here: failures below unload it

  const std::string &name = kernel->name();
  TESSERA_RETURN_IF_ERROR(
      driver.check(driver.cuModuleGetFunction(&kernel->function_, module, name.c_str()),
                   "cuModuleGetFunction")
          .annotate("finding " + what + " in its module"));

  int maxThreads = 0;
  TESSERA_RETURN_IF_ERROR(driver.check(
      driver.cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                                kernel->function_),
      "cuFuncGetAttribute(MAX_THREADS_PER_BLOCK)"));
  if (maxThreads < 32 * kernel->numWarps())
    return invalidArgument(what + " uses too many registers for " +
                           std::to_string(kernel->numWarps()) +
                           " warps: it can run at most " + std::to_string(maxThreads) +
                           " threads per block (lower num_warps)");

  if (kernel->sharedBytes() > kDefaultSharedBytesLimit)
    TESSERA_RETURN_IF_ERROR(
        driver.check(driver.cuFuncSetAttribute(kernel->function_,
                                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                               kernel->sharedBytes()),
                     "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)")
            .annotate("preparing " + what));
  return kernel;
}

// ---- device memory -----------------------------------------------------------------------------

StatusOr<CUdeviceptr> Runtime::allocate(int32_t index, size_t bytes) {
  if (bytes == 0)
    return invalidArgument("bytes must be greater than 0");
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  ContextScope scope(*driver_, (*device)->context);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  CUdeviceptr pointer = 0;
  TESSERA_RETURN_IF_ERROR(driver_->check(driver_->cuMemAlloc(&pointer, bytes), "cuMemAlloc")
                              .annotate("allocating " + std::to_string(bytes) + " bytes"));
  return pointer;
}

Status Runtime::deallocate(int32_t index, CUdeviceptr pointer) {
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  ContextScope scope(*driver_, (*device)->context);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  return driver_->check(driver_->cuMemFree(pointer), "cuMemFree");
}

Status Runtime::copyToDevice(int32_t index, CUdeviceptr dst, const void *src, size_t bytes) {
  if (bytes > 0 && !src)
    return invalidArgument("src must not be NULL");
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  ContextScope scope(*driver_, (*device)->context);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  return driver_->check(driver_->cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

Status Runtime::copyToHost(int32_t index, void *dst, CUdeviceptr src, size_t bytes) {
  if (bytes > 0 && !dst)
    return invalidArgument("dst must not be NULL");
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  ContextScope scope(*driver_, (*device)->context);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  return driver_->check(driver_->cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

Status Runtime::synchronize(int32_t index) {
  StatusOr<Device *> device = this->device(index);
  if (!device.ok())
    return device.status();
  ContextScope scope(*driver_, (*device)->context);
  TESSERA_RETURN_IF_ERROR(scope.enter());
  return driver_->check(driver_->cuCtxSynchronize(), "cuCtxSynchronize");
}

tessera_stats Runtime::stats() const {
  tessera_stats stats;
  stats.compiles = compiles_.load(std::memory_order_relaxed);
  stats.disk_hits = diskHits_.load(std::memory_order_relaxed);
  stats.memory_hits = memoryHits_.load(std::memory_order_relaxed);
  stats.launches = launches_.load(std::memory_order_relaxed);
  stats.bundle_hits = bundleHits_.load(std::memory_order_relaxed);
  return stats;
}

} // namespace tessera::runtime
