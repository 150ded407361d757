#include "runtime/cuda_driver.h"

#include <dlfcn.h>

#include <string>

namespace tessera::runtime {
namespace {

// Stringizes after macro expansion: TESSERA_SYMBOL_NAME(cuMemAlloc) is "cuMemAlloc_v2", the name
// cuda.h maps the call to and therefore the symbol to look up.
#define TESSERA_SYMBOL_NAME(name) TESSERA_SYMBOL_NAME_EXPANDED(name)
#define TESSERA_SYMBOL_NAME_EXPANDED(name) #name

constexpr const char *kLibraryName = "libcuda.so.1";

// Results of cuInit that mean "this machine has no usable GPU" rather than "a call went wrong".
bool meansNoUsableGpu(CUresult result) {
  switch (result) {
  case CUDA_ERROR_NO_DEVICE:
  case CUDA_ERROR_STUB_LIBRARY:
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
  case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    return true;
  default:
    return false;
  }
}

StatusOr<const CudaDriver *> load() {
  // RTLD_LOCAL: the symbols are reached through the table only. If the process already loaded
  // the driver (PyTorch does), dlopen returns that same instance, so both share one CUDA state.
  void *library = dlopen(kLibraryName, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *reason = dlerror();
    return unavailable(std::string("no CUDA driver: dlopen(\"") + kLibraryName +
                       "\") failed: " + (reason ? reason : "unknown reason") +
                       ". Compiling kernels works without one; running them needs an NVIDIA GPU "
                       "and its driver");
  }

  // Leaked on purpose: the table lives as long as the process, like the library it points into.
  auto *driver = new CudaDriver();
#define TESSERA_RESOLVE_DRIVER_FUNCTION(name)                                                      \
  driver->name = reinterpret_cast<decltype(driver->name)>(                                         \
      dlsym(library, TESSERA_SYMBOL_NAME(name)));                                                  \
  if (!driver->name)                                                                               \
    return unavailable(std::string(kLibraryName) + " has no symbol " + TESSERA_SYMBOL_NAME(name) + \
                       ": the NVIDIA driver is too old for Tessera");
  TESSERA_CUDA_DRIVER_FUNCTIONS(TESSERA_RESOLVE_DRIVER_FUNCTION)
#undef TESSERA_RESOLVE_DRIVER_FUNCTION

  TESSERA_RETURN_IF_ERROR(driver->check(driver->cuInit(0), "cuInit"));
  TESSERA_RETURN_IF_ERROR(
      driver->check(driver->cuDriverGetVersion(&driver->driverVersion), "cuDriverGetVersion"));
  return static_cast<const CudaDriver *>(driver);
}

} // namespace

Status CudaDriver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status();
  const char *name = nullptr;
  const char *description = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUresult";
  if (cuGetErrorString(result, &description) != CUDA_SUCCESS || !description)
    description = "no description";
  std::string message = std::string(call) + " failed: " + name + " (" + description + ")";
  if (name == std::string("unknown CUresult"))
    message += " [" + std::to_string(static_cast<int>(result)) + "]";
  if (meansNoUsableGpu(result))
    return unavailable(std::move(message));
  return cudaError(std::move(message));
}

StatusOr<const CudaDriver *> loadCudaDriver() {
  // A function-local static is initialised once, thread-safely, and keeps the failure too.
  static const StatusOr<const CudaDriver *> driver = load();
  return driver;
}

} // namespace tessera::runtime
