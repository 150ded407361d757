"""tessera.ops.rwkv.wkv7 and wkv7s (specs/rwkv-and-attention.md part B) against the float64
reference of B.8 written here (gradients by autograd through it), with part D's cases:
N {16, 32, 64, 128}, H {1, 4, 32}, B {1, 2, 8}, T {1, 15, 16, 17, 63, 1000, 4096, 8192}; s0 zero
and random; dsT zero and random; segment chaining; d -> 1 and d = 0.5453; alpha in {0, 1};
decode loops of T = 1 calls; the three decay conventions; fp32, bf16 and fp16 I/O; state tuning;
the tile and cuda backends (every test runs under each, as the global setting) and the
reference one; the errors.

Inputs are model-like (B.2, B.9): r, k, v ~ N(0, 1); a = -kappa, b = kappa * alpha with kappa a
unit vector per head and alpha in (0, 1); decays from w_raw = -softplus(-x) - 0.5, so
d in (0.5453, 1). Metric (B.9): rel = ||x - ref|| / ||ref|| over the whole tensor, from the same
dtype-rounded inputs; outputs are allocated over NaN-filled blocks so that an element never
written shows, and must be finite.

Every test runs on each device (conftest's ``device``). On the CPU the tile and reference
kernels run through the host back end (the chunked forward and backward with their fp16 and
bf16 tensor-core products, and the fp64 step kernels, included) on part of the (N, T) grid,
since each of its points compiles kernels of its own; the cuda backend (CUDA C++ through NVRTC)
runs on the GPU only, and on CPU tensors it is refused.
"""
import math

import pytest
from op_helpers import require_torch

torch = require_torch()

import tessera.ops.rwkv as rwkv  # noqa: E402
from tessera.ops.kernels import grid  # noqa: E402

F = torch.nn.functional
Y_TOL = {torch.float32: 1e-4, torch.bfloat16: 5e-3, torch.float16: 2e-3}
GRAD_TOL = {torch.float32: 5e-4, torch.bfloat16: 1e-2, torch.float16: 1e-2}
REFERENCE_TOL = 1e-6  # the float64 backend: its fp32 outputs' rounding
CLAMPW_SCALE = math.exp(-0.5)


def model_inputs(device, b, t, h, n, dtype=torch.float32, seed=0, decay="raw", alpha=None,
                 x_shift=0.0):
    """r, w, k, v, a, b (B, T, H, N) in dtype on device with B.2's structure; w in the given
    convention, all of one underlying x (so the conventions describe the same decays)."""
    g = torch.Generator(device=device).manual_seed(seed)

    def randn():
        return torch.randn(b, t, h, n, device=device, generator=g)

    r, k, v = randn(), randn(), randn()
    kappa = F.normalize(randn(), dim=-1)
    if alpha is None:
        alpha = torch.rand(b, t, h, n, device=device, generator=g)
    else:
        alpha = torch.full((b, t, h, n), float(alpha), device=device)
    x = randn() * 2 + x_shift
    w_raw = -F.softplus(-x) - 0.5
    w = {"raw": w_raw, "clampw": x, "log": -torch.exp(w_raw)}[decay]
    return tuple(z.to(dtype) for z in (r, w, k, v, -kappa, kappa * alpha))


def log_decay(w, decay):
    """B.3's log d of the passed w, in w's dtype (autograd flows through it)."""
    if decay == "raw":
        return -torch.exp(w)
    if decay == "clampw":
        return -CLAMPW_SCALE * torch.sigmoid(w)
    return w


def reference(r, w, k, v, a, b, s0=None, decay="raw"):
    """(y, S_T) of B.8 in float64 from the given tensors (upcast); s0 (B, H, N, N) or
    (H, N, N). It steps on the CPU and returns to the inputs' device (differentiably): on a GPU
    its per-step ops are thousands of kernel launches, most of a test's time under
    compute-sanitizer."""
    device = r.device
    r, w, k, v, a, b = (x.double().cpu() for x in (r, w, k, v, a, b))
    batch, steps, heads, n = r.shape
    d = torch.exp(log_decay(w, decay))
    if s0 is None:
        state = torch.zeros(batch, heads, n, n, dtype=torch.float64)
    else:
        state = s0.double().cpu().expand(batch, heads, n, n)
    ys = []
    for t in range(steps):
        sa = torch.einsum("bhij,bhj->bhi", state, a[:, t])
        state = (state * d[:, t, :, None, :] + sa[..., None] * b[:, t, :, None, :]
                 + v[:, t, :, :, None] * k[:, t, :, None, :])
        ys.append(torch.einsum("bhij,bhj->bhi", state, r[:, t]))
    return torch.stack(ys, dim=1).to(device), state.to(device)


@pytest.fixture(autouse=True, params=["tile",
                                      pytest.param("cuda", marks=pytest.mark.cuda_only)])
def backend(request):
    """Runs each test with this backend as the global setting."""
    rwkv.set_backend(request.param)
    yield request.param
    rwkv.set_backend("tile")


def rel(x, ref):
    assert bool(torch.isfinite(x).all()), f"{int((~torch.isfinite(x)).sum())} not finite"
    return ((x.double() - ref.double()).norm() / ref.double().norm().clamp(min=1e-300)).item()


def poison(device, *shapes):
    """Leaves NaN-filled blocks of these shapes in the CUDA caching allocator, for the op's
    outputs to reuse (on the CPU every new tensor is NaN already)."""
    if torch.device(device).type != "cuda":
        return
    blocks = [torch.full(s, float("nan"), device=device) for s in shapes]
    del blocks


def head_sizes_and_lengths(lengths, on_cpu):
    """(n, t) for every head size n and length t in `lengths`; on the CPU only the pairs that
    `on_cpu(n, t)` keeps: every (N, T class) pair compiles kernels of its own, which takes the
    host seconds."""
    return [pytest.param(n, t, id=f"n{n}-t{t}",
                         marks=[] if on_cpu(n, t) else [pytest.mark.cuda_only])
            for n in (16, 32, 64, 128) for t in lengths]


# ---- forward -------------------------------------------------------------------------------------

# On the CPU: every length at N = 32, every head size at T = 17 (two chunks, the second ragged).
@pytest.mark.parametrize("n, t", head_sizes_and_lengths([1, 15, 16, 17, 63],
                                                        lambda n, t: n == 32 or t == 17))
def test_forward_fp32(n, t, device):
    x = model_inputs(device, 2, t, 4, n, seed=n + t)
    poison(device, (2, t, 4, n))
    y = rwkv.wkv7(*x)
    assert y.shape == x[0].shape and y.dtype == torch.float32
    ref, _ = reference(*x)
    assert rel(y, ref) <= Y_TOL[torch.float32]


@pytest.mark.parametrize("dtype, n", [
    (torch.bfloat16, 64), (torch.float16, 32),
    pytest.param(torch.bfloat16, 32, marks=pytest.mark.cuda_only),  # the host: one N per dtype
    pytest.param(torch.float16, 64, marks=pytest.mark.cuda_only)],
    ids=lambda value: {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(value, f"n{value}"))
def test_forward_low_precision(dtype, n, device):
    x = model_inputs(device, 2, 1000, 4, n, dtype=dtype, seed=3)
    y = rwkv.wkv7(*x)
    assert y.dtype == dtype
    ref, _ = reference(*x)
    assert rel(y, ref) <= Y_TOL[dtype]


def test_forward_many_heads_and_batches(device):
    x = model_inputs(device, 8, 17, 32, 64, seed=5)
    y, final = rwkv.wkv7(*x, output_final_state=True)
    ref, ref_final = reference(*x)
    assert rel(y, ref) <= Y_TOL[torch.float32]
    assert rel(final, ref_final) <= Y_TOL[torch.float32]


def test_long_sequences_do_not_grow_the_error(device):
    """B.9: at T = 4096 and 8192 the error stays within ~3x of the T = 512 error."""
    x = model_inputs(device, 1, 8192, 2, 64, seed=11)
    y, final = rwkv.wkv7(*x, output_final_state=True)
    ref, ref_final = reference(*x)
    errors = {t: rel(y[:, :t], ref[:, :t]) for t in (512, 4096, 8192)}
    assert errors[8192] <= Y_TOL[torch.float32] and rel(final, ref_final) <= 1e-4
    for t in (4096, 8192):
        assert errors[t] <= 3 * errors[512] + 1e-7, errors


@pytest.mark.parametrize("n", [64, 128])
def test_long_bf16_sequences_do_not_grow_the_error(n, device):
    """B.9 for bf16 I/O (tensor-core products under tile)."""
    x = model_inputs(device, 1, 4096, 2, n, dtype=torch.bfloat16, seed=12)
    y, final = rwkv.wkv7(*x, output_final_state=True)
    ref, ref_final = reference(*x)
    errors = {t: rel(y[:, :t], ref[:, :t]) for t in (512, 4096)}
    assert errors[4096] <= Y_TOL[torch.bfloat16] and errors[4096] <= 3 * errors[512], errors
    assert rel(final, ref_final) <= Y_TOL[torch.bfloat16]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_vanishing_decays_stay_finite(dtype, device):
    """d = e^-40 (log convention): the chunked forward holds log d at -10 and stays finite;
    what it keeps of the old state (e^-10 of it) is below the tolerance."""
    r, _, k, v, a, b = model_inputs(device, 2, 100, 4, 64, dtype=dtype, seed=13)
    w = torch.full_like(r, -40.0)
    y, final = rwkv.wkv7(r, w, k, v, a, b, decay="log", output_final_state=True)
    ref, ref_final = reference(r, w, k, v, a, b, decay="log")
    assert rel(y, ref) <= Y_TOL[dtype] and rel(final, ref_final) <= Y_TOL[dtype]


@pytest.mark.parametrize("decay", ["raw", "clampw", "log"])
def test_decay_conventions_describe_one_recurrence(decay, device):
    x = model_inputs(device, 2, 63, 4, 64, seed=7, decay=decay)
    y = rwkv.wkv7(*x, decay=decay)
    ref, _ = reference(*x, decay=decay)
    assert rel(y, ref) <= Y_TOL[torch.float32]
    raw = rwkv.wkv7(*model_inputs(device, 2, 63, 4, 64, seed=7, decay="raw"))
    assert rel(y, raw.double()) <= 1e-5


@pytest.mark.parametrize("x_shift,alpha", [(-30.0, 0.0), (-30.0, 1.0), (30.0, 0.0), (30.0, 1.0)])
def test_decay_and_alpha_extremes(x_shift, alpha, device):
    """d -> 1 (x -> -inf) and d = 0.5453 (x -> +inf), with alpha 0 and 1."""
    x = model_inputs(device, 2, 200, 4, 32, seed=9, alpha=alpha, x_shift=x_shift)
    y, final = rwkv.wkv7(*x, output_final_state=True)
    ref, ref_final = reference(*x)
    assert rel(y, ref) <= Y_TOL[torch.float32]
    assert rel(final, ref_final) <= Y_TOL[torch.float32]


@pytest.mark.parametrize("shared", [False, True])
def test_initial_state(shared, device):
    x = model_inputs(device, 2, 40, 4, 32, seed=13)
    shape = (4, 32, 32) if shared else (2, 4, 32, 32)
    s0 = torch.randn(shape, device=device)
    y, final = rwkv.wkv7(*x, initial_state=s0, output_final_state=True)
    ref, ref_final = reference(*x, s0=s0)
    assert rel(y, ref) <= Y_TOL[torch.float32]
    assert rel(final, ref_final) <= Y_TOL[torch.float32]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_segment_chaining_equals_one_call(dtype, backend, device):
    """Bitwise under cuda (one step at a time); within the tolerances under tile, whose chunks
    of 16 steps start elsewhere in the second segment."""
    x = model_inputs(device, 2, 100, 4, 64, dtype=dtype, seed=15)
    whole, whole_final = rwkv.wkv7(*x, output_final_state=True)
    first, state = rwkv.wkv7(*(z[:, :37] for z in x), output_final_state=True)
    second, final = rwkv.wkv7(*(z[:, 37:] for z in x), initial_state=state,
                              output_final_state=True)
    chained = torch.cat([first, second], dim=1)
    if backend == "cuda":
        assert torch.equal(chained, whole) and torch.equal(final, whole_final)
    else:
        assert rel(chained, whole) <= Y_TOL[dtype] and rel(final, whole_final) <= Y_TOL[dtype]


def test_reference_backend(device):
    x = model_inputs(device, 2, 63, 4, 64, seed=17)
    ref, ref_final = reference(*x)
    y, final = rwkv.wkv7(*x, output_final_state=True, backend="reference")
    assert rel(y, ref) <= REFERENCE_TOL and rel(final, ref_final) <= REFERENCE_TOL


def test_empty_sequence(device):
    x = model_inputs(device, 2, 0, 4, 16)
    s0 = torch.randn(2, 4, 16, 16, device=device)
    y, final = rwkv.wkv7(*x, initial_state=s0, output_final_state=True)
    assert y.shape == (2, 0, 4, 16) and torch.equal(final, s0)


# ---- backward ------------------------------------------------------------------------------------

def gradients(x, s0=None, dy=None, dfinal=None, decay="raw", backend=None, reference_impl=False):
    """(y, final, grads of r, w, k, v, a, b and s0) of <y, dy> + <final, dfinal>."""
    leaves = [z.detach().clone().requires_grad_(True) for z in x]
    s0_leaf = None if s0 is None else s0.detach().clone().requires_grad_(True)
    if reference_impl:
        y, final = reference(*leaves, s0=s0_leaf, decay=decay)
    else:
        y, final = rwkv.wkv7(*leaves, decay=decay, initial_state=s0_leaf, output_final_state=True,
                             backend=backend)
    loss = (y.double() * dy.double()).sum()
    if dfinal is not None:
        loss = loss + (final.double() * dfinal.double()).sum()
    loss.backward()
    grads = [z.grad for z in leaves] + ([s0_leaf.grad] if s0_leaf is not None else [])
    return y, final, grads


def check_gradients(x, tol, s0=None, with_dfinal=False, decay="raw", backend=None):
    batch, steps, heads, n = x[0].shape
    device = x[0].device
    g = torch.Generator(device=device).manual_seed(99)
    dy = torch.randn(x[0].shape, device=device, generator=g).to(x[0].dtype)
    dfinal = torch.randn(batch, heads, n, n, device=device, generator=g) if with_dfinal else None
    _, _, got = gradients(x, s0, dy, dfinal, decay, backend)
    _, _, want = gradients(x, s0, dy, dfinal, decay, reference_impl=True)
    names = ["dr", "dw", "dk", "dv", "da", "db", "ds0"]
    for name, a, b in zip(names, got, want):
        assert a.dtype == (torch.float32 if name == "ds0" else x[names.index(name)].dtype)
        err = rel(a, b)
        assert err <= tol, f"{name}: rel {err:.2e} > {tol:.0e}"


# On the CPU: every length at N = 32, every head size at T = 17.
@pytest.mark.parametrize("n, t", head_sizes_and_lengths([1, 16, 17, 63],
                                                        lambda n, t: n == 32 or t == 17))
def test_backward_fp32(n, t, device):
    """T = 1 starts from a random state: from zeros dw is 0 exactly (dd = G S_0 = 0), which the
    chunked backward reaches only to its rounding (its dw sums terms that cancel there)."""
    s0 = torch.randn(2, 2, n, n, device=device) * 0.5 if t == 1 else None
    check_gradients(model_inputs(device, 2, t, 2, n, seed=n * t), GRAD_TOL[torch.float32], s0=s0)


@pytest.mark.parametrize("decay", ["raw", "clampw", "log"])
def test_backward_decay_conventions(decay, device):
    check_gradients(model_inputs(device, 2, 40, 2, 64, seed=21, decay=decay),
                    GRAD_TOL[torch.float32], decay=decay)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("with_dfinal", [False, True])
def test_backward_state_passing(shared, with_dfinal, device):
    """ds0 from dy and from dsT; a shared (H, N, N) state's gradient is summed over B."""
    shape = (4, 32, 32) if shared else (3, 4, 32, 32)
    s0 = torch.randn(shape, device=device) * 0.5
    check_gradients(model_inputs(device, 3, 45, 4, 32, seed=23), GRAD_TOL[torch.float32], s0=s0,
                    with_dfinal=with_dfinal)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_backward_low_precision(dtype, device):
    check_gradients(model_inputs(device, 2, 200, 4, 64, dtype=dtype, seed=25), GRAD_TOL[dtype],
                    with_dfinal=True, s0=torch.randn(2, 4, 64, 64, device=device) * 0.5)


def test_backward_long_sequence(device):
    check_gradients(model_inputs(device, 1, 1000, 2, 64, seed=27), GRAD_TOL[torch.float32],
                    with_dfinal=True)


# Tests the forward over 1025 x 64 (batch, head) pairs, past grid axis 1's limit of 65535
# (cuda_only: host launches have no such limit; the next test runs the layout there).
@pytest.mark.cuda_only
def test_more_pairs_than_grid_axis_1(device):
    x = model_inputs(device, 1025, 3, 64, 16, seed=35)
    y = rwkv.wkv7(*x)
    ref, _ = reference(*x)
    assert rel(y, ref) <= Y_TOL[torch.float32]


# Tests more (batch, head) pairs than grid axis 1 holds (kernels/grid.py; the limit lowered from
# 65535 to 5 here): the forward and the chunked backward over a (heads, batch) grid of 4 x 3.
def test_pairs_over_two_grid_axes(device, monkeypatch):
    monkeypatch.setattr(grid, "MAX_GRID_YZ", 5)
    x = model_inputs(device, 3, 40, 4, 32, seed=33)
    y, final = rwkv.wkv7(*x, output_final_state=True)
    ref, ref_final = reference(*x)
    assert rel(y, ref) <= Y_TOL[torch.float32]
    assert rel(final, ref_final) <= Y_TOL[torch.float32]
    check_gradients(x, GRAD_TOL[torch.float32], with_dfinal=True)


def test_backward_reference_backend(device):
    check_gradients(model_inputs(device, 2, 33, 2, 32, seed=29), 1e-9, backend="reference",
                    with_dfinal=True, s0=torch.randn(2, 2, 32, 32, device=device))


def test_backward_through_chained_segments(device):
    """Gradients of two chained segments equal those of the whole sequence."""
    x = model_inputs(device, 2, 50, 2, 32, seed=31)
    dy = torch.randn(x[0].shape, device=device)
    _, _, whole = gradients(x, None, dy)
    leaves = [z.detach().clone().requires_grad_(True) for z in x]
    first, state = rwkv.wkv7(*(z[:, :20] for z in leaves), output_final_state=True)
    second = rwkv.wkv7(*(z[:, 20:] for z in leaves), initial_state=state)
    ((first * dy[:, :20]).sum() + (second * dy[:, 20:]).sum()).backward()
    for name, a, b in zip("rwkvab", [z.grad for z in leaves], whole):
        assert rel(a, b) <= 1e-4, name  # chunk boundaries differ: not bitwise


# ---- inference (wkv7s) ---------------------------------------------------------------------------

def flat(x):
    """(B, T, H, N) -> (B, T, C)."""
    return tuple(z.reshape(z.shape[0], z.shape[1], -1) for z in x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("n", [16, 64, 128])
def test_wkv7s_matches_the_reference(dtype, n, device):
    x = model_inputs(device, 3, 50, 2, n, dtype=dtype, seed=33)
    s0 = torch.randn(3, 2, n, n, device=device)
    state = s0.clone()
    y = rwkv.wkv7s(state, *flat(x))
    assert y.shape == (3, 50, 2 * n) and y.dtype == dtype
    ref, ref_final = reference(*x, s0=s0)
    tol = {torch.float32: 1e-4, torch.bfloat16: 5e-3, torch.float16: 2e-3}[dtype]
    assert rel(y.view(ref.shape), ref) <= tol
    assert rel(state, ref_final) <= tol


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_wkv7s_decode_loop_equals_one_call(dtype, device):
    x = flat(model_inputs(device, 4, 30, 4, 64, dtype=dtype, seed=35))
    whole_state = torch.randn(4, 4, 64, 64, device=device)
    state = whole_state.clone()
    whole = rwkv.wkv7s(whole_state, *x)
    steps = [rwkv.wkv7s(state, *(z[:, t:t + 1] for z in x)) for t in range(30)]
    assert torch.equal(torch.cat(steps, dim=1), whole)
    assert torch.equal(state, whole_state)


def test_wkv7s_decode_batch_64(device):
    x = flat(model_inputs(device, 64, 1, 32, 64, dtype=torch.bfloat16, seed=37))
    s0 = torch.randn(64, 32, 64, 64, device=device)
    state = s0.clone()
    y = rwkv.wkv7s(state, *x)
    ref, ref_final = reference(*(z.view(64, 1, 32, 64) for z in x), s0=s0)
    assert rel(y.view(ref.shape), ref) <= 5e-3 and rel(state, ref_final) <= 1e-5


def test_wkv7s_equals_wkv7_with_states(backend, device):
    """Bitwise under cuda; under tile wkv7 is chunked and wkv7s steps, both in fp32."""
    x = model_inputs(device, 2, 20, 4, 32, seed=39)
    s0 = torch.randn(2, 4, 32, 32, device=device)
    y, final = rwkv.wkv7(*x, initial_state=s0, output_final_state=True)
    state = s0.clone()
    y_s = rwkv.wkv7s(state, *x)
    if backend == "cuda":
        assert torch.equal(y_s, y) and torch.equal(state, final)
    else:
        assert rel(y_s, y) <= 1e-5 and rel(state, final) <= 1e-5


# ---- errors --------------------------------------------------------------------------------------

def test_errors(device):
    x = model_inputs(device, 2, 8, 2, 64)
    with pytest.raises(ValueError, match="head size N is 48"):
        rwkv.wkv7(*model_inputs(device, 1, 4, 1, 48))
    with pytest.raises(ValueError, match="k has shape"):
        rwkv.wkv7(x[0], x[1], x[2][:, :4], *x[3:])
    with pytest.raises(ValueError, match="decay is 'exp'"):
        rwkv.wkv7(*x, decay="exp")
    with pytest.raises(TypeError, match="v has dtype"):
        rwkv.wkv7(*x[:3], x[3].half(), *x[4:])
    with pytest.raises(TypeError, match="r has dtype"):
        rwkv.wkv7(*(z.double() for z in x))
    with pytest.raises(ValueError, match="initial_state has shape"):
        rwkv.wkv7(*x, initial_state=torch.zeros(2, 2, 64, 32, device=device))
    with pytest.raises(TypeError, match="initial_state has dtype"):
        rwkv.wkv7(*x, initial_state=torch.zeros(2, 2, 64, 64, device=device).half())
    with pytest.raises(TypeError, match="output_final_state must be a bool"):
        rwkv.wkv7(*x, output_final_state=1)
    with pytest.raises(ValueError, match="wkv7: r is on meta; expected a CUDA or CPU tensor"):
        rwkv.wkv7(x[0].to("meta"), *x[1:])
    with pytest.raises(ValueError, match="backend is 'fast'"):
        rwkv.wkv7(*x, backend="fast")
    state = torch.zeros(2, 2, 64, 64, device=device)
    with pytest.raises(ValueError, match="r has shape"):
        rwkv.wkv7s(state, *flat(model_inputs(device, 2, 8, 4, 64)))
    with pytest.raises(ValueError, match="not contiguous"):
        rwkv.wkv7s(state.transpose(2, 3), *flat(x))
    with pytest.raises(ValueError, match="state has shape"):
        rwkv.wkv7s(state[0], *flat(x))


def test_cuda_backend_refuses_cpu_tensors(device):
    x = tuple(z.cpu() for z in model_inputs(device, 2, 8, 2, 64))
    message = ("backend 'cuda' runs on CUDA tensors; r is on cpu \\(the 'tile' and 'reference' "
               "backends run on the CPU\\)")
    with pytest.raises(ValueError, match="wkv7: " + message):
        rwkv.wkv7(*x, backend="cuda")
    with pytest.raises(ValueError, match="wkv7s: " + message):
        rwkv.wkv7s(torch.zeros(2, 2, 64, 64), *flat(x), backend="cuda")


@pytest.mark.cuda_only
def test_cuda_and_cpu_tensors_do_not_mix(device):
    x = model_inputs(device, 2, 8, 2, 64)
    with pytest.raises(ValueError, match="wkv7: k is on cuda:0 but r is on cpu"):
        rwkv.wkv7(x[0].cpu(), *x[1:])
    with pytest.raises(ValueError, match="wkv7: w is on cpu but r is on cuda:0"):
        rwkv.wkv7(x[0], x[1].cpu(), *x[2:])
    with pytest.raises(ValueError, match="wkv7: initial_state is on cpu but r is on cuda:0"):
        rwkv.wkv7(*x, initial_state=torch.zeros(2, 2, 64, 64))
    with pytest.raises(ValueError, match="wkv7s: state is on cpu but r is on cuda:0"):
        rwkv.wkv7s(torch.zeros(2, 2, 64, 64), *flat(x))
