#!/usr/bin/env bash
# Runs every test tier and exits non-zero if any failed:
#   lit      IR tests (dialects, passes), from build/test/lit
#   ctest    GoogleTest (runtime and compiler pieces)
#   pytest   test/python: the CPU tier; the op tests (test/python/ops), on the CPU and on each GPU
#            there is; and the GPU tier, which skips itself without a GPU
#   fuzz     the bundle reader's libFuzzer target, for $TESSERA_FUZZ_SECONDS (default 60)
# The build is brought up to date first (scripts/setup.sh makes it). Every tier runs even after one
# fails; a summary comes last.
#
# Usage: scripts/test.sh [extra pytest arguments]
# Environment: BUILD_DIR (default build), PYTHON (default python3), LIT (default the LLVM 22 lit).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
python="${PYTHON:-python3}"
lit="${LIT:-/usr/lib/llvm-22/bin/lit}"
[ -x "$lit" ] || lit="$(command -v lit || true)"

if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  echo "test.sh: no build in $build: run scripts/setup.sh first" >&2
  exit 2
fi

# The in-tree package (the build copies _C and libtessera there) and a throwaway kernel cache.
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${TESSERA_CACHE_DIR:-}" ]; then
  TESSERA_CACHE_DIR="$(mktemp -d)"
  export TESSERA_CACHE_DIR
  trap 'rm -rf "$TESSERA_CACHE_DIR"' EXIT
fi

passed=()
failed=()
step() {
  local name="$1"
  shift
  printf '\n==> %s\n' "$name"
  if "$@"; then
    passed+=("$name")
  else
    echo "<== $name FAILED (exit $?)"
    failed+=("$name")
  fi
}

run_lit() {
  if [ -z "$lit" ]; then echo "lit not found (pip install lit, or set LIT)"; return 1; fi
  if [ ! -d "$build/test/lit" ]; then echo "no lit suite configured at $build/test/lit"; return 1; fi
  "$lit" -sv "$build/test/lit"
}

run_pytest() {
  local rc=0
  "$python" -m pytest "$root/test/python" -ra "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then  # pytest: no tests were collected
    if find "$root/test/python" -name 'test_*.py' -print -quit | grep -q .; then
      echo "pytest collected no tests, yet test/python has test files"
      return 1
    fi
    echo "test/python has no tests yet"
    return 0
  fi
  return "$rc"
}

step build cmake --build "$build"
step lit run_lit
step ctest ctest --test-dir "$build" --output-on-failure --no-tests=error
step pytest run_pytest "$@"
step fuzz bash "$root/scripts/fuzz.sh"

printf '\n==> summary\n'
[ "${#passed[@]}" -eq 0 ] || echo "passed: ${passed[*]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tiers passed"
