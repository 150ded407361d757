#!/usr/bin/env bash
# Builds and runs examples/cpp as a project outside this build would: installs the build into a
# temporary prefix, configures and builds examples/cpp against it with find_package(Tessera),
# builds the example's bundle with make_bundle.py and runs the example. Without a GPU the example
# must list the bundle and exit with 3 (no CUDA device); with one it must report correct results.
#
#   run_example.sh CMAKE BUILD_DIR SOURCE_DIR PYTHON
set -euo pipefail
cmake=$1 build=$2 source=$3 python=$4
work="$(mktemp -d "${TMPDIR:-/tmp}/tessera-embedding-XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "run_example.sh: $*" >&2; exit 1; }
# Runs a step quietly; on failure shows its output.
step() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "$name failed: $*"; }
}

step install "$cmake" --install "$build" --prefix "$work/prefix"
for file in include/tessera/tessera.h include/tessera/tessera.hpp lib/libtessera.so \
            lib/cmake/Tessera/TesseraConfig.cmake lib/cmake/Tessera/TesseraConfigVersion.cmake \
            lib/cmake/Tessera/TesseraTargets.cmake; do
  [ -f "$work/prefix/$file" ] || fail "the install lacks $file"
done
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
step configure "$cmake" -S "$source/examples/cpp" -B "$work/example" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix"
step build "$cmake" --build "$work/example"
if readelf -d "$work/example/run_bundle" | grep '(NEEDED)' | grep -q libpython; then
  fail "run_bundle links Python"
fi

export TESSERA_CACHE_DIR="$work/cache"
step bundle env PYTHONPATH="$source/python" "$python" "$source/examples/cpp/make_bundle.py" \
  "$work/kernels.tbundle"
set +e
"$work/example/run_bundle" "$work/kernels.tbundle" >"$work/run.log" 2>&1
rc=$?
set -e
cat "$work/run.log"
grep -Eq '^  vector_add_fp32 +sm_90a$' "$work/run.log" || fail "vector_add_fp32 is not listed"
grep -Eq '^  matmul_fp16 +sm_90a$' "$work/run.log" || fail "matmul_fp16 is not listed"
case $rc in
  0) grep -q '^RESULT: PASS (2 kernels)$' "$work/run.log" || fail "exit 0 without RESULT: PASS" ;;
  3) grep -q '^no CUDA device: ' "$work/run.log" || fail "exit 3 without 'no CUDA device: ...'" ;;
  *) fail "run_bundle exited with $rc" ;;
esac
echo "run_example.sh: ok (run_bundle exited with $rc)"
