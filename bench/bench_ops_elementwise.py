#!/usr/bin/env python3
"""tessera.ops' element-wise ops (add, mul, gelu, silu, dropout) at 2^28 elements, fp32 and bf16,
against PyTorch's own ops, in one process.

Bandwidth counts the bytes that must move: each input read once and the output written once (for
dropout too, though PyTorch's also writes its mask). At this size the buffers are far larger than
L2, so no buffer rotation is needed. Each result is checked against PyTorch's before timing
(dropout's by its kept fraction and scaling).
"""
import argparse
import json

import harness

# Of PyTorch's bandwidth: add, mul, gelu, silu >= 0.95 and dropout >= 1.0 (issue 5).
TARGETS = {"add": 0.95, "mul": 0.95, "gelu": 0.95, "silu": 0.95, "dropout": 1.0}
DROPOUT_P = 0.1


def cases(torch):
    """(name, number of inputs, tessera op, PyTorch op, baseline's name)."""
    import tessera.ops as ops

    F = torch.nn.functional
    return [("add", 2, ops.add, torch.add, "torch.add"),
            ("mul", 2, ops.mul, torch.mul, "torch.mul"),
            ("gelu", 1, ops.gelu, F.gelu, "F.gelu"),
            ("silu", 1, ops.silu, F.silu, "F.silu"),
            ("dropout", 1, lambda x: ops.dropout(x, DROPOUT_P),
             lambda x: F.dropout(x, DROPOUT_P), "F.dropout")]


def check_dropout(torch, x, y):
    kept = y != 0
    fraction = kept.double().mean().item()
    if abs(fraction - (1 - DROPOUT_P)) > 1e-3:
        raise AssertionError(f"dropout kept {fraction:.5f} of the elements, expected "
                             f"{1 - DROPOUT_P}")
    torch.testing.assert_close(y[kept], (x.float() / (1 - DROPOUT_P)).to(x.dtype)[kept],
                               rtol=2e-2, atol=1e-5)


def run(n=1 << 28, dtypes=("fp32", "bf16"), reps=25):
    torch = harness.gpu_or_exit()
    rows = []
    for dtype_name in dtypes:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
        g = torch.Generator(device="cuda").manual_seed(0)
        inputs = [torch.randn(n, device="cuda", generator=g).to(dtype) for _ in range(2)]
        for name, arity, ours_fn, theirs_fn, baseline in cases(torch):
            args = inputs[:arity]
            ours, theirs = ours_fn(*args), theirs_fn(*args)
            torch.cuda.synchronize()
            if name == "dropout":
                check_dropout(torch, args[0], ours)
            else:
                torch.testing.assert_close(ours, theirs, atol=1e-5,
                                           rtol=2e-2 if dtype_name == "bf16" else 1e-5)
            del ours, theirs
            times = harness.measure({"tessera": lambda i: ours_fn(*args),
                                     "torch": lambda i: theirs_fn(*args)}, reps=reps)
            nbytes = (arity + 1) * n * inputs[0].element_size()
            ours_gbps = harness.gbps(nbytes, times["tessera"]["median_ms"])
            theirs_gbps = harness.gbps(nbytes, times["torch"]["median_ms"])
            ratio = ours_gbps / theirs_gbps
            rows.append({
                "benchmark": name, "case": f"{dtype_name} n=2^{n.bit_length() - 1}",
                "metric": "GB/s", "tessera": round(ours_gbps, 1), "baseline": baseline,
                "baseline_value": round(theirs_gbps, 1), "ratio": round(ratio, 3),
                "target": TARGETS[name], "meets_target": ratio >= TARGETS[name],
                "tessera_ms": round(times["tessera"]["median_ms"], 4),
                "baseline_ms": round(times["torch"]["median_ms"], 4)})
            torch.cuda.empty_cache()
        del inputs
        torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1 << 28)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    rows = run(args.n, reps=args.reps)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["benchmark", "case", "tessera", "baseline_value", "ratio",
                                  "meets_target"])


if __name__ == "__main__":
    main()
