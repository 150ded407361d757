// NVRTC, CUDA's run-time compiler of CUDA C++, loaded with dlopen on first use, and the compile of
// one CUDA source kernel (a CudaSourceSpec) into a cubin.
//
// Like the driver (cuda_driver.h), NVRTC is never linked: libtessera must load on machines without
// a CUDA toolkit, where only the NVRTC backend is unavailable. nvrtc.h is included for its types
// and prototypes only; the functions are resolved with dlsym into a table.
#ifndef TESSERA_RUNTIME_NVRTC_H
#define TESSERA_RUNTIME_NVRTC_H

#include "runtime/kernel_spec.h"
#include "runtime/status.h"

#include <nvrtc.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::runtime {

#define TESSERA_NVRTC_FUNCTIONS(X)                                                                 \
  X(nvrtcVersion)                                                                                  \
  X(nvrtcGetErrorString)                                                                           \
  X(nvrtcCreateProgram)                                                                            \
  X(nvrtcDestroyProgram)                                                                           \
  X(nvrtcCompileProgram)                                                                           \
  X(nvrtcGetProgramLogSize)                                                                        \
  X(nvrtcGetProgramLog)                                                                            \
  X(nvrtcGetPTXSize)                                                                               \
  X(nvrtcGetPTX)                                                                                   \
  X(nvrtcGetCUBINSize)                                                                             \
  X(nvrtcGetCUBIN)

struct Nvrtc {
  // Member types come from nvrtc.h's prototypes, so a wrong signature is a compile error.
#define TESSERA_DECLARE_NVRTC_FUNCTION(name) decltype(&::name) name = nullptr;
  TESSERA_NVRTC_FUNCTIONS(TESSERA_DECLARE_NVRTC_FUNCTION)
#undef TESSERA_DECLARE_NVRTC_FUNCTION

  int major = 0, minor = 0; // from nvrtcVersion
  std::string library;      // the file dlopen found (resolved with dladdr)
  // The CUDA headers passed to every compile with -I (<cuda_fp16.h>, <cuda_bf16.h>); empty when
  // none was found, and then sources that include them fail to compile, saying so.
  std::string includeDirectory;

  // "nvrtc 13.0": what kernel keys hash.
  std::string version() const;
  // OK for NVRTC_SUCCESS; otherwise INTERNAL "<call> failed: <nvrtcGetErrorString>".
  Status check(nvrtcResult result, const char *call) const;
};

// Where loadNvrtc looks, in order: libnvrtc.so.13 and libnvrtc.so on the loader's path, then in
// $CUDA_HOME/lib64 (when set) and /usr/local/cuda/lib64.
std::vector<std::string> nvrtcLibraryCandidates();

// Opens the first of `candidates` that dlopen loads and resolves the table, without caching the
// outcome: UNAVAILABLE naming every candidate tried when none loads. For tests; use loadNvrtc.
StatusOr<const Nvrtc *> openNvrtc(const std::vector<std::string> &candidates);

// The process-wide NVRTC: openNvrtc(nvrtcLibraryCandidates()) on the first call, and the same
// outcome, failure included, on every later one. Never unloaded.
StatusOr<const Nvrtc *> loadNvrtc();

// What NVRTC made of one CUDA source kernel.
struct CudaProgram {
  std::string ptx;
  std::string cubin;
  std::string log;       // NVRTC's warnings ("" when there are none)
  int32_t numParams = 0; // of the entry, counted in the PTX
};

// Compiles `spec` (valid: validateCudaSourceSpec) for spec.target. COMPILE_ERROR with NVRTC's log
// when the source does not compile; NOT_FOUND when spec.entry is no kernel of the program.
StatusOr<CudaProgram> compileCudaSource(const Nvrtc &nvrtc, const CudaSourceSpec &spec);

// The number of parameters of the kernel `entry` of `ptx` (its `.param`s), or NOT_FOUND naming
// the kernels the PTX has.
StatusOr<int32_t> ptxEntryParamCount(std::string_view ptx, std::string_view entry);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_NVRTC_H
