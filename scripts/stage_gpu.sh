#!/usr/bin/env bash
# Stages a self-contained build for a GPU host (Ubuntu 24.04, Python 3.12, PyTorch, Triton, pybind11,
# g++, gzip; no LLVM, no CMake guarantees, no network) into .stage/ (git-ignored):
#   libtessera.so.gz    the runtime with the compiler and LLVM/MLIR inside, stripped, gzip -9
#   libdevice.10.bc.gz  libdevice, for a host whose CUDA install lacks nvvm/
#   ops-sm_90a.tbundle  the op library for sm_90a, built here without a GPU (tessera-aot
#                       --library), which test_gpu_aot.py loads on the GPU
#   MANIFEST            commit, date, checksums and the library's dynamic dependencies
# The sources travel with the working tree; on the host, scripts/gpu_run.sh unpacks the library,
# builds the small pybind11 module against the host's Python and runs the GPU tier and benchmarks.
#
# Usage: scripts/stage_gpu.sh        (after scripts/setup.sh or a build in $BUILD_DIR)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cuda="${CUDA_HOME:-/usr/local/cuda}"
stage="$root/.stage"
limit_mib=60

die() { printf 'stage_gpu.sh: error: %s\n' "$*" >&2; exit 1; }

[ -f "$build/build.ninja" ] || die "no build in $build: run scripts/setup.sh first"
cmake --build "$build" >/dev/null || die "the build failed (cmake --build $build)"
lib="$build/runtime/libtessera.so"
[ -e "$lib" ] || die "$lib not found after the build"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -L "$lib" "$tmp/libtessera.so"
strip --strip-unneeded "$tmp/libtessera.so"

# The host has no LLVM/MLIR: the library may need only the C/C++ runtime, libz and libzstd.
mapfile -t needed < <(readelf -d "$tmp/libtessera.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
bad=()
for dep in "${needed[@]}"; do
  case "$dep" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|libz.so.*|libzstd.so.*|ld-linux*.so.*) ;;
    libdl.so.*|libpthread.so.*|librt.so.*) ;;
    *) bad+=("$dep") ;;
  esac
done
[ "${#bad[@]}" -eq 0 ] || die "libtessera.so needs ${bad[*]}, which the GPU host does not have"
# glibc 2.36 (Debian 12) symbols run on Ubuntu 24.04 (2.39); record the newest one needed.
glibc="$(objdump -T "$tmp/libtessera.so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1 || true)"

rm -rf "$stage"
mkdir -p "$stage"
gzip -9 -c "$tmp/libtessera.so" >"$stage/libtessera.so.gz"
libdevice="$cuda/nvvm/libdevice/libdevice.10.bc"
if [ -f "$libdevice" ]; then
  gzip -9 -c "$libdevice" >"$stage/libdevice.10.bc.gz"
fi

# The package as built here (python/tessera with _C for this machine's Python), with a kernel
# and tuning cache of its own, so the bundle holds only what aot planned.
PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" TESSERA_CACHE_DIR="$tmp/cache" \
  python3 -c 'import sys; from tessera.runtime.precompile import main; sys.exit(main(sys.argv[1:]))' \
  --library --target sm_90a -o "$stage/ops-sm_90a.tbundle" ||
  die "tessera-aot --library failed"

{
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)$(
    [ -z "$(git -C "$root" status --porcelain 2>/dev/null)" ] || echo ' (with local changes)')"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "needed: ${needed[*]}"
  echo "newest glibc symbol: ${glibc:-none}"
  (cd "$tmp" && sha256sum libtessera.so)
  (cd "$stage" && sha256sum ./*.gz ./*.tbundle)
} >"$stage/MANIFEST"

size_kib="$(du -sk "$stage" | cut -f1)"
ls -l "$stage"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "staged $(mib $(( size_kib * 1024 ))) in $stage (the library unstripped: $(mib "$(stat -L -c %s "$lib")"))"
[ "$size_kib" -le $(( limit_mib * 1024 )) ] || die "the stage exceeds $limit_mib MiB"
cat <<MSG
Next, on the GPU host, with this working tree and .stage/ in it, from the repository root:
  bash scripts/gpu_run.sh            # tests, quickstart and benchmarks; logs and results in \$OUT
MSG
