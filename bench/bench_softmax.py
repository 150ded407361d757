#!/usr/bin/env python3
"""Row softmax of a 4096x4096 bf16 matrix: tessera's example kernel vs the same algorithm in Triton
(bench/triton_softmax.py, where Triton is installed) vs torch.softmax.

Bandwidth counts one read of the input and one write of the output. Each contender cycles through
several input/output pairs whose total exceeds L2, so the numbers are not cache hits.
"""
import argparse
import json

import harness
import triton_softmax

TARGET_RATIO = 0.9  # of Triton's bandwidth


def run(m=4096, n=4096, reps=25, buffers=None):
    torch = harness.gpu_or_exit()
    import softmax
    import tessera

    dtype = torch.bfloat16
    nbytes = 2 * m * n * 2
    if buffers is None:  # enough pairs to exceed the L2 (H100: 50 MB, H200: 60 MB) four times over
        l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 64 << 20)
        buffers = max(2, -(-4 * l2 // nbytes))
    g = torch.Generator(device="cuda").manual_seed(0)
    xs = [(torch.randn(m, n, device="cuda", generator=g) * 3).to(dtype) for _ in range(buffers)]
    outs = [torch.full_like(xs[0], float("nan")) for _ in range(buffers)]
    warps = softmax.num_warps_for(tessera.next_power_of_2(n))

    ref = torch.softmax(xs[0].float(), dim=-1)
    softmax.softmax(xs[0], out=outs[0])
    torch.cuda.synchronize()
    err = (outs[0].float() - ref).abs().max().item()
    if not err <= 2.0 ** -7 * ref.abs().max().item():
        raise AssertionError(f"softmax: tessera's result is off by {err}")

    fns = {"tessera": lambda i: softmax.softmax(xs[i % buffers], out=outs[i % buffers])}
    if triton_softmax.available:
        fns["triton"] = lambda i: triton_softmax.softmax(xs[i % buffers], outs[i % buffers], warps)
    else:
        print("Triton is not installed: comparing with torch.softmax only")
    fns["torch.softmax"] = lambda i: torch.softmax(xs[i % buffers], dim=-1)
    times = harness.measure(fns, reps=reps)

    ours = harness.gbps(nbytes, times["tessera"]["median_ms"])
    rows = []
    for base in [b for b in ("triton", "torch.softmax") if b in times]:
        theirs = harness.gbps(nbytes, times[base]["median_ms"])
        rows.append({
            "benchmark": "softmax", "case": f"bf16 {m}x{n}", "metric": "GB/s",
            "tessera": round(ours, 1), "baseline": base, "baseline_value": round(theirs, 1),
            "ratio": round(ours / theirs, 3),
            "target": TARGET_RATIO if base == "triton" else None,
            "meets_target": (ours / theirs >= TARGET_RATIO) if base == "triton" else None,
            "tessera_ms": round(times["tessera"]["median_ms"], 4),
            "baseline_ms": round(times[base]["median_ms"], 4),
        })
    if not triton_softmax.available:
        rows.append({"benchmark": "softmax", "case": f"bf16 {m}x{n}", "metric": "GB/s",
                     "tessera": round(ours, 1), "baseline": "triton",
                     "note": "Triton is not installed"})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--m", type=int, default=4096)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.m, args.n, args.reps)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "baseline", "tessera", "baseline_value", "ratio",
                                  "meets_target"])


if __name__ == "__main__":
    main()
