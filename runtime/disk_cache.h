// The on-disk kernel cache: one file per kernel key in a directory that many processes may share.
//
// Each entry is written to a temporary file in the same directory, fsync'd and renamed over the
// final name, so a reader sees either no entry or a complete one, never a partial write. Entries
// carry a format version and a checksum; one that is truncated, corrupt, of another version or
// for another key is deleted and reported as a miss, so the caller rebuilds it.
//
// The cache is an optimisation: nothing here fails its caller. A directory that cannot be written
// costs one warning on stderr, after which kernels are compiled in every process.
#ifndef TESSERA_RUNTIME_DISK_CACHE_H
#define TESSERA_RUNTIME_DISK_CACHE_H

#include "runtime/status.h"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::runtime {

enum class BinaryKind : uint8_t { Cubin = 1, Ptx = 2 };
const char *binaryKindName(BinaryKind kind); // "cubin" or "ptx"

// A compiled kernel as the runtime loads it: the binary plus what a launch needs to know.
struct KernelBinary {
  std::string kernelName; // the entry point, for cuModuleGetFunction
  int32_t sharedBytes = 0; // dynamic shared memory per block
  int32_t numWarps = 4;    // block size is 32 * numWarps
  int32_t numParams = 0;
  BinaryKind kind = BinaryKind::Ptx;
  std::string data; // cubin bytes or PTX text
};

class DiskCache {
public:
  // Version of the entry format below; an entry of any other version is discarded.
  static constexpr uint32_t kFormatVersion = 1;

  // An empty directory disables the cache.
  explicit DiskCache(std::string directory);

  // $TESSERA_CACHE_DIR when set and non-empty, else $HOME/.cache/tessera ("" when neither is known).
  static std::string defaultDirectory();

  const std::string &directory() const { return directory_; }
  // <directory>/<key>.kernel
  std::string entryPath(std::string_view key) const;

  // The entry for `key`, or nullopt when there is none or it was bad (and is now deleted).
  std::optional<KernelBinary> read(const std::string &key) const;

  // Stores the entry, replacing any existing one atomically. On failure warns once on stderr and
  // carries on: the caller has its binary either way.
  void write(const std::string &key, const KernelBinary &binary);

  // write() without the warning: IO_ERROR says what failed. For tests and for callers that want
  // the reason.
  Status tryWrite(const std::string &key, const KernelBinary &binary) const;

  // The entry format, exposed for tests. All integers little-endian:
  //   magic "TSRKRNL\0" (8 bytes) | u32 format version | u32 crc32 of the body | u64 body size |
  //   body: str key | str kernel name | i32 shared bytes | i32 num warps | i32 num params |
  //         u8 binary kind | str binary          (str = u64 size, then the bytes)
  static std::string serialize(std::string_view key, const KernelBinary &binary);
  // The entry in `bytes`, or IO_ERROR saying why it is not a valid entry for `key`.
  static StatusOr<KernelBinary> parse(std::string_view key, std::string_view bytes);

  // True once a write failed and the warning was printed.
  bool warned() const { return warned_.load(); }

private:
  std::string directory_;
  std::atomic<bool> warned_{false};
};

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_DISK_CACHE_H
