// SHA-256 against the FIPS 180-4 / NIST example vectors and padding boundaries.
#include "runtime/sha256.h"

#include <gtest/gtest.h>

#include <random>

namespace tessera::runtime {
namespace {

TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
                      "qklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// 55 bytes leave room for the length in the last block; 56 and 64 need an extra block.
TEST(Sha256, PaddingBoundaries) {
  EXPECT_EQ(sha256Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, IncrementalUpdatesMatchOneShot) {
  std::mt19937 random(42);
  std::string data(5000, '\0');
  for (char &c : data)
    c = char(random());
  std::string expected = sha256Hex(data);
  for (int trial = 0; trial < 20; ++trial) {
    Sha256 hash;
    size_t offset = 0;
    while (offset < data.size()) {
      size_t chunk = std::min<size_t>(random() % 130, data.size() - offset);
      hash.update(data.data() + offset, chunk);
      offset += chunk;
    }
    Sha256::Digest digest = hash.finish();
    EXPECT_EQ(toHex(digest.data(), digest.size()), expected);
  }
}

TEST(Sha256, ResetStartsOver) {
  Sha256 hash;
  hash.update("garbage");
  (void)hash.finish();
  hash.reset();
  hash.update("abc");
  Sha256::Digest digest = hash.finish();
  EXPECT_EQ(toHex(digest.data(), digest.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

} // namespace
} // namespace tessera::runtime
