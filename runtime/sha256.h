// SHA-256 (FIPS 180-4), used for kernel identities: a cache key must not collide, even for
// adversarially similar inputs, and must be the same on every machine and in every process.
#ifndef TESSERA_RUNTIME_SHA256_H
#define TESSERA_RUNTIME_SHA256_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::runtime {

class Sha256 {
public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void update(const void *data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // Pads, returns the digest and leaves the object unusable until reset() (as a consumed hash).
  Digest finish();
  void reset();

private:
  void compressBlock(const uint8_t *block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_; // the partial block not yet compressed
  size_t bufferSize_ = 0;
  uint64_t totalBytes_ = 0;
};

// Lower-case hexadecimal of `bytes`.
std::string toHex(const uint8_t *bytes, size_t size);

// The 64-character lower-case hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_SHA256_H
