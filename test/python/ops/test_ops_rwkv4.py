"""tessera.ops.rwkv.wkv4 (specs/rwkv-and-attention.md part A) against a float64 reference written
here (the stabilised step of A.2, gradients by autograd), with the inputs of part D:
B {1, 2, 3}, C {1, 32, 33, 100, 768}, T {1, 2, 7, 127, 1024, 4096}, k in [-60, 60],
time_decay in [-10, 6] (w = -exp(time_decay)), u in [-10, 10]; fp32, bf16 and fp16 I/O; the
state: chaining T1 + T2, 100 chained T = 1 calls, in-place updates; the tile, cuda and reference
backends; the errors.

Every test runs on each device (conftest's ``device``): on the CPU the tile and reference
kernels run through the host back end, at the GPU's sizes; the cuda backend (CUDA C++ through
NVRTC) runs on the GPU only, and on CPU tensors it is refused.

Metric (B.9): rel = ||x - ref|| / ||ref|| over the whole tensor, from the same dtype-rounded
inputs; y <= 1e-4 in fp32, 5e-3 in bf16, 2e-3 in fp16; gradients <= 5e-4 in fp32, 1e-2 in bf16;
the reference backend (float64 throughout, fp32 I/O) <= 1e-7, its outputs' rounding. Outputs
are never NaN or Inf, and are allocated over NaN-filled blocks so that an element never written
shows.
"""
import types

import pytest
from op_helpers import require_torch

torch = require_torch()

import tessera.ops.rwkv as rwkv  # noqa: E402
from tessera.ops.kernels import grid as launch_grid  # noqa: E402

Y_TOL = {torch.float32: 1e-4, torch.bfloat16: 5e-3, torch.float16: 2e-3}
GRAD_TOL = {torch.float32: 5e-4, torch.bfloat16: 1e-2}
REFERENCE_TOL = 1e-7  # float64 throughout: only the fp32 output's rounding (2^-24) remains
EMPTY_PP = -1e38


def inputs(device, b, t, c, dtype=torch.float32, seed=0, k_range=60.0):
    """w (C,) fp32, u (C,) and k, v (B, T, C) in dtype, with part D's ranges, on device."""
    g = torch.Generator(device=device).manual_seed(seed)
    time_decay = torch.rand(c, device=device, generator=g) * 16 - 10
    w = -torch.exp(time_decay)
    u = (torch.rand(c, device=device, generator=g) * 20 - 10).to(dtype)
    k = ((torch.rand(b, t, c, device=device, generator=g) * 2 - 1) * k_range).to(dtype)
    v = torch.randn(b, t, c, device=device, generator=g).to(dtype)
    return w, u, k, v


def reference(w, u, k, v, state=None):
    """(y, (aa, bb, pp)) in float64 on the CPU (differentiable back to the inputs' device): A.2's
    stabilised step from the given or empty state. The CPU runs the step's small ops without a
    kernel launch each, which on a GPU under compute-sanitizer would take most of the time."""
    w, u, k, v = (x.double().cpu() for x in (w, u, k, v))
    b, t, c = k.shape
    if state is None:
        aa = torch.zeros(b, c, dtype=torch.float64)
        bb = torch.zeros_like(aa)
        pp = torch.full_like(aa, EMPTY_PP)
    else:
        aa, bb, pp = (s.double().cpu() for s in state)
    ys = []
    for step in range(t):
        kt, vt = k[:, step], v[:, step]
        o = torch.maximum(pp, u + kt)
        e1, e2 = torch.exp(pp - o), torch.exp(u + kt - o)
        ys.append((e1 * aa + e2 * vt) / (e1 * bb + e2))
        o = torch.maximum(w + pp, kt)
        e1, e2 = torch.exp(w + pp - o), torch.exp(kt - o)
        aa, bb, pp = e1 * aa + e2 * vt, e1 * bb + e2, o
    return torch.stack(ys, dim=1), (aa, bb, pp)


def rel(x, ref):
    assert bool(torch.isfinite(x).all()), f"{int((~torch.isfinite(x)).sum())} not finite"
    x, ref = x.double().cpu(), ref.double().cpu()
    return ((x - ref).norm() / ref.norm().clamp(min=1e-300)).item()


def poison(device, *shapes, dtype):
    """Leaves NaN-filled blocks of these shapes in the CUDA caching allocator, for the op's
    outputs to reuse (on the CPU every new tensor is NaN already)."""
    if torch.device(device).type != "cuda":
        return
    blocks = [torch.full(s, float("nan"), dtype=dtype, device=device) for s in shapes]
    del blocks


def check_forward(device, b, t, c, dtype, backend=None):
    w, u, k, v = inputs(device, b, t, c, dtype)
    poison(device, k.shape, dtype=dtype)
    y = rwkv.wkv4(w, u, k, v, backend=backend)
    assert y.shape == k.shape and y.dtype == dtype
    ref, _ = reference(w, u, k, v)
    tol = REFERENCE_TOL if backend == "reference" and dtype == torch.float32 else Y_TOL[dtype]
    err = rel(y, ref)
    assert err <= tol, f"y: rel {err:.2e} > {tol:.0e}"


@pytest.mark.parametrize("t", [1, 2, 7, 127, 1024])
@pytest.mark.parametrize("c", [1, 32, 33, 100, 768])
def test_forward_fp32(c, t, device):
    check_forward(device, 2, t, c, torch.float32)


@pytest.mark.parametrize("b", [1, 3])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_forward_low_precision(dtype, b, device):
    check_forward(device, b, 127, 100, dtype)


def test_forward_long_sequence(device):
    """T = 4096: no error growth (the same bound as short sequences)."""
    check_forward(device, 1, 4096, 33, torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16],
                         ids=["fp32", "fp16", "bf16"])
def test_reference_backend(dtype, device):
    check_forward(device, 2, 127, 100, dtype, backend="reference")


def test_reference_backend_by_global_setting(device):
    w, u, k, v = inputs(device, 2, 33, 40)
    assert rwkv.get_backend() == "tile"
    rwkv.set_backend("reference")
    try:
        assert rwkv.get_backend() == "reference"
        y = rwkv.wkv4(w, u, k, v)
    finally:
        rwkv.set_backend("tile")
    assert rel(y, reference(w, u, k, v)[0]) <= REFERENCE_TOL


def check_backward(device, b, t, c, dtype, backend=None, k_range=60.0):
    w, u, k, v = inputs(device, b, t, c, dtype, seed=1, k_range=k_range)
    g = torch.Generator(device=device).manual_seed(2)
    gy = torch.randn(b, t, c, device=device, generator=g).to(dtype)
    leaves = [x.detach().clone().requires_grad_() for x in (w, u, k, v)]
    poison(device, k.shape, k.shape, dtype=dtype)
    y = rwkv.wkv4(*leaves, backend=backend)
    grads = torch.autograd.grad(y, leaves, gy)
    ref_leaves = [x.detach().double().requires_grad_() for x in (w, u, k, v)]
    ref_y, _ = reference(*ref_leaves)
    ref_grads = torch.autograd.grad(ref_y, ref_leaves, gy.double().cpu(), allow_unused=True)
    ref_grads = [torch.zeros_like(x) if g is None else g for g, x in zip(ref_grads, ref_leaves)]
    ref_grads = (ref_grads[0] * ref_leaves[0].detach(), *ref_grads[1:])  # gw = dL/dw * w
    tol = REFERENCE_TOL if backend == "reference" and dtype == torch.float32 else GRAD_TOL[dtype]
    for name, got, ref, x in zip(("gw", "gu", "gk", "gv"), grads, ref_grads, leaves):
        assert got.shape == x.shape and got.dtype == x.dtype, f"{name}: {got.shape} {got.dtype}"
        err = rel(got, ref)
        assert err <= tol, f"{name}: rel {err:.2e} > {tol:.0e}"


@pytest.mark.parametrize("b,t,c", [(1, 1, 1), (2, 7, 33), (3, 127, 100), (2, 1024, 32)])
def test_backward_fp32(b, t, c, device):
    check_backward(device, b, t, c, torch.float32)


def test_backward_moderate_keys(device):
    """k of order 1, as models have, where every term of every gradient matters."""
    check_backward(device, 2, 300, 64, torch.float32, k_range=3.0)


def test_backward_bf16(device):
    check_backward(device, 2, 127, 100, torch.bfloat16, k_range=3.0)


def test_backward_reference_backend(device):
    check_backward(device, 2, 64, 33, torch.float32, backend="reference")


def empty_state(device, b, c):
    return (torch.zeros(b, c, device=device), torch.zeros(b, c, device=device),
            torch.full((b, c), EMPTY_PP, device=device))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_state_chaining_equals_one_call(dtype, device):
    """fwd_state(x[:T1]) then fwd_state(x[T1:]) gives the one-call y and final state."""
    w, u, k, v = inputs(device, 3, 300, 100, dtype)
    state = empty_state(device, 3, 100)
    y1 = rwkv.wkv4(w, u, k[:, :120], v[:, :120], state=state)
    y2 = rwkv.wkv4(w, u, k[:, 120:], v[:, 120:], state=state)
    y = rwkv.wkv4(w, u, k, v)
    assert torch.equal(torch.cat([y1, y2], dim=1), y), "chained y differs from one call's"
    _, ref_state = reference(w, u, k, v)
    for name, got, ref in zip(("aa", "bb", "pp"), state, ref_state):
        err = rel(got, ref)
        assert err <= 1e-4, f"final {name}: rel {err:.2e}"


def test_decode_loop_of_single_steps(device):
    """100 chained T = 1 calls equal one T = 100 call (state updated in place each time)."""
    w, u, k, v = inputs(device, 2, 100, 33)
    state = empty_state(device, 2, 33)
    ys = [rwkv.wkv4(w, u, k[:, i:i + 1], v[:, i:i + 1], state=state) for i in range(100)]
    assert torch.equal(torch.cat(ys, dim=1), rwkv.wkv4(w, u, k, v))


def test_state_from_a_nonempty_start(device):
    """A random (finite) starting state: y and the final state against the reference."""
    w, u, k, v = inputs(device, 2, 50, 64, k_range=5.0)
    g = torch.Generator(device=device).manual_seed(3)
    aa = torch.randn(2, 64, device=device, generator=g)
    bb = torch.rand(2, 64, device=device, generator=g) + 0.5
    pp = torch.randn(2, 64, device=device, generator=g) * 3
    ref_y, ref_state = reference(w, u, k, v, (aa, bb, pp))
    state = (aa.clone(), bb.clone(), pp.clone())
    y = rwkv.wkv4(w, u, k, v, state=state)
    assert rel(y, ref_y) <= 1e-4
    for got, ref in zip(state, ref_state):
        assert rel(got, ref) <= 1e-4


# More batch rows than CUDA's grid axis y takes (65535): the kernels put them on axis x (the CPU
# has no such limit).
BATCH_PAST_GRID_Y = 65600


@pytest.mark.cuda_only
@pytest.mark.parametrize("backend", ["tile", "cuda"])
def test_batch_past_the_grid_y_limit(backend, device):
    """65600 rows of 130 channels (two channel blocks): y and the state from a random start,
    the last rows checked on their own."""
    b, t, c = BATCH_PAST_GRID_Y, 3, 130
    w, u, k, v = inputs(device, b, t, c, k_range=5.0)
    g = torch.Generator(device=device).manual_seed(3)
    start = (torch.randn(b, c, device=device, generator=g),
             torch.rand(b, c, device=device, generator=g) + 0.5,
             torch.randn(b, c, device=device, generator=g) * 3)
    ref_y, ref_state = reference(w, u, k, v, start)
    state = tuple(s.clone() for s in start)
    poison(device, k.shape, dtype=k.dtype)
    y = rwkv.wkv4(w, u, k, v, state=state, backend=backend)
    for got, ref in [(y, ref_y), *zip(state, ref_state)]:
        assert rel(got, ref) <= 1e-4 and rel(got[-70:], ref[-70:]) <= 1e-4


@pytest.mark.cuda_only
@pytest.mark.parametrize("backend", ["tile", "cuda"])
def test_backward_batch_past_the_grid_y_limit(backend, device):
    check_backward(device, BATCH_PAST_GRID_Y, 3, 130, torch.float32, backend=backend,
                   k_range=3.0)


def test_more_channels_than_the_grid_takes_are_refused(device, monkeypatch):
    """The channel blocks are on grid axis 1: C past 65535 blocks of 128 is refused (the limit
    lowered to 2 here), and C at the limit runs."""
    monkeypatch.setattr(launch_grid, "MAX_GRID_YZ", 2)
    w, u, k, v = inputs(device, 1, 2, 257)
    with pytest.raises(ValueError, match=r"wkv4: k has C = 257 channels; at most 256 \(2 "
                       r"blocks of 128, CUDA's limit on grid axis 1\)"):
        rwkv.wkv4(w, u, k, v)
    w, u, k, v = inputs(device, 300, 2, 256)  # enough rows for blocks of 128
    assert rel(rwkv.wkv4(w, u, k, v), reference(w, u, k, v)[0]) <= Y_TOL[torch.float32]


def test_non_contiguous_inputs(device):
    w, u, k, v = inputs(device, 2, 40, 64)
    kt = k.transpose(0, 1).contiguous().transpose(0, 1)  # (B, T, C) view, batch-minor rows
    assert not kt.is_contiguous()
    assert torch.equal(rwkv.wkv4(w, u, kt, v), rwkv.wkv4(w, u, k, v))


ERRORS = {
    "k_rank": (lambda t: ((t.w, t.u, t.k[0], t.v[0]), {}), ValueError, "k has 2 dimensions"),
    "v_shape": (lambda t: ((t.w, t.u, t.k, t.v[:, :3]), {}), ValueError, "v has shape"),
    "w_shape": (lambda t: ((t.w[:5], t.u, t.k, t.v), {}), ValueError, "w has shape"),
    "w_dtype": (lambda t: ((t.w.double(), t.u, t.k, t.v), {}), TypeError, "w has dtype"),
    "k_dtype": (lambda t: ((t.w, t.u, t.k.int(), t.v), {}), TypeError, "k has dtype"),
    "v_dtype": (lambda t: ((t.w, t.u, t.k, t.v.half()), {}), TypeError, "v has dtype"),
    "k_on_meta": (lambda t: ((t.w, t.u, t.k.to("meta"), t.v), {}), ValueError,
                  "wkv4: k is on meta; expected a CUDA or CPU tensor"),
    "cuda_backend_on_cpu": (lambda t: (tuple(x.cpu() for x in (t.w, t.u, t.k, t.v)),
                                       {"backend": "cuda"}), ValueError,
                            r"wkv4: backend 'cuda' runs on CUDA tensors; k is on cpu \(the "
                            r"'tile' and 'reference' backends run on the CPU\)"),
    "backend": (lambda t: ((t.w, t.u, t.k, t.v), {"backend": "triton"}), ValueError,
                "backend is 'triton'"),
    "state_tuple": (lambda t: ((t.w, t.u, t.k, t.v), {"state": t.k}), TypeError, "state"),
    "state_shape": (lambda t: ((t.w, t.u, t.k, t.v), {"state": (t.aa[:1], t.aa, t.aa)}),
                    ValueError, "state aa has shape"),
    "state_dtype": (lambda t: ((t.w, t.u, t.k, t.v), {"state": (t.aa, t.aa.half(), t.aa)}),
                    TypeError, "state bb has dtype"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors(case, device):
    t = types.SimpleNamespace()
    t.w, t.u, t.k, t.v = inputs(device, 2, 8, 16)
    t.aa = torch.zeros(2, 16, device=device)
    make, error, message = ERRORS[case]
    args, kwargs = make(t)
    with pytest.raises(error, match=message):
        rwkv.wkv4(*args, **kwargs)


@pytest.mark.cuda_only
def test_cuda_and_cpu_tensors_do_not_mix(device):
    w, u, k, v = inputs(device, 2, 8, 16)
    with pytest.raises(ValueError, match="wkv4: v is on cuda:0 but k is on cpu"):
        rwkv.wkv4(w, u, k.cpu(), v)
    with pytest.raises(ValueError, match="wkv4: w is on cpu but k is on cuda:0"):
        rwkv.wkv4(w.cpu(), u, k, v)
    state = [x.cpu() if i == 0 else x for i, x in enumerate(empty_state(device, 2, 16))]
    with pytest.raises(ValueError, match="wkv4: state aa is on cpu but k is on cuda:0"):
        rwkv.wkv4(w, u, k, v, state=state)


def test_state_with_gradients_is_refused(device):
    w, u, k, v = inputs(device, 2, 8, 16)
    k.requires_grad_()
    with pytest.raises(NotImplementedError, match="state"):
        rwkv.wkv4(w, u, k, v, state=empty_state(device, 2, 16))


def test_set_backend_rejects_unknown_names(device):
    with pytest.raises(ValueError, match="set_backend: backend is 'fast'"):
        rwkv.set_backend("fast")


# The cuda backend: CUDA C++ compiled by NVRTC, for the GPU only.

@pytest.mark.cuda_only
@pytest.mark.parametrize("b,t,c,dtype", [(2, 1, 33, torch.float32), (2, 127, 100, torch.float32),
                                         (1, 4096, 768, torch.float32),
                                         (3, 127, 100, torch.bfloat16),
                                         (2, 127, 100, torch.float16)])
def test_cuda_backend_forward(b, t, c, dtype, device):
    check_forward(device, b, t, c, dtype, backend="cuda")


@pytest.mark.cuda_only
@pytest.mark.parametrize("b,t,c,dtype", [(2, 7, 33, torch.float32), (2, 1024, 32, torch.float32),
                                         (2, 127, 100, torch.bfloat16)])
def test_cuda_backend_backward(b, t, c, dtype, device):
    check_backward(device, b, t, c, dtype, backend="cuda", k_range=3.0)


@pytest.mark.cuda_only
def test_cuda_backend_decode_loop(device):
    w, u, k, v = inputs(device, 2, 60, 100)
    state = empty_state(device, 2, 100)
    ys = [rwkv.wkv4(w, u, k[:, i:i + 1], v[:, i:i + 1], state=state, backend="cuda")
          for i in range(60)]
    assert torch.equal(torch.cat(ys, dim=1), rwkv.wkv4(w, u, k, v, backend="cuda"))
    _, ref_state = reference(w, u, k, v)
    for got, ref in zip(state, ref_state):
        assert rel(got, ref) <= 1e-4
