#include "runtime/bundle.h"

#include "runtime/encoding.h"
#include "runtime/kernel_spec.h"
#include "runtime/sha256.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tessera::runtime {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'R', 'B', 'U', 'N', 'D', 'L'};
constexpr size_t kDigestSize = 32;
constexpr size_t kHeaderSize = sizeof(kMagic) + 4 + 4 + 8 + kDigestSize;
// The fewest payload bytes one kernel or one tuning record can take (its empty strings' sizes and
// its integers): a count above remaining / this is malformed, whatever the checksum says, and is
// refused before anything is allocated for it.
constexpr uint64_t kMinKernelBytes = 5 * 8 + 2 * 4;
constexpr uint64_t kMinTuningBytes = 3 * 8 + 8;
constexpr uint64_t kMinOpBytes = 2 * 8;
constexpr uint32_t kFirstFormatWithOps = 2;

Sha256::Digest digestOf(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.finish();
}

uint64_t bitsOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

double doubleOf(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

Status malformed(const std::string &what) { return ioError("malformed bundle: " + what); }

bool isPowerOfTwo(int32_t v) { return v > 0 && (v & (v - 1)) == 0; }

StatusOr<BundleKernel> parseKernel(Reader &reader, uint64_t index) {
  BundleKernel kernel;
  std::string entry;
  if (!(reader.string(kernel.name) && reader.string(kernel.tileIR) &&
        reader.string(kernel.target) && reader.i32(kernel.numWarps) &&
        reader.i32(kernel.numStages) && reader.string(kernel.key) && reader.string(entry)))
    return malformed("kernel " + std::to_string(index) + " is truncated");
  std::string which = "kernel " + std::to_string(index) + " ('" + kernel.name + "')";
  if (kernel.name.empty())
    return malformed("kernel " + std::to_string(index) + " has an empty name");
  if (!isKnownTarget(kernel.target))
    return malformed(which + " has an unknown target '" + kernel.target + "'");
  if (!isPowerOfTwo(kernel.numWarps) || kernel.numWarps > 32 || kernel.numStages < 1)
    return malformed(which + " has invalid options: num_warps " +
                     std::to_string(kernel.numWarps) + ", num_stages " +
                     std::to_string(kernel.numStages));
  StatusOr<KernelBinary> binary = DiskCache::parse(kernel.key, entry);
  if (!binary.ok())
    return malformed(which + ": " + binary.status().message());
  if (binary->numWarps != kernel.numWarps)
    return malformed(which + ": its binary is for " + std::to_string(binary->numWarps) +
                     " warps, not " + std::to_string(kernel.numWarps));
  kernel.binary = std::move(binary).value();
  return kernel;
}

} // namespace

std::string serializeBundle(const Bundle &bundle) {
  std::string payload;
  putString(payload, bundle.compilerVersion);
  putString(payload, bundle.description);
  putU64(payload, bundle.kernels.size());
  for (const BundleKernel &kernel : bundle.kernels) {
    putString(payload, kernel.name);
    putString(payload, kernel.tileIR);
    putString(payload, kernel.target);
    putU32(payload, uint32_t(kernel.numWarps));
    putU32(payload, uint32_t(kernel.numStages));
    putString(payload, kernel.key);
    putString(payload, DiskCache::serialize(kernel.key, kernel.binary));
  }
  putU64(payload, bundle.tuning.size());
  for (const BundleTuning &record : bundle.tuning) {
    putString(payload, record.kernel);
    putString(payload, record.key);
    putString(payload, record.config);
    putU64(payload, bitsOf(record.milliseconds));
  }
  putU64(payload, bundle.ops.size());
  for (const BundleOp &op : bundle.ops) {
    putString(payload, op.op);
    putString(payload, op.record);
  }

  std::string bytes(kMagic, sizeof(kMagic));
  putU32(bytes, kBundleFormatVersion);
  putU32(bytes, 0);
  putU64(bytes, payload.size());
  Sha256::Digest digest = digestOf(payload);
  bytes.append(reinterpret_cast<const char *>(digest.data()), digest.size());
  bytes += payload;
  return bytes;
}

StatusOr<Bundle> parseBundle(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return ioError("not a tessera bundle (it does not start with \"TSRBUNDL\")");
  if (bytes.size() < kHeaderSize)
    return ioError("truncated bundle: " + std::to_string(bytes.size()) +
                   " bytes, shorter than its " + std::to_string(kHeaderSize) + "-byte header");
  Reader header(bytes.substr(sizeof(kMagic), kHeaderSize - sizeof(kMagic)));
  uint32_t version = 0, reserved = 0;
  uint64_t payloadSize = 0;
  (void)(header.u32(version) && header.u32(reserved) && header.u64(payloadSize));
  if (version < 1 || version > kBundleFormatVersion)
    return ioError("bundle format version " + std::to_string(version) + " is not supported (this "
                   "runtime reads versions 1 to " + std::to_string(kBundleFormatVersion) + ")");
  if (reserved != 0)
    return malformed("reserved header field is " + std::to_string(reserved) + ", not 0");
  std::string_view payload = bytes.substr(kHeaderSize);
  if (payload.size() != payloadSize)
    return ioError((payload.size() < payloadSize ? "truncated bundle: header announces "
                                                 : "bundle has trailing bytes: header announces ") +
                   std::to_string(payloadSize) + " payload bytes, found " +
                   std::to_string(payload.size()));
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // the fuzzer mutates payloads past the checksum
  Sha256::Digest digest = digestOf(payload);
  if (std::memcmp(digest.data(), bytes.data() + kHeaderSize - kDigestSize, kDigestSize) != 0)
    return ioError("bundle checksum mismatch: the file is corrupt");
#endif

  Reader reader(payload);
  Bundle bundle;
  uint64_t count = 0;
  if (!(reader.string(bundle.compilerVersion) && reader.string(bundle.description) &&
        reader.u64(count)))
    return malformed("its preamble is truncated");
  if (count > reader.remaining() / kMinKernelBytes)
    return malformed("it announces " + std::to_string(count) + " kernels in " +
                     std::to_string(reader.remaining()) + " bytes");
  bundle.kernels.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    StatusOr<BundleKernel> kernel = parseKernel(reader, i);
    if (!kernel.ok())
      return kernel.status();
    bundle.kernels.push_back(std::move(kernel).value());
  }
  if (!reader.u64(count))
    return malformed("the tuning table is missing");
  if (count > reader.remaining() / kMinTuningBytes)
    return malformed("it announces " + std::to_string(count) + " tuning records in " +
                     std::to_string(reader.remaining()) + " bytes");
  bundle.tuning.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    BundleTuning record;
    uint64_t bits = 0;
    if (!(reader.string(record.kernel) && reader.string(record.key) &&
          reader.string(record.config) && reader.u64(bits)))
      return malformed("tuning record " + std::to_string(i) + " is truncated");
    record.milliseconds = doubleOf(bits);
    if (!(record.milliseconds >= 0)) // also refuses NaN
      return malformed("tuning record " + std::to_string(i) + " has time " +
                       std::to_string(record.milliseconds));
    bundle.tuning.push_back(std::move(record));
  }
  if (version >= kFirstFormatWithOps) {
    if (!reader.u64(count))
      return malformed("the op records are missing");
    if (count > reader.remaining() / kMinOpBytes)
      return malformed("it announces " + std::to_string(count) + " op records in " +
                       std::to_string(reader.remaining()) + " bytes");
    bundle.ops.reserve(size_t(count));
    for (uint64_t i = 0; i < count; ++i) {
      BundleOp op;
      if (!(reader.string(op.op) && reader.string(op.record)))
        return malformed("op record " + std::to_string(i) + " is truncated");
      if (op.op.empty())
        return malformed("op record " + std::to_string(i) + " has an empty op name");
      bundle.ops.push_back(std::move(op));
    }
  }
  if (!reader.empty())
    return malformed(std::to_string(reader.remaining()) + " bytes follow the " +
                     (version >= kFirstFormatWithOps ? "op records" : "tuning table"));
  return bundle;
}

Status writeBundleFile(const std::string &path, const Bundle &bundle) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    std::string bytes = serializeBundle(bundle);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out)
      return ioError("cannot write bundle " + temporary + ": " + std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    Status status = ioError("cannot rename " + temporary + " to " + path + ": " +
                            std::strerror(errno));
    std::remove(temporary.c_str());
    return status;
  }
  return Status();
}

StatusOr<Bundle> readBundleFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return errno == ENOENT ? notFound("no bundle at " + path)
                           : ioError("cannot open bundle " + path + ": " + std::strerror(errno));
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (in.bad())
    return ioError("cannot read bundle " + path);
  StatusOr<Bundle> bundle = parseBundle(bytes.str());
  if (!bundle.ok())
    return ioError("bundle " + path + ": " + bundle.status().message());
  return bundle;
}

} // namespace tessera::runtime
