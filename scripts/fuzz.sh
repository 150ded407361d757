#!/usr/bin/env bash
# Builds the libFuzzer target of the bundle reader (test/fuzz/bundle_fuzzer.cpp) with clang and
# runs it for a bounded time from a seed bundle; exits non-zero on any crash, hang, sanitizer
# report or build failure. scripts/test.sh runs it as its "fuzz" tier.
#
# Usage: scripts/fuzz.sh [seconds]   (default $TESSERA_FUZZ_SECONDS, else 60)
# Environment: BUILD_DIR (default build; the fuzzer goes to $BUILD_DIR/fuzz), CLANGXX (default
# clang++), CUDA_HOME (default /usr/local/cuda, for cuda.h's types).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="$build/fuzz"
seconds="${1:-${TESSERA_FUZZ_SECONDS:-60}}"
clangxx="${CLANGXX:-clang++}"
cuda="${CUDA_HOME:-/usr/local/cuda}"

command -v "$clangxx" >/dev/null 2>&1 || { echo "fuzz.sh: $clangxx not found (apt-get install clang)"; exit 1; }
mkdir -p "$out"
sources=(runtime/bundle.cpp runtime/disk_cache.cpp runtime/kernel_spec.cpp runtime/sha256.cpp
         runtime/status.cpp)
flags=(-std=c++17 -O1 -g "-I$root" "-I$cuda/include")
(cd "$root" &&
  "$clangxx" "${flags[@]}" -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    test/fuzz/bundle_fuzzer.cpp "${sources[@]}" -lz -o "$out/bundle_fuzzer" &&
  "$clangxx" "${flags[@]}" test/fuzz/make_bundle_seed.cpp "${sources[@]}" -lz \
    -o "$out/make_bundle_seed")

corpus="$out/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"
"$out/make_bundle_seed" "$corpus/seed.tbundle"
echo "fuzzing the bundle reader for ${seconds}s"
"$out/bundle_fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -artifact_prefix="$out/" "$corpus" 2>&1 | tail -n 5
