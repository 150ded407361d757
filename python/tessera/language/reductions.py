"""Reductions along an axis (or over all elements when ``axis`` is None).

Each emits one ``tile.reduce`` whose region combines two elements with ``arith`` ops;
argmax/argmin reduce (value, index) pairs, breaking ties toward the smaller index::

    >>> row_max = tl.max(x, axis=1)                   # doctest: +SKIP
    >>> total = tl.sum(x)                              # doctest: +SKIP
    >>> best = tl.argmax(scores, axis=0)               # doctest: +SKIP

As in Triton, ``sum`` accumulates integers narrower than 32 bits in (u)int32, ``max`` and
``min`` compute types narrower than 32 bits in int32/fp32, and bf16 max/min return fp32.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from . import semantic
from .core import builtin, tensor, tensor_member, unwrap
from .creation import arange
from .dtypes import bfloat16, dtype, float32, int32, uint32

__all__ = ["sum", "max", "min", "argmax", "argmin"]


def _axis(axis: Any) -> Optional[int]:
    axis = unwrap(axis)
    if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool)):
        raise TypeError(f"axis must be a tl.constexpr int or None, got {axis!r}")
    return axis


def _keep_dims(result: tensor, axis: Optional[int], shape: Tuple[int, ...]) -> tensor:
    if axis is None:
        return semantic.reshape(result, [1] * len(shape))
    return semantic.expand_dims(result, semantic.wrap_axis(axis, len(shape)))


def _reduce(input: tensor, axis: Optional[int], keep_dims: bool,
            combine: semantic.Combine) -> tensor:
    (result,) = semantic.reduce([input], axis, combine)
    return _keep_dims(result, axis, input.shape) if unwrap(keep_dims) else result


def _block(input: Any) -> tensor:
    input = unwrap(input)
    if not isinstance(input, tensor) or not input.type.is_block():
        raise TypeError(f"reductions expect a block tensor, got {input!r}")
    return input


@tensor_member
@builtin
def sum(input: tensor, axis: Optional[int] = None, keep_dims: bool = False,
        dtype: Optional[dtype] = None) -> tensor:
    """The sum along ``axis``; ``dtype`` sets the accumulation type."""
    input = _block(input)
    out = unwrap(dtype)
    if out is None and input.dtype.is_int() and input.dtype.int_bitwidth < 32:
        out = int32 if input.dtype.is_int_signed() else uint32
    if out is not None:
        input = semantic.cast(input, out)
    return _reduce(input, _axis(axis), keep_dims, lambda a, b: [semantic.add(a[0], b[0])])


def _argext_combine(maximum: bool, tie_break_left: bool) -> semantic.Combine:
    def combine(lhs: List[tensor], rhs: List[tensor]) -> List[tensor]:
        (value1, index1), (value2, index2) = lhs, rhs
        better = (semantic.greater_than if maximum else semantic.less_than)(value1, value2)
        if tie_break_left:
            tie = semantic.logical_and(semantic.equal(value1, value2),
                                       semantic.less_than(index1, index2))
            better = semantic.logical_or(better, tie)
        return [semantic.where(better, value1, value2), semantic.where(better, index1, index2)]
    return combine


def _reduce_with_indices(input: tensor, axis: Optional[int], keep_dims: bool, maximum: bool,
                         tie_break_left: bool) -> Tuple[tensor, tensor]:
    original_shape = input.shape
    if axis is None:
        input = semantic.reshape(input, [input.numel])
        reduce_axis = 0
    else:
        reduce_axis = semantic.wrap_axis(axis, len(input.shape))
    index = arange(0, input.shape[reduce_axis])
    for dim in range(len(input.shape)):
        if dim != reduce_axis:
            index = semantic.expand_dims(index, dim)
    index = semantic.broadcast_to_shape(index, input.shape)
    value, index = semantic.reduce([input, index], reduce_axis,
                                   _argext_combine(maximum, tie_break_left))
    if unwrap(keep_dims):
        value = _keep_dims(value, axis, original_shape)
        index = _keep_dims(index, axis, original_shape)
    return value, index


def _extremum(input: Any, axis: Any, return_indices: Any, tie_break_left: Any, keep_dims: Any,
              maximum: bool) -> Union[tensor, Tuple[tensor, tensor]]:
    input = _block(input)
    axis = _axis(axis)
    if input.dtype == bfloat16:
        input = semantic.cast(input, float32)
    if unwrap(return_indices):
        return _reduce_with_indices(input, axis, unwrap(keep_dims), maximum,
                                    unwrap(tie_break_left))
    if input.dtype.primitive_bitwidth < 32:
        input = semantic.cast(input, float32 if input.dtype.is_floating() else int32)
    return _reduce(input, axis, keep_dims,
                   lambda a, b: [semantic.extremum(a[0], b[0], maximum, False)])


@tensor_member
@builtin
def max(input: tensor, axis: Optional[int] = None, return_indices: bool = False,
        return_indices_tie_break_left: bool = True,
        keep_dims: bool = False) -> Union[tensor, Tuple[tensor, tensor]]:
    """The maximum along ``axis`` (NaNs ignored); with ``return_indices``, also its index."""
    return _extremum(input, axis, return_indices, return_indices_tie_break_left, keep_dims, True)


@tensor_member
@builtin
def min(input: tensor, axis: Optional[int] = None, return_indices: bool = False,
        return_indices_tie_break_left: bool = True,
        keep_dims: bool = False) -> Union[tensor, Tuple[tensor, tensor]]:
    """The minimum along ``axis`` (NaNs ignored); with ``return_indices``, also its index."""
    return _extremum(input, axis, return_indices, return_indices_tie_break_left, keep_dims, False)


@tensor_member
@builtin
def argmax(input: tensor, axis: Optional[int], tie_break_left: bool = True,
           keep_dims: bool = False) -> tensor:
    """The int32 index of the maximum along ``axis`` (the first one on ties)."""
    return _extremum(input, axis, True, tie_break_left, keep_dims, True)[1]


@tensor_member
@builtin
def argmin(input: tensor, axis: Optional[int], tie_break_left: bool = True,
           keep_dims: bool = False) -> tensor:
    """The int32 index of the minimum along ``axis`` (the first one on ties)."""
    return _extremum(input, axis, True, tie_break_left, keep_dims, False)[1]
