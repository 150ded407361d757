// The runtime: devices and their primary contexts, the kernel caches (memory, disk, compile), kernel
// launches and device memory. This is what tessera_runtime_t and tessera_kernel_t stand for in the
// C API; C++ code in the project (the Python binding, tessera-aot) may use it directly.
//
// Nothing here includes MLIR or LLVM: the compiler comes in through CompilerHooks, so that the
// launch path and its tests build without it.
#ifndef TESSERA_RUNTIME_RUNTIME_H
#define TESSERA_RUNTIME_RUNTIME_H

#include "runtime/bundle.h"
#include "runtime/cuda_driver.h"
#include "runtime/disk_cache.h"
#include "runtime/kernel_spec.h"
#include "runtime/status.h"
#include "runtime/tessera.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tessera::runtime {

// The compiler as the runtime sees it. libtessera passes tessera::compiler's (c_api.cpp); tests
// pass fakes.
struct CompilerHooks {
  std::string version; // the compiler's version: part of every kernel key
  // Compiles one variant; COMPILE_ERROR with the compiler's diagnostics on failure. Left empty,
  // the runtime can only load kernels that are already in the disk cache.
  std::function<StatusOr<KernelBinary>(const KernelSpec &)> compile;
};

// A kernel of a loaded bundle as the runtime keeps it: the name it is looked up by, the target of
// its binary, and the tile IR and options that compile it again for a target the bundles lack.
struct BundledKernel {
  std::string name;
  std::string target;
  std::string tileIR;
  int32_t numWarps = 4;
  int32_t numStages = 3;
};

// The launch grid limits of every GPU Tessera targets (x: 2^31 - 1 programs, y and z: 65535),
// which host launches keep too: INVALID_ARGUMENT naming the dimension past its limit.
Status checkGridLimits(uint32_t gridX, uint32_t gridY, uint32_t gridZ);

// A kernel loaded on one device. Owned by its Runtime and valid until the Runtime is destroyed.
class Kernel {
public:
  ~Kernel(); // unloads the module
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;

  const std::string &key() const { return key_; }
  const std::string &name() const { return binary_.kernelName; }
  int32_t numParams() const { return binary_.numParams; }
  int32_t numWarps() const { return binary_.numWarps; }
  int32_t sharedBytes() const { return binary_.sharedBytes; }
  int32_t device() const { return device_; }
  CUfunction function() const { return function_; }

  // Launches a grid of (gridX, gridY, gridZ) blocks of 32 * numWarps threads with sharedBytes of
  // dynamic shared memory on `stream` (NULL: the legacy default stream), which must belong to
  // the kernel's device. args[i] points at the value of parameter i; numArgs must equal
  // numParams(). Thread-safe; takes no lock.
  Status launch(uint32_t gridX, uint32_t gridY, uint32_t gridZ, CUstream stream, void **args,
                size_t numArgs) const;

private:
  friend class Runtime;
  Kernel(const CudaDriver &driver, CUcontext context, int32_t device, std::string key,
         KernelBinary binary, std::atomic<uint64_t> &launchCounter);

  const CudaDriver &driver_;
  CUcontext context_;
  int32_t device_;
  std::string key_;
  KernelBinary binary_; // metadata; the binary bytes are dropped once loaded
  CUmodule module_ = nullptr;
  CUfunction function_ = nullptr;
  std::atomic<uint64_t> &launchCounter_;
};

class Runtime {
public:
  // `cacheDirectory` empty: no disk cache. DiskCache::defaultDirectory() is the usual choice.
  // Touches neither the driver nor the file system.
  Runtime(CompilerHooks compiler, std::string cacheDirectory);
  // Unloads every kernel and releases the primary contexts it retained.
  ~Runtime();
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;

  // UNAVAILABLE without a driver or a device.
  StatusOr<int32_t> deviceCount();
  // The device whose memory `pointer` addresses (its DEVICE_ORDINAL attribute). INVALID_ARGUMENT
  // when the driver does not know the address: host memory that was never registered, memory
  // already freed, or no memory at all.
  StatusOr<int32_t> pointerDevice(CUdeviceptr pointer);
  // "sm_80", "sm_90a", ... from the device's compute capability.
  StatusOr<std::string> deviceTarget(int32_t device);

  // The kernel for `spec` on `device`: from memory, else the disk cache, else compiled (and
  // written to the disk cache), then loaded. An empty spec.target means the device's target.
  StatusOr<Kernel *> getKernel(KernelSpec spec, int32_t device);

  // Makes the bundle's kernels available to getKernel and findOrCompile, which then neither read
  // the disk cache nor compile for them (they count as bundle hits), and to getBundledKernel by
  // name. A kernel of the same name and target as one loaded before replaces it.
  void loadBundle(const Bundle &bundle);

  // The kernel that loaded bundles list as `name`, on `device`: the bundled binary for the
  // device's target, else (JIT fallback) the tile IR and options of the first-loaded kernel of
  // that name compiled for the device's target, cached like any kernel. NOT_FOUND, with the
  // nearest bundled names, when no loaded bundle has `name` (checked before the device, so that
  // it needs no driver).
  StatusOr<Kernel *> getBundledKernel(const std::string &name, int32_t device);
  // The spec that getBundledKernel uses for `name` on `target`. Its tile IR lives as long as the
  // runtime. Needs no driver.
  StatusOr<KernelSpec> bundledKernelSpec(const std::string &name, const std::string &target) const;
  // The bundled kernels, one per (name, target), in the order they were first loaded; index past
  // the end gives null. They stay valid until the runtime is destroyed.
  size_t numBundledKernels() const;
  const BundledKernel *bundledKernel(size_t index) const;

  // The op records (JSON) that loaded bundles hold for `op`, in the order they were first loaded;
  // a record loaded again is listed once. Needs no driver.
  std::vector<std::string> bundledOpRecords(const std::string &op) const;
  // Increases with every loadBundle: ops re-read their records when it moved.
  uint64_t bundleGeneration() const { return bundleGeneration_.load(); }
  // The most shared memory a kernel may request on `device` (with opt-in), in bytes.
  StatusOr<int32_t> maxSharedBytes(int32_t device);

  // The identity of `spec` under this runtime's compiler.
  std::string kernelKey(const KernelSpec &spec) const;
  // The binary for `spec` (whose key is `key`): from a loaded bundle, else the disk cache, else
  // compiled and written to it. Needs no driver; counts bundle hits, disk hits and compiles.
  // `compiledHere` (may be null) tells whether this call compiled.
  StatusOr<KernelBinary> findOrCompile(const KernelSpec &spec, const std::string &key,
                                       bool *compiledHere = nullptr);

  // The NVRTC backend, as the three functions above for tile kernels. getCudaKernel validates
  // `spec`; findOrCompileCuda takes a valid one with its target set (it needs no driver, and
  // compiles a cubin with NVRTC). The key needs NVRTC (its version is part of it): UNAVAILABLE
  // without one, even for a kernel the disk cache holds.
  StatusOr<Kernel *> getCudaKernel(CudaSourceSpec spec, int32_t device);
  StatusOr<std::string> cudaKernelKey(const CudaSourceSpec &spec) const;
  StatusOr<KernelBinary> findOrCompileCuda(const CudaSourceSpec &spec, const std::string &key,
                                           bool *compiledHere = nullptr);

  StatusOr<CUdeviceptr> allocate(int32_t device, size_t bytes);
  Status deallocate(int32_t device, CUdeviceptr pointer);
  Status copyToDevice(int32_t device, CUdeviceptr dst, const void *src, size_t bytes);
  Status copyToHost(int32_t device, void *dst, CUdeviceptr src, size_t bytes);
  Status synchronize(int32_t device);

  tessera_stats stats() const;
  DiskCache &diskCache() { return diskCache_; }

private:
  // One CUDA device as this runtime uses it; created on first use.
  struct Device {
    int32_t index = 0;
    CUdevice handle = 0;
    CUcontext context = nullptr; // the primary context, retained once by this runtime
    std::string target;
    int32_t maxSharedBytesPerBlock = 0; // with opt-in, the most a kernel may request
    std::unordered_map<std::string, std::unique_ptr<Kernel>> kernels; // by key; under mutex_
  };

  // The device, after loading the driver and retaining its primary context on first use.
  StatusOr<Device *> device(int32_t index);
  StatusOr<std::unique_ptr<Kernel>> load(Device &device, const std::string &key,
                                         KernelBinary binary);
  using Build = std::function<StatusOr<KernelBinary>()>;
  // The binary of `key` from a loaded bundle, else the disk cache, else from `build` (counted as
  // a compile and written to the disk cache).
  StatusOr<KernelBinary> findOrBuild(const std::string &key, const Build &build,
                                     bool *compiledHere);
  // The kernel of `key` on `device` from memory, else `find`'s binary loaded and kept.
  StatusOr<Kernel *> getOrLoad(Device &device, const std::string &key, const Build &find);
  // NOT_FOUND for a name no loaded bundle has, naming the nearest ones. Called with mutex_ held.
  Status bundledNameNotFound(const std::string &name) const;

  const CudaDriver *driver_ = nullptr; // set by device() once the driver loaded
  CompilerHooks compiler_;
  DiskCache diskCache_;

  mutable std::mutex mutex_; // guards devices_, every Device::kernels and the bundle tables
  bool devicesCounted_ = false;
  std::vector<std::unique_ptr<Device>> devices_; // one slot per device, filled on first use
  std::unordered_map<std::string, KernelBinary> bundled_; // from loadBundle, by kernel key
  // From loadBundle, for lookups by name: one entry per (name, target) in first-load order, and
  // each name's entries (indices into bundledKernels_) in that order. Entries are never freed
  // before the runtime, because names and tile IR handed out point into them: one replaced by a
  // later bundle moves to replacedBundledKernels_.
  std::vector<std::unique_ptr<const BundledKernel>> bundledKernels_;
  std::unordered_map<std::string, std::vector<size_t>> bundledByName_;
  std::vector<std::unique_ptr<const BundledKernel>> replacedBundledKernels_;
  std::vector<BundleOp> bundledOps_; // from loadBundle, without repeats
  std::atomic<uint64_t> bundleGeneration_{0};

  std::atomic<uint64_t> compiles_{0};
  std::atomic<uint64_t> diskHits_{0};
  std::atomic<uint64_t> memoryHits_{0};
  std::atomic<uint64_t> launches_{0};
  std::atomic<uint64_t> bundleHits_{0};
};

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_RUNTIME_H
