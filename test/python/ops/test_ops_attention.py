"""tessera.ops.scaled_dot_product_attention (SDPA layout (B, H, L, D)) against a reference
written here: fp16 / bf16, head dims 32..256 (odd ones included), query and key lengths from 1
to 2048 (Lq > Lk too), non-causal, causal upper-left (the default variant, j <= i) and
lower-right (j <= i + Lk - Lq), GQA / MQA and GQA decode (Lq = 1, the split-KV kernel, in
several splits), boolean and additive (fp32 and query-dtype, -inf included) masks in several
broadcast shapes, an explicit scale, non-contiguous inputs, large fp16 logits, and the errors of
specs/ops.md.

Runs on every device (see conftest.py): the CPU runs the host-compiled kernels at lengths up to
about 800; the longer problems are cuda_only.

Tolerance (specs/rwkv-and-attention.md C.7): max |out - ref| <= 2 * max |lowprec - ref|, where
ref is the reference computed from inputs upcast to fp32 and lowprec the same reference computed
in the I/O dtype (products and softmax in fp16 / bf16, as PyTorch computes them); plus half an
ulp of the output dtype at the largest |ref|, the rounding of the output itself, so the bound is
never zero. Rows with no visible key must be exactly 0 (never NaN) and every output finite.

Outputs are allocated by the op and start as NaN (op_helpers.poisoned_call), so that an element
the kernel does not write shows.
"""
import math
import types

import pytest
from op_helpers import poisoned_call, require_torch, synchronize

torch = require_torch()

import tessera.ops as ops  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16]
HEAD_DIMS = [32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 224, 256]
# On the CPU, each new combination of dtype, head dim, mask, causal mode and length class (the
# lengths divisible by 16 or not) is a compile of a second or so, which is most of the CPU
# tier's time; a few parameter values below are cuda_only for that reason, where the CPU runs
# the same code path elsewhere, as their comments say.
CUDA_ONLY = pytest.mark.cuda_only
# most tests run bf16 only on the CPU (fp16: test_seqlens and test_large_fp16_logits)
BF16_ON_CPU = [pytest.param(torch.float16, marks=CUDA_ONLY), torch.bfloat16]
# (150, 67): Lq > Lk (rows without keys, lower-right) at a size for the CPU
SEQLENS = [(1, 239), (3, 799), (113, 203), (128, 217), (108, 256), (127, 513), (150, 67),
           *(pytest.param(pair, marks=CUDA_ONLY)
             for pair in [(256, 512), (512, 256), (1023, 1024), (1024, 1023), (2048, 2048)])]
# the (Lq, Lk) that every head dim runs with: one query, a ragged short tile, many key blocks
HEAD_DIM_SEQLENS = [(1, 239), (113, 203), pytest.param((1024, 1023), marks=CUDA_ONLY)]
# causal modes: (is_causal, causal_variant name or None); "default" passes no variant
CAUSAL = {"none": (False, None), "default": (True, None), "upper_left": (True, "UPPER_LEFT"),
          "lower_right": (True, "LOWER_RIGHT")}
B, H = 2, 3


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


def pair_id(pair):
    return "x".join(map(str, pair))


pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")  # the fp32 reference


def reference(q, k, v, attn_mask=None, causal=None, scale=None, upcast=True):
    """(out, dead): softmax(q k^T * scale + mask) v per (b, h), computed in fp32 (upcast) or in
    the inputs' dtype; dead marks the (B, Hq, Lq) rows with no visible key, whose output is 0.
    causal: None, "UPPER_LEFT" (j <= i) or "LOWER_RIGHT" (j <= i + Lk - Lq). GQA: query head h
    uses kv head h // (Hq / Hkv)."""
    dtype = torch.float32 if upcast else q.dtype
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    lq, lk = q.shape[-2], k.shape[-2]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal is not None:
        i = torch.arange(lq, device=q.device)[:, None]
        j = torch.arange(lk, device=q.device)[None, :]
        s = s.masked_fill(j > i + (lk - lq if causal == "LOWER_RIGHT" else 0), -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            s = s.masked_fill(~attn_mask, -math.inf)
        else:
            s = s + attn_mask.to(dtype)
    dead = torch.isneginf(s.amax(dim=-1))
    p = torch.softmax(s, dim=-1).masked_fill(dead[..., None], 0.0)  # NaN rows -> 0
    return torch.matmul(p, v), dead


def attend(q, k, v, causal="none", **kwargs):
    """The op on (q, k, v) with the output's memory poisoned first; causal is a CAUSAL key."""
    is_causal, variant = CAUSAL[causal]
    if variant is not None:
        kwargs["causal_variant"] = getattr(ops.CausalVariant, variant)
    return poisoned_call(q.device, (*q.shape[:3], v.shape[-1]), v.dtype,
                         ops.scaled_dot_product_attention, q, k, v, is_causal=is_causal,
                         **kwargs)


def check(out, q, k, v, causal="none", attn_mask=None, scale=None):
    """out against the reference with the spec's tolerance (see the module docstring)."""
    variant = None
    if CAUSAL[causal][0]:
        variant = CAUSAL[causal][1] or "UPPER_LEFT"
    expected_shape = (q.shape[0], q.shape[1], q.shape[2], v.shape[-1])
    assert tuple(out.shape) == expected_shape, f"shape {tuple(out.shape)}, not {expected_shape}"
    assert out.dtype == v.dtype, f"dtype {out.dtype}, not value's {v.dtype}"
    ref, dead = reference(q, k, v, attn_mask, variant, scale, upcast=True)
    low, _ = reference(q, k, v, attn_mask, variant, scale, upcast=False)
    finite = torch.isfinite(out)
    assert bool(finite.all()), f"{int((~finite).sum())} of {out.numel()} outputs not finite"
    if bool(dead.any()):
        assert bool((out[dead] == 0).all()), "a row with no visible key is not 0"
    err = (out.float() - ref).abs().max().item()
    low_err = (low.float() - ref).abs().max().item()
    bound = 2 * low_err + 0.5 * torch.finfo(out.dtype).eps * ref.abs().max().item()
    assert err <= bound, (f"max |out - ref| = {err:.3e} > {bound:.3e} (2 x the "
                          f"{dtype_id(out.dtype)} reference's {low_err:.3e})")


def qkv(randn, dtype, lq, lk, d, hq=H, hkv=None, b=B, scale=1.0):
    hkv = hq if hkv is None else hkv
    return (randn(b, hq, lq, d, dtype=dtype, scale=scale),
            randn(b, hkv, lk, d, dtype=dtype, scale=scale), randn(b, hkv, lk, d, dtype=dtype))


@pytest.mark.parametrize("lq_lk", HEAD_DIM_SEQLENS, ids=pair_id)
@pytest.mark.parametrize("d", HEAD_DIMS)
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_head_dims(dtype, d, lq_lk, randn):
    q, k, v = qkv(randn, dtype, *lq_lk, d)
    check(attend(q, k, v), q, k, v)


# (D = 128 on the CPU: test_head_dims, test_gqa, test_gqa_decode, test_non_contiguous)
@pytest.mark.parametrize("causal", ["none", "default", "lower_right"])
@pytest.mark.parametrize("d", [64, pytest.param(128, marks=CUDA_ONLY)])
@pytest.mark.parametrize("lq_lk", SEQLENS, ids=pair_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_seqlens(dtype, lq_lk, d, causal, randn):
    q, k, v = qkv(randn, dtype, *lq_lk, d)
    check(attend(q, k, v, causal), q, k, v, causal)


@pytest.mark.parametrize("lq_lk", [pytest.param((512, 256), marks=CUDA_ONLY), (150, 67),
                                   (127, 513), (1, 239)], ids=pair_id)
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_explicit_upper_left_is_the_default(dtype, lq_lk, randn):
    q, k, v = qkv(randn, dtype, *lq_lk, 64)
    out = attend(q, k, v, "upper_left")
    check(out, q, k, v, "upper_left")
    assert torch.equal(out, attend(q, k, v, "default"))


def test_causal_variant_enum():
    import enum

    assert issubclass(ops.CausalVariant, enum.IntEnum)
    assert ops.CausalVariant.UPPER_LEFT == 1 and ops.CausalVariant.LOWER_RIGHT == 2


def test_lower_right_rows_without_keys_are_zero(randn):
    """Lq > Lk, lower-right: the first Lq - Lk query rows see no key and must be exactly 0."""
    q, k, v = qkv(randn, torch.bfloat16, 300, 100, 64)
    out = attend(q, k, v, "lower_right")
    check(out, q, k, v, "lower_right")
    assert bool((out[:, :, :200] == 0).all()) and bool((out[:, :, 200:] != 0).any())


@pytest.mark.parametrize("causal", ["none", "default", "lower_right"])
@pytest.mark.parametrize("lq_lk", [(113, 203), pytest.param((512, 256), marks=CUDA_ONLY),
                                   (150, 67)], ids=pair_id)
@pytest.mark.parametrize("heads", [(6, 2), (4, 1)], ids=["gqa6-2", "mqa4-1"])
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_gqa(dtype, heads, lq_lk, causal, randn):
    hq, hkv = heads
    q, k, v = qkv(randn, dtype, *lq_lk, 128, hq=hq, hkv=hkv)
    check(attend(q, k, v, causal, enable_gqa=True), q, k, v, causal)


# (B, Hq, Hkv, Lk) of a decode step: GQA 32/8 over 4097 keys, and for the CPU MQA 8/1 over 1000
# keys, one (batch, kv head) pair, which the CPU's 4 "SMs" split four ways
DECODE_SHAPES = [pytest.param((2, 32, 8, 4097), marks=CUDA_ONLY), (1, 8, 1, 1000)]


@pytest.mark.parametrize("shape", DECODE_SHAPES, ids=lambda s: "b{}_{}-{}_lk{}".format(*s))
@pytest.mark.parametrize("causal", ["none", "default", "lower_right"])
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_gqa_decode(dtype, causal, shape, randn):
    """One query against many keys, few kv heads (upper-left: key 0 only): the split-KV
    kernel."""
    b, hq, hkv, lk = shape
    q, k, v = qkv(randn, dtype, 1, lk, 128, hq=hq, hkv=hkv, b=b)
    check(attend(q, k, v, causal, enable_gqa=True), q, k, v, causal)


# broadcast shapes of a mask, and in each the rows made to see no key: every 4th query row
# from the second on; for (B, 1, Lq, Lk) batch 1's every 4th row from the first; for
# (1, H, 1, Lk) every row of head 1
MASKS = {"lq_lk": (lambda lq, lk: (lq, lk), (slice(1, None, 4),)),
         "b_1_lq_lk": (lambda lq, lk: (B, 1, lq, lk), (1, slice(None), slice(None, None, 4))),
         "1_h_1_lk": (lambda lq, lk: (1, H, 1, lk), (slice(None), 1))}


# (whole tiles on the CPU: test_seqlens)
MASK_SEQLENS = [(113, 203), (1, 239), pytest.param((128, 256), marks=CUDA_ONLY)]


@pytest.mark.parametrize("lq_lk", MASK_SEQLENS, ids=pair_id)
@pytest.mark.parametrize("kind", list(MASKS))
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_bool_mask(dtype, kind, lq_lk, randn, gen, device):
    """True = attend (70% of the entries), broadcast over batch / heads / queries."""
    q, k, v = qkv(randn, dtype, *lq_lk, 64)
    shape, dead_rows = MASKS[kind]
    mask = torch.rand(shape(*lq_lk), device=device, generator=gen) < 0.7
    mask[dead_rows] = False
    out = attend(q, k, v, attn_mask=mask)
    _, dead = reference(q, k, v, mask)
    assert bool(dead.any()) or lq_lk[0] == 1, "the test should hold rows with no visible key"
    check(out, q, k, v, attn_mask=mask)


@pytest.mark.parametrize("lq_lk", [MASK_SEQLENS[0], MASK_SEQLENS[2]], ids=pair_id)
@pytest.mark.parametrize("kind", list(MASKS))
@pytest.mark.parametrize("mask_dtype", ["float32", "query"])
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_additive_mask(dtype, mask_dtype, kind, lq_lk, randn, gen, device):
    """A float mask added to the natural-log-domain scores: values of a few units, -inf
    entries (10%), and rows of -inf only, which must give 0."""
    q, k, v = qkv(randn, dtype, *lq_lk, 64)
    shape, dead_rows = MASKS[kind]
    mask = randn(*shape(*lq_lk), dtype=torch.float32, scale=2.0)
    mask = mask.masked_fill(torch.rand(mask.shape, device=device, generator=gen) < 0.1,
                            -math.inf)
    mask[dead_rows] = -math.inf
    mask = mask.to(torch.float32 if mask_dtype == "float32" else dtype)
    out = attend(q, k, v, attn_mask=mask)
    _, dead = reference(q, k, v, mask)
    assert bool(dead.any()), "the test should hold rows with no visible key"
    check(out, q, k, v, attn_mask=mask)


def test_additive_mask_is_not_scaled(randn, device):
    """A mask that shifts one key by +ln(1e4) makes that key dominate: out ~ v[key]."""
    q, k, v = qkv(randn, torch.bfloat16, 17, 90, 64, scale=0.01)
    mask = torch.zeros(17, 90, device=device)
    mask[:, 7] = math.log(1e4)
    out = attend(q, k, v, attn_mask=mask)
    check(out, q, k, v, attn_mask=mask)
    weight = 1e4 / (1e4 + 89)  # the other 89 keys have weight ~1 each (tiny logits)
    expected = weight * v[:, :, 7:8].float() + (1 - weight) * v.float().mean(dim=2,
                                                                           keepdim=True)
    assert (out.float() - expected).abs().max().item() < 0.05


@pytest.mark.parametrize("causal", ["none", "default"])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_explicit_scale(dtype, d, causal, randn):
    q, k, v = qkv(randn, dtype, 127, 513, d)
    check(attend(q, k, v, causal, scale=0.3), q, k, v, causal, scale=0.3)


def transposed(randn, dtype, b, length, h, d, scale=1.0):
    """A (B, H, L, D) view of a (B, L, H, D) tensor: last dim contiguous, heads interleaved."""
    return randn(b, length, h, d, dtype=dtype, scale=scale).transpose(1, 2)


@pytest.mark.parametrize("causal", ["none", "lower_right"])
@pytest.mark.parametrize("d", [64, 111, 128])
@pytest.mark.parametrize("dtype", BF16_ON_CPU, ids=dtype_id)
def test_non_contiguous(dtype, d, causal, randn):
    q = transposed(randn, dtype, B, 113, 6, d)
    k, v = (transposed(randn, dtype, B, 203, 2, d) for _ in range(2))
    assert not q.is_contiguous() and not k.is_contiguous() and q.stride(-1) == 1
    out = attend(q, k, v, causal, enable_gqa=True)
    check(out, q, k, v, causal)


@pytest.mark.parametrize("lq_lk", [pytest.param((1023, 1024), marks=CUDA_ONLY), (200, 257)],
                         ids=pair_id)
@pytest.mark.parametrize("causal", ["none", "default"])
@pytest.mark.parametrize("d", [64, 128, 256])
def test_large_fp16_logits(d, causal, lq_lk, randn):
    """q and k scaled x5: logits of tens, products of hundreds; nothing overflows."""
    q, k, v = qkv(randn, torch.float16, *lq_lk, d, scale=5.0)
    check(attend(q, k, v, causal), q, k, v, causal)


def test_output_shape_and_dtype(randn):
    q, k, v = qkv(randn, torch.bfloat16, 5, 9, 40, hq=4, hkv=2, b=3)
    out = attend(q, k, v, enable_gqa=True)
    assert out.shape == (3, 4, 5, 40) and out.dtype == torch.bfloat16
    assert out.device == q.device
    check(out, q, k, v)


def error_inputs(randn, device):
    """Valid bf16 inputs (B=2, H=3, Lq=8, Lk=16, D=64) and variants for the error cases."""
    t = types.SimpleNamespace()
    t.q, t.k, t.v = qkv(randn, torch.bfloat16, 8, 16, 64)
    t.q6, t.k4, t.v4 = qkv(randn, torch.bfloat16, 8, 16, 64, hq=6, hkv=4)
    _, t.k2, t.v2 = qkv(randn, torch.bfloat16, 8, 16, 64, hq=6, hkv=2)
    t.big = qkv(randn, torch.bfloat16, 8, 16, 288)
    t.mask = torch.ones(8, 16, dtype=torch.bool, device=device)
    return t


# id: (the call's (args, kwargs) from error_inputs, a pattern the message must match)
ERRORS = {
    "mask_and_causal": (lambda t: ((t.q, t.k, t.v), {"attn_mask": t.mask, "is_causal": True}),
                        r"(?s)attn_mask.*is_causal|is_causal.*attn_mask"),
    "gqa_not_dividing": (lambda t: ((t.q6, t.k4, t.v4), {"enable_gqa": True}),
                         r"key|value|enable_gqa"),
    "heads_without_gqa": (lambda t: ((t.q6, t.k2, t.v2), {}), r"key|value|enable_gqa"),
    "head_dim_mismatch": (lambda t: ((t.q, t.k[..., :32], t.v), {}), r"key"),
    "head_dim_over_256": (lambda t: (t.big, {}), r"query"),
    "rank_2_query": (lambda t: ((t.q[0, 0], t.k, t.v), {}), r"query"),
    "query_on_meta": (lambda t: ((t.q.to("meta"), t.k, t.v), {}),
                      r"query is on meta; expected a CUDA or CPU tensor"),
    "all_on_meta": (lambda t: ((t.q.to("meta"), t.k.to("meta"), t.v.to("meta")), {}),
                    r"query is on meta"),
    "key_on_meta": (lambda t: ((t.q, t.k.to("meta"), t.v), {}), r"key is on meta"),
    "query_on_cpu": (lambda t: ((t.q.cpu(), t.k, t.v), {}), r"query"),
    "key_on_cpu": (lambda t: ((t.q, t.k.cpu(), t.v), {}), r"key"),
    "key_dtype": (lambda t: ((t.q, t.k.half(), t.v), {}), r"key"),
    "value_dtype": (lambda t: ((t.q, t.k, t.v.half()), {}), r"value"),
    "dropout_over_1": (lambda t: ((t.q, t.k, t.v), {"dropout_p": 1.5}), r"dropout_p"),
    "dropout_negative": (lambda t: ((t.q, t.k, t.v), {"dropout_p": -0.1}), r"dropout_p"),
}
MIXED_DEVICES = {"query_on_cpu", "key_on_cpu"}  # CUDA and CPU tensors in one call


@pytest.mark.parametrize("case", [pytest.param(c, marks=CUDA_ONLY) if c in MIXED_DEVICES
                                  else c for c in ERRORS])
def test_errors(case, randn, device):
    """Each wrong call raises a ValueError / TypeError / RuntimeError naming the argument."""
    make, pattern = ERRORS[case]
    args, kwargs = make(error_inputs(randn, device))
    with pytest.raises((ValueError, TypeError, RuntimeError), match=pattern):
        ops.scaled_dot_product_attention(*args, **kwargs)
        synchronize(device)
