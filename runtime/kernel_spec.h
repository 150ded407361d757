// What identifies a kernel variant: its tile IR plus the compiler options that change the binary
// without changing the IR. Validation of those options, and the hash that names the variant in
// every cache.
#ifndef TESSERA_RUNTIME_KERNEL_SPEC_H
#define TESSERA_RUNTIME_KERNEL_SPEC_H

#include "runtime/status.h"
#include "runtime/tessera.h"

#include <cstdint>
#include <string>
#include <string_view>

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

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_KERNEL_SPEC_H
