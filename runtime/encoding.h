// Little-endian field encoding shared by the runtime's file formats (kernel cache entries,
// bundles): writers append to a string, and a Reader takes fields off the front of a byte range,
// checking at each read that the bytes are there, so malformed input is refused, never overread.
#ifndef TESSERA_RUNTIME_ENCODING_H
#define TESSERA_RUNTIME_ENCODING_H

#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::runtime {

inline void putU32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(char(v >> (8 * i)));
}
inline void putU64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(char(v >> (8 * i)));
}
// A string: its u64 size, then its bytes.
inline void putString(std::string &out, std::string_view s) {
  putU64(out, s.size());
  out.append(s);
}

class Reader {
public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool empty() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }

  bool u8(uint8_t &v) {
    if (rest_.empty())
      return false;
    v = uint8_t(rest_[0]);
    rest_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t &v) {
    uint64_t wide;
    if (!little(4, wide))
      return false;
    v = uint32_t(wide);
    return true;
  }
  bool i32(int32_t &v) {
    uint32_t bits;
    if (!u32(bits))
      return false;
    v = int32_t(bits);
    return true;
  }
  bool u64(uint64_t &v) { return little(8, v); }
  bool string(std::string &v) {
    uint64_t size;
    if (!u64(size) || size > rest_.size())
      return false;
    v.assign(rest_.data(), size_t(size));
    rest_.remove_prefix(size_t(size));
    return true;
  }

private:
  bool little(int width, uint64_t &v) {
    if (rest_.size() < size_t(width))
      return false;
    v = 0;
    for (int i = 0; i < width; ++i)
      v |= uint64_t(uint8_t(rest_[i])) << (8 * i);
    rest_.remove_prefix(width);
    return true;
  }

  std::string_view rest_;
};

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_ENCODING_H
