// The on-disk cache: round trips, atomic writes, and every way an entry can go bad.
#include "runtime/disk_cache.h"

#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tessera::runtime {
namespace {

using test::listDirectory;
using test::readFile;
using test::TempDir;
using test::writeFile;

const std::string kKey = "0a4c832da764b1d90a7e5a0bf45bab01a3fbe78ec013719ffb688d45a192e5b9";

KernelBinary sampleCubin() {
  KernelBinary binary;
  binary.kernelName = "matmul_kernel";
  binary.sharedBytes = 98304;
  binary.numWarps = 8;
  binary.numParams = 9;
  binary.kind = BinaryKind::Cubin;
  for (int i = 0; i < 1000; ++i) // every byte value, NULs included
    binary.data.push_back(char(i % 256));
  return binary;
}

void expectSameBinary(const KernelBinary &a, const KernelBinary &b) {
  EXPECT_EQ(a.kernelName, b.kernelName);
  EXPECT_EQ(a.sharedBytes, b.sharedBytes);
  EXPECT_EQ(a.numWarps, b.numWarps);
  EXPECT_EQ(a.numParams, b.numParams);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.data, b.data);
}

TEST(DiskCache, RoundTrip) {
  TempDir dir;
  DiskCache cache(dir.path() + "/nested/cache"); // created on first write
  EXPECT_FALSE(cache.read(kKey).has_value());

  ASSERT_TRUE(cache.tryWrite(kKey, sampleCubin()).ok());
  std::optional<KernelBinary> read = cache.read(kKey);
  ASSERT_TRUE(read.has_value());
  expectSameBinary(*read, sampleCubin());

  KernelBinary ptx;
  ptx.kernelName = "add";
  ptx.kind = BinaryKind::Ptx;
  ptx.data = ".version 8.0\n";
  ASSERT_TRUE(cache.tryWrite(kKey, ptx).ok()); // replaces the entry
  read = cache.read(kKey);
  ASSERT_TRUE(read.has_value());
  expectSameBinary(*read, ptx);
  EXPECT_STREQ(binaryKindName(read->kind), "ptx");
}

TEST(DiskCache, OneFilePerKeyAndNoTemporaryFilesLeft) {
  TempDir dir;
  DiskCache cache(dir.path());
  cache.write(kKey, sampleCubin());
  cache.write(kKey, sampleCubin());
  cache.write("other_key", sampleCubin());
  EXPECT_EQ(listDirectory(dir.path()),
            (std::set<std::string>{kKey + ".kernel", "other_key.kernel"}));
  EXPECT_FALSE(cache.warned());
}

// Many writers replace one entry while readers read it: a reader sees a complete entry or none,
// never a torn one (which read() would count as corrupt and delete).
TEST(DiskCache, ConcurrentWritersAndReaders) {
  TempDir dir;
  DiskCache cache(dir.path());
  std::atomic<bool> sawBadEntry{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      KernelBinary binary = sampleCubin();
      binary.data.resize(size_t(20000 + 5000 * t), char('a' + t));
      for (int i = 0; i < 50; ++i)
        EXPECT_TRUE(cache.tryWrite(kKey, binary).ok());
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::optional<KernelBinary> read = cache.read(kKey);
        if (read && read->kernelName != "matmul_kernel")
          sawBadEntry = true;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_FALSE(sawBadEntry);
  EXPECT_TRUE(cache.read(kKey).has_value()); // no reader found a torn entry and deleted it
  EXPECT_EQ(listDirectory(dir.path()), (std::set<std::string>{kKey + ".kernel"}));
}

TEST(DiskCache, TruncatedEntryIsDiscardedAndRebuilt) {
  TempDir dir;
  DiskCache cache(dir.path());
  std::string path = cache.entryPath(kKey);
  std::string full = DiskCache::serialize(kKey, sampleCubin());
  for (size_t length : {size_t(0), size_t(7), size_t(24), full.size() / 2, full.size() - 1}) {
    writeFile(path, full.substr(0, length));
    EXPECT_FALSE(cache.read(kKey).has_value()) << "length " << length;
    EXPECT_FALSE(std::filesystem::exists(path)) << "length " << length;
    // The caller then rebuilds the entry.
    ASSERT_TRUE(cache.tryWrite(kKey, sampleCubin()).ok());
    EXPECT_TRUE(cache.read(kKey).has_value());
  }
}

// A flipped bit anywhere (magic, version, checksum, size, metadata or binary) is detected.
TEST(DiskCache, EveryBitFlipIsDetected) {
  TempDir dir;
  DiskCache cache(dir.path());
  KernelBinary binary = sampleCubin();
  binary.data.resize(64);
  std::string full = DiskCache::serialize(kKey, binary);
  for (size_t offset = 0; offset < full.size(); ++offset) {
    std::string corrupt = full;
    corrupt[offset] = char(corrupt[offset] ^ (1 << (offset % 8)));
    EXPECT_FALSE(DiskCache::parse(kKey, corrupt).ok()) << "offset " << offset;
  }
  // Through the file system: the entry is discarded (deleted), not returned.
  std::string corrupt = full;
  corrupt[full.size() - 10] ^= 0x10;
  writeFile(cache.entryPath(kKey), corrupt);
  EXPECT_FALSE(cache.read(kKey).has_value());
  EXPECT_FALSE(std::filesystem::exists(cache.entryPath(kKey)));
}

TEST(DiskCache, WrongVersionIsRejected) {
  TempDir dir;
  DiskCache cache(dir.path());
  std::string entry = DiskCache::serialize(kKey, sampleCubin());
  entry[8] = char(DiskCache::kFormatVersion + 1); // the version field follows the 8-byte magic
  StatusOr<KernelBinary> parsed = DiskCache::parse(kKey, entry);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "cache entry has format version 2, expected 1");

  writeFile(cache.entryPath(kKey), entry);
  EXPECT_FALSE(cache.read(kKey).has_value());
  EXPECT_FALSE(std::filesystem::exists(cache.entryPath(kKey)));
}

TEST(DiskCache, EntryForAnotherKeyIsRejected) {
  TempDir dir;
  DiskCache cache(dir.path());
  writeFile(cache.entryPath("key_b"), DiskCache::serialize("key_a", sampleCubin()));
  EXPECT_FALSE(cache.read("key_b").has_value());
  EXPECT_EQ(DiskCache::parse("key_b", DiskCache::serialize("key_a", sampleCubin())).status().message(),
            "cache entry is for key key_a, not key_b");
}

TEST(DiskCache, ParseMessages) {
  EXPECT_EQ(DiskCache::parse(kKey, "short").status().message(),
            "truncated cache entry: 5 bytes, shorter than the header");
  EXPECT_EQ(DiskCache::parse(kKey, std::string(40, 'x')).status().message(),
            "not a tessera cache entry (bad magic)");
  EXPECT_EQ(DiskCache::parse(kKey, std::string(40, 'x')).status().code(), TESSERA_IO_ERROR);
}

TEST(DiskCache, KeysThatAreNotFileNamesAreRefused) {
  TempDir dir;
  DiskCache cache(dir.path());
  EXPECT_EQ(cache.tryWrite("../escape", sampleCubin()).code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_FALSE(cache.read("../escape").has_value());
  EXPECT_TRUE(listDirectory(dir.path()).empty());
}

// A cache directory that cannot be created (its parent is a file: this fails even for root)
// costs one warning, however many writes fail, and never an error.
TEST(DiskCache, UnwritableDirectoryWarnsOnce) {
  TempDir dir;
  writeFile(dir.path() + "/file", "not a directory");
  DiskCache cache(dir.path() + "/file/cache");

  Status status = cache.tryWrite(kKey, sampleCubin());
  EXPECT_EQ(status.code(), TESSERA_IO_ERROR);
  EXPECT_NE(status.message().find("cannot create directory '" + dir.path() + "/file/cache'"),
            std::string::npos)
      << status.message();

  testing::internal::CaptureStderr();
  cache.write(kKey, sampleCubin());
  cache.write(kKey, sampleCubin());
  cache.write("another", sampleCubin());
  std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(cache.warned());
  EXPECT_EQ(printed.find("tessera: warning: cannot write the kernel cache"), 0u) << printed;
  EXPECT_EQ(printed.find("tessera: warning", 1), std::string::npos) << printed;
  EXPECT_FALSE(cache.read(kKey).has_value());
}

TEST(DiskCache, DisabledWithoutDirectory) {
  DiskCache cache("");
  EXPECT_FALSE(cache.read(kKey).has_value());
  EXPECT_EQ(cache.tryWrite(kKey, sampleCubin()).code(), TESSERA_IO_ERROR);
}

TEST(DiskCache, DefaultDirectory) {
  {
    test::ScopedEnv dir("TESSERA_CACHE_DIR", "/somewhere/cache");
    EXPECT_EQ(DiskCache::defaultDirectory(), "/somewhere/cache");
  }
  test::ScopedEnv dir("TESSERA_CACHE_DIR", std::nullopt);
  test::ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(DiskCache::defaultDirectory(), "/home/someone/.cache/tessera");
  test::ScopedEnv empty("TESSERA_CACHE_DIR", "");
  EXPECT_EQ(DiskCache::defaultDirectory(), "/home/someone/.cache/tessera");
}

} // namespace
} // namespace tessera::runtime
