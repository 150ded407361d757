// libFuzzer target for the bundle reader: any bytes must parse or be refused with a status, never
// crash, hang or read out of bounds. scripts/test.sh builds it with clang (-fsanitize=fuzzer,
// address,undefined) and runs it for a bounded time from a seed bundle (make_bundle_seed.cpp).
// The build defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which skips the checksums so that
// mutated payloads reach the parser behind them.
#include "runtime/bundle.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  tessera::runtime::StatusOr<tessera::runtime::Bundle> bundle =
      tessera::runtime::parseBundle(bytes);
  if (bundle.ok()) // a bundle that parses serializes to a bundle that parses
    (void)tessera::runtime::parseBundle(tessera::runtime::serializeBundle(*bundle)).ok();
  return 0;
}
