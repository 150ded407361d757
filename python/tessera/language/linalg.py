"""Matrix multiplication on blocks: ``dot``.

    >>> acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)   # doctest: +SKIP
    >>> acc = tl.dot(a, b, acc)                                # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Optional

from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import (block_type, bfloat16, dtype, float16, float32, float64, int8, int32,
                     uint8)

__all__ = ["dot"]

_OPERAND_TYPES = (int8, uint8, float16, bfloat16, float32, float64)


def _input_precision(input_precision: Any, allow_tf32: Any) -> str:
    input_precision, allow_tf32 = unwrap(input_precision), unwrap(allow_tf32)
    if allow_tf32 is not None:
        if input_precision is not None:
            raise ValueError("only one of input_precision and allow_tf32 can be given")
        input_precision = "tf32" if allow_tf32 else "ieee"
    if input_precision is None:
        return "tf32"
    if input_precision not in ("tf32", "ieee"):
        raise ValueError(f"input_precision must be 'tf32' or 'ieee', got {input_precision!r}")
    return input_precision


@builtin
def dot(input: tensor, other: tensor, acc: Optional[tensor] = None,
        input_precision: Optional[str] = None, allow_tf32: Optional[bool] = None,
        max_num_imprecise_acc: Optional[int] = None, out_dtype: dtype = float32) -> tensor:
    """``input @ other + acc`` for 2-D blocks (M x K) @ (K x N).

    Operands are int8/uint8 (int32 result), fp16 (``out_dtype`` fp32 or fp16), bf16 or
    fp32 (fp32 result) or fp64. For fp32 operands ``input_precision`` is ``"tf32"``
    (default: tensor cores, 10-bit mantissa inputs) or ``"ieee"``; for other operand types
    it is recorded as ``"ieee"``. ``acc`` defaults to zeros.
    """
    input, other, acc = unwrap(input), unwrap(other), unwrap(acc)
    out_dtype = unwrap(out_dtype)
    if unwrap(max_num_imprecise_acc) is not None:
        raise ValueError("max_num_imprecise_acc applies to fp8 operands, which are not supported")
    for name, operand in (("input", input), ("other", other)):
        if not isinstance(operand, tensor) or len(operand.shape) != 2:
            raise ValueError(f"tl.dot expects 2-D blocks, got {name} {operand!r}")
        if operand.dtype not in _OPERAND_TYPES:
            raise TypeError(f"unsupported dot operand dtype {operand.dtype}")
    if input.dtype != other.dtype:
        raise TypeError(f"both dot operands must have the same dtype, got {input.dtype} and "
                        f"{other.dtype}")
    (m, k), (k2, n) = input.shape, other.shape
    if k != k2:
        raise ValueError(f"incompatible shapes for dot: {list(input.shape)} and "
                         f"{list(other.shape)} (inner dimensions {k} and {k2})")
    precision = _input_precision(input_precision, allow_tf32)
    element = input.dtype
    if element.is_int():
        result_element = int32
    elif out_dtype == bfloat16:
        raise ValueError("out_dtype=bfloat16 is unsupported; use float32/float16 and cast")
    elif element in (float32, bfloat16):
        result_element = float32
    elif element == float64:
        result_element = float64
    else:
        result_element = out_dtype
    if element != float32:
        precision = "ieee"
    result_ty = block_type(result_element, [m, n])
    if acc is None:
        acc = semantic.full([m, n], 0, result_element)
    elif not isinstance(acc, tensor) or acc.type != result_ty:
        raise TypeError(f"dot accumulator must be {result_ty}, got "
                        f"{getattr(acc, 'type', acc)}")
    return semantic.emit("tile.dot", [input, other, acc], result_ty,
                         {"input_precision": f'"{precision}"'})
