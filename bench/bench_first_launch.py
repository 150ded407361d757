#!/usr/bin/env python3
"""Time to first launch in a fresh process: with an empty TESSERA_CACHE_DIR (the kernel is compiled)
and with a warm one (the kernel is loaded from disk), reported side by side.

Each child process creates its CUDA tensors first, then times the first call of the example's vector
add, then of the row softmax, then of a matmul-sized kernel (the example's tiled matmul, bf16,
128x128x64 blocks, 8 warps, 3 stages, on 2048^3), each up to the synchronisation that follows it,
and a second call for comparison. The same matmul written for Triton runs in children of its own
with an empty and a warm TRITON_CACHE_DIR, where Triton is installed. Cold and warm runs alternate,
each cold run in a new directory. Targets for the matmul (issue 4): <= 1000 ms cold, <= 20 ms warm.
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
import matmul
import softmax
import vector_add

g = torch.Generator(device="cuda").manual_seed(0)
x = torch.randn(1 << 20, device="cuda", generator=g)
y = torch.randn(1 << 20, device="cuda", generator=g)
out = torch.empty_like(x)
s_in = torch.randn(256, 1024, device="cuda", generator=g).to(torch.bfloat16)
s_out = torch.empty_like(s_in)
m_a = torch.randn(2048, 2048, device="cuda", generator=g).to(torch.bfloat16)
m_b = torch.randn(2048, 2048, device="cuda", generator=g).to(torch.bfloat16)
m_c = torch.empty_like(m_a)
MATMUL = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, num_warps=8, num_stages=3)
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
    "matmul_first_ms": timed(lambda: matmul.matmul(m_a, m_b, out=m_c, **MATMUL)),
    "matmul_second_ms": timed(lambda: matmul.matmul(m_a, m_b, out=m_c, **MATMUL)),
}
assert torch.equal(out, x + y), "vector add is wrong"
result["stats"] = tessera.stats()
print("FIRST_LAUNCH " + json.dumps(result))
"""


# The example matmul's algorithm written for Triton, timed like the tessera child's matmul.
TRITON_CHILD = r"""
import json, time
import torch
import triton
import triton.language as tl

@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                  stride_cm, stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = tl.expand_dims(pid_m * BLOCK_M + tl.arange(0, BLOCK_M), 1)
    cols = tl.expand_dims(pid_n * BLOCK_N + tl.arange(0, BLOCK_N), 0)
    ks_col = tl.expand_dims(tl.arange(0, BLOCK_K), 0)
    ks_row = tl.expand_dims(tl.arange(0, BLOCK_K), 1)
    a_ptrs = a_ptr + rows * stride_am + ks_col * stride_ak
    b_ptrs = b_ptr + ks_row * stride_bk + cols * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(rows < M) & (ks_col < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(ks_row < k_left) & (cols < N), other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    tl.store(c_ptr + rows * stride_cm + cols * stride_cn, acc.to(c_ptr.dtype.element_ty),
             mask=(rows < M) & (cols < N))

g = torch.Generator(device="cuda").manual_seed(0)
a = torch.randn(2048, 2048, device="cuda", generator=g).to(torch.bfloat16)
b = torch.randn(2048, 2048, device="cuda", generator=g).to(torch.bfloat16)
c = torch.empty_like(a)
torch.cuda.synchronize()

def call():
    matmul_kernel[(16, 16)](a, b, c, 2048, 2048, 2048, a.stride(0), a.stride(1), b.stride(0),
                            b.stride(1), c.stride(0), c.stride(1), BLOCK_M=128, BLOCK_N=128,
                            BLOCK_K=64, num_warps=8, num_stages=3)

def timed(f):
    t0 = time.perf_counter()
    f()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3

result = {"matmul_first_ms": timed(call), "matmul_second_ms": timed(call)}
print("FIRST_LAUNCH " + json.dumps(result))
"""


def have_triton():
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def run_child(cache_dir, child=CHILD):
    """Runs `child` as a script file in the cache directory (Triton reads its kernels' source
    from their file) with that directory as the tessera and Triton cache."""
    env = dict(os.environ, TESSERA_CACHE_DIR=cache_dir, TRITON_CACHE_DIR=cache_dir)
    env.pop("TESSERA_DUMP_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.join(harness.REPO, "python"), env.get("PYTHONPATH")) if p)
    script = os.path.join(cache_dir, "first_launch_child.py")
    with open(script, "w") as f:
        f.write(child)
    proc = subprocess.run([sys.executable, script, harness.EXAMPLES], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"first-launch child failed: {last}\n{proc.stdout}\n{proc.stderr}")
    line = [s for s in proc.stdout.splitlines() if s.startswith("FIRST_LAUNCH ")][-1]
    return json.loads(line.split(" ", 1)[1])


MATMUL_COLD_TARGET_MS = 1000.0
MATMUL_WARM_TARGET_MS = 20.0


def cold_and_warm(child, repeats):
    """Children with an empty cache directory, then with the one it filled, `repeats` times."""
    cold, warm = [], []
    for _ in range(repeats):
        cache_dir = tempfile.mkdtemp(prefix="tessera-first-launch-")
        try:
            cold.append(run_child(cache_dir, child))
            warm.append(run_child(cache_dir, child))
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
    return cold, warm


def run(repeats=3):
    harness.gpu_or_exit()
    cold, warm = cold_and_warm(CHILD, repeats)

    def med(runs, key):
        return round(statistics.median(r[key] for r in runs), 2)

    rows = []
    for kernel in ("vector_add", "softmax", "matmul"):
        row = {
            "benchmark": "first_launch", "case": kernel,
            "cold_ms": med(cold, f"{kernel}_first_ms"), "warm_ms": med(warm, f"{kernel}_first_ms"),
            "steady_ms": med(warm, f"{kernel}_second_ms"),
            "cold_compiles": cold[-1]["stats"].get("compiles"),
            "warm_compiles": warm[-1]["stats"].get("compiles"),
            "warm_disk_hits": warm[-1]["stats"].get("disk_hits"),
            "import_ms": med(cold + warm, "import_ms"),
            "repeats": repeats,
        }
        if kernel == "matmul":
            row["targets"] = f"<= {MATMUL_COLD_TARGET_MS:g} / <= {MATMUL_WARM_TARGET_MS:g}"
            row["meets_target"] = (row["cold_ms"] <= MATMUL_COLD_TARGET_MS
                                   and row["warm_ms"] <= MATMUL_WARM_TARGET_MS)
        rows.append(row)
    if have_triton():
        t_cold, t_warm = cold_and_warm(TRITON_CHILD, repeats)
        rows.append({"benchmark": "first_launch", "case": "matmul (triton)",
                     "cold_ms": med(t_cold, "matmul_first_ms"),
                     "warm_ms": med(t_warm, "matmul_first_ms"),
                     "steady_ms": med(t_warm, "matmul_second_ms"), "repeats": repeats})
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
