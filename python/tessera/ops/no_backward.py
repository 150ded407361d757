"""The autograd node of the ops that have no backward yet (``pow``, ``clamp``).

Their kernels run outside ``torch.autograd``, so a result they return as it is has no history:
a loss computed through it would backpropagate to the ops after it and silently leave every
input before it without a gradient. Instead, when grad mode is on and an input requires grad,
the result goes through ``without_backward``: it gets a node whose backward raises
``NotImplementedError`` naming the op. The forward runs as before (evaluation need not turn
grad off); a backward through it fails loudly. Writing into a given tensor (``out=``,
``inplace=True``) is refused up front in that case, as ``out=`` is for the ops with a backward.

    >>> x = torch.randn(8, device="cuda", requires_grad=True)      # doctest: +SKIP
    >>> tessera.ops.pow(x, 3.0).sum().backward()                     # doctest: +SKIP
    NotImplementedError: pow has no backward in tessera.ops yet; ...
"""
from __future__ import annotations

import functools
from typing import Any, Iterable

from .arguments import torch

__all__ = ["check_no_grad_out", "tracks_grad", "without_backward"]


def tracks_grad(inputs: Iterable[Any]) -> bool:
    """Whether grad mode is on and a tensor among ``inputs`` requires grad."""
    return torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in inputs)


def check_no_grad_out(op: str, inputs: Iterable[Any], how: str) -> None:
    """RuntimeError when ``tracks_grad(inputs)``: the op would write its result into a given
    tensor (``how``: "out=", "inplace=True"), which no node could record."""
    if tracks_grad(inputs):
        raise RuntimeError(f"{op}: {how} does not support autograd and an input requires grad; "
                           f"call it under torch.no_grad(), or without {how}")


@functools.lru_cache(maxsize=None)
def _function() -> type:
    """The torch.autograd.Function (built on first use: importing needs no PyTorch)."""
    class NoBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, op, result, *inputs):
            ctx.op = op
            return result

        @staticmethod
        def backward(ctx, *grads):
            raise NotImplementedError(
                f"{ctx.op} has no backward in tessera.ops yet; for gradients through it use "
                f"PyTorch's {ctx.op}, or compute it under torch.no_grad() where none are needed")

    return NoBackward


def without_backward(op: str, result: "torch.Tensor", inputs: Iterable[Any]) -> "torch.Tensor":
    """``result`` of ``op`` over ``inputs``; with a node whose backward raises where
    ``tracks_grad(inputs)`` and ``result`` is floating point (integer and bool results never
    require grad, as in PyTorch)."""
    if not result.dtype.is_floating_point:
        return result
    tracked = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    if not tracked or not torch.is_grad_enabled():
        return result
    return _function().apply(op, result, *tracked)
