#include "runtime/kernel_spec.h"

#include "runtime/sha256.h"

#include <algorithm>
#include <cctype>

namespace tessera::runtime {
namespace {

constexpr std::string_view kKnownTargets[] = {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"};

// Bumped whenever the encoding below changes, so old and new keys can never coincide.
constexpr std::string_view kKeyEncodingTag = "tessera-kernel-key/2";
// The same for CUDA source kernels; distinct from the tile tag, so the two kinds never share a key.
constexpr std::string_view kCudaKeyEncodingTag = "tessera-cuda-source-key/1";

// Index one past the string literal that starts at ir[start] (a '"'), escapes included.
size_t skipStringLiteral(std::string_view ir, size_t start) {
  size_t i = start + 1;
  while (i < ir.size() && ir[i] != '"')
    i += ir[i] == '\\' ? 2 : 1;
  return std::min(i + 1, ir.size());
}

// Index one past the `loc(...)` that starts at ir[start], nested parentheses and strings included.
size_t skipLocation(std::string_view ir, size_t start) {
  size_t i = start + 3, depth = 0;
  while (i < ir.size()) {
    char c = ir[i];
    if (c == '"') {
      i = skipStringLiteral(ir, i);
      continue;
    }
    ++i;
    if (c == '(')
      ++depth;
    else if (c == ')' && --depth == 0)
      break;
  }
  return i;
}

bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$';
}

void hashField(Sha256 &hash, std::string_view name, std::string_view value) {
  hash.update(name);
  uint8_t length[9] = {0}; // a NUL after the name, then the value's size as 64-bit little-endian
  for (int i = 0; i < 8; ++i)
    length[1 + i] = uint8_t(uint64_t(value.size()) >> (8 * i));
  hash.update(length, sizeof(length));
  hash.update(value);
}

Status validateNumWarps(int32_t numWarps) {
  bool powerOfTwo = numWarps > 0 && (numWarps & (numWarps - 1)) == 0;
  if (!powerOfTwo || numWarps > 32)
    return invalidArgument("options.num_warps must be a power of two from 1 to 32, got " +
                           std::to_string(numWarps));
  return Status();
}

Status validateTarget(const std::string &target) {
  if (!isKnownTarget(target))
    return invalidArgument("options.target '" + target + "' is not a known target (" +
                           knownTargetList() + ")");
  return Status();
}

// Everything but the target, which kernelSpecFromC may leave for the caller to choose.
Status validateOptionsOtherThanTarget(const KernelSpec &spec) {
  TESSERA_RETURN_IF_ERROR(validateNumWarps(spec.numWarps));
  if (spec.numStages < 1)
    return invalidArgument("options.num_stages must be at least 1, got " +
                           std::to_string(spec.numStages));
  if (spec.flags != 0)
    return invalidArgument("options.flags is reserved and must be 0, got " +
                           std::to_string(spec.flags));
  return Status();
}

bool isCIdentifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Everything of a CUDA source spec but the target.
Status validateCudaOptionsOtherThanTarget(const CudaSourceSpec &spec) {
  if (spec.source.empty())
    return invalidArgument("source must not be empty");
  size_t nul = spec.source.find('\0');
  if (nul != std::string_view::npos)
    return invalidArgument("source has a NUL byte at offset " + std::to_string(nul) +
                           " (NVRTC reads it as a C string)");
  if (!isCIdentifier(spec.entry))
    return invalidArgument("options.entry must name an extern \"C\" __global__ function (a C "
                           "identifier), got '" +
                           spec.entry + "'");
  TESSERA_RETURN_IF_ERROR(validateNumWarps(spec.numWarps));
  if (spec.sharedBytes < 0)
    return invalidArgument("options.shared_bytes must be >= 0, got " +
                           std::to_string(spec.sharedBytes));
  for (size_t i = 0; i < spec.options.size(); ++i) {
    const std::string &option = spec.options[i];
    std::string name = "options.options[" + std::to_string(i) + "]";
    if (option.empty())
      return invalidArgument(name + " must not be empty");
    // The target is a field of its own: an architecture among the options would contradict it.
    for (std::string_view prefix : {"-arch", "--gpu-architecture"})
      if (option.compare(0, prefix.size(), prefix) == 0)
        return invalidArgument(name + " ('" + option +
                               "') sets the architecture: use options.target instead");
    // Headers found through the caller's paths are not in the key, so editing one would leave
    // cached binaries of the old text in service.
    for (std::string_view prefix : {"-I", "--include-path", "-include", "--pre-include"})
      if (option.compare(0, prefix.size(), prefix) == 0)
        return invalidArgument(name + " ('" + option +
                               "') adds headers that the kernel key cannot see: put their text "
                               "into the source");
  }
  return Status();
}

} // namespace

std::string withoutLocations(std::string_view ir) {
  std::string out;
  out.reserve(ir.size());
  size_t i = 0;
  while (i < ir.size()) {
    if (ir[i] == '"') {
      size_t end = skipStringLiteral(ir, i);
      out.append(ir.substr(i, end - i));
      i = end;
    } else if (ir.compare(i, 4, "loc(") == 0 && (i == 0 || !isIdentifierChar(ir[i - 1]))) {
      i = skipLocation(ir, i);
    } else {
      out.push_back(ir[i++]);
    }
  }
  return out;
}

bool isKnownTarget(std::string_view target) {
  for (std::string_view known : kKnownTargets)
    if (target == known)
      return true;
  return false;
}

const char *knownTargetList() { return "sm_80, sm_86, sm_89, sm_90, sm_90a"; }

std::string targetForComputeCapability(int major, int minor) {
  std::string target = "sm_" + std::to_string(major) + std::to_string(minor);
  if (major == 9 && minor == 0)
    target += "a";
  return target;
}

Status validateKernelSpec(const KernelSpec &spec) {
  TESSERA_RETURN_IF_ERROR(validateTarget(spec.target));
  return validateOptionsOtherThanTarget(spec);
}

StatusOr<KernelSpec> kernelSpecFromC(const char *tileIR, size_t tileIRSize,
                                     const tessera_compile_options *options, bool requireTarget) {
  if (!tileIR)
    return invalidArgument("tile_ir must not be NULL");
  if (tileIRSize == 0)
    return invalidArgument("tile_ir_size must be > 0 (tile_ir is empty)");
  if (!options)
    return invalidArgument("options must not be NULL");

  KernelSpec spec;
  spec.tileIR = std::string_view(tileIR, tileIRSize);
  spec.target = options->target ? options->target : "";
  spec.numWarps = options->num_warps;
  spec.numStages = options->num_stages;
  spec.flags = options->flags;
  if (spec.target.empty()) {
    if (requireTarget)
      return invalidArgument(std::string("options.target must be set (one of ") +
                             knownTargetList() + ")");
    TESSERA_RETURN_IF_ERROR(validateOptionsOtherThanTarget(spec));
    return spec;
  }
  TESSERA_RETURN_IF_ERROR(validateKernelSpec(spec));
  return spec;
}

Status validateCudaSourceSpec(const CudaSourceSpec &spec) {
  TESSERA_RETURN_IF_ERROR(validateCudaOptionsOtherThanTarget(spec));
  return validateTarget(spec.target);
}

StatusOr<CudaSourceSpec> cudaSourceSpecFromC(const char *source, size_t sourceSize,
                                             const tessera_cuda_options *options,
                                             bool requireTarget) {
  if (!source)
    return invalidArgument("source must not be NULL");
  if (sourceSize == 0)
    return invalidArgument("source_size must be > 0 (source is empty)");
  if (!options)
    return invalidArgument("options must not be NULL");
  if (!options->entry)
    return invalidArgument("options.entry must not be NULL");
  if (options->num_options > 0 && !options->options)
    return invalidArgument("options.options must not be NULL when options.num_options is " +
                           std::to_string(options->num_options));

  CudaSourceSpec spec;
  spec.source = std::string_view(source, sourceSize);
  spec.entry = options->entry;
  spec.target = options->target ? options->target : "";
  spec.numWarps = options->num_warps;
  spec.sharedBytes = options->shared_bytes;
  for (size_t i = 0; i < options->num_options; ++i) {
    if (!options->options[i])
      return invalidArgument("options.options[" + std::to_string(i) + "] must not be NULL");
    spec.options.emplace_back(options->options[i]);
  }
  TESSERA_RETURN_IF_ERROR(validateCudaOptionsOtherThanTarget(spec));
  if (spec.target.empty()) {
    if (requireTarget)
      return invalidArgument(std::string("options.target must be set (one of ") +
                             knownTargetList() + ")");
    return spec;
  }
  TESSERA_RETURN_IF_ERROR(validateTarget(spec.target));
  return spec;
}

std::string cudaSourceKey(const CudaSourceSpec &spec, std::string_view nvrtcVersion) {
  Sha256 hash;
  hash.update(kCudaKeyEncodingTag);
  hashField(hash, "source", spec.source);
  hashField(hash, "entry", spec.entry);
  // The count first, then each option as a field of its own: ["-DA", "-DB"] and ["-DA -DB"]
  // encode differently.
  hashField(hash, "num_options", std::to_string(spec.options.size()));
  for (const std::string &option : spec.options)
    hashField(hash, "option", option);
  hashField(hash, "target", spec.target);
  hashField(hash, "num_warps", std::to_string(spec.numWarps));
  hashField(hash, "shared_bytes", std::to_string(spec.sharedBytes));
  hashField(hash, "nvrtc_version", nvrtcVersion);
  Sha256::Digest digest = hash.finish();
  return toHex(digest.data(), digest.size());
}

std::string kernelKey(const KernelSpec &spec, std::string_view compilerVersion) {
  Sha256 hash;
  hash.update(kKeyEncodingTag);
  hashField(hash, "tile_ir", withoutLocations(spec.tileIR));
  hashField(hash, "num_warps", std::to_string(spec.numWarps));
  hashField(hash, "num_stages", std::to_string(spec.numStages));
  hashField(hash, "target", spec.target);
  hashField(hash, "flags", std::to_string(spec.flags));
  hashField(hash, "compiler_version", compilerVersion);
  Sha256::Digest digest = hash.finish();
  return toHex(digest.data(), digest.size());
}

} // namespace tessera::runtime
