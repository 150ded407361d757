#!/usr/bin/env bash
# Runs GPU test modules under compute-sanitizer on a GPU host, after scripts/gpu_run.sh has built
# _C (any of its steps does): every module in its own process, JOBS at a time, with PyTorch's
# caching allocator off so that memcheck sees each tensor's own bounds.
#
# Usage: [JOBS=n] [CHUNK=n] [SHARED_CACHE=1] [KERNELS=s] scripts/sanitize_gpu.sh TOOL [MODULE...]
#   TOOL: memcheck, racecheck, initcheck or synccheck
#   MODULE: pytest paths (default: every test/python/gpu and test/python/ops module), or @FILE:
#     the test ids or modules listed in FILE, one per line (an earlier run's unfinished.txt, say)
#   CHUNK: with n > 0, a module of more than n tests runs as several processes of at most n
#     tests each (its collected test ids split in order), so that big modules spread over JOBS
#   SHARED_CACHE: 1 or a directory: every process uses one kernel cache (a new one, or that
#     directory), so that a module's chunks compile its kernels once between them; for modules
#     that do not test the cache itself (the ops')
#   KERNELS: only the kernels whose names contain this string are checked (--kernel-name kns=s),
#     for tests whose references (PyTorch's float64 products, say) take the sanitizer longer
#     than the kernels under test; the verdict line says so
# Writes $OUT/sanitize-TOOL/<module>[.part<k>].log and prints one line per process (its verdict,
# pytest's and the sanitizer's summaries, and its wall time) and a total;
# exits 1 if a module failed, the sanitizer reported an error, or it lost track of a launch.
# $OUT/sanitize-TOOL/unfinished.txt lists the tests of every process that did not end clean, also
# when a timeout stops the run (exit 124 then): `@` it to rerun exactly those.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
tool="${1:?usage: scripts/sanitize_gpu.sh TOOL [MODULE...]}"
shift
case "$tool" in memcheck|racecheck|initcheck|synccheck) ;; *)
  echo "sanitize_gpu.sh: unknown tool '$tool'" >&2; exit 2 ;; esac
modules=("$@")
[ "${#modules[@]}" -gt 0 ] || modules=(test/python/gpu/test_*.py test/python/ops/test_*.py)
logs="${OUT:-$root/gpu-out}/sanitize-$tool"
mkdir -p "$logs"
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" PYTORCH_NO_CUDA_MEMORY_CACHING=1
export TESSERA_TEST_DEVICES="${TESSERA_TEST_DEVICES:-cuda}" TESSERA_QUIET=1

# The racecheck reports in log $1 ("Race reported between <access> at KERNEL+0x..." and its
# "and <access> at KERNEL+0x..." lines) whose kernels are all NVIDIA's or PyTorch's: C++ names
# (demangled: "void ...", "...::...") or cuBLAS's and cuDNN's (nvjet_..., sm90_xmma_..., cudnn...).
# Tessera's kernels all have extern "C" names. racecheck reports hazards inside cuBLAS's nvjet
# GEMMs (the attention tests' fp16 references), which are not the code under test; excluding
# those kernels instead (--kernel-name-exclude) made racecheck fail on hardware exceptions in them.
vendor_races() {
  awk '
    /Error: Race reported between/ { n++; ours[n] = 0 }
    n && / access at / {
      name = $0; sub(/.* access at /, "", name); sub(/\+0x[0-9a-f]+.*$/, "", name)
      if (name !~ /^(void |nvjet_|sm[0-9]+_xmma|cutlass|cudnn)/ && name !~ /::/) ours[n] = 1
    }
    END { c = 0; for (i = 1; i <= n; i++) if (!ours[i]) c++; print c }' "$1"
}

# One job under the sanitizer: "clean" when pytest passed and every error the summaries count is
# a racecheck report on NVIDIA's or PyTorch's kernels (vendor_races; the verdict says how many).
# A process that makes no CUDA call (a disassembler a test runs) ends the sanitizer with
# "Target application terminated before first instrumented API call": that is not a finding.
# "INCOMPLETE" where the tests passed and the only other errors are the sanitizer's own "failure
# to track a kernel launch" (seen under racecheck in the RWKV-7 backward tests, with records lost
# from then on): not a finding, not a clean run either.
# A job is a line "<log name>\t<pytest argument>\t..." (test ids may hold spaces, not tabs).
sanitize() {
  local name log tests errors vendor lost verdict=clean started=$SECONDS
  IFS=$'\t' read -ra job <<<"$1"
  name="${job[0]}"
  log="$logs/$name.log"
  local only=()
  [ -z "${KERNELS:-}" ] || only=(--kernel-name "kns=$KERNELS")
  TESSERA_CACHE_DIR="${shared_cache:-$(mktemp -d)}" compute-sanitizer --tool "$tool" \
    --target-processes all --print-limit 50 "${only[@]}" python3 -m pytest -q \
    -p no:cacheprovider "${job[@]:1}" >"$log" 2>&1
  tests="$(grep -E '^=* ?[0-9]+ (passed|failed|skipped|error)' "$log" | tail -n 1 | tr -d '=')"
  [[ "$tests" == *passed* && "$tests" != *failed* && "$tests" != *error* ]] || verdict=FAILED
  errors="$(grep -E '(ERROR|RACECHECK) SUMMARY' "$log" | grep -oE '[0-9]+ errors?' |
    awk '{n += $1} END {print n + 0}')"
  vendor="$(vendor_races "$log")"
  lost="$(grep -cE '=+ Internal Sanitizer Error: Detected a failure to track a kernel launch' \
    "$log")"
  [ "$errors" -le $((vendor + lost)) ] || verdict=FAILED
  if grep -E '=+ (Error:|Internal Sanitizer Error)' "$log" |
      grep -vE 'terminated before first instrumented|Race reported between|failure to track' |
      grep -q .; then
    verdict=FAILED
  fi
  [ "$verdict" != clean ] || [ "$lost" -eq 0 ] ||
    verdict="INCOMPLETE ($lost launches the sanitizer lost track of)"
  [ "$vendor" -eq 0 ] || verdict="$verdict ($vendor racecheck reports in NVIDIA's kernels)"
  [ -z "${KERNELS:-}" ] || verdict="$verdict (only kernels named *$KERNELS*)"
  echo "$name: $verdict |$tests | $(grep -E '(ERROR|RACECHECK) SUMMARY' "$log" | tail -n 1 |
    sed 's/^=* *//') | $((SECONDS - started)) s"
}

# The jobs: a module, or with CHUNK, runs of at most CHUNK of its collected test ids.
jobs_of() {
  local module="$1" name ids
  if [[ "$module" == @* ]]; then
    name="$(basename "${module#@}" .txt)"
    mapfile -t ids < <(grep -E '::|\.py$' "${module#@}")
  else
    name="$(basename "$module" .py)"
    if [ "${CHUNK:-0}" -le 0 ]; then
      printf '%s\t%s\n' "$name" "$module"
      return
    fi
    mapfile -t ids < <(python3 -m pytest -q --collect-only -p no:cacheprovider "$module" \
      2>/dev/null | grep '::')
  fi
  if [ "${CHUNK:-0}" -le 0 ] || [ "${#ids[@]}" -le "$CHUNK" ]; then
    [[ "$module" == @* ]] || ids=("$module")
    (IFS=$'\t'; echo "$name"$'\t'"${ids[*]}")
    return
  fi
  for ((start = 0; start < ${#ids[@]}; start += CHUNK)); do
    (IFS=$'\t'; echo "$name.part$((start / CHUNK))"$'\t'"${ids[*]:start:CHUNK}")
  done
}

# The pytest arguments of the jobs without a clean line in summary.txt: failed, incomplete, or
# stopped before their end.
write_unfinished() {
  awk -F'\t' 'NR == FNR { if (/^[^ ]+: clean/) clean[substr($0, 1, index($0, ":") - 1)] = 1; next }
    !($1 in clean) { for (i = 2; i <= NF; i++) print $i }' \
    "$logs/summary.txt" "$logs/jobs.txt" >"$logs/unfinished.txt"
}
export -f sanitize vendor_races
export tool logs KERNELS
case "${SHARED_CACHE:-0}" in
  0) shared_cache="" ;;
  1) shared_cache="$(mktemp -d)" ;;
  *) shared_cache="$SHARED_CACHE" && mkdir -p "$shared_cache" ;;
esac
export shared_cache
for module in "${modules[@]}"; do jobs_of "$module"; done >"$logs/jobs.txt"
: >"$logs/summary.txt"
# timeout signals the whole process group: the running jobs end without a verdict, then this.
stopped() {
  write_unfinished
  echo "$tool: stopped; the tests left are in $logs/unfinished.txt"
  exit 124
}
trap stopped TERM INT
tr '\n' '\0' <"$logs/jobs.txt" | xargs -0 -P "${JOBS:-4}" -I{} bash -c 'sanitize "$@"' _ {} |
  tee "$logs/summary.txt"
failed="$(grep -cE ': FAILED( |$)' "$logs/summary.txt")"
incomplete="$(grep -cE ': INCOMPLETE ' "$logs/summary.txt")"
write_unfinished
echo "$tool: ${#modules[@]} modules in $(wc -l <"$logs/jobs.txt") processes," \
  "$failed with failures or sanitizer errors, $incomplete incomplete (rerun them)"
[ "$failed" -eq 0 ] && [ "$incomplete" -eq 0 ]
