"""Tensor descriptors: Triton's ``TensorDescriptor`` kernel arguments and their ``load`` and
``store``.

A descriptor names a tensor in global memory (base address, shape, strides, the last
dimension contiguous) and the ``block_shape`` its accesses move. In a kernel::

    @tessera.jit
    def copy(in_desc, out_desc, BLOCK_M: tl.constexpr):
        row = tl.program_id(0) * BLOCK_M
        tile = in_desc.load([row, 0])        # elements outside the tensor read as 0
        out_desc.store([row, 0], tile)       # elements outside the tensor are not written

and on the host, ``tessera.TensorDescriptor.from_tensor(x, block_shape=[BLOCK_M, 64])``.

An access is exactly the block-pointer access with every dimension boundary-checked and zero
padding, and lowers like one. On sm_90a the host also encodes a TMA tensor map for the
descriptor, and a load the software pipeliner streams into shared memory is then copied by the
Tensor Memory Accelerator instead of by every thread.

In the kernel a descriptor is its parameters: the tensor map (when the host could encode one),
the base pointer, the shape and the strides but the last (which is 1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from . import block_pointer as bp
from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import dtype, int64, str_to_ty, ty_to_str
from .memory import emit_load, store as _store

__all__ = ["parse_runtime_type", "tensor_descriptor", "tensor_descriptor_type", "tensormap_type"]

_SIGNATURE = re.compile(r"^tensordesc<\s*([a-z0-9]+)\s*\[([0-9,\s]+)\]\s*>$")


class tensormap_type(dtype):
    """The type of a TMA tensor map parameter (``!tile.tensormap``)."""

    def __init__(self) -> None:
        self.primitive_bitwidth = 1024
        self.name = "tensormap"

    @property
    def mlir(self) -> str:
        return "!tile.tensormap"


@dataclass(frozen=True)
class tensor_descriptor_type:
    """What a specialisation knows of a descriptor: its element type and block shape."""

    element_ty: dtype
    block_shape: Tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.block_shape)

    @property
    def signature(self) -> str:
        """``tensordesc<bf16[128,64]>``, Triton's signature string."""
        shape = ",".join(str(d) for d in self.block_shape)
        return f"tensordesc<{ty_to_str(self.element_ty)}[{shape}]>"

    @staticmethod
    def parse(text: str) -> Optional["tensor_descriptor_type"]:
        """The type a signature string names, or None if it names no descriptor."""
        match = _SIGNATURE.match(text.strip())
        if match is None:
            return None
        element = str_to_ty(match.group(1))
        block = tuple(int(d) for d in match.group(2).split(",") if d.strip())
        return tensor_descriptor_type(element, block)

    def __str__(self) -> str:
        return self.signature


def parse_runtime_type(text: str) -> Any:
    """The run-time type a signature string names: a tensor descriptor type
    (``tensordesc<bf16[128,64]>``) or a scalar or pointer type (``"*fp32"``, ``"i32"``)."""
    return tensor_descriptor_type.parse(text) or str_to_ty(text)


class tensor_descriptor:
    """A tensor descriptor parameter inside a kernel (see the module docstring)."""

    def __init__(self, type: tensor_descriptor_type, tensor_map: Optional[tensor],
                 base: tensor, shape: Sequence[tensor], strides: Sequence[tensor]) -> None:
        self.type = type
        self.tensor_map = tensor_map
        self.base = base
        self.shape: Tuple[tensor, ...] = tuple(shape)
        self.strides: Tuple[Any, ...] = (*strides, 1)
        self.block_shape: Tuple[int, ...] = type.block_shape
        self.dtype: dtype = type.element_ty

    def _block_pointer(self, offsets: Any, what: str) -> bp.block_pointer:
        offsets = unwrap(offsets)
        if not isinstance(offsets, (tuple, list)) or len(offsets) != self.type.rank:
            raise ValueError(f"{what} of a descriptor of rank {self.type.rank} needs "
                             f"{self.type.rank} offsets, got {offsets!r}")
        order = tuple(reversed(range(self.type.rank)))
        return bp.block_pointer(self.base, self.shape, self.strides,
                                [bp._offset(o) for o in offsets], self.block_shape, order)

    @builtin
    def load(self, offsets: Sequence[Any]) -> tensor:
        """The ``block_shape`` block at ``offsets`` (int32 values or ints, one per
        dimension); elements outside the tensor are 0."""
        pointer = self._block_pointer(offsets, "load")
        dims = tuple(range(self.type.rank))
        pointers, mask, other = bp.load_operands(pointer, dims, "zero")
        other_block = semantic.broadcast_to_shape(
            semantic.cast(semantic.to_tensor(other), self.dtype), pointers.shape)
        return emit_load([pointers, mask, other_block], True, True,
                         semantic.with_element(pointers.type, self.dtype), self.tensor_map,
                         pointer.offsets if self.tensor_map is not None else ())

    @builtin
    def store(self, offsets: Sequence[Any], value: Any) -> None:
        """Stores ``value`` (a ``block_shape`` block or a scalar) at ``offsets``; elements
        outside the tensor are not written."""
        pointer = self._block_pointer(offsets, "store")
        _store(pointer, value, boundary_check=tuple(range(self.type.rank)))

    def __repr__(self) -> str:
        return f"tensor_descriptor({self.base.handle}: {self.type})"


def parameter_types(type: tensor_descriptor_type, with_tensor_map: bool) -> List[dtype]:
    """The kernel parameters a descriptor becomes: the tensor map (when there is one), the
    base pointer, the shape and the strides but the last, as int64."""
    from .dtypes import pointer_type
    types: List[dtype] = [tensormap_type()] if with_tensor_map else []
    types.append(pointer_type(type.element_ty))
    types.extend([int64] * (2 * type.rank - 1))
    return types


def from_parameters(type: tensor_descriptor_type, values: Sequence[tensor],
                    with_tensor_map: bool) -> tensor_descriptor:
    """The descriptor made of its parameters' values (in ``parameter_types`` order)."""
    values = list(values)
    tensor_map = values.pop(0) if with_tensor_map else None
    base = values.pop(0)
    return tensor_descriptor(type, tensor_map, base, values[:type.rank], values[type.rank:])
