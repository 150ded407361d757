// The bundle file format: round trips, and every kind of damage refused with a message that says
// what is wrong (truncation at any length, any flipped bit, another version, bad contents).
#include "runtime/bundle.h"
#include "runtime/encoding.h"
#include "runtime/sha256.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tessera::runtime {
namespace {

KernelBinary binaryWith(std::string name, int32_t numWarps) {
  KernelBinary binary;
  binary.kernelName = std::move(name);
  binary.sharedBytes = 65536;
  binary.numWarps = numWarps;
  binary.numParams = 5;
  binary.kind = BinaryKind::Cubin;
  for (int i = 0; i < 300; ++i) // every byte value, NULs included
    binary.data.push_back(char(i % 256));
  return binary;
}

Bundle sampleBundle() {
  Bundle bundle;
  bundle.compilerVersion = "0.1.0+0123456789abcdef";
  bundle.description = "ops: matmul bf16 4096^3; sm_90a";
  bundle.kernels.push_back({"matmul_kernel", "module { tile IR }", "sm_90a", 8, 4,
                            std::string(64, 'a'), binaryWith("matmul_kernel", 8)});
  BundleKernel ptx{"add_kernel", "module { add }", "sm_80", 4, 3, std::string(64, 'b'),
                   binaryWith("add_kernel", 4)};
  ptx.binary.kind = BinaryKind::Ptx;
  ptx.binary.data = ".version 8.0\n.target sm_80\n";
  bundle.kernels.push_back(ptx);
  bundle.tuning.push_back({"matmul_kernel-0123456789abcdef", "[4096, 4096, \"bf16\"]",
                           "{\"BLOCK_M\": 128, \"num_warps\": 8}", 0.1789});
  bundle.ops.push_back({"matmul", "{\"kind\": \"case\", \"kernel\": \"matmul_kernel\"}"});
  return bundle;
}

// `bytes` (a serialized bundle) with its payload replaced by `payload` and the header's size and
// checksum made to match: contents that only the content checks stand against.
std::string withPayload(const std::string &bytes, const std::string &payload, uint32_t version) {
  std::string header = bytes.substr(0, 8);
  putU32(header, version);
  putU32(header, 0);
  putU64(header, payload.size());
  Sha256 hash;
  hash.update(payload);
  Sha256::Digest digest = hash.finish();
  return header + std::string(reinterpret_cast<const char *>(digest.data()), 32) + payload;
}

void expectSame(const Bundle &a, const Bundle &b) {
  EXPECT_EQ(a.compilerVersion, b.compilerVersion);
  EXPECT_EQ(a.description, b.description);
  ASSERT_EQ(a.kernels.size(), b.kernels.size());
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    const BundleKernel &x = a.kernels[i], &y = b.kernels[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.tileIR, y.tileIR);
    EXPECT_EQ(x.target, y.target);
    EXPECT_EQ(x.numWarps, y.numWarps);
    EXPECT_EQ(x.numStages, y.numStages);
    EXPECT_EQ(x.key, y.key);
    EXPECT_EQ(x.binary.kernelName, y.binary.kernelName);
    EXPECT_EQ(x.binary.data, y.binary.data);
    EXPECT_EQ(x.binary.kind, y.binary.kind);
    EXPECT_EQ(x.binary.sharedBytes, y.binary.sharedBytes);
    EXPECT_EQ(x.binary.numParams, y.binary.numParams);
  }
  ASSERT_EQ(a.tuning.size(), b.tuning.size());
  for (size_t i = 0; i < a.tuning.size(); ++i) {
    EXPECT_EQ(a.tuning[i].kernel, b.tuning[i].kernel);
    EXPECT_EQ(a.tuning[i].key, b.tuning[i].key);
    EXPECT_EQ(a.tuning[i].config, b.tuning[i].config);
    EXPECT_EQ(a.tuning[i].milliseconds, b.tuning[i].milliseconds);
  }
  ASSERT_EQ(a.ops.size(), b.ops.size());
  for (size_t i = 0; i < a.ops.size(); ++i) {
    EXPECT_EQ(a.ops[i].op, b.ops[i].op);
    EXPECT_EQ(a.ops[i].record, b.ops[i].record);
  }
}

constexpr size_t kHeader = 56; // magic, version, reserved, payload size, SHA-256

std::string errorOf(std::string_view bytes) {
  StatusOr<Bundle> parsed = parseBundle(bytes);
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok())
    return "";
  EXPECT_EQ(parsed.status().code(), TESSERA_IO_ERROR);
  return parsed.status().message();
}

TEST(Bundle, RoundTrip) {
  Bundle bundle = sampleBundle();
  StatusOr<Bundle> parsed = parseBundle(serializeBundle(bundle));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  expectSame(bundle, *parsed);

  Bundle empty;
  StatusOr<Bundle> parsedEmpty = parseBundle(serializeBundle(empty));
  ASSERT_TRUE(parsedEmpty.ok()) << parsedEmpty.status().toString();
  EXPECT_TRUE(parsedEmpty->kernels.empty() && parsedEmpty->tuning.empty());
}

TEST(Bundle, EveryTruncationIsRefused) {
  const std::string bytes = serializeBundle(sampleBundle());
  for (size_t size = 0; size < bytes.size(); ++size)
    EXPECT_FALSE(parseBundle(std::string_view(bytes).substr(0, size)).ok()) << size;
  EXPECT_EQ(errorOf(bytes.substr(0, bytes.size() - 1)),
            "truncated bundle: header announces " + std::to_string(bytes.size() - kHeader) +
                " payload bytes, found " + std::to_string(bytes.size() - kHeader - 1));
  EXPECT_EQ(errorOf(bytes.substr(0, 20)),
            "truncated bundle: 20 bytes, shorter than its 56-byte header");
}

TEST(Bundle, EveryFlippedBitIsRefused) {
  const std::string bytes = serializeBundle(sampleBundle());
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; bit += 3) {
      std::string damaged = bytes;
      damaged[i] = char(damaged[i] ^ (1 << bit));
      EXPECT_FALSE(parseBundle(damaged).ok()) << "byte " << i << " bit " << bit;
    }
  std::string damaged = bytes;
  damaged[bytes.size() - 5] ^= 0x40;
  EXPECT_EQ(errorOf(damaged), "bundle checksum mismatch: the file is corrupt");
}

TEST(Bundle, HeaderErrorsAreNamed) {
  std::string bytes = serializeBundle(sampleBundle());
  EXPECT_EQ(errorOf("GIF89a..."), "not a tessera bundle (it does not start with \"TSRBUNDL\")");
  std::string otherVersion = bytes;
  otherVersion[8] = 3;
  EXPECT_EQ(errorOf(otherVersion),
            "bundle format version 3 is not supported (this runtime reads versions 1 to 2)");
  EXPECT_NE(errorOf(bytes + "x").find("trailing bytes"), std::string::npos);
}

// Contents that pass the checksum (as a buggy or hostile writer could produce) are still checked.
TEST(Bundle, BadContentsAreRefused) {
  Bundle unknownTarget = sampleBundle();
  unknownTarget.kernels[0].target = "sm_12";
  EXPECT_EQ(errorOf(serializeBundle(unknownTarget)),
            "malformed bundle: kernel 0 ('matmul_kernel') has an unknown target 'sm_12'");
  Bundle badWarps = sampleBundle();
  badWarps.kernels[1].numWarps = 3;
  EXPECT_NE(errorOf(serializeBundle(badWarps)).find("invalid options: num_warps 3"),
            std::string::npos);
  Bundle mismatchedWarps = sampleBundle();
  mismatchedWarps.kernels[0].numWarps = 4;
  EXPECT_NE(errorOf(serializeBundle(mismatchedWarps)).find("binary is for 8 warps, not 4"),
            std::string::npos);
  Bundle badTime = sampleBundle();
  badTime.tuning[0].milliseconds = -1;
  EXPECT_NE(errorOf(serializeBundle(badTime)).find("tuning record 0 has time"),
            std::string::npos);
}

// Version 1 bundles (before op records) are still read; a version 2 bundle must have its op
// records' count.
TEST(Bundle, VersionOneHasNoOpRecords) {
  Bundle bundle = sampleBundle();
  bundle.ops.clear();
  std::string bytes = serializeBundle(bundle);
  std::string payload = bytes.substr(kHeader, bytes.size() - kHeader - 8); // less the op count
  StatusOr<Bundle> parsed = parseBundle(withPayload(bytes, payload, 1));
  ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
  expectSame(bundle, *parsed);
  EXPECT_EQ(errorOf(withPayload(bytes, payload, 2)), "malformed bundle: the op records are missing");
  Bundle unnamed = sampleBundle();
  unnamed.ops[0].op.clear();
  EXPECT_EQ(errorOf(serializeBundle(unnamed)), "malformed bundle: op record 0 has an empty op name");
}

TEST(Bundle, HugeCountsAreRefusedBeforeAllocating) {
  Bundle bundle;
  std::string bytes = serializeBundle(bundle);
  // The kernel count sits after the two empty strings (2 x 8 bytes) of the payload; patch it to
  // 2^60 and fix the checksum, so that only the count check stands in the way.
  std::string payload = bytes.substr(kHeader);
  for (int i = 0; i < 8; ++i)
    payload[16 + i] = char(i == 7 ? 0x10 : 0);
  EXPECT_NE(errorOf(withPayload(bytes, payload, kBundleFormatVersion))
                .find("announces 1152921504606846976 kernels in 16 bytes"),
            std::string::npos);
}

TEST(Bundle, Files) {
  test::TempDir dir;
  std::string path = dir.path() + "/ops.tbundle";
  ASSERT_TRUE(writeBundleFile(path, sampleBundle()).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  StatusOr<Bundle> read = readBundleFile(path);
  ASSERT_TRUE(read.ok()) << read.status().toString();
  expectSame(sampleBundle(), *read);

  EXPECT_EQ(readBundleFile(dir.path() + "/missing").status().code(), TESSERA_NOT_FOUND);
  std::string bytes = test::readFile(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  StatusOr<Bundle> truncated = readBundleFile(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().message().rfind("bundle " + path + ": truncated bundle", 0), 0u)
      << truncated.status().message();
}

} // namespace
} // namespace tessera::runtime
