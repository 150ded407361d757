#include "runtime/disk_cache.h"

#include "runtime/encoding.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace tessera::runtime {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'R', 'K', 'R', 'N', 'L', '\0'};
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8; // magic, version, crc32, body size
constexpr const char *kEntrySuffix = ".kernel";

// Keys become file names: accept only what kernelKey produces (and the like), never a path.
bool isSafeKey(std::string_view key) {
  if (key.empty() || key.size() > 128)
    return false;
  for (char c : key) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

uint32_t checksum(std::string_view bytes) {
  return uint32_t(crc32_z(0, reinterpret_cast<const Bytef *>(bytes.data()), bytes.size()));
}

// ---- file helpers ------------------------------------------------------------------------------

std::string errnoText() { return std::strerror(errno); }

bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

bool readAll(int fd, std::string &out) {
  struct stat info;
  if (fstat(fd, &info) != 0)
    return false;
  out.resize(size_t(info.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // the file shrank under us: parse() will find it truncated
    done += size_t(n);
  }
  out.resize(done);
  return true;
}

// Makes a rename durable across a crash. Best effort: the entry is already correct for every
// other process, and a lost rename only means a later recompile.
void syncDirectory(const std::string &directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    ::close(fd);
  }
}

} // namespace

const char *binaryKindName(BinaryKind kind) {
  return kind == BinaryKind::Cubin ? "cubin" : "ptx";
}

DiskCache::DiskCache(std::string directory) : directory_(std::move(directory)) {}

std::string DiskCache::defaultDirectory() {
  if (const char *dir = std::getenv("TESSERA_CACHE_DIR"); dir && *dir)
    return dir;
  const char *home = std::getenv("HOME");
  if (!home || !*home) {
    // Services often run without HOME; the password database still knows the home directory.
    struct passwd *entry = getpwuid(getuid());
    home = entry ? entry->pw_dir : nullptr;
  }
  if (!home || !*home)
    return "";
  return std::string(home) + "/.cache/tessera";
}

std::string DiskCache::entryPath(std::string_view key) const {
  return directory_ + "/" + std::string(key) + kEntrySuffix;
}

std::string DiskCache::serialize(std::string_view key, const KernelBinary &binary) {
  std::string body;
  body.reserve(binary.data.size() + binary.kernelName.size() + key.size() + 64);
  putString(body, key);
  putString(body, binary.kernelName);
  putU32(body, uint32_t(binary.sharedBytes));
  putU32(body, uint32_t(binary.numWarps));
  putU32(body, uint32_t(binary.numParams));
  body.push_back(char(binary.kind));
  putString(body, binary.data);

  std::string entry(kMagic, sizeof(kMagic));
  putU32(entry, kFormatVersion);
  putU32(entry, checksum(body));
  putU64(entry, body.size());
  entry += body;
  return entry;
}

StatusOr<KernelBinary> DiskCache::parse(std::string_view key, std::string_view bytes) {
  if (bytes.size() < kHeaderSize)
    return ioError("truncated cache entry: " + std::to_string(bytes.size()) +
                   " bytes, shorter than the header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return ioError("not a tessera cache entry (bad magic)");

  Reader header(bytes.substr(sizeof(kMagic), kHeaderSize - sizeof(kMagic)));
  uint32_t version = 0, expectedChecksum = 0;
  uint64_t bodySize = 0;
  (void)(header.u32(version) && header.u32(expectedChecksum) && header.u64(bodySize));
  if (version != kFormatVersion)
    return ioError("cache entry has format version " + std::to_string(version) + ", expected " +
                   std::to_string(kFormatVersion));
  std::string_view body = bytes.substr(kHeaderSize);
  if (body.size() != bodySize)
    return ioError("truncated cache entry: header announces " + std::to_string(bodySize) +
                   " body bytes, file holds " + std::to_string(body.size()));
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // the fuzzer mutates bodies past the checksum
  if (checksum(body) != expectedChecksum)
    return ioError("cache entry checksum mismatch (corrupt file)");
#endif

  Reader reader(body);
  std::string storedKey;
  KernelBinary binary;
  uint8_t kind = 0;
  bool complete = reader.string(storedKey) && reader.string(binary.kernelName) &&
                  reader.i32(binary.sharedBytes) && reader.i32(binary.numWarps) &&
                  reader.i32(binary.numParams) && reader.u8(kind) && reader.string(binary.data) &&
                  reader.empty();
  // The checksum passed, so a malformed body was written that way: still reject it.
  if (!complete)
    return ioError("malformed cache entry body");
  if (storedKey != key)
    return ioError("cache entry is for key " + storedKey + ", not " + std::string(key));
  if (kind != uint8_t(BinaryKind::Cubin) && kind != uint8_t(BinaryKind::Ptx))
    return ioError("cache entry has unknown binary kind " + std::to_string(kind));
  if (binary.kernelName.empty() || binary.sharedBytes < 0 || binary.numWarps < 1 ||
      binary.numParams < 0)
    return ioError("cache entry has invalid kernel metadata");
  binary.kind = BinaryKind(kind);
  return binary;
}

std::optional<KernelBinary> DiskCache::read(const std::string &key) const {
  if (directory_.empty() || !isSafeKey(key))
    return std::nullopt;
  std::string path = entryPath(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt; // usually ENOENT: not cached yet
  std::string bytes;
  bool readOk = readAll(fd, bytes);
  StatusOr<KernelBinary> entry =
      readOk ? parse(key, bytes) : StatusOr<KernelBinary>(ioError("read failed"));
  if (!entry.ok()) {
    // Delete the bad entry so that the rebuilt one replaces it, but only if the name still points
    // at the file we read: another process may have renamed a good entry over it meanwhile.
    struct stat opened, current;
    if (fstat(fd, &opened) == 0 && ::stat(path.c_str(), &current) == 0 &&
        opened.st_dev == current.st_dev && opened.st_ino == current.st_ino)
      (void)::unlink(path.c_str());
    ::close(fd);
    return std::nullopt;
  }
  ::close(fd);
  return std::move(entry).value();
}

Status DiskCache::tryWrite(const std::string &key, const KernelBinary &binary) const {
  if (directory_.empty())
    return ioError("no cache directory (neither TESSERA_CACHE_DIR nor HOME is set)");
  if (!isSafeKey(key))
    return invalidArgument("cache key '" + key + "' is not a plain file name");

  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error)
    return ioError("cannot create directory '" + directory_ + "': " + error.message());

  // The temporary file lives in the cache directory itself, so that rename() is atomic (same
  // file system) and readers, who only open "<key>.kernel", never see it.
  std::string tempPath = entryPath(key) + ".tmp.XXXXXX";
  int fd = mkostemp(tempPath.data(), O_CLOEXEC);
  if (fd < 0)
    return ioError("cannot create a file in '" + directory_ + "': " + errnoText());

  auto fail = [&](const char *what) {
    Status status = ioError(std::string(what) + " '" + tempPath + "' failed: " + errnoText());
    if (fd >= 0)
      ::close(fd);
    ::unlink(tempPath.c_str());
    return status;
  };
  // mkostemp creates the file 0600; the cache may be shared by the users of one machine.
  if (fchmod(fd, 0644) != 0)
    return fail("fchmod");
  if (!writeAll(fd, serialize(key, binary)))
    return fail("write");
  if (fsync(fd) != 0)
    return fail("fsync");
  int closeResult = ::close(fd);
  fd = -1;
  if (closeResult != 0)
    return fail("close");
  if (std::rename(tempPath.c_str(), entryPath(key).c_str()) != 0)
    return fail("rename");
  syncDirectory(directory_);
  return Status();
}

void DiskCache::write(const std::string &key, const KernelBinary &binary) {
  Status status = tryWrite(key, binary);
  if (status.ok() || warned_.exchange(true))
    return;
  std::fprintf(stderr,
               "tessera: warning: cannot write the kernel cache: %s; compiled kernels will not be "
               "cached on disk (set TESSERA_CACHE_DIR to a writable directory)\n",
               status.message().c_str());
}

} // namespace tessera::runtime
