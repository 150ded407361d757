// Tessera's C++ API: a header-only wrapper over the C API of tessera.h, for programs that run
// kernels with no Python in the process. Failures throw tessera::Error, which carries the C API's
// status code and message; the exceptions are thrown here, in the caller's code: libtessera itself
// never throws across its C boundary, exits or aborts. Needs C++17 and libtessera.so, nothing
// else (no CUDA, LLVM or MLIR headers).
//
//   #include <tessera/tessera.hpp>
//
//   tessera::Runtime runtime;                        // $TESSERA_CACHE_DIR or ~/.cache/tessera
//   runtime.load_bundle("kernels.tbundle");          // built by tessera.build_bundle in Python
//   tessera::Kernel add = runtime.kernel("vector_add_fp32", /*device=*/0);
//
//   int32_t n = 1 << 20;
//   tessera::DeviceBuffer x(runtime, n * sizeof(float)), y(...), out(...);
//   x.upload(host_x);                                // std::vector<float>
//   add.launch(tessera::Grid{uint32_t((n + 1023) / 1024)}, /*stream=*/nullptr, x, y, out, n);
//   runtime.synchronize();
//   out.download(host_out);
//
// runtime.kernel(name) takes the kernel from a loaded bundle when the bundle has it for the
// device's target, and otherwise compiles the bundled tile IR for it (JIT fallback; see
// tessera_runtime_get_bundled_kernel). Look a kernel up once and keep it: a lookup hashes the
// kernel's tile IR, a launch only packs its arguments and calls the driver.
//
// Kernel::launch packs each argument by its C++ type, and the type must match the kernel's
// parameter (the driver reads as many bytes as the parameter has):
//   device pointer (*fp32, *fp16, ...)   T* (any T), a DeviceBuffer, or uint64_t
//   i32 / u32 (also i8, i16, u8, u16)    int32_t / uint32_t (or a narrower integer, widened)
//   i64 / u64                            int64_t / uint64_t
//   fp32 / fp64                          float / double
//   i1                                   bool
// Arguments that the kernel's specialisation folded away (constexprs, integers given as constants
// when the bundle was built) are not passed. An argument of any other type fails to compile.
#ifndef TESSERA_HPP
#define TESSERA_HPP

#include "tessera.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace tessera {

// A failed C API call: its status code (TESSERA_NOT_FOUND, ...) and message (what()).
class Error : public std::runtime_error {
public:
  Error(tessera_status_code code, const std::string &message)
      : std::runtime_error(message), code_(code) {}
  tessera_status_code code() const noexcept { return code_; }

private:
  tessera_status_code code_;
};

namespace detail {

// Throws `status` as an Error (freeing it); does nothing for success.
inline void check(tessera_status_t status) {
  if (!status)
    return;
  std::unique_ptr<tessera_status, void (*)(tessera_status_t)> owned(status, tessera_status_free);
  throw Error(tessera_status_get_code(status), tessera_status_message(status));
}

template <typename T> inline constexpr bool kAlwaysFalse = false;

} // namespace detail

class Runtime;

// Launch grid, in blocks: Grid{x}, Grid{x, y} or Grid{x, y, z}.
struct Grid {
  uint32_t x = 1;
  uint32_t y = 1;
  uint32_t z = 1;
};

// Device memory on one device, freed when the buffer goes. It must not outlive its runtime.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const Runtime &runtime, size_t bytes, int32_t device = 0);
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer &&other) noexcept { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept {
    if (this != &other) {
      release();
      runtime_ = std::exchange(other.runtime_, nullptr);
      device_ = other.device_;
      bytes_ = std::exchange(other.bytes_, 0);
      pointer_ = std::exchange(other.pointer_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  uint64_t pointer() const { return pointer_; }
  template <typename T> T *as() const { return reinterpret_cast<T *>(uintptr_t(pointer_)); }
  size_t size() const { return bytes_; }
  int32_t device() const { return device_; }

  // Synchronous copies of `bytes` (at most size()) from / to host memory.
  void copy_from_host(const void *source, size_t bytes) {
    check_size(bytes);
    detail::check(tessera_memcpy_htod(runtime_, device_, pointer_, source, bytes));
  }
  void copy_to_host(void *destination, size_t bytes) const {
    check_size(bytes);
    detail::check(tessera_memcpy_dtoh(runtime_, device_, destination, pointer_, bytes));
  }
  template <typename T> void upload(const std::vector<T> &host) {
    copy_from_host(host.data(), host.size() * sizeof(T));
  }
  // Fills all of `host` (host.size() elements) from the start of the buffer.
  template <typename T> void download(std::vector<T> &host) const {
    copy_to_host(host.data(), host.size() * sizeof(T));
  }

private:
  void check_size(size_t bytes) const {
    if (bytes > bytes_)
      throw Error(TESSERA_INVALID_ARGUMENT, "copy of " + std::to_string(bytes) +
                                                " bytes does not fit the device buffer of " +
                                                std::to_string(bytes_) + " bytes");
  }
  // Errors are dropped: a destructor must not throw, and the memory is gone either way.
  void release() noexcept {
    if (pointer_)
      tessera_status_free(tessera_free(runtime_, device_, pointer_));
    pointer_ = 0;
  }

  tessera_runtime_t runtime_ = nullptr;
  int32_t device_ = 0;
  size_t bytes_ = 0;
  uint64_t pointer_ = 0;
};

namespace detail {

// The value that a kernel parameter slot holds for an argument of type T (see the table above).
template <typename T> auto parameter(const T &value) {
  if constexpr (std::is_pointer_v<T>)
    return uint64_t(reinterpret_cast<uintptr_t>(value));
  else if constexpr (std::is_null_pointer_v<T>)
    return uint64_t(0);
  else if constexpr (std::is_same_v<T, DeviceBuffer>)
    return value.pointer();
  else if constexpr (std::is_same_v<T, bool>)
    return uint8_t(value); // an i1 parameter is one byte
  else if constexpr (std::is_integral_v<T> && sizeof(T) <= 4)
    return std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>(value);
  else if constexpr (std::is_integral_v<T> && sizeof(T) == 8)
    return std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>(value);
  else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
    return value;
  else
    static_assert(kAlwaysFalse<T>, "unsupported kernel argument type: pass device pointers (T*, "
                                   "uint64_t or a DeviceBuffer), integers, float, double or bool");
}

// A launch's arguments as tessera_kernel_launch takes them: data()[i] points at argument i's
// value, converted by parameter(). Holds pointers into itself, so it is neither copied nor moved.
template <typename... Args> class PackedArguments {
public:
  explicit PackedArguments(const Args &...args) : values_(parameter(args)...) {
    point(std::index_sequence_for<Args...>{});
  }
  PackedArguments(const PackedArguments &) = delete;
  PackedArguments &operator=(const PackedArguments &) = delete;

  void **data() { return pointers_; }
  static constexpr size_t size() { return sizeof...(Args); }

private:
  template <size_t... I> void point(std::index_sequence<I...>) {
    ((pointers_[I] = &std::get<I>(values_)), ...);
  }

  std::tuple<decltype(parameter(std::declval<const Args &>()))...> values_;
  void *pointers_[sizeof...(Args) + 1] = {}; // + 1: no zero-length array for kernels without any
};

} // namespace detail

// A kernel loaded on one device. A view: the runtime that returned it owns it, and it is valid
// until that runtime is destroyed.
class Kernel {
public:
  Kernel() = default;
  explicit Kernel(tessera_kernel_t handle) : handle_(handle) {}

  int32_t num_params() const { return tessera_kernel_num_params(handle_); }

  // Launches `grid` on `stream` (a CUstream or cudaStream_t of the kernel's device; nullptr: the
  // legacy default stream) with `args`, one per kernel parameter. Asynchronous, like any launch.
  template <typename... Args> void launch(Grid grid, void *stream, const Args &...args) const {
    detail::PackedArguments<Args...> packed(args...);
    detail::check(tessera_kernel_launch(handle_, grid.x, grid.y, grid.z, stream, packed.data(),
                                        packed.size()));
  }

  tessera_kernel_t get() const { return handle_; }

private:
  tessera_kernel_t handle_ = nullptr;
};

// A kernel of a bundle or runtime: its lookup name and the target of its binary.
struct BundledKernelInfo {
  std::string name;
  std::string target;
};

// A bundle file, read and checked.
class Bundle {
public:
  // NOT_FOUND without a file; IO_ERROR naming what is wrong with a damaged one.
  static Bundle read(const std::string &path) {
    tessera_bundle_t handle = nullptr;
    detail::check(tessera_bundle_read(path.c_str(), &handle));
    return Bundle(handle);
  }
  ~Bundle() { tessera_bundle_free(handle_); }
  Bundle(Bundle &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Bundle &operator=(Bundle &&other) noexcept {
    if (this != &other) {
      tessera_bundle_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;

  std::vector<BundledKernelInfo> kernels() const {
    std::vector<BundledKernelInfo> kernels;
    for (int64_t i = 0, n = tessera_bundle_num_kernels(handle_); i < n; ++i) {
      const char *name = nullptr, *target = nullptr;
      detail::check(tessera_bundle_kernel(handle_, i, &name, &target));
      kernels.push_back({name, target});
    }
    return kernels;
  }
  int64_t num_tuning() const { return tessera_bundle_num_tuning(handle_); }

  tessera_bundle_t get() const { return handle_; }

private:
  explicit Bundle(tessera_bundle_t handle) : handle_(handle) {}
  tessera_bundle_t handle_;
};

// The runtime: devices, kernel caches, loaded bundles. Creating one touches neither the driver
// nor a device, so it works on a machine without a GPU; device calls then throw UNAVAILABLE.
class Runtime {
public:
  Runtime() { detail::check(tessera_runtime_create(&handle_)); }
  ~Runtime() { tessera_runtime_destroy(handle_); }
  Runtime(Runtime &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Runtime &operator=(Runtime &&other) noexcept {
    if (this != &other) {
      tessera_runtime_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;

  int32_t device_count() const {
    int32_t count = 0;
    detail::check(tessera_device_count(handle_, &count));
    return count;
  }
  // "sm_80", "sm_90a", ...
  std::string device_target(int32_t device = 0) const {
    char target[32];
    detail::check(tessera_device_target(handle_, device, target, sizeof(target)));
    return target;
  }

  void load_bundle(const Bundle &bundle) {
    detail::check(tessera_runtime_load_bundle(handle_, bundle.get()));
  }
  void load_bundle(const std::string &path) { load_bundle(Bundle::read(path)); }
  // Every kernel of the loaded bundles, one per (name, target), in first-load order.
  std::vector<BundledKernelInfo> bundled_kernels() const {
    std::vector<BundledKernelInfo> kernels;
    for (int64_t i = 0, n = tessera_runtime_num_bundled_kernels(handle_); i < n; ++i) {
      const char *name = nullptr, *target = nullptr;
      detail::check(tessera_runtime_bundled_kernel(handle_, i, &name, &target));
      kernels.push_back({name, target});
    }
    return kernels;
  }
  // The loaded bundles' kernel `name` on `device` (see the top of this file).
  Kernel kernel(const std::string &name, int32_t device = 0) {
    tessera_kernel_t kernel = nullptr;
    detail::check(tessera_runtime_get_bundled_kernel(handle_, name.c_str(), device, &kernel));
    return Kernel(kernel);
  }

  DeviceBuffer allocate(size_t bytes, int32_t device = 0) {
    return DeviceBuffer(*this, bytes, device);
  }
  // Waits for all work on `device`.
  void synchronize(int32_t device = 0) { detail::check(tessera_synchronize(handle_, device)); }

  tessera_stats stats() const {
    tessera_stats stats{};
    tessera_runtime_get_stats(handle_, &stats);
    return stats;
  }

  tessera_runtime_t get() const { return handle_; }

private:
  tessera_runtime_t handle_ = nullptr;
};

inline DeviceBuffer::DeviceBuffer(const Runtime &runtime, size_t bytes, int32_t device)
    : runtime_(runtime.get()), device_(device), bytes_(bytes) {
  detail::check(tessera_malloc(runtime_, device, bytes, &pointer_));
}

} // namespace tessera

#endif // TESSERA_HPP
