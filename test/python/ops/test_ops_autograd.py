"""Gradients of tessera.ops' layer_norm, rms_norm, matmul, mm, bmm, addmm, softmax, add, sub, mul,
div, the activations (relu, silu, gelu, sigmoid, tanh) and dropout through torch.autograd,
against PyTorch's autograd of the same functions in float64 on the same inputs (dropout's
against its own mask): fp32 and bf16 (fp16 too for softmax and the activations), with and
without weight and bias, rows on both sides of the backward's and the forward's one-pass limits
(8192 and 16384 elements), leading dims of rank 1 to 3, strided inputs and weights, every
operand combination of torch.matmul that the backward supports, and a small transformer block
(layer norm, QKV product, Tessera SDPA, output projection, residual, layer norm, MLP) whose loss
and gradients match PyTorch's. Also: without grad the ops make exactly the launches they make in
a call that records for autograd (and no backward kernel), and the errors for what the backward
does not support.

Every test runs on each device (conftest.py): on the CPU the kernels run through the host back
end, where memory that PyTorch allocates is NaN until written, so a gradient element that no
kernel writes fails the comparison.
"""
import types

import op_helpers
import pytest

torch = op_helpers.require_torch()

import torch.nn.functional as F  # noqa: E402

import tessera.ops as ops  # noqa: E402
from tessera.ops import blas, normalization  # noqa: E402
from tessera.ops.kernels import grid as launch_grid  # noqa: E402
from tessera.ops.kernels import normalization_backward  # noqa: E402

pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")  # fp32 references in IEEE fp32


@pytest.fixture(autouse=True)
def untuned():
    """Each product's first fitting config, no autotuning: correctness is tested here."""
    ops.set_default_max_num_configs(1)
    yield
    ops.set_default_max_num_configs(None)

DTYPES = [torch.float32, torch.bfloat16]
# Bounds of |got - ref|: RTOL * (|ref| + terms) + ATOL * max |ref| + FLOOR, where ``terms`` is
# the size of the terms that cancel in an element (given for the norms' dx); ATOL for other
# elements that cancel; FLOOR: the inputs are of order 1, and a gradient that is 0 (layer norm's
# over rows of one element) comes out of the float64 reference as 1e-13 or so. bf16: one
# rounding of the result (2**-9) and fp32 sums, with room.
RTOL = {torch.float32: 1e-5, torch.bfloat16: 1.6e-2, torch.float16: 2e-3}
ATOL = {torch.float32: 1e-5, torch.bfloat16: 1e-2, torch.float16: 2e-3}
FLOOR = 1e-10
# 1, 3: tiny rows packed many to a tile; 4097: one pass, not a power of two; 9000: past the
# backward's one-pass limit (statistics kernel + tiles) while the forward is one pass; 17000:
# past both.
ROW_LENGTHS = [1, 3, 100, 1000, 4097, 9000, 17000,
               pytest.param(70000, marks=pytest.mark.cuda_only)]
LEADS = [(5,), (3, 7), (2, 3, 3)]  # leading dims of rank 1 to 3, rows not a power of two


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


def check_grad(got, ref, dtype, name, terms=0.0):
    """``got`` (of ``dtype``) finite, not all zero unless ``ref`` is, and within the bounds of
    the float64 ``ref`` (``terms``: see RTOL)."""
    assert got is not None, f"{name}: no gradient"
    assert got.dtype == dtype, f"{name}: dtype {got.dtype}, expected {dtype}"
    assert tuple(got.shape) == tuple(ref.shape), \
        f"{name}: shape {tuple(got.shape)}, expected {tuple(ref.shape)}"
    if ref.numel() == 0:
        return
    got = got.double()
    assert bool(torch.isfinite(got).all()), f"{name}: {int((~torch.isfinite(got)).sum())} " \
        "elements are not finite (unwritten memory is NaN)"
    scale = ref.abs().max()
    assert bool(scale <= FLOOR) or bool((got != 0).any()), f"{name}: all zero"
    err = (got - ref).abs()
    bound = RTOL[dtype] * (ref.abs() + terms) + ATOL[dtype] * scale + FLOOR
    bad = ~(err <= bound)
    if bool(bad.any()):
        worst = (err - bound).flatten().argmax()
        raise AssertionError(f"{name}: {int(bad.sum())} of {bad.numel()} elements off; worst "
                             f"{got.flatten()[worst].item():.6e} against "
                             f"{ref.flatten()[worst].item():.6e} (max |ref| {scale.item():.3e})")


def compare_grads(fn, ref_fn, inputs, names, dtype, grad_out=None, gen=None, terms=None):
    """Calls ``fn`` on ``inputs`` (None stays None; leaves requiring grad, except those whose
    name starts with "-") and ``ref_fn`` on their float64 copies; checks that ``fn``'s result
    is recorded and that both gradients for a random output gradient (``grad_out`` if given)
    match (``terms``: check_grad's, by input name). Returns ``fn``'s result."""
    leaves = [None if t is None else t.detach().clone().requires_grad_(not n.startswith("-"))
              for t, n in zip(inputs, names)]
    refs = [None if t is None else t.detach().double().requires_grad_(not n.startswith("-"))
            for t, n in zip(inputs, names)]
    out = fn(*leaves)
    assert out.grad_fn is not None, "the result is not recorded by autograd"
    if grad_out is None:
        grad_out = torch.randn(out.shape, generator=gen, device=out.device).to(out.dtype)
    wanted = [i for i, t in enumerate(leaves) if t is not None and t.requires_grad]
    grads = torch.autograd.grad(out, [leaves[i] for i in wanted], grad_out)
    ref_grads = torch.autograd.grad(ref_fn(*refs), [refs[i] for i in wanted],
                                    grad_out.double())
    for i, got, ref in zip(wanted, grads, ref_grads):
        check_grad(got, ref, inputs[i].dtype, names[i], (terms or {}).get(names[i], 0.0))
    return out


# ---- layer_norm and rms_norm ---------------------------------------------------------------

def norm_fns(op, shape, eps):
    """(tessera's norm, PyTorch's) as functions of (x, weight, bias)."""
    if op == "layer_norm":
        return (lambda x, w, b: ops.layer_norm(x, shape, w, b, eps),
                lambda x, w, b: F.layer_norm(x, shape, w, b, eps))
    return (lambda x, w, b: ops.rms_norm(x, shape, w, eps),
            lambda x, w, b: F.rms_norm(x, shape, w, eps))


def check_norm(op, x, shape, w=None, b=None, eps=1e-5, names=("x", "weight", "bias"),
               gen=None, grad_out=None):
    fn, ref_fn = norm_fns(op, shape, eps)
    if grad_out is None:
        grad_out = torch.randn(x.shape, generator=gen, device=x.device).to(x.dtype)
    # dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) cancels (to 0 over rows of one
    # element): its rounding errors scale with rstd * |g|, g = dy * w.
    dims = tuple(range(-len(shape), 0))
    xd = x.double()
    spread = xd.var(dims, unbiased=False, keepdim=True) if op == "layer_norm" else \
        (xd * xd).mean(dims, keepdim=True)
    g = grad_out.double().abs() * (1.0 if w is None else w.double().abs())
    terms = {"x": g / torch.sqrt(spread + eps)}
    return compare_grads(fn, ref_fn, [x, w, b if op == "layer_norm" else None], names,
                         x.dtype, grad_out, gen, terms)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", ROW_LENGTHS)
@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_grads(op, n, dtype, randn, gen):
    lead = LEADS[n % len(LEADS)]
    x = randn(*lead, n, dtype=dtype, scale=2.0, shift=1.0)  # a mean that does not vanish
    w = randn(n, dtype=dtype, scale=0.5, shift=1.0)
    b = randn(n, dtype=dtype)
    check_norm(op, x, (n,), w, b, gen=gen)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("op, affine", [("layer_norm", ""), ("layer_norm", "w"),
                                        ("layer_norm", "b"), ("layer_norm", "wb"),
                                        ("rms_norm", ""), ("rms_norm", "w")])
def test_norm_weight_and_bias_present_or_absent(op, affine, rank, randn, gen):
    lead = LEADS[rank - 1]
    x = randn(*lead, 300, dtype=torch.float32, scale=3.0, shift=-2.0)
    w = randn(300, dtype=torch.float32, shift=1.0) if "w" in affine else None
    b = randn(300, dtype=torch.float32) if "b" in affine else None
    check_norm(op, x, (300,), w, b, eps=1e-6, gen=gen)


# Which inputs require grad ("-": not), per norm (rms_norm has no bias).
SOME_INPUTS = [("layer_norm", ("x", "-weight", "-bias")), ("layer_norm", ("-x", "weight", "-bias")),
               ("layer_norm", ("-x", "-weight", "bias")), ("layer_norm", ("-x", "weight", "bias")),
               ("rms_norm", ("x", "-weight", "-bias")), ("rms_norm", ("-x", "weight", "-bias"))]


@pytest.mark.parametrize("op, names", SOME_INPUTS, ids=lambda v: v if isinstance(v, str) else
                         "+".join(n for n in v if n[0] != "-"))
@pytest.mark.parametrize("n", [50, 9000])
def test_norm_some_inputs_require_grad(n, op, names, randn, gen):
    x = randn(6, n, dtype=torch.float32, shift=0.5)
    check_norm(op, x, (n,), randn(n, dtype=torch.float32), randn(n, dtype=torch.float32),
               names=names, gen=gen)


@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_strided_inputs_and_weights(op, randn, gen):
    # A transposed input and output gradient (copied to contiguous rows by the backward).
    base = randn(40, 12, dtype=torch.float32, shift=1.0)
    dy = randn(40, 12, dtype=torch.float32).t()
    check_norm(op, base.t(), (40,), randn(40, dtype=torch.float32), randn(40, dtype=torch.float32),
               grad_out=dy)
    # A weight and bias that are slices with a step, of another dtype than the input's.
    w = randn(200, dtype=torch.bfloat16, shift=1.0)[::2]
    b = randn(300, dtype=torch.float16)[::3]
    check_norm(op, randn(3, 5, 100, dtype=torch.float32), (100,), w, b, gen=gen)
    # Two normalized dims and a transposed weight: read through a 2-level column index.
    w = randn(8, 6, dtype=torch.float32, shift=1.0).t()
    b = randn(8, 6, dtype=torch.float32).t()
    check_norm(op, randn(4, 6, 8, dtype=torch.float32), (6, 8), w, b, gen=gen)
    # An expanded output gradient: y.sum()'s, a 0 stride.
    check_norm(op, randn(7, 33, dtype=torch.float32), (33,), randn(33, dtype=torch.float32),
               randn(33, dtype=torch.float32),
               grad_out=torch.ones((), device=base.device).expand(7, 33))


def test_norm_many_rows(randn, gen):
    """More row blocks than programs, each program summing several, the last one partial."""
    for op in ("layer_norm", "rms_norm"):
        check_norm(op, randn(1001, 17, dtype=torch.float32), (17,),
                   randn(17, dtype=torch.float32), randn(17, dtype=torch.float32), gen=gen)
        check_norm(op, randn(37, 9000, dtype=torch.bfloat16), (9000,),
                   randn(9000, dtype=torch.bfloat16), randn(9000, dtype=torch.bfloat16),
                   gen=gen)


@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_empty(op, device):
    """No rows: an empty dx, and weight and bias gradients of zeros."""
    x = torch.empty((0, 5), device=device, requires_grad=True)
    w = torch.ones(5, device=device, requires_grad=True)
    b = torch.ones(5, device=device, requires_grad=True)
    fn, _ = norm_fns(op, (5,), 1e-5)
    y = fn(x, w, b if op == "layer_norm" else None)
    y.backward(torch.empty_like(y))
    assert x.grad.shape == (0, 5)
    assert bool((w.grad == 0).all())
    if op == "layer_norm":
        assert bool((b.grad == 0).all())


class LaunchLog:
    """Records every launch of the named kernels of ``module``: (kernel, grid, each argument:
    a tensor as its shape, strides and dtype, anything else as it is, keyword arguments)."""

    def __init__(self, monkeypatch, module, names):
        self.launches = []
        for name in names:
            monkeypatch.setattr(module, name, self._spy(name, getattr(module, name)))

    def _spy(self, name, kernel):
        log = self

        class Spy:
            def __getitem__(self, grid):
                def launch(*args, **kwargs):
                    log.launches.append((name, tuple(grid), tuple(map(describe, args)),
                                         sorted(kwargs.items())))
                    return kernel[grid](*args, **kwargs)
                return launch
        return Spy()

    def take(self):
        launches, self.launches = self.launches, []
        return launches


def describe(arg):
    if isinstance(arg, torch.Tensor):
        return ("tensor", tuple(arg.shape), tuple(arg.stride()), arg.dtype)
    return arg


@pytest.mark.parametrize("n", [100, 17000])
@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_launches_without_grad(op, n, monkeypatch, randn):
    """Without autograd (no input requiring grad, or torch.no_grad()) the forward makes the
    launches it makes when autograd records it, and no more; its result is the same."""
    log = LaunchLog(monkeypatch, normalization,
                    ["norm_kernel", "norm_bwd_kernel", "norm_bwd_stats_kernel",
                     "sum_rows_kernel"])
    fn, _ = norm_fns(op, (n,), 1e-5)
    x = randn(3, 4, n, dtype=torch.bfloat16)
    w, b = randn(n, dtype=torch.float32), randn(n, dtype=torch.float32)
    plain = fn(x, w, b)
    plain_launches = log.take()
    assert [launch[0] for launch in plain_launches] == ["norm_kernel"] * len(plain_launches)
    assert plain.grad_fn is None and not plain.requires_grad
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    with torch.no_grad():
        quiet = fn(*leaves)
    assert quiet.grad_fn is None and not quiet.requires_grad
    assert log.take() == plain_launches
    recorded = fn(*leaves)
    assert recorded.grad_fn is not None
    assert log.take() == plain_launches
    assert torch.equal(plain, quiet) and torch.equal(plain, recorded.detach())
    recorded.backward(torch.ones_like(recorded))
    assert {launch[0] for launch in log.take()} >= {"norm_bwd_kernel", "sum_rows_kernel"}


# ---- matmul, mm, bmm, addmm ----------------------------------------------------------------

MATMUL_SHAPES = [
    ((5, 7), (7, 3)),               # 2-D @ 2-D
    ((33, 70), (70, 20)),           # several tiles (host config), partial edge tiles
    ((2, 5, 7), (2, 7, 3)),         # equal batch dims
    ((2, 3, 5, 7), (2, 3, 7, 3)),
    ((2, 3, 5, 7), (7, 3)),         # batched @ 2-D: the weight's gradient is one tall product
    ((5, 7), (4, 7, 3)),            # 2-D @ batched: the input's gradient is one tall product
    ((1, 5, 7), (4, 7, 3)),         # a batch dim of size 1 broadcast
    ((2, 1, 5, 7), (1, 7, 3)),      # other's batch dims all of size 1
    ((7,), (7, 3)),                 # 1-D operands
    ((5, 7), (7,)),
    ((7,), (7,)),
    ((2, 5, 7), (7,)),
    ((7,), (2, 7, 3)),
    ((0, 5, 7), (7, 3)),            # empty batch: zeros for the summed weight gradient
    ((5, 0), (0, 3)),               # K = 0
]


def shapes_id(shapes):
    return "@".join("x".join(map(str, s)) or "scalar" for s in shapes)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=shapes_id)
def test_matmul_grads(shapes, dtype, randn, gen):
    a, b = (randn(*s, dtype=dtype) for s in shapes)
    out = compare_grads(ops.matmul, torch.matmul, [a, b], ["input", "other"], dtype, gen=gen)
    assert out.shape == torch.matmul(a, b).shape


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_mm_bmm_grads(dtype, randn, gen):
    compare_grads(ops.mm, torch.mm, [randn(9, 17, dtype=dtype), randn(17, 6, dtype=dtype)],
                  ["input", "mat2"], dtype, gen=gen)
    compare_grads(ops.bmm, torch.bmm, [randn(3, 9, 17, dtype=dtype), randn(3, 17, 6, dtype=dtype)],
                  ["input", "mat2"], dtype, gen=gen)


def test_matmul_strided_operands(randn, gen):
    """Transposed and permuted operands; a batched input whose rows do not merge into one
    matrix (the weight gradient's tall product then reads a copy); one operand without grad."""
    f32 = torch.float32
    compare_grads(ops.matmul, torch.matmul,
                  [randn(7, 5, dtype=f32).t(), randn(3, 7, dtype=f32).t()],
                  ["input", "other"], f32, gen=gen)
    compare_grads(ops.matmul, torch.matmul,
                  [randn(5, 2, 7, dtype=f32).transpose(0, 1), randn(7, 3, dtype=f32)],
                  ["input", "other"], f32, gen=gen)
    compare_grads(ops.matmul, torch.matmul,
                  [randn(2, 7, 5, dtype=f32).mT, randn(4, 7, dtype=f32)[::2].t()],
                  ["input", "other"], f32, gen=gen)
    compare_grads(ops.matmul, torch.matmul, [randn(2, 5, 7, dtype=f32), randn(7, 3, dtype=f32)],
                  ["-input", "other"], f32, gen=gen)
    compare_grads(ops.bmm, torch.bmm, [randn(2, 5, 7, dtype=f32), randn(2, 7, 3, dtype=f32)],
                  ["input", "-mat2"], f32, gen=gen)


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3), (5, 1), (5, 3), (), (1,), (1, 1)],
                         ids=lambda s: "x".join(map(str, s)) or "scalar")
def test_addmm_grads(bias_shape, randn, gen):
    f32 = torch.float32
    for beta, alpha in [(1, 1), (0.5, -2.0)]:
        compare_grads(
            lambda c, a, b: ops.addmm(c, a, b, beta=beta, alpha=alpha),
            lambda c, a, b: torch.addmm(c, a, b, beta=beta, alpha=alpha),
            [randn(*bias_shape, dtype=f32), randn(5, 7, dtype=f32), randn(7, 3, dtype=f32)],
            ["input", "mat1", "mat2"], f32, gen=gen)


def test_addmm_bf16_linear_layer(randn, gen):
    bf16 = torch.bfloat16
    compare_grads(lambda c, a, b: ops.addmm(c, a, b.t()), lambda c, a, b: torch.addmm(c, a, b.t()),
                  [randn(48, dtype=bf16), randn(100, 64, dtype=bf16), randn(48, 64, dtype=bf16)],
                  ["input", "mat1", "mat2"], bf16, gen=gen)


def test_matmul_launches_without_grad(monkeypatch, randn):
    """Without autograd the products are the ones a recorded call makes, and no more."""
    launches = []

    def gemm(a, b, c, bias, alpha, beta):
        launches.append(tuple(describe(t) for t in (a, b, c, bias)) + (alpha, beta))
        return real(a, b, c, bias, alpha, beta)

    real = blas._gemm
    monkeypatch.setattr(blas, "_gemm", gemm)
    a, b = randn(2, 5, 7, dtype=torch.float32), randn(7, 3, dtype=torch.float32)
    for fn, args in [(ops.matmul, (a, b)), (ops.mm, (a[0], b)), (ops.bmm, (a, a.mT)),
                     (ops.addmm, (b[0], a[0], b))]:
        plain = fn(*args)
        plain_launches, launches[:] = launches[:], []
        assert plain.grad_fn is None and len(plain_launches) == 1
        leaves = [t.clone().requires_grad_() for t in args]
        with torch.no_grad():
            quiet = fn(*leaves)
        assert quiet.grad_fn is None and launches == plain_launches
        launches.clear()
        recorded = fn(*leaves)
        assert recorded.grad_fn is not None and launches == plain_launches
        launches.clear()
        assert torch.equal(plain, quiet) and torch.equal(plain, recorded.detach())


def test_matmul_backward_errors(device):
    """A gradient summed over some batch dims only: NotImplementedError, when that gradient is
    required; out= with autograd: RuntimeError (as in PyTorch)."""
    a = torch.randn(2, 3, 4, 5, device=device)
    b = torch.randn(3, 5, 2, device=device)
    with pytest.raises(NotImplementedError,
                       match=r"matmul: its backward does not support that broadcast: input of "
                             r"shape \(2, 3, 4, 5\) and other of shape \(3, 5, 2\).*"
                             r"other's gradient"):
        ops.matmul(a, b.requires_grad_())
    assert ops.matmul(a.requires_grad_(), b.detach()).grad_fn is not None  # input's is fine
    with torch.no_grad():
        ops.matmul(a, b)
    with pytest.raises(NotImplementedError, match=r"matmul: .* input's gradient"):
        ops.matmul(torch.randn(3, 1, 4, 5, device=device, requires_grad=True),
                   torch.randn(3, 2, 5, 2, device=device))
    x = torch.randn(4, 5, device=device, requires_grad=True)
    w = torch.randn(5, 2, device=device)
    for fn, args in [(ops.matmul, (x, w)), (ops.mm, (x, w)), (ops.bmm, (x[None], w[None])),
                     (ops.addmm, (w[0], x, w))]:
        out = torch.empty(fn(*args).shape, device=device)
        with pytest.raises(RuntimeError, match=rf"^{fn.__name__}: out= does not support "
                                               "autograd and an input requires grad"):
            fn(*args, out=out)



# ---- activations and dropout -----------------------------------------------------------------

ACTIVATIONS = {
    "relu": (ops.relu, torch.relu),
    "silu": (ops.silu, F.silu),
    "gelu": (ops.gelu, F.gelu),
    "gelu-tanh": (lambda x: ops.gelu(x, approximate="tanh"),
                  lambda x: F.gelu(x, approximate="tanh")),
    "sigmoid": (ops.sigmoid, torch.sigmoid),
    "tanh": (ops.tanh, torch.tanh),
}


@pytest.mark.parametrize("dtype", DTYPES + [torch.float16], ids=dtype_id)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_grads(name, dtype, randn, gen):
    """Over inputs of -12 to 12 (the curved parts and the saturated tails), zeros included."""
    fn, ref = ACTIVATIONS[name]
    x = randn(3, 37, 65, dtype=dtype, scale=4.0).clamp(-12, 12)
    x[0, 0, :3] = 0.0
    compare_grads(fn, ref, [x], ["x"], dtype, gen=gen)


UNARY = {"abs": (ops.abs, torch.abs), "neg": (ops.neg, torch.neg), "exp": (ops.exp, torch.exp),
         "sin": (ops.sin, torch.sin), "cos": (ops.cos, torch.cos),
         "rsqrt": (ops.rsqrt, torch.rsqrt)}


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("name", UNARY)
def test_unary_function_grads(name, dtype, randn, gen):
    """Over -6 to 6 (rsqrt: 0.25 to 6), zeros included where the function is defined there."""
    fn, ref = UNARY[name]
    x = randn(3, 37, 65, dtype=dtype, scale=2.0).clamp(-6, 6)
    if name == "rsqrt":
        x = x.abs() + 0.25
    else:
        x[0, 0, :3] = 0.0
    compare_grads(fn, ref, [x], ["x"], dtype, gen=gen)


@pytest.mark.parametrize("name", ["relu", "gelu", "tanh"])
def test_activation_grads_of_strided_views(name, randn, gen):
    """A transposed input and an output gradient of stride 0 (the gradient of a sum)."""
    fn, ref = ACTIVATIONS[name]
    x = randn(65, 37, dtype=torch.float32, scale=3.0).t()
    compare_grads(fn, ref, [x], ["x"], torch.float32, gen=gen)
    leaf = x.detach().clone().requires_grad_()
    (grad,) = torch.autograd.grad(fn(leaf).sum(), leaf)
    double = x.detach().double().requires_grad_()
    (expected,) = torch.autograd.grad(ref(double).sum(), double)
    check_grad(grad, expected, torch.float32, "x")


ARITHMETIC = {  # name: (tessera's, PyTorch's, input shapes and dtypes; "-": no grad)
    "add-same-shape": (ops.add, torch.add, [((5, 7), "x"), ((5, 7), "y")]),
    "add-alpha-broadcast": (lambda x, y: ops.add(x, y, alpha=2.5),
                            lambda x, y: torch.add(x, y, alpha=2.5),
                            [((4, 5, 6), "x"), ((5, 1), "y")]),
    "sub-alpha-broadcast": (lambda x, y: ops.sub(x, y, alpha=0.5),
                            lambda x, y: torch.sub(x, y, alpha=0.5),
                            [((4, 1, 6), "x"), ((4, 5, 6), "y")]),
    "mul-runs-apart": (ops.mul, torch.mul, [((3, 4, 5, 6), "x"), ((4, 1, 6), "y")]),
    "mul-0-d": (ops.mul, torch.mul, [((3, 70), "x"), ((), "y")]),
    "mul-no-grad-other": (ops.mul, torch.mul, [((3, 70), "x"), ((70,), "-y")]),
    "div-broadcast": (ops.div, torch.div, [((4, 5, 6), "x"), ((5, 1), "y")]),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_id)
@pytest.mark.parametrize("name", ARITHMETIC)
def test_arithmetic_grads(name, dtype, randn, gen):
    """Each operand's gradient summed over the dims it was broadcast along; div's divisor kept
    away from 0."""
    fn, ref, operands = ARITHMETIC[name]
    inputs = [randn(*shape, dtype=dtype) for shape, _ in operands]
    if name.startswith("div"):
        inputs[1] = inputs[1].abs() + 0.5
    compare_grads(fn, ref, inputs, [n for _, n in operands], dtype, gen=gen)


# Gradient sums with more than 65535 column blocks of sum_rows (256 columns each: grid axis 0),
# or more than 65535 outputs (axis 1: several launches). The CPU has no such limit; the next
# test lowers it.
WIDE = 2 ** 24 + 3


@pytest.mark.cuda_only
def test_gradient_sums_past_the_grid_y_limit(randn, gen):
    """add's broadcast operand summed over rows of WIDE columns, and over 70000 outputs; the
    weight and bias of layer_norm over rows of WIDE elements."""
    for x_shape, y_shape in [((2, WIDE), (1, WIDE)), ((70000, 4, 3), (70000, 1, 3))]:
        compare_grads(ops.add, torch.add, [randn(*x_shape, dtype=torch.float32),
                                           randn(*y_shape, dtype=torch.float32)],
                      ["x", "y"], torch.float32, gen=gen)
    check_norm("layer_norm", randn(2, WIDE, dtype=torch.float32), (WIDE,),
               randn(WIDE, dtype=torch.float32), randn(WIDE, dtype=torch.float32), gen=gen)


def sum_rows_grids(monkeypatch) -> list:
    """The list that every later launch of sum_rows_kernel appends its grid to."""
    grids, kernel = [], normalization.sum_rows_kernel

    class Recorder:
        def __getitem__(self, grid):
            grids.append(grid)
            return kernel[grid]

    monkeypatch.setattr(normalization, "sum_rows_kernel", Recorder())
    return grids


def test_gradient_sums_over_launches_of_at_most_the_grid_limit(randn, gen, monkeypatch):
    """sum_rows with the limit of grid axis 1 lowered to 5: 12 outputs of 40 columns (each a
    program of its own) in 3 launches."""
    monkeypatch.setattr(launch_grid, "MAX_GRID_YZ", 5)
    grids = sum_rows_grids(monkeypatch)
    compare_grads(ops.add, torch.add, [randn(12, 4, 40, dtype=torch.float32),
                                       randn(12, 1, 40, dtype=torch.float32)],
                  ["x", "y"], torch.float32, gen=gen)
    assert grids == [(2, 5), (2, 5), (2, 2)]


@pytest.mark.parametrize("x_shape, y_shape, summed", [
    ((300, 5, 3), (300, 1, 3), (300, 5, 3)),
    ((7, 33, 1), (7, 1, 1), (7, 33, 1)),
    ((2, 70, 4, 3), (2, 70, 1, 3), (140, 4, 3))], ids=["300x5x3", "7x33x1", "2x70x4x3"])
def test_gradient_sums_of_small_outputs_share_tiles(x_shape, y_shape, summed, randn, gen,
                                                    monkeypatch):
    """Outputs of a few summed elements each (at most SUM_PACKED_ELEMENTS) and fewer columns than
    a tile are packed: one launch on grid axis 0, a tile's columns spanning several outputs.
    ``summed``: the (outputs, summed rows, columns) of y's gradient."""
    block = normalization_backward.choose_sum_block(*summed)
    assert block.packed
    grids = sum_rows_grids(monkeypatch)
    for dtype in (torch.float32, torch.bfloat16):
        grids.clear()
        compare_grads(ops.mul, torch.mul, [randn(*x_shape, dtype=dtype),
                                           randn(*y_shape, dtype=dtype)],
                      ["x", "y"], dtype, gen=gen)
        assert grids == [(-(-summed[0] * summed[2] // block.block_n), 1)]


def test_gradient_sums_of_few_outputs_in_narrow_blocks(randn, gen):
    """A bias-like operand summed over 3000 rows of 1000 columns: sum_rows narrows its column
    blocks to 32 (more programs) with 64-row tiles, neither dividing the sum."""
    assert normalization_backward.choose_sum_block(1, 3000, 1000) == (64, 32, 8, False)
    for dtype in (torch.float32, torch.bfloat16):
        compare_grads(ops.add, torch.add, [randn(3000, 1000, dtype=dtype),
                                           randn(1000, dtype=dtype)],
                      ["x", "y"], dtype, gen=gen)


def test_arithmetic_grads_of_scalars_and_mixed_dtypes(randn, gen):
    """A Python scalar operand gets no gradient; a bf16 operand of an fp32 product gets a bf16
    gradient."""
    x = randn(6, 40, dtype=torch.float32)
    compare_grads(lambda t: ops.mul(t, 3.0), lambda t: torch.mul(t, 3.0), [x], ["x"],
                  torch.float32, gen=gen)
    compare_grads(lambda t: ops.div(t, 4.0), lambda t: torch.div(t, 4.0), [x], ["x"],
                  torch.float32, gen=gen)
    low, high = randn(6, 40, dtype=torch.bfloat16), randn(40, dtype=torch.float32)
    compare_grads(ops.mul, torch.mul, [low, high], ["x", "y"], torch.float32, gen=gen)


SOFTMAX_SHAPES = {  # (shape, dim): one-pass rows packed or alone, multi-pass, strided rows
    "rows-33": ((40, 33), -1), "rows-4097": ((3, 4097), 1),
    "rows-20000-multipass": ((2, 20000), -1), "dim-0": ((300, 24), 0),
    "middle-dim": ((3, 50, 7), 1), "0-d": ((), 0),
}


@pytest.mark.parametrize("dtype", DTYPES + [torch.float16], ids=dtype_id)
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_grads(shape, dtype, randn, gen):
    size, dim = SOFTMAX_SHAPES[shape]
    x = randn(*size, dtype=dtype, scale=3.0)
    compare_grads(lambda t: ops.softmax(t, dim), lambda t: torch.softmax(t, dim), [x], ["x"],
                  dtype, gen=gen)


def test_softmax_grads_of_views_and_of_another_dtype(randn, gen):
    """A transposed input; ``dtype=float32`` over a bf16 input (its gradient is bf16, as the
    input); and an output gradient of stride 0 (the gradient of a sum: zero)."""
    x = randn(65, 37, dtype=torch.float32).t()
    compare_grads(lambda t: ops.softmax(t, 0), lambda t: torch.softmax(t, 0), [x], ["x"],
                  torch.float32, gen=gen)
    low = randn(16, 300, dtype=torch.bfloat16)
    compare_grads(lambda t: ops.softmax(t, -1, dtype=torch.float32),
                  lambda t: torch.softmax(t, -1), [low], ["x"], torch.bfloat16, gen=gen)
    leaf = randn(8, 100, dtype=torch.float32).requires_grad_()
    (grad,) = torch.autograd.grad(ops.softmax(leaf, -1).sum(), leaf)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().max()) < 1e-6


@pytest.mark.parametrize("layout", ["contiguous", "permuted-5d"])
@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_grad_follows_the_mask(layout, p, randn, gen):
    """The gradient is the output gradient where the element was kept, scaled as it was, and
    zero where it was dropped. A 5-D permuted input (launched in slices, each with its own
    random stream) is first made contiguous, so that the backward draws the same mask."""
    base = randn(2, 3, 4, 5, 6, dtype=torch.float32)
    assert bool((base != 0).all())
    leaf = base.clone().requires_grad_()
    x = leaf.permute(4, 2, 0, 3, 1) if layout == "permuted-5d" else leaf
    y = ops.dropout(x, p=p)
    kept = (y.detach() != 0).double()
    if p == 1:
        assert not bool(kept.any())
    else:
        assert 0.5 < float(kept.mean()) < 0.9  # about 1 - p of the 720 elements
    g = randn(*y.shape, dtype=torch.float32)
    (grad,) = torch.autograd.grad(y, leaf, g)
    double = base.double().requires_grad_()
    view = double.permute(4, 2, 0, 3, 1) if layout == "permuted-5d" else double
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    (expected,) = torch.autograd.grad(view * kept * scale, double, g.double())
    assert torch.allclose(grad.double(), expected, rtol=1e-6, atol=0), \
        "the backward's mask or scale differs from the forward's"


@pytest.mark.parametrize("call", [lambda x: ops.dropout(x, p=0.0),
                                  lambda x: ops.dropout(x, p=0.5, training=False)],
                         ids=["p-0", "eval"])
def test_dropout_that_keeps_everything_passes_the_gradient(call, randn):
    leaf = randn(40, 3, dtype=torch.float32).requires_grad_()
    g = randn(40, 3, dtype=torch.float32)
    (grad,) = torch.autograd.grad(call(leaf), leaf, g)
    assert torch.equal(grad, g)


# ---- a transformer block -------------------------------------------------------------------

def transformer_block(x, p, heads, lib):
    """Pre-norm attention and MLP with residuals, computed by ``lib``'s layer_norm, matmul,
    addmm and scaled_dot_product_attention (the reshapes and residual sums are the model's)."""
    batch, length, dim = x.shape
    h = lib.layer_norm(x, (dim,), p["ln1_w"], p["ln1_b"], 1e-5)
    qkv = lib.matmul(h, p["w_qkv"])
    q, k, v = qkv.view(batch, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    attended = lib.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = x + lib.matmul(attended.transpose(1, 2).reshape(batch, length, dim), p["w_out"])
    h = lib.layer_norm(x, (dim,), p["ln2_w"], p["ln2_b"], 1e-5)
    h = F.gelu(lib.addmm(p["b_up"], h.view(batch * length, dim), p["w_up"]))
    return x + lib.matmul(h, p["w_down"]).view(batch, length, dim)


def test_transformer_block_matches_pytorch(randn, gen):
    """Loss and every gradient of a block against PyTorch's, in float64, for fp32 inputs."""
    dim, heads, f32 = 32, 2, torch.float32
    params = {"ln1_w": randn(dim, dtype=f32, scale=0.1, shift=1.0),
              "ln1_b": randn(dim, dtype=f32, scale=0.1),
              "w_qkv": randn(dim, 3 * dim, dtype=f32, scale=dim ** -0.5),
              "w_out": randn(dim, dim, dtype=f32, scale=dim ** -0.5),
              "ln2_w": randn(dim, dtype=f32, scale=0.1, shift=1.0),
              "ln2_b": randn(dim, dtype=f32, scale=0.1),
              "w_up": randn(dim, 4 * dim, dtype=f32, scale=dim ** -0.5),
              "b_up": randn(4 * dim, dtype=f32, scale=0.1),
              "w_down": randn(4 * dim, dim, dtype=f32, scale=(4 * dim) ** -0.5)}
    x = randn(2, 24, dim, dtype=f32)
    target = randn(2, 24, dim, dtype=f32)
    tessera_lib = types.SimpleNamespace(
        layer_norm=ops.layer_norm, matmul=ops.matmul, addmm=ops.addmm,
        scaled_dot_product_attention=ops.scaled_dot_product_attention)
    torch_lib = types.SimpleNamespace(
        layer_norm=F.layer_norm, matmul=torch.matmul, addmm=torch.addmm,
        scaled_dot_product_attention=F.scaled_dot_product_attention)
    losses, grads = [], []
    for lib, dtype in [(tessera_lib, f32), (torch_lib, torch.float64)]:
        leaves = {name: t.detach().to(dtype).requires_grad_() for name, t in params.items()}
        inputs = x.detach().to(dtype).requires_grad_()
        out = transformer_block(inputs, leaves, heads, lib)
        loss = ((out - target.to(dtype)) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        grads.append({"x": inputs.grad, **{name: t.grad for name, t in leaves.items()}})
    assert abs(losses[0] - losses[1]) <= 1e-5 * abs(losses[1]), losses
    for name, ref in grads[1].items():
        check_grad(grads[0][name], ref, f32, name)
