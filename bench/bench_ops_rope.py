#!/usr/bin/env python3
"""Rotary position embedding at LLM sizes (B=4, S=4096, H=32, D=128): tessera.ops'
rotary_position_embedding vs the eager PyTorch ops that compute the same rotation (fp32 math,
one rounding to the input dtype), bf16 and fp32, interleaved and half-split pairs.

Bandwidth counts one read of the input, one write of the output and one read of the fp32
tables. Each contender cycles through enough inputs to exceed L2 four times over.
"""
import argparse
import json

import harness

TARGET_RATIO = 1.0  # of the PyTorch composition's bandwidth


def torch_rope(torch, x, sin, cos, interleaved):
    """The rotation as eager PyTorch ops (what the op replaces)."""
    xf = x.float()
    s, c = sin[None, :, None, :], cos[None, :, None, :]
    if interleaved:
        x0, x1 = xf[..., 0::2], xf[..., 1::2]
        out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
    else:
        x0, x1 = xf.chunk(2, dim=-1)
        out = torch.cat((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.to(x.dtype)


def run(b=4, s=4096, h=32, d=128, reps=25, buffers=None):
    torch = harness.gpu_or_exit()
    import tessera.ops

    g = torch.Generator(device="cuda").manual_seed(0)
    angles = torch.rand(s, d // 2, device="cuda", generator=g) * 100
    sin, cos = angles.sin(), angles.cos()
    rows = []
    for dtype, interleaved in [(torch.bfloat16, True), (torch.bfloat16, False),
                               (torch.float32, True)]:
        element = torch.finfo(dtype).bits // 8
        nbytes = 2 * b * s * h * d * element + 2 * s * (d // 2) * 4
        count = buffers or max(2, -(-4 * getattr(torch.cuda.get_device_properties(0),
                                                 "L2_cache_size", 64 << 20) // nbytes))
        xs = [torch.randn(b, s, h, d, device="cuda", generator=g).to(dtype)
              for _ in range(count)]

        ours = tessera.ops.rotary_position_embedding(xs[0], sin, cos, interleaved=interleaved)
        ref = torch_rope(torch, xs[0], sin, cos, interleaved)
        torch.cuda.synchronize()
        err = (ours.float() - ref.float()).abs().max().item()
        if not err <= 2.0 ** -6 * ref.float().abs().max().item():
            raise AssertionError(f"rope: tessera's result is off by {err}")
        del ours, ref

        fns = {
            "tessera": lambda i: tessera.ops.rotary_position_embedding(
                xs[i % count], sin, cos, interleaved=interleaved),
            "torch": lambda i: torch_rope(torch, xs[i % count], sin, cos, interleaved),
        }
        times = harness.measure(fns, reps=reps)
        mine = harness.gbps(nbytes, times["tessera"]["median_ms"])
        theirs = harness.gbps(nbytes, times["torch"]["median_ms"])
        layout = "interleaved" if interleaved else "halves"
        rows.append({
            "benchmark": "rope", "metric": "GB/s",
            "case": f"{str(dtype).replace('torch.', '')} {layout} {b}x{s}x{h}x{d}",
            "tessera": round(mine, 1), "baseline": "torch (eager ops)",
            "baseline_value": round(theirs, 1), "ratio": round(mine / theirs, 3),
            "target": TARGET_RATIO, "meets_target": mine / theirs >= TARGET_RATIO,
            "tessera_ms": round(times["tessera"]["median_ms"], 4),
            "baseline_ms": round(times["torch"]["median_ms"], 4),
        })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--b", type=int, default=4)
    parser.add_argument("--s", type=int, default=4096)
    parser.add_argument("--h", type=int, default=32)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.b, args.s, args.h, args.d, args.reps)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "baseline", "tessera", "baseline_value", "ratio",
                                  "meets_target"])


if __name__ == "__main__":
    main()
