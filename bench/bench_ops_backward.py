#!/usr/bin/env python3
"""The backward passes of tessera.ops' differentiable ops against PyTorch's autograd of the
same functions, bf16, in one process: softmax, layer_norm and rms_norm at 4096x4096 (GB/s),
gelu and dropout at 2^26 elements (GB/s), the rotary embedding at 4x4096x32x128 (GB/s), and
matmul at 4096^3 (TFLOP/s of the two gradient products).

Each contender's forward is recorded once per input; a timed call is the backward alone
(``torch.autograd.grad`` of the kept graph for a fixed output gradient), so the figure covers
the backward kernels and autograd's bookkeeping, as a training step sees them. Inputs rotate
over enough buffers to exceed L2 where one case is smaller than it. Bandwidth counts the bytes
a backward must move: softmax reads y and dy and writes dx; the norms read x, dy and the
weight and write dx and the parameters' gradients; gelu reads x and dy and writes dx; dropout
reads dy and writes dx; the rotary embedding reads dy and its fp32 tables and writes dx. Every
gradient is checked against PyTorch's before timing (dropout's against its own mask).
"""
import argparse
import json

import harness
from bench_ops_rope import torch_rope

NORM_SHAPE = (4096, 4096)
ELEMENTS = 1 << 26
MATMUL = (4096, 4096, 4096)
ROPE_SHAPE = (4, 4096, 32, 128)
DROPOUT_P = 0.1


def _cases(torch):
    """(name, case, make(g) -> inputs, how many of them the op differentiates, tessera fn,
    PyTorch fn, bytes or flops, metric)."""
    import tessera.ops as ops

    F = torch.nn.functional
    bf16 = torch.bfloat16
    m, n = NORM_SHAPE
    mm, nn, kk = MATMUL
    rb, rs, rh, rd = ROPE_SHAPE

    def rows(g):
        return [torch.randn(m, n, device="cuda", generator=g).to(bf16).requires_grad_(),
                torch.randn(n, device="cuda", generator=g).to(bf16).requires_grad_(),
                torch.randn(n, device="cuda", generator=g).to(bf16).requires_grad_()]

    def flat(g):
        return [torch.randn(ELEMENTS, device="cuda", generator=g).to(bf16).requires_grad_()]

    def products(g):
        return [(torch.randn(mm, kk, device="cuda", generator=g) * kk ** -0.5).to(bf16)
                .requires_grad_(),
                torch.randn(kk, nn, device="cuda", generator=g).to(bf16).requires_grad_()]

    def rotary(g):
        angles = torch.rand(rs, rd // 2, device="cuda", generator=g) * 100
        return [torch.randn(*ROPE_SHAPE, device="cuda", generator=g).to(bf16).requires_grad_(),
                angles.sin(), angles.cos()]

    row_bytes = 3 * m * n * 2
    return [
        ("softmax", f"bf16 {m}x{n}", rows, 1, lambda x, w, b: ops.softmax(x, -1),
         lambda x, w, b: torch.softmax(x, -1), row_bytes, "GB/s"),
        ("layer_norm", f"bf16 {m}x{n}", rows, 3,
         lambda x, w, b: ops.layer_norm(x, (n,), w, b, 1e-5),
         lambda x, w, b: F.layer_norm(x, (n,), w, b, 1e-5), row_bytes + 3 * n * 2, "GB/s"),
        ("rms_norm", f"bf16 {m}x{n}", rows, 2, lambda x, w, b: ops.rms_norm(x, (n,), w, 1e-5),
         lambda x, w, b: F.rms_norm(x, (n,), w, 1e-5), row_bytes + 2 * n * 2, "GB/s"),
        ("gelu", "bf16 2^26", flat, 1, ops.gelu, F.gelu, 3 * ELEMENTS * 2, "GB/s"),
        ("dropout", f"bf16 2^26 p={DROPOUT_P}", flat, 1, lambda x: ops.dropout(x, DROPOUT_P),
         lambda x: F.dropout(x, DROPOUT_P), 2 * ELEMENTS * 2, "GB/s"),
        ("rope", f"bf16 interleaved {rb}x{rs}x{rh}x{rd}", rotary, 1,
         lambda x, sin, cos: ops.rotary_position_embedding(x, sin, cos),
         lambda x, sin, cos: torch_rope(torch, x, sin, cos, True),
         2 * rb * rs * rh * rd * 2 + 2 * rs * (rd // 2) * 4, "GB/s"),
        ("matmul", f"bf16 {mm}x{nn}x{kk}", products, 2, ops.matmul, torch.matmul,
         2 * 2 * mm * nn * kk, "TFLOP/s"),
    ]


def _check(torch, name, inputs, ours, theirs, dy):
    """Gradients of ``ours`` against ``theirs`` (for dropout: dy where kept, scaled, else 0;
    an input that is exactly 0, which randn gives a few times in 2^26, hides its mask, so
    either is right there)."""
    got = torch.autograd.grad(ours, inputs, dy, retain_graph=True)
    if name == "dropout":
        kept = (ours.detach() != 0) | ((inputs[0].detach() == 0) & (got[0] != 0))
        want = [torch.where(kept, dy.float() / (1 - DROPOUT_P), 0.0)]
    else:
        want = torch.autograd.grad(theirs, inputs, dy, retain_graph=True)
    for i, (a, b) in enumerate(zip(got, want)):
        scale = b.float().abs().max().item()
        err = (a.float() - b.float()).abs().max().item()
        if not err <= 2.0 ** -5 * max(scale, 1e-3):
            raise AssertionError(f"{name}: gradient {i} is off by {err} (max {scale})")


def run(reps=25, names=None):
    """The benchmark rows (one per op), as bench/run_all.py reports them."""
    torch = harness.gpu_or_exit()
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 64 << 20)
    rows = []
    for name, case, make, used, ours_fn, theirs_fn, work, metric in _cases(torch):
        if names and name not in names:
            continue
        g = torch.Generator(device="cuda").manual_seed(0)
        per_input = 3 * max(t.numel() for t in make(g)) * 2
        buffers = max(1, min(8, -(-4 * l2 // per_input)))
        inputs = [make(g) for _ in range(buffers)]
        torch.manual_seed(0)
        ours = [ours_fn(*xs) for xs in inputs]
        torch.manual_seed(0)
        theirs = [theirs_fn(*xs) for xs in inputs]
        dy = torch.randn(ours[0].shape, device="cuda", generator=g).to(ours[0].dtype)
        wanted = [xs[:used] for xs in inputs]
        _check(torch, name, wanted[0], ours[0], theirs[0], dy)

        def backward(outputs):
            return lambda i: torch.autograd.grad(outputs[i % buffers], wanted[i % buffers], dy,
                                                 retain_graph=True)

        baseline = "torch autograd"
        times = harness.measure({"tessera": backward(ours), baseline: backward(theirs)},
                                reps=reps)
        value = {name_: (harness.gbps(work, t["median_ms"]) if metric == "GB/s"
                         else work / (t["median_ms"] * 1e9)) for name_, t in times.items()}
        rows.append({
            "benchmark": f"{name} backward", "case": case, "metric": metric,
            "tessera": round(value["tessera"], 1), "baseline": baseline,
            "baseline_value": round(value[baseline], 1),
            "ratio": round(value["tessera"] / value[baseline], 3), "target": None,
            "meets_target": None, "tessera_ms": round(times["tessera"]["median_ms"], 4),
            "baseline_ms": round(times[baseline]["median_ms"], 4)})
        for kept in (inputs, ours, theirs, wanted):  # free this case's memory before the next
            kept.clear()
        torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", help="comma-separated subset of softmax, layer_norm, rms_norm, "
                        "gelu, dropout, rope, matmul")
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.reps, args.ops.split(",") if args.ops else None)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["benchmark", "case", "baseline", "tessera", "baseline_value",
                                  "ratio", "metric"])


if __name__ == "__main__":
    main()
