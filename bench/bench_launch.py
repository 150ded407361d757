#!/usr/bin/env python3
"""Launch overhead: host wall time per call of a small cached kernel, over thousands of calls
synchronised once at the end, side by side in one process:

- tessera from Python: the example vector add kernel, ``add_kernel[(1,)](x, y, out, n, BLOCK=1024)``;
- torch.add on the same 1024-element tensors;
- the same add kernel written for Triton (where Triton is installed);
- tessera from C++ (``bench/launch_overhead.cpp``, built here with g++ against libtessera: the
  kernel fetched once with ``tessera_kernel_get``, then ``tessera_kernel_launch`` in a loop), and
  beside it a bare ``cuLaunchKernel`` loop on the same kernel's PTX: the floor. Both on the
  legacy default stream (as the Python contenders) and on a non-blocking stream.

Two figures per contender, medians over repeats of ``calls`` launches (the Python contenders
interleaved repeat by repeat):
- "one sync": the calls and the one synchronisation after them, per call. A tiny kernel still
  takes a few microseconds on its stream, so once the launch queue fills this is the GPU's pace
  (the bare cuLaunchKernel loop shows it) rather than the host's cost;
- "host": the same calls enqueued in bursts of 256 with a synchronisation between bursts, only
  the enqueueing timed: the host's cost per launch. The targets (issue 4: Python <= 5 us,
  C++ <= 2 us) apply to it.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import harness

PYTHON_TARGET_US = 5.0
CPP_TARGET_US = 2.0
N = 1024


BURST = 256


def _one_repeat(torch, launch, calls):
    """(host us, one-sync us) per call of one repeat: see the module docstring."""
    enqueueing = 0.0
    for done in range(0, calls, BURST):
        start = time.perf_counter()
        for _ in range(min(BURST, calls - done)):
            launch()
        enqueueing += time.perf_counter() - start
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        launch()
    torch.cuda.synchronize()
    return enqueueing * 1e6 / calls, (time.perf_counter() - start) * 1e6 / calls


def time_interleaved(torch, launches, calls, repeats):
    """{name: (host us, one-sync us)} per call, medians over repeats. Each repeat times every
    contender in turn: the host's speed drifts by tens of percent over a run (clock and
    placement), and interleaving lets the drift touch all contenders alike."""
    for launch in launches.values():
        for _ in range(100):
            launch()
    torch.cuda.synchronize()
    samples = {name: [] for name in launches}
    for _ in range(repeats):
        for name, launch in launches.items():
            samples[name].append(_one_repeat(torch, launch, calls))
    return {name: (statistics.median(h for h, _ in runs), statistics.median(s for _, s in runs))
            for name, runs in samples.items()}


def triton_add():
    """The example's add kernel written for Triton, or None without Triton."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n_elements
        x = tl.load(x_ptr + offsets, mask=mask)
        y = tl.load(y_ptr + offsets, mask=mask)
        tl.store(out_ptr + offsets, x + y, mask=mask)

    return add_kernel


def cpp_launch(tile_ir, num_warps, calls, repeats):
    """The C++ program's figures, or {"error": ...} where it cannot be built or run."""
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        return {"error": "no C++ compiler (g++) on this host"}
    package = os.path.join(harness.REPO, "python", "tessera")
    with tempfile.TemporaryDirectory(prefix="tessera-launch-") as tmp:
        program = os.path.join(tmp, "launch_overhead")
        build = subprocess.run(
            [compiler, "-O2", "-std=c++17", f"-I{harness.REPO}",
             os.path.join(harness.REPO, "bench", "launch_overhead.cpp"), f"-L{package}",
             "-ltessera", f"-Wl,-rpath,{package}", "-ldl", "-o", program],
            capture_output=True, text=True)
        if build.returncode != 0:
            return {"error": "build failed: " + build.stderr.strip()[-500:]}
        ir_path = os.path.join(tmp, "add.tile.mlir")
        with open(ir_path, "w") as f:
            f.write(tile_ir)
        run = subprocess.run([program, ir_path, str(num_warps), str(calls), str(repeats)],
                             capture_output=True, text=True, timeout=600)
        lines = [s for s in run.stdout.splitlines() if s.startswith("LAUNCH ")]
        if run.returncode != 0 or not lines:
            return {"error": f"exit {run.returncode}: {run.stderr.strip()[-500:]}"}
        return json.loads(lines[-1].split(" ", 1)[1])


def run(calls=5000, repeats=15):
    torch = harness.gpu_or_exit()
    import tessera
    import vector_add

    x = torch.randn(N, device="cuda")
    y = torch.randn(N, device="cuda")
    out = torch.empty_like(x)
    num_warps = vector_add.DEFAULT_NUM_WARPS
    kernel = vector_add.add_kernel
    kernel[(1,)](x, y, out, N, BLOCK=N, num_warps=num_warps)
    torch.cuda.synchronize()
    assert torch.equal(out, x + y), "the add kernel is wrong"

    rows = []

    def add_row(case, host, one_sync, target=None):
        rows.append({"benchmark": "launch", "case": case, "host_us": round(host, 3),
                     "one_sync_us": round(one_sync, 3), "target_us": target,
                     "meets_target": None if target is None else host <= target})

    contenders = [("tessera (Python)", lambda: kernel[(1,)](x, y, out, N, BLOCK=N,
                                                            num_warps=num_warps),
                   PYTHON_TARGET_US),
                  ("torch.add", lambda: torch.add(x, y, out=out), None)]
    triton_kernel = triton_add()
    if triton_kernel is not None:
        contenders.append(("triton (Python)", lambda: triton_kernel[(1,)](
            x, y, out, N, BLOCK=N, num_warps=num_warps), None))
    timings = time_interleaved(torch, {case: launch for case, launch, _ in contenders}, calls,
                               repeats)
    for case, _, target in contenders:
        add_row(case, *timings[case], target)
    if triton_kernel is None:
        rows.append({"benchmark": "launch", "case": "triton (Python)",
                     "note": "Triton is not installed"})

    target = tessera.runtime.jit_function.device_target(0)
    tile_ir = tessera.compile(kernel, signature={"x_ptr": "*fp32:16", "y_ptr": "*fp32:16",
                                                 "out_ptr": "*fp32:16", "n_elements": "i32"},
                              constants={"BLOCK": N}, target=target,
                              num_warps=num_warps).asm["tile"]
    cpp = cpp_launch(tile_ir, num_warps, calls, repeats)
    if "error" in cpp:
        rows.append({"benchmark": "launch", "case": "tessera (C++)", "note": cpp["error"]})
    else:
        for stream, label in (("default", "legacy default stream"),
                              ("stream", "non-blocking stream")):
            add_row(f"tessera (C++, {label})", cpp[f"tessera_{stream}_host_us"],
                    cpp[f"tessera_{stream}_sync_us"], CPP_TARGET_US)
            add_row(f"cuLaunchKernel (C++, {label}: the floor)", cpp[f"bare_{stream}_host_us"],
                    cpp[f"bare_{stream}_sync_us"])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.calls, args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "host_us", "one_sync_us", "target_us", "meets_target"])


if __name__ == "__main__":
    main()
