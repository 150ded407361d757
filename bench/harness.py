"""Timing helpers shared by the benchmarks: CUDA events, interleaved contenders, median of repeats.

Each timed sample is a batch of `inner` back-to-back calls queued behind a spin kernel
(torch.cuda._sleep), so the GPU runs the batch without waiting for the host: the sample measures GPU
time, not Python launch overhead. Contenders alternate within each repeat so that clock or thermal
drift affects them alike.
"""
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
for path in (EXAMPLES, os.path.join(REPO, "python")):
    if path not in sys.path:
        sys.path.append(path)  # after any installed tessera


def _sleep_cycles_per_ms(torch):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    cycles = 10_000_000
    torch.cuda._sleep(cycles // 10)  # warm
    start.record()
    torch.cuda._sleep(cycles)
    end.record()
    torch.cuda.synchronize()
    return cycles / max(start.elapsed_time(end), 1e-3)


def measure(fns, reps=25, warmup=3, min_sample_ms=1.0, max_inner=200):
    """fns: {name: f(i)}, f called with a rotating index i (for rotating buffers).
    Returns {name: {"median_ms", "min_ms", "max_ms", "inner", "reps"}} per call."""
    import torch

    names = list(fns)
    for name in names:
        for i in range(warmup):
            fns[name](i)
    torch.cuda.synchronize()

    # per-call GPU time (rough) and host enqueue time, to size the batches and the spin
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    gpu_ms, host_ms = {}, {}
    for name in names:
        t0 = time.perf_counter()
        start.record()
        for i in range(5):
            fns[name](i)
        end.record()
        host_ms[name] = (time.perf_counter() - t0) * 1e3 / 5
        torch.cuda.synchronize()
        gpu_ms[name] = start.elapsed_time(end) / 5
    inner = max(1, min(max_inner, int(min_sample_ms / max(min(gpu_ms.values()), 1e-4))))
    cycles_per_ms = _sleep_cycles_per_ms(torch)
    spin_ms = 1.5 * inner * max(host_ms.values()) + 0.05
    spin_cycles = int(spin_ms * cycles_per_ms)

    samples = {name: [] for name in names}
    for r in range(reps):
        for name in (names if r % 2 == 0 else names[::-1]):
            f = fns[name]
            torch.cuda._sleep(spin_cycles)  # the GPU waits here while the batch is queued
            start.record()
            for i in range(inner):
                f(i)
            end.record()
            torch.cuda.synchronize()
            samples[name].append(start.elapsed_time(end) / inner)
    return {name: {"median_ms": statistics.median(s), "min_ms": min(s), "max_ms": max(s),
                   "inner": inner, "reps": reps} for name, s in samples.items()}


def gbps(nbytes, ms):
    return nbytes / (ms * 1e-3) / 1e9


def device_summary():
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {"gpu": props.name, "sms": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda}


def gpu_or_exit():
    """torch with a CUDA GPU, or exit 0 after saying why the benchmark cannot run here."""
    try:
        import torch
    except ImportError:
        print("benchmark skipped: PyTorch is not installed")
        sys.exit(0)
    if not torch.cuda.is_available():
        print("benchmark skipped: no CUDA GPU")
        sys.exit(0)
    return torch


def print_rows(rows, columns):
    table = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(columns, *table)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for line in table:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)))
