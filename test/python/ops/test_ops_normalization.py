"""tessera.ops' softmax, layer_norm and rms_norm against float64 references computed by
PyTorch from the same inputs: fp16/bf16/fp32, ranks 0 to 5, row lengths on both sides of the
one-pass limit, every softmax dim, transposed, sliced and expanded inputs, softmax's dtype=,
weights and biases (absent, strided, of another dtype), tuple normalized_shape, eps, empty
tensors, +-inf and NaN as PyTorch propagates them, 64-bit offsets, no copies of the input, and
the argument errors of specs/ops.md.

Every test runs on each device (conftest.py): the CPU through the host back end, and CUDA where
there is a GPU. The CPU takes the multi-pass kernels at rows of 17000 (just past the one-pass
limit of 16384 elements) where CUDA takes 70000.

The ops allocate their outputs, so each call is made with the memory that its output will
take filled with NaN first (op_helpers.poisoned_call): an element the kernel does not write
stays NaN and fails the comparison.
"""
import op_helpers
import pytest

torch = op_helpers.require_torch()

import torch.nn.functional as F  # noqa: E402

import tessera.ops  # noqa: E402
from tessera.ops.normalization import layer_norm, rms_norm, softmax  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32]
# Relative to the float64 reference: the output's rounding plus fp32 math.
RTOL = {torch.float32: 1e-5, torch.bfloat16: 1e-2, torch.float16: 2e-3}
# fp16's subnormal steps (softmax outputs far below the row's largest)
ATOL = {torch.float32: 1e-12, torch.bfloat16: 1e-12, torch.float16: 6e-8}
# Rows past the one-pass limit (16384 elements): the multi-pass kernels, in several chunks
# and a partial one; CUDA takes the longer rows, the CPU the shorter.
LONG_ROWS = [17000, pytest.param(70000, marks=pytest.mark.cuda_only)]
ROW_LENGTHS = [1, 3, 17, 1000, 1025, 5000, *LONG_ROWS]


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


def long_row(device):
    """A row length of LONG_ROWS for ``device``."""
    return 70000 if device == "cuda" else 17000


def check(out, ref, dtype, scale=0.0):
    """``out`` (of ``dtype``, ``ref``'s shape) within RTOL * (|ref| + scale) + ATOL of the
    float64 ``ref`` wherever ``ref`` is a number, and NaN exactly where ``ref`` is NaN."""
    assert out.dtype == dtype, f"dtype {out.dtype}, expected {dtype}"
    assert tuple(out.shape) == tuple(ref.shape), f"shape {tuple(out.shape)}, expected " \
        f"{tuple(ref.shape)}"
    got = out.double()
    nan_ref = torch.isnan(ref)
    wrong_nan = torch.isnan(got) != nan_ref
    assert not bool(wrong_nan.any()), f"{int(wrong_nan.sum())} of {ref.numel()} outputs are " \
        "NaN where the reference is not, or the reverse (unwritten outputs are NaN)"
    if isinstance(scale, torch.Tensor):
        scale = scale.double()
    bound = RTOL[dtype] * (ref.abs() + scale) + ATOL[dtype]
    err = (got - ref).abs()
    bad = ~(err <= bound) & ~nan_ref & ~(got == ref)  # equal infinities are fine
    if bool(bad.any()):
        worst = torch.where(bad, err - bound, torch.zeros_like(err)).argmax()
        raise AssertionError(f"{int(bad.sum())} of {bad.numel()} outputs off; worst: "
                             f"{got.flatten()[worst].item():.6e} against "
                             f"{ref.flatten()[worst].item():.6e}")


def run_softmax(x, dim, dtype=None):
    out_dtype = dtype or x.dtype
    y = op_helpers.poisoned_call(x.device, tuple(x.shape), out_dtype, softmax, x, dim,
                                 dtype=dtype)
    ref = torch.softmax(x.to(out_dtype).double(), dim)
    check(y, ref, out_dtype)
    assert y.is_contiguous()
    return y


def as_tuple(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def ln_reference(x, shape, w, b, eps):
    return F.layer_norm(x.double(), as_tuple(shape), None if w is None else w.double(),
                        None if b is None else b.double(), eps)


def ln_scale(w, b):
    """The size of the terms of y = d * rstd * w + b that fp32 rounding errors scale with."""
    return (1.0 if w is None else w.double().abs()) + (0.0 if b is None else b.double().abs())


def run_layer_norm(x, shape, w=None, b=None, eps=1e-5):
    y = op_helpers.poisoned_call(x.device, tuple(x.shape), x.dtype, layer_norm, x, shape, w, b,
                                 eps=eps)
    check(y, ln_reference(x, shape, w, b, eps), x.dtype, ln_scale(w, b))
    assert y.is_contiguous()
    return y


def run_rms_norm(x, shape, w=None, eps=None):
    y = op_helpers.poisoned_call(x.device, tuple(x.shape), x.dtype, rms_norm, x, shape, w,
                                 eps=eps)
    ref_eps = torch.finfo(x.dtype).eps if eps is None else eps
    ref = F.rms_norm(x.double(), as_tuple(shape), None if w is None else w.double(), ref_eps)
    check(y, ref, x.dtype)
    assert y.is_contiguous()
    return y


# ---- softmax -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_softmax_row_lengths(n, dtype, randn):
    x = randn(7, n, dtype=dtype, scale=3.0)
    y = run_softmax(x, -1)
    sums = y.double().sum(-1)
    assert bool(((sums - 1).abs() <= 2 * RTOL[dtype] + 1e-6).all()), sums


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=dtype_id)
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 5), (2, 3, 4, 5), (3, 17000),
                                   pytest.param((3, 70000), marks=pytest.mark.cuda_only),
                                   (5000, 33), (2, 1100, 3)], ids=lambda s: "x".join(map(str, s)))
def test_softmax_every_dim(shape, dtype, randn):
    x = randn(*shape, dtype=dtype, scale=2.0)
    for dim in range(-len(shape), len(shape)):
        run_softmax(x, dim)


def test_softmax_many_short_rows(randn):
    """Rows packed several to a program, with a last program only partly full."""
    for m, n in [(4099, 3), (1001, 17), (33, 1000), (100000, 1)]:
        run_softmax(randn(m, n, dtype=torch.float16, scale=3.0), 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_softmax_non_contiguous(dtype, randn):
    base = randn(64, 90, dtype=dtype, scale=3.0)
    run_softmax(base.t(), 1)                       # rows strided, columns adjacent
    run_softmax(base.t(), 0)
    run_softmax(base[::2, ::3], 1)                 # slices with steps
    run_softmax(base[::2, ::3], 0)
    run_softmax(base[:, 5:60], -1)                 # rows of 55 in a pitch of 90
    cube = randn(6, 7, 8, 9, dtype=dtype)
    run_softmax(cube.permute(2, 0, 3, 1), 1)
    run_softmax(cube.permute(3, 1, 0, 2), -1)
    run_softmax(cube[1::2, :, ::2, 1:], 2)
    run_softmax(randn(1, 70, dtype=dtype).expand(5, 70), 1)  # a 0 row stride
    run_softmax(randn(5, 1, dtype=dtype).expand(5, 70), 1)   # a 0 column stride


def test_softmax_more_row_dims_than_the_kernel_takes(randn):
    """Four row dims that do not merge: the outer ones are looped over."""
    x = randn(4, 6, 4, 6, 4, 30, dtype=torch.float32)[::2, ::2, ::2, ::2, ::2]
    for dim in (-1, 0, 2):
        run_softmax(x, dim)


@pytest.mark.parametrize("dtypes", [(torch.bfloat16, torch.float32),
                                    (torch.float16, torch.float32),
                                    (torch.float32, torch.bfloat16),
                                    (torch.float32, torch.float16),
                                    (torch.bfloat16, torch.bfloat16)],
                         ids=lambda d: "-to-".join(map(dtype_id, d)))
@pytest.mark.parametrize("n", [1000, *LONG_ROWS])
def test_softmax_dtype_argument(n, dtypes, randn):
    src, dst = dtypes
    x = randn(5, n, dtype=src, scale=3.0)
    y = run_softmax(x, 1, dtype=dst)
    assert y.dtype == dst and torch.softmax(x, 1, dtype=dst).dtype == dst


def test_softmax_zero_d_and_empty(device):
    for value in (2.5, float("inf"), float("-inf"), float("nan")):
        x = torch.tensor(value, device=device)
        for dim in (0, -1):
            y = op_helpers.poisoned_call(device, (), torch.float32, softmax, x, dim)
            ref = torch.softmax(x.double(), dim)
            assert y.shape == () and (bool(torch.isnan(y)) if bool(torch.isnan(ref))
                                      else y.item() == ref.item())
    for shape, dim in [((0, 5), 1), ((0, 5), 0), ((5, 0), 1), ((5, 0), 0), ((0,), 0),
                       ((2, 0, 3), -1)]:
        x = torch.empty(shape, device=device, dtype=torch.bfloat16)
        y = softmax(x, dim)
        assert y.shape == torch.softmax(x, dim).shape and y.dtype == torch.bfloat16


@pytest.mark.parametrize("n", [100, 5000, *LONG_ROWS])
def test_softmax_special_values(n, randn):
    """+inf or NaN in a row, or only -inf, make the row NaN (as torch.softmax does); -inf
    elements elsewhere are exact zeros, even a leading run longer than a multi-pass block."""
    x = randn(6, n, dtype=torch.float32, scale=3.0)
    x[0, n // 2] = float("inf")
    x[1, n // 3] = float("nan")
    x[2, :] = float("-inf")
    x[3, : n // 2] = float("-inf")
    x[4, -1] = float("-inf")
    x[5, 0] = float("-inf")
    y = run_softmax(x, 1)
    assert bool(torch.isnan(y[:3]).all())
    assert bool((y[3, : n // 2] == 0).all()) and y[4, -1].item() == 0 and y[5, 0].item() == 0


def test_softmax_large_values(randn):
    # fp32 values near the top of the range: subtracting the max first keeps them finite
    x = randn(4, 3000, dtype=torch.float32, scale=1e37, shift=2e38)
    run_softmax(x, 1)
    run_softmax(randn(4, 3000, dtype=torch.bfloat16, scale=30.0, shift=500.0), 1)


# ---- layer_norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_layer_norm_row_lengths(n, dtype, randn):
    x = randn(7, n, dtype=dtype, scale=2.0, shift=0.5)
    w, b = randn(n, dtype=dtype), randn(n, dtype=dtype)
    run_layer_norm(x, (n,), w, b)


@pytest.mark.parametrize("params", ["none", "weight", "bias", "both"])
@pytest.mark.parametrize("n", [1000, *LONG_ROWS])
def test_layer_norm_weight_and_bias(n, params, randn):
    x = randn(5, n, dtype=torch.bfloat16, scale=2.0, shift=-1.0)
    w = randn(n, dtype=torch.bfloat16, shift=1.0) if params in ("weight", "both") else None
    b = randn(n, dtype=torch.bfloat16) if params in ("bias", "both") else None
    run_layer_norm(x, n, w, b, eps=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=dtype_id)
def test_layer_norm_normalized_shapes(dtype, randn, device):
    x = randn(2, 3, 4, 5, dtype=dtype, scale=2.0, shift=1.0)
    for shape in [5, (5,), [4, 5], (3, 4, 5), torch.Size([2, 3, 4, 5])]:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        run_layer_norm(x, shape, randn(*dims, dtype=dtype), randn(*dims, dtype=dtype))
    run_layer_norm(randn(3000, dtype=dtype), (3000,))  # 1-D input: one row
    columns = (100, long_row(device) // 100)  # a long row in 2 dims
    run_layer_norm(randn(3, *columns, dtype=dtype), columns)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_layer_norm_non_contiguous(dtype, randn, device):
    base = randn(40, 90, dtype=dtype, scale=2.0, shift=0.5)
    run_layer_norm(base.t(), 40, randn(40, dtype=dtype), randn(40, dtype=dtype))
    run_layer_norm(base[::2, ::3], 30, randn(30, dtype=dtype), None)
    run_layer_norm(base[:, 10:], 80, None, randn(80, dtype=dtype))
    # normalized dims that do not merge: a 2-level column index, one-pass and multi-pass
    cube = randn(4, 6, 20, dtype=dtype)
    run_layer_norm(cube[:, :, :10], (6, 10), randn(6, 10, dtype=dtype),
                   randn(6, 10, dtype=dtype))
    side = 300 if device == "cuda" else 130  # side * side: past the one-pass limit
    big = randn(2, side, side + 100, dtype=dtype)
    run_layer_norm(big[:, :, :side], (side, side), randn(side, side, dtype=dtype),
                   randn(side, side, dtype=dtype))
    # strided weight and bias: a transposed matrix, a slice with a step, an expanded scalar
    w = randn(10, 6, dtype=dtype).t()
    run_layer_norm(randn(3, 6, 10, dtype=dtype), (6, 10), w, randn(6, 10, dtype=dtype))
    run_layer_norm(randn(9, 50, dtype=dtype), 50, randn(100, dtype=dtype)[::2],
                   randn(1, dtype=dtype).expand(50))
    # row dims that do not merge, more than the kernel takes
    run_layer_norm(randn(4, 6, 4, 6, 3, 64, dtype=dtype)[::2, ::2, ::2, ::2, ::2], 64,
                   randn(64, dtype=dtype), randn(64, dtype=dtype))


@pytest.mark.parametrize("n", [1000, *LONG_ROWS])
def test_layer_norm_parameters_of_another_dtype(n, randn):
    """fp32 weight and bias with bf16 input: the result is bf16, as the input; PyTorch's result
    dtype is compared where PyTorch accepts the mix."""
    x = randn(5, n, dtype=torch.bfloat16, scale=2.0)
    w, b = randn(n, dtype=torch.float32), randn(n, dtype=torch.float32)
    y = run_layer_norm(x, (n,), w, b)
    try:
        theirs = F.layer_norm(x, (n,), w, b)
    except RuntimeError:  # PyTorch refuses mixed dtypes on this device
        return
    assert y.dtype == theirs.dtype


@pytest.mark.parametrize("n", [4096, *LONG_ROWS])
def test_layer_norm_large_mean(n, randn):
    """A mean 1000 times the deviation: the variance is computed about the mean (per chunk in
    the multi-pass kernel), not as E[x^2] - E[x]^2."""
    x = randn(4, n, dtype=torch.float32, scale=1.0, shift=1000.0)
    run_layer_norm(x, n)


def test_layer_norm_special_values(randn, device):
    for n in (100, long_row(device)):
        x = randn(3, n, dtype=torch.float32)
        x[0, 7] = float("inf")
        x[1, 9] = float("nan")
        y = run_layer_norm(x, n)
        assert bool(torch.isnan(y[:2]).all()) and not bool(torch.isnan(y[2]).any())


# ---- rms_norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_rms_norm_row_lengths(n, dtype, randn):
    x = randn(7, n, dtype=dtype, scale=2.0, shift=0.5)
    run_rms_norm(x, (n,), randn(n, dtype=dtype), eps=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_rms_norm_default_eps(dtype, randn):
    """eps None is torch.finfo(input.dtype).eps: with mean(x^2) near it, it shows."""
    x = randn(5, 1000, dtype=dtype, scale=float(torch.finfo(dtype).eps) ** 0.5)
    run_rms_norm(x, 1000)
    run_rms_norm(x, 1000, randn(1000, dtype=dtype), eps=None)
    run_rms_norm(x, 1000, None, eps=0.5)


def test_rms_norm_shapes_strides_and_dtypes(randn, device):
    x = randn(2, 3, 4, 5, dtype=torch.bfloat16)
    run_rms_norm(x, (4, 5), randn(4, 5, dtype=torch.bfloat16))
    run_rms_norm(x, [3, 4, 5])
    run_rms_norm(x.transpose(1, 3), 3, randn(3, dtype=torch.bfloat16))
    run_rms_norm(randn(4, 6, 20, dtype=torch.float16)[:, :, :10], (6, 10),
                 randn(10, 6, dtype=torch.float16).t())
    n = long_row(device)
    run_rms_norm(randn(3, n, dtype=torch.float32)[:, ::1], n, None, eps=1e-6)
    # an fp32 weight with a bf16 input: the result keeps the input's dtype
    run_rms_norm(randn(5, 5000, dtype=torch.bfloat16), 5000, randn(5000, dtype=torch.float32),
                 eps=1e-6)


def test_rms_norm_special_values(randn, device):
    """NaN in a row makes the row NaN; so does +-inf: PyTorch's CUDA rms_norm takes the mean
    of squares as a Welford mean (inf - inf is NaN), not 0 for the finite elements (x * rsqrt
    of inf) and NaN for the infinite one. Which elements PyTorch's reduction order turns NaN
    is its implementation's; the op makes the whole row NaN, as PyTorch did in the H200 run."""
    for n in (100, long_row(device)):
        x = randn(3, n, dtype=torch.float32)
        x[0, 7] = float("inf")
        x[1, 9] = float("nan")
        y = op_helpers.poisoned_call(x.device, tuple(x.shape), x.dtype, rms_norm, x, n, None,
                                     eps=1e-6)
        ref = F.rms_norm(x.double(), (n,), None, 1e-6)
        ref[0] = float("nan")
        check(y, ref, x.dtype)
        assert bool(torch.isnan(y[:2]).all()) and not bool(torch.isnan(y[2]).any())


# ---- all three ---------------------------------------------------------------------------

def test_empty_inputs(device):
    for shape, normalized in [((0, 5), 5), ((5, 0), 0), ((3, 0, 4), (0, 4)), ((0,), 0)]:
        x = torch.empty(shape, device=device, dtype=torch.float16)
        for op in (layer_norm, rms_norm):
            y = op(x, normalized)
            assert y.shape == x.shape and y.dtype == x.dtype


def test_num_warps_setting_applies(randn):
    x = randn(33, 5000, dtype=torch.bfloat16)
    w = randn(5000, dtype=torch.bfloat16)
    try:
        for warps in (2, 4, 32):
            tessera.ops.set_default_num_warps(warps)
            run_softmax(x, 1)
            run_layer_norm(x, 5000, w, w)
            run_rms_norm(x, 5000, w, eps=1e-6)
    finally:
        tessera.ops.set_default_num_warps(None)


@pytest.mark.cuda_only  # counts the bytes of CUDA's caching allocator
def test_inputs_are_not_copied(randn, device):
    """Only the output is allocated, whatever the input's strides."""
    x = randn(512, 1024, dtype=torch.float32).t()[::2]
    w = randn(2048, dtype=torch.float32)[::4]
    calls = [lambda: softmax(x, 0), lambda: softmax(x, 1), lambda: layer_norm(x, 512, None, w),
             lambda: rms_norm(x, (512,), w)]
    for call in calls:
        call()  # compiled
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        y = call()
        torch.cuda.synchronize()
        extra = torch.cuda.max_memory_allocated() - before
        assert extra <= y.numel() * y.element_size() + 512, f"{extra} bytes allocated"


@pytest.mark.cuda_only  # 4 GiB written and read in full
def test_offsets_beyond_2_to_the_31(device):
    """More than 2**31 elements: 64-bit offsets (checked on a few rows)."""
    free, _ = torch.cuda.mem_get_info()
    if free < 20 * 2 ** 30:
        pytest.skip("needs 20 GiB of free GPU memory")
    m, n = 2 ** 16 + 1, 2 ** 15
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
    for rows in range(0, m, 8192):  # drawn in pieces: no float32 copy of the whole
        x[rows:rows + 8192] = torch.randn(min(8192, m - rows), n, device="cuda",
                                          generator=g).to(torch.bfloat16)
    picked = [0, 1, m // 2, m - 2, m - 1]
    for op, ref in [(lambda t: softmax(t, -1), lambda t: torch.softmax(t, -1)),
                    (lambda t: layer_norm(t, n), lambda t: F.layer_norm(t, (n,)))]:
        y = op(x)
        torch.cuda.synchronize()
        check(y[picked], ref(x[picked].double()), torch.bfloat16, 1.0)
        del y


def test_offsets_beyond_2_to_the_31_in_a_small_input(device, gen):
    """Rows 2**30 elements apart in a 4 GiB buffer that is never initialised (only the pages of
    the rows are touched): 64-bit offsets with a small output, over either dim."""
    storage = torch.UntypedStorage(2 ** 31 * 2 + 2 ** 10, device=device)
    buffer = torch.tensor([], dtype=torch.bfloat16, device=device).set_(storage)
    x = buffer.as_strided((3, 300), (2 ** 30, 1))
    x.copy_(torch.randn(3, 300, device=device, generator=gen))
    for dim in (0, 1):
        run_softmax(x, dim)
    run_layer_norm(x, 300, eps=1e-5)
    run_rms_norm(x, 300)


def test_argument_errors(randn):
    x = randn(4, 8, dtype=torch.float32)
    on_meta = torch.ones(4, 8, device="meta")
    with pytest.raises(ValueError, match="softmax: input is on meta; expected a CUDA or CPU "
                                         "tensor"):
        softmax(on_meta, 0)
    with pytest.raises(TypeError, match="softmax: input has dtype float64; expected one of "
                                        "float16, bfloat16, float32"):
        softmax(x.double(), 0)
    with pytest.raises(TypeError, match="softmax: input has dtype int32"):
        softmax(x.int(), 0)
    with pytest.raises(TypeError, match="softmax: input must be a tensor"):
        softmax([1.0, 2.0], 0)
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for input with 2 "
                                         r"dimensions; expected -2 <= dim < 2"):
        softmax(x, 2)
    with pytest.raises(ValueError, match="softmax: dim -3 is out of range"):
        softmax(x, -3)
    with pytest.raises(ValueError, match="softmax: dim 1 is out of range for input with 0 "):
        softmax(x[0, 0], 1)
    with pytest.raises(TypeError, match="softmax: dim must be an int"):
        softmax(x, None)
    with pytest.raises(TypeError, match="softmax: dtype is torch.float64; expected one of"):
        softmax(x, 0, dtype=torch.float64)

    w = randn(8, dtype=torch.float32)
    with pytest.raises(ValueError, match="layer_norm: input is on meta"):
        layer_norm(on_meta, 8)
    with pytest.raises(ValueError, match="layer_norm: weight is on meta; expected a CUDA or "
                                         "CPU tensor"):
        layer_norm(x, 8, on_meta[0])
    with pytest.raises(ValueError, match="layer_norm: bias is on meta"):
        layer_norm(x, 8, w, on_meta[0])
    with pytest.raises(TypeError, match="layer_norm: input has dtype float64"):
        layer_norm(x.double(), 8)
    with pytest.raises(TypeError, match="layer_norm: weight has dtype float64"):
        layer_norm(x, 8, w.double())
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(4,\); expected "
                                         r"normalized_shape \(8,\)"):
        layer_norm(x, 8, w[:4])
    with pytest.raises(ValueError, match=r"layer_norm: bias has shape \(1, 8\); expected "):
        layer_norm(x, 8, w, w[None])
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\) does not match "
                                         r"the trailing dims of input of shape \(4, 8\)"):
        layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(2, 4, 8\) does not "
                                         "match"):
        layer_norm(x, (2, 4, 8))
    with pytest.raises(ValueError, match="layer_norm: normalized_shape is empty"):
        layer_norm(x, ())
    with pytest.raises(TypeError, match="layer_norm: normalized_shape must be an int or a "
                                        "sequence of ints"):
        layer_norm(x, 8.0)
    with pytest.raises(TypeError, match="layer_norm: eps must be a real number"):
        layer_norm(x, 8, eps="small")
    with pytest.raises(ValueError, match="layer_norm: normalized_shape"):
        layer_norm(x[0, 0], 1)  # 0-d input
    with pytest.raises(ValueError, match=r"rms_norm: weight has shape \(8,\); expected "
                                         r"normalized_shape \(4, 8\)"):
        rms_norm(x, (4, 8), w)
    with pytest.raises(ValueError, match="rms_norm: normalized_shape"):
        rms_norm(x, 3)
    with pytest.raises(TypeError, match="rms_norm: input has dtype int64"):
        rms_norm(x.long(), 8)


@pytest.mark.cuda_only  # tensors on two devices
def test_mixed_device_errors(randn, device):
    x = randn(4, 8, dtype=torch.float32)
    w = randn(8, dtype=torch.float32)
    with pytest.raises(ValueError, match="layer_norm: weight is on cpu but input is on cuda:0"):
        layer_norm(x, 8, w.cpu())
    with pytest.raises(ValueError, match="layer_norm: bias is on cpu but input is on cuda:0"):
        layer_norm(x, 8, w, w.cpu())
    with pytest.raises(ValueError, match="rms_norm: weight is on cuda:0 but input is on cpu"):
        rms_norm(x.cpu(), 8, w)
    if torch.cuda.device_count() > 1:
        with pytest.raises(ValueError, match="layer_norm: weight is on cuda:1 but input is on "
                                             "cuda:0"):
            layer_norm(x, 8, w.to("cuda:1"))
