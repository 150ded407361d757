"""Typing, promotion, broadcasting and op emission: the rules behind every language op.

These follow Triton's ``semantic.py``: Python numbers join promotion only when of a higher
kind than the tensor (bool < int < float), integers promote by C's usual conversions,
fp16/bf16 mixed with fp32 give fp32, ``/`` always yields a float, ``//`` and ``%`` on
integers truncate like C. Errors are ``TypeError`` (types) and ``ValueError`` (shapes and
values); the code generator adds the source location.
"""
from __future__ import annotations

import math
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from ..compiler.ir_builder import current_builder
from .core import tensor, unwrap
from .dtypes import (block_type, bfloat16, dtype, float16, float32, float64, int1, int32,
                     int64, uint32, uint64)

MAX_TENSOR_NUMEL = 1048576
CONSTEXPR_HINT = ("a variable assigned a number is a tensor unless annotated "
                  "`name: tl.constexpr = ...`")

# arith.cmpi / arith.cmpf predicate numbers (I64EnumAttr values in MLIR's arith dialect).
_CMPI = {"eq": 0, "ne": 1, "slt": 2, "sle": 3, "sgt": 4, "sge": 5, "ult": 6, "ule": 7,
         "ugt": 8, "uge": 9}
_CMPF = {"oeq": 1, "ogt": 2, "oge": 3, "olt": 4, "ole": 5, "une": 13}
# arith.truncf rounding modes.
_ROUNDING = {"rtne": 0, "rtz": 3}


# ==== emission helpers ======================================================================
def emit(op: str, operands: Sequence[tensor], result: dtype,
         attributes: Optional[Mapping[str, Optional[str]]] = None) -> tensor:
    """Emits ``op`` on tensors with one result of type ``result``."""
    (name,) = current_builder().emit(op, [(t.handle, t.type.mlir) for t in operands],
                                     [result.mlir], attributes)
    return tensor(name, result)


def emit_without_result(op: str, operands: Sequence[tensor],
                        attributes: Optional[Mapping[str, Optional[str]]] = None) -> None:
    """Emits ``op`` on tensors, for ops without results (``tile.store``)."""
    current_builder().emit(op, [(t.handle, t.type.mlir) for t in operands], [], attributes)


def with_element(ty: dtype, element: dtype) -> dtype:
    """``ty``'s shape with ``element`` as the element type."""
    return block_type(element, ty.shape) if ty.is_block() else element


def is_py_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float))


# ==== constants =============================================================================
_FLOAT_OVERFLOW = {  # smallest magnitude that rounds to infinity
    "fp16": 65520.0, "bf16": (2 - 2 ** -8) * 2.0 ** 127, "fp32": (2 - 2 ** -24) * 2.0 ** 127,
}
_FLOAT_SPECIAL_BITS = {  # (+inf, nan) bit patterns; -inf sets the sign bit
    "fp16": (0x7C00, 0x7E00, 16), "bf16": (0x7F80, 0x7FC0, 16),
    "fp32": (0x7F800000, 0x7FC00000, 32), "fp64": (0x7FF0000000000000, 0x7FF8000000000000, 64),
}


def float_literal(value: float, ty: dtype) -> str:
    """An MLIR float literal for ``value`` in ``ty``; hex bits for infinities and NaN."""
    if math.isfinite(value) and abs(value) < _FLOAT_OVERFLOW.get(ty.name, math.inf):
        text = repr(float(value))
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    inf_bits, nan_bits, width = _FLOAT_SPECIAL_BITS[ty.name]
    if math.isnan(value):
        bits = nan_bits
    else:
        bits = inf_bits | ((1 << (width - 1)) if value < 0 else 0)
    return f"0x{bits:0{width // 4}X}"


def constant_attribute(value: Any, ty: dtype) -> str:
    """The ``value`` attribute of an ``arith.constant`` of scalar type ``ty``."""
    if ty.is_bool():
        return "true" if value else "false"
    if ty.is_int():
        bits = ty.int_bitwidth
        wrapped = int(value) & ((1 << bits) - 1)
        if wrapped >= 1 << (bits - 1):
            wrapped -= 1 << bits
        return f"{wrapped} : {ty.mlir}"
    if ty.is_floating():
        return f"{float_literal(float(value), ty)} : {ty.mlir}"
    raise TypeError(f"cannot make a constant of type {ty}")


def scalar_constant(value: Any, ty: dtype) -> tensor:
    """An ``arith.constant`` scalar of ``ty``."""
    return emit("arith.constant", [], ty, {"value": constant_attribute(value, ty)})


def python_scalar_type(value: Any) -> dtype:
    """The dtype Triton gives a Python number (int32/uint32/int64/uint64, fp32 or fp64)."""
    if isinstance(value, bool):
        return int1
    if isinstance(value, int):
        if -2 ** 31 <= value < 2 ** 31:
            return int32
        if 2 ** 31 <= value < 2 ** 32:
            return uint32
        if -2 ** 63 <= value < 2 ** 63:
            return int64
        if 2 ** 63 <= value < 2 ** 64:
            return uint64
        raise ValueError(f"integer {value} is not representable in 64 bits")
    if isinstance(value, float):
        magnitude = abs(value)
        if (magnitude in (0.0, math.inf) or value != value
                or 2.0 ** -126 <= magnitude <= (2 - 2 ** -23) * 2.0 ** 127):
            return float32
        return float64
    raise TypeError(f"cannot convert {value!r} of type {type(value).__name__} to a tensor")


def to_tensor(value: Any) -> tensor:
    """A tensor for ``value``: tensors pass through, Python numbers become constants."""
    value = unwrap(value)
    if isinstance(value, tensor):
        return value
    return scalar_constant(value, python_scalar_type(value))


# ==== promotion =============================================================================
def integer_promote(a: dtype, b: dtype) -> dtype:
    """C's usual arithmetic conversions between two integer types."""
    if a.int_signedness == b.int_signedness:
        return a if a.int_bitwidth > b.int_bitwidth else b
    if a.is_int_unsigned():
        return a if a.int_bitwidth >= b.int_bitwidth else b
    return b if b.int_bitwidth >= a.int_bitwidth else a


def computation_type(a: dtype, a_is_scalar: bool, b: dtype, b_is_scalar: bool,
                     div_or_mod: bool) -> dtype:
    """The type both operands of an arithmetic op convert to (Triton's rules)."""
    if a_is_scalar != b_is_scalar:
        scalar_ty, tensor_ty = (a, b) if a_is_scalar else (b, a)
        if scalar_ty.kind().value <= tensor_ty.kind().value:
            if div_or_mod and tensor_ty in (float16, bfloat16):
                return float32
            return tensor_ty
    if a.is_fp64() or b.is_fp64():
        return float64
    if a.is_fp32() or b.is_fp32():
        return float32
    if a.is_fp16() or b.is_fp16():
        return float32 if div_or_mod else float16
    if a.is_bf16() or b.is_bf16():
        if div_or_mod or not (a.is_bf16() and b.is_bf16()):
            return float32
        return bfloat16
    if not a.is_int() or not b.is_int():
        raise TypeError(f"unexpected types {a} and {b}")
    if div_or_mod and a.int_signedness != b.int_signedness:
        raise TypeError(f"cannot use /, // or % with {a} and {b} because they have different "
                        "signedness; cast them to the same signedness")
    return integer_promote(a, b)


def _check_pointer_operands(a: dtype, b: dtype, allow_pointer: bool) -> None:
    if not a.is_ptr():
        return
    if not allow_pointer or (b.is_ptr() and a != b) or b.is_floating():
        raise TypeError(f"invalid operands of type {a} and {b}")


def _operand(value: Any, is_scalar: bool, ty: dtype) -> tensor:
    if is_scalar:
        if ty.is_int() and not ty.get_int_min_value() <= int(value) <= ty.get_int_max_value():
            if value < 0 and ty.is_int_unsigned():
                raise ValueError("cannot combine an unsigned tensor with a negative scalar; "
                                 "cast one of them explicitly")
            raise ValueError(f"scalar {value} is out of range for type {ty}")
        return scalar_constant(value, ty)
    return cast(value, ty)


def binary_operands(lhs: Any, rhs: Any, allow_lhs_ptr: bool = False, allow_rhs_ptr: bool = False,
                    arithmetic_check: bool = True,
                    div_or_mod: bool = False) -> Tuple[tensor, tensor]:
    """Promotes and broadcasts two operands to a common type and shape."""
    lhs, rhs = unwrap(lhs), unwrap(rhs)
    lhs_is_scalar, rhs_is_scalar = is_py_number(lhs), is_py_number(rhs)
    lhs_ty = python_scalar_type(lhs) if lhs_is_scalar else _as_tensor(lhs).dtype
    rhs_ty = python_scalar_type(rhs) if rhs_is_scalar else _as_tensor(rhs).dtype
    _check_pointer_operands(lhs_ty, rhs_ty, allow_lhs_ptr)
    _check_pointer_operands(rhs_ty, lhs_ty, allow_rhs_ptr)
    if arithmetic_check and not lhs_ty.is_ptr() and not rhs_ty.is_ptr():
        ty = computation_type(lhs_ty, lhs_is_scalar, rhs_ty, rhs_is_scalar, div_or_mod)
        lhs_t, rhs_t = _operand(lhs, lhs_is_scalar, ty), _operand(rhs, rhs_is_scalar, ty)
    else:
        lhs_t, rhs_t = to_tensor(lhs), to_tensor(rhs)
    return broadcast_values(lhs_t, rhs_t)


def _as_tensor(value: Any) -> tensor:
    if not isinstance(value, tensor):
        raise TypeError(f"expected a tensor or a number, got {value!r}")
    return value


# ==== shapes ================================================================================
def check_block_shape(shape: Sequence[Any], what: str = "shape") -> List[int]:
    """Validates a block shape: compile-time powers of two, at most 2**20 elements.

    ``what`` names the shape in error messages (``"block_shape"`` for block pointers).
    """
    dims = []
    numel = 1
    for dim in shape:
        dim = unwrap(dim)
        if isinstance(dim, tensor):
            raise TypeError(f"{what} dimensions must be tl.constexpr ints, got a tensor "
                            f"({CONSTEXPR_HINT})")
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"{what} dimensions must be tl.constexpr ints, got {dim!r}")
        if dim <= 0 or dim & (dim - 1):
            raise ValueError(f"{what} {list(shape)}: dimension {dim} is not a power of 2")
        dims.append(dim)
        numel *= dim
    if numel > MAX_TENSOR_NUMEL:
        raise ValueError(f"{what} {dims} has {numel} elements, more than the maximum "
                         f"{MAX_TENSOR_NUMEL}")
    return dims


def splat(value: tensor, shape: Sequence[int]) -> tensor:
    """A block of ``shape`` filled with the scalar ``value`` (``tile.splat``)."""
    if value.type.is_block():
        raise ValueError("cannot splat a block tensor")
    if not shape:
        return value
    return emit("tile.splat", [value], block_type(value.dtype, shape))


def broadcast_to_shape(value: tensor, shape: Sequence[int]) -> tensor:
    """Widens ``value``'s size-1 dimensions (or splats a scalar) to ``shape``."""
    shape = tuple(shape)
    if not value.type.is_block():
        return splat(value, shape)
    if len(value.shape) != len(shape):
        raise ValueError(f"cannot broadcast, rank mismatch: {list(value.shape)}, {list(shape)}")
    if value.shape == shape:
        return value
    for i, (src, dst) in enumerate(zip(value.shape, shape)):
        if src != dst and src != 1:
            raise ValueError(f"cannot broadcast shape {list(value.shape)} to {list(shape)}: "
                             f"dimension {i} is {src}, not 1 or {dst}")
    return emit("tile.broadcast", [value], block_type(value.dtype, shape))


def broadcast_values(a: tensor, b: tensor) -> Tuple[tensor, tensor]:
    """Broadcasts two tensors to a common shape (numpy rules; ranks aligned on the right)."""
    a_block, b_block = a.type.is_block(), b.type.is_block()
    if a_block and not b_block:
        return a, splat(b, a.shape)
    if b_block and not a_block:
        return splat(a, b.shape), b
    if not a_block:
        return a, b
    while len(a.shape) < len(b.shape):
        a = expand_dims(a, 0)
    while len(b.shape) < len(a.shape):
        b = expand_dims(b, 0)
    shape = []
    for i, (left, right) in enumerate(zip(a.shape, b.shape)):
        if left != right and left != 1 and right != 1:
            raise ValueError(f"incompatible shapes {list(a.shape)} and {list(b.shape)} "
                             f"(dimension {i}: {left} vs {right})")
        shape.append(right if left == 1 else left)
    return broadcast_to_shape(a, shape), broadcast_to_shape(b, shape)


def wrap_axis(axis: Any, rank: int) -> int:
    axis = unwrap(axis)
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be a tl.constexpr int, got {axis!r}")
    if not -rank <= axis < rank:
        raise ValueError(f"invalid axis {axis} for a tensor of rank {rank}")
    return axis + rank if axis < 0 else axis


def expand_dims(value: tensor, axis: int) -> tensor:
    """Inserts a size-1 dimension at ``axis`` (a scalar becomes a 1-element block)."""
    shape = list(value.shape)
    axis = wrap_axis(axis, len(shape) + 1)
    shape.insert(axis, 1)
    if not value.type.is_block():
        return splat(value, shape)
    return emit("tile.expand_dims", [value], block_type(value.dtype, shape),
                {"axis": f"{axis} : i32"})


def reshape(value: tensor, shape: Sequence[Any]) -> tensor:
    """Reinterprets ``value`` with ``shape`` (same element count)."""
    dims = check_block_shape(shape)
    numel = math.prod(dims)
    if numel != value.numel:
        raise ValueError(f"cannot reshape {list(value.shape)} ({value.numel} elements) to "
                         f"{dims} ({numel} elements)")
    if not value.type.is_block():
        return splat(value, dims)
    if tuple(dims) == value.shape:
        return value
    return emit("tile.reshape", [value], block_type(value.dtype, dims))


def permute(value: tensor, dims: Sequence[Any]) -> tensor:
    """Reorders dimensions: result dimension ``i`` is ``value``'s dimension ``dims[i]``."""
    order = [unwrap(d) for d in dims]
    if sorted(order) != list(range(len(value.shape))):
        raise ValueError(f"permutation {order} does not match rank {len(value.shape)}")
    shape = [value.shape[d] for d in order]
    return emit("tile.trans", [value], block_type(value.dtype, shape),
                {"order": "array<i32: " + ", ".join(str(d) for d in order) + ">"})


# ==== casts =================================================================================
def cast(value: Any, dst: dtype, fp_downcast_rounding: Optional[str] = None) -> tensor:
    """Converts ``value`` to ``dst`` with Triton's conversion rules."""
    value = to_tensor(value)
    dst = unwrap(dst)
    if not isinstance(dst, dtype) or dst.is_block():
        raise TypeError(f"cannot cast to {dst!r}: expected a scalar dtype")
    src = value.dtype
    if fp_downcast_rounding is not None and fp_downcast_rounding not in _ROUNDING:
        raise ValueError(f"fp_downcast_rounding must be 'rtne' or 'rtz', got "
                         f"{fp_downcast_rounding!r}")
    if src == dst:
        return value
    result_ty = with_element(value.type, dst)
    if src.is_ptr() or dst.is_ptr():
        raise TypeError(f"cannot cast {src} to {dst}: pointer casts are not supported")
    if src.is_floating() and dst.is_floating():
        if src.primitive_bitwidth == dst.primitive_bitwidth:  # fp16 <-> bf16 through fp32
            return cast(cast(value, float32), dst, fp_downcast_rounding)
        if src.primitive_bitwidth > dst.primitive_bitwidth:
            attrs = None
            if fp_downcast_rounding is not None:
                attrs = {"roundingmode": f"{_ROUNDING[fp_downcast_rounding]} : i32"}
            return emit("arith.truncf", [value], result_ty, attrs)
        return emit("arith.extf", [value], result_ty)
    if src.is_int() and dst.is_int():
        if dst.is_bool():
            return not_equal(value, 0)
        if src.int_bitwidth == dst.int_bitwidth:
            return tensor(value.handle, result_ty)
        if src.int_bitwidth > dst.int_bitwidth:
            return emit("arith.trunci", [value], result_ty)
        extend = "arith.extsi" if src.is_int_signed() else "arith.extui"
        return emit(extend, [value], result_ty)
    if src.is_floating() and dst.is_int():
        if dst.is_bool():
            return not_equal(value, 0.0)
        return emit("arith.fptosi" if dst.is_int_signed() else "arith.fptoui", [value], result_ty)
    if src.is_int() and dst.is_floating():
        return emit("arith.sitofp" if src.is_int_signed() else "arith.uitofp", [value], result_ty)
    raise TypeError(f"cannot cast {src} to {dst}")


def bitcast(value: Any, dst: dtype) -> tensor:
    """Reinterprets the bits of ``value`` as ``dst`` (same bit width)."""
    value = to_tensor(value)
    src = value.dtype
    if src.is_ptr() or dst.is_ptr():
        raise TypeError(f"cannot bitcast {src} to {dst}: pointer casts are not supported")
    if src.primitive_bitwidth != dst.primitive_bitwidth:
        raise ValueError(f"cannot bitcast data-type of size {src.primitive_bitwidth} to "
                         f"data-type of size {dst.primitive_bitwidth}")
    result_ty = with_element(value.type, dst)
    if src.mlir == dst.mlir:
        return tensor(value.handle, result_ty)
    return emit("arith.bitcast", [value], result_ty)


# ==== arithmetic ============================================================================
def _arith(name_float: str, name_int: str, a: tensor, b: tensor) -> tensor:
    op = name_float if a.dtype.is_floating() else name_int
    return emit(op, [a, b], a.type)


def addptr(pointer: tensor, offset: tensor) -> tensor:
    """``pointer + offset`` elements (``tile.addptr``)."""
    if not offset.dtype.is_int():
        raise TypeError(f"pointer offsets must be integers, got {offset.dtype}")
    return emit("tile.addptr", [pointer, offset], pointer.type)


def add(a: Any, b: Any) -> tensor:
    a, b = binary_operands(a, b, True, True)
    if a.dtype.is_ptr() and b.dtype.is_ptr():
        raise TypeError("cannot add pointers together")
    if b.dtype.is_ptr():
        a, b = b, a
    if a.dtype.is_ptr():
        return addptr(a, b)
    return _arith("arith.addf", "arith.addi", a, b)


def sub(a: Any, b: Any) -> tensor:
    a, b = binary_operands(a, b, True, False)
    if a.dtype.is_ptr():
        return addptr(a, minus(b))
    return _arith("arith.subf", "arith.subi", a, b)


def mul(a: Any, b: Any) -> tensor:
    a, b = binary_operands(a, b)
    return _arith("arith.mulf", "arith.muli", a, b)


def truediv(a: Any, b: Any) -> tensor:
    """``a / b``: always a float; int / int computes in fp32."""
    a, b = binary_operands(a, b, div_or_mod=True)
    if a.dtype.is_int() and b.dtype.is_int():
        a, b = cast(a, float32), cast(b, float32)
    elif a.dtype.is_floating() and b.dtype.is_int():
        b = cast(b, a.dtype)
    elif a.dtype.is_int() and b.dtype.is_floating():
        a = cast(a, b.dtype)
    elif a.dtype.fp_mantissa_width > b.dtype.fp_mantissa_width:
        b = cast(b, a.dtype)
    else:
        a = cast(a, b.dtype)
    return emit("arith.divf", [a, b], a.type)


def floordiv(a: Any, b: Any) -> tensor:
    """``a // b`` on integers, truncating toward zero like C (and Triton)."""
    a, b = binary_operands(a, b, div_or_mod=True)
    if not (a.dtype.is_int() and b.dtype.is_int()):
        raise TypeError(f"`//` expects integers, got {a.dtype} and {b.dtype}")
    return emit("arith.divsi" if a.dtype.is_int_signed() else "arith.divui", [a, b], a.type)


def mod(a: Any, b: Any) -> tensor:
    """``a % b``: C remainder on integers; ``a - floor(a / b) * b`` on floats."""
    a, b = binary_operands(a, b, div_or_mod=True)
    if a.dtype.is_floating():
        quotient = emit("arith.divf", [a, b], a.type)
        floor = emit("math.floor", [quotient], a.type)
        return emit("arith.subf", [a, emit("arith.mulf", [floor, b], a.type)], a.type)
    if a.dtype.int_signedness != b.dtype.int_signedness:
        raise TypeError(f"cannot mod {a.dtype} by {b.dtype} because they have different "
                        "signedness")
    return emit("arith.remsi" if a.dtype.is_int_signed() else "arith.remui", [a, b], a.type)


def minus(value: Any) -> tensor:
    """``-value``."""
    value = to_tensor(value)
    if value.dtype.is_ptr():
        raise TypeError(f"wrong type argument to unary minus ({value.dtype})")
    if value.dtype.is_floating():
        return emit("arith.negf", [value], value.type)
    zero = broadcast_to_shape(scalar_constant(0, value.dtype), value.shape)
    return emit("arith.subi", [zero, value], value.type)


def invert(value: Any) -> tensor:
    """``~value`` on integers (xor with all ones)."""
    value = to_tensor(value)
    if not value.dtype.is_int():
        raise TypeError(f"wrong type argument to unary invert ({value.dtype})")
    ones = broadcast_to_shape(scalar_constant(-1, value.dtype), value.shape)
    return emit("arith.xori", [value, ones], value.type)


def _bitwise_operands(a: Any, b: Any) -> Tuple[tensor, tensor]:
    a, b = binary_operands(a, b)
    if not a.dtype.is_int() or not b.dtype.is_int():
        raise TypeError(f"bitwise operations need integers, got {a.dtype} and {b.dtype}")
    ty = integer_promote(a.dtype, b.dtype)
    return cast(a, ty), cast(b, ty)


def and_(a: Any, b: Any) -> tensor:
    a, b = _bitwise_operands(a, b)
    return emit("arith.andi", [a, b], a.type)


def or_(a: Any, b: Any) -> tensor:
    a, b = _bitwise_operands(a, b)
    return emit("arith.ori", [a, b], a.type)


def xor_(a: Any, b: Any) -> tensor:
    a, b = _bitwise_operands(a, b)
    return emit("arith.xori", [a, b], a.type)


def shl(a: Any, b: Any) -> tensor:
    a, b = _bitwise_operands(a, b)
    return emit("arith.shli", [a, b], a.type)


def shr(a: Any, b: Any) -> tensor:
    """``a >> b``: arithmetic for signed, logical for unsigned integers."""
    a, b = _bitwise_operands(a, b)
    return emit("arith.shrsi" if a.dtype.is_int_signed() else "arith.shrui", [a, b], a.type)


def _to_bool(value: Any) -> tensor:
    value = to_tensor(value)
    return value if value.dtype.is_bool() else not_equal(value, 0)


def logical_and(a: Any, b: Any) -> tensor:
    return and_(_to_bool(a), _to_bool(b))


def logical_or(a: Any, b: Any) -> tensor:
    return or_(_to_bool(a), _to_bool(b))


def logical_not(value: Any) -> tensor:
    return xor_(_to_bool(value), True)


# ==== comparisons ===========================================================================
def _compare(a: Any, b: Any, float_pred: str, signed_pred: str, unsigned_pred: str) -> tensor:
    a, b = binary_operands(a, b)
    ty = a.dtype
    if ty.is_floating():
        op, predicate = "arith.cmpf", _CMPF[float_pred]
    elif ty.is_int():
        op = "arith.cmpi"
        predicate = _CMPI[signed_pred if ty.is_int_signed() else unsigned_pred]
    else:
        raise TypeError(f"cannot compare values of type {ty}")
    return emit(op, [a, b], with_element(a.type, int1), {"predicate": f"{predicate} : i64"})


def less_than(a: Any, b: Any) -> tensor:
    return _compare(a, b, "olt", "slt", "ult")


def less_equal(a: Any, b: Any) -> tensor:
    return _compare(a, b, "ole", "sle", "ule")


def greater_than(a: Any, b: Any) -> tensor:
    return _compare(a, b, "ogt", "sgt", "ugt")


def greater_equal(a: Any, b: Any) -> tensor:
    return _compare(a, b, "oge", "sge", "uge")


def equal(a: Any, b: Any) -> tensor:
    return _compare(a, b, "oeq", "eq", "eq")


def not_equal(a: Any, b: Any) -> tensor:
    return _compare(a, b, "une", "ne", "ne")


# ==== selection and extrema ================================================================
def where(condition: Any, x: Any, y: Any) -> tensor:
    """``condition ? x : y`` element-wise, broadcasting all three."""
    condition = cast(to_tensor(condition), int1)
    x, y = binary_operands(x, y, True, True)
    if condition.type.is_block():
        condition, x = broadcast_values(condition, x)
        x, y = broadcast_values(x, y)
        condition, x = broadcast_values(condition, x)
    else:
        condition = splat(condition, x.shape)
    return emit("arith.select", [condition, x, y], x.type)


def extremum(x: Any, y: Any, maximum: bool, propagate_nan: bool) -> tensor:
    """``maximum``/``minimum``: maxnumf/minnumf (or NaN-propagating maximumf/minimumf) on
    floats, signed or unsigned max/min on integers."""
    x, y = binary_operands(x, y)
    ty = x.dtype
    kind = "max" if maximum else "min"
    if ty.is_floating():
        op = f"arith.{kind}imumf" if propagate_nan else f"arith.{kind}numf"
    elif ty.is_int():
        op = f"arith.{kind}{'si' if ty.is_int_signed() else 'ui'}"
    else:
        raise TypeError(f"cannot take the {kind}imum of {ty}")
    return emit(op, [x, y], x.type)


# ==== reductions ============================================================================
Combine = Callable[[List[tensor], List[tensor]], Sequence[tensor]]


def reduce(inputs: Sequence[tensor], axis: Optional[int], combine: Combine) -> List[tensor]:
    """``tile.reduce`` of same-shape ``inputs`` along ``axis`` (all axes when ``None``).

    ``combine(lhs, rhs)`` receives scalar tensors (one per input on each side) and emits
    the combiner region's ops; it returns one scalar per input.
    """
    if any(not t.type.is_block() for t in inputs):
        raise ValueError("cannot reduce a scalar")
    if axis is None:
        inputs = [reshape(t, [t.numel]) for t in inputs]
        axis = 0
    shape = inputs[0].shape
    axis = wrap_axis(axis, len(shape))
    if any(t.shape != shape for t in inputs):
        raise ValueError("all reduction inputs must have the same shape")
    element_types = [t.dtype for t in inputs]
    builder = current_builder()
    block = builder.begin_block([ty.mlir for ty in element_types] * 2)
    count = len(inputs)
    lhs = [tensor(name, ty) for name, ty in zip(block.args[:count], element_types)]
    rhs = [tensor(name, ty) for name, ty in zip(block.args[count:], element_types)]
    results = list(combine(lhs, rhs))
    for result, ty in zip(results, element_types):
        if result.type != ty:
            raise TypeError(f"reduction combiner returned {result.type}, expected {ty}")
    builder.emit("tile.reduce.return", [(r.handle, r.type.mlir) for r in results], [])
    builder.end_block()
    result_shape = [d for i, d in enumerate(shape) if i != axis]
    result_types = [block_type(ty, result_shape) if result_shape else ty for ty in element_types]
    names = builder.emit("tile.reduce", [(t.handle, t.type.mlir) for t in inputs],
                         [ty.mlir for ty in result_types], {"axis": f"{axis} : i32"},
                         regions=[block])
    return [tensor(name, ty) for name, ty in zip(names, result_types)]


# ==== math ==================================================================================
def float_math(op: str, value: Any, name: str) -> tensor:
    """A unary ``math`` op on floats; fp16/bf16 compute in fp32 and convert back."""
    value = to_tensor(value)
    ty = value.dtype
    if not ty.is_floating():
        raise TypeError(f"{name} expects a floating-point argument, got {ty}")
    if ty in (float16, bfloat16):
        result = emit(op, [cast(value, float32)], with_element(value.type, float32))
        return cast(result, ty)
    return emit(op, [value], value.type)


def full(shape: Sequence[Any], value: Any, ty: Optional[dtype]) -> tensor:
    """A block of ``shape`` filled with ``value`` (a number, or a one-element tensor)."""
    dims = check_block_shape(shape)
    value = unwrap(value)
    if isinstance(value, tensor):
        if value.numel != 1:
            raise ValueError("full only accepts a one-element tensor as its value")
        if ty is not None:
            value = cast(value, ty)
        if value.type.is_block():
            if not dims:
                raise ValueError("full with shape [] needs a scalar value")
            return broadcast_to_shape(reshape(value, [1] * len(dims)), dims)
        return splat(value, dims)
    if ty is None:
        raise ValueError("full needs a dtype when its value is not a tensor")
    return splat(scalar_constant(value, ty), dims)
