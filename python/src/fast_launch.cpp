// The cached launch of a @tessera.jit kernel in one C++ call (see jit_function.py).
//
// JITFunction.run is a Launcher and kernel[grid] a GridLauncher (a Launcher with its grid bound).
// Called with the kernel's arguments, they bind them to its parameters, classify them as the
// handlers of tessera/runtime/arguments.py do (ints, floats, bools, None, torch tensors,
// tessera.DeviceBuffer), build the same specialisation key, look it up in JITFunction.cache
// (JITFunction._load on a miss, as the Python launcher), compute the grid, pack the launch values
// and launch: no Python frame, no intermediate objects but the key.
//
// Whatever this file does not handle goes to the kernel's Python launcher (the generated code of
// jit_function._make_launcher), which does the whole launch again: other argument types (tensor
// descriptors, CUDA array interface, DLPack), ints beyond 64 bits, tensors not on a CUDA device,
// binding errors, a plan with tensor-descriptor groups. It is the reference: its errors and
// messages are the ones users see. The decision is made before the grid callable runs, so a
// launch calls it once either way.
//
// Argument types are resolved by arguments.handler_for, once per type: a type whose handler is one
// of those configure_fast_launch names is classified here, so both paths agree on which types are
// tensors; torch is never imported. Key parts come from arguments.KEY_PARTS, as those of the keys
// JITFunction._load stores, so that cache lookups compare them by identity. A launcher remembers
// its last key and kernel: a launch whose key items are the same objects, while the cache is
// unchanged, skips the lookup.
#include "fast_launch.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernel.h"

namespace tessera_python {
namespace {

// Kernels with more parameters always take the Python launcher (fixed-size arrays here).
constexpr Py_ssize_t kMaxParams = 64;

// How each parameter enters the key: jit_function's _CONSTEXPR, _SPECIALIZED, _NOT_SPECIALIZED.
enum Mode : uint8_t { kConstexpr = 0, kSpecialized = 1, kNotSpecialized = 2 };

// The handlers of arguments.py replicated here; kPython for any other (left to Python).
enum class Kind : uint8_t { kInt, kBool, kFloat, kNone, kTorch, kBuffer, kPython };

// An owned reference, released at scope exit. The launch path uses it rather than py::object,
// which checks the GIL at every count change in builds without NDEBUG (scripts/gpu_run.sh's).
class Ref {
public:
  Ref() = default;
  explicit Ref(PyObject *owned) : object_(owned) {}
  Ref(Ref &&other) noexcept : object_(other.release()) {}
  Ref &operator=(Ref &&other) noexcept {
    reset(other.release());
    return *this;
  }
  Ref(const Ref &) = delete;
  Ref &operator=(const Ref &) = delete;
  ~Ref() { Py_XDECREF(object_); }

  static Ref borrowed(PyObject *object) {
    Py_XINCREF(object);
    return Ref(object);
  }
  PyObject *get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }
  PyObject *release() {
    PyObject *object = object_;
    object_ = nullptr;
    return object;
  }
  void reset(PyObject *owned) {
    PyObject *old = object_;
    object_ = owned;
    Py_XDECREF(old);
  }

private:
  PyObject *object_ = nullptr;
};

// The key parts of pointers to one element type, ("*fp32", False) and ("*fp32", True), indexed by
// divisibility by 16; learned from a torch dtype or a DeviceBuffer signature string.
struct PointerKeys {
  PyObject *source;
  PyObject *keys[2];
};

// Process-wide state, created with the module and never freed: launchers may run until the
// interpreter is torn down. Strong references throughout.
struct State {
  // Interned attribute and keyword names.
  PyObject *is_cuda, *data_ptr, *dtype, *get_device, *ptr, *signature, *device, *value, *handle,
      *grid, *num_warps, *num_stages;
  PyObject *default_num_warps, *default_num_stages, *default_device;
  PyTypeObject *kernel_type; // tessera._C.Kernel

  // From configure_fast_launch; launches go to the Python launcher until it has set them all
  // (handler_for last).
  PyObject *handler_for = nullptr;      // arguments.handler_for: type -> handler
  PyObject *torch_signatures = nullptr; // arguments.torch_signatures: () -> {dtype: "fp32"...}
  PyObject *key_parts = nullptr;        // arguments.KEY_PARTS: the canonical key parts
  PyObject *constexpr_type = nullptr;   // tessera.language.core.constexpr
  PyObject *grid_dims = nullptr;        // jit_function._grid_dims
  std::vector<std::pair<PyObject *, Kind>> replicated; // handler -> its kind
  // Key parts of scalars, from key_parts.
  PyObject *key_one = nullptr, *key_none = nullptr, *key_bool = nullptr, *key_float = nullptr;
  PyObject *key_i32[2] = {}, *key_i64[2] = {}, *key_u64[2] = {};

  // Learned at launches.
  std::vector<std::pair<PyTypeObject *, Kind>> types;
  std::vector<PointerKeys> torch_dtypes;
  std::vector<PointerKeys> buffer_signatures;
  PyObject *torch_raw_stream = nullptr; // torch._C._cuda_getCurrentRawStream
};

State *state = nullptr;

// ---- argument classification ---------------------------------------------------------------

// The canonical key part equal to (name, flag) (new reference); null with a Python error.
PyObject *canonical_key_part(PyObject *name, PyObject *flag) {
  Ref part(PyTuple_Pack(2, name, flag));
  if (!part)
    return nullptr;
  PyObject *canonical = PyDict_SetDefault(state->key_parts, part.get(), part.get());
  Py_XINCREF(canonical);
  return canonical;
}

// The kind of arguments of `type`, from arguments.handler_for once per type; kPython for a type it
// rejects (not remembered: the Python launcher reports it at each launch).
Kind kind_of(PyTypeObject *type) {
  for (const auto &[known, kind] : state->types)
    if (known == type)
      return kind;
  Ref handler(PyObject_CallOneArg(state->handler_for, reinterpret_cast<PyObject *>(type)));
  if (!handler) {
    PyErr_Clear();
    return Kind::kPython;
  }
  Kind kind = Kind::kPython;
  for (const auto &[replicated, replicated_kind] : state->replicated)
    if (replicated == handler.get())
      kind = replicated_kind;
  Py_INCREF(type);
  state->types.emplace_back(type, kind);
  return kind;
}

// The key parts of pointers to `signature` ("fp32"...), remembered under `source`; null (no
// Python error) for a signature that is not a str.
const PointerKeys *learn_pointer_keys(std::vector<PointerKeys> &table, PyObject *source,
                                      PyObject *signature) {
  if (!PyUnicode_Check(signature))
    return nullptr;
  Ref name(PyUnicode_FromFormat("*%U", signature));
  PointerKeys entry{source, {nullptr, nullptr}};
  if (name) {
    entry.keys[0] = canonical_key_part(name.get(), Py_False);
    entry.keys[1] = canonical_key_part(name.get(), Py_True);
  }
  if (entry.keys[0] == nullptr || entry.keys[1] == nullptr) {
    Py_XDECREF(entry.keys[0]);
    Py_XDECREF(entry.keys[1]);
    PyErr_Clear();
    return nullptr;
  }
  Py_INCREF(source);
  table.push_back(entry);
  return &table.back();
}

// Pointer key parts of a torch dtype, from arguments.torch_signatures(); null for a dtype it does
// not map.
const PointerKeys *torch_pointer_keys(PyObject *dtype) {
  for (const PointerKeys &entry : state->torch_dtypes)
    if (entry.source == dtype)
      return &entry;
  Ref signatures(PyObject_CallNoArgs(state->torch_signatures));
  PyObject *signature =
      signatures && PyDict_Check(signatures.get())
          ? PyDict_GetItemWithError(signatures.get(), dtype) // kept alive by the module's dict
          : nullptr;
  if (signature == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  return learn_pointer_keys(state->torch_dtypes, dtype, signature);
}

// Pointer key parts of a DeviceBuffer's signature string (usually the same few str objects).
const PointerKeys *buffer_pointer_keys(PyObject *signature) {
  for (const PointerKeys &entry : state->buffer_signatures)
    if (entry.source == signature)
      return &entry;
  if (!PyUnicode_CheckExact(signature))
    return nullptr;
  for (const PointerKeys &entry : state->buffer_signatures)
    if (PyUnicode_Compare(entry.source, signature) == 0)
      return &entry;
  return learn_pointer_keys(state->buffer_signatures, signature, signature);
}

// An exact int from 0 to 2**64 - 1 as a pointer value; false (no Python error) for anything else.
bool as_address(PyObject *object, uint64_t *address) {
  if (!PyLong_CheckExact(object))
    return false;
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(object, &overflow); // the quick reader
  if (overflow == 0 && value >= 0) {
    *address = static_cast<uint64_t>(value);
    return true;
  }
  if (overflow <= 0)
    return false; // negative: left to Python
  const unsigned long long bits = PyLong_AsUnsignedLongLong(object);
  if (bits == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear(); // beyond 64 bits: left to Python
    return false;
  }
  *address = bits;
  return true;
}

// What a launch packs for one run-time argument: its plan kind (arguments.plan_kind's character,
// 'x' for a folded one) and value.
struct Value {
  char kind;
  union {
    uint64_t bits; // 'p', 'i', 'l', 'b'
    double number; // 'f'
  };
};

// The result of classifying a launch's arguments.
struct Classified {
  // The items of the key (argument keys..., num_warps, num_stages, device), as the Python
  // launcher's; borrowed from the arguments, `unwrapped`, `device` and the canonical key parts.
  PyObject *items[kMaxParams + 3];
  Ref unwrapped[kMaxParams]; // the values of tl.constexpr(...) arguments, owned for the launch
  Py_ssize_t num_items = 0;
  Ref device; // the device index object; null when no argument set it (device 0)
  bool torch_stream = false; // the device came from a torch tensor: launch on torch's stream
  Py_ssize_t num_values = 0;
  char kinds[kMaxParams]; // kinds of the run-time values, comparable with a flat plan
  Value values[kMaxParams];

  PyObject *key() const { // a new reference; null with a Python error
    PyObject *key = PyTuple_New(num_items);
    for (Py_ssize_t i = 0; key != nullptr && i < num_items; ++i) {
      Py_INCREF(items[i]);
      PyTuple_SET_ITEM(key, i, items[i]);
    }
    return key;
  }
};

// Whether an argument on `device` (None: no device) may join a launch on `out.device`; false
// (no Python error) sends the launch to the Python launcher, which refuses memory of two devices.
bool same_device(const Classified &out, PyObject *device) {
  if (device == Py_None || !out.device || device == out.device.get())
    return true;
  const int equal = PyObject_RichCompareBool(device, out.device.get(), Py_EQ);
  if (equal < 0)
    PyErr_Clear();
  return equal == 1;
}

// Sets `value` and its key part (borrowed) for one run-time argument; false (no Python error)
// where the Python launcher must classify it. (The exact type checks of scalars guard against
// entries of arguments.HANDLERS that give other types, subclasses among them, the scalar
// handlers: those types' own arithmetic is the Python launcher's to use.)
bool classify_argument(PyObject *arg, bool specialize, Classified &out, Value &value,
                       PyObject **key) {
  switch (kind_of(Py_TYPE(arg))) {
  case Kind::kInt: { // arguments._int_argument
    if (!PyLong_CheckExact(arg))
      return false;
    int overflow = 0;
    const long long number = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (overflow < 0)
      return false; // below -2**63: the Python launcher reports it
    if (overflow > 0) {
      if (!as_address(arg, &value.bits))
        return false; // beyond 2**64 - 1: the Python launcher reports it
      *key = state->key_u64[specialize && value.bits % 16 == 0];
      value.kind = 'l';
      return true;
    }
    if (specialize && number == 1) {
      *key = state->key_one;
      value.kind = 'x';
      return true;
    }
    const bool divisible = specialize && number % 16 == 0;
    const bool narrow = number >= INT32_MIN && number <= INT32_MAX;
    *key = narrow ? state->key_i32[divisible] : state->key_i64[divisible];
    value.kind = narrow ? 'i' : 'l';
    value.bits = static_cast<uint64_t>(number);
    return true;
  }
  case Kind::kBool:
    if (!PyBool_Check(arg))
      return false;
    *key = state->key_bool;
    value.kind = 'b';
    value.bits = arg == Py_True;
    return true;
  case Kind::kFloat:
    if (!PyFloat_CheckExact(arg))
      return false;
    *key = state->key_float;
    value.kind = 'f';
    value.number = PyFloat_AS_DOUBLE(arg);
    return true;
  case Kind::kNone:
    if (arg != Py_None)
      return false;
    *key = state->key_none;
    value.kind = 'x';
    return true;
  case Kind::kTorch: { // arguments.torch_argument
    Ref is_cuda(PyObject_GetAttr(arg, state->is_cuda));
    if (is_cuda.get() != Py_True) { // not a CUDA tensor: the Python launcher reports it
      PyErr_Clear();
      return false;
    }
    PyObject *self[] = {arg};
    Ref pointer(PyObject_VectorcallMethod(state->data_ptr, self, 1, nullptr));
    Ref dtype(PyObject_GetAttr(arg, state->dtype));
    if (!pointer || !dtype) {
      PyErr_Clear();
      return false;
    }
    const PointerKeys *keys = torch_pointer_keys(dtype.get());
    if (keys == nullptr || !as_address(pointer.get(), &value.bits))
      return false;
    *key = keys->keys[specialize && value.bits % 16 == 0];
    value.kind = 'p';
    Ref device(PyObject_VectorcallMethod(state->get_device, self, 1, nullptr));
    if (!device) {
      PyErr_Clear();
      return false;
    }
    if (!out.device && device.get() != Py_None) { // the first argument with a device sets it
      out.device = std::move(device);
      out.torch_stream = true;
      return true;
    }
    return same_device(out, device.get());
  }
  case Kind::kBuffer: { // arguments._buffer_argument
    Ref pointer(PyObject_GetAttr(arg, state->ptr));
    Ref signature(PyObject_GetAttr(arg, state->signature));
    if (!pointer || !signature) {
      PyErr_Clear();
      return false;
    }
    const PointerKeys *keys = buffer_pointer_keys(signature.get());
    if (keys == nullptr || !as_address(pointer.get(), &value.bits))
      return false;
    *key = keys->keys[specialize && value.bits % 16 == 0];
    value.kind = 'p';
    Ref device(PyObject_GetAttr(arg, state->device));
    if (!device) {
      PyErr_Clear();
      return false;
    }
    if (!out.device && device.get() != Py_None) {
      out.device = std::move(device);
      return true;
    }
    return same_device(out, device.get());
  }
  case Kind::kPython:
    return false;
  }
  return false;
}

// ---- the launch ------------------------------------------------------------------------------

struct LauncherObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject *python_launcher; // jit_function._make_launcher's function: the fallback
  PyObject *cache;           // JITFunction.cache
  PyObject *load;            // JITFunction._load: loads a missing key into the cache
  // The last launch's key as found in the cache (strong references; null before the first).
  PyObject *memo_key;
  PyObject *memo_loaded; // its LoadedKernel
  PyObject *memo_handle; // the LoadedKernel's handle, which owns memo_kernel
  const Kernel *memo_kernel;
  uint64_t memo_version; // cache_version(cache) when they were found
  Py_ssize_t num_params;
  bool fast; // false when the kernel has more than kMaxParams parameters
  PyObject *names[kMaxParams];    // interned parameter names
  PyObject *defaults[kMaxParams]; // null where the parameter has none
  uint8_t modes[kMaxParams];
};

struct GridLauncherObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  LauncherObject *launcher;
  PyObject *grid;
};

// A launch's arguments bound to the kernel's parameters (borrowed references).
struct Bound {
  PyObject *values[kMaxParams];
  PyObject *num_warps = nullptr;
  PyObject *num_stages = nullptr;
  PyObject *grid = nullptr; // only when the grid is a keyword (Launcher calls)
};

// The slot of keyword `name` in `bound`, or null for a name the launcher does not take.
PyObject **keyword_slot(const LauncherObject *self, Bound &bound, PyObject *name,
                        bool grid_keyword) {
  // Keywords at call sites are interned, as are the names here: identity almost always decides.
  for (Py_ssize_t i = 0; i < self->num_params; ++i)
    if (self->names[i] == name)
      return &bound.values[i];
  if (name == state->num_warps)
    return &bound.num_warps;
  if (name == state->num_stages)
    return &bound.num_stages;
  if (grid_keyword && name == state->grid)
    return &bound.grid;
  for (Py_ssize_t i = 0; i < self->num_params; ++i)
    if (PyUnicode_Compare(self->names[i], name) == 0)
      return &bound.values[i];
  if (PyUnicode_Compare(state->num_warps, name) == 0)
    return &bound.num_warps;
  if (PyUnicode_Compare(state->num_stages, name) == 0)
    return &bound.num_stages;
  if (grid_keyword && PyUnicode_Compare(state->grid, name) == 0)
    return &bound.grid;
  return nullptr;
}

// Binds a call's arguments as the Python launcher's signature does; false (no Python error) for
// a call it would reject (too many, unknown, repeated or missing arguments).
bool bind(const LauncherObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
          bool grid_keyword, Bound &bound) {
  if (nargs > self->num_params)
    return false;
  for (Py_ssize_t i = 0; i < self->num_params; ++i)
    bound.values[i] = i < nargs ? args[i] : nullptr;
  const Py_ssize_t num_keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < num_keywords; ++k) {
    PyObject **slot = keyword_slot(self, bound, PyTuple_GET_ITEM(kwnames, k), grid_keyword);
    if (slot == nullptr || *slot != nullptr)
      return false;
    *slot = args[nargs + k];
  }
  for (Py_ssize_t i = nargs; i < self->num_params; ++i) {
    if (bound.values[i] == nullptr)
      bound.values[i] = self->defaults[i];
    if (bound.values[i] == nullptr)
      return false;
  }
  if (bound.num_warps == nullptr)
    bound.num_warps = state->default_num_warps;
  if (bound.num_stages == nullptr)
    bound.num_stages = state->default_num_stages;
  return !grid_keyword || bound.grid != nullptr;
}

// Classifies the bound arguments into `out`; false (no Python error) where the Python launcher
// must.
bool classify(const LauncherObject *self, const Bound &bound, Classified &out) {
  const Py_ssize_t n = self->num_params;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject *arg = bound.values[i];
    if (self->modes[i] == kConstexpr) {
      if (reinterpret_cast<PyObject *>(Py_TYPE(arg)) == state->constexpr_type) {
        // As the Python launcher, unwrap tl.constexpr(...). The value is owned here: Python code
        // that runs later in the launch (handlers, tensor methods) may rebind `value`.
        out.unwrapped[i] = Ref(PyObject_GetAttr(arg, state->value));
        if (!out.unwrapped[i]) {
          PyErr_Clear();
          return false;
        }
        arg = out.unwrapped[i].get();
      }
      out.items[i] = arg;
      continue;
    }
    Value &value = out.values[out.num_values];
    if (!classify_argument(arg, self->modes[i] == kSpecialized, out, value, &out.items[i]))
      return false;
    out.kinds[out.num_values++] = value.kind;
  }
  out.items[n] = bound.num_warps;
  out.items[n + 1] = bound.num_stages;
  out.items[n + 2] = out.device ? out.device.get() : state->default_device;
  out.num_items = n + 3;
  return true;
}

// The version of a launcher's cache: it changes whenever the cache does. PEP 509's dict version
// tag before Python 3.12, then (the tag deprecated) a count of changes to any watched cache, kept
// by a dict watcher; 0 when no watcher could be had, which disables the memo.
#if PY_VERSION_HEX >= 0x030C0000
int cache_watcher = -1;
uint64_t cache_changes = 1;

int count_cache_change(PyDict_WatchEvent, PyObject *, PyObject *, PyObject *) {
  ++cache_changes;
  return 0;
}

uint64_t cache_version(PyObject *) { return cache_watcher >= 0 ? cache_changes : 0; }
#else
uint64_t cache_version(PyObject *cache) {
  return reinterpret_cast<PyDictObject *>(cache)->ma_version_tag;
}
#endif

// The launcher's memo holds the kernel for these key items: the same objects as its key's, and
// the cache unchanged since (so a lookup would find what it found).
bool memo_holds(const LauncherObject *self, const Classified &classified) {
  if (self->memo_key == nullptr || self->memo_version == 0 ||
      cache_version(self->cache) != self->memo_version)
    return false;
  for (Py_ssize_t i = 0; i < classified.num_items; ++i)
    if (PyTuple_GET_ITEM(self->memo_key, i) != classified.items[i])
      return false;
  return true;
}

// The _C.Kernel handle of a loaded kernel (jit_function.LoadedKernel), a new reference; null (no
// Python error) for another handle type, as tests substitute.
PyObject *kernel_handle(PyObject *loaded) {
  PyObject *handle = PyObject_GetAttr(loaded, state->handle);
  if (handle == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  if (Py_TYPE(handle) != state->kernel_type) {
    Py_DECREF(handle);
    return nullptr;
  }
  return handle;
}

// Remembers that the cache, at `version`, maps `key` to `loaded` (whose handle is `handle`). The
// memo is whole before the old references go, whose release may run Python code.
void remember(LauncherObject *self, PyObject *key, PyObject *loaded, PyObject *handle,
              uint64_t version) {
  const Kernel *kernel = py::handle(handle).cast<Kernel *>();
  Py_INCREF(key);
  Py_INCREF(loaded);
  Py_INCREF(handle);
  Ref old_key(self->memo_key), old_loaded(self->memo_loaded), old_handle(self->memo_handle);
  self->memo_key = key;
  self->memo_loaded = loaded;
  self->memo_handle = handle;
  self->memo_kernel = kernel;
  self->memo_version = version;
}

// Whether the kernel's plan packs the classified values: one kind per value, the same kinds.
bool plan_packs(const Kernel &kernel, const Classified &classified) {
  const std::string &plan = kernel.plan();
  return kernel.flat() && plan.size() == static_cast<size_t>(classified.num_values) &&
         std::memcmp(plan.data(), classified.kinds, plan.size()) == 0;
}

// The dict a grid callable gets: every parameter (constexprs unwrapped), num_warps, num_stages.
PyObject *grid_meta(const LauncherObject *self, const Bound &bound, const Classified &classified) {
  Ref meta(PyDict_New());
  if (!meta)
    return nullptr;
  for (Py_ssize_t i = 0; i < self->num_params; ++i) {
    PyObject *value = self->modes[i] == kConstexpr ? classified.items[i] : bound.values[i];
    if (PyDict_SetItem(meta.get(), self->names[i], value) < 0)
      return nullptr;
  }
  if (PyDict_SetItem(meta.get(), state->num_warps, bound.num_warps) < 0 ||
      PyDict_SetItem(meta.get(), state->num_stages, bound.num_stages) < 0)
    return nullptr;
  return meta.release();
}

// The dimensions of a tuple or list of 1 to 3 ints; false for any other grid. `fits`: each is
// from 0 to 2**32 - 1 (one outside the range of a long long is read as -1).
bool int_grid(PyObject *grid, long long values[3], bool *fits) {
  if (!PyTuple_CheckExact(grid) && !PyList_CheckExact(grid))
    return false;
  const Py_ssize_t size = PySequence_Fast_GET_SIZE(grid);
  if (size < 1 || size > 3)
    return false;
  values[0] = values[1] = values[2] = 1;
  *fits = true;
  for (Py_ssize_t i = 0; i < size; ++i) {
    PyObject *item = PySequence_Fast_GET_ITEM(grid, i);
    if (!PyLong_CheckExact(item))
      return false;
    int overflow = 0;
    values[i] = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow != 0)
      values[i] = -1;
    if (values[i] < 0 || values[i] > UINT32_MAX)
      *fits = false;
  }
  return true;
}

// The launch's grid dimensions; other grids than tuples and lists of ints go through
// jit_function._grid_dims, which converts them or raises as for the Python launcher. `empty`: a
// dimension is 0, so nothing is launched (whatever the others are, as in the Python launcher).
// False with a Python error set.
bool grid_dims(PyObject *grid, uint32_t dims[3], bool *empty) {
  long long values[3];
  bool fits = true;
  if (!int_grid(grid, values, &fits)) {
    Ref ints(PyObject_CallOneArg(state->grid_dims, grid));
    if (!ints)
      return false;
    if (!int_grid(ints.get(), values, &fits)) {
      PyErr_Format(PyExc_SystemError, "_grid_dims(%R) returned %R, not three ints", grid,
                   ints.get());
      return false;
    }
  }
  *empty = values[0] == 0 || values[1] == 0 || values[2] == 0;
  if (*empty)
    return true;
  if (!fits) { // the Python launcher's Kernel.launch rejects these with a TypeError too
    PyErr_Format(PyExc_TypeError, "grid dimensions must be ints from 0 to 2**32 - 1, got %R",
                 grid);
    return false;
  }
  if (values[0] > INT32_MAX || values[1] > 65535 || values[2] > 65535) {
    // Beyond CUDA's grid limits: jit_function._grid_dims raises the Python launcher's error.
    Ref refused(PyObject_CallOneArg(state->grid_dims, grid));
    if (refused)
      PyErr_Format(PyExc_SystemError, "_grid_dims(%R) accepted a grid beyond CUDA's limits", grid);
    return false;
  }
  for (int i = 0; i < 3; ++i)
    dims[i] = static_cast<uint32_t>(values[i]);
  return true;
}

// torch's current stream on `device` (torch._C._cuda_getCurrentRawStream, looked up once; the
// Python launcher's _torch_stream looks it up at each launch). False with a Python error set.
bool torch_stream(PyObject *device, uint64_t *stream) {
  if (state->torch_raw_stream == nullptr) {
    try {
      py::object function = py::module_::import("sys").attr("modules")["torch"].attr("_C").attr(
          "_cuda_getCurrentRawStream");
      state->torch_raw_stream = function.release().ptr();
    } catch (py::error_already_set &error) {
      error.restore();
      return false;
    }
  }
  Ref raw(PyObject_CallOneArg(state->torch_raw_stream, device));
  if (!raw)
    return false;
  const unsigned long long value = PyLong_AsUnsignedLongLong(raw.get());
  if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred())
    return false;
  *stream = value;
  return true;
}

// Packs the classified values (the kernel's plan matched their kinds) and launches.
void pack_and_launch(const Kernel &kernel, const Classified &classified, const uint32_t dims[3],
                     uint64_t stream) {
  uint64_t slots[kMaxParams];
  void *pointers[kMaxParams];
  size_t param = 0;
  for (Py_ssize_t j = 0; j < classified.num_values; ++j) {
    const Value &value = classified.values[j];
    if (value.kind == 'x')
      continue;
    uint64_t &slot = slots[param];
    slot = 0; // the driver reads the low bytes of a parameter's slot (little-endian)
    switch (value.kind) {
    case 'p':
    case 'l':
      slot = value.bits;
      break;
    case 'i': {
      const uint32_t narrow = static_cast<uint32_t>(value.bits);
      std::memcpy(&slot, &narrow, sizeof narrow);
      break;
    }
    case 'b': {
      const uint8_t byte = value.bits != 0;
      std::memcpy(&slot, &byte, sizeof byte);
      break;
    }
    case 'f': {
      const float narrow = static_cast<float>(value.number);
      std::memcpy(&slot, &narrow, sizeof narrow);
      break;
    }
    }
    pointers[param] = &slot;
    ++param;
  }
  kernel.launch_packed(dims[0], dims[1], dims[2], stream, pointers);
}

// The Python launcher, called as the launcher was, with the bound grid (if any) as a keyword.
PyObject *call_python_launcher(LauncherObject *self, PyObject *grid, PyObject *const *args,
                               size_t nargsf, PyObject *kwnames) {
  if (self->python_launcher == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "this launcher was cleared by the garbage collector");
    return nullptr;
  }
  const Py_ssize_t num_keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  bool grid_keyword = grid == nullptr;
  for (Py_ssize_t k = 0; k < num_keywords && !grid_keyword; ++k) // a grid= overrides the bound
    grid_keyword = PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, k), state->grid) == 0;
  if (grid_keyword)
    return PyObject_Vectorcall(self->python_launcher, args, nargsf, kwnames);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  std::vector<PyObject *> values(args, args + nargs + num_keywords);
  values.push_back(grid);
  Ref names(PyTuple_New(num_keywords + 1));
  if (!names)
    return nullptr;
  for (Py_ssize_t k = 0; k <= num_keywords; ++k) {
    PyObject *name = k < num_keywords ? PyTuple_GET_ITEM(kwnames, k) : state->grid;
    Py_INCREF(name);
    PyTuple_SET_ITEM(names.get(), k, name);
  }
  return PyObject_Vectorcall(self->python_launcher, values.data(), nargs, names.get());
}

// A launch through `self`; `grid` is null when it is a keyword argument (Launcher calls).
PyObject *launch(LauncherObject *self, PyObject *grid, PyObject *const *args, size_t nargsf,
                 PyObject *kwnames) {
  Bound bound;
  Classified classified;
  if (!self->fast || state->handler_for == nullptr ||
      !bind(self, args, PyVectorcall_NARGS(nargsf), kwnames, grid == nullptr, bound) ||
      !classify(self, bound, classified))
    return call_python_launcher(self, grid, args, nargsf, kwnames);
  Ref loaded, handle;
  if (memo_holds(self, classified)) {
    loaded = Ref::borrowed(self->memo_loaded);
    handle = Ref::borrowed(self->memo_handle);
  } else {
    Ref key(classified.key());
    if (!key)
      return nullptr;
    // The version the lookup sees: Python code may run (and change the cache) before remember.
    const uint64_t version = cache_version(self->cache);
    loaded = Ref::borrowed(PyDict_GetItemWithError(self->cache, key.get()));
    if (!loaded && PyErr_Occurred()) { // an unhashable constexpr: the Python launcher reports it
      PyErr_Clear();
      return call_python_launcher(self, grid, args, nargsf, kwnames);
    }
    const bool found = static_cast<bool>(loaded);
    if (!found) {
      loaded.reset(PyObject_CallOneArg(self->load, key.get())); // as the Python launcher
      if (!loaded)
        return nullptr;
    }
    handle.reset(kernel_handle(loaded.get()));
    if (!handle)
      return call_python_launcher(self, grid, args, nargsf, kwnames);
    if (found) // after a load, the next launch finds the key and remembers it
      remember(self, key.get(), loaded.get(), handle.get(), version);
  }
  const Kernel *kernel = handle.get() == self->memo_handle
                             ? self->memo_kernel
                             : py::handle(handle.get()).cast<Kernel *>();
  if (!plan_packs(*kernel, classified))
    return call_python_launcher(self, grid, args, nargsf, kwnames);

  // From here on, as in the Python launcher after its cache lookup; errors are raised.
  if (grid == nullptr)
    grid = bound.grid;
  Ref computed;
  if (PyCallable_Check(grid)) {
    Ref meta(grid_meta(self, bound, classified));
    if (!meta)
      return nullptr;
    computed.reset(PyObject_CallOneArg(grid, meta.get()));
    if (!computed)
      return nullptr;
    grid = computed.get();
  }
  uint32_t dims[3];
  bool empty = false;
  if (!grid_dims(grid, dims, &empty))
    return nullptr;
  if (!empty) {
    uint64_t stream = 0;
    if (classified.torch_stream && !torch_stream(classified.device.get(), &stream))
      return nullptr;
    pack_and_launch(*kernel, classified, dims, stream);
  }
  return loaded.release();
}

// Runs `body` and turns a C++ exception (a failed launch's status, a pybind11 cast) into the
// Python error, as pybind11 does for its own functions; the types here are plain CPython types.
template <typename Body> PyObject *guarded(Body body) {
  try {
    return body();
  } catch (py::error_already_set &error) {
    error.restore();
  } catch (const py::builtin_exception &error) {
    error.set_error();
  } catch (const std::bad_alloc &) {
    PyErr_NoMemory();
  } catch (const std::exception &error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
  }
  return nullptr;
}

// ---- the Python types ------------------------------------------------------------------------

PyTypeObject LauncherType{};
PyTypeObject GridLauncherType{};

PyObject *launcher_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                              PyObject *kwnames) {
  return guarded([&] {
    return launch(reinterpret_cast<LauncherObject *>(callable), nullptr, args, nargsf, kwnames);
  });
}

PyObject *grid_launcher_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
  auto *self = reinterpret_cast<GridLauncherObject *>(callable);
  if (self->launcher == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "this launcher was cleared by the garbage collector");
    return nullptr;
  }
  return guarded([&] { return launch(self->launcher, self->grid, args, nargsf, kwnames); });
}

PyObject *launcher_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
  static const char *keywords[] = {"names", "modes", "defaults", "cache", "load",
                                   "python_launcher", nullptr};
  PyObject *names = nullptr, *modes = nullptr, *defaults = nullptr, *cache = nullptr,
           *load = nullptr, *python_launcher = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!OO:Launcher",
                                   const_cast<char **>(keywords), &PyTuple_Type, &names,
                                   &PyTuple_Type, &modes, &PyDict_Type, &defaults, &PyDict_Type,
                                   &cache, &load, &python_launcher))
    return nullptr;
  const Py_ssize_t num_params = PyTuple_GET_SIZE(names);
  if (PyTuple_GET_SIZE(modes) != num_params) {
    PyErr_Format(PyExc_ValueError, "Launcher: %zd parameter names but %zd modes", num_params,
                 PyTuple_GET_SIZE(modes));
    return nullptr;
  }
  if (!PyCallable_Check(load) || !PyCallable_Check(python_launcher)) {
    PyErr_SetString(PyExc_TypeError, "Launcher: load and python_launcher must be callable");
    return nullptr;
  }
  Ref object(type->tp_alloc(type, 0)); // zeroed
  if (!object)
    return nullptr;
  auto *self = reinterpret_cast<LauncherObject *>(object.get());
  self->vectorcall = launcher_vectorcall;
  Py_INCREF(python_launcher);
  self->python_launcher = python_launcher;
  Py_INCREF(cache);
  self->cache = cache;
  Py_INCREF(load);
  self->load = load;
#if PY_VERSION_HEX >= 0x030C0000
  if (cache_watcher >= 0 && PyDict_Watch(cache_watcher, cache) < 0)
    return nullptr;
#endif
  self->num_params = num_params;
  self->fast = num_params <= kMaxParams;
  for (Py_ssize_t i = 0; self->fast && i < num_params; ++i) {
    PyObject *name = PyTuple_GET_ITEM(names, i);
    PyObject *mode = PyTuple_GET_ITEM(modes, i);
    const long number = PyLong_CheckExact(mode) ? PyLong_AsLong(mode) : -1;
    if (!PyUnicode_CheckExact(name) || number < kConstexpr || number > kNotSpecialized) {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError,
                   "Launcher: parameter %zd needs a str name and a mode 0, 1 or 2, got %R, %R", i,
                   name, mode);
      return nullptr;
    }
    Py_INCREF(name);
    PyUnicode_InternInPlace(&name);
    self->names[i] = name;
    self->modes[i] = static_cast<uint8_t>(number);
    self->defaults[i] = PyDict_GetItemWithError(defaults, name);
    if (self->defaults[i] == nullptr && PyErr_Occurred())
      return nullptr;
    Py_XINCREF(self->defaults[i]);
  }
  return object.release();
}

int launcher_traverse(PyObject *object, visitproc visit, void *arg) {
  auto *self = reinterpret_cast<LauncherObject *>(object);
  Py_VISIT(self->python_launcher);
  Py_VISIT(self->cache);
  Py_VISIT(self->load);
  Py_VISIT(self->memo_key);
  Py_VISIT(self->memo_loaded);
  Py_VISIT(self->memo_handle);
  for (Py_ssize_t i = 0; self->fast && i < self->num_params; ++i)
    Py_VISIT(self->defaults[i]);
  return 0;
}

int launcher_clear(PyObject *object) {
  auto *self = reinterpret_cast<LauncherObject *>(object);
  Py_CLEAR(self->python_launcher);
  Py_CLEAR(self->cache);
  Py_CLEAR(self->load);
  Py_CLEAR(self->memo_key);
  Py_CLEAR(self->memo_loaded);
  Py_CLEAR(self->memo_handle);
  self->memo_kernel = nullptr;
  for (Py_ssize_t i = 0; self->fast && i < self->num_params; ++i) {
    Py_CLEAR(self->names[i]);
    Py_CLEAR(self->defaults[i]);
  }
  self->fast = false; // launches go to the (cleared) Python launcher, which reports it
  return 0;
}

void launcher_dealloc(PyObject *object) {
  PyObject_GC_UnTrack(object);
  launcher_clear(object);
  Py_TYPE(object)->tp_free(object);
}

PyObject *launcher_bind(PyObject *self, PyObject *grid) {
  auto *bound = PyObject_GC_New(GridLauncherObject, &GridLauncherType);
  if (bound == nullptr)
    return nullptr;
  bound->vectorcall = grid_launcher_vectorcall;
  Py_INCREF(self);
  bound->launcher = reinterpret_cast<LauncherObject *>(self);
  Py_INCREF(grid);
  bound->grid = grid;
  PyObject_GC_Track(bound);
  return reinterpret_cast<PyObject *>(bound);
}

// Launcher.classify: see its docstring.
PyObject *classify_for_tests(PyObject *object, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  auto *self = reinterpret_cast<LauncherObject *>(object);
  Bound bound;
  Classified classified;
  if (!self->fast || state->handler_for == nullptr ||
      !bind(self, args, nargs, kwnames, /*grid_keyword=*/false, bound) ||
      !classify(self, bound, classified))
    Py_RETURN_NONE;
  Ref values(PyList_New(classified.num_values));
  if (!values)
    return nullptr;
  for (Py_ssize_t j = 0; j < classified.num_values; ++j) {
    const Value &value = classified.values[j];
    PyObject *item = nullptr;
    if (value.kind == 'x') {
      Py_INCREF(Py_None);
      item = Py_None;
    } else if (value.kind == 'f') {
      item = PyFloat_FromDouble(value.number);
    } else {
      item = PyLong_FromUnsignedLongLong(value.kind == 'i' ? value.bits & 0xffffffffu
                                                           : value.bits);
    }
    if (item == nullptr)
      return nullptr;
    PyList_SET_ITEM(values.get(), j, item);
  }
  Ref key(classified.key());
  Ref plan(PyUnicode_FromStringAndSize(classified.kinds, classified.num_values));
  if (!key || !plan)
    return nullptr;
  return PyTuple_Pack(4, key.get(), plan.get(), values.get(),
                      classified.torch_stream ? Py_True : Py_False);
}

PyObject *launcher_classify(PyObject *object, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
  return guarded([&] { return classify_for_tests(object, args, nargs, kwnames); });
}

PyMethodDef launcher_methods[] = {
    {"bind", launcher_bind, METH_O,
     "bind(grid) -> GridLauncher: this launcher with its grid (a tuple or a callable) bound."},
    {"classify",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(launcher_classify)),
     METH_FASTCALL | METH_KEYWORDS,
     "classify(*args, **kwargs) -> (key, plan, values, torch_stream), or None where a launch "
     "with these arguments goes to the Python launcher: what a launch computes before its cache "
     "lookup. values are as packed (each slot's integer bits, 'i' the low 32, 'b' 0 or 1; the "
     "float for 'f'; None for folded arguments). For tests."},
    {nullptr, nullptr, 0, nullptr}};

int grid_launcher_traverse(PyObject *object, visitproc visit, void *arg) {
  auto *self = reinterpret_cast<GridLauncherObject *>(object);
  Py_VISIT(self->launcher);
  Py_VISIT(self->grid);
  return 0;
}

int grid_launcher_clear(PyObject *object) {
  auto *self = reinterpret_cast<GridLauncherObject *>(object);
  Py_CLEAR(self->launcher);
  Py_CLEAR(self->grid);
  return 0;
}

void grid_launcher_dealloc(PyObject *object) {
  PyObject_GC_UnTrack(object);
  grid_launcher_clear(object);
  PyObject_GC_Del(object);
}

PyObject *grid_launcher_get_grid(PyObject *object, void *) {
  PyObject *grid = reinterpret_cast<GridLauncherObject *>(object)->grid;
  if (grid == nullptr)
    Py_RETURN_NONE;
  Py_INCREF(grid);
  return grid;
}

PyObject *grid_launcher_repr(PyObject *object) {
  auto *self = reinterpret_cast<GridLauncherObject *>(object);
  if (self->launcher == nullptr || self->launcher->python_launcher == nullptr)
    return PyUnicode_FromString("<cleared tessera launcher>");
  Ref name(PyObject_GetAttrString(self->launcher->python_launcher, "__name__"));
  if (!name)
    return nullptr;
  return PyUnicode_FromFormat("<tessera launcher of %S with grid %R>", name.get(), self->grid);
}

PyGetSetDef grid_launcher_getset[] = {
    {"grid", grid_launcher_get_grid, nullptr, "The bound grid.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// ---- configuration ---------------------------------------------------------------------------

Kind kind_named(const std::string &name) {
  static const std::pair<const char *, Kind> kinds[] = {
      {"int", Kind::kInt},   {"bool", Kind::kBool},   {"float", Kind::kFloat},
      {"none", Kind::kNone}, {"torch", Kind::kTorch}, {"buffer", Kind::kBuffer}};
  for (const auto &[known, kind] : kinds)
    if (name == known)
      return kind;
  throw py::value_error("configure_fast_launch: unknown argument kind '" + name +
                        "' (int, bool, float, none, torch, buffer)");
}

// Drops what was configured or learned (it may not hold under a new configuration).
void forget_configuration() {
  for (auto &[handler, kind] : state->replicated)
    Py_DECREF(handler);
  state->replicated.clear();
  for (auto &[type, kind] : state->types)
    Py_DECREF(type);
  state->types.clear();
  for (auto *table : {&state->torch_dtypes, &state->buffer_signatures}) {
    for (PointerKeys &entry : *table) {
      Py_DECREF(entry.source);
      Py_DECREF(entry.keys[0]);
      Py_DECREF(entry.keys[1]);
    }
    table->clear();
  }
  for (PyObject **field :
       {&state->handler_for, &state->torch_signatures, &state->key_parts, &state->constexpr_type,
        &state->grid_dims, &state->key_one, &state->key_none, &state->key_bool,
        &state->key_float, &state->key_i32[0], &state->key_i32[1], &state->key_i64[0],
        &state->key_i64[1], &state->key_u64[0], &state->key_u64[1]})
    Py_CLEAR(*field);
}

void configure(py::function handler_for, py::dict replicated, py::function torch_signatures,
               py::dict key_parts, py::object constexpr_type, py::function grid_dims) {
  std::vector<std::pair<PyObject *, Kind>> kinds;
  for (auto [handler, name] : replicated)
    kinds.emplace_back(handler.ptr(), kind_named(py::cast<std::string>(name)));
  forget_configuration();
  for (auto &[handler, kind] : kinds)
    Py_INCREF(handler);
  state->replicated = std::move(kinds);
  state->torch_signatures = torch_signatures.inc_ref().ptr();
  state->key_parts = key_parts.inc_ref().ptr();
  state->constexpr_type = constexpr_type.inc_ref().ptr();
  state->grid_dims = grid_dims.inc_ref().ptr();

  // The scalar key parts of arguments.py's handlers.
  const auto part = [](const char *name, PyObject *flag) {
    Ref text(PyUnicode_FromString(name));
    PyObject *canonical = text ? canonical_key_part(text.get(), flag) : nullptr;
    if (canonical == nullptr)
      throw py::error_already_set();
    return canonical;
  };
  Ref one(PyLong_FromLong(1));
  if (!one)
    throw py::error_already_set();
  state->key_one = part("c", one.get());
  state->key_none = part("c", Py_None);
  state->key_bool = part("i1", Py_False);
  state->key_float = part("fp32", Py_False);
  PyObject *flags[2] = {Py_False, Py_True};
  for (int divisible = 0; divisible < 2; ++divisible) {
    state->key_i32[divisible] = part("i32", flags[divisible]);
    state->key_i64[divisible] = part("i64", flags[divisible]);
    state->key_u64[divisible] = part("u64", flags[divisible]);
  }
  state->handler_for = handler_for.inc_ref().ptr();
}

State *create_state() {
  auto *created = new State();
  const auto intern = [](const char *name) {
    PyObject *interned = PyUnicode_InternFromString(name);
    if (interned == nullptr)
      throw py::error_already_set();
    return interned;
  };
  created->is_cuda = intern("is_cuda");
  created->data_ptr = intern("data_ptr");
  created->dtype = intern("dtype");
  created->get_device = intern("get_device");
  created->ptr = intern("ptr");
  created->signature = intern("signature");
  created->device = intern("device");
  created->value = intern("value");
  created->handle = intern("handle");
  created->grid = intern("grid");
  created->num_warps = intern("num_warps");
  created->num_stages = intern("num_stages");
  created->default_num_warps = PyLong_FromLong(4);
  created->default_num_stages = PyLong_FromLong(3);
  created->default_device = PyLong_FromLong(0);
  if (PyErr_Occurred())
    throw py::error_already_set();
  created->kernel_type = reinterpret_cast<PyTypeObject *>(py::type::of<Kernel>().ptr());
  return created;
}

} // namespace

void register_fast_launch(py::module_ &module) {
  state = create_state();
#if PY_VERSION_HEX >= 0x030C0000
  cache_watcher = PyDict_AddWatcher(count_cache_change);
  if (cache_watcher < 0)
    PyErr_Clear(); // all watchers taken by other extensions: launches look the cache up each time
#endif

  LauncherType.tp_name = "tessera._C.Launcher";
  LauncherType.tp_doc =
      "Launcher(names, modes, defaults, cache, load, python_launcher): a kernel's launch "
      "function, called as the Python launcher (its parameters, then grid=, num_warps=, "
      "num_stages=). Launches the common arguments itself (load(key) on a cache miss) and hands "
      "everything else to python_launcher.";
  LauncherType.tp_basicsize = sizeof(LauncherObject);
  LauncherType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  LauncherType.tp_new = launcher_new;
  LauncherType.tp_dealloc = launcher_dealloc;
  LauncherType.tp_traverse = launcher_traverse;
  LauncherType.tp_clear = launcher_clear;
  LauncherType.tp_vectorcall_offset = offsetof(LauncherObject, vectorcall);
  LauncherType.tp_call = PyVectorcall_Call;
  LauncherType.tp_methods = launcher_methods;

  GridLauncherType.tp_name = "tessera._C.GridLauncher";
  GridLauncherType.tp_doc = "kernel[grid]: a Launcher with its grid bound (Launcher.bind).";
  GridLauncherType.tp_basicsize = sizeof(GridLauncherObject);
  GridLauncherType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
  GridLauncherType.tp_dealloc = grid_launcher_dealloc;
  GridLauncherType.tp_traverse = grid_launcher_traverse;
  GridLauncherType.tp_clear = grid_launcher_clear;
  GridLauncherType.tp_vectorcall_offset = offsetof(GridLauncherObject, vectorcall);
  GridLauncherType.tp_call = PyVectorcall_Call;
  GridLauncherType.tp_repr = grid_launcher_repr;
  GridLauncherType.tp_getset = grid_launcher_getset;

  for (auto [type, name] : {std::pair{&LauncherType, "Launcher"},
                            std::pair{&GridLauncherType, "GridLauncher"}}) {
    type->ob_base = PyVarObject{PyObject_HEAD_INIT(nullptr) 0}; // as PyVarObject_HEAD_INIT
    if (PyType_Ready(type) < 0)
      throw py::error_already_set();
    module.add_object(name, py::handle(reinterpret_cast<PyObject *>(type)));
  }

  module.def("configure_fast_launch", &configure, py::arg("handler_for"), py::arg("replicated"),
             py::arg("torch_signatures"), py::arg("key_parts"), py::arg("constexpr_type"),
             py::arg("grid_dims"),
             "Gives the launch types what they share with tessera.runtime: "
             "arguments.handler_for, the handlers they replicate ({handler: 'int' | 'bool' | "
             "'float' | 'none' | 'torch' | 'buffer'}), arguments.torch_signatures and KEY_PARTS, "
             "tl.constexpr and jit_function._grid_dims.");
}

} // namespace tessera_python
