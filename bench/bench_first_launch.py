#!/usr/bin/env python3
"""Time to first launch in a fresh process: with an empty TESSERA_CACHE_DIR (the kernel is compiled)
and with a warm one (the kernel is loaded from disk), reported side by side.

Each child process creates its CUDA tensors first, then times the first call of the example's vector
add and, after it, the first call of the row softmax, each up to the synchronisation that follows it,
and a second call for comparison. Cold and warm runs alternate, each cold run in a new directory.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import harness

CHILD = r"""
import json, sys, time
t_begin = time.perf_counter()
import torch
import tessera
t_imported = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import softmax
import vector_add

g = torch.Generator(device="cuda").manual_seed(0)
x = torch.randn(1 << 20, device="cuda", generator=g)
y = torch.randn(1 << 20, device="cuda", generator=g)
out = torch.empty_like(x)
s_in = torch.randn(256, 1024, device="cuda", generator=g).to(torch.bfloat16)
s_out = torch.empty_like(s_in)
torch.cuda.synchronize()

def timed(f):
    t0 = time.perf_counter()
    f()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3

result = {
    "import_ms": (t_imported - t_begin) * 1e3,
    "vector_add_first_ms": timed(lambda: vector_add.add(x, y, out=out)),
    "vector_add_second_ms": timed(lambda: vector_add.add(x, y, out=out)),
    "softmax_first_ms": timed(lambda: softmax.softmax(s_in, out=s_out)),
    "softmax_second_ms": timed(lambda: softmax.softmax(s_in, out=s_out)),
}
assert torch.equal(out, x + y), "vector add is wrong"
stats = tessera.stats()
if not isinstance(stats, dict):
    stats = {k: getattr(stats, k) for k in ("compiles", "disk_hits", "memory_hits", "launches")}
result["stats"] = stats
print("FIRST_LAUNCH " + json.dumps(result))
"""


def run_child(cache_dir):
    env = dict(os.environ, TESSERA_CACHE_DIR=cache_dir)
    env.pop("TESSERA_DUMP_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.join(harness.REPO, "python"), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", CHILD, harness.EXAMPLES], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"first-launch child failed: {last}\n{proc.stdout}\n{proc.stderr}")
    line = [s for s in proc.stdout.splitlines() if s.startswith("FIRST_LAUNCH ")][-1]
    return json.loads(line.split(" ", 1)[1])


def run(repeats=3):
    harness.gpu_or_exit()
    cold, warm = [], []
    for _ in range(repeats):
        cache_dir = tempfile.mkdtemp(prefix="tessera-first-launch-")
        try:
            cold.append(run_child(cache_dir))
            warm.append(run_child(cache_dir))
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)

    def med(runs, key):
        return round(statistics.median(r[key] for r in runs), 2)

    rows = []
    for kernel in ("vector_add", "softmax"):
        rows.append({
            "benchmark": "first_launch", "case": kernel,
            "cold_ms": med(cold, f"{kernel}_first_ms"), "warm_ms": med(warm, f"{kernel}_first_ms"),
            "steady_ms": med(warm, f"{kernel}_second_ms"),
            "cold_compiles": cold[-1]["stats"].get("compiles"),
            "warm_compiles": warm[-1]["stats"].get("compiles"),
            "warm_disk_hits": warm[-1]["stats"].get("disk_hits"),
            "import_ms": med(cold + warm, "import_ms"),
            "repeats": repeats,
        })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "cold_ms", "warm_ms", "steady_ms", "cold_compiles",
                                  "warm_compiles", "warm_disk_hits"])


if __name__ == "__main__":
    main()
