"""Shape manipulation: insert axes, broadcast, reshape and permute.

    >>> x[:, None]                           # same as tl.expand_dims(x, 1)   # doctest: +SKIP
    >>> tl.broadcast_to(row, (BLOCK_M, BLOCK_N))                           # doctest: +SKIP
    >>> tl.reshape(x, (4, 64)); tl.trans(a); a.T                          # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, List, Sequence, Union

from . import semantic
from .core import builtin, tensor, tensor_member, unwrap

__all__ = ["expand_dims", "broadcast_to", "reshape", "trans", "permute"]


def _dims(dims: Sequence[Any]) -> List[Any]:
    """Accepts ``f(x, a, b)`` and ``f(x, (a, b))`` spellings of a shape or order."""
    if len(dims) == 1 and isinstance(unwrap(dims[0]), (tuple, list)):
        return [unwrap(d) for d in unwrap(dims[0])]
    return [unwrap(d) for d in dims]


@tensor_member
@builtin
def expand_dims(input: Any, axis: Union[int, Sequence[int]]) -> tensor:
    """Inserts size-1 dimensions at ``axis`` (an int or a sequence, in result positions)."""
    input = semantic.to_tensor(input)
    axis = unwrap(axis)
    axes: List[Any] = [unwrap(a) for a in axis] if isinstance(axis, (tuple, list)) else [axis]
    rank = len(input.shape) + len(axes)
    axes = [semantic.wrap_axis(a, rank) for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"expand_dims received duplicate axes {axes}")
    for a in sorted(axes):
        input = semantic.expand_dims(input, a)
    return input


@tensor_member
@builtin
def broadcast_to(input: Any, *shape: Any) -> tensor:
    """Broadcasts ``input`` to ``shape`` (size-1 dimensions widen; scalars splat)."""
    return semantic.broadcast_to_shape(semantic.to_tensor(input),
                                       semantic.check_block_shape(_dims(shape)))


@tensor_member
@builtin
def reshape(input: tensor, *shape: Any, can_reorder: bool = False) -> tensor:
    """Gives ``input`` a new shape with the same number of elements (row-major order)."""
    return semantic.reshape(semantic.to_tensor(input), _dims(shape))


@tensor_member
@builtin
def permute(input: tensor, *dims: Any) -> tensor:
    """Permutes dimensions: result dimension ``i`` is ``input``'s dimension ``dims[i]``."""
    return semantic.permute(semantic.to_tensor(input), _dims(dims))


@tensor_member
@builtin
def trans(input: tensor, *dims: Any) -> tensor:
    """Transposes a 2-D tensor, or permutes by ``dims`` when given."""
    input = semantic.to_tensor(input)
    order = _dims(dims) or [1, 0]
    return semantic.permute(input, order)
