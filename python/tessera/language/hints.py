"""Compiler hints: facts about integer and pointer values that the compiler cannot prove.

The compiler vectorises a load or store (up to 16 bytes per thread) where it can show that
the pointers are consecutive and aligned. Offsets computed from run-time values hide that;
``multiple_of`` and ``max_contiguous`` state it::

    offs = pid * BLOCK + tl.arange(0, BLOCK)
    offs = tl.max_contiguous(tl.multiple_of(offs, BLOCK), BLOCK)

Both return their input unchanged, as a ``tile.hint`` op that the axis analysis reads and
code generation drops. They are promises: a false one makes accesses read or write the
wrong elements.
"""
from __future__ import annotations

from typing import Any, List, Sequence, Union

from . import semantic
from .core import builtin, tensor, unwrap

__all__ = ["multiple_of", "max_contiguous"]


def _hint_values(input: Any, values: Union[int, Sequence[int]], name: str) -> List[int]:
    """``values`` as one positive int per dimension of ``input`` (one for a scalar)."""
    if not isinstance(input, tensor) or not (input.dtype.is_int() or input.dtype.is_ptr()):
        raise TypeError(f"tl.{name} expects an integer or pointer tensor, got "
                        f"{getattr(input, 'type', input)!r}")
    values = unwrap(values)
    items = [unwrap(v) for v in values] if isinstance(values, (tuple, list)) else [values]
    for index, value in enumerate(items):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"tl.{name}: values element {index} must be a tl.constexpr int, "
                            f"got {value!r}")
        if value <= 0:
            raise ValueError(f"tl.{name}: values must be positive, got {value}")
    rank = len(input.shape)
    if len(items) != max(1, rank):
        raise ValueError(f"tl.{name}: {len(items)} values for a tensor of rank {rank}; give "
                         "one per dimension (one for a scalar)")
    return items


def _hint(input: tensor, attribute: str, facts: Sequence[int]) -> tensor:
    array = "array<i64: " + ", ".join(str(fact) for fact in facts) + ">"
    return semantic.emit("tile.hint", [input], input.type, {attribute: array})


def _power_of_two_dividing(value: int) -> int:
    return value & -value


@builtin
def multiple_of(input: tensor, values: Union[int, Sequence[int]]) -> tensor:
    """``input``, with the promise that along each dimension the first value of every run of
    consecutive values (every value of a scalar) is a multiple of ``values[d]``.

    ``values`` is an int or one int per dimension. For pointers the multiple is of the
    address in bytes, as for pointer arguments specialised divisible by 16. A value that is
    not a power of two promises its largest power-of-two divisor (24 promises 8)::

        X = tl.multiple_of(X, 16)                       # X is 16-byte aligned
        offs = tl.multiple_of(pid * n, 8)               # n is known to be a multiple of 8
    """
    input = unwrap(input)
    facts = [_power_of_two_dividing(v) for v in _hint_values(input, values, "multiple_of")]
    return _hint(input, "divisibility", facts)


@builtin
def max_contiguous(input: tensor, values: Union[int, Sequence[int]]) -> tensor:
    """``input``, with the promise that along each dimension its values come in runs of
    ``values[d]`` consecutive integers (or pointers to consecutive elements), each run
    starting at a multiple of ``values[d]`` positions.

    ``values`` is an int or one int per dimension; each is reduced to its largest
    power-of-two divisor and to the dimension's size (a scalar's runs have length 1)::

        offs = tl.max_contiguous(tl.multiple_of(offs, BLOCK), BLOCK)
    """
    input = unwrap(input)
    runs = _hint_values(input, values, "max_contiguous")
    facts = [min(_power_of_two_dividing(v), dim) for v, dim in zip(runs, input.shape or (1,))]
    return _hint(input, "contiguity", facts)
