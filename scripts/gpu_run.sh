#!/usr/bin/env bash
# Runs on a GPU host from the repository root, with .stage/ from scripts/stage_gpu.sh in the tree:
#   1. unpacks libtessera.so into python/tessera/ and checks it against .stage/MANIFEST;
#   2. builds the pybind11 module _C against the host's Python with g++;
#   3. runs the GPU pytest tier and the op tests on the GPU (their CPU runs are CI's), the
#      quickstart and the benchmarks (bench/run_all.py);
#   4. writes logs and the results table to $OUT (default ./gpu-out) and prints a summary last.
# The host needs Python 3 with PyTorch, pybind11 and pytest, g++ and gzip; no LLVM, no network.
#
# Usage: [JOBS=n] scripts/gpu_run.sh [tests] [quickstart] [bench]     (default: all three)
#   JOBS: with n > 1 the tests run one pytest process per module, n at a time (each with its own
#     kernel cache; test_gpu_streams.py, which times overlap, alone after them), their logs in
#     $OUT/gpu-tests/; the whole tier fits a short GPU lease that way
# Files in $OUT: summary.txt build.log gpu-tests.log quickstart.log bench.log results.md results.json
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
out="${OUT:-$root/gpu-out}"
python="${PYTHON:-python3}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
export PYTHONUNBUFFERED=1

steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(tests quickstart bench)
for s in "${steps[@]}"; do
  case "$s" in tests|quickstart|bench) ;; *) echo "gpu_run.sh: unknown step '$s'" >&2; exit 2 ;; esac
done
wants() { [[ " ${steps[*]} " == *" $1 "* ]]; }

note() { echo "$*" | tee -a "$summary"; }
fail=0

# ---- 1. the staged library ----------------------------------------------------------------------
if [ ! -f .stage/libtessera.so.gz ]; then
  echo "gpu_run.sh: .stage/libtessera.so.gz is missing: run scripts/stage_gpu.sh on the build" \
       "machine and bring .stage/ along" >&2
  exit 1
fi
gzip -dc .stage/libtessera.so.gz >python/tessera/libtessera.so
want="$(sed -n 's/^\([0-9a-f]\{64\}\)  libtessera.so$/\1/p' .stage/MANIFEST 2>/dev/null)"
have="$(sha256sum python/tessera/libtessera.so | cut -d' ' -f1)"
if [ -n "$want" ] && [ "$want" != "$have" ]; then
  echo "gpu_run.sh: python/tessera/libtessera.so does not match .stage/MANIFEST" >&2
  exit 1
fi
libdevice=/usr/local/cuda/nvvm/libdevice/libdevice.10.bc
if [ ! -f "$libdevice" ] && [ -f .stage/libdevice.10.bc.gz ]; then
  mkdir -p .stage/unpacked
  gzip -dc .stage/libdevice.10.bc.gz >.stage/unpacked/libdevice.10.bc
  export TESSERA_LIBDEVICE="$root/.stage/unpacked/libdevice.10.bc"
fi

# ---- 2. the pybind11 module ---------------------------------------------------------------------
ext="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
read -ra pybind_includes <<<"$("$python" -m pybind11 --includes)"
rm -f python/tessera/_C*.so "$out/results.md" "$out/results.json"
# shellcheck disable=SC2016  # $ORIGIN is for the linker, not the shell
if ! g++ -O2 -DNDEBUG -std=c++17 -shared -fPIC -fvisibility=hidden "${pybind_includes[@]}" \
    python/src/tessera_module.cpp python/src/fast_launch.cpp -I. -Lpython/tessera -ltessera \
    -Wl,-rpath,'$ORIGIN' \
    -o "python/tessera/_C$ext" >"$out/build.log" 2>&1; then
  note "build of _C: FAILED (see build.log)"
  tail -n 30 "$out/build.log"
  exit 1
fi
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
TESSERA_CACHE_DIR="$(mktemp -d)"
export TESSERA_CACHE_DIR
if ! "$python" -c "import tessera" >>"$out/build.log" 2>&1; then
  note "import tessera: FAILED (see build.log)"
  tail -n 30 "$out/build.log"
  exit 1
fi
gpus="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | paste -sd ';' -)"
note "host: ${gpus:-no nvidia-smi}; $("$python" -c 'import torch; print("torch", torch.__version__)' 2>&1 | tail -n 1); staged $(sed -n 's/^commit: //p' .stage/MANIFEST)"

# ---- 3. tests, quickstart, benchmarks -----------------------------------------------------------
# One pytest process over the modules given, logged to $1 (its own kernel cache); its exit status.
run_modules() {
  local log="$1" cache rc
  shift
  cache="$(mktemp -d)"
  TESSERA_CACHE_DIR="$cache" TESSERA_TEST_DEVICES="${TESSERA_TEST_DEVICES:-cuda}" \
    "$python" -m pytest "$@" -v -ra -p no:cacheprovider >"$log" 2>&1
  rc=$?
  rm -rf "$cache"
  [ "$rc" -ne 5 ] || rc=0 # nothing collected: a module that skips itself (needs two GPUs, say)
  return "$rc"
}
export -f run_modules
export python

# The count of each outcome ("passed", "failed", ...) over pytest's final lines in logs $@.
outcomes() {
  grep -hE '^=+ .*(passed|failed|skipped|error|xfailed|deselected).* =+$' "$@" |
    grep -oE '[0-9]+ (passed|failed|skipped|errors?|xfailed|xpassed|deselected)' |
    awk '{sub(/errors?/, "errors", $2); n[$2] += $1} END {for (k in n) printf "%d %s, ", n[k], k}' |
    sed 's/, $//'
}

if wants tests; then
  if [ "${JOBS:-1}" -le 1 ]; then
    run_modules "$out/gpu-tests.log" test/python/gpu test/python/ops
    rc=$?
  else
    logs="$out/gpu-tests"
    rm -rf "$logs" && mkdir -p "$logs"
    streams=test/python/gpu/test_gpu_streams.py
    # The op modules first: they are the longest, and the tier ends with its slowest process.
    # shellcheck disable=SC2016  # expanded by the inner shell
    printf '%s\n' test/python/ops/test_*.py test/python/gpu/test_*.py | grep -vxF "$streams" |
      xargs -P "$JOBS" -I{} bash -c 'run_modules "$1/$(basename "$2" .py).log" "$2"' _ \
        "$logs" {}
    rc=$?
    run_modules "$logs/$(basename "$streams" .py).log" "$streams" || rc=1
    cat "$logs"/*.log >"$out/gpu-tests.log"
  fi
  [ "$rc" -eq 0 ] || fail=1
  note "GPU tier (exit $rc): $(outcomes "$out/gpu-tests.log")"
  grep -E '^(FAILED|ERROR) ' "$out/gpu-tests.log" | head -n 20 | tee -a "$summary"
fi
if wants quickstart; then
  "$python" examples/quickstart.py >"$out/quickstart.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || fail=1
  note "quickstart (exit $rc): $(tail -n 1 "$out/quickstart.log")"
fi
if wants bench; then
  OUT="$out" "$python" bench/run_all.py >"$out/bench.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || fail=1
  if [ -f "$out/results.md" ]; then
    note "benchmarks (exit $rc): tables in results.md"
  else
    note "benchmarks (exit $rc): no results: $(tail -n 1 "$out/bench.log")"
  fi
fi

rm -rf "$TESSERA_CACHE_DIR"
printf '\n==== summary ====\n'
cat "$summary"
if [ -f "$out/results.md" ] && wants bench; then
  echo
  sed -n '/^| benchmark/,$p' "$out/results.md"
fi
exit "$fail"
