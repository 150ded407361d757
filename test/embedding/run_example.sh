#!/usr/bin/env bash
# Builds and runs examples/cpp as a project outside this build would: installs the build into a
# temporary prefix, configures and builds examples/cpp against it with find_package(Tessera),
# builds the examples' bundles with make_bundle.py and make_op_bundle.py and runs run_bundle and
# run_op. Without a GPU both must list their bundle and exit with 3 (no CUDA device), and run_op
# must plan its listed call as bundled and the others as JIT-compiled; with a GPU both must report
# correct results.
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
for program in run_bundle run_op; do
  if readelf -d "$work/example/$program" | grep '(NEEDED)' | grep -q libpython; then
    fail "$program links Python"
  fi
done

export TESSERA_CACHE_DIR="$work/cache"
step bundle env PYTHONPATH="$source/python" "$python" "$source/examples/cpp/make_bundle.py" \
  "$work/kernels.tbundle"
step op_bundle env PYTHONPATH="$source/python" "$python" "$source/examples/cpp/make_op_bundle.py" \
  "$work/ops.tbundle"
# Runs example program $1 on bundle $2 and shows its output, kept in $work/$1.log; sets rc to its
# exit status.
run() {
  set +e
  "$work/example/$1" "$2" >"$work/$1.log" 2>&1
  rc=$?
  set -e
  cat "$work/$1.log"
}

run run_bundle "$work/kernels.tbundle"
log=$work/run_bundle.log
grep -Eq '^  vector_add_fp32 +sm_90a$' "$log" || fail "vector_add_fp32 is not listed"
grep -Eq '^  matmul_fp16 +sm_90a$' "$log" || fail "matmul_fp16 is not listed"
case $rc in
  0) grep -q '^RESULT: PASS (2 kernels)$' "$log" || fail "run_bundle: exit 0 without PASS" ;;
  3) grep -q '^no CUDA device: ' "$log" || fail "run_bundle: exit 3 without 'no CUDA device'" ;;
  *) fail "run_bundle exited with $rc" ;;
esac
bundle_rc=$rc

run run_op "$work/ops.tbundle"
log=$work/run_op.log
grep -Eq '^  matmul +case +fp16 +sm_90a ' "$log" || fail "run_op lists no fp16 case for sm_90a"
case $rc in
  0) grep -q '^RESULT: PASS (3 calls)$' "$log" || fail "run_op: exit 0 without PASS" ;;
  3)
    grep -q '^no CUDA device: ' "$log" || fail "run_op: exit 3 without 'no CUDA device'"
    # Planned for sm_90a, the bundle's target: its own case runs bundled, the others JIT.
    grep -q '^  mm M=512 N=512 K=512 fp16: path bundled ' "$log" ||
      fail "run_op does not plan the bundled case as bundled"
    grep -q '^  mm M=300 N=200 K=100 fp16: path jit ' "$log" ||
      fail "run_op does not plan the unlisted shape as jit"
    grep -q '^  mm M=512 N=512 K=512 fp16, mat2 transposed: path jit ' "$log" ||
      fail "run_op does not plan the transposed mat2 as jit"
    ;;
  *) fail "run_op exited with $rc" ;;
esac
echo "run_example.sh: ok (run_bundle exited with $bundle_rc, run_op with $rc)"
