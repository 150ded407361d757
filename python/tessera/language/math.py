"""Element-wise math: transcendental functions, extrema, selection and integer helpers.

Float functions (``exp``, ``log``, ``sqrt``...) take fp16/bf16/fp32/fp64; fp16 and bf16
inputs are computed in fp32 and converted back. ``sigmoid(x)`` is ``1 / (1 + exp(-x))``
with Triton's promotion (so fp16 input gives fp32 output)::

    >>> y = tl.where(x > 0, x, 0.01 * x)       # doctest: +SKIP
    >>> z = tl.maximum(y, 0.0) + tl.exp(-y)    # doctest: +SKIP
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Callable

from . import semantic
from .core import builtin, tensor, tensor_member, unwrap
from .dtypes import bfloat16, float16, float32

__all__ = ["PropagateNan", "where", "minimum", "maximum", "exp", "exp2", "log", "log2", "sqrt",
           "rsqrt", "sin", "cos", "erf", "tanh", "trunc", "floor", "ceil", "abs", "sigmoid", "pow",
           "fmod", "fma", "cdiv"]


class PropagateNan(Enum):
    """Whether ``minimum``/``maximum`` return NaN when either input is NaN (``ALL``)."""

    NONE = 0
    ALL = 1


@builtin
def where(condition: Any, x: Any, y: Any) -> tensor:
    """``x`` where ``condition`` is true, else ``y`` (all three broadcast together)."""
    return semantic.where(condition, unwrap(x), unwrap(y))


def _extremum_operand(value: Any) -> tensor:
    value = semantic.to_tensor(value)
    return semantic.cast(value, float32) if value.dtype == bfloat16 else value


@builtin
def minimum(x: Any, y: Any, propagate_nan: PropagateNan = PropagateNan.NONE) -> tensor:
    """Element-wise minimum (bf16 is computed and returned as fp32, as in Triton)."""
    return semantic.extremum(_extremum_operand(x), _extremum_operand(y), False,
                             unwrap(propagate_nan) == PropagateNan.ALL)


@builtin
def maximum(x: Any, y: Any, propagate_nan: PropagateNan = PropagateNan.NONE) -> tensor:
    """Element-wise maximum (bf16 is computed and returned as fp32, as in Triton)."""
    return semantic.extremum(_extremum_operand(x), _extremum_operand(y), True,
                             unwrap(propagate_nan) == PropagateNan.ALL)


def _float_function(name: str, op: str, doc: str) -> Callable[[Any], tensor]:
    def function(x: Any) -> tensor:
        return semantic.float_math(op, x, name)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Element-wise {doc} of a floating-point ``x``."
    return tensor_member(builtin(function))


exp = _float_function("exp", "math.exp", "exponential")
exp2 = _float_function("exp2", "math.exp2", "base-2 exponential (fp32: one ex2.approx.ftz, "
                       "which flushes subnormal inputs and results to 0, as Triton's)")
log = _float_function("log", "math.log", "natural logarithm")
log2 = _float_function("log2", "math.log2", "base-2 logarithm")
sqrt = _float_function("sqrt", "math.sqrt", "square root")
rsqrt = _float_function("rsqrt", "math.rsqrt", "inverse square root")
sin = _float_function("sin", "math.sin", "sine")
cos = _float_function("cos", "math.cos", "cosine")
erf = _float_function("erf", "math.erf", "error function")
tanh = _float_function("tanh", "math.tanh", "hyperbolic tangent")
trunc = _float_function("trunc", "math.trunc", "rounding toward zero")
floor = _float_function("floor", "math.floor", "floor")
ceil = _float_function("ceil", "math.ceil", "ceiling")


@tensor_member
@builtin
def abs(x: Any) -> tensor:
    """Element-wise absolute value (unsigned integers are returned unchanged)."""
    x = semantic.to_tensor(x)
    if x.dtype.is_floating():
        return semantic.emit("math.absf", [x], x.type)
    if x.dtype.is_int_signed():
        return semantic.emit("math.absi", [x], x.type)
    if x.dtype.is_int_unsigned():
        return x
    raise TypeError(f"abs expects a number, got {x.dtype}")


@tensor_member
@builtin
def sigmoid(x: Any) -> tensor:
    """``1 / (1 + exp(-x))``."""
    return semantic.truediv(1, semantic.add(1, exp(semantic.minus(x))))


@builtin
def pow(x: Any, y: Any) -> tensor:
    """``x ** y`` on floats (C's ``powf``: exact for integral exponents of negative bases)."""
    return _binary_float_function("math.powf", x, y, "pow")


@builtin
def fmod(x: Any, y: Any) -> tensor:
    """C's ``fmod``: ``x - trunc(x / y) * y`` with the sign of ``x``, on floats."""
    return _binary_float_function("arith.remf", x, y, "fmod")


def _binary_float_function(op: str, x: Any, y: Any, name: str) -> tensor:
    x, y = semantic.binary_operands(x, y)
    ty = x.dtype
    if not ty.is_floating():
        raise TypeError(f"{name} expects floating-point arguments, got {ty}")
    if ty in (float16, bfloat16):
        wide = semantic.with_element(x.type, float32)
        result = semantic.emit(op, [semantic.cast(x, float32), semantic.cast(y, float32)], wide)
        return semantic.cast(result, ty)
    return semantic.emit(op, [x, y], x.type)


@builtin
def fma(x: Any, y: Any, z: Any) -> tensor:
    """``x * y + z`` with a single rounding, on floats."""
    x, y = semantic.binary_operands(x, y)
    z, x = semantic.binary_operands(z, x)
    z, y = semantic.binary_operands(z, y)
    if not x.dtype.is_floating():
        raise TypeError(f"fma expects floating-point arguments, got {x.dtype}")
    return semantic.emit("math.fma", [x, y, z], x.type)


@tensor_member
@builtin
def cdiv(x: Any, div: Any) -> Any:
    """``(x + div - 1) // div``: folded in Python when both are compile-time ints."""
    x, div = unwrap(x), unwrap(div)
    if not isinstance(x, tensor) and not isinstance(div, tensor):
        return (x + div - 1) // div
    return semantic.floordiv(semantic.sub(semantic.add(x, div), 1), div)
