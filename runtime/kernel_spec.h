// What identifies a kernel variant: its tile IR plus the compiler options that change the binary
// without changing the IR, or, for the NVRTC backend, its CUDA C++ source plus NVRTC's options.
// Validation of those options, and the hashes that name the variants in every cache.
#ifndef TESSERA_RUNTIME_KERNEL_SPEC_H
#define TESSERA_RUNTIME_KERNEL_SPEC_H

#include "runtime/status.h"
#include "runtime/tessera.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::runtime {

struct KernelSpec {
  std::string_view tileIR; // not owned: the caller's text outlives the call that uses the spec
  std::string target;      // "sm_80", ..., "sm_90a"
  int32_t numWarps = 4;
  int32_t numStages = 3;
  uint32_t flags = 0;
};

// The targets the compiler accepts: sm_80, sm_86, sm_89, sm_90, sm_90a.
bool isKnownTarget(std::string_view target);
// "sm_80, sm_86, ..." for messages.
const char *knownTargetList();

// The target to compile for a device of compute capability major.minor: "sm_<major><minor>",
// with the "a" suffix for 9.0, whose wgmma and TMA instructions exist only in sm_90a code.
std::string targetForComputeCapability(int major, int minor);

// INVALID_ARGUMENT naming the offending field ("options.num_warps must be ...") unless the target
// is known, num_warps is a power of two in 1..32, num_stages >= 1 and flags is 0.
Status validateKernelSpec(const KernelSpec &spec);

// Converts and validates the C API's arguments. A NULL or empty options->target is an error when
// `requireTarget`, and otherwise left empty for the caller to fill in (the device's target).
StatusOr<KernelSpec> kernelSpecFromC(const char *tileIR, size_t tileIRSize,
                                     const tessera_compile_options *options, bool requireTarget);

// `ir` without its source locations (every `loc(...)` outside string literals): what the kernel
// key hashes, so that the same kernel built from files at different paths (a bundle built on one
// machine and loaded on another) has one key.
std::string withoutLocations(std::string_view ir);

// The variant's identity: the lower-case hex SHA-256 of every field of `spec` (the tile IR without
// its locations) and the compiler version. Fields are length-prefixed, so no two different specs
// encode to the same bytes.
std::string kernelKey(const KernelSpec &spec, std::string_view compilerVersion);

// A CUDA C++ kernel compiled by NVRTC (runtime/nvrtc.h): the source and everything that changes
// the binary built from it.
struct CudaSourceSpec {
  std::string_view source;          // not owned, like KernelSpec::tileIR
  std::string entry;                // the extern "C" __global__ function launched
  std::vector<std::string> options; // NVRTC's, in order ("-DN=64", "--use_fast_math")
  std::string target;               // as KernelSpec::target
  int32_t numWarps = 4;             // block size is 32 * numWarps
  int32_t sharedBytes = 0;          // dynamic shared memory per block
};

// INVALID_ARGUMENT naming the offending field unless the source is non-empty and NUL-free, the
// entry is a C identifier, the target is known, num_warps is a power of two in 1..32,
// shared_bytes >= 0 and no option is empty, names an architecture (the target does) or adds
// include paths or headers (which the key could not see: the source must hold all but the CUDA
// toolkit's headers).
Status validateCudaSourceSpec(const CudaSourceSpec &spec);

// Converts and validates the C API's arguments; the target as in kernelSpecFromC.
StatusOr<CudaSourceSpec> cudaSourceSpecFromC(const char *source, size_t sourceSize,
                                             const tessera_cuda_options *options,
                                             bool requireTarget);

// The variant's identity: the hex SHA-256 of every field of `spec` and NVRTC's version, under an
// encoding tag of its own, so that it never equals a tile kernel's key.
std::string cudaSourceKey(const CudaSourceSpec &spec, std::string_view nvrtcVersion);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_KERNEL_SPEC_H
