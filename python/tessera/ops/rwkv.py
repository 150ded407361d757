"""The RWKV kernels (``specs/rwkv-and-attention.md`` parts A and B) behind one dispatcher.

    import tessera.ops.rwkv as rwkv
    y = rwkv.wkv4(w, u, k, v)                      # k, v (B, T, C); w, u (C,); differentiable
    y = rwkv.wkv4(w, u, k, v, state=(aa, bb, pp))  # state fp32 (B, C) each, updated in place
    y = rwkv.wkv4(w, u, k, v, backend="reference") # float64 throughout
    rwkv.set_backend("reference")                  # the global choice; get_backend() reads it

Backends: ``"tile"``, kernels written in the Tessera DSL with fp32 math (the default), and
``"reference"``, the same recurrences computed in float64 on the GPU (inputs upcast on load,
outputs rounded once), for checking. ``"cuda"`` names the CUDA C++ kernels compiled through
NVRTC, which do not exist yet: selecting it raises NotImplementedError.

So far this module holds WKV (RWKV-4); WKV7 follows.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from .arguments import as_tensor, check_cuda, check_dtype, check_same, sm_count, torch
from .kernels.wkv4 import (choose_block, wkv4_bwd_kernel, wkv4_fwd_kernel,
                           wkv4_sum_rows_kernel)

__all__ = ["BACKENDS", "get_backend", "set_backend", "wkv4"]

BACKENDS = ("tile", "cuda", "reference")
_backend = "tile"
_IO_DTYPES = (torch.float32, torch.bfloat16, torch.float16) if torch is not None else ()


def set_backend(name: str) -> None:
    """Selects the backend of every later call that does not name one: "tile", "cuda" or
    "reference"."""
    global _backend
    _backend = _check_backend(name, "set_backend")


def get_backend() -> str:
    """The backend calls use when they name none (initially "tile")."""
    return _backend


def _check_backend(name: Any, op: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{op}: backend is {name!r}; expected one of "
                         f"{', '.join(repr(b) for b in BACKENDS)}")
    return name


def _resolve(backend: Optional[str], op: str) -> bool:
    """Whether the call computes in float64 (the reference backend)."""
    name = _backend if backend is None else _check_backend(backend, op)
    if name == "cuda":
        raise NotImplementedError(f"{op}: the 'cuda' backend (CUDA C++ through NVRTC) is not "
                                  "available yet; use backend='tile' or 'reference'")
    return name == "reference"


def _check_wkv4(w: Any, u: Any, k: Any, v: Any) -> Tuple["torch.Tensor", ...]:
    op = "wkv4"
    w, u, k, v = (as_tensor(t, name, op) for t, name in ((w, "w"), (u, "u"), (k, "k"), (v, "v")))
    for name, tensor in (("k", k), ("v", v), ("w", w), ("u", u)):
        check_cuda(tensor, name, op)
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
    batch, _, channels = k.shape
    block = choose_block(batch, channels, sm_count(k.device.index))
    return (-(-channels // block), batch), block


def _forward(w, u, k, v, state, f64: bool) -> "torch.Tensor":
    y = torch.empty_like(k)
    batch, steps, channels = k.shape
    grid, block = _grid_and_block(k)
    aa, bb, pp = state if state is not None else (None, None, None)
    wkv4_fwd_kernel[grid](w, u, k, v, y, aa, bb, pp, steps, channels, k.stride(0), k.stride(1),
                          BLOCK_C=block, STATE=state is not None, F64=f64,
                          num_warps=block // 32)
    return y


def _backward(w, u, k, v, gy, f64: bool):
    batch, steps, channels = k.shape
    gy = gy.contiguous()
    compute = torch.float64 if f64 else torch.float32
    gk, gv = torch.empty_like(k), torch.empty_like(v)
    saved = torch.empty((3, batch, steps, channels), dtype=compute, device=k.device)
    gw_rows = torch.empty((batch, channels), dtype=compute, device=k.device)
    gu_rows = torch.empty((batch, channels), dtype=compute, device=k.device)
    grid, block = _grid_and_block(k)
    wkv4_bwd_kernel[grid](w, u, k, v, gy, gk, gv, gw_rows, gu_rows, saved, steps, channels,
                          k.stride(0), k.stride(1), BLOCK_C=block, F64=f64,
                          num_warps=block // 32)
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
            def forward(ctx, w, u, k, v, f64):
                ctx.f64 = f64
                ctx.save_for_backward(w, u, k, v)
                return _forward(w, u, k, v, None, f64)

            @staticmethod
            def backward(ctx, gy):
                w, u, k, v = ctx.saved_tensors
                return (*_backward(w, u, k, v, gy, ctx.f64), None)

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
        backend: "tile" or "reference" for this call (default: :func:`get_backend`).

    Returns:
        y (B, T, C) in k's dtype. Without ``state`` the op is differentiable in w, u, k and v
        (gw is dL/dw times w, i.e. the gradient of ``time_decay``).

    Example:
        >>> k = torch.randn(2, 64, 256, device="cuda")                     # doctest: +SKIP
        >>> w = -torch.exp(torch.randn(256, device="cuda"))                # doctest: +SKIP
        >>> y = wkv4(w, torch.randn(256, device="cuda"), k, torch.randn_like(k))  # doctest: +SKIP
    """
    f64 = _resolve(backend, "wkv4")
    w, u, k, v = _check_wkv4(w, u, k, v)
    if state is not None:
        state = _check_state(state, k)
        if torch.is_grad_enabled() and any(t.requires_grad for t in (w, u, k, v)):
            raise NotImplementedError("wkv4: gradients through a call with a state are not "
                                      "supported yet; call it under torch.no_grad()")
    if k.numel() == 0:
        return torch.empty_like(k)
    if state is None and torch.is_grad_enabled() and any(
            t.requires_grad for t in (w, u, k, v)):
        return _autograd_function().apply(w, u, k, v, f64)
    return _forward(w, u, k, v, state, f64)
