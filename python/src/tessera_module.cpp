// tessera._C: the C API of libtessera (runtime/tessera.h) for the Python package.
//
// A non-NULL status becomes tessera.errors.CompilationError (TESSERA_COMPILE_ERROR) or
// tessera.errors.TesseraError (any other code), with the status code in `.code`.
// The runtime is created on first use and lives until the process exits; creating it and
// compiling need no GPU or driver, so importing this module works anywhere.
//
// Launch arguments are packed (kernel.h) from a per-specialisation plan, one character per
// run-time argument of the Python kernel: 'p' pointer (u64), 'i' 32-bit integer, 'l' 64-bit
// integer, 'b' bool (i1), 'f' fp32, 'd' fp64, 'm' tensor map (a bytes object of 128 bytes), or 'x'
// for an argument folded into the kernel (skipped). Characters in parentheses are one argument
// that becomes several parameters (a tensor descriptor: "(mplll)"), whose value is a tuple.
// kernel[grid](...) launches of @tessera.jit kernels are bound, classified, packed and launched
// by fast_launch.cpp, which leaves the arguments it does not know to the Python launcher.
// CUDA C++ kernels compiled by NVRTC (get_cuda_kernel) are the same Kernel, with a flat plan.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fast_launch.h"
#include "kernel.h"
#include "runtime/tessera.h"

namespace py = pybind11;

namespace {

using tessera_python::ArgumentPlan;
using tessera_python::check;
using tessera_python::Kernel;

tessera_runtime_t runtime() {
  // Deliberately never destroyed: tearing down modules and memory after the driver's own
  // exit handlers have run is unsafe, and the process is ending anyway.
  static tessera_runtime_t instance = [] {
    tessera_runtime_t created = nullptr;
    check(tessera_runtime_create(&created));
    return created;
  }();
  return instance;
}

tessera_compile_options make_options(const std::string &target, int num_warps, int num_stages) {
  tessera_compile_options options{};
  options.target = target.c_str();
  options.num_warps = num_warps;
  options.num_stages = num_stages;
  options.flags = 0;
  return options;
}

// tessera_cuda_options over strings it owns (the C API's points into them).
class CudaOptions {
public:
  CudaOptions(std::string entry, std::string target, int num_warps, int shared_bytes,
              std::vector<std::string> options)
      : entry_(std::move(entry)), target_(std::move(target)), options_(std::move(options)) {
    for (const std::string &option : options_)
      pointers_.push_back(option.c_str());
    c_ = tessera_cuda_options{entry_.c_str(),
                              target_.c_str(),
                              num_warps,
                              shared_bytes,
                              pointers_.empty() ? nullptr : pointers_.data(),
                              pointers_.size()};
  }
  CudaOptions(const CudaOptions &) = delete;
  CudaOptions &operator=(const CudaOptions &) = delete;

  const tessera_cuda_options *get() const { return &c_; }

private:
  std::string entry_, target_;
  std::vector<std::string> options_;
  std::vector<const char *> pointers_;
  tessera_cuda_options c_{};
};

// A bundle being built, or one read from a file (runtime/bundle.h).
class Bundle {
public:
  explicit Bundle(tessera_bundle_t handle) : handle_(handle) {}
  ~Bundle() { tessera_bundle_free(handle_); }
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;

  static std::unique_ptr<Bundle> create(const std::string &description) {
    tessera_bundle_t handle = nullptr;
    check(tessera_bundle_create(description.c_str(), &handle));
    return std::make_unique<Bundle>(handle);
  }
  static std::unique_ptr<Bundle> read(const std::string &path) {
    tessera_bundle_t handle = nullptr;
    check(tessera_bundle_read(path.c_str(), &handle));
    return std::make_unique<Bundle>(handle);
  }

  void add_kernel(const std::string &name, const std::string &tile_ir, const std::string &target,
                  int num_warps, int num_stages) {
    const tessera_compile_options options = make_options(target, num_warps, num_stages);
    tessera_status_t status;
    {
      py::gil_scoped_release release;
      status = tessera_bundle_add_kernel(runtime(), handle_, name.c_str(), tile_ir.data(),
                                         tile_ir.size(), &options);
    }
    check(status);
  }
  void add_tuning(const std::string &kernel, const std::string &key, const std::string &config,
                  double milliseconds) {
    check(tessera_bundle_add_tuning(handle_, kernel.c_str(), key.c_str(), config.c_str(),
                                    milliseconds));
  }
  void add_op(const std::string &op, const std::string &record) {
    check(tessera_bundle_add_op(handle_, op.c_str(), record.c_str()));
  }
  void write(const std::string &path) const { check(tessera_bundle_write(handle_, path.c_str())); }
  void load() const { check(tessera_runtime_load_bundle(runtime(), handle_)); }

  // [(name, target)] of the kernels.
  py::list kernels() const {
    py::list result;
    for (int64_t i = 0, n = tessera_bundle_num_kernels(handle_); i < n; ++i) {
      const char *name = nullptr, *target = nullptr;
      check(tessera_bundle_kernel(handle_, i, &name, &target));
      result.append(py::make_tuple(name, target));
    }
    return result;
  }
  // [(kernel, key, config, milliseconds)] of the tuning records.
  py::list tuning() const {
    py::list result;
    for (int64_t i = 0, n = tessera_bundle_num_tuning(handle_); i < n; ++i) {
      const char *kernel = nullptr, *key = nullptr, *config = nullptr;
      double milliseconds = 0;
      check(tessera_bundle_tuning(handle_, i, &kernel, &key, &config, &milliseconds));
      result.append(py::make_tuple(kernel, key, config, milliseconds));
    }
    return result;
  }

  // [(op, record)] of the op records.
  py::list ops() const {
    py::list result;
    for (int64_t i = 0, n = tessera_bundle_num_ops(handle_); i < n; ++i) {
      const char *op = nullptr, *record = nullptr;
      check(tessera_bundle_op(handle_, i, &op, &record));
      result.append(py::make_tuple(op, record));
    }
    return result;
  }

private:
  tessera_bundle_t handle_;
};

using TensorTuple = std::tuple<uint64_t, int32_t, std::vector<int64_t>, std::vector<int64_t>>;

// The C API's tensors from [(data, dtype, sizes, strides) or None] (dtype a tessera_dtype value;
// None: TESSERA_NONE, an optional tensor left out).
std::vector<tessera_tensor> c_tensors(const std::vector<std::optional<TensorTuple>> &given) {
  std::vector<tessera_tensor> tensors;
  for (const std::optional<TensorTuple> &entry : given) {
    tessera_tensor tensor{};
    if (entry) {
      const auto &[data, dtype, sizes, strides] = *entry;
      if (sizes.size() != strides.size() || sizes.size() > TESSERA_MAX_RANK)
        throw py::value_error("a tensor needs as many strides as sizes, at most " +
                              std::to_string(TESSERA_MAX_RANK));
      tensor.data = data;
      tensor.dtype = dtype;
      tensor.rank = int32_t(sizes.size());
      std::copy(sizes.begin(), sizes.end(), tensor.sizes);
      std::copy(strides.begin(), strides.end(), tensor.strides);
    }
    tensors.push_back(tensor);
  }
  return tensors;
}

// tessera_op_options from an input precision and {name: bool, int, float, str or a tuple or list
// of ints} attributes; owns the strings and lists the options point at.
class OpOptions {
public:
  OpOptions(const std::optional<std::string> &precision, const py::dict &attributes)
      : precision_(precision) {
    for (const auto &[key, value] : attributes) {
      names_.push_back(py::cast<std::string>(key));
      tessera_op_attribute attribute{};
      if (py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value)) {
        attribute.kind = TESSERA_ATTRIBUTE_INT;
        attribute.int_value = py::cast<int64_t>(value);
      } else if (py::isinstance<py::float_>(value)) {
        attribute.kind = TESSERA_ATTRIBUTE_FLOAT;
        attribute.float_value = py::cast<double>(value);
      } else if (py::isinstance<py::str>(value)) {
        attribute.kind = TESSERA_ATTRIBUTE_STRING;
        strings_.push_back(py::cast<std::string>(value));
      } else if (py::isinstance<py::tuple>(value) || py::isinstance<py::list>(value)) {
        attribute.kind = TESSERA_ATTRIBUTE_INTS;
        ints_.push_back(py::cast<std::vector<int64_t>>(value));
      } else {
        throw py::type_error("attribute '" + names_.back() +
                             "' must be a bool, int, float, str or a tuple of ints");
      }
      attributes_.push_back(attribute);
    }
    // Pointers are taken once every string is in place (the lists no longer grow).
    for (size_t i = 0, string = 0, list = 0; i < attributes_.size(); ++i) {
      attributes_[i].name = names_[i].c_str();
      if (attributes_[i].kind == TESSERA_ATTRIBUTE_STRING)
        attributes_[i].string_value = strings_[string++].c_str();
      if (attributes_[i].kind == TESSERA_ATTRIBUTE_INTS) {
        attributes_[i].int_values = ints_[list].data();
        attributes_[i].num_int_values = ints_[list++].size();
      }
    }
    options_.input_precision = precision_ ? precision_->c_str() : nullptr;
    options_.attributes = attributes_.empty() ? nullptr : attributes_.data();
    options_.num_attributes = attributes_.size();
  }
  OpOptions(const OpOptions &) = delete;
  OpOptions &operator=(const OpOptions &) = delete;

  const tessera_op_options *get() const { return &options_; }

private:
  std::optional<std::string> precision_;
  std::vector<std::string> names_, strings_;
  std::vector<std::vector<int64_t>> ints_;
  std::vector<tessera_op_attribute> attributes_;
  tessera_op_options options_{};
};

tessera_op_t find_op(const std::string &name) {
  tessera_op_t op = nullptr;
  check(tessera_runtime_get_op(runtime(), name.c_str(), &op));
  return op;
}

// A compiled kernel's stages and metadata (tessera_compile).
// Whether a stage lookup found its stage: false for NOT_FOUND, any other failure raised.
bool stage_found(tessera_status_t status) {
  if (status != nullptr && tessera_status_get_code(status) == TESSERA_NOT_FOUND) {
    tessera_status_free(status);
    return false;
  }
  check(status);
  return true;
}

class Compiled {
public:
  explicit Compiled(tessera_compiled_t handle) : handle_(handle) {}
  ~Compiled() { tessera_compiled_free(handle_); }
  Compiled(const Compiled &) = delete;
  Compiled &operator=(const Compiled &) = delete;

  // The stage's bytes, or None when the compiler did not produce it.
  py::object stage(const std::string &name) const {
    const char *data = nullptr;
    size_t size = 0;
    if (!stage_found(tessera_compiled_stage(handle_, name.c_str(), &data, &size)))
      return py::none();
    return py::bytes(data, size);
  }
  std::string name() const { return tessera_compiled_kernel_name(handle_); }
  int shared() const { return tessera_compiled_shared_bytes(handle_); }
  int num_params() const { return tessera_compiled_num_params(handle_); }

private:
  tessera_compiled_t handle_;
};

// A kernel compiled for the host CPU, with the packing plan of its specialisation.
class HostKernel {
public:
  HostKernel(const std::string &tile_ir, const std::string &plan) {
    tessera_status_t status;
    {
      py::gil_scoped_release release;
      status = tessera_host_kernel_compile(tile_ir.data(), tile_ir.size(), &handle_);
    }
    check(status);
    try {
      plan_ = std::make_unique<ArgumentPlan>(plan, tessera_host_kernel_num_params(handle_));
    } catch (...) {
      tessera_host_kernel_free(handle_);
      throw;
    }
  }
  ~HostKernel() { tessera_host_kernel_free(handle_); }
  HostKernel(const HostKernel &) = delete;
  HostKernel &operator=(const HostKernel &) = delete;

  // Runs every program; `buffers` lists the (address, bytes, name) the kernel may access.
  void launch(uint32_t grid_x, uint32_t grid_y, uint32_t grid_z, py::handle values,
              const std::vector<std::tuple<uint64_t, uint64_t, std::string>> &buffers) const {
    std::vector<tessera_host_buffer> regions;
    for (const auto &[address, bytes, name] : buffers)
      regions.push_back({address, bytes, name.c_str()});
    plan_->pack(values, [&](void **pointers) {
      tessera_status_t status;
      {
        py::gil_scoped_release release;
        status = tessera_host_kernel_launch(handle_, grid_x, grid_y, grid_z, pointers,
                                            plan_->num_params(), regions.data(), regions.size());
      }
      check(status);
    });
  }

  py::object stage(const std::string &name) const {
    const char *data = nullptr;
    size_t size = 0;
    if (!stage_found(tessera_host_kernel_stage(handle_, name.c_str(), &data, &size)))
      return py::none();
    return py::str(data, size);
  }
  std::string name() const { return tessera_host_kernel_name(handle_); }
  const std::string &plan() const { return plan_->plan(); }

private:
  tessera_host_kernel_t handle_ = nullptr;
  std::unique_ptr<ArgumentPlan> plan_;
};

// The Python function breakpoints call (set_breakpoint_handler); leaked, since launches may call
// it until the process ends.
py::object *breakpointHandler = nullptr;

// Bytes of one element of a tessera_breakpoint_value's dtype ("fp32", "int1", "ptr", ...).
size_t breakpointElementBytes(const std::string &dtype) {
  if (dtype == "ptr")
    return 8;
  if (dtype == "int1")
    return 1;
  size_t digits = dtype.find_first_of("0123456789");
  return std::stoul(dtype.substr(digits)) / 8;
}

// Calls the Python handler as handler(file, line, function, program_id, values), values being
// (name, dtype, shape, bytes) tuples; its truth stops the launch. An exception in it is reported
// as unraisable and stops the launch too.
int32_t callBreakpointHandler(const tessera_breakpoint *breakpoint, void *) {
  py::gil_scoped_acquire acquire;
  try {
    py::list values;
    for (size_t k = 0; k < breakpoint->num_values; ++k) {
      const tessera_breakpoint_value &value = breakpoint->values[k];
      py::tuple shape(value.rank);
      size_t count = 1;
      for (int32_t d = 0; d < value.rank; ++d) {
        shape[d] = value.shape[d];
        count *= size_t(value.shape[d]);
      }
      values.append(py::make_tuple(value.name, value.dtype, shape,
                                   py::bytes(static_cast<const char *>(value.data),
                                             count * breakpointElementBytes(value.dtype))));
    }
    const int32_t *id = breakpoint->program_id;
    py::object stop = (*breakpointHandler)(breakpoint->file, breakpoint->line, breakpoint->function,
                                           py::make_tuple(id[0], id[1], id[2]), values);
    return py::bool_(stop) ? 1 : 0;
  } catch (py::error_already_set &error) {
    error.discard_as_unraisable("a Tessera breakpoint handler");
    return 1;
  }
}

// A contiguous buffer view of a Python object (numpy arrays, bytes, bytearray...).
class BufferView {
public:
  BufferView(py::handle object, bool writable) {
    const int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object.ptr(), &view_, flags) != 0)
      throw py::error_already_set();
  }
  ~BufferView() { PyBuffer_Release(&view_); }
  BufferView(const BufferView &) = delete;
  BufferView &operator=(const BufferView &) = delete;
  void *data() const { return view_.buf; }
  size_t size() const { return static_cast<size_t>(view_.len); }

private:
  Py_buffer view_{};
};

// DLPack's ABI (dlpack.h, versions 0.x and 1.x); only the fields read here.
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(DLManagedTensor *);
};
struct DLManagedTensorVersioned {
  uint32_t version_major;
  uint32_t version_minor;
  void *manager_ctx;
  void (*deleter)(DLManagedTensorVersioned *);
  uint64_t flags;
  DLTensor dl_tensor;
};

// (data pointer, device type, device id, dtype code, dtype bits, dtype lanes) of a DLPack
// capsule. The capsule is left unconsumed, so its destructor releases the tensor.
py::tuple dlpack_info(py::capsule capsule) {
  const char *name = PyCapsule_GetName(capsule.ptr());
  const DLTensor *tensor = nullptr;
  if (name != nullptr && std::strcmp(name, "dltensor") == 0)
    tensor = &static_cast<DLManagedTensor *>(PyCapsule_GetPointer(capsule.ptr(), name))->dl_tensor;
  else if (name != nullptr && std::strcmp(name, "dltensor_versioned") == 0)
    tensor = &static_cast<DLManagedTensorVersioned *>(PyCapsule_GetPointer(capsule.ptr(), name))
                  ->dl_tensor;
  else
    throw py::value_error("not an unconsumed DLPack capsule");
  const uint64_t address = reinterpret_cast<uintptr_t>(tensor->data) + tensor->byte_offset;
  return py::make_tuple(address, tensor->device.device_type, tensor->device.device_id,
                        tensor->dtype.code, tensor->dtype.bits, tensor->dtype.lanes);
}

} // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "The C API of libtessera: compiler, runtime, device memory.";

  py::class_<Compiled>(m, "Compiled")
      .def("stage", &Compiled::stage, py::arg("name"),
           "The bytes of a stage ('tile', 'tilegpu', 'llir', 'ptx', 'cubin'), or None.")
      .def_property_readonly("name", &Compiled::name)
      .def_property_readonly("shared", &Compiled::shared)
      .def_property_readonly("num_params", &Compiled::num_params);

  py::class_<HostKernel>(m, "HostKernel")
      .def(py::init<const std::string &, const std::string &>(), py::arg("tile_ir"),
           py::arg("plan"), "Compiles tile IR for the host CPU (tessera_host_kernel_compile).")
      .def("launch", &HostKernel::launch, py::arg("grid_x"), py::arg("grid_y"), py::arg("grid_z"),
           py::arg("values"), py::arg("buffers"),
           "Runs every program of the grid on host memory; `buffers` are the (address, bytes, "
           "name) triples the kernel may access.")
      .def("stage", &HostKernel::stage, py::arg("name"),
           "The text of a stage ('tile', 'host', 'host-llvm', 'host-llir'), or None.")
      .def_property_readonly("name", &HostKernel::name)
      .def_property_readonly("plan", &HostKernel::plan);

  m.def(
      "set_breakpoint_handler",
      [](py::object handler) {
        if (!breakpointHandler)
          breakpointHandler = new py::object();
        *breakpointHandler = handler;
        tessera_host_set_breakpoint_handler(handler.is_none() ? nullptr : &callBreakpointHandler,
                                            nullptr);
      },
      py::arg("handler"),
      "Makes handler(file, line, function, program_id, values) what breakpoints in host "
      "kernels call (None: nothing); values are (name, dtype, shape, bytes) tuples, and a true "
      "result stops the launch (tessera_host_set_breakpoint_handler).");

  py::class_<Bundle>(m, "Bundle")
      .def_static("create", &Bundle::create, py::arg("description"), "A new, empty bundle.")
      .def_static("read", &Bundle::read, py::arg("path"), "A bundle file, checked.")
      .def("add_kernel", &Bundle::add_kernel, py::arg("name"), py::arg("tile_ir"),
           py::arg("target"), py::arg("num_warps"), py::arg("num_stages"),
           "Adds a kernel, compiled (or found in the cache) without a GPU.")
      .def("add_tuning", &Bundle::add_tuning, py::arg("kernel"), py::arg("key"),
           py::arg("config"), py::arg("milliseconds"))
      .def("write", &Bundle::write, py::arg("path"))
      .def("load", &Bundle::load, "Makes the kernels available to this process's runtime.")
      .def("add_op", &Bundle::add_op, py::arg("op"), py::arg("record"),
           "Adds an op record (JSON; docs/op-records.md).")
      .def_property_readonly("kernels", &Bundle::kernels)
      .def_property_readonly("tuning", &Bundle::tuning)
      .def_property_readonly("ops", &Bundle::ops);

  m.def(
      "op_describe",
      [](const std::string &name, const std::string &target,
         const std::vector<std::optional<TensorTuple>> &tensors,
         std::optional<std::string> precision, const py::dict &attributes) {
        tessera_op_t op = find_op(name);
        std::vector<tessera_tensor> c = c_tensors(tensors);
        OpOptions options(precision, attributes);
        std::string buf(1 << 16, '\0');
        check(tessera_op_describe(op, target.c_str(), c.data(), c.size(), options.get(),
                                  buf.data(), buf.size()));
        return std::string(buf.c_str());
      },
      py::arg("name"), py::arg("target"), py::arg("tensors"),
      py::arg("input_precision") = py::none(), py::arg("attributes") = py::dict(),
      "What the C API's op launch would run on `target` (JSON), as tessera_op_describe.");
  m.def(
      "op_precompile",
      [](const std::string &name, const std::string &target,
         const std::vector<std::optional<TensorTuple>> &tensors,
         std::optional<std::string> precision, const py::dict &attributes) {
        tessera_op_t op = find_op(name);
        std::vector<tessera_tensor> c = c_tensors(tensors);
        OpOptions options(precision, attributes);
        int32_t compiled = 0;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_op_precompile(op, target.c_str(), c.data(), c.size(), options.get(),
                                         &compiled);
        }
        check(status);
        return compiled != 0;
      },
      py::arg("name"), py::arg("target"), py::arg("tensors"),
      py::arg("input_precision") = py::none(), py::arg("attributes") = py::dict(),
      "Compiles what the C API's op launch would run on `target` (tessera_op_precompile).");
  m.def(
      "op_launch",
      [](const std::string &name, int device, uint64_t stream,
         const std::vector<std::optional<TensorTuple>> &tensors,
         std::optional<std::string> precision, const py::dict &attributes) {
        tessera_op_t op = find_op(name);
        std::vector<tessera_tensor> c = c_tensors(tensors);
        OpOptions options(precision, attributes);
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_op_launch(op, device, reinterpret_cast<void *>(stream), c.data(),
                                     c.size(), options.get());
        }
        check(status);
      },
      py::arg("name"), py::arg("device"), py::arg("stream"), py::arg("tensors"),
      py::arg("input_precision") = py::none(), py::arg("attributes") = py::dict(),
      "Runs an op through the C API (tessera_op_launch), as a C++ program would.");

  py::class_<Kernel>(m, "Kernel")
      .def("launch", &Kernel::launch, py::arg("grid_x"), py::arg("grid_y"), py::arg("grid_z"),
           py::arg("stream"), py::arg("values"),
           "Launches on `stream` (a CUstream as int, 0 for the legacy default stream).")
      .def_property_readonly("plan", &Kernel::plan)
      .def_property_readonly("num_params", &Kernel::num_params);

  m.def("version", [] { return std::string(tessera_version()); });

  m.def(
      "compile",
      [](const std::string &tile_ir, const std::string &target, int num_warps, int num_stages) {
        const tessera_compile_options options = make_options(target, num_warps, num_stages);
        tessera_compiled_t compiled = nullptr;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_compile(tile_ir.data(), tile_ir.size(), &options, &compiled);
        }
        check(status);
        return std::make_unique<Compiled>(compiled);
      },
      py::arg("tile_ir"), py::arg("target"), py::arg("num_warps"), py::arg("num_stages"),
      "Compiles tile IR without a GPU.");

  m.def(
      "get_kernel",
      [](const std::string &tile_ir, const std::string &target, int num_warps, int num_stages,
         int device, std::string plan) {
        const tessera_compile_options options = make_options(target, num_warps, num_stages);
        tessera_runtime_t rt = runtime();
        tessera_kernel_t kernel = nullptr;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_kernel_get(rt, tile_ir.data(), tile_ir.size(), &options, device, &kernel);
        }
        check(status);
        return std::make_unique<Kernel>(kernel, std::move(plan));
      },
      py::arg("tile_ir"), py::arg("target"), py::arg("num_warps"), py::arg("num_stages"),
      py::arg("device"), py::arg("plan"),
      "The kernel loaded on `device` (from the memory or disk cache, else compiled).");

  m.def(
      "precompile",
      [](const std::string &tile_ir, const std::string &target, int num_warps, int num_stages) {
        const tessera_compile_options options = make_options(target, num_warps, num_stages);
        int32_t compiled = 0;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_kernel_precompile(runtime(), tile_ir.data(), tile_ir.size(), &options,
                                             &compiled);
        }
        check(status);
        return compiled != 0;
      },
      py::arg("tile_ir"), py::arg("target"), py::arg("num_warps"), py::arg("num_stages"),
      "Puts the kernel into the disk cache without a GPU; True when this call compiled it.");

  m.def(
      "nvrtc_version",
      [] {
        int32_t major = 0, minor = 0;
        check(tessera_nvrtc_version(&major, &minor));
        return py::make_tuple(major, minor);
      },
      "(major, minor) of the NVRTC that compiles CUDA C++ kernels; TesseraError without one.");

  m.def(
      "compile_cuda",
      [](const std::string &source, const std::string &entry, const std::string &target,
         int num_warps, int shared_bytes, std::vector<std::string> options) {
        const CudaOptions c(entry, target, num_warps, shared_bytes, std::move(options));
        tessera_compiled_t compiled = nullptr;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_cuda_compile(source.data(), source.size(), c.get(), &compiled);
        }
        check(status);
        return std::make_unique<Compiled>(compiled);
      },
      py::arg("source"), py::arg("entry"), py::arg("target"), py::arg("num_warps") = 4,
      py::arg("shared_bytes") = 0, py::arg("options") = std::vector<std::string>(),
      "Compiles a CUDA C++ kernel with NVRTC without a GPU or cache: stages 'cuda', 'ptx', "
      "'cubin' (and 'log'), name = entry, num_params from the PTX.");

  m.def(
      "get_cuda_kernel",
      [](const std::string &source, const std::string &entry, const std::string &target,
         int num_warps, int shared_bytes, std::vector<std::string> options, int device,
         std::string plan) {
        const CudaOptions c(entry, target, num_warps, shared_bytes, std::move(options));
        tessera_kernel_t kernel = nullptr;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_cuda_kernel_get(runtime(), source.data(), source.size(), c.get(), device,
                                           &kernel);
        }
        check(status);
        return std::make_unique<Kernel>(kernel, std::move(plan));
      },
      py::arg("source"), py::arg("entry"), py::arg("target"), py::arg("num_warps"),
      py::arg("shared_bytes"), py::arg("options"), py::arg("device"), py::arg("plan"),
      "The CUDA C++ kernel loaded on `device` (memory or disk cache, else NVRTC); target '' "
      "means the device's. The plan's characters are those of get_kernel's.");

  m.def(
      "precompile_cuda",
      [](const std::string &source, const std::string &entry, const std::string &target,
         int num_warps, int shared_bytes, std::vector<std::string> options) {
        const CudaOptions c(entry, target, num_warps, shared_bytes, std::move(options));
        int32_t compiled = 0;
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_cuda_kernel_precompile(runtime(), source.data(), source.size(), c.get(),
                                                  &compiled);
        }
        check(status);
        return compiled != 0;
      },
      py::arg("source"), py::arg("entry"), py::arg("target"), py::arg("num_warps") = 4,
      py::arg("shared_bytes") = 0, py::arg("options") = std::vector<std::string>(),
      "Puts the CUDA C++ kernel's cubin into the disk cache without a GPU; True when this call "
      "compiled it.");

  m.def("device_count", [] {
    int32_t count = 0;
    check(tessera_device_count(runtime(), &count));
    return count;
  });

  m.def(
      "pointer_device",
      [](uint64_t pointer) {
        int32_t device = -1;
        check(tessera_pointer_device(runtime(), pointer, &device));
        return device;
      },
      py::arg("pointer"), "The device whose memory `pointer` addresses.");

  m.def(
      "device_target",
      [](int device) {
        char buffer[64] = {0};
        check(tessera_device_target(runtime(), device, buffer, sizeof buffer));
        return std::string(buffer);
      },
      py::arg("device"), "The compile target of `device`, e.g. 'sm_90a'.");

  m.def("cache_directory", [] {
    std::string directory(4096, '\0');
    check(tessera_runtime_cache_directory(runtime(), directory.data(), directory.size()));
    directory.resize(std::strlen(directory.c_str()));
    return directory;
  }, "The runtime's cache directory ('' when there is none).");

  m.def("stats", [] {
    tessera_stats stats{};
    tessera_runtime_get_stats(runtime(), &stats);
    py::dict result;
    result["compiles"] = stats.compiles;
    result["disk_hits"] = stats.disk_hits;
    result["memory_hits"] = stats.memory_hits;
    result["launches"] = stats.launches;
    result["bundle_hits"] = stats.bundle_hits;
    return result;
  });

  m.def(
      "malloc",
      [](int device, size_t bytes) {
        uint64_t pointer = 0;
        check(tessera_malloc(runtime(), device, bytes, &pointer));
        return pointer;
      },
      py::arg("device"), py::arg("bytes"));
  m.def(
      "free", [](int device, uint64_t pointer) { check(tessera_free(runtime(), device, pointer)); },
      py::arg("device"), py::arg("pointer"));
  m.def(
      "memcpy_htod",
      [](int device, uint64_t destination, py::handle source) {
        BufferView view(source, false);
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_memcpy_htod(runtime(), device, destination, view.data(), view.size());
        }
        check(status);
      },
      py::arg("device"), py::arg("destination"), py::arg("source"),
      "Copies all bytes of a contiguous host buffer to device memory.");
  m.def(
      "memcpy_dtoh",
      [](int device, py::handle destination, uint64_t source) {
        BufferView view(destination, true);
        tessera_status_t status;
        {
          py::gil_scoped_release release;
          status = tessera_memcpy_dtoh(runtime(), device, view.data(), source, view.size());
        }
        check(status);
      },
      py::arg("device"), py::arg("destination"), py::arg("source"),
      "Fills a writable contiguous host buffer from device memory.");
  m.def(
      "synchronize", [](int device) { check(tessera_synchronize(runtime(), device)); },
      py::arg("device"));
  m.def("dlpack_info", &dlpack_info, py::arg("capsule"));
  m.def(
      "encode_tensor_map",
      [](uint64_t address, std::vector<uint64_t> sizes, std::vector<uint64_t> stride_bytes,
         std::vector<uint32_t> box, uint32_t element_bytes, uint32_t swizzle_bytes) {
        if (box.size() != sizes.size() || stride_bytes.size() + 1 != sizes.size())
          throw py::value_error("encode_tensor_map: sizes, box and stride_bytes (one fewer) must "
                                "have one entry per dimension");
        std::string map(TESSERA_TENSOR_MAP_BYTES, '\0');
        check(tessera_encode_tensor_map(address, static_cast<uint32_t>(sizes.size()), sizes.data(),
                                        stride_bytes.data(), box.data(), element_bytes,
                                        swizzle_bytes, map.data()));
        return py::bytes(map);
      },
      py::arg("address"), py::arg("sizes"), py::arg("stride_bytes"), py::arg("box"),
      py::arg("element_bytes"), py::arg("swizzle_bytes"),
      "The 128-byte TMA tensor map of a tiled view of device memory (lists outermost first).");

  tessera_python::register_fast_launch(m);
}
