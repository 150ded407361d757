// Bundles: kernels compiled ahead of time (and the autotuner's results for them) in one
// versioned, checksummed file, so that a process that loads it starts with no compilation and no
// tuning for the cases it lists.
//
// A bundle holds, per kernel: the name it is looked up by, its specialised tile IR and compile
// options (so that the kernel can be compiled again for a target the bundle lacks), its cache key
// and its binary; and per tuned case: the kernel identity, the tuning key and config (JSON text,
// as the Python autotuner stores them) and the measured time; and op records, which let C and C++
// programs call ops (docs/op-records.md). Parsing never trusts the input:
// every length is checked against the bytes that remain, the payload's SHA-256 must match, and
// every kernel's binary entry is checked as the disk cache checks its own.
#ifndef TESSERA_RUNTIME_BUNDLE_H
#define TESSERA_RUNTIME_BUNDLE_H

#include "runtime/disk_cache.h"
#include "runtime/status.h"

#include <string>
#include <string_view>
#include <vector>

namespace tessera::runtime {

struct BundleKernel {
  std::string name;   // what a lookup asks for: a kernel or an op case
  std::string tileIR; // the specialised kernel, for compiling it again elsewhere
  std::string target; // "sm_80", "sm_90a", ...
  int32_t numWarps = 4;
  int32_t numStages = 3;
  std::string key; // the kernel's cache identity under the bundle's compiler
  KernelBinary binary;
};

struct BundleTuning {
  std::string kernel; // the autotuned kernel's identity
  std::string key;    // the tuning key, JSON
  std::string config; // the config, JSON
  double milliseconds = 0; // the config's median time; +infinity: chosen without timing (a bundle
                           // built without a GPU), which the autotuner takes for the key as is
};

// How calls of an op map onto bundled kernels (docs/op-records.md); the op layer parses the record.
struct BundleOp {
  std::string op;     // "matmul"
  std::string record; // JSON
};

struct Bundle {
  std::string compilerVersion; // of the compiler that made the binaries
  std::string description;     // free text: what the bundle was built from
  std::vector<BundleKernel> kernels;
  std::vector<BundleTuning> tuning;
  std::vector<BundleOp> ops;
};

// The file format. Integers little-endian, strings as u64 size then bytes:
//   magic "TSRBUNDL" | u32 format version | u32 0 | u64 payload size | 32-byte SHA-256 of payload
//   payload: str compiler version | str description
//            u64 kernel count, each: str name | str tile IR | str target | i32 num warps |
//                                    i32 num stages | str key | str binary (a disk-cache entry)
//            u64 tuning count, each: str kernel | str key | str config | u64 milliseconds (the
//                                    bits of an IEEE double)
//            u64 op record count, each: str op | str record     (from version 2 on)
// Version 1 files (no op records) are still read.
constexpr uint32_t kBundleFormatVersion = 2;

std::string serializeBundle(const Bundle &bundle);
// The bundle in `bytes`, or IO_ERROR saying what is wrong with them.
StatusOr<Bundle> parseBundle(std::string_view bytes);

// Files: a written bundle appears complete or not at all (a temporary file renamed into place).
Status writeBundleFile(const std::string &path, const Bundle &bundle);
// NOT_FOUND when there is no file; IO_ERROR naming the path and the problem otherwise.
StatusOr<Bundle> readBundleFile(const std::string &path);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_BUNDLE_H
