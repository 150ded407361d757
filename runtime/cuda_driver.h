// The CUDA driver, loaded from libcuda.so.1 with dlopen on first use.
//
// Tessera never links libcuda: a process on a machine without an NVIDIA driver must still be able
// to load libtessera, create a runtime and compile kernels. cuda.h is included for its types and
// prototypes only; the functions are resolved with dlsym into a table.
#ifndef TESSERA_RUNTIME_CUDA_DRIVER_H
#define TESSERA_RUNTIME_CUDA_DRIVER_H

#include "runtime/status.h"

#include <cuda.h>

namespace tessera::runtime {

// Every driver function Tessera calls. cuda.h #defines some names to versioned symbols
// (cuMemAlloc -> cuMemAlloc_v2, cuCtxPushCurrent -> cuCtxPushCurrent_v2, ...); the table's members
// go through the same macros, so `driver.cuMemAlloc(...)` calls the symbol a program linked
// against libcuda would call, and the dlsym name is that symbol's (see cuda_driver.cpp).
#define TESSERA_CUDA_DRIVER_FUNCTIONS(X)                                                           \
  X(cuInit)                                                                                        \
  X(cuDriverGetVersion)                                                                            \
  X(cuGetErrorName)                                                                                \
  X(cuGetErrorString)                                                                              \
  X(cuDeviceGet)                                                                                   \
  X(cuDeviceGetCount)                                                                              \
  X(cuDeviceGetAttribute)                                                                          \
  X(cuDevicePrimaryCtxRetain)                                                                      \
  X(cuDevicePrimaryCtxRelease)                                                                     \
  X(cuCtxGetCurrent)                                                                               \
  X(cuCtxSetCurrent)                                                                               \
  X(cuCtxPushCurrent)                                                                              \
  X(cuCtxPopCurrent)                                                                               \
  X(cuCtxSynchronize)                                                                              \
  X(cuModuleLoadDataEx)                                                                            \
  X(cuModuleUnload)                                                                                \
  X(cuModuleGetFunction)                                                                           \
  X(cuFuncSetAttribute)                                                                            \
  X(cuFuncGetAttribute)                                                                            \
  X(cuLaunchKernel)                                                                                \
  X(cuMemAlloc)                                                                                    \
  X(cuMemFree)                                                                                     \
  X(cuMemcpyHtoD)                                                                                  \
  X(cuMemcpyDtoH)                                                                                   \
  X(cuPointerGetAttributes)                                                                        \
  X(cuTensorMapEncodeTiled)

struct CudaDriver {
  // Member types come from cuda.h's prototypes, so a wrong signature is a compile error.
#define TESSERA_DECLARE_DRIVER_FUNCTION(name) decltype(&::name) name = nullptr;
  TESSERA_CUDA_DRIVER_FUNCTIONS(TESSERA_DECLARE_DRIVER_FUNCTION)
#undef TESSERA_DECLARE_DRIVER_FUNCTION

  int driverVersion = 0; // from cuDriverGetVersion, e.g. 13000

  // OK for CUDA_SUCCESS; otherwise CUDA_ERROR (UNAVAILABLE for the results that mean "no usable
  // GPU here") with the message "<call> failed: <CUDA_ERROR_NAME> (<description>)".
  Status check(CUresult result, const char *call) const;
};

// The process-wide driver: the first call dlopens libcuda.so.1, resolves the table and calls
// cuInit(0); every later call returns the same outcome, failure included, without retrying (a
// driver does not appear while a process runs). UNAVAILABLE when there is no driver or no device.
// The library is never unloaded: other libraries in the process (PyTorch's, say) share it.
StatusOr<const CudaDriver *> loadCudaDriver();

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_CUDA_DRIVER_H
