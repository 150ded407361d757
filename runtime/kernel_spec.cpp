#include "runtime/kernel_spec.h"

#include "runtime/sha256.h"

#include <algorithm>
#include <cctype>

namespace tessera::runtime {
namespace {

constexpr std::string_view kKnownTargets[] = {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"};

// Bumped whenever the encoding below changes, so old and new keys can never coincide.
constexpr std::string_view kKeyEncodingTag = "tessera-kernel-key/2";

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

// Everything but the target, which kernelSpecFromC may leave for the caller to choose.
Status validateOptionsOtherThanTarget(const KernelSpec &spec) {
  bool powerOfTwo = spec.numWarps > 0 && (spec.numWarps & (spec.numWarps - 1)) == 0;
  if (!powerOfTwo || spec.numWarps > 32)
    return invalidArgument("options.num_warps must be a power of two from 1 to 32, got " +
                           std::to_string(spec.numWarps));
  if (spec.numStages < 1)
    return invalidArgument("options.num_stages must be at least 1, got " +
                           std::to_string(spec.numStages));
  if (spec.flags != 0)
    return invalidArgument("options.flags is reserved and must be 0, got " +
                           std::to_string(spec.flags));
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
  if (!isKnownTarget(spec.target))
    return invalidArgument("options.target '" + spec.target + "' is not a known target (" +
                           knownTargetList() + ")");
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
