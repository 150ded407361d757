"""tessera.ops.flash_attn_func and flash_attn_varlen_func, and the attention backward through
both entry points (flash_attn_func and scaled_dot_product_attention), against the reference of
specs/rwkv-and-attention.md C.7 written here: (B, S, H, D) layout, bottom-right causal masks and
windows (including (0, 0) and windows wider than Sk), softcap, ALiBi slopes of shape (H,) and
(B, H), GQA / MQA, decode, odd head dims up to 256, ragged lengths, Sq > Sk (rows without keys),
the returned log-sum-exp, large fp16 logits, dropout, deterministic gradients, packed
sequences and the argument errors.

Runs on every device (see conftest.py): the CPU runs the host-compiled kernels, forward and
backward, at lengths up to about 500; the longer problems are cuda_only.

Tolerances (C.7): max |out - ref| <= 2 * max |lowprec - ref| and, for gradients, 3 times, where
ref is the reference from inputs upcast to fp32 and lowprec the same reference in the I/O dtype;
plus half an ulp of the dtype at the largest |ref| (at least 1) so that the bound is never
zero. The log-sum-exp: within 1e-3 of the reference's (relative to its magnitude past 1), +inf
exactly where a query sees no key. Outputs and gradients must be finite; rows without keys
give 0.

Outputs and gradients start as NaN (attention_reference.poison_allocator on a GPU, the
conftest on the CPU), so that an element the kernels do not write shows.
"""
import pytest
from op_helpers import require_torch, synchronize

torch = require_torch()

import tessera.ops as ops  # noqa: E402
from attention_reference import (check_close, check_lse, poison_allocator,  # noqa: E402
                                 reference)

B = 2
CUDA_ONLY = pytest.mark.cuda_only


pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")  # the fp32 reference


def inputs(device, sq, sk, hq, hk, d, dtype=torch.bfloat16, grad=True, seed=0, magnitude=1.0):
    g = torch.Generator(device=device).manual_seed(seed)
    q = torch.randn(B, sq, hq, d, device=device, generator=g) * magnitude
    k = torch.randn(B, sk, hk, d, device=device, generator=g) * magnitude
    v = torch.randn(B, sk, hk, d, device=device, generator=g)
    do = torch.randn(B, sq, hq, d, device=device, generator=g)
    q, k, v, do = (t.to(dtype) for t in (q, k, v, do))
    if grad:
        q, k, v = (t.requires_grad_() for t in (q, k, v))
    return q, k, v, do


def run_flash(q, k, v, do, **kwargs):
    """flash_attn_func forward (out, lse) and the gradients of out . do, poisoned first."""
    poison_allocator(q.device, q.shape, dtype=q.dtype)
    out, lse, probs = ops.flash_attn_func(q, k, v, return_attn_probs=True, **kwargs)
    assert probs is None
    assert out.shape == q.shape and out.dtype == q.dtype
    poison_allocator(q.device, q.shape, k.shape, v.shape, dtype=q.dtype)
    grads = torch.autograd.grad(out, (q, k, v), do)
    synchronize(q.device)
    return out, lse, grads


def check_flash(q, k, v, do, gradients=True, **kwargs):
    """flash_attn_func against the reference: out, lse and (if asked) dq, dk, dv."""
    out, lse, grads = run_flash(q, k, v, do, **kwargs)
    ref_kwargs = dict(kwargs)
    ref_kwargs["window"] = ref_kwargs.pop("window_size", (-1, -1))
    ref_kwargs["alibi"] = ref_kwargs.pop("alibi_slopes", None)
    ref_kwargs["scale"] = ref_kwargs.pop("softmax_scale", None)
    ref, ref_lse = reference(q, k, v, **ref_kwargs)
    low, _ = reference(q, k, v, upcast=False, **ref_kwargs)
    check_close("out", out, ref, low, 2)
    check_lse(lse, ref_lse)
    dead = torch.isinf(ref_lse).transpose(1, 2)  # (B, Sq, H)
    if bool(dead.any()):
        assert bool((out[dead] == 0).all()), "a row with no visible key is not 0"
    if not gradients:
        return
    ref_grads = torch.autograd.grad(ref, (q, k, v), do.float())
    low_grads = torch.autograd.grad(low, (q, k, v), do)
    for name, got, r, lo in zip(("dq", "dk", "dv"), grads, ref_grads, low_grads):
        check_close(name, got, r, lo, 3)
    if bool(dead.any()):
        assert bool((grads[0][dead] == 0).all()), "dq of a row with no visible key is not 0"


HEAD_DIMS = [32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 224, 256]
# On the CPU, each new combination of head dim, heads, masking options and length class (the
# lengths divisible by 16 or not) compiles the forward and the three backward kernels, a few
# seconds, which is most of the CPU tier's time: some parameter combinations are cuda_only for
# that reason, where the CPU runs the same code paths in others, as their comments say.
# The head dims the CPU runs without and with a causal mask: each kernel configuration (D <= 128
# and over) with a padded D and with a power of two, with and without the mask (D = 64 and 80:
# most other tests).
CPU_HEAD_DIMS = {False: (32, 111, 160), True: (59, 128, 256)}


def lengths(pairs, cuda_only=()):
    """(Sq, Sk) parameters with ids "SqxSk": ``pairs`` on every device, ``cuda_only`` on CUDA."""
    return [pytest.param(sq, sk, id=f"{sq}x{sk}", marks=[CUDA_ONLY] if cuda else [])
            for cuda, group in ((False, pairs), (True, cuda_only)) for sq, sk in group]


# (150, 67): Sq > Sk (rows without keys, causal) at a size for the CPU; whole tiles, (128, 217)
# and (108, 256), on the CPU: test_fp16_large_logits (256 x 256) and test_ops_attention.py
SEQLENS = lengths([(1, 239), (3, 799), (113, 203), (127, 513), (150, 67)],
                  [(128, 217), (108, 256), (256, 512), (512, 256), (1023, 1024), (1024, 1023),
                   (2048, 2048)])


@pytest.mark.parametrize("d,causal", [
    pytest.param(d, causal, id=f"{d}-{'causal' if causal else 'full'}",
                 marks=[] if d in CPU_HEAD_DIMS[causal] else [CUDA_ONLY])
    for d in HEAD_DIMS for causal in (False, True)])
def test_head_dims(d, causal, device):
    check_flash(*inputs(device, 113, 203, 2, 2, d), causal=causal)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("sq,sk", SEQLENS)
def test_seqlens(sq, sk, causal, device):
    check_flash(*inputs(device, sq, sk, 2, 2, 64, dtype=torch.float16), causal=causal)


# (the CPU: GQA with D = 64 and 256, MQA with D = 128)
@pytest.mark.parametrize("hq,hk,d", [
    pytest.param(hq, hk, d, id=f"{name}-{d}",
                 marks=[] if (name, d) in {("gqa", 64), ("gqa", 256), ("mqa", 128)}
                 else [CUDA_ONLY])
    for d in (64, 128, 256) for name, hq, hk in (("gqa", 6, 2), ("mqa", 4, 1))])
def test_grouped_heads(hq, hk, d, device):
    check_flash(*inputs(device, 127, 513, hq, hk, d), causal=True)


@pytest.mark.parametrize("sk", [239, pytest.param(4097, marks=CUDA_ONLY)])
def test_decode_gqa(sk, device):
    check_flash(*inputs(device, 1, sk, 32, 8, 128), causal=True)


WINDOWS = [(0, 0), (16, -1), (-1, 8), (64, 0), (3, 5), (4096, 4096), (100, 100)]


# the windows the CPU also runs with a causal mask (which makes the right edge 0): one narrower
# than a block and one wider
CPU_CAUSAL_WINDOWS = {(3, 5), (100, 100)}


@pytest.mark.parametrize("window,causal", [
    pytest.param(window, causal, id=f"{window[0]}_{window[1]}-{'causal' if causal else 'full'}",
                 marks=[] if not causal or window in CPU_CAUSAL_WINDOWS else [CUDA_ONLY])
    for window in WINDOWS for causal in (False, True)])
@pytest.mark.parametrize("sq,sk", lengths([(300, 400)], [(512, 256)]))
def test_windows(sq, sk, window, causal, device):
    check_flash(*inputs(device, sq, sk, 2, 2, 64), window_size=window, causal=causal)


# (D = 128 on the CPU: test_head_dims)
@pytest.mark.parametrize("softcap", [0.0, 50.0, 5.0])
@pytest.mark.parametrize("d", [64, pytest.param(128, marks=CUDA_ONLY)])
def test_softcap(d, softcap, device):
    check_flash(*inputs(device, 200, 300, 2, 2, d, magnitude=2.0), softcap=softcap, causal=True)


# (the CPU: slopes per head without a causal mask, per batch and head with one)
@pytest.mark.parametrize("per_batch,causal", [
    pytest.param(per_batch, causal,
                 id=f"{'batch-heads' if per_batch else 'heads'}-{'causal' if causal else 'full'}",
                 marks=[] if per_batch == causal else [CUDA_ONLY])
    for causal in (False, True) for per_batch in (False, True)])
def test_alibi(per_batch, causal, device):
    q, k, v, do = inputs(device, 200, 300, 4, 2, 64)
    shape = (B, 4) if per_batch else (4,)
    slopes = torch.rand(shape, device=device) * 0.5
    check_flash(q, k, v, do, alibi_slopes=slopes, causal=causal)


def test_scale_and_everything(device):
    q, k, v, do = inputs(device, 257, 300, 6, 3, 80)
    check_flash(q, k, v, do, softmax_scale=0.3, causal=True, window_size=(50, -1),
                softcap=20.0, alibi_slopes=torch.rand(6, device=device))


def test_strided_inputs(device):
    g = torch.Generator(device=device).manual_seed(3)
    base = torch.randn(B, 200, 3, 4, 64, device=device, generator=g, dtype=torch.bfloat16)
    q, k, v = (base[:, :, i].requires_grad_() for i in range(3))  # (B, S, 4, 64), strided
    do = torch.randn(B, 200, 4, 64, device=device, generator=g, dtype=torch.bfloat16)
    check_flash(q, k, v, do.transpose(0, 1).contiguous().transpose(0, 1), causal=True)


def test_fp16_large_logits(device):
    check_flash(*inputs(device, 256, 256, 2, 2, 64, dtype=torch.float16, magnitude=5.0),
                causal=True)


@pytest.mark.parametrize("length", [pytest.param(1000, marks=CUDA_ONLY), 200])
def test_deterministic_backward(length, device):
    q, k, v, do = inputs(device, length, length, 6, 2, 128)
    first = torch.autograd.grad(ops.flash_attn_func(q, k, v, causal=True, deterministic=True),
                                (q, k, v), do)
    second = torch.autograd.grad(ops.flash_attn_func(q, k, v, causal=True, deterministic=True),
                                 (q, k, v), do)
    for a, b in zip(first, second):
        assert torch.equal(a, b), "two backward runs differ"


DROPOUT = 0.17


def dropout_mask(device, seed, b, sq, sk, hq, hk, dropout=DROPOUT):
    """The keep mask (B, Hq, Sq, Sk) of the flash_attn_func call that follows
    torch.manual_seed(seed) with these shapes, read back through the op itself: with q = 0
    every probability is 1/Sk, and v = the identity (D = Sk) copies row i's kept, scaled
    probabilities into out[:, i]. The mask does not depend on D or on the values."""
    q = torch.zeros(b, sq, hq, sk, device=device, dtype=torch.float16)
    eye = torch.eye(sk, device=device, dtype=torch.float16)
    v = eye[None, :, None, :].expand(b, sk, hk, sk).contiguous()
    torch.manual_seed(seed)
    out = ops.flash_attn_func(q, torch.zeros_like(v), v, dropout_p=dropout)
    scaled = out.float().transpose(1, 2) * sk * (1 - dropout)
    keep = scaled.round()
    assert bool(((keep == 0) | (keep == 1)).all()) and (scaled - keep).abs().max() < 0.01, \
        "out is not the kept mask times 1 / ((1 - p) Sk)"
    return keep.bool()


@pytest.mark.parametrize("sq,sk", lengths([(128, 128)], [(1024, 256)]))
def test_dropout_kept_fraction(sq, sk, device):
    keep = dropout_mask(device, 1, 2, sq, sk, 4, 2)
    fraction = keep.float().mean().item()
    assert abs(fraction - (1 - DROPOUT)) <= 0.01, f"kept fraction {fraction:.4f}"
    # independent across heads, batches and rows: no two (b, h) share a mask
    flat = keep.flatten(0, 1)
    assert all(not torch.equal(flat[0], flat[i]) for i in range(1, flat.shape[0]))
    assert not torch.equal(keep[0, 0, 0], keep[0, 0, 1])


# (the CPU: the case that combines dropout with the most else; a dropout kernel is a second to
# compile there; test_dropout_sdpa has the plain one)
@pytest.mark.parametrize("case", [pytest.param("full", marks=CUDA_ONLY),
                                  pytest.param("causal", marks=CUDA_ONLY), "gqa-window",
                                  pytest.param("softcap-d80", marks=CUDA_ONLY)])
def test_dropout_forward_and_backward(case, device):
    """Output and gradients of a dropout call against the reference with the call's own mask
    (the same seed), and the same mask for the same seed: bitwise equal twice."""
    hq, hk, d, kwargs = {"full": (2, 2, 64, {}), "causal": (2, 2, 128, {"causal": True}),
                         "gqa-window": (6, 2, 64, {"window_size": (40, 8)}),
                         "softcap-d80": (2, 1, 80, {"softcap": 20.0, "causal": True})}[case]
    sq, sk = 200, 256
    keep = dropout_mask(device, 5, B, sq, sk, hq, hk)
    q, k, v, do = inputs(device, sq, sk, hq, hk, d)
    torch.manual_seed(5)
    out, lse, grads = run_flash(q, k, v, do, dropout_p=DROPOUT, **kwargs)
    ref_kwargs = {"causal": kwargs.get("causal", False), "softcap": kwargs.get("softcap", 0.0),
                  "window": kwargs.get("window_size", (-1, -1)), "keep": keep,
                  "dropout": DROPOUT}
    ref, ref_lse = reference(q, k, v, **ref_kwargs)
    low, _ = reference(q, k, v, upcast=False, **ref_kwargs)
    check_close("out", out, ref, low, 2)
    check_lse(lse, ref_lse)
    ref_grads = torch.autograd.grad(ref, (q, k, v), do.float())
    low_grads = torch.autograd.grad(low, (q, k, v), do)
    for name, got, r, lo in zip(("dq", "dk", "dv"), grads, ref_grads, low_grads):
        check_close(name, got, r, lo, 3)
    torch.manual_seed(5)
    again, _, grads_again = run_flash(q, k, v, do, dropout_p=DROPOUT, **kwargs)
    assert torch.equal(out, again) and all(torch.equal(a, b) for a, b in zip(grads, grads_again))


def test_dropout_sdpa(device):
    """SDPA's dropout: the same mask as flash_attn_func's for the same seed and shapes."""
    keep = dropout_mask(device, 9, B, 64, 128, 4, 4)
    q, k, v, do = inputs(device, 64, 128, 4, 4, 64)
    torch.manual_seed(9)
    out = ops.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v)),
                                           dropout_p=DROPOUT).transpose(1, 2)
    ref, _ = reference(q, k, v, off=0, keep=keep, dropout=DROPOUT)
    low, _ = reference(q, k, v, off=0, keep=keep, dropout=DROPOUT, upcast=False)
    check_close("out", out, ref, low, 2)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), do)
    for name, got, r, lo in zip(("dq", "dk", "dv"), (dq, dk, dv),
                                torch.autograd.grad(ref, (q, k, v), do.float()),
                                torch.autograd.grad(low, (q, k, v), do)):
        check_close(name, got, r, lo, 3)


def test_dropout_varlen_kept_fraction(device):
    """Packed sequences with dropout: every sequence's mask keeps 1 - p of its scores."""
    lengths = [1, 200, 57]
    cu = torch.tensor([0, 1, 201, 258], dtype=torch.int32, device=device)
    total = 258
    q = torch.zeros(total, 2, total, device=device, dtype=torch.float16)
    v = torch.eye(total, device=device, dtype=torch.float16)[:, None, :].expand(
        total, 2, total).contiguous()
    total_keep, total_seen = 0.0, 0
    out = ops.flash_attn_varlen_func(q[..., :256], torch.zeros_like(v)[..., :256],
                                     v[..., :256], cu, cu, 200, 200, dropout_p=DROPOUT)
    for b, length in enumerate(lengths):
        start = int(cu[b])
        cols = min(start + length, 256)
        block = out[start:start + length, :, start:cols].float() * length * (1 - DROPOUT)
        assert bool(((block.round() == 0) | (block.round() == 1)).all())
        total_keep += block.round().sum().item()
        total_seen += block.numel()
    fraction = total_keep / total_seen
    assert abs(fraction - (1 - DROPOUT)) <= 0.01, f"kept fraction {fraction:.4f}"


def test_no_grad_returns_lse_without_graph(device):
    q, k, v, _ = inputs(device, 100, 100, 2, 2, 64, grad=False)
    out, lse, _ = ops.flash_attn_func(q, k, v, return_attn_probs=True)
    assert not out.requires_grad
    _, ref_lse = reference(q, k, v)
    check_lse(lse, ref_lse)


# scaled_dot_product_attention's backward: (B, H, L, D), top-left causal and masks.
SDPA_CASES = {"causal-upper-left": {"is_causal": True},
              "causal-lower-right": {"is_causal": True, "variant": "LOWER_RIGHT"},
              "bool-mask": {"mask": "bool"}, "additive-mask": {"mask": "float"},
              "gqa": {"gqa": True}, "scale": {"scale": 0.2}}


# (Lq > Lk on the CPU: lower-right causal, where it leaves rows without keys; an explicit scale:
# test_scale_and_everything)
@pytest.mark.parametrize("case,sq,sk", [
    pytest.param(case, sq, sk, id=f"{case}-{sq}x{sk}",
                 marks=[] if (sq < sk and case != "scale") or case == "causal-lower-right"
                 else [CUDA_ONLY])
    for case in SDPA_CASES for sq, sk in [(113, 203), (300, 150)]])
def test_sdpa_backward(case, sq, sk, device):
    spec = SDPA_CASES[case]
    hk = 2 if spec.get("gqa") else 4
    q, k, v, do = inputs(device, sq, sk, 4, hk, 80)
    g = torch.Generator(device=device).manual_seed(5)
    kwargs, ref_kwargs = {}, {"off": 0}
    if spec.get("is_causal"):
        kwargs["is_causal"] = True
        ref_kwargs["causal"] = True
        if spec.get("variant"):
            kwargs["causal_variant"] = ops.CausalVariant.LOWER_RIGHT
            ref_kwargs["off"] = sk - sq
    if spec.get("mask") == "bool":
        mask = torch.rand(B, 1, sq, sk, device=device, generator=g) > 0.3
        kwargs["attn_mask"] = ref_kwargs["mask"] = mask
    elif spec.get("mask") == "float":
        mask = torch.randn(sq, sk, device=device, generator=g)
        kwargs["attn_mask"] = ref_kwargs["mask"] = mask
    if spec.get("scale"):
        kwargs["scale"] = ref_kwargs["scale"] = spec["scale"]
    if spec.get("gqa"):
        kwargs["enable_gqa"] = True
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))  # SDPA layout views
    poison_allocator(device, q.shape, k.shape, v.shape, dtype=q.dtype)
    out = ops.scaled_dot_product_attention(qt, kt, vt, **kwargs)
    grads = torch.autograd.grad(out, (q, k, v), do.transpose(1, 2))
    ref, _ = reference(q, k, v, **ref_kwargs)
    low, _ = reference(q, k, v, upcast=False, **ref_kwargs)
    check_close("out", out.transpose(1, 2), ref, low, 2)
    ref_grads = torch.autograd.grad(ref, (q, k, v), do.float())
    low_grads = torch.autograd.grad(low, (q, k, v), do)
    for name, got, r, lo in zip(("dq", "dk", "dv"), grads, ref_grads, low_grads):
        check_close(name, got, r, lo, 3)


def test_sdpa_mask_requiring_grad_is_refused(device):
    q, k, v, _ = inputs(device, 16, 16, 2, 2, 64)
    mask = torch.zeros(16, 16, device=device, requires_grad=True)
    with pytest.raises(NotImplementedError, match="attn_mask"):
        ops.scaled_dot_product_attention(q, k, v, attn_mask=mask)


ERRORS = [
    ({"q": "3d"}, ValueError, "q has 3 dimensions"),
    ({"k": "heads"}, ValueError, "multiple of the key/value heads"),
    ({"v": "short"}, ValueError, "v has shape"),
    ({"q": "fp32"}, TypeError, "q has dtype float32"),
    ({"q": "d512"}, ValueError, "head dimension 512"),
    ({"window_size": (-2, 0)}, ValueError, "window_size"),
    ({"window_size": 5}, TypeError, "window_size"),
    ({"softcap": -1.0}, ValueError, "softcap"),
    ({"alibi_slopes": "shape"}, ValueError, "alibi_slopes has shape"),
    ({"alibi_slopes": "fp16"}, TypeError, "alibi_slopes has dtype"),
    ({"dropout_p": 1.5}, ValueError, "dropout_p"),
]


@pytest.mark.parametrize("change,error,message", ERRORS, ids=[str(e[0]) for e in ERRORS])
def test_errors(change, error, message, device):
    q, k, v, _ = inputs(device, 8, 8, 4, 2, 64, grad=False)
    kwargs = {}
    for name, what in change.items():
        if name == "q":
            q = {"3d": q[0], "fp32": q.float(),
                 "d512": torch.zeros(B, 8, 4, 512, device=device, dtype=q.dtype)}[what]
        elif name == "k":
            k = v = torch.zeros(B, 8, 3, 64, device=device, dtype=q.dtype)
        elif name == "v":
            v = v[:, :4]
        elif name == "alibi_slopes":
            kwargs[name] = {"shape": torch.zeros(3, device=device),
                            "fp16": torch.zeros(4, device=device, dtype=torch.float16)}[what]
        else:
            kwargs[name] = what
    with pytest.raises(error, match=message):
        ops.flash_attn_func(q, k, v, **kwargs)


# flash_attn_varlen_func: packed sequences, each against the dense reference of its own.
VARLEN_CASES = {"mixed": ([1, 17, 300, 64], [5, 17, 200, 129]),
                "ones": ([1, 1, 1], [1, 1, 1]),
                "empty-query": ([0, 40], [30, 40]),
                "long": ([1000, 3], [1000, 800])}


# The (causal, window) combinations the CPU runs each short case with: each once.
CPU_VARLEN = {"mixed": {(False, "all"), (True, "window")}, "ones": {(True, "all")},
              "empty-query": {(False, "window")}}
WINDOW_SIZES = {"all": (-1, -1), "window": (32, 0)}


@pytest.mark.parametrize("case,causal,window", [
    pytest.param(case, causal, window, id=f"{case}-{'causal' if causal else 'full'}-{window}",
                 marks=[] if (causal, window) in CPU_VARLEN.get(case, ()) else [CUDA_ONLY])
    for case in VARLEN_CASES for causal in (False, True) for window in WINDOW_SIZES])
def test_varlen(case, causal, window, device):
    lens_q, lens_k = VARLEN_CASES[case]
    window = WINDOW_SIZES[window]
    hq, hk, d = 4, 2, 80
    g = torch.Generator(device=device).manual_seed(7)
    total_q, total_k = sum(lens_q), sum(lens_k)
    dtype = torch.bfloat16

    def packed(total, heads):
        return torch.randn(total, heads, d, device=device, generator=g).to(dtype)
    q, k, v = packed(total_q, hq), packed(total_k, hk), packed(total_k, hk)
    do = packed(total_q, hq)
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    cu_q = torch.tensor([0] + lens_q, device=device).cumsum(0).to(torch.int32)
    cu_k = torch.tensor([0] + lens_k, device=device).cumsum(0).to(torch.int32)
    poison_allocator(device, q.shape, dtype=dtype)
    out, lse, _ = ops.flash_attn_varlen_func(q, k, v, cu_q, cu_k, max(lens_q), max(lens_k),
                                             causal=causal, window_size=window,
                                             return_attn_probs=True)
    assert out.shape == q.shape and lse.shape == (hq, total_q)
    grads = torch.autograd.grad(out, (q, k, v), do)
    for b, (lq, lk) in enumerate(zip(lens_q, lens_k)):
        rows_q = slice(int(cu_q[b]), int(cu_q[b + 1]))
        rows_k = slice(int(cu_k[b]), int(cu_k[b + 1]))
        if lq == 0:  # keys no query sees: no gradient
            assert bool((grads[1][rows_k] == 0).all()) and bool((grads[2][rows_k] == 0).all())
            continue
        seq = [t[rows][None] for t, rows in ((q, rows_q), (k, rows_k), (v, rows_k))]
        ref, ref_lse = reference(*seq, causal=causal, window=window)
        low, _ = reference(*seq, causal=causal, window=window, upcast=False)
        check_close(f"sequence {b} out", out[rows_q], ref[0], low[0], 2)
        check_lse(lse[:, rows_q][None], ref_lse)
        if lk == 0:
            continue
        seq_do = do[rows_q][None]
        ref_grads = torch.autograd.grad(ref, seq, seq_do.float())
        low_grads = torch.autograd.grad(low, seq, seq_do)
        # a sequence's gradient rows come from that sequence alone
        for name, got, rows, r, lo in zip(("dq", "dk", "dv"), grads, (rows_q, rows_k, rows_k),
                                          ref_grads, low_grads):
            check_close(f"sequence {b} {name}", got[rows], r[0], lo[0], 3)


VARLEN_ERRORS = [
    ({"cu_seqlens_q": [0, 5, 20]}, ValueError, "prefix sums"),
    ({"cu_seqlens_q": [0, 9, 8]}, ValueError, "prefix sums"),
    ({"max_seqlen_q": 3}, ValueError, "max_seqlen_q is 3"),
    ({"cu_seqlens_k": "int64"}, TypeError, "cu_seqlens_k has dtype"),
    ({"cu_seqlens_k": [0, 4]}, ValueError, "the same batch"),
    ({"block_table": "any"}, NotImplementedError, "block_table"),
]


@pytest.mark.parametrize("change,error,message", VARLEN_ERRORS,
                         ids=[str(e[0]) for e in VARLEN_ERRORS])
def test_varlen_errors(change, error, message, device):
    q = torch.randn(10, 2, 64, device=device, dtype=torch.float16)
    args = {"cu_seqlens_q": torch.tensor([0, 4, 10], device=device, dtype=torch.int32),
            "cu_seqlens_k": torch.tensor([0, 4, 10], device=device, dtype=torch.int32),
            "max_seqlen_q": 6, "max_seqlen_k": 6}
    for name, what in change.items():
        if name.startswith("cu_seqlens"):
            what = (args[name].long() if what == "int64"
                    else torch.tensor(what, device=device, dtype=torch.int32))
        args[name] = what
    with pytest.raises(error, match=message):
        ops.flash_attn_varlen_func(q, q, q, **args)
