"""``rotary_position_embedding`` (``specs/ops.md``, "Attention and position"), computed by the
kernel of ``kernels/rope.py``.

``input (B, S, H, D)`` fp16, bf16 or fp32; ``sin_table``, ``cos_table`` ``(S, D/2)`` either
fp32 or the input's dtype (both the same; a fp32 table keeps full angle precision for 16-bit
inputs, an input-dtype table is what a model that stores its cache in that dtype passes). The
rotation is computed in fp32 and rounded once to the input's dtype. Every tensor may have any
strides (a slice of a fused QKV projection, heads transposed, a broadcast table): they are
passed to the kernel, never copied. Interleaved pairs are read as one word per pair where the
memory allows it (16-byte accesses on aligned, contiguous heads).

The op is differentiable in ``input``: the rotation is orthogonal, so the gradient is the
output's gradient rotated back, the same kernel with ``-sin_table`` (and differentiable in turn,
for ``create_graph=True``). Gradients of the tables are not implemented; a backward that needs
them raises ``NotImplementedError``.

    >>> q = tessera.ops.rotary_position_embedding(q, sin, cos)                    # doctest: +SKIP
    >>> tessera.ops.rotary_position_embedding(k, sin, cos, interleaved=False,
    ...                                       inplace=True)                       # doctest: +SKIP
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Sequence, Tuple

try:
    import torch
except ImportError:  # pragma: no cover - the CPU tier has no PyTorch (as_tensor says so)
    torch = None

from ..utils import cdiv, next_power_of_2
from . import settings
from .arguments import as_tensor, check_bool, check_device, check_distinct, check_dtype
from .elementwise import neg
from .kernels.rope import rope_kernel
from .no_backward import check_no_grad_out, tracks_grad

__all__ = ["rotary_position_embedding", "launch_config"]

_OP = "rotary_position_embedding"
_DEFAULT_NUM_WARPS = 4
_MAX_BLOCK_HALF = 512  # pairs per program along D (1024 elements); longer heads take several
_TILE_PAIRS = 2048  # pairs per program (BLOCK_H x BLOCK_HALF), 8 KB of bf16 in and out
_ELEMENT = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}


def launch_config(heads: int, half: int) -> Dict[str, int]:
    """The tile of one program for ``heads`` heads of ``half`` pairs: ``BLOCK_HALF`` pairs (a
    power of two covering ``half`` up to 512) of ``BLOCK_H`` heads (up to ``_TILE_PAIRS`` pairs
    in all)."""
    block_half = min(next_power_of_2(half), _MAX_BLOCK_HALF)
    block_h = min(next_power_of_2(heads), max(1, _TILE_PAIRS // block_half))
    return {"BLOCK_HALF": block_half, "BLOCK_H": block_h}


def _extent(shape: Sequence[int], strides: Sequence[int]) -> int:
    """One past the largest element offset of a tensor (0 when empty)."""
    return 1 + sum((size - 1) * abs(stride) for size, stride in zip(shape, strides))


def _word_view(x: "torch.Tensor") -> Any:
    """``x`` (last dim contiguous, of even size) as words of two elements, or None where its
    memory does not allow it (an odd offset or stride, elements not adjacent)."""
    word = {torch.float16: torch.int32, torch.bfloat16: torch.int32,
            torch.float32: torch.int64}[x.dtype]
    if x.stride(3) != 1 and x.shape[3] > 1:
        return None
    # sizes of 1 take stride 0: their stride never matters and must not block the view
    strides = [st if size > 1 else 0 for st, size in zip(x.stride()[:3], x.shape[:3])] + [1]
    if x.storage_offset() % 2 or any(st % 2 for st in strides[:3]):
        return None
    return x.as_strided(x.shape, strides).view(word)


def _check_table(name: str, table: "torch.Tensor", x: "torch.Tensor", half: int) -> None:
    check_device(table, name, _OP)
    if table.device != x.device:
        raise ValueError(f"{_OP}: {name} is on {table.device} but input is on {x.device}; "
                         "expected tensors on one device")
    allowed = (torch.float32,) if x.dtype == torch.float32 else (torch.float32, x.dtype)
    check_dtype(table, name, _OP, allowed)
    expected = (x.shape[1], half)
    if tuple(table.shape) != expected:
        raise ValueError(f"{_OP}: {name} has shape {tuple(table.shape)}; expected (S, D/2) = "
                         f"{expected} for input of shape {tuple(x.shape)}")


def _arguments(x: "torch.Tensor", out: "torch.Tensor", sin: "torch.Tensor",
               cos: "torch.Tensor", interleaved: bool) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """The kernel's run-time arguments and constexprs for one launch."""
    batch, seq, heads, dim = x.shape
    half = dim // 2
    x_arg, out_arg = x, out
    paired = False
    if interleaved:
        x_words = _word_view(x)
        out_words = _word_view(out) if x_words is not None else None
        if out_words is not None:
            x_arg, out_arg, paired = x_words, out_words, True
    meta = launch_config(heads, half)
    reach = [batch, seq, cdiv(heads, meta["BLOCK_H"]) * meta["BLOCK_H"], dim]
    extents = [_extent(reach, t.stride()) for t in (x, out)] + \
        [_extent((seq, cdiv(half, meta["BLOCK_HALF"]) * meta["BLOCK_HALF"]), t.stride())
         for t in (sin, cos)]
    meta.update(HALF=half, EVEN_H=heads % meta["BLOCK_H"] == 0, INTERLEAVED=interleaved,
                PAIRED=paired, ELEMENT=_ELEMENT[str(x.dtype).replace("torch.", "")],
                INDEX_64=max(extents) >= 2 ** 31)
    args = (x_arg, out_arg, sin, cos, seq, heads, *x_arg.stride(), *out_arg.stride(),
            *sin.stride(), *cos.stride())
    return args, meta


def rotary_position_embedding(input: Any, sin_table: Any, cos_table: Any,
                              interleaved: bool = True, inplace: bool = False
                              ) -> "torch.Tensor":
    """Rotates each pair of channels of ``input (B, S, H, D)`` by the angle of its position.

    With ``x0, x1`` a pair (``x[..., 2i], x[..., 2i+1]`` when ``interleaved``, else
    ``x[..., i], x[..., D/2 + i]``) and ``sin, cos = sin_table[s, i], cos_table[s, i]``::

        out0 = x0 * cos - x1 * sin
        out1 = x0 * sin + x1 * cos

    Tables are fp32 or the input's dtype, of shape ``(S, D/2)``; the math is fp32 and the
    output has the input's dtype. ``inplace=True`` writes into ``input`` and returns it (refused
    while autograd records the call). Gradients flow to ``input``, not to the tables.

    >>> angles = torch.outer(torch.arange(S), 10000.0 ** (-torch.arange(0, D, 2) / D))
    >>> q = rotary_position_embedding(q, angles.sin().cuda(), angles.cos().cuda())
    ... # doctest: +SKIP
    >>> rotary_position_embedding(x.requires_grad_(), sin, cos).sum().backward()
    ... # doctest: +SKIP
    """
    x = as_tensor(input, "input", _OP)
    sin = as_tensor(sin_table, "sin_table", _OP)
    cos = as_tensor(cos_table, "cos_table", _OP)
    check_device(x, "input", _OP)
    check_dtype(x, "input", _OP, (torch.float16, torch.bfloat16, torch.float32))
    if x.dim() != 4:
        raise ValueError(f"{_OP}: input must have 4 dimensions (B, S, H, D), got shape "
                         f"{tuple(x.shape)}")
    dim = x.shape[3]
    if dim % 2:
        raise ValueError(f"{_OP}: the last dimension of input (D = {dim}) must be even: the "
                         "rotation acts on pairs of channels")
    _check_table("sin_table", sin, x, dim // 2)
    _check_table("cos_table", cos, x, dim // 2)
    if sin.dtype != cos.dtype:
        raise TypeError(f"{_OP}: sin_table has dtype {sin.dtype} but cos_table has "
                        f"{cos.dtype}; expected the same dtype")
    interleaved = check_bool(interleaved, "interleaved", _OP)
    if check_bool(inplace, "inplace", _OP):
        check_distinct(x, "input", _OP, "inplace=True needs distinct elements")
        check_no_grad_out(_OP, (x, sin, cos), "inplace=True")
        return _rotate(x, sin, cos, interleaved, x)
    if tracks_grad((x, sin, cos)):
        return _rotation_function().apply(x, sin, cos, interleaved)
    return _rotate(x, sin, cos, interleaved)


def _rotate(x: "torch.Tensor", sin: "torch.Tensor", cos: "torch.Tensor", interleaved: bool,
            out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """Launches the kernel on checked arguments, into ``out`` or a new tensor; returns it."""
    if out is None:
        out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if x.numel() == 0:
        return out
    args, meta = _arguments(x, out, sin, cos, interleaved)
    batch, seq, heads, _ = x.shape
    programs = (batch * seq * cdiv(heads, meta["BLOCK_H"])
                * cdiv(meta["HALF"], meta["BLOCK_HALF"]))
    if programs >= 2 ** 31:
        raise ValueError(f"{_OP}: input of shape {tuple(x.shape)} needs {programs} programs, "
                         "more than a launch's 2**31 - 1")
    num_warps = settings.get_default_num_warps() or _DEFAULT_NUM_WARPS
    rope_kernel[(programs,)](*args, **meta, num_warps=num_warps)
    return out


@functools.lru_cache(maxsize=None)
def _rotation_function() -> type:
    """The torch.autograd.Function of the op (built on first use: importing needs no
    PyTorch)."""
    class Rotation(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, sin, cos, interleaved):
            ctx.save_for_backward(sin, cos)
            ctx.interleaved = interleaved
            return _rotate(x, sin, cos, interleaved)

        @staticmethod
        def backward(ctx, grad):
            if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
                raise NotImplementedError(
                    f"{_OP} has no backward for sin_table and cos_table in tessera.ops yet; "
                    "pass tables that do not require grad (detach them)")
            sin, cos = ctx.saved_tensors
            # The public op again, so that a create_graph backward is itself differentiable.
            grad_x = rotary_position_embedding(grad, neg(sin), cos, ctx.interleaved)
            return grad_x, None, None, None

    return Rotation
