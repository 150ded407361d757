#!/usr/bin/env python3
"""Attention forward: tessera.ops.scaled_dot_product_attention vs PyTorch's SDPA with the flash
backend (SDPBackend.FLASH_ATTENTION), with the cuDNN backend (SDPBackend.CUDNN_ATTENTION) and a
plain FlashAttention-2-style kernel written for Triton (bench/triton_attention.py, where Triton
is installed), side by side in one process on one GPU.

Prefill cases: bf16, B=4, H=32, S=4096, D in {64, 128, 256}, non-causal and causal (top-left,
SDPA's is_causal). TFLOP/s counts the two products, 4*B*H*S*S*D flops, half of that when causal.
Tessera must reach the flash backend (ratio 1.0) and 0.85 of cuDNN at D=128; the Triton kernel
and the other head dims are reported only.

Backward cases: the same prefill shapes, timing the backward alone (dq, dk, dv from a kept
graph, torch.autograd.grad with retain_graph) against the flash and cuDNN backends' backward.
TFLOP/s counts 2.5 times the forward's flops (FlashAttention's convention: five products).
Tessera must reach the flash backend's backward at D=128. Tessera's gradients are checked
against the flash backend's first: max |difference| <= 2e-2 * max |gradient|.

Decode cases: one query (Sq=1) against Sk keys in bf16, GQA with 32 query heads and 8 kv heads,
D=128 (B=4 at Sk=8192, B=1 at Sk=131072, B=16 at Sk=4096), vs SDPA's own backend choice and the
flash backend. The paged case times tessera.ops.flash_attn_with_kvcache over a paged cache
(pages of 256 rows in a shuffled block table) against SDPA over the same keys stored
contiguously. GB/s counts one read of K and V (2*B*Hkv*Sk*D*2 bytes); reported only.

fp32 cases: B=4, H=16, S=2048, D=64, non-causal and causal, against SDPA's own choice and its
memory-efficient backend (the flash and cuDNN backends take no fp32); reported only.

A backend that refuses a shape is reported as "-" (baseline_value and ratio None, the reason in
baseline_error) instead of failing the benchmark. Tessera's result (and the Triton kernel's) is
checked against SDPA's before anything is timed: max |difference| <= 2e-2. Every contender runs
once first (autotuners tune outside the timing) and allocates its output per call; timing is
harness.measure (CUDA events, contenders interleaved, median of repeats). Decode cases cycle
through enough K/V sets to exceed L2 four times over; the prefill inputs are far larger than L2.
"""
import argparse
import json
import warnings

import harness
import triton_attention

# (name, B, H, S, D, causal)
PREFILL = [(f"bf16 4x32x4096x{d}{' causal' if causal else ''}", 4, 32, 4096, d, causal)
           for d in (128, 64, 256) for causal in (False, True)]
BACKWARD = [(f"bf16 4x32x4096x{d}{' causal' if causal else ''} bwd", 4, 32, 4096, d, causal)
            for d in (128, 64, 256) for causal in (False, True)]
# (name, B, Hq, Hkv, Sk, D, page size of tessera's paged KV cache or 0)
DECODE = [("bf16 decode 4x32/8x8192x128", 4, 32, 8, 8192, 128, 0),
          ("bf16 decode 1x32/8x131072x128", 1, 32, 8, 131072, 128, 0),
          ("bf16 decode 16x32/8x4096x128", 16, 32, 8, 4096, 128, 0),
          ("bf16 kvcache paged decode 4x32/8x8192x128", 4, 32, 8, 8192, 128, 256)]
# fp32 inputs, which only SDPA's math and memory-efficient backends take: (name, B, H, S, D, causal)
FP32 = [(f"fp32 4x16x2048x64{' causal' if causal else ''}", 4, 16, 2048, 64, causal)
        for causal in (False, True)]
CASES = [c[0] for c in PREFILL + BACKWARD + DECODE + FP32]

FLASH, CUDNN, DEFAULT, TRITON = "sdpa flash", "sdpa cudnn", "sdpa (default)", "triton"
EFFICIENT = "sdpa efficient"
# Targets (ratio tessera / baseline) of the D=128 prefill cases; everything else is reported only.
TARGETS = {FLASH: 1.0, CUDNN: 0.85, TRITON: None}
TARGET_HEAD_DIM = 128
TOLERANCE = 2e-2  # max |tessera - SDPA| on randn inputs, bf16
GRAD_TOLERANCE = 2e-2  # max |tessera - flash| / max |flash| per gradient
BACKWARD_TARGETS = {FLASH: 1.0, CUDNN: None}


def tflops(b, h, s, d, causal, ms):
    flops = 4.0 * b * h * s * s * d / (2 if causal else 1)
    return flops / (ms * 1e-3) / 1e12


def sdpa_with(torch, backend):
    """f(q, k, v, **kwargs): SDPA restricted to one backend (None: PyTorch's own choice)."""
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel

    if backend is None:
        return F.scaled_dot_product_attention

    def call(q, k, v, **kwargs):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, **kwargs)
    return call


def probe(torch, fn):
    """fn() once: (result, None), or (None, reason) where it raises (a backend that refuses the
    shape, an out-of-memory). The warnings SDPA prints on refusal are silenced."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
            torch.cuda.synchronize()
        return out, None
    except (RuntimeError, ValueError, TypeError) as e:
        torch.cuda.synchronize()
        reason = str(e).strip().splitlines()
        return None, f"{type(e).__name__}: {reason[0] if reason else ''}"[:200]


def check(torch, name, who, out, ref):
    err = (out.float() - ref.float()).abs().max().item()
    if not err <= TOLERANCE:  # NaN fails too
        raise AssertionError(f"attention {name}: {who}'s result is off by {err} (SDPA's result "
                             f"as reference, tolerance {TOLERANCE})")


def rows_for(name, metric, ours, times, baselines, errors, value, targets):
    """One row per baseline: ratio of tessera's value to the baseline's, or '-' if refused."""
    rows = []
    for base in baselines:
        row = {"benchmark": "attention", "case": name, "metric": metric,
               "tessera": round(ours, 1), "baseline": base, "target": targets.get(base),
               "tessera_ms": round(times["tessera"]["median_ms"], 4)}
        if base in times:
            theirs = value(times[base]["median_ms"])
            target = targets.get(base)
            row.update(baseline_value=round(theirs, 1), ratio=round(ours / theirs, 3),
                       meets_target=None if target is None else ours / theirs >= target,
                       baseline_ms=round(times[base]["median_ms"], 4))
        else:
            row.update(baseline_value=None, ratio=None, meets_target=None, baseline_ms=None,
                       baseline_error=errors.get(base, "not run"))
        rows.append(row)
    return rows


def runnable(torch, name, contenders, ref, checked, errors):
    """The contenders that run once (those in `checked` also match `ref`); a refusal goes to
    `errors`, except tessera's, which fails the benchmark."""
    fns = {}
    for who, fn in contenders.items():
        out, reason = probe(torch, lambda: fn(0))
        if who == "tessera" and reason is not None:
            raise RuntimeError(f"attention {name}: tessera failed: {reason}")
        if reason is not None:
            errors[who] = reason
            continue
        if who in checked:
            check(torch, name, who, out, ref)
        fns[who] = fn
        del out
    return fns


def run_prefill(torch, name, b, h, s, d, causal, reps, fp32=False):
    """bf16 prefill against the flash and cuDNN backends and the Triton kernel; fp32 (which
    only SDPA's math and memory-efficient backends take) against SDPA's own choice and the
    memory-efficient backend."""
    import tessera.ops
    from torch.nn.attention import SDPBackend

    g = torch.Generator(device="cuda").manual_seed(0)
    dtype = torch.float32 if fp32 else torch.bfloat16
    q, k, v = (torch.randn(b, h, s, d, device="cuda", generator=g).to(dtype)
               for _ in range(3))
    backends = ({DEFAULT: None, EFFICIENT: SDPBackend.EFFICIENT_ATTENTION} if fp32 else
                {FLASH: SDPBackend.FLASH_ATTENTION, CUDNN: SDPBackend.CUDNN_ATTENTION})
    contenders = {
        "tessera": lambda i: tessera.ops.scaled_dot_product_attention(q, k, v, is_causal=causal)}
    for who, backend in backends.items():
        contenders[who] = (lambda f: lambda i: f(q, k, v, is_causal=causal))(
            sdpa_with(torch, backend))
    baselines = list(backends)
    errors = {}
    if not fp32:
        baselines.append(TRITON)
        if triton_attention.available:
            contenders[TRITON] = lambda i: triton_attention.triton_attention(q, k, v, causal)
        else:
            errors[TRITON] = "Triton is not installed"

    ref = sdpa_with(torch, None)(q, k, v, is_causal=causal)
    fns = runnable(torch, name, contenders, ref, ("tessera", TRITON), errors)
    del ref
    times = harness.measure(fns, reps=reps)
    ours = tflops(b, h, s, d, causal, times["tessera"]["median_ms"])
    targets = TARGETS if d == TARGET_HEAD_DIM and not fp32 else {}
    return rows_for(name, "TFLOP/s", ours, times, baselines, errors,
                    lambda ms: tflops(b, h, s, d, causal, ms), targets)


def run_backward(torch, name, b, h, s, d, causal, reps):
    import tessera.ops
    from torch.nn.attention import SDPBackend

    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v, grad = (torch.randn(b, h, s, d, device="cuda", generator=g).to(torch.bfloat16)
                     for _ in range(4))
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    flash, cudnn = (sdpa_with(torch, backend)
                    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION))
    forwards = {
        "tessera": lambda: tessera.ops.scaled_dot_product_attention(q, k, v, is_causal=causal),
        FLASH: lambda: flash(q, k, v, is_causal=causal),
        CUDNN: lambda: cudnn(q, k, v, is_causal=causal),
    }
    # Each contender's graph is built once; the timed call is its backward alone.
    contenders, errors = {}, {}
    for who, forward in forwards.items():
        out, reason = probe(torch, forward)
        if reason is None:
            contenders[who] = (lambda o: lambda i: torch.autograd.grad(
                o, (q, k, v), grad, retain_graph=True))(out)
        else:
            errors[who] = reason
    if FLASH not in contenders:
        raise RuntimeError(f"attention {name}: the flash backend (the reference) failed: "
                           f"{errors[FLASH]}")
    reference = contenders[FLASH](0)
    ours, reason = probe(torch, lambda: contenders["tessera"](0))
    if reason is not None:
        raise RuntimeError(f"attention {name}: tessera's backward failed: {reason}")
    for label, mine, theirs in zip("qkv", ours, reference):
        err = (mine.float() - theirs.float()).abs().max().item()
        scale = theirs.float().abs().max().item()
        if not err <= GRAD_TOLERANCE * scale:
            raise AssertionError(f"attention {name}: tessera's d{label} is off by {err} (the "
                                 f"flash backend's, max {scale}, as reference)")
    del reference, ours
    times = harness.measure(contenders, reps=reps)

    def bwd_tflops(ms):
        return 2.5 * tflops(b, h, s, d, causal, ms)
    targets = BACKWARD_TARGETS if d == TARGET_HEAD_DIM else {}
    return rows_for(name, "TFLOP/s", bwd_tflops(times["tessera"]["median_ms"]), times,
                    [FLASH, CUDNN], errors, bwd_tflops, targets)


def paged_copy(torch, cache, page, table):
    """(B, Hkv, Sk, D) keys as pages (num_pages, page, Hkv, D) laid out by ``table``."""
    b, hkv, sk, d = cache.shape
    pages = torch.empty(b * sk // page, page, hkv, d, dtype=cache.dtype, device=cache.device)
    blocks = cache.transpose(1, 2).reshape(b, sk // page, page, hkv, d)
    pages[table.long().flatten()] = blocks.flatten(0, 1)
    return pages


def run_decode(torch, name, b, hq, hkv, sk, d, page, reps):
    import tessera.ops
    from torch.nn.attention import SDPBackend

    nbytes = 2 * b * hkv * sk * d * 2
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 64 << 20)
    count = max(2, -(-4 * l2 // nbytes))
    g = torch.Generator(device="cuda").manual_seed(0)
    qs = [torch.randn(b, hq, 1, d, device="cuda", generator=g).to(torch.bfloat16)
          for _ in range(count)]
    ks = [torch.randn(b, hkv, sk, d, device="cuda", generator=g).to(torch.bfloat16)
          for _ in range(count)]
    vs = [torch.randn(b, hkv, sk, d, device="cuda", generator=g).to(torch.bfloat16)
          for _ in range(count)]
    default, flash = sdpa_with(torch, None), sdpa_with(torch, SDPBackend.FLASH_ATTENTION)

    if page:
        table = torch.randperm(b * sk // page, device="cuda", generator=g).to(
            torch.int32).view(b, sk // page)
        k_pages = [paged_copy(torch, k, page, table) for k in ks]
        v_pages = [paged_copy(torch, v, page, table) for v in vs]

        def tessera_call(i):
            return tessera.ops.flash_attn_with_kvcache(
                qs[i % count].transpose(1, 2), k_pages[i % count], v_pages[i % count],
                block_table=table).transpose(1, 2)
    else:
        def tessera_call(i):
            return tessera.ops.scaled_dot_product_attention(qs[i % count], ks[i % count],
                                                            vs[i % count], enable_gqa=True)
    contenders = {
        "tessera": tessera_call,
        DEFAULT: lambda i: default(qs[i % count], ks[i % count], vs[i % count],
                                   enable_gqa=True),
        FLASH: lambda i: flash(qs[i % count], ks[i % count], vs[i % count], enable_gqa=True),
    }
    baselines = [DEFAULT, FLASH]
    errors = {}
    ref, reason = probe(torch, lambda: default(qs[0], ks[0], vs[0], enable_gqa=True))
    if reason is not None:
        raise RuntimeError(f"attention {name}: SDPA (the reference) failed: {reason}")
    fns = runnable(torch, name, contenders, ref, ("tessera",), errors)
    del ref
    times = harness.measure(fns, reps=reps)
    ours = harness.gbps(nbytes, times["tessera"]["median_ms"])
    return rows_for(name, "GB/s", ours, times, baselines, errors,
                    lambda ms: harness.gbps(nbytes, ms), {})


def run(reps=25, cases=None):
    """The benchmark rows (one per case and baseline), as bench/run_all.py reports them."""
    torch = harness.gpu_or_exit()
    if not triton_attention.available:
        print("Triton is not installed: comparing with PyTorch's SDPA only")
    rows = []
    for name, b, h, s, d, causal in PREFILL:
        if not cases or name in cases:
            rows += run_prefill(torch, name, b, h, s, d, causal, reps)
            torch.cuda.empty_cache()
    for name, b, h, s, d, causal in BACKWARD:
        if not cases or name in cases:
            rows += run_backward(torch, name, b, h, s, d, causal, reps)
            torch.cuda.empty_cache()
    for name, b, hq, hkv, sk, d, page in DECODE:
        if not cases or name in cases:
            rows += run_decode(torch, name, b, hq, hkv, sk, d, page, reps)
            torch.cuda.empty_cache()
    for name, b, h, s, d, causal in FP32:
        if not cases or name in cases:
            rows += run_prefill(torch, name, b, h, s, d, causal, reps, fp32=True)
            torch.cuda.empty_cache()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--case", action="append", choices=CASES,
                        help="run only this case (repeatable)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.reps, args.case)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        harness.print_rows(rows, ["case", "metric", "baseline", "tessera", "baseline_value",
                                  "ratio", "meets_target", "baseline_error"])


if __name__ == "__main__":
    main()
