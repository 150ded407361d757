"""The RWKV kernels (``specs/rwkv-and-attention.md`` parts A and B) behind one dispatcher.

    import tessera.ops.rwkv as rwkv
    y = rwkv.wkv4(w, u, k, v)                      # k, v (B, T, C); w, u (C,); differentiable
    y = rwkv.wkv4(w, u, k, v, state=(aa, bb, pp))  # state fp32 (B, C) each, updated in place
    y = rwkv.wkv4(w, u, k, v, backend="reference") # float64 throughout
    y = rwkv.wkv7(r, w, k, v, a, b)                # (B, T, H, N) each; differentiable
    y, s = rwkv.wkv7(r, w, k, v, a, b, initial_state=s0, output_final_state=True)
    y = rwkv.wkv7s(state, r, w, k, v, a, b)        # inference; state (B, H, N, N) in place
    rwkv.set_backend("reference")                  # the global choice; get_backend() reads it

Backends: ``"tile"``, kernels written in the Tessera DSL with fp32 math (the default);
``"cuda"``, CUDA C++ kernels (``kernels/cuda/``) compiled at run time by NVRTC and launched,
cached and autotuned by the runtime, fp32 math; ``"reference"``, the tile kernels computing in
float64 (inputs upcast on load, outputs rounded once), for checking. All take the same inputs
and give the same results within the spec's tolerances. The tile wkv7 forward and backward are
chunked, on tensor cores (chunks of 16 steps); wkv7s steps through time in exact fp32 on every
backend. The tile and reference backends also run on CPU tensors (their kernels compiled for
the host); the cuda backend needs CUDA tensors.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .arguments import (as_tensor, check_bool, check_device, check_dtype, check_same,
                        device_scope, sm_count, torch)
from .kernels.wkv4 import (AHEAD, MAX_BLOCK_C, REFERENCE_AHEAD, choose_block, wkv4_bwd_kernel,
                           wkv4_fwd_kernel, wkv4_sum_rows_kernel)
from .kernels.wkv7 import (CHUNK_BWD_WARPS, CHUNK_PREP_WARPS, DECAY_CODES,
                           choose_backward_warps, choose_chunk_block, choose_chunk_bwd_block,
                           choose_forward_block, wkv7_bwd_kernel, wkv7_chunk_bwd_kernel,
                           wkv7_chunk_bwd_walk_kernel, wkv7_chunk_fwd_kernel,
                           wkv7_chunk_prep_kernel, wkv7_fwd_kernel)
from .kernels import grid as launch_grid
from .kernels.grid import batch_head_grid
from .kernels.rwkv_cuda import cuda_type, wkv4_kernel, wkv7_kernel

__all__ = ["BACKENDS", "get_backend", "set_backend", "wkv4", "wkv7", "wkv7s"]

BACKENDS = ("tile", "cuda", "reference")
_backend = "tile"
_IO_DTYPES = (torch.float32, torch.bfloat16, torch.float16) if torch is not None else ()
# The chunked WKV7 forward's tensor-core type per I/O dtype (its HALF: 0 is fp32 FMAs).
_HALF_DOTS = dict(zip(_IO_DTYPES, (0, 1, 2)))


def set_backend(name: str) -> None:
    """Selects the backend of every later call that does not name one: "tile", "cuda" or
    "reference"."""
    global _backend
    _backend = _check_backend(name, "set_backend")


def get_backend() -> str:
    """The backend calls use when they name none (initially "tile")."""
    return _backend


def _check_backend(name: Any, op: str) -> str:
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"{op}: backend is {name!r}; expected one of "
                         f"{', '.join(repr(b) for b in BACKENDS)}")
    return name


def _resolve(backend: Optional[str], op: str) -> str:
    """The backend of this call: its own, else the global setting."""
    return _backend if backend is None else _check_backend(backend, op)


def _check_backend_device(op: str, backend: str, name: str, tensor: "torch.Tensor") -> None:
    """The cuda backend's kernels run on CUDA tensors only (``tensor`` stands for the call's
    inputs, all on one device)."""
    if backend == "cuda" and tensor.device.type != "cuda":
        raise ValueError(f"{op}: backend 'cuda' runs on CUDA tensors; {name} is on "
                         f"{tensor.device} (the 'tile' and 'reference' backends run on the CPU)")


def _check_wkv4(w: Any, u: Any, k: Any, v: Any) -> Tuple["torch.Tensor", ...]:
    op = "wkv4"
    w, u, k, v = (as_tensor(t, name, op) for t, name in ((w, "w"), (u, "u"), (k, "k"), (v, "v")))
    for name, tensor in (("k", k), ("v", v), ("w", w), ("u", u)):
        check_device(tensor, name, op)
    check_dtype(k, "k", op, _IO_DTYPES)
    check_same(op, ("k", k), ("v", v))
    check_dtype(w, "w", op, [torch.float32])
    check_dtype(u, "u", op, sorted({torch.float32, k.dtype}, key=str))
    if k.dim() != 3:
        raise ValueError(f"wkv4: k has {k.dim()} dimensions; expected 3, (B, T, C)")
    if tuple(v.shape) != tuple(k.shape):
        raise ValueError(f"wkv4: v has shape {tuple(v.shape)} but k {tuple(k.shape)}; expected "
                         "them equal")
    channels = k.shape[2]
    max_blocks = launch_grid.MAX_GRID_YZ  # the channel blocks are on grid axis 1
    if channels > max_blocks * MAX_BLOCK_C:
        raise ValueError(f"wkv4: k has C = {channels} channels; at most "
                         f"{max_blocks * MAX_BLOCK_C} ({max_blocks} blocks of {MAX_BLOCK_C}, "
                         "CUDA's limit on grid axis 1)")
    for name, tensor in (("w", w), ("u", u)):
        if tuple(tensor.shape) != (channels,):
            raise ValueError(f"wkv4: {name} has shape {tuple(tensor.shape)}; expected "
                             f"({channels},), one value per channel of k")
        if tensor.device != k.device:
            raise ValueError(f"wkv4: {name} is on {tensor.device} but k is on {k.device}; "
                             "expected tensors on one device")
    return w.contiguous(), u.contiguous(), k.contiguous(), v.contiguous()


def _check_state(state: Any, k: "torch.Tensor") -> Tuple["torch.Tensor", ...]:
    if not isinstance(state, (tuple, list)) or len(state) != 3:
        raise TypeError("wkv4: state must be a tuple (aa, bb, pp) of three fp32 (B, C) tensors")
    expected = (k.shape[0], k.shape[2])
    tensors = []
    for name, value in zip(("aa", "bb", "pp"), state):
        tensor = as_tensor(value, f"state {name}", "wkv4")
        check_dtype(tensor, f"state {name}", "wkv4", [torch.float32])
        if tensor.device != k.device:
            raise ValueError(f"wkv4: state {name} is on {tensor.device} but k is on "
                             f"{k.device}; expected tensors on one device")
        if tuple(tensor.shape) != expected:
            raise ValueError(f"wkv4: state {name} has shape {tuple(tensor.shape)}; expected "
                             f"(B, C) = {expected}")
        if not tensor.is_contiguous():
            raise ValueError(f"wkv4: state {name} is not contiguous; expected a contiguous "
                             "(B, C) tensor (it is updated in place)")
        tensors.append(tensor)
    return tuple(tensors)


def _grid_and_block(k: "torch.Tensor") -> Tuple[Tuple[int, int], int]:
    """The grid (B, channel blocks) of the WKV4 kernels and their BLOCK_C."""
    batch, _, channels = k.shape
    block = choose_block(batch, channels, sm_count(k.device))
    return (batch, -(-channels // block)), block


def _wkv4_ahead(backend: str) -> int:
    """Steps per group of loads of the WKV4 tile kernels."""
    return REFERENCE_AHEAD if backend == "reference" else AHEAD


def _wkv4_cuda_types(u, k) -> Dict[str, str]:
    return {"IO_T": cuda_type(k.dtype), "U_T": cuda_type(u.dtype)}


def _forward(w, u, k, v, state, backend: str) -> "torch.Tensor":
    y = torch.empty_like(k)
    batch, steps, channels = k.shape
    grid, block = _grid_and_block(k)
    aa, bb, pp = state if state is not None else (None, None, None)
    args = (w, u, k, v, y, aa, bb, pp, steps, channels, k.stride(0), k.stride(1))
    if backend == "cuda":
        kernel = wkv4_kernel("wkv4_forward", {**_wkv4_cuda_types(u, k),
                                              "STATE": state is not None}, block)
        kernel[grid](*args)
    else:
        wkv4_fwd_kernel[grid](*args, BLOCK_C=block, STATE=state is not None,
                              F64=backend == "reference", AHEAD=_wkv4_ahead(backend),
                              num_warps=block // 32)
    return y


def _backward(w, u, k, v, gy, backend: str):
    batch, steps, channels = k.shape
    gy = gy.contiguous()
    compute = torch.float64 if backend == "reference" else torch.float32
    gk, gv = torch.empty_like(k), torch.empty_like(v)
    saved = torch.empty((3, batch, steps, channels), dtype=compute, device=k.device)
    gw_rows = torch.empty((batch, channels), dtype=compute, device=k.device)
    gu_rows = torch.empty((batch, channels), dtype=compute, device=k.device)
    grid, block = _grid_and_block(k)
    args = (w, u, k, v, gy, gk, gv, gw_rows, gu_rows, saved, steps, channels, k.stride(0),
            k.stride(1))
    if backend == "cuda":
        kernel = wkv4_kernel("wkv4_backward", {**_wkv4_cuda_types(u, k), "STATE": False}, block)
        kernel[grid](*args)
    else:
        wkv4_bwd_kernel[grid](*args, BLOCK_C=block, F64=backend == "reference",
                              AHEAD=_wkv4_ahead(backend), num_warps=block // 32)
    gw, gu = torch.empty_like(w), torch.empty_like(u)
    for rows, out in ((gw_rows, gw), (gu_rows, gu)):
        wkv4_sum_rows_kernel[(-(-channels // 128),)](rows, out, batch, channels, BLOCK_C=128,
                                                     num_warps=4)
    return gw, gu, gk, gv


_function = None


def _autograd_function():
    """The torch.autograd.Function of wkv4 without a state (built on first use)."""
    global _function
    if _function is None:
        class WKV4Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, w, u, k, v, backend):
                ctx.backend = backend
                ctx.save_for_backward(w, u, k, v)
                return _forward(w, u, k, v, None, backend)

            @staticmethod
            def backward(ctx, gy):
                w, u, k, v = ctx.saved_tensors
                return (*_backward(w, u, k, v, gy, ctx.backend), None)

        _function = WKV4Function
    return _function


def wkv4(w: Any, u: Any, k: Any, v: Any, state: Optional[Tuple[Any, Any, Any]] = None, *,
         backend: Optional[str] = None) -> "torch.Tensor":
    """WKV of RWKV-4 (spec part A): for each (b, c), over t,
    ``y_t = (alpha + e^(u+k_t) v_t) / (beta + e^(u+k_t))``, then
    ``alpha = e^w alpha + e^(k_t) v_t`` and ``beta = e^w beta + e^(k_t)``, computed in the
    stabilised form of A.2.

    Args:
        w: (C,) fp32, the per-step log-decay (< 0; models pass ``-exp(time_decay)``).
        u: (C,) the bonus of the current token, fp32 or k's dtype.
        k, v: (B, T, C), fp32, bf16 or fp16 (one dtype); any B, T, C.
        state: optional (aa, bb, pp), fp32 (B, C) contiguous tensors: the recurrence starts from
            them (alpha = aa e^pp, beta = bb e^pp; an empty state is 0, 0, -1e38) and they are
            overwritten with the state after the last step, so consecutive calls chain exactly.
        backend: "tile", "cuda" or "reference" for this call (default: :func:`get_backend`).

    Returns:
        y (B, T, C) in k's dtype. Without ``state`` the op is differentiable in w, u, k and v
        (gw is dL/dw times w, i.e. the gradient of ``time_decay``).

    Example:
        >>> k = torch.randn(2, 64, 256, device="cuda")                     # doctest: +SKIP
        >>> w = -torch.exp(torch.randn(256, device="cuda"))                # doctest: +SKIP
        >>> y = wkv4(w, torch.randn(256, device="cuda"), k, torch.randn_like(k))  # doctest: +SKIP
    """
    backend = _resolve(backend, "wkv4")
    w, u, k, v = _check_wkv4(w, u, k, v)
    _check_backend_device("wkv4", backend, "k", k)
    if state is not None:
        state = _check_state(state, k)
        if torch.is_grad_enabled() and any(t.requires_grad for t in (w, u, k, v)):
            raise NotImplementedError("wkv4: gradients through a call with a state are not "
                                      "supported yet; call it under torch.no_grad()")
    if k.numel() == 0:
        return torch.empty_like(k)
    if state is None and torch.is_grad_enabled() and any(
            t.requires_grad for t in (w, u, k, v)):
        return _autograd_function().apply(w, u, k, v, backend)
    return _forward(w, u, k, v, state, backend)


# ---- WKV7 (spec part B) --------------------------------------------------------------------------

WKV7_HEAD_SIZES = (16, 32, 64, 128)
WKV7_CHUNK = 16  # steps between the backward's state checkpoints (B.4)
_WKV7_NAMES = ("r", "w", "k", "v", "a", "b")


def _check_wkv7(op: str, tensors: Tuple[Any, ...], layout: str) -> Tuple["torch.Tensor", ...]:
    """The six inputs as tensors of one shape and device; r, k, v, a, b of one dtype, w of theirs
    or fp32. `layout` names the expected shape for messages. They are not copied: callers make
    them contiguous once every check has passed, so bad input fails before any copy."""
    r, w, k, v, a, b = (as_tensor(t, name, op) for t, name in zip(tensors, _WKV7_NAMES))
    for name, tensor in zip(_WKV7_NAMES, (r, w, k, v, a, b)):
        check_device(tensor, name, op)
    check_dtype(r, "r", op, _IO_DTYPES)
    check_same(op, ("r", r), ("k", k), ("v", v), ("a", a), ("b", b))
    check_dtype(w, "w", op, sorted({torch.float32, r.dtype}, key=str))
    if w.device != r.device:
        raise ValueError(f"{op}: w is on {w.device} but r is on {r.device}; expected tensors on "
                         "one device")
    for name, tensor in zip(_WKV7_NAMES[1:], (w, k, v, a, b)):
        if tuple(tensor.shape) != tuple(r.shape):
            raise ValueError(f"{op}: {name} has shape {tuple(tensor.shape)} but r "
                             f"{tuple(r.shape)}; expected every input of shape {layout}")
    return r, w, k, v, a, b


def _check_head_size(op: str, n: int) -> None:
    if n not in WKV7_HEAD_SIZES:
        raise ValueError(f"{op}: the head size N is {n}; expected one of "
                         f"{', '.join(map(str, WKV7_HEAD_SIZES))}")


def _check_wkv7_state(op: str, name: str, state: Any, shapes: Tuple[Tuple[int, ...], ...],
                      device: "torch.device") -> "torch.Tensor":
    tensor = as_tensor(state, name, op)
    check_dtype(tensor, name, op, [torch.float32])
    if tensor.device != device:
        raise ValueError(f"{op}: {name} is on {tensor.device} but r is on {device}; expected "
                         "tensors on one device")
    if tuple(tensor.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{op}: {name} has shape {tuple(tensor.shape)}; expected {expected}")
    return tensor


def _wkv7_cuda_types(inputs) -> Dict[str, str]:
    return {"IO_T": cuda_type(inputs[0].dtype), "W_T": cuda_type(inputs[1].dtype)}


def _wkv7_chunk_prep(inputs, decay: int, backward: bool = False):
    """wkv7_chunk_prep_kernel's workspace for the chunked forward, (JV, LL, DECAYS), or with
    `backward` for the chunked backward, (JV, PT, DECAYS) (see its docstring), of contiguous
    (B, T, H, N) inputs."""
    r, w, k, _, a, b = inputs
    batch, steps, heads, n = r.shape
    chunks = -(-steps // WKV7_CHUNK)
    jv = torch.empty((batch * heads, chunks, 4, WKV7_CHUNK, n), device=r.device, dtype=r.dtype)
    squares = torch.empty((batch * heads, chunks, 4 if backward else 2, WKV7_CHUNK, WKV7_CHUNK),
                          device=r.device, dtype=torch.float32 if backward else r.dtype)
    decays = torch.empty((batch * heads, chunks, n), device=r.device, dtype=torch.float32)
    ll, pt = (None, squares) if backward else (squares, None)
    grid, pairs = batch_head_grid(chunks, batch, heads)
    wkv7_chunk_prep_kernel[grid](
        r, w, k, a, b, jv, ll, decays, pt, steps, heads, N=n, DECAY=decay, CHUNK=WKV7_CHUNK,
        EXACT=r.dtype == torch.float32, BACKWARD=backward, **pairs,
        num_warps=CHUNK_PREP_WARPS)
    return jv, squares, decays


def _wkv7_run_forward(inputs, decay: int, s0: Optional["torch.Tensor"], want_final: bool,
                      save: bool, backend: str, final: Optional["torch.Tensor"] = None,
                      chunked: bool = True):
    """(y, final state or None, sa or None, checkpoints or None) of contiguous (B, T, H, N)
    inputs; s0 fp32 (B, H, N, N) or (H, N, N), or None for zeros. `final` may be given (it may
    be s0: wkv7s updates its state in place). The tile backend runs the chunked tensor-core
    forward when `chunked`, else the step-by-step one (wkv7s: exact fp32 for decoding)."""
    r = inputs[0]
    batch, steps, heads, n = r.shape
    chunks = -(-steps // WKV7_CHUNK)
    y = torch.empty_like(r)
    f64 = backend == "reference"
    compute = torch.float64 if f64 else torch.float32
    if want_final and final is None:
        final = torch.empty((batch, heads, n, n), dtype=torch.float32, device=r.device)
    sa = ckpt = None
    if save:
        sa = torch.empty(r.shape, dtype=compute, device=r.device)
        ckpt = torch.empty((batch, heads, chunks + 1, n, n), dtype=compute, device=r.device)
    s0_stride = 0 if s0 is None or s0.dim() == 3 else heads * n * n
    args = (*inputs, y, s0, final, sa, ckpt, steps, heads, s0_stride)
    if backend == "cuda":
        # One L for every forward variant, so that chained calls, wkv7s and wkv7 agree bitwise.
        kernel = wkv7_kernel("wkv7_forward", {
            **_wkv7_cuda_types(inputs), "DECAY": decay, "CHUNK": WKV7_CHUNK,
            "HAS_S0": s0 is not None, "HAS_ST": want_final, "SAVE": save}, n, tune=False)
        kernel[(batch * heads,)](*args)
    elif chunked and not f64:
        jv, ll, decays = _wkv7_chunk_prep(inputs, decay)
        block_i, warps = choose_chunk_block(n)
        grid, pairs = batch_head_grid(n // block_i, batch, heads)
        wkv7_chunk_fwd_kernel[grid](
            inputs[3], y, s0, final, sa, ckpt, jv, ll, decays, steps, heads, s0_stride, N=n,
            BLOCK_I=block_i, CHUNK=WKV7_CHUNK, HAS_S0=s0 is not None, HAS_ST=want_final,
            SAVE=save, HALF=_HALF_DOTS[r.dtype], **pairs, num_warps=warps)
    else:
        block_i, warps = choose_forward_block(batch * heads, n, sm_count(r.device), f64)
        grid, pairs = batch_head_grid(n // block_i, batch, heads)
        wkv7_fwd_kernel[grid](
            *args, N=n, BLOCK_I=block_i, DECAY=decay, CHUNK=WKV7_CHUNK, HAS_S0=s0 is not None,
            HAS_ST=want_final, SAVE=save, F64=f64, **pairs, num_warps=warps)
    return y, final, sa, ckpt


def _wkv7_run_backward(inputs, decay: int, dy, dst, sa, ckpt, s0_shape, backend: str):
    """(dr, dw, dk, dv, da, db, ds0 or None); ds0 summed over B when s0_shape is (H, N, N)."""
    r = inputs[0]
    batch, steps, heads, n = r.shape
    grads = [torch.empty_like(t) for t in inputs]
    ds0 = ds0_rows = None
    if s0_shape is not None:
        ds0 = torch.empty(s0_shape, dtype=torch.float32, device=r.device)
        # A shared (H, N, N) state's gradient is summed over B from per-head rows.
        ds0_rows = ds0 if len(s0_shape) == 4 else torch.empty(
            (batch, heads, n, n), dtype=ckpt.dtype, device=r.device)
    dy = dy.contiguous()
    args = (*inputs, dy, dst, sa, ckpt, *grads, ds0_rows, steps, heads)
    if backend == "cuda":
        kernel = wkv7_kernel("wkv7_backward", {
            **_wkv7_cuda_types(inputs), "DECAY": decay, "CHUNK": WKV7_CHUNK,
            "HAS_DST": dst is not None, "HAS_DS0": ds0_rows is not None}, n, tune=True)
        kernel[(batch * heads,)](*args)
    elif backend == "tile":
        # The transpose of the chunked forward: G at every chunk boundary walking back, then
        # every chunk's gradients in parallel from its start state, G at its end and dy.
        chunks = -(-steps // WKV7_CHUNK)
        jv, pt, decays = _wkv7_chunk_prep(inputs, decay, backward=True)
        ends = torch.empty((batch * heads, chunks, n, n), dtype=torch.float32, device=r.device)
        block_i, warps = choose_chunk_block(n)
        half = _HALF_DOTS[r.dtype]
        grid, pairs = batch_head_grid(n // block_i, batch, heads)
        wkv7_chunk_bwd_walk_kernel[grid](
            dy, dst, ds0_rows, ends, jv, decays, steps, heads, N=n, BLOCK_I=block_i,
            CHUNK=WKV7_CHUNK, HAS_DST=dst is not None, HAS_DS0=ds0_rows is not None, HALF=half,
            **pairs, num_warps=warps)
        grid, pairs = batch_head_grid(chunks, batch, heads)
        wkv7_chunk_bwd_kernel[grid](
            *inputs, dy, sa, ckpt, ends, jv, pt, *grads, steps, heads, N=n,
            BLOCK_I=choose_chunk_bwd_block(n), DECAY=decay, CHUNK=WKV7_CHUNK,
            EXACT=r.dtype == torch.float32, HALF=half, **pairs,
            num_warps=CHUNK_BWD_WARPS)
    else:
        wkv7_bwd_kernel[(batch * heads,)](
            *args, N=n, DECAY=decay, CHUNK=WKV7_CHUNK, HAS_DST=dst is not None,
            HAS_DS0=ds0_rows is not None, F64=True, num_warps=choose_backward_warps(n, True))
    if ds0 is not None and ds0_rows is not ds0:
        size = heads * n * n
        wkv4_sum_rows_kernel[(-(-size // 1024),)](ds0_rows, ds0, batch, size, BLOCK_C=1024,
                                                  num_warps=4)
    return (*grads, ds0)


_wkv7_function = None


def _wkv7_autograd_function():
    """The torch.autograd.Function of wkv7 (built on first use)."""
    global _wkv7_function
    if _wkv7_function is None:
        class WKV7Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, r, w, k, v, a, b, s0, decay, want_final, backend):
                inputs = (r, w, k, v, a, b)
                y, final, sa, ckpt = _wkv7_run_forward(inputs, decay, s0, want_final, True,
                                                       backend)
                ctx.decay, ctx.backend = decay, backend
                ctx.s0_shape = None if s0 is None else tuple(s0.shape)
                ctx.save_for_backward(*inputs, sa, ckpt)
                if want_final:
                    return y, final
                return y

            @staticmethod
            def backward(ctx, dy, dfinal=None):
                *inputs, sa, ckpt = ctx.saved_tensors
                if dy is None:
                    dy = torch.zeros_like(inputs[0])
                dst = None if dfinal is None else dfinal.contiguous()
                grads = _wkv7_run_backward(inputs, ctx.decay, dy, dst, sa, ckpt, ctx.s0_shape,
                                           ctx.backend)
                return (*grads, None, None, None)

        _wkv7_function = WKV7Function
    return _wkv7_function


def wkv7(r: Any, w: Any, k: Any, v: Any, a: Any, b: Any, *, decay: str = "raw",
         initial_state: Any = None, output_final_state: bool = False,
         backend: Optional[str] = None) -> Any:
    """WKV7 of RWKV-7 (spec part B): per (batch, head) an N x N fp32 state S, and per step
    ``sa = S a``, ``S = S diag(d) + sa b^T + v k^T``, ``y = S r``.

    Args:
        r, w, k, v, a, b: (B, T, H, N) with N in {16, 32, 64, 128}; r, k, v, a, b of one dtype
            (fp32, bf16 or fp16), w of theirs or fp32. Any B and T.
        decay: how w gives the decay d (B.3): "raw" ``exp(-exp(w))``, "clampw"
            ``exp(-e^-0.5 sigmoid(w))`` or "log" ``exp(w)`` (fla's convention).
        initial_state: fp32 S_0, (B, H, N, N) as [b, h, i, j] (i the value index), or (H, N, N)
            shared by the batch (state tuning: its gradient is summed over B). Zeros if None.
        output_final_state: also return S_T, fp32 (B, H, N, N), which can be the next
            segment's ``initial_state``; gradients flow back from it.
        backend: "tile", "cuda" or "reference" for this call (default: :func:`get_backend`).

    Returns:
        y (B, T, H, N) in r's dtype, or ``(y, final_state)``. Differentiable in every input and
        in ``initial_state``.

    Example:
        >>> shape = (2, 256, 4, 64)                                             # doctest: +SKIP
        >>> r, k, v = (torch.randn(shape, device="cuda") for _ in range(3))     # doctest: +SKIP
        >>> kappa = torch.nn.functional.normalize(torch.randn(shape, device="cuda"), dim=-1)
        >>> w = -torch.nn.functional.softplus(torch.randn(shape, device="cuda")) - 0.5
        >>> y = wkv7(r, w, k, v, -kappa, kappa * 0.5)                           # doctest: +SKIP
    """
    op = "wkv7"
    backend = _resolve(backend, op)
    if not isinstance(decay, str) or decay not in DECAY_CODES:
        raise ValueError(f"wkv7: decay is {decay!r}; expected one of "
                         f"{', '.join(repr(name) for name in DECAY_CODES)}")
    inputs = _check_wkv7(op, (r, w, k, v, a, b), "(B, T, H, N)")
    _check_backend_device(op, backend, "r", inputs[0])
    if inputs[0].dim() != 4:
        raise ValueError(f"wkv7: r has {inputs[0].dim()} dimensions; expected 4, (B, T, H, N)")
    batch, steps, heads, n = inputs[0].shape
    _check_head_size(op, n)
    s0 = None
    if initial_state is not None:
        s0 = _check_wkv7_state(op, "initial_state", initial_state,
                               ((batch, heads, n, n), (heads, n, n)), inputs[0].device)
        s0 = s0.contiguous()
    check_bool(output_final_state, "output_final_state", op)
    inputs = tuple(t.contiguous() for t in inputs)
    code = DECAY_CODES[decay]
    tracked = (*inputs, s0) if s0 is not None else inputs
    with device_scope(inputs[0].device):
        if steps == 0 or batch == 0:
            y = torch.empty_like(inputs[0])
            if not output_final_state:
                return y
            final = torch.zeros((batch, heads, n, n), dtype=torch.float32, device=y.device)
            if s0 is not None:
                final.copy_(s0.expand(batch, heads, n, n))
            return y, final
        if torch.is_grad_enabled() and any(t.requires_grad for t in tracked):
            return _wkv7_autograd_function().apply(*inputs, s0, code, output_final_state,
                                                   backend)
        y, final, _, _ = _wkv7_run_forward(inputs, code, s0, output_final_state, False,
                                           backend)
    return (y, final) if output_final_state else y


def wkv7s(state: Any, r: Any, w: Any, k: Any, v: Any, a: Any, b: Any, *,
          backend: Optional[str] = None) -> "torch.Tensor":
    """WKV7 inference (B.6): the recurrence of :func:`wkv7` with the raw decay
    ``d = exp(-exp(w))``, starting from ``state`` and leaving the state after the last step in
    it, so that consecutive calls (a prompt, then one token at a time) chain exactly.

    Args:
        state: fp32 (B, H, N, N) as [b, h, i, j], contiguous; updated in place.
        r, w, k, v, a, b: (B, T, C) with C = H * N (or (B, T, H, N)), fp32, bf16 or fp16 (w may
            be fp32); any T >= 0, T = 1 is a decode step.
        backend: "tile", "cuda" or "reference" for this call (default: :func:`get_backend`).

    Returns:
        y, shaped and typed like r. Not differentiable (use :func:`wkv7` to train).

    Example:
        >>> state = torch.zeros(64, 32, 64, 64, device="cuda")             # doctest: +SKIP
        >>> y = wkv7s(state, r, w, k, v, a, b)   # r ... (64, 1, 2048) bf16  # doctest: +SKIP
    """
    op = "wkv7s"
    backend = _resolve(backend, op)
    inputs = _check_wkv7(op, (r, w, k, v, a, b), "(B, T, C)")
    _check_backend_device(op, backend, "r", inputs[0])
    state = as_tensor(state, "state", op)
    if state.dim() != 4 or state.shape[2] != state.shape[3]:
        raise ValueError(f"wkv7s: state has shape {tuple(state.shape)}; expected (B, H, N, N)")
    batch, heads, n, _ = state.shape
    _check_head_size(op, n)
    shape = tuple(inputs[0].shape)
    if shape[:1] != (batch,) or (shape[2:] != (heads * n,) and shape[2:] != (heads, n)):
        raise ValueError(f"wkv7s: r has shape {shape}; expected (B, T, C) = "
                         f"({batch}, T, {heads * n}) or (B, T, H, N) to match state "
                         f"{tuple(state.shape)}")
    _check_wkv7_state(op, "state", state, ((batch, heads, n, n),), inputs[0].device)
    if not state.is_contiguous():
        raise ValueError("wkv7s: state is not contiguous; expected a contiguous (B, H, N, N) "
                         "tensor (it is updated in place)")
    inputs = tuple(t.contiguous() for t in inputs)
    steps = shape[1]
    if steps == 0 or batch == 0:
        return torch.empty_like(inputs[0])
    heads_view = tuple(t.view(batch, steps, heads, n) for t in inputs)
    with device_scope(inputs[0].device), torch.no_grad():
        y, _, _, _ = _wkv7_run_forward(heads_view, DECAY_CODES["raw"], state, True, False,
                                       backend, final=state, chunked=False)
    return y.view(shape)
