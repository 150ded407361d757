"""Constructs the code generator interprets at compile time: loop iterators and asserts.

    for i in tl.static_range(4):        # unrolled: i is a compile-time int in the body
        ...
    for k in tl.range(0, K, BLOCK_K):   # an scf.for loop, like Python's range
        ...
    tl.static_assert(BLOCK % 16 == 0, "BLOCK must be a multiple of 16")
"""
from __future__ import annotations

import builtins
from typing import Any, Iterator, Optional

from .core import builtin, unwrap

__all__ = ["static_range", "range", "static_assert"]


def _bounds(arg1: Any, arg2: Any, step: Any) -> tuple:
    arg1, arg2, step = unwrap(arg1), unwrap(arg2), unwrap(step)
    start, end = (0, arg1) if arg2 is None else (arg1, arg2)
    return start, end, 1 if step is None else step


class static_range:
    """An iterator unrolled at compile time; bounds must be ``tl.constexpr`` ints.

    >>> list(static_range(1, 7, 2))
    [1, 3, 5]
    """

    def __init__(self, arg1: int, arg2: Optional[int] = None, step: Optional[int] = None) -> None:
        self.start, self.end, self.step = _bounds(arg1, arg2, step)
        for bound in (self.start, self.end, self.step):
            if not isinstance(bound, int) or isinstance(bound, bool):
                raise TypeError("static_range bounds must be tl.constexpr ints, got "
                                f"{bound!r}")

    def __iter__(self) -> Iterator[int]:
        return iter(builtins.range(self.start, self.end, self.step))


@builtin
class range:
    """A run-time loop (``scf.for``) over ``[start, end)`` by ``step``, like Python's range.

    Bounds may be tensors or constants; a negative ``step`` must be a constant.
    """

    def __init__(self, arg1: Any, arg2: Any = None, step: Any = None) -> None:
        self.start, self.end, self.step = _bounds(arg1, arg2, step)


@builtin
def static_assert(condition: Any, message: str = "") -> None:
    """Fails compilation with ``message`` unless the compile-time ``condition`` holds."""
    condition = unwrap(condition)
    if not isinstance(condition, (bool, int)):
        raise TypeError("static_assert needs a compile-time condition")
    if not condition:
        raise AssertionError(f"static_assert failed: {unwrap(message)}" if message
                             else "static_assert failed")
