"""tessera.ops.rotary_position_embedding against a float64 reference computed by PyTorch:
fp16 / bf16 / fp32 inputs with fp32 or input-dtype tables, both layouts, inplace, odd sizes
(S = 1, H = 3, D = 2, D = 130...), non-contiguous inputs (a slice of a fused QKV tensor,
transposed heads, strided channels, an odd offset) and tables (transposed, broadcast, sliced),
empty tensors, 64-bit offsets, and the errors of specs/ops.md. The backward (the rotation by
the opposite angle) against the same reference, and its own backward.

Every test runs on each device (conftest.py): the CPU through the host back end, and CUDA where
there is a GPU.

Outputs are allocated by the op with the memory they take filled with NaN first
(op_helpers.poisoned_call), so that an element the kernel does not write shows as NaN.
"""
import op_helpers
import pytest

torch = op_helpers.require_torch()

import tessera.ops as ops  # noqa: E402
from tessera.ops import rope  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32]
# Relative rounding of one output element (an ulp of the output dtype: twice the bound).
# Half the spacing of each dtype's subnormals: the rounding error of a tiny output.
SUBNORMAL_ROUNDING = {torch.float16: 2.0 ** -25, torch.bfloat16: 2.0 ** -134,
                      torch.float32: 2.0 ** -150}
OUT_ULP = {torch.float32: 2.0 ** -23, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}
SHAPES = [(2, 16, 4, 64), (1, 1, 1, 2), (3, 5, 3, 130), (2, 7, 5, 6), (1, 3, 2, 2048),
          (1, 9, 40, 128)]


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


def tables(seq, half, dtype, gen):
    """sin and cos of random angles on ``gen``'s device (any angle is valid: the op takes
    tables, not a base)."""
    angles = torch.rand(seq, half, device=gen.device, generator=gen, dtype=torch.float64)
    angles = angles * 20 - 10
    return angles.sin().to(dtype), angles.cos().to(dtype)


def reference(x, sin, cos, interleaved):
    """The rotation in float64, with the tables broadcast over batch and heads."""
    xd = x.double()
    s, c = sin.double()[None, :, None, :], cos.double()[None, :, None, :]
    half = x.shape[-1] // 2
    if interleaved:
        x0, x1 = xd[..., 0::2], xd[..., 1::2]
    else:
        x0, x1 = xd[..., :half], xd[..., half:]
    ref = torch.empty_like(xd)
    scale = torch.empty_like(xd)
    parts = [(x0 * c - x1 * s, x0.abs() * c.abs() + x1.abs() * s.abs()),
             (x0 * s + x1 * c, x0.abs() * s.abs() + x1.abs() * c.abs())]
    slots = [(Ellipsis, slice(0, None, 2)), (Ellipsis, slice(1, None, 2))] if interleaved \
        else [(Ellipsis, slice(0, half)), (Ellipsis, slice(half, None))]
    for (value, bound), slot in zip(parts, slots):
        ref[slot] = value
        scale[slot] = bound
    return ref, scale


def check(out, x, sin, cos, interleaved):
    """|out - ref| <= ulp(out dtype) * |ref| + fp32 rounding of two products and a sum
    (2**-22 relative to |x0 cos| + |x1 sin|) + half the spacing of the output dtype's
    subnormals, element-wise; NaN (unwritten) fails."""
    ref, scale = reference(x, sin, cos, interleaved)
    assert out.shape == x.shape and out.dtype == x.dtype
    bound = OUT_ULP[out.dtype] * ref.abs() + 2.0 ** -22 * scale + SUBNORMAL_ROUNDING[out.dtype]
    err = (out.double() - ref).abs()
    bad = ~(err <= bound)
    if bool(bad.any()):
        worst = (err - bound).nan_to_num(float("inf")).argmax()
        raise AssertionError(f"{int(bad.sum())} of {bad.numel()} outputs off; worst: "
                             f"{out.flatten()[worst].item()!r} vs ref "
                             f"{ref.flatten()[worst].item():.6e} (bound "
                             f"{bound.flatten()[worst].item():.3e})")


def run(x, sin, cos, interleaved, **kwargs):
    return op_helpers.poisoned_call(x.device, x.shape, x.dtype, ops.rotary_position_embedding,
                                    x, sin, cos, interleaved=interleaved, **kwargs)


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
@pytest.mark.parametrize("table", ["fp32", "input"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_reference(shape, dtype, table, interleaved, randn, gen):
    if table == "input" and dtype == torch.float32:
        pytest.skip("fp32 input: the tables are fp32 either way")
    b, s, h, d = shape
    x = randn(*shape, dtype=dtype)
    sin, cos = tables(s, d // 2, torch.float32 if table == "fp32" else dtype, gen)
    out = run(x, sin, cos, interleaved)
    assert out.data_ptr() != x.data_ptr() and out.is_contiguous()
    check(out, x, sin, cos, interleaved)


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(2, 16, 4, 64), (1, 1, 1, 2), (3, 5, 3, 130)],
                         ids=lambda s: "x".join(map(str, s)))
def test_inplace(shape, dtype, interleaved, randn, gen):
    x = randn(*shape, dtype=dtype)
    original = x.clone()
    sin, cos = tables(shape[1], shape[3] // 2, torch.float32, gen)
    out = ops.rotary_position_embedding(x, sin, cos, interleaved=interleaved, inplace=True)
    op_helpers.synchronize(x.device)
    assert out is x
    check(x, original, sin, cos, interleaved)


def fused_qkv_query(randn, dtype, b=2, s=11, h=6, d=64):
    """The query part of a fused (B, S, 3H, D) projection: heads not adjacent to the next token."""
    return randn(b, s, 3 * h, d, dtype=dtype)[:, :, :h]


def transposed_heads(randn, dtype, b=2, s=11, h=6, d=64):
    """(B, S, H, D) viewed from a (B, H, S, D) tensor."""
    return randn(b, h, s, d, dtype=dtype).transpose(1, 2)


def strided_channels(randn, dtype, b=2, s=11, h=6, d=64):
    """Every other channel: pairs are not adjacent (no word view)."""
    return randn(b, s, h, 2 * d, dtype=dtype)[..., ::2]


def odd_offset(randn, dtype, b=2, s=11, h=6, d=64):
    """Contiguous but one element into its buffer: words of two elements would be misaligned."""
    n = b * s * h * d
    return randn(n + 1, dtype=dtype)[1:].view(b, s, h, d)


LAYOUTS = [fused_qkv_query, transposed_heads, strided_channels, odd_offset]


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_non_contiguous_input(layout, dtype, interleaved, randn, gen):
    x = layout(randn, dtype)
    assert not x.is_contiguous() or x.storage_offset() % 2
    sin, cos = tables(x.shape[1], x.shape[3] // 2, torch.float32, gen)
    check(run(x, sin, cos, interleaved), x, sin, cos, interleaved)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_non_contiguous_inplace_touches_only_its_view(layout, randn, gen):
    x = layout(randn, torch.bfloat16)
    base = x._base if x._base is not None else x
    before_base, before = base.clone(), x.clone()
    sin, cos = tables(x.shape[1], x.shape[3] // 2, torch.float32, gen)
    ops.rotary_position_embedding(x, sin, cos, inplace=True)
    op_helpers.synchronize(x.device)
    check(x, before, sin, cos, True)
    untouched = torch.ones_like(base, dtype=torch.bool)
    x_mask = untouched.as_strided(x.shape, x.stride(), x.storage_offset() - base.storage_offset())
    x_mask.fill_(False)
    assert torch.equal(base[untouched], before_base[untouched])


def test_word_view_is_used_where_memory_allows(randn, device):
    """Contiguous heads take the word path; strided channels and odd offsets the element one."""
    sin = cos = torch.zeros(11, 32, device=device)
    for make, paired in [(fused_qkv_query, True), (transposed_heads, True),
                         (strided_channels, False), (odd_offset, False)]:
        x = make(randn, torch.bfloat16)
        _, meta = rope._arguments(x, torch.empty(x.shape, dtype=x.dtype, device=device),
                                  sin, cos, True)
        assert meta["PAIRED"] is paired, make.__name__


@pytest.mark.parametrize("kind", ["transposed", "broadcast", "sliced", "strided"])
def test_non_contiguous_tables(kind, randn, gen):
    b, s, h, d = 2, 13, 3, 34
    x = randn(b, s, h, d, dtype=torch.bfloat16)
    sin, cos = tables(s, d // 2, torch.float32, gen)
    if kind == "transposed":
        sin, cos = sin.t().contiguous().t(), cos.t().contiguous().t()
    elif kind == "broadcast":  # one position's angles for every position
        sin, cos = sin[:1].expand(s, -1), cos[:1].expand(s, -1)
    elif kind == "sliced":  # the first S rows of a longer cache
        big_sin, big_cos = tables(4 * s, d // 2, torch.float32, gen)
        sin, cos = big_sin[:s], big_cos[:s]
    else:
        sin, cos = tables(s, d, torch.float32, gen)
        sin, cos = sin[:, ::2], cos[:, ::2]
    for interleaved in (True, False):
        check(run(x, sin, cos, interleaved), x, sin, cos, interleaved)


def test_num_warps_setting(randn, gen):
    x = randn(2, 5, 4, 64, dtype=torch.float16)
    sin, cos = tables(5, 32, torch.float32, gen)
    ops.set_default_num_warps(8)
    try:
        check(run(x, sin, cos, True), x, sin, cos, True)
    finally:
        ops.set_default_num_warps(None)


@pytest.mark.parametrize("shape", [(0, 4, 2, 8), (2, 0, 2, 8), (2, 4, 0, 8), (2, 4, 2, 0)],
                         ids=lambda s: "x".join(map(str, s)))
def test_empty(shape, device):
    x = torch.empty(shape, dtype=torch.bfloat16, device=device)
    sin = cos = torch.empty(shape[1], shape[3] // 2, device=device)
    out = ops.rotary_position_embedding(x, sin, cos)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert ops.rotary_position_embedding(x, sin, cos, inplace=True) is x


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
@pytest.mark.parametrize("dtype, table", [(dtype, table) for dtype in DTYPES for table in
                                          sorted({torch.float32, dtype}, key=str)],
                         ids=lambda d: dtype_id(d))
@pytest.mark.parametrize("shape", [(2, 16, 4, 64), (1, 1, 1, 2), (3, 5, 3, 130)],
                         ids=lambda s: "x".join(map(str, s)))
def test_backward_rotates_the_gradient_back(shape, dtype, table, interleaved, randn, gen):
    x = randn(*shape, dtype=dtype).requires_grad_()
    grad = randn(*shape, dtype=dtype)
    sin, cos = tables(shape[1], shape[3] // 2, table, gen)
    out = ops.rotary_position_embedding(x, sin, cos, interleaved=interleaved)
    assert out.requires_grad and out.grad_fn is not None
    check(out.detach(), x.detach(), sin, cos, interleaved)
    op_helpers.poisoned_call(x.device, shape, dtype, out.backward, grad)
    # d(out)/dx is the rotation by the angle, so x.grad is grad rotated by minus the angle.
    check(x.grad, grad, -sin, cos, interleaved)


def test_backward_of_a_broadcast_gradient(randn, gen):
    x = randn(2, 5, 3, 8, dtype=torch.bfloat16).requires_grad_()
    sin, cos = tables(5, 4, torch.float32, gen)
    ops.rotary_position_embedding(x, sin, cos).sum().backward()  # the gradient has stride 0
    check(x.grad, torch.ones_like(x), -sin, cos, True)


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
def test_double_backward(interleaved, randn, gen):
    x = randn(2, 5, 3, 8, dtype=torch.float32).requires_grad_()
    grad = randn(2, 5, 3, 8, dtype=torch.float32).requires_grad_()
    probe = randn(2, 5, 3, 8, dtype=torch.float32)
    sin, cos = tables(5, 4, torch.float32, gen)
    out = ops.rotary_position_embedding(x, sin, cos, interleaved=interleaved)
    (grad_x,) = torch.autograd.grad(out, x, grad, create_graph=True)
    check(grad_x.detach(), grad.detach(), -sin, cos, interleaved)
    # x.grad = R(-angle) grad is linear in grad: its gradient along probe is R(angle) probe.
    grad_x.backward(probe)
    check(grad.grad, probe, sin, cos, interleaved)
    assert x.grad is None


def test_gradient_of_a_non_contiguous_input(randn, gen):
    qkv = randn(2, 7, 3 * 4, 16, dtype=torch.float16).requires_grad_()
    q = qkv[:, :, :4]
    grad = randn(2, 7, 4, 16, dtype=torch.float16)
    sin, cos = tables(7, 8, torch.float32, gen)
    ops.rotary_position_embedding(q, sin, cos).backward(grad)
    check(qkv.grad[:, :, :4], grad, -sin, cos, True)
    assert bool((qkv.grad[:, :, 4:] == 0).all())


@pytest.mark.parametrize("needs_grad", ["sin_table", "cos_table", "both"])
def test_table_gradients_are_refused_by_name(needs_grad, randn, gen):
    x = randn(2, 5, 3, 8, dtype=torch.float32).requires_grad_()
    sin, cos = tables(5, 4, torch.float32, gen)
    sin.requires_grad_(needs_grad in ("sin_table", "both"))
    cos.requires_grad_(needs_grad in ("cos_table", "both"))
    out = ops.rotary_position_embedding(x, sin, cos)
    check(out.detach(), x.detach(), sin.detach(), cos.detach(), True)
    with pytest.raises(NotImplementedError, match=r"^rotary_position_embedding has no backward "
                       r"for sin_table and cos_table in tessera\.ops yet"):
        out.sum().backward()
    assert x.grad is None


def test_calls_without_grad_record_nothing(randn, gen):
    x = randn(2, 5, 3, 8, dtype=torch.float32)
    sin, cos = tables(5, 4, torch.float32, gen)
    assert ops.rotary_position_embedding(x, sin, cos).grad_fn is None
    with torch.no_grad():
        out = ops.rotary_position_embedding(x.requires_grad_(), sin, cos)
    assert out.grad_fn is None and not out.requires_grad


def test_empty_backward(device):
    x = torch.empty(2, 0, 3, 8, device=device).requires_grad_()
    sin = cos = torch.empty(0, 4, device=device)
    ops.rotary_position_embedding(x, sin, cos).sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.cuda_only  # 4 GiB rotated in full
def test_64_bit_offsets(gen, device):
    """2**31 elements (4 GiB of bf16), rotated in place: first and last tokens checked."""
    b, s, h, d = 1, 2 ** 16, 256, 128
    try:
        x = torch.empty(b, s, h, d, dtype=torch.bfloat16, device="cuda")
    except torch.cuda.OutOfMemoryError:
        pytest.skip("not enough GPU memory for a 2**31-element tensor")
    x.normal_(generator=gen)
    sin, cos = tables(s, d // 2, torch.float32, gen)
    _, meta = rope._arguments(x, x, sin, cos, True)
    assert meta["INDEX_64"]
    head, tail = x[:, :4].clone(), x[:, -4:].clone()
    ops.rotary_position_embedding(x, sin, cos, inplace=True)
    torch.cuda.synchronize()
    check(x[:, :4], head, sin[:4], cos[:4], True)
    check(x[:, -4:], tail, sin[-4:], cos[-4:], True)
    del x
    torch.cuda.empty_cache()


@pytest.mark.parametrize("interleaved", [True, False], ids=["interleaved", "halves"])
def test_64_bit_offsets_in_a_small_input(interleaved, gen, device):
    """Tokens 2**30 elements apart in a 4 GiB buffer that is never initialised (only the
    tokens' pages are touched): 64-bit offsets with a small output."""
    b, s, h, d = 1, 3, 2, 64
    storage = torch.UntypedStorage(2 ** 31 * 2 + 2 ** 10, device=device)
    buffer = torch.tensor([], dtype=torch.bfloat16, device=device).set_(storage)
    x = buffer.as_strided((b, s, h, d), (s * 2 ** 30, 2 ** 30, d, 1))
    x.copy_(torch.randn(b, s, h, d, device=device, generator=gen))
    sin, cos = tables(s, d // 2, torch.float32, gen)
    _, meta = rope._arguments(x, torch.empty_like(x), sin, cos, interleaved)
    assert meta["INDEX_64"]
    check(run(x, sin, cos, interleaved), x, sin, cos, interleaved)


def test_errors(randn, device):
    x = randn(2, 4, 3, 8, dtype=torch.float16)
    sin = cos = torch.zeros(4, 4, device=device)
    rotate = ops.rotary_position_embedding
    on_meta = torch.zeros(4, 4, device="meta")
    with pytest.raises(ValueError, match="rotary_position_embedding: input is on meta; "
                                         "expected a CUDA or CPU tensor"):
        rotate(torch.ones(2, 4, 3, 8, device="meta"), sin, cos)
    with pytest.raises(ValueError, match="rotary_position_embedding: sin_table is on meta; "
                                         "expected a CUDA or CPU tensor"):
        rotate(x, on_meta, cos)
    with pytest.raises(TypeError, match="input has dtype float64; expected one of float16, "
                                        "bfloat16, float32"):
        rotate(x.double(), sin, cos)
    with pytest.raises(TypeError, match="input must be a tensor"):
        rotate([1.0], sin, cos)
    with pytest.raises(ValueError, match=r"input must have 4 dimensions \(B, S, H, D\), got "
                                         r"shape \(4, 3, 8\)"):
        rotate(x[0], sin, cos)
    with pytest.raises(ValueError, match=r"the last dimension of input \(D = 7\) must be even"):
        rotate(x[..., :7], sin, cos)
    with pytest.raises(ValueError, match=r"sin_table has shape \(4, 3\); expected \(S, D/2\) = "
                                         r"\(4, 4\)"):
        rotate(x, sin[:, :3], cos)
    with pytest.raises(ValueError, match=r"cos_table has shape \(5, 4\); expected \(S, D/2\)"):
        rotate(x, sin, torch.zeros(5, 4, device=device))
    with pytest.raises(TypeError, match="sin_table has dtype float64; expected one of "
                                        "float32, float16"):
        rotate(x, sin.double(), cos)
    with pytest.raises(TypeError, match="cos_table has dtype bfloat16; expected one of "
                                        "float32, float16"):
        rotate(x, sin, cos.bfloat16())
    with pytest.raises(TypeError, match="cos_table has dtype float16; expected one of float32"):
        rotate(x.float(), sin, cos.half())
    with pytest.raises(TypeError, match="sin_table has dtype torch.float16 but cos_table has "
                                        "torch.float32"):
        rotate(x, sin.half(), cos)
    with pytest.raises(ValueError, match="inplace=True needs distinct elements"):
        rotate(x[:, :1].expand(2, 4, 3, 8), sin, cos, inplace=True)


@pytest.mark.cuda_only  # tensors on two devices
def test_mixed_device_errors(randn, device):
    x = randn(2, 4, 3, 8, dtype=torch.float16)
    sin = cos = torch.zeros(4, 4, device=device)
    with pytest.raises(ValueError, match="rotary_position_embedding: cos_table is on cpu but "
                                         "input is on cuda:0"):
        ops.rotary_position_embedding(x, sin, cos.cpu())
    with pytest.raises(ValueError, match="rotary_position_embedding: sin_table is on cuda:0 "
                                         "but input is on cpu"):
        ops.rotary_position_embedding(x.cpu(), sin, cos.cpu())
