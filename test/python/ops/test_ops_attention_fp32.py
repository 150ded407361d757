"""tessera.ops.scaled_dot_product_attention with fp32 inputs (spec C.1: the SDPA entry point
accepts fp32), forward and backward, against the C.7 reference in fp64: head dims 32..256 (odd
ones included), one query to a thousand, the two causal alignments, bool and additive masks,
GQA decoding (the split-KV kernel, in several splits), the present_* slot write and dropout.

Runs on every device (see conftest.py): the CPU runs the host-compiled kernels at up to a few
hundred keys; the thousand-long problems are cuda_only.

Tolerance (C.7 with fp32 as the I/O dtype): max |out - ref| <= 2 * max |lowprec - ref| and 3
times for gradients, where ref is the reference in fp64 and lowprec the same reference in fp32
(exact fp32 matmuls, no tf32), plus 4 fp32 ulps at the largest |ref| (at least 1): the
kernels' exponentials are ex2.approx, within 2 ulps, where PyTorch's are correctly rounded, and
at fp32 that difference is no longer hidden below the output's rounding. So the kernels must
compute in full fp32: a tf32 dot would miss the bound by orders of magnitude (~1e-3).
On the CPU the allowance is 16 ulps: there the kernels' dots are one FMA chain per element (as
on a GPU), but PyTorch's fp32 matmul sums in several vector lanes, which makes the fp32
reference more accurate than the kernels by a factor that grows with D (13 ulps at D = 256,
as much as a sequential fp32 sum of the same products gives).
"""
import pytest
from op_helpers import require_torch

torch = require_torch()

import tessera.ops as ops  # noqa: E402
from tessera.ops.kernels import grid  # noqa: E402
from attention_reference import check_close, poison_allocator, reference  # noqa: E402

B = 2
ULPS = {"cuda": 4, "cpu": 16}  # the fp32 rounding allowance (see above)
HEAD_DIMS = [32, 59, 64, 96, 128, 160, 256]
CUDA_ONLY = pytest.mark.cuda_only
SEQLENS = [(1, 239), (113, 203), pytest.param(1024, 1023, marks=CUDA_ONLY)]
CAUSAL = {"none": {}, "upper_left": {"is_causal": True},
          "lower_right": {"is_causal": True, "causal_variant": "LOWER_RIGHT"}}
# The CPU runs every head dim without a causal mask, and each causal alignment with a head dim
# of each kernel configuration (D <= 128 and over), one padded and one not: each (head dim,
# causal) pair is a compile of its own there, most of the CPU's time.
CPU_CAUSAL_DIMS = {"upper_left": (59, 256), "lower_right": (128, 160)}
FORWARD_CASES = [pytest.param(d, causal, id=f"{d}-{causal}",
                              marks=[] if d in CPU_CAUSAL_DIMS.get(causal, HEAD_DIMS)
                              else [CUDA_ONLY])
                 for d in HEAD_DIMS for causal in CAUSAL]

pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")  # the fp32 low-precision reference


def inputs(device, sq, sk, hq, hk, d, grad=False, seed=0, b=B):
    """fp32 q (B, Sq, Hq, D), k, v (B, Sk, Hk, D) and dO, in the flash layout."""
    g = torch.Generator(device=device).manual_seed(seed)
    q = torch.randn(b, sq, hq, d, device=device, generator=g)
    k = torch.randn(b, sk, hk, d, device=device, generator=g)
    v = torch.randn(b, sk, hk, d, device=device, generator=g)
    do = torch.randn(b, sq, hq, d, device=device, generator=g)
    if grad:
        q, k, v = (t.requires_grad_() for t in (q, k, v))
    return q, k, v, do


def sdpa(q, k, v, **kwargs):
    """The op on SDPA-layout views of flash-layout tensors; the output back in flash layout."""
    if isinstance(kwargs.get("causal_variant"), str):
        kwargs["causal_variant"] = getattr(ops.CausalVariant, kwargs["causal_variant"])
    poison_allocator(q.device, q.shape, dtype=q.dtype)
    out = ops.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v)), **kwargs)
    assert out.dtype == torch.float32
    return out.transpose(1, 2)


def reference_kwargs(sq, sk, kwargs):
    """The C.7 reference's arguments for an SDPA call's: top-left causal unless LOWER_RIGHT."""
    ref = {"off": sk - sq if kwargs.get("causal_variant") == "LOWER_RIGHT" else 0,
           "causal": kwargs.get("is_causal", False)}
    if "attn_mask" in kwargs:
        ref["mask"] = kwargs["attn_mask"]
    if "scale" in kwargs:
        ref["scale"] = kwargs["scale"]
    return ref


def check(q, k, v, do=None, **kwargs):
    """The op's output (and, given do, gradients) against the fp64 reference."""
    out = sdpa(q, k, v, **kwargs)
    ref_kwargs = reference_kwargs(q.shape[1], k.shape[1], kwargs)
    ref, ref_lse = reference(q, k, v, wide=torch.float64, **ref_kwargs)
    low, _ = reference(q, k, v, upcast=False, **ref_kwargs)
    ulps = ULPS[out.device.type]
    check_close("out", out, ref, low, 2, ulps)
    dead = torch.isinf(ref_lse).transpose(1, 2)
    if bool(dead.any()):
        assert bool((out[dead] == 0).all()), "a row with no visible key is not 0"
    if do is None:
        return
    poison_allocator(q.device, q.shape, k.shape, v.shape, dtype=q.dtype)
    grads = torch.autograd.grad(out, (q, k, v), do)
    ref_grads = torch.autograd.grad(ref, (q, k, v), do.double())
    low_grads = torch.autograd.grad(low, (q, k, v), do)
    for name, got, r, lo in zip(("dq", "dk", "dv"), grads, ref_grads, low_grads):
        check_close(name, got, r, lo, 3, ulps)


@pytest.mark.parametrize("sq,sk", SEQLENS, ids=["1x239", "113x203", "1024x1023"])
@pytest.mark.parametrize("d,causal", FORWARD_CASES)
def test_forward(d, causal, sq, sk, device):
    q, k, v, _ = inputs(device, sq, sk, 3, 3, d)
    check(q, k, v, **CAUSAL[causal])


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_masks(kind, device):
    q, k, v, _ = inputs(device, 113, 203, 2, 2, 64)
    g = torch.Generator(device=device).manual_seed(1)
    if kind == "bool":
        mask = torch.rand(B, 1, 113, 203, device=device, generator=g) > 0.3
    else:
        mask = torch.randn(113, 203, device=device, generator=g) * 2
    check(q, k, v, attn_mask=mask)


# (B, Lk): 4096 keys, and a CPU size that one batch splits in two there (4 "SMs", two kv heads)
DECODE_SHAPES = [pytest.param((B, 4096), marks=CUDA_ONLY), (1, 700)]


@pytest.mark.parametrize("shape", DECODE_SHAPES, ids=lambda s: "b{}_lk{}".format(*s))
@pytest.mark.parametrize("lq", [1, 4])
@pytest.mark.parametrize("d", [64, pytest.param(128, marks=CUDA_ONLY), 256])  # (CPU: 64's config)
def test_gqa_decode(d, lq, shape, device):
    """Few queries per kv head: the split-KV kernel, with its fp32 configuration."""
    b, lk = shape
    q, k, v, _ = inputs(device, lq, lk, 8, 2, d, b=b)
    check(q, k, v, enable_gqa=True, is_causal=True, causal_variant="LOWER_RIGHT")


@pytest.mark.parametrize("case", ["plain", "causal", "gqa-mask", "d256-lower-right"])
def test_backward(case, device):
    d = 256 if case.startswith("d256") else 80
    hk = 2 if case == "gqa-mask" else 4
    q, k, v, do = inputs(device, 113, 203, 4, hk, d, grad=True)
    kwargs = {}
    if case == "causal":
        kwargs["is_causal"] = True
    elif case == "gqa-mask":
        g = torch.Generator(device=device).manual_seed(2)
        kwargs.update(enable_gqa=True, scale=0.2,
                      attn_mask=torch.rand(B, 1, 113, 203, device=device, generator=g) > 0.3)
    elif case == "d256-lower-right":
        kwargs.update(is_causal=True, causal_variant="LOWER_RIGHT")
    check(q, k, v, do, **kwargs)


# Tests that more (batch, head) pairs than grid axis 1 holds (65535; kernels/grid.py) run: 1025 x
# 64 pairs through the forward and backward kernels (with grad) and the split-KV kernel (a
# decode step without), over a (heads, batch) grid. cuda_only: host launches have no such limit,
# and their 65600 programs take the host a minute (the next test runs the layouts there).
@pytest.mark.parametrize("case", ["backward", "decode"])
@CUDA_ONLY
def test_more_pairs_than_grid_axis_1(case, device):
    if case == "backward":
        q, k, v, do = inputs(device, 3, 40, 64, 64, 32, grad=True, b=1025)
        check(q, k, v, do, is_causal=True)
    else:
        q, k, v, _ = inputs(device, 1, 40, 64, 64, 32, b=1025)
        check(q, k, v)


# Tests each grid layout past the limit on small problems, with the limit lowered to 5: heads
# by batch (4 x 3; GQA 4/2: the dk/dv kernel's pairs are kv heads, 2 x 3), and a factorisation
# where the heads alone exceed it (1 x 6 = 3 x 2).
@pytest.mark.parametrize("b,hq,hk", [(3, 4, 2), (1, 6, 6)], ids=["heads-by-batch", "factorised"])
def test_pairs_over_two_grid_axes(b, hq, hk, device, monkeypatch):
    monkeypatch.setattr(grid, "MAX_GRID_YZ", 5)
    q, k, v, do = inputs(device, 37, 70, hq, hk, 32, grad=True, b=b)
    check(q, k, v, do, enable_gqa=True, is_causal=True)
    q, k, v, _ = inputs(device, 1, 300, hq, hk, 32, b=b)
    check(q, k, v, enable_gqa=True)


def test_present_slot_write(device):
    """fp32 present_* rows are written into the cache (exactly) before attending."""
    q, k, v, _ = inputs(device, 1, 300, 4, 4, 64)
    new_k, new_v = torch.randn(2, B, 1, 4, 64, device=device)
    cache_k, cache_v = k.clone(), v.clone()
    expected_k, expected_v = k.clone(), v.clone()
    expected_k[:, 299:], expected_v[:, 299:] = new_k, new_v
    kt, vt = cache_k.transpose(1, 2), cache_v.transpose(1, 2)
    out = ops.scaled_dot_product_attention(
        q.transpose(1, 2), kt, vt, present_key=new_k.transpose(1, 2),
        present_value=new_v.transpose(1, 2), present_key_slot=kt[:, :, 299:],
        present_value_slot=vt[:, :, 299:]).transpose(1, 2)
    assert torch.equal(cache_k, expected_k) and torch.equal(cache_v, expected_v)
    ref, _ = reference(q, expected_k, expected_v, off=0, wide=torch.float64)
    low, _ = reference(q, expected_k, expected_v, off=0, upcast=False)
    check_close("out", out, ref, low, 2, ULPS[device])


def test_dropout_is_reproducible_and_differentiable(device):
    """fp32 dropout: the same seed gives the same output bitwise, the backward runs and its
    gradients are finite; the kept fraction is near 1 - p."""
    q, k, v, do = inputs(device, 128, 128, 2, 2, 64, grad=True)
    torch.manual_seed(7)
    first = sdpa(q, k, v, dropout_p=0.25)
    torch.manual_seed(7)
    second = sdpa(q, k, v, dropout_p=0.25)
    assert torch.equal(first, second)
    grads = torch.autograd.grad(first, (q, k, v), do)
    assert all(bool(torch.isfinite(g).all()) for g in grads)
    zero_q = torch.zeros(1, 256, 1, 128, device=device)
    eye = torch.eye(128, device=device)[None, :, None, :]
    torch.manual_seed(8)
    kept = sdpa(zero_q, zero_q[:, :128], eye, dropout_p=0.25) * 128 * 0.75
    fraction = (kept > 0.5).float().mean().item()
    assert abs(fraction - 0.75) < 0.02, f"kept fraction {fraction:.3f}, not 0.75"
    assert bool(((kept - 1).abs() < 1e-5).logical_or(kept.abs() < 1e-5).all())


def test_flash_attn_func_refuses_fp32(device):
    """flash_attn_func keeps FlashAttention 2's fp16 / bf16 inputs (C.1)."""
    q, k, v, _ = inputs(device, 8, 8, 2, 2, 64)
    with pytest.raises(TypeError, match="q has dtype float32"):
        ops.flash_attn_func(q, k, v)
