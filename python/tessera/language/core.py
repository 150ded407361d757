"""The language's value types: ``constexpr`` (compile-time values) and ``tensor`` (IR values).

Inside a ``@tessera.jit`` function every run-time value is a ``tensor``: a scalar (shape
``()``) or a block with a static power-of-two shape. Python operators on tensors emit
tile IR through the current builder, following Triton's promotion and broadcasting::

    @tessera.jit
    def kernel(X, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)   # tensor[BLOCK] of int32
        x = tl.load(X + offs, mask=offs < n, other=0.0)
        tl.store(X + offs, -x * 2)
"""
from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import Any, Callable, List, Sequence, Tuple, TypeVar

from .dtypes import dtype

__all__ = ["constexpr", "tensor", "aggregate", "builtin", "tensor_member", "unwrap",
           "is_builtin"]

F = TypeVar("F", bound=Callable[..., Any])


class constexpr:
    """A compile-time constant.

    As a parameter annotation (``BLOCK: tl.constexpr``) it makes the argument part of the
    specialisation and folds it into the kernel; as a value (``GROUP = tl.constexpr(8)``) it
    marks a global usable inside kernels. Arithmetic on constexprs folds in Python:

        >>> (constexpr(6) * 7).value
        42
    """

    def __init__(self, value: Any) -> None:
        self.value: Any = value.value if isinstance(value, constexpr) else value

    def __repr__(self) -> str:
        return f"constexpr[{self.value!r}]"

    def __index__(self) -> int:
        return operator.index(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __neg__(self) -> "constexpr":
        return constexpr(-self.value)

    def __invert__(self) -> "constexpr":
        return constexpr(~self.value)


def _constexpr_operator(op: Callable[[Any, Any], Any], reflected: bool) -> Callable:
    def method(self: constexpr, other: Any) -> constexpr:
        other = unwrap(other)
        return constexpr(op(other, self.value) if reflected else op(self.value, other))
    return method


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                   ("mod", operator.mod), ("pow", operator.pow), ("and", operator.and_),
                   ("or", operator.or_), ("xor", operator.xor), ("lshift", operator.lshift),
                   ("rshift", operator.rshift)]:
    setattr(constexpr, f"__{_name}__", _constexpr_operator(_op, False))
    setattr(constexpr, f"__r{_name}__", _constexpr_operator(_op, True))
for _name, _op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                   ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge)]:
    setattr(constexpr, f"__{_name}__", _constexpr_operator(_op, False))


def unwrap(value: Any) -> Any:
    """The Python value of a ``constexpr``; any other value unchanged."""
    return value.value if isinstance(value, constexpr) else value


def builtin(fn: F) -> F:
    """Marks a language function that accepts tensors (the code generator calls it directly)."""
    fn.__tessera_builtin__ = True  # type: ignore[attr-defined]
    return fn


def is_builtin(fn: Any) -> bool:
    return getattr(fn, "__tessera_builtin__", False)


def tensor_member(fn: F) -> F:
    """Also exposes a language function as a ``tensor`` method (``x.sum(0)``, ``x.exp()``)."""
    setattr(tensor, fn.__name__, fn)
    return fn


class tensor:
    """An SSA value of the kernel being generated: ``handle`` is its name, ``type`` its type.

    ``dtype`` is the element type, ``shape`` a tuple of ints (``()`` for scalars).
    """

    def __init__(self, handle: str, type: dtype) -> None:
        self.handle = handle
        self.type = type
        self.dtype: dtype = type.scalar
        self.shape: Tuple[int, ...] = type.shape if type.is_block() else ()
        self.numel: int = type.numel if type.is_block() else 1

    def __repr__(self) -> str:
        return f"tensor({self.handle}: {self.type})"

    def __bool__(self) -> bool:
        raise TypeError("a tensor has no Python truth value; use it in `if`/`where` inside "
                        "the kernel, or make it a tl.constexpr")

    __hash__ = object.__hash__

    # ---- arithmetic ----------------------------------------------------------------------
    def __add__(self, other: Any) -> "tensor":
        return semantic.add(self, other)

    def __radd__(self, other: Any) -> "tensor":
        return semantic.add(other, self)

    def __sub__(self, other: Any) -> "tensor":
        return semantic.sub(self, other)

    def __rsub__(self, other: Any) -> "tensor":
        return semantic.sub(other, self)

    def __mul__(self, other: Any) -> "tensor":
        return semantic.mul(self, other)

    def __rmul__(self, other: Any) -> "tensor":
        return semantic.mul(other, self)

    def __truediv__(self, other: Any) -> "tensor":
        return semantic.truediv(self, other)

    def __rtruediv__(self, other: Any) -> "tensor":
        return semantic.truediv(other, self)

    def __floordiv__(self, other: Any) -> "tensor":
        return semantic.floordiv(self, other)

    def __rfloordiv__(self, other: Any) -> "tensor":
        return semantic.floordiv(other, self)

    def __mod__(self, other: Any) -> "tensor":
        return semantic.mod(self, other)

    def __rmod__(self, other: Any) -> "tensor":
        return semantic.mod(other, self)

    def __neg__(self) -> "tensor":
        return semantic.minus(self)

    def __pos__(self) -> "tensor":
        return self

    def __invert__(self) -> "tensor":
        return semantic.invert(self)

    # ---- bitwise -------------------------------------------------------------------------
    def __and__(self, other: Any) -> "tensor":
        return semantic.and_(self, other)

    def __rand__(self, other: Any) -> "tensor":
        return semantic.and_(other, self)

    def __or__(self, other: Any) -> "tensor":
        return semantic.or_(self, other)

    def __ror__(self, other: Any) -> "tensor":
        return semantic.or_(other, self)

    def __xor__(self, other: Any) -> "tensor":
        return semantic.xor_(self, other)

    def __rxor__(self, other: Any) -> "tensor":
        return semantic.xor_(other, self)

    def __lshift__(self, other: Any) -> "tensor":
        return semantic.shl(self, other)

    def __rlshift__(self, other: Any) -> "tensor":
        return semantic.shl(other, self)

    def __rshift__(self, other: Any) -> "tensor":
        return semantic.shr(self, other)

    def __rrshift__(self, other: Any) -> "tensor":
        return semantic.shr(other, self)

    # ---- comparison ----------------------------------------------------------------------
    def __lt__(self, other: Any) -> "tensor":
        return semantic.less_than(self, other)

    def __le__(self, other: Any) -> "tensor":
        return semantic.less_equal(self, other)

    def __gt__(self, other: Any) -> "tensor":
        return semantic.greater_than(self, other)

    def __ge__(self, other: Any) -> "tensor":
        return semantic.greater_equal(self, other)

    def __eq__(self, other: Any) -> "tensor":  # type: ignore[override]
        return semantic.equal(self, other)

    def __ne__(self, other: Any) -> "tensor":  # type: ignore[override]
        return semantic.not_equal(self, other)

    # ---- shape and type ------------------------------------------------------------------
    def __getitem__(self, slices: Any) -> "tensor":
        """``x[:, None]`` / ``x[None, :]``: ``None`` inserts a size-1 axis, ``:`` keeps one."""
        if not isinstance(slices, tuple):
            slices = (slices,)
        result = self
        for dim, item in enumerate(slices):
            item = unwrap(item)
            if item is None:
                result = semantic.expand_dims(result, dim)
            elif isinstance(item, slice) and item == slice(None, None, None):
                continue
            else:
                raise ValueError(f"unsupported tensor index {item!r}: only `:` and `None`")
        return result

    def to(self, dtype: dtype, fp_downcast_rounding: Any = None, bitcast: bool = False) -> "tensor":
        """Converts to ``dtype`` (``bitcast=True`` reinterprets bits of the same width).

        ``fp_downcast_rounding`` is ``"rtne"`` (default) or ``"rtz"`` for float narrowing.
        """
        dtype = unwrap(dtype)
        if unwrap(bitcast):
            return semantic.bitcast(self, dtype)
        return semantic.cast(self, dtype, unwrap(fp_downcast_rounding))

    @property
    def T(self) -> "tensor":
        """The transpose of a 2-D tensor."""
        return semantic.permute(self, (1, 0))


class aggregate(ABC):
    """A run-time value made of several tensors, such as a block pointer.

    ``type`` describes all of it but its tensors' values: two aggregates of equal ``type``
    flatten to tensors of the same types. Loops carry, and run-time ``if``s yield, the
    ``flatten()`` tensors and rebuild the value with ``unflatten``.
    """

    @property
    @abstractmethod
    def type(self) -> Any:
        """The value's compile-time description (hashable, printable)."""

    @abstractmethod
    def flatten(self) -> List[tensor]:
        """The tensors the value is made of, in a fixed order."""

    @abstractmethod
    def unflatten(self, values: Sequence[tensor]) -> "aggregate":
        """A value of this ``type`` made of ``values`` (tensors like ``flatten()``'s)."""


from . import semantic  # noqa: E402  (semantic builds on tensor; the methods call it late)
