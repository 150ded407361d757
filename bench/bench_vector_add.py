#!/usr/bin/env python3
"""Vector add at 2^28 elements, fp32 and bf16: tessera's example kernel vs torch.add, in one process.

Bandwidth counts the bytes that must move: two inputs read and one output written. At this size the
buffers are far larger than L2, so no buffer rotation is needed.
"""
import argparse
import json

import harness

TARGET_RATIO = 0.9  # of torch.add's bandwidth


def run(n=1 << 28, dtypes=("fp32", "bf16"), reps=25, block=None, num_warps=None):
    torch = harness.gpu_or_exit()
    import vector_add

    kwargs = {}
    if block:
        kwargs["BLOCK"] = block
    if num_warps:
        kwargs["num_warps"] = num_warps
    rows = []
    for name in dtypes:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[name]
        g = torch.Generator(device="cuda").manual_seed(0)
        x = torch.randn(n, device="cuda", generator=g).to(dtype)
        y = torch.randn(n, device="cuda", generator=g).to(dtype)
        out_t = torch.full_like(x, float("nan"))
        out_r = torch.full_like(x, float("nan"))
        vector_add.add(x, y, out=out_t, **kwargs)
        torch.add(x, y, out=out_r)
        torch.cuda.synchronize()
        if not torch.equal(out_t, out_r):
            raise AssertionError(f"vector add {name}: tessera's result differs from torch.add")
        times = harness.measure({
            "tessera": lambda i: vector_add.add(x, y, out=out_t, **kwargs),
            "torch.add": lambda i: torch.add(x, y, out=out_r),
        }, reps=reps)
        nbytes = 3 * n * x.element_size()
        ours = harness.gbps(nbytes, times["tessera"]["median_ms"])
        theirs = harness.gbps(nbytes, times["torch.add"]["median_ms"])
        rows.append({
            "benchmark": "vector_add", "case": f"{name} n=2^{n.bit_length() - 1}"
            if n & (n - 1) == 0 else f"{name} n={n}",
            "metric": "GB/s", "tessera": round(ours, 1), "baseline": "torch.add",
            "baseline_value": round(theirs, 1), "ratio": round(ours / theirs, 3),
            "target": TARGET_RATIO, "meets_target": ours / theirs >= TARGET_RATIO,
            "tessera_ms": round(times["tessera"]["median_ms"], 4),
            "baseline_ms": round(times["torch.add"]["median_ms"], 4),
        })
        del x, y, out_t, out_r
        torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1 << 28)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--block", type=int, help="BLOCK constexpr (default: the example's)")
    parser.add_argument("--num-warps", type=int, help="num_warps (default: the example's)")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    rows = run(args.n, reps=args.reps, block=args.block, num_warps=args.num_warps)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "tessera", "baseline_value", "ratio", "meets_target"])


if __name__ == "__main__":
    main()
