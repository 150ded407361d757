"""Values that start a kernel's computation: program ids, ranges and filled blocks.

    >>> pid = tl.program_id(axis=0)                  # doctest: +SKIP
    >>> offs = pid * 128 + tl.arange(0, 128)         # doctest: +SKIP
    >>> acc = tl.zeros((64, 64), dtype=tl.float32)   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import block_type, dtype, int32

__all__ = ["program_id", "num_programs", "arange", "zeros", "zeros_like", "full"]


def _grid_axis(axis: Any) -> int:
    axis = unwrap(axis)
    if axis not in (0, 1, 2) or isinstance(axis, bool):
        raise ValueError(f"program axis must be 0, 1 or 2, got {axis!r}")
    return axis


@builtin
def program_id(axis: int) -> tensor:
    """The index of this program along grid ``axis`` (int32 scalar)."""
    return semantic.emit("tile.program_id", [], int32, {"axis": f"{_grid_axis(axis)} : i32"})


@builtin
def num_programs(axis: int) -> tensor:
    """The number of programs along grid ``axis`` (int32 scalar)."""
    return semantic.emit("tile.num_programs", [], int32, {"axis": f"{_grid_axis(axis)} : i32"})


@builtin
def arange(start: int, end: int) -> tensor:
    """``[start, start + 1, ..., end - 1]`` as an int32 block; ``end - start`` a power of 2.

    Both bounds must be compile-time constants (``tl.constexpr``).
    """
    start, end = unwrap(start), unwrap(end)
    for bound in (start, end):
        if isinstance(bound, tensor):
            raise TypeError("arange's arguments must be tl.constexpr ints, got a tensor "
                            f"({semantic.CONSTEXPR_HINT})")
        if not isinstance(bound, int) or isinstance(bound, bool):
            raise TypeError(f"arange's arguments must be tl.constexpr ints, got {bound!r}")
    if not -2 ** 31 <= start < end <= 2 ** 31:
        raise ValueError(f"arange({start}, {end}): need start < end, both in int32 range")
    semantic.check_block_shape([end - start])
    return semantic.emit("tile.make_range", [], block_type(int32, [end - start]),
                         {"start": f"{start} : i32", "end": f"{end} : i32"})


def _shape_arg(shape: Union[int, Sequence[Any]]) -> Sequence[Any]:
    shape = unwrap(shape)
    return [shape] if isinstance(shape, int) else list(shape)


@builtin
def full(shape: Union[int, Sequence[int]], value: Any, dtype: Optional[dtype]) -> tensor:
    """A block of ``shape`` with every element ``value`` converted to ``dtype``."""
    return semantic.full(_shape_arg(shape), value, unwrap(dtype))


@builtin
def zeros(shape: Union[int, Sequence[int]], dtype: dtype) -> tensor:
    """A block of ``shape`` filled with zeros of ``dtype``."""
    return semantic.full(_shape_arg(shape), 0, unwrap(dtype))


@builtin
def zeros_like(input: tensor) -> tensor:
    """Zeros with ``input``'s shape and dtype."""
    return semantic.full(list(input.shape), 0, input.dtype)
