"""Data types of the kernel language, with Triton's names and promotion attributes.

``dtype`` covers scalars, ``pointer_type`` pointers into global memory and ``block_type``
tensors (a scalar type and a static shape). Each knows its MLIR spelling in tile IR::

    >>> float32.mlir, pointer_type(int1).mlir, block_type(bfloat16, [16, 32]).mlir
    ('f32', '!tile.ptr<i8>', 'tensor<16x32xbf16>')

Signature strings (``"*fp32"``, ``"i32"``, ``"fp16"``...) name types as Triton does::

    >>> str_to_ty("*bf16"), ty_to_str(uint8)
    (pointer<bf16>, 'u8')
"""
from __future__ import annotations

from enum import Enum
from typing import Sequence, Tuple

__all__ = [
    "dtype", "pointer_type", "block_type", "int1", "int8", "int16", "int32", "int64", "uint8",
    "uint16", "uint32", "uint64", "float16", "bfloat16", "float32", "float64", "str_to_ty",
    "ty_to_str",
]


class dtype:
    """A scalar type: ``int1``, ``int8``.. ``int64``, ``uint8``.. ``uint64``, ``fp16``, ``bf16``,
    ``fp32`` or ``fp64``.

    As in Triton, ``int1`` counts as unsigned and every integer promotes by the C rules.
    """

    SINT_TYPES = ("int8", "int16", "int32", "int64")
    UINT_TYPES = ("int1", "uint8", "uint16", "uint32", "uint64")
    FP_TYPES = ("fp16", "bf16", "fp32", "fp64")

    class SIGNEDNESS(Enum):
        SIGNED = 0
        UNSIGNED = 1

    class KIND(Enum):
        BOOLEAN = 0
        INTEGRAL = 1
        FLOATING = 2

    _MANTISSA = {"fp16": 10, "bf16": 7, "fp32": 23, "fp64": 52}
    _BITS = {"fp16": 16, "bf16": 16, "fp32": 32, "fp64": 64}

    def __init__(self, name: str) -> None:
        self.name = name
        if name in dtype.SINT_TYPES or name in dtype.UINT_TYPES:
            self.int_signedness = (dtype.SIGNEDNESS.SIGNED if name in dtype.SINT_TYPES
                                   else dtype.SIGNEDNESS.UNSIGNED)
            self.int_bitwidth = int(name.split("int")[-1])
            self.primitive_bitwidth = self.int_bitwidth
        elif name in dtype.FP_TYPES:
            self.fp_mantissa_width = dtype._MANTISSA[name]
            self.primitive_bitwidth = dtype._BITS[name]
        elif not isinstance(self, (pointer_type, block_type)):
            raise ValueError(f"unknown dtype {name!r}")

    # ---- classification (Triton's predicates) --------------------------------------------
    def is_fp16(self) -> bool:
        return self.name == "fp16"

    def is_bf16(self) -> bool:
        return self.name == "bf16"

    def is_fp32(self) -> bool:
        return self.name == "fp32"

    def is_fp64(self) -> bool:
        return self.name == "fp64"

    def is_floating(self) -> bool:
        return self.name in dtype.FP_TYPES

    def is_int(self) -> bool:
        return self.name in dtype.SINT_TYPES or self.name in dtype.UINT_TYPES

    def is_int_signed(self) -> bool:
        return self.name in dtype.SINT_TYPES

    def is_int_unsigned(self) -> bool:
        return self.name in dtype.UINT_TYPES

    def is_bool(self) -> bool:
        return self.name == "int1"

    def is_ptr(self) -> bool:
        return False

    def is_block(self) -> bool:
        return False

    def kind(self) -> "dtype.KIND":
        """bool < integer < floating, the order in which Python scalars join promotion."""
        if self.is_bool():
            return dtype.KIND.BOOLEAN
        if self.is_int():
            return dtype.KIND.INTEGRAL
        return dtype.KIND.FLOATING

    def get_int_max_value(self) -> int:
        if self.is_int_signed():
            return 2 ** (self.int_bitwidth - 1) - 1
        return 2 ** self.int_bitwidth - 1

    def get_int_min_value(self) -> int:
        if self.is_int_signed():
            return -(2 ** (self.int_bitwidth - 1))
        return 0

    @property
    def scalar(self) -> "dtype":
        return self

    @property
    def mlir(self) -> str:
        """The MLIR type: signless integers, ``f16``/``bf16``/``f32``/``f64``."""
        if self.is_int():
            return f"i{self.int_bitwidth}"
        return {"fp16": "f16", "bf16": "bf16", "fp32": "f32", "fp64": "f64"}[self.name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dtype) and type(other) is type(self) and self.name == other.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


class pointer_type(dtype):
    """A pointer to ``element_ty`` in global memory (``!tile.ptr<T>``; ``*int1`` is ``ptr<i8>``).

    >>> pointer_type(float16).element_ty
    fp16
    """

    def __init__(self, element_ty: dtype, address_space: int = 1) -> None:
        if not isinstance(element_ty, dtype) or element_ty.is_block():
            raise TypeError(f"pointer_type expects a scalar dtype, got {element_ty!r}")
        self.element_ty = element_ty
        self.address_space = address_space
        self.primitive_bitwidth = 64
        super().__init__(f"pointer<{element_ty}>")

    def is_ptr(self) -> bool:
        return True

    @property
    def mlir(self) -> str:
        pointee = "i8" if self.element_ty.is_bool() else self.element_ty.mlir
        return f"!tile.ptr<{pointee}>"


class block_type(dtype):
    """A tensor of ``element_ty`` with a static shape (each dimension a power of two).

    >>> t = block_type(float32, [64, 32]); t.shape, t.numel, t.scalar
    ((64, 32), 2048, fp32)
    """

    def __init__(self, element_ty: dtype, shape: Sequence[int]) -> None:
        self.element_ty = element_ty
        self.shape: Tuple[int, ...] = tuple(int(d) for d in shape)
        if not self.shape:
            raise ValueError("a block_type needs at least one dimension")
        numel = 1
        for dim in self.shape:
            numel *= dim
        self.numel = numel
        super().__init__(f"<{list(self.shape)}, {element_ty}>")

    def is_block(self) -> bool:
        return True

    @property
    def scalar(self) -> dtype:
        return self.element_ty

    @property
    def mlir(self) -> str:
        return "tensor<" + "x".join(str(d) for d in self.shape) + f"x{self.element_ty.mlir}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, block_type) and self.element_ty == other.element_ty
                and self.shape == other.shape)

    def __hash__(self) -> int:
        return hash(("block", self.element_ty, self.shape))


int1 = dtype("int1")
int8 = dtype("int8")
int16 = dtype("int16")
int32 = dtype("int32")
int64 = dtype("int64")
uint8 = dtype("uint8")
uint16 = dtype("uint16")
uint32 = dtype("uint32")
uint64 = dtype("uint64")
float16 = dtype("fp16")
bfloat16 = dtype("bf16")
float32 = dtype("fp32")
float64 = dtype("fp64")

_SIGNATURE_NAMES = {
    "i1": int1, "i8": int8, "i16": int16, "i32": int32, "i64": int64, "u1": int1, "u8": uint8,
    "u16": uint16, "u32": uint32, "u64": uint64, "fp16": float16, "bf16": bfloat16,
    "fp32": float32, "f32": float32, "fp64": float64,
}
_NAME_OF = {ty: name for name, ty in _SIGNATURE_NAMES.items() if name not in ("u1", "f32")}


def str_to_ty(name: str) -> dtype:
    """Parses a Triton signature type: ``"i32"``, ``"fp16"``, ``"*fp32"`` (pointer)..."""
    name = name.strip()
    if name.startswith("*"):
        return pointer_type(str_to_ty(name[1:]))
    try:
        return _SIGNATURE_NAMES[name]
    except KeyError:
        raise ValueError(f"unknown signature type {name!r}") from None


def ty_to_str(ty: dtype) -> str:
    """The signature string of a scalar or pointer type (inverse of ``str_to_ty``)."""
    if ty.is_ptr():
        return "*" + ty_to_str(ty.element_ty)
    return _NAME_OF[ty]
