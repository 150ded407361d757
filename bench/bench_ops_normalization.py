#!/usr/bin/env python3
"""tessera.ops' softmax, layer_norm and rms_norm in bf16 at 4096x4096 and 4096x16384 (rows of
the last dim): the op vs the same kernels written for Triton (bench/triton_normalization.py:
same algorithms, blocks and num_warps, where Triton is installed) vs PyTorch
(torch.softmax, torch.nn.functional.layer_norm / rms_norm).

Bandwidth counts one read of the input, one write of the output and one read of the weight
(and bias). Each contender cycles through several inputs whose total exceeds L2, so the reads
are not cache hits. Every contender allocates its output per call, as the ops do (and Triton's
tutorial wrappers): the caching allocator hands back the block the previous call freed. Writing
into rotating preallocated outputs instead measured Triton 2.5% slower at 4096x4096 on an H200,
where the one reused output partly stays in L2.
"""
import argparse
import json

import harness
import triton_normalization

TARGET_RATIO = 1.0  # of Triton's bandwidth
SHAPES = [(4096, 4096), (4096, 16384)]
EPS = 1e-5


def _bench_case(torch, op, m, n, reps, buffers):
    import torch.nn.functional as F
    from tessera.ops import normalization
    from tessera.ops.kernels.normalization import choose_block

    dtype = torch.bfloat16
    params = {"softmax": 0, "layer_norm": 2, "rms_norm": 1}[op]
    nbytes = (2 * m * n + params * n) * 2
    if buffers is None:  # enough inputs to exceed the L2 (H100: 50 MB, H200: 60 MB) 4 times
        l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 64 << 20)
        buffers = max(2, -(-4 * l2 // nbytes))
    g = torch.Generator(device="cuda").manual_seed(0)
    xs = [(torch.randn(m, n, device="cuda", generator=g) * 3 + 0.5).to(dtype)
          for _ in range(buffers)]
    w = torch.randn(n, device="cuda", generator=g).to(dtype)
    b = torch.randn(n, device="cuda", generator=g).to(dtype)
    block = choose_block(op, n, m, False)  # the Triton kernel runs with tessera's block

    if op == "softmax":
        ours = lambda i: normalization.softmax(xs[i % buffers], -1)  # noqa: E731
        theirs = lambda i: torch.softmax(xs[i % buffers], dim=-1)  # noqa: E731
        reference = torch.softmax(xs[0].float(), dim=-1)
        triton_fn = lambda i: triton_normalization.softmax(  # noqa: E731
            xs[i % buffers], torch.empty_like(xs[0]), block)
        baseline = "torch.softmax"
    elif op == "layer_norm":
        ours = lambda i: normalization.layer_norm(xs[i % buffers], (n,), w, b, EPS)  # noqa
        theirs = lambda i: F.layer_norm(xs[i % buffers], (n,), w, b, EPS)  # noqa: E731
        reference = F.layer_norm(xs[0].float(), (n,), w.float(), b.float(), EPS)
        triton_fn = lambda i: triton_normalization.norm(  # noqa: E731
            xs[i % buffers], torch.empty_like(xs[0]), w, b, EPS, False, block)
        baseline = "F.layer_norm"
    else:
        ours = lambda i: normalization.rms_norm(xs[i % buffers], (n,), w, EPS)  # noqa: E731
        theirs = lambda i: F.rms_norm(xs[i % buffers], (n,), w, EPS)  # noqa: E731
        reference = F.rms_norm(xs[0].float(), (n,), w.float(), EPS)
        triton_fn = lambda i: triton_normalization.norm(  # noqa: E731
            xs[i % buffers], torch.empty_like(xs[0]), w, None, EPS, True, block)
        baseline = "F.rms_norm"

    # both kernels are checked before they are timed
    checked = {"tessera": ours(0)}
    if triton_normalization.available:
        checked["triton"] = triton_fn(0)
    torch.cuda.synchronize()
    scale = reference.abs().max().item()
    for name, result in checked.items():
        err = (result.float() - reference).abs().max().item()
        if not err <= 2.0 ** -6 * max(scale, 1.0):
            raise AssertionError(f"{op}: {name}'s result is off by {err}")

    fns = {"tessera": ours}
    if triton_normalization.available:
        fns["triton"] = triton_fn
    fns[baseline] = theirs
    times = harness.measure(fns, reps=reps)

    case = f"bf16 {m}x{n}"
    ours_gbps = harness.gbps(nbytes, times["tessera"]["median_ms"])
    rows = []
    for base in [name for name in ("triton", baseline) if name in times]:
        base_gbps = harness.gbps(nbytes, times[base]["median_ms"])
        is_triton = base == "triton"
        rows.append({
            "benchmark": op, "case": case, "metric": "GB/s", "tessera": round(ours_gbps, 1),
            "baseline": base, "baseline_value": round(base_gbps, 1),
            "ratio": round(ours_gbps / base_gbps, 3),
            "target": TARGET_RATIO if is_triton else None,
            "meets_target": (ours_gbps / base_gbps >= TARGET_RATIO) if is_triton else None,
            "tessera_ms": round(times["tessera"]["median_ms"], 4),
            "baseline_ms": round(times[base]["median_ms"], 4),
            "block": f"rows={block.rows} block_n={block.block_n} warps={block.num_warps}",
        })
    if not triton_normalization.available:
        rows.append({"benchmark": op, "case": case, "metric": "GB/s",
                     "tessera": round(ours_gbps, 1), "baseline": "triton",
                     "note": "Triton is not installed"})
    return rows


def run(reps=25, buffers=None, ops=("softmax", "layer_norm", "rms_norm"), shapes=SHAPES):
    """The benchmark rows (one per op, shape and baseline), as bench/run_all.py reports them."""
    torch = harness.gpu_or_exit()
    if not triton_normalization.available:
        print("Triton is not installed: comparing with PyTorch only")
    rows = []
    for op in ops:
        for m, n in shapes:
            rows += _bench_case(torch, op, m, n, reps, buffers)
            torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", default="softmax,layer_norm,rms_norm",
                        help="comma-separated subset of softmax, layer_norm, rms_norm")
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.reps, ops=tuple(args.ops.split(",")))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["benchmark", "case", "baseline", "tessera", "baseline_value",
                                  "ratio", "meets_target", "block"])


if __name__ == "__main__":
    main()
