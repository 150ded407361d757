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
//
// CUDA C++ kernels are compiled at run time by NVRTC, cached like any kernel, and launched the
// same way (see tessera_cuda_kernel_get):
//
//   const char *source = R"(extern "C" __global__ void scale(float *x, float a, int n) {
//     int i = blockIdx.x * blockDim.x + threadIdx.x;
//     if (i < n) x[i] *= a * FACTOR;
//   })";
//   tessera::CudaOptions options{"scale"};            // entry; target: the device's
//   options.num_warps = 8;                             // 256 threads per block
//   options.nvrtc_options = {"-DFACTOR=2"};
//   tessera::Kernel scale = runtime.cuda_kernel(source, options);
//   scale.launch(tessera::Grid{uint32_t((n + 255) / 256)}, nullptr, x.as<float>(), 0.5f, n);
//
// Ops of tessera.ops run on tensors in device memory, planned from the op records of a bundle that
// tessera.aot wrote from an "ops" spec (see tessera_runtime_get_op): a call the bundle lists runs
// its kernel, any other call (shape, strides, GPU) a kernel compiled in the process.
//
//   runtime.load_bundle("ops.tbundle");              // tessera.aot({"ops": [{"op": "mm", ...}]})
//   tessera::Op mm = runtime.op("mm");
//   tessera::Tensor a(da, TESSERA_FLOAT16, {M, K});  // DeviceBuffers, pointers or addresses;
//   tessera::Tensor b(db, TESSERA_FLOAT16, {K, N});  // contiguous unless strides are given
//   tessera::Tensor c(dc, TESSERA_FLOAT16, {M, N});
//   mm.launch(/*device=*/0, /*stream=*/nullptr, {a, b, c});    // c = a @ b
//   tessera::Tensor bt(dbt, TESSERA_FLOAT16, {N, K});           // an (N, K) row-major matrix
//   mm.launch(0, nullptr, {a, bt.transposed(), c});             // c = a @ bt^T: views run as is
//   std::string plan = mm.describe("sm_90a", {a, b, c});        // what runs, as JSON (no GPU)
//   runtime.op("add").launch(0, nullptr, {c, c, c}, {tessera::Attribute("alpha", 0.5)});
#ifndef TESSERA_HPP
#define TESSERA_HPP

#include "tessera.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
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

// A tensor in device memory, as ops take it: a tessera_tensor with constructors, so that a Tensor
// passes wherever tessera.h takes a tessera_tensor. A view: it neither owns nor checks the memory.
struct Tensor : tessera_tensor {
  // `element_strides` in elements, one per size; none: contiguous, row-major (PyTorch's strides
  // of a new tensor of that shape).
  Tensor(uint64_t address, tessera_dtype type, std::initializer_list<int64_t> shape,
         std::initializer_list<int64_t> element_strides = {})
      : tessera_tensor{} {
    if (shape.size() > TESSERA_MAX_RANK ||
        (element_strides.size() != 0 && element_strides.size() != shape.size()))
      throw Error(TESSERA_INVALID_ARGUMENT,
                  "a tensor takes at most " + std::to_string(TESSERA_MAX_RANK) +
                      " sizes and as many strides (or none), got " + std::to_string(shape.size()) +
                      " sizes and " + std::to_string(element_strides.size()) + " strides");
    data = address;
    dtype = type;
    rank = int32_t(shape.size());
    std::copy(shape.begin(), shape.end(), sizes);
    if (element_strides.size() != 0) {
      std::copy(element_strides.begin(), element_strides.end(), strides);
    } else {
      int64_t stride = 1;
      for (int32_t i = rank - 1; i >= 0; --i) {
        strides[i] = stride;
        stride *= std::max<int64_t>(sizes[i], 1);
      }
    }
  }
  Tensor(const DeviceBuffer &buffer, tessera_dtype type, std::initializer_list<int64_t> shape,
         std::initializer_list<int64_t> element_strides = {})
      : Tensor(buffer.pointer(), type, shape, element_strides) {}
  template <typename T>
  Tensor(T *pointer, tessera_dtype type, std::initializer_list<int64_t> shape,
         std::initializer_list<int64_t> element_strides = {})
      : Tensor(uint64_t(reinterpret_cast<uintptr_t>(pointer)), type, shape, element_strides) {}

  // The same memory with dimensions `a` and `b` swapped: of a matrix, its transpose.
  Tensor transposed(int32_t a = 0, int32_t b = 1) const {
    if (a < 0 || a >= rank || b < 0 || b >= rank)
      throw Error(TESSERA_INVALID_ARGUMENT, "cannot swap dimensions " + std::to_string(a) +
                                                " and " + std::to_string(b) +
                                                " of a tensor of rank " + std::to_string(rank));
    Tensor view = *this;
    std::swap(view.sizes[a], view.sizes[b]);
    std::swap(view.strides[a], view.strides[b]);
    return view;
  }
};
// Tensor adds no members, so that an array of Tensors is one of tessera_tensors (Op::launch).
static_assert(sizeof(Tensor) == sizeof(tessera_tensor));

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

// What compiles a CUDA C++ kernel besides its source (tessera_cuda_options, owning its strings).
struct CudaOptions {
  std::string entry;                      // the extern "C" __global__ function
  std::string target;                     // "" for the device's own ("sm_90a", ...)
  int32_t num_warps = 4;                  // threads per block = 32 * num_warps
  int32_t shared_bytes = 0;               // dynamic shared memory per block
  std::vector<std::string> nvrtc_options; // "-DN=64", "--use_fast_math", ...
};

namespace detail {

// `options` as the C API takes them; valid while `options` and `pointers` live.
inline tessera_cuda_options cudaOptions(const CudaOptions &options,
                                        std::vector<const char *> &pointers) {
  pointers.clear();
  for (const std::string &option : options.nvrtc_options)
    pointers.push_back(option.c_str());
  return tessera_cuda_options{options.entry.c_str(),
                              options.target.c_str(),
                              options.num_warps,
                              options.shared_bytes,
                              pointers.empty() ? nullptr : pointers.data(),
                              pointers.size()};
}

} // namespace detail

// A keyword argument of an op (see tessera_op_launch), named as in tessera.ops:
// Attribute("alpha", 0.5), Attribute("rounding_mode", "floor"), Attribute("seed", int64_t(7)),
// Attribute("normalized_shape", shape) with a std::vector<int64_t> shape.
// A view: a string or list value must outlive the call it is passed to.
struct Attribute : tessera_op_attribute {
  Attribute(const char *attribute_name, int64_t value) : tessera_op_attribute{} {
    name = attribute_name;
    kind = TESSERA_ATTRIBUTE_INT;
    int_value = value;
  }
  Attribute(const char *attribute_name, int value) : Attribute(attribute_name, int64_t(value)) {}
  Attribute(const char *attribute_name, bool value) : Attribute(attribute_name, int64_t(value)) {}
  Attribute(const char *attribute_name, double value) : tessera_op_attribute{} {
    name = attribute_name;
    kind = TESSERA_ATTRIBUTE_FLOAT;
    float_value = value;
  }
  Attribute(const char *attribute_name, const char *value) : tessera_op_attribute{} {
    name = attribute_name;
    kind = TESSERA_ATTRIBUTE_STRING;
    string_value = value;
  }
  Attribute(const char *attribute_name, const std::vector<int64_t> &values)
      : tessera_op_attribute{} {
    name = attribute_name;
    kind = TESSERA_ATTRIBUTE_INTS;
    int_values = values.data();
    num_int_values = values.size();
  }
};
static_assert(sizeof(Attribute) == sizeof(tessera_op_attribute));

// An op of tessera.ops ("mm", "add", "gelu", ...; see tessera_runtime_get_op). A view, like
// Kernel: valid until its runtime is destroyed.
class Op {
public:
  Op() = default;
  explicit Op(tessera_op_t handle) : handle_(handle) {}

  // Runs the op on `device`'s `stream` (nullptr: the legacy default stream) with its tensors (mm:
  // input, mat2, out; add: input, other, out; ...), given as a list or as `count` Tensors or
  // tessera_tensors at `tensors`; `input_precision` "tf32" or "ieee" for fp32 matmuls (nullptr:
  // "ieee"), or the op's keyword arguments. See tessera_op_launch. Asynchronous, like any launch.
  //   add.launch(0, stream, {x, y, out}, {tessera::Attribute("alpha", 0.5)});
  void launch(int32_t device, void *stream, std::initializer_list<tessera_tensor> tensors,
              const char *input_precision = nullptr) const {
    launch(device, stream, tensors.begin(), tensors.size(), input_precision);
  }
  void launch(int32_t device, void *stream, const tessera_tensor *tensors, size_t count,
              const char *input_precision = nullptr) const {
    const tessera_op_options options{input_precision, nullptr, 0};
    detail::check(tessera_op_launch(handle_, device, stream, tensors, count, &options));
  }
  void launch(int32_t device, void *stream, std::initializer_list<tessera_tensor> tensors,
              std::initializer_list<Attribute> attributes) const {
    const tessera_op_options options{nullptr, attributes.begin(), attributes.size()};
    detail::check(
        tessera_op_launch(handle_, device, stream, tensors.begin(), tensors.size(), &options));
  }

  // What launch would run for these tensors on a GPU of `target` ("sm_90a"), as JSON: the kernel,
  // "path" ("bundled" or "jit"), config, grid and parameters (see tessera_op_describe). Needs no
  // GPU; the tensors' addresses matter only by their alignment and overlap. A plan longer than
  // 64 KiB (a matmul's takes under 1 KiB) throws INVALID_ARGUMENT.
  std::string describe(const std::string &target, std::initializer_list<tessera_tensor> tensors,
                       const char *input_precision = nullptr) const {
    return describe(target, tensors.begin(), tensors.size(), input_precision);
  }
  std::string describe(const std::string &target, const tessera_tensor *tensors, size_t count,
                       const char *input_precision = nullptr) const {
    const tessera_op_options options{input_precision, nullptr, 0};
    return describe(target, tensors, count, options);
  }
  std::string describe(const std::string &target, std::initializer_list<tessera_tensor> tensors,
                       std::initializer_list<Attribute> attributes) const {
    const tessera_op_options options{nullptr, attributes.begin(), attributes.size()};
    return describe(target, tensors.begin(), tensors.size(), options);
  }

  tessera_op_t get() const { return handle_; }

private:
  std::string describe(const std::string &target, const tessera_tensor *tensors, size_t count,
                       const tessera_op_options &options) const {
    std::string json(64 * 1024, '\0');
    detail::check(tessera_op_describe(handle_, target.c_str(), tensors, count, &options,
                                      json.data(), json.size()));
    json.resize(std::strlen(json.c_str()));
    return json;
  }

  tessera_op_t handle_ = nullptr;
};

// A kernel of a bundle or runtime: its lookup name and the target of its binary.
struct BundledKernelInfo {
  std::string name;
  std::string target;
};

// An op record of a bundle: the op it serves ("matmul") and its JSON (docs/op-records.md).
struct BundledOpRecord {
  std::string op;
  std::string record;
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
  std::vector<BundledOpRecord> ops() const {
    std::vector<BundledOpRecord> records;
    for (int64_t i = 0, n = tessera_bundle_num_ops(handle_); i < n; ++i) {
      const char *op = nullptr, *record = nullptr;
      detail::check(tessera_bundle_op(handle_, i, &op, &record));
      records.push_back({op, record});
    }
    return records;
  }

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
  // The device whose memory `pointer` addresses; throws for memory the driver does not know.
  int32_t pointer_device(uint64_t pointer) const {
    int32_t device = -1;
    detail::check(tessera_pointer_device(handle_, pointer, &device));
    return device;
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

  // The CUDA C++ kernel of `source` compiled with `options` (NVRTC), loaded on `device`.
  Kernel cuda_kernel(const std::string &source, const CudaOptions &options, int32_t device = 0) {
    std::vector<const char *> pointers;
    const tessera_cuda_options c = detail::cudaOptions(options, pointers);
    tessera_kernel_t kernel = nullptr;
    detail::check(
        tessera_cuda_kernel_get(handle_, source.data(), source.size(), &c, device, &kernel));
    return Kernel(kernel);
  }
  // Puts that kernel's cubin for options.target (which must be set) into the disk cache, with no
  // GPU; true when this call compiled it.
  bool precompile_cuda_kernel(const std::string &source, const CudaOptions &options) {
    std::vector<const char *> pointers;
    const tessera_cuda_options c = detail::cudaOptions(options, pointers);
    int32_t compiled = 0;
    detail::check(
        tessera_cuda_kernel_precompile(handle_, source.data(), source.size(), &c, &compiled));
    return compiled != 0;
  }

  // The op `name` ("mm", "matmul"); NOT_FOUND for a name that is no op. Its kernels come from the
  // op records of loaded bundles: without any, its launches say what is missing.
  Op op(const std::string &name) {
    tessera_op_t op = nullptr;
    detail::check(tessera_runtime_get_op(handle_, name.c_str(), &op));
    return Op(op);
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
