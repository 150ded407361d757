"""tessera.ops' element-wise ops against PyTorch: every op across dtypes, ranks 0 to 4, odd
sizes, broadcasting, strided and expanded inputs, Python and 0-d scalars (0-d CPU tensors beside
tensors of any device), type promotion, out= (poisoned with NaN first) and in place, NaN and Inf
as PyTorch propagates them, more than four non-mergeable dims, 64-bit offsets, dropout's
statistics, and the argument errors.

Every test runs on each device (conftest.py): the CPU through the host back end, at smaller
sizes where a case is large, and CUDA where there is a GPU.

Float results are compared with PyTorch's own result in the same dtype within a few units of the
output's rounding; integer and bool results must be equal.
"""
import math

import op_helpers
import pytest

torch = op_helpers.require_torch()

import tessera.ops as ops  # noqa: E402

FLOATS = [torch.float16, torch.bfloat16, torch.float32]
INTS = [torch.int8, torch.uint8, torch.int32, torch.int64]
# (rtol, atol) per float dtype: a few units of the dtype's rounding.
TOLERANCE = {torch.float16: (2e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5),
             torch.float32: (4e-6, 1e-6), torch.float64: (1e-12, 1e-12)}
SHAPES = [(), (0,), (1,), (7,), (33, 65), (3, 0, 2), (2, 3, 5, 7)]


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


def ints(shape, dtype, gen, low=-50, high=50):
    """Random integers (bools) on ``gen``'s device."""
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, device=gen.device, generator=gen).bool()
    if dtype == torch.uint8:
        low = max(low, 0)
    return torch.randint(low, high, shape, device=gen.device, generator=gen).to(dtype)


def check(actual, expected):
    """``actual`` has ``expected``'s shape and dtype, and its values (NaN where expected)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if expected.dtype.is_floating_point:
        rtol, atol = TOLERANCE[expected.dtype]
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        assert torch.equal(actual, expected), (actual, expected)


def poisoned_like(expected):
    out = torch.empty_like(expected, memory_format=torch.contiguous_format)
    if out.dtype.is_floating_point:
        out.fill_(float("nan"))
    else:
        out.fill_(123 if out.dtype != torch.bool else True)
    return out


def run_with_out(op, reference, *args, **kwargs):
    """Calls ``op`` without and with a poisoned out= and checks both against ``reference``."""
    expected = reference(*args, **kwargs)
    check(op(*args, **kwargs), expected)
    out = poisoned_like(expected)
    result = op(*args, **kwargs, out=out)
    assert result is out
    check(out, expected)


def inputs_for(op_name, shape, dtype, randn):
    x = randn(*shape, dtype=torch.float32, scale=2.0)
    if op_name == "rsqrt":
        x = x.abs() + 0.1
    return x.to(dtype)


FLOAT_FUNCTIONS = ["exp", "rsqrt", "sin", "cos", "sigmoid", "tanh", "abs", "neg"]


@pytest.mark.parametrize("name", FLOAT_FUNCTIONS)
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary_functions(name, dtype, shape, randn):
    x = inputs_for(name, shape, dtype, randn)
    run_with_out(getattr(ops, name), getattr(torch, name), x)


@pytest.mark.parametrize("name", ["exp", "sin", "sigmoid", "tanh", "abs", "neg"])
def test_unary_functions_of_integers(name, gen):
    x = ints((5, 6), torch.int32, gen, -5, 5)
    check(getattr(ops, name)(x), getattr(torch, name)(x))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "sin"])
def test_unary_functions_of_strided_and_expanded_inputs(name, randn):
    base = randn(8, 12, 10, dtype=torch.bfloat16)
    for x in (base.transpose(0, 2), base[::2, 1::3, :7], base[:, :1, :].expand(8, 5, 10),
              base[0, 0, 0]):
        check(getattr(ops, name)(x), getattr(torch, name)(x))


def reference_of(name):
    return getattr(torch.nn.functional, name) if name in ("relu", "silu", "gelu") else \
        getattr(torch, name)


def test_special_values_propagate_as_in_pytorch(device):
    values = [0.0, -0.0, 1.0, -1.0, 30.0, -30.0, 100.0, -100.0, 1e30, -1e30, float("inf"),
              float("-inf"), float("nan")]
    for dtype in FLOATS:
        x = torch.tensor(values, device=device).to(dtype)
        for name in FLOAT_FUNCTIONS + ["relu", "silu", "gelu", "isnan", "isinf"]:
            expected = reference_of(name)(x)
            if name == "gelu" and device == "cpu":
                # PyTorch's vectorised CPU gelu gives NaN for +inf (its scalar path: inf).
                expected = reference_of(name)(x.double()).to(dtype)
            check(getattr(ops, name)(x), expected)
        check(ops.gelu(x, approximate="tanh"), torch.nn.functional.gelu(x, approximate="tanh"))
    big = torch.tensor([50.0, -50.0, 1e4, -1e4], device=device)
    assert torch.equal(ops.tanh(big), torch.tensor([1.0, -1.0, 1.0, -1.0], device=device))


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activations(dtype, shape, randn):
    x = randn(*shape, dtype=dtype, scale=3.0)
    F = torch.nn.functional
    check(ops.relu(x), F.relu(x))
    check(ops.silu(x), F.silu(x))
    check(ops.gelu(x), F.gelu(x))
    check(ops.gelu(x, approximate="tanh"), F.gelu(x, approximate="tanh"))


def test_activations_in_place(randn, gen):
    for name in ("relu", "silu"):
        x = randn(17, 9, dtype=torch.float16)
        untouched = x.clone()
        view = x[:, 2:7]  # a strided view, written in place
        expected = reference_of(name)(view.clone())
        result = getattr(ops, name)(view, inplace=True)
        assert result is view
        check(view, expected)
        assert torch.equal(x[:, :2], untouched[:, :2]) and torch.equal(x[:, 7:], untouched[:, 7:])
    y = ints((40,), torch.int32, gen, -5, 5)
    expected = torch.relu(y)
    ops.relu(y, inplace=True)
    check(y, expected)


def test_classification_ops(randn, gen):
    x = randn(1000, dtype=torch.float32)
    x[::7] = float("nan")
    x[3::11] = float("inf")
    x[5::13] = float("-inf")
    for dtype in FLOATS:
        xd = x.to(dtype)
        check(ops.isnan(xd), torch.isnan(xd))
        check(ops.isinf(xd), torch.isinf(xd))
    i = ints((10,), torch.int64, gen)
    check(ops.isnan(i), torch.isnan(i))
    check(ops.isinf(i), torch.isinf(i))


BINARY_SHAPES = [((), ()), ((7,), ()), ((33, 65), (33, 65)), ((4, 1, 5), (3, 1)),
                 ((2, 3, 4, 5), (5,)), ((1, 6), (6, 1)), ((0, 3), (3,)),
                 ((2, 1, 3, 1), (1, 4, 1, 5))]


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_arithmetic_broadcasts(name, dtype, shapes, randn):
    a = randn(*shapes[0], dtype=dtype)
    b = randn(*shapes[1], dtype=dtype, shift=3.0)
    run_with_out(getattr(ops, name), getattr(torch, name), a, b)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_arithmetic_with_scalars_and_promotion(name, randn, gen, device):
    fn, reference = getattr(ops, name), getattr(torch, name)
    h = randn(6, 7, dtype=torch.float16)
    f = randn(7, dtype=torch.float32)
    i = ints((6, 7), torch.int32, gen, 1, 9)
    cases = [(h, 0.1), (h, 3), (h, f), (i, h), (i, 2), (i, 2.5), (h, True),
             (h, torch.tensor(1.7, device=device)),            # a 0-d tensor on the device
             (h, torch.tensor(2.25, dtype=torch.float64)),     # a 0-d CPU tensor
             (i, torch.tensor(3.5)), (f, torch.tensor(7, dtype=torch.int64, device=device)),
             (ints((5,), torch.int8, gen), ints((5,), torch.uint8, gen, 1, 9))]
    for a, b in cases:
        if name == "sub" and b is True:
            with pytest.raises(TypeError, match="subtracting bools"):
                fn(a, b)  # PyTorch refuses it too
            continue
        want = reference(a, b)
        if isinstance(b, float) and a.dtype == torch.float16:
            # PyTorch's CUDA kernels (and tessera) take the scalar at fp32; its CPU kernels round
            # it to fp16 first, which moves results near 0 by more than the tolerance
            want = reference(a.float(), b).to(want.dtype)
        check(fn(a, b), want)


def test_zero_d_cpu_tensors(randn, device):
    """A 0-d CPU tensor beside tensors of any device is a scalar passed by value; 0-d CPU
    tensors alone are CPU tensors: the result's device is PyTorch's."""
    x = randn(5, 6, dtype=torch.float32)
    s, t = torch.tensor(2.5), torch.tensor(3, dtype=torch.int64)
    on_device = torch.tensor(-1.25, device=device)
    for a, b in [(x, s), (s, x), (x, t), (s, t), (s, s), (on_device, s), (s, on_device)]:
        expected = torch.add(a, b)
        result = ops.add(a, b)
        assert result.device == expected.device, (result.device, expected.device)
        check(result, expected)


def test_alpha(randn, gen):
    a, b = randn(10, 3, dtype=torch.bfloat16), randn(3, dtype=torch.bfloat16)
    check(ops.add(a, b, alpha=0.5), torch.add(a, b, alpha=0.5))
    check(ops.sub(a, b, alpha=-3), torch.sub(a, b, alpha=-3))
    i, j = ints((8,), torch.int64, gen), ints((8,), torch.int64, gen)
    check(ops.add(i, j, alpha=7), torch.add(i, j, alpha=7))
    with pytest.raises(TypeError, match="alpha"):
        ops.add(i, j, alpha=0.5)


def test_bool_arithmetic(gen):
    p, q = ints((50,), torch.bool, gen), ints((50,), torch.bool, gen)
    check(ops.add(p, q), torch.add(p, q))
    check(ops.mul(p, q), torch.mul(p, q))
    with pytest.raises(TypeError, match="sub"):
        ops.sub(p, q)


@pytest.mark.parametrize("dtype", FLOATS + [torch.int32, torch.int64, torch.int8], ids=dtype_id)
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_division_rounding_modes(dtype, mode, randn, gen):
    if dtype.is_floating_point:
        a = randn(500, dtype=dtype, scale=20.0)
        b = randn(500, dtype=dtype, scale=3.0)
        b[::50] = 0.0  # +-inf or NaN, as PyTorch
        a[1::97] = -0.0
    else:
        a = ints((500,), dtype, gen, -100, 100)
        b = ints((500,), dtype, gen, 1, 12) * torch.where(
            torch.rand(500, device=gen.device, generator=gen) < 0.5, -1, 1).to(dtype)
    run_with_out(ops.div, torch.div, a, b, rounding_mode=mode)
    # PyTorch multiplies by the reciprocal of a float scalar divisor; with powers of two that
    # equals the quotient, so the rounding modes agree exactly.
    for divisor in ((2.0, -4.0) if dtype.is_floating_point else (3, -2)):
        check(ops.div(a, divisor, rounding_mode=mode), torch.div(a, divisor, rounding_mode=mode))


@pytest.mark.parametrize("dtype", [torch.int8, torch.int16, torch.int32, torch.int64],
                         ids=dtype_id)
def test_integer_division_never_traps(dtype, device):
    """The most negative integer divided by -1 wraps to itself; a zero divisor (which PyTorch's
    CPU ops refuse) gives some integer rather than the CPU's division trap."""
    smallest = torch.iinfo(dtype).min
    a = torch.tensor([smallest, smallest, 7, -7], dtype=dtype, device=device)
    b = torch.tensor([-1, 0, 0, -1], dtype=dtype, device=device)
    for mode in ("trunc", "floor"):
        quotient = ops.div(a, b, rounding_mode=mode)
        assert quotient[0].item() == smallest and quotient[3].item() == 7, quotient


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_pow_of_floats(dtype, randn):
    base = randn(40, 30, dtype=dtype).abs() + 0.1
    exponent = randn(30, dtype=dtype)
    run_with_out(ops.pow, torch.pow, base, exponent)
    for e in (2, 0.5, -1, 3.0, 0):
        check(ops.pow(base, e), torch.pow(base, e))
    negative = -base
    check(ops.pow(negative, 3), torch.pow(negative, 3))      # exact for integral exponents
    check(ops.pow(2.0, exponent), torch.pow(2.0, exponent))  # a number as the base


@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int32, torch.int64],
                         ids=dtype_id)
def test_pow_of_integers_is_exact(dtype, gen):
    base = ints((300,), dtype, gen, -6, 7)
    exponent = ints((300,), dtype, gen, 0, 9)
    check(ops.pow(base, exponent), torch.pow(base, exponent))
    check(ops.pow(base, 3), torch.pow(base, 3))
    if dtype.is_signed:
        negative = ints((300,), dtype, gen, -4, 0)
        check(ops.pow(base, negative), torch.pow(base, negative))
        with pytest.raises(ValueError, match="negative integer powers"):
            ops.pow(base, -2)


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("name", COMPARISONS)
@pytest.mark.parametrize("dtype", FLOATS + INTS + [torch.bool], ids=dtype_id)
def test_comparisons(name, dtype, randn, gen):
    fn, reference = getattr(ops, name), getattr(torch, name)
    if dtype.is_floating_point:
        a, b = randn(9, 31, dtype=dtype), randn(31, dtype=dtype)
        a[0, :5] = b[:5]  # some equal pairs
        a[1, 0] = float("nan")
        scalars = [0, 0.1, -1.5]
    else:
        a, b = ints((9, 31), dtype, gen, -3, 3), ints((31,), dtype, gen, -3, 3)
        scalars = [0, 1, 2] if dtype != torch.bool else [True, False]
    run_with_out(fn, reference, a, b)
    check(fn(a.t(), b[:9]), reference(a.t(), b[:9]))
    for s in scalars:
        check(fn(a, s), reference(a, s))


def test_comparison_with_mixed_dtypes_promotes(randn, gen, device):
    h = randn(64, dtype=torch.float16)
    i = ints((64,), torch.int32, gen, -2, 2)
    check(ops.lt(h, i), torch.lt(h, i))
    check(ops.eq(h, 0.1), torch.eq(h, 0.1))
    # PyTorch compares with a scalar in the common dtype: 0.1 rounds to bf16 0.10009765625.
    b = torch.tensor([0.10009765625, 0.1, 0.09960937500], device=device, dtype=torch.bfloat16)
    for name in COMPARISONS:
        check(getattr(ops, name)(b, 0.1), getattr(torch, name)(b, 0.1))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or"])
@pytest.mark.parametrize("dtype", INTS + [torch.bool, torch.int16], ids=dtype_id)
def test_bitwise_binary(name, dtype, gen):
    a, b = ints((7, 40), dtype, gen, -100, 100), ints((40,), dtype, gen, -100, 100)
    run_with_out(getattr(ops, name), getattr(torch, name), a, b)
    scalar = True if dtype == torch.bool else 5
    check(getattr(ops, name)(a, scalar), getattr(torch, name)(a, scalar))


@pytest.mark.parametrize("dtype", INTS + [torch.bool, torch.int16], ids=dtype_id)
def test_bitwise_not(dtype, gen):
    a = ints((3, 5, 7), dtype, gen, -100, 100)
    run_with_out(ops.bitwise_not, torch.bitwise_not, a)
    check(ops.bitwise_not(a.transpose(0, 2)), torch.bitwise_not(a.transpose(0, 2)))


@pytest.mark.parametrize("dtype", FLOATS + [torch.int32], ids=dtype_id)
def test_clamp(dtype, randn, gen):
    if dtype.is_floating_point:
        x = randn(20, 30, dtype=dtype, scale=3.0)
        x[0, 0] = float("nan")
        lo, hi = randn(30, dtype=dtype) - 1, randn(20, 1, dtype=dtype) + 1
        lo[3] = float("nan")
    else:
        x = ints((20, 30), dtype, gen)
        lo, hi = ints((30,), dtype, gen, -20, 0), ints((20, 1), dtype, gen, 0, 20)
    run_with_out(ops.clamp, torch.clamp, x, lo, hi)
    run_with_out(ops.clamp, torch.clamp, x, min=lo)
    run_with_out(ops.clamp, torch.clamp, x, max=hi)
    check(ops.clamp(x, -1, 1), torch.clamp(x, -1, 1))
    check(ops.clamp(x, min=2, max=-2), torch.clamp(x, min=2, max=-2))  # min > max gives max
    check(ops.clamp(x, min=0.5), torch.clamp(x, min=0.5))


def test_out_of_another_dtype_and_in_place_through_out(randn, device):
    a, b = randn(40, dtype=torch.float16), randn(40, dtype=torch.float16)
    out = torch.full((40,), float("nan"), device=device, dtype=torch.float32)
    ops.add(a, b, out=out)
    check(out, torch.add(a, b, out=torch.empty(40, device=device)))
    expected = torch.mul(a, b)
    ops.mul(a, b, out=a)  # out is an input: element-wise in place
    check(a, expected)
    with pytest.raises(TypeError, match="cannot be cast"):
        ops.add(a, b, out=torch.empty(40, device=device, dtype=torch.int32))
    with pytest.raises(ValueError, match="shape"):
        ops.add(a, b, out=torch.empty(41, device=device, dtype=torch.float16))
    with pytest.raises(ValueError, match="overlaps"):
        ops.add(a[1:], b[1:], out=a[:-1])
    with pytest.raises(ValueError, match="share memory"):
        ops.add(a, b, out=torch.empty(1, device=device, dtype=torch.float16).expand(40))


def test_more_than_four_unmergeable_dims(randn):
    base = randn(3, 4, 2, 5, 3, 2, dtype=torch.float32)
    x = base.permute(5, 3, 1, 0, 4, 2)  # six dims, no two mergeable
    y = randn(2, 5, 1, 3, 1, 1, dtype=torch.float32)
    check(ops.add(x, y), torch.add(x, y))
    check(ops.exp(x), torch.exp(x))


@pytest.mark.cuda_only  # three tensors of 2 GiB, written and compared in full
def test_over_two_to_the_31_elements(device):
    free, _ = torch.cuda.mem_get_info()
    n = 2 ** 31 + 4099
    if free < 3 * n + (1 << 30):
        pytest.fail(f"needs {3 * n / 2**30:.1f} GiB of free GPU memory, {free / 2**30:.1f} free")
    a = torch.randint(-100, 100, (n,), device="cuda", dtype=torch.int8)
    out = torch.full((n,), 7, device="cuda", dtype=torch.int8)
    ops.bitwise_not(a, out=out)
    assert torch.equal(out, torch.bitwise_not(a))
    del out
    y = ops.add(a, 3)
    assert torch.equal(y, torch.add(a, 3))
    del y
    # An expanded operand whose offsets need 64 bits while the output is small.
    wide = a[: 2 ** 31 + 5].view(-1)[::2 ** 30][:3]
    check(ops.neg(wide), torch.neg(wide))


def test_offsets_beyond_2_to_the_31_in_a_small_operand(device):
    """Three elements 2^30 apart: 64-bit offsets while the output is small. The 2 GiB storage
    is never initialised, so only the pages of the three elements are touched."""
    storage = torch.UntypedStorage(2 ** 31 + 5, device=device)
    wide = torch.tensor([], dtype=torch.int8, device=device).set_(storage)[::2 ** 30]
    wide.copy_(torch.tensor([5, -7, 100], dtype=torch.int8))
    check(ops.neg(wide), torch.neg(wide))
    check(ops.add(wide, wide[:1]), torch.add(wide, wide[:1]))


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics(dtype, p, randn, device):
    n = 1 << 22 if device == "cuda" else 1 << 19
    x = randn(n, dtype=dtype, shift=4.0)  # no zeros among the inputs
    torch.manual_seed(1234)
    y = ops.dropout(x, p=p)
    kept = y != 0
    fraction = kept.double().mean().item()
    # Binomial(n, 1 - p): six standard deviations.
    assert abs(fraction - (1 - p)) <= 6 * math.sqrt(p * (1 - p) / n), fraction
    expected = (x.float() / (1 - p)).to(dtype)
    check(y[kept], expected[kept])
    torch.manual_seed(1234)
    assert torch.equal(ops.dropout(x, p=p), y), "torch.manual_seed should make dropout repeat"
    assert not torch.equal(ops.dropout(x, p=p), y), "successive calls should draw new masks"


def test_dropout_masks_are_independent_across_elements(randn):
    x = randn(1 << 20, dtype=torch.float32, shift=4.0)
    kept = (ops.dropout(x, p=0.5) != 0).double()
    # Neighbours (within a Philox word group and across the four parts) are uncorrelated.
    for lag in (1, 2, 4, 1024, 4096):
        correlation = torch.corrcoef(torch.stack([kept[:-lag], kept[lag:]]))[0, 1].item()
        assert abs(correlation) < 0.01, (lag, correlation)


def test_dropout_edge_cases(randn, device):
    x = randn(3, 1000, dtype=torch.bfloat16, shift=4.0)
    assert torch.equal(ops.dropout(x, p=0.0), x)
    assert ops.dropout(x, p=0.0) is not x
    assert not ops.dropout(x, p=1.0).any()
    assert torch.equal(ops.dropout(x, p=0.7, training=False), x)
    assert ops.dropout(x, p=0.7, training=False, inplace=True) is x
    view = x[:, ::3]  # strided, in place: kept elements scaled, the others zero
    original = view.clone()
    result = ops.dropout(view, p=0.25, inplace=True)
    assert result is view
    kept = view != 0
    check(view[kept], (original.float() / 0.75).to(torch.bfloat16)[kept])
    assert x[:, 1::3].ne(0).all(), "elements outside the view are untouched"
    empty = torch.empty(0, 5, device=device)
    assert ops.dropout(empty).shape == (0, 5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout: p must be"):
            ops.dropout(x, p=bad)
    with pytest.raises(TypeError, match="dropout: input has dtype int32"):
        ops.dropout(torch.ones(3, dtype=torch.int32, device=device))


def test_dropout_of_a_layout_is_the_dropout_of_its_values(randn):
    # The stream follows the logical order, so a transposed input drops the same elements as
    # its contiguous copy under the same seed.
    x = randn(64, 96, dtype=torch.float32, shift=4.0)
    xt = x.t()
    torch.manual_seed(7)
    a = ops.dropout(xt, p=0.3)
    torch.manual_seed(7)
    b = ops.dropout(xt.contiguous(), p=0.3)
    assert torch.equal(a, b)


def test_errors(randn, gen, device):
    x = randn(4, dtype=torch.float32)
    with pytest.raises(ValueError, match="add: input is on meta; expected a CUDA or CPU tensor"):
        ops.add(torch.ones(4, device="meta"), x)
    with pytest.raises(ValueError, match="add: other is on meta; expected a CUDA or CPU tensor"):
        ops.add(x, torch.ones(4, device="meta"))
    with pytest.raises(ValueError, match="do not broadcast"):
        ops.mul(x, randn(3, dtype=torch.float32))
    with pytest.raises(TypeError, match="bitwise_and: input has dtype float32"):
        ops.bitwise_and(x, x)
    with pytest.raises(TypeError, match="silu: input has dtype int32"):
        ops.silu(ints((3,), torch.int32, gen))
    with pytest.raises(ValueError, match="rounding_mode"):
        ops.div(x, x, rounding_mode="round")
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="at least one of min and max"):
        ops.clamp(x)
    with pytest.raises(TypeError, match="input must be a tensor"):
        ops.exp(3.0)
    with pytest.raises(TypeError, match="complex64"):
        ops.exp(torch.ones(2, dtype=torch.complex64, device=device))
    with pytest.raises(TypeError, match="neg: input has dtype bool"):
        ops.neg(ints((2,), torch.bool, gen))


@pytest.mark.cuda_only  # a CPU and a CUDA tensor in one call
def test_mixed_device_errors(randn, device):
    x = randn(4, dtype=torch.float32)
    with pytest.raises(ValueError, match="add: other is on cuda:0 but input is on cpu"):
        ops.add(torch.ones(4), x)
    with pytest.raises(ValueError, match="add: other is on cpu but input is on cuda:0"):
        ops.add(x, torch.ones(4))


def test_results_match_on_random_values_never_zero(randn):
    # A guard against a kernel that writes nothing: every op's output was poisoned above; here
    # the sum of a large result is checked against PyTorch's.
    x = randn(1 << 20, dtype=torch.float32)
    assert math.isclose(ops.silu(x).double().sum().item(),
                        torch.nn.functional.silu(x).double().sum().item(), rel_tol=1e-6)
