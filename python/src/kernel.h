// tessera._C's Kernel (a kernel loaded on a device, with the packing plan of its specialisation)
// and the status check that turns a failed C API call into a Python error. Shared by the bindings
// (tessera_module.cpp, which documents the plan's characters) and the fast launch path
// (fast_launch.cpp, which packs values it classified itself and launches through launch_packed).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/tessera.h"

namespace tessera_python {

namespace py = pybind11;

// Raised once the Python error is set; pybind11 propagates it unchanged.
[[noreturn]] inline void raise_status(tessera_status_t status) {
  const tessera_status_code code = tessera_status_get_code(status);
  const std::string message = tessera_status_message(status);
  tessera_status_free(status);
  py::module_ errors = py::module_::import("tessera.errors");
  py::object cls = errors.attr(code == TESSERA_COMPILE_ERROR ? "CompilationError" : "TesseraError");
  py::object error = cls(message, static_cast<int>(code));
  PyErr_SetObject(cls.ptr(), error.ptr());
  throw py::error_already_set();
}

inline void check(tessera_status_t status) {
  if (status != nullptr)
    raise_status(status);
}

// The packing plan of a specialisation: the kind of each launch value's parameters (documented
// in tessera_module.cpp), and the packing of launch values into the parameter pointers that the
// C API's launches take.
class ArgumentPlan {
public:
  ArgumentPlan(std::string plan, int32_t kernel_params) : plan_(std::move(plan)) {
    bool in_group = false;
    for (char kind : plan_) {
      if (kind == '(' && !in_group) {
        in_group = true;
        groups_.emplace_back();
        continue;
      }
      if (kind == ')' && in_group) {
        if (groups_.back().empty())
          throw py::value_error("empty parameter group in plan '" + plan_ + "'");
        in_group = false;
        continue;
      }
      if (std::strchr("pilbfdxm", kind) == nullptr || (in_group && kind == 'x'))
        throw py::value_error(std::string("unknown parameter kind '") + kind + "' in plan '" +
                              plan_ + "'");
      if (in_group)
        groups_.back().push_back(kind);
      else
        groups_.push_back(std::string(1, kind));
      if (kind != 'x')
        ++num_params_;
    }
    if (in_group)
      throw py::value_error("unclosed parameter group in plan '" + plan_ + "'");
    if (kernel_params != static_cast<int32_t>(num_params_))
      throw py::value_error("launch plan '" + plan_ + "' has " + std::to_string(num_params_) +
                            " parameters but the kernel has " + std::to_string(kernel_params));
    flat_ = groups_.size() == plan_.size() && plan_.find('m') == std::string::npos;
  }

  // Packs `values` (a tuple or list with one entry per argument of the plan: ints, floats,
  // bools, bytes for 'm', a tuple for a group; anything for 'x') and calls launch(pointers).
  template <typename Launch> void pack(py::handle values, Launch &&launch) const {
    if (!PyList_Check(values.ptr()) && !PyTuple_Check(values.ptr()))
      throw py::type_error("launch values must be a list or a tuple");
    // A tuple keeps its items alive for the whole launch; a list could be changed by the
    // __index__ or __float__ that packing calls, so it is copied into one.
    py::tuple owned = PyTuple_Check(values.ptr())
                          ? py::reinterpret_borrow<py::tuple>(values)
                          : py::reinterpret_steal<py::tuple>(PySequence_Tuple(values.ptr()));
    if (!owned)
      throw py::error_already_set();
    PyObject *sequence = owned.ptr();
    const Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    if (count != static_cast<Py_ssize_t>(groups_.size()))
      throw py::value_error("expected " + std::to_string(groups_.size()) + " launch values, got " +
                            std::to_string(count));
    PyObject **items = PySequence_Fast_ITEMS(sequence);
    constexpr size_t kInline = 32;
    uint64_t inline_slots[kInline];
    void *inline_pointers[kInline];
    std::vector<uint64_t> heap_slots;
    std::vector<void *> heap_pointers;
    uint64_t *slots = inline_slots;
    void **pointers = inline_pointers;
    if (num_params_ > kInline) {
      heap_slots.resize(num_params_);
      heap_pointers.resize(num_params_);
      slots = heap_slots.data();
      pointers = heap_pointers.data();
    }
    size_t param = 0;
    auto add = [&](char kind, PyObject *value) {
      if (kind == 'm') {
        pointers[param++] = tensor_map_bytes(value);
        return;
      }
      slots[param] = 0;
      pack(kind, value, &slots[param]);
      pointers[param] = &slots[param];
      ++param;
    };
    for (size_t i = 0; i < groups_.size(); ++i) {
      const std::string &group = groups_[i];
      if (group.size() == 1) {
        if (group[0] != 'x')
          add(group[0], items[i]);
        continue;
      }
      if (!PyTuple_Check(items[i]) ||
          PyTuple_GET_SIZE(items[i]) != static_cast<Py_ssize_t>(group.size()))
        throw py::type_error("launch value " + std::to_string(i) + " must be a tuple of " +
                             std::to_string(group.size()) + " values");
      for (size_t j = 0; j < group.size(); ++j)
        add(group[j], PyTuple_GET_ITEM(items[i], j));
    }
    launch(pointers);
  }

  const std::string &plan() const { return plan_; }
  size_t num_params() const { return num_params_; }
  bool flat() const { return flat_; }

private:
  // The 128 bytes of a tensor map, which the driver copies at launch; `value` (kept alive by the
  // launch values) owns them.
  static void *tensor_map_bytes(PyObject *value) {
    if (!PyBytes_Check(value) || PyBytes_GET_SIZE(value) != TESSERA_TENSOR_MAP_BYTES)
      throw py::type_error("a tensor map launch value must be bytes of length " +
                           std::to_string(TESSERA_TENSOR_MAP_BYTES));
    return PyBytes_AS_STRING(value);
  }

  // Writes the value into the low bytes of a zeroed 8-byte slot (little-endian), which is
  // what the driver reads for a parameter of the kernel's size.
  static void pack(char kind, PyObject *value, uint64_t *slot) {
    switch (kind) {
    case 'p':
    case 'l': {
      const unsigned long long bits = PyLong_AsUnsignedLongLongMask(value);
      if (bits == static_cast<unsigned long long>(-1) && PyErr_Occurred())
        throw py::error_already_set();
      *slot = bits;
      return;
    }
    case 'i': {
      const unsigned long long bits = PyLong_AsUnsignedLongLongMask(value);
      if (bits == static_cast<unsigned long long>(-1) && PyErr_Occurred())
        throw py::error_already_set();
      const uint32_t narrow = static_cast<uint32_t>(bits);
      std::memcpy(slot, &narrow, sizeof narrow);
      return;
    }
    case 'b': {
      const int truth = PyObject_IsTrue(value);
      if (truth < 0)
        throw py::error_already_set();
      const uint8_t byte = static_cast<uint8_t>(truth);
      std::memcpy(slot, &byte, sizeof byte);
      return;
    }
    case 'f':
    case 'd': {
      const double number = PyFloat_AsDouble(value);
      if (number == -1.0 && PyErr_Occurred())
        throw py::error_already_set();
      if (kind == 'f') {
        const float narrow = static_cast<float>(number);
        std::memcpy(slot, &narrow, sizeof narrow);
      } else {
        std::memcpy(slot, &number, sizeof number);
      }
      return;
    }
    }
  }

  std::string plan_;
  std::vector<std::string> groups_; // the kinds of each launch value's parameters
  size_t num_params_ = 0;
  bool flat_ = false;
};

// A kernel loaded on a device, with the packing plan of its specialisation.
class Kernel {
public:
  Kernel(tessera_kernel_t handle, std::string plan)
      : handle_(handle), plan_(std::move(plan), tessera_kernel_num_params(handle)) {}

  void launch(uint32_t grid_x, uint32_t grid_y, uint32_t grid_z, uint64_t stream,
              py::handle values) const {
    plan_.pack(values,
               [&](void **pointers) { launch_packed(grid_x, grid_y, grid_z, stream, pointers); });
  }
  // Launches with the parameters already packed (pointers[i] points at parameter i's bytes).
  // The GIL is released meanwhile: a launch blocks while the driver's queue is full, and other
  // Python threads must run then.
  void launch_packed(uint32_t grid_x, uint32_t grid_y, uint32_t grid_z, uint64_t stream,
                     void **pointers) const {
    tessera_status_t status;
    PyThreadState *thread = PyEval_SaveThread();
    status = tessera_kernel_launch(handle_, grid_x, grid_y, grid_z,
                                   reinterpret_cast<void *>(static_cast<uintptr_t>(stream)),
                                   pointers, plan_.num_params());
    PyEval_RestoreThread(thread);
    check(status);
  }

  const std::string &plan() const { return plan_.plan(); }
  int num_params() const { return static_cast<int>(plan_.num_params()); }
  // True when each launch value is one scalar or pointer parameter, or folded ('x'): no tensor
  // descriptors. Then plan()[i] is the kind of launch value i.
  bool flat() const { return plan_.flat(); }

private:
  tessera_kernel_t handle_; // owned by the runtime
  ArgumentPlan plan_;
};

} // namespace tessera_python
