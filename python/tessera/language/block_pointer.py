"""Block pointers: Triton's ``make_block_ptr`` and ``advance``, and ``load``/``store``
through them with ``boundary_check`` and ``padding_option``.

A block pointer names the ``block_shape`` window at ``offsets`` of a tensor of ``shape``
with ``strides`` (in elements) at ``base``. The usual matmul walks K with one per operand::

    a_bp = tl.make_block_ptr(A, shape=(M, K), strides=(stride_am, stride_ak),
                             offsets=(pid_m * BLOCK_M, 0), block_shape=(BLOCK_M, BLOCK_K),
                             order=(1, 0))
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        a = tl.load(a_bp, boundary_check=(0, 1), padding_option="zero")
        ...
        a_bp = tl.advance(a_bp, (0, BLOCK_K))

Tile IR has no block pointers. An access through one is an access through the block of
pointers ``base + sum_d (offsets[d] + arange(0, block_shape[d])) * strides[d]``, built the
way hand-written pointer arithmetic is so that the axis analysis finds the same contiguity
and alignment (a stride specialised to 1 makes its dimension contiguous); the products are
int64, as in Triton, so that tensors of more than 2**31 elements work. Each dimension in
``boundary_check`` is masked by ``0 <= offsets[d] + i < shape[d]``; the others are not.

In the front end a block pointer is its scalars (the base pointer, shape and strides as
int64 values or compile-time ints, offsets as int32 values) plus the compile-time
``block_shape`` and ``order``. Loops carry it and run-time ``if``s yield it like a tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

from . import semantic
from .core import aggregate, builtin, tensor, unwrap
from .creation import arange
from .dtypes import dtype, int32, int64

__all__ = ["block_pointer", "block_pointer_type", "make_block_ptr", "advance"]

Extent = Union[tensor, int]  # a shape or stride entry: an int64 scalar or a compile-time int

_PADDING = {"": None, "zero": 0, "nan": float("nan")}


@dataclass(frozen=True)
class block_pointer_type:
    """All of a block pointer that is known at compile time: the element type, block shape
    and order, and the compile-time ints among its shape and strides (``None`` where the
    entry is a run-time value)."""

    element_ty: dtype
    block_shape: Tuple[int, ...]
    order: Tuple[int, ...]
    shape: Tuple[Optional[int], ...]
    strides: Tuple[Optional[int], ...]

    def __str__(self) -> str:
        def extents(values: Tuple[Optional[int], ...]) -> str:
            return "(" + ", ".join("?" if v is None else str(v) for v in values) + ")"
        return (f"block_pointer<{self.element_ty}, {list(self.block_shape)}, "
                f"shape={extents(self.shape)}, strides={extents(self.strides)}, "
                f"order={self.order}>")

    __repr__ = __str__


class block_pointer(aggregate):
    """A pointer to a ``block_shape`` block of a strided tensor (see ``make_block_ptr``)."""

    def __init__(self, base: tensor, shape: Sequence[Extent], strides: Sequence[Extent],
                 offsets: Sequence[tensor], block_shape: Sequence[int],
                 order: Sequence[int]) -> None:
        self.base = base
        self.shape: Tuple[Extent, ...] = tuple(shape)
        self.strides: Tuple[Extent, ...] = tuple(strides)
        self.offsets: Tuple[tensor, ...] = tuple(offsets)
        self.block_shape: Tuple[int, ...] = tuple(block_shape)
        self.order: Tuple[int, ...] = tuple(order)

    @property
    def type(self) -> block_pointer_type:
        def compile_time(extents: Tuple[Extent, ...]) -> Tuple[Optional[int], ...]:
            return tuple(None if isinstance(e, tensor) else e for e in extents)
        return block_pointer_type(self.base.dtype.element_ty, self.block_shape, self.order,
                                  compile_time(self.shape), compile_time(self.strides))

    def flatten(self) -> List[tensor]:
        extents = [e for e in self.shape + self.strides if isinstance(e, tensor)]
        return [self.base, *extents, *self.offsets]

    def unflatten(self, values: Sequence[tensor]) -> "block_pointer":
        remaining = iter(values)

        def take(extents: Tuple[Extent, ...]) -> List[Extent]:
            return [next(remaining) if isinstance(e, tensor) else e for e in extents]
        base = next(remaining)
        shape, strides = take(self.shape), take(self.strides)
        offsets = [next(remaining) for _ in self.offsets]
        return block_pointer(base, shape, strides, offsets, self.block_shape, self.order)

    def __repr__(self) -> str:
        return f"block_pointer({self.base.handle}: {self.type})"


# ==== arguments ==============================================================================
def _sequence(value: Any, name: str) -> List[Any]:
    value = unwrap(value)
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple, got {value!r}")
    return [unwrap(v) for v in value]


def _extent(value: Any, name: str) -> Extent:
    """A shape or stride entry: integer scalars become int64 values, ints stay ints."""
    if isinstance(value, tensor):
        if value.type.is_block() or not value.dtype.is_int() or value.dtype.is_bool():
            raise TypeError(f"make_block_ptr: {name} entries must be integer scalars, got "
                            f"{value.type}")
        return semantic.cast(value, int64)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"make_block_ptr: {name} entries must be integers, got {value!r}")
    return value


def _offset(value: Any) -> tensor:
    """An offset (or an advance of one) as an int32 scalar value."""
    value = unwrap(value)
    if isinstance(value, tensor):
        if value.type.is_block() or value.dtype != int32:
            raise TypeError(f"block pointer offsets must be int32 scalars, got {value.type}; "
                            "convert with .to(tl.int32)")
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"block pointer offsets must be integers, got {value!r}")
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError(f"block pointer offset {value} is out of the int32 range")
    return semantic.scalar_constant(value, int32)


def _order(order: List[Any], rank: int) -> List[int]:
    if any(not isinstance(d, int) or isinstance(d, bool) for d in order):
        raise TypeError(f"make_block_ptr: order must hold tl.constexpr ints, got {order!r}")
    if sorted(order) != list(range(rank)):
        raise ValueError(f"make_block_ptr: order must be a permutation of 0..{rank - 1}, got "
                         f"{tuple(order)}")
    return order


def _boundary_dims(boundary_check: Any, rank: int) -> List[int]:
    """``boundary_check`` (an int or a tuple of dimensions) as sorted dimensions."""
    boundary_check = unwrap(boundary_check)
    if boundary_check is None:
        return []
    dims = ([unwrap(d) for d in boundary_check] if isinstance(boundary_check, (tuple, list))
            else [boundary_check])
    for dim in dims:
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"boundary_check must hold tl.constexpr ints, got {dim!r}")
        if not 0 <= dim < rank:
            raise ValueError(f"boundary_check dimension {dim} is out of range for a block "
                             f"pointer of rank {rank}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"boundary_check {tuple(dims)} names a dimension twice")
    return sorted(dims)


def _padding(pointer: block_pointer, padding_option: Any) -> Any:
    option = unwrap(padding_option)
    if option not in _PADDING:
        raise ValueError(f"padding_option must be '', 'zero' or 'nan', got {option!r}")
    element = pointer.type.element_ty
    if option == "nan" and not element.is_floating():
        raise TypeError(f"padding_option='nan' needs a floating-point block pointer, got "
                        f"{element}")
    return _PADDING[option]


# ==== construction ===========================================================================
@builtin
def make_block_ptr(base: tensor, shape: Sequence[Any], strides: Sequence[Any],
                   offsets: Sequence[Any], block_shape: Sequence[int],
                   order: Sequence[int]) -> block_pointer:
    """A pointer to the ``block_shape`` block at ``offsets`` of the tensor of ``shape`` and
    ``strides`` (in elements) at the scalar pointer ``base``.

    ``shape`` and ``strides`` are integers (run-time or compile-time), ``offsets`` int32
    values or ints, ``block_shape`` compile-time powers of two, one entry per dimension
    each. ``order`` (a permutation, fastest-varying dimension first) is checked and kept for
    Triton compatibility; the compiler finds the memory order from the strides::

        bp = tl.make_block_ptr(X, shape=(M, N), strides=(stride_m, 1),
                               offsets=(pid * BLOCK_M, 0), block_shape=(BLOCK_M, BLOCK_N),
                               order=(1, 0))
        x = tl.load(bp, boundary_check=(0, 1), padding_option="zero")
    """
    base = unwrap(base)
    if not isinstance(base, tensor) or not base.dtype.is_ptr() or base.type.is_block():
        raise TypeError(f"make_block_ptr: base must be a scalar pointer, got "
                        f"{getattr(base, 'type', base)!r}")
    block = semantic.check_block_shape(_sequence(block_shape, "block_shape"), "block_shape")
    if not block:
        raise ValueError("make_block_ptr: block_shape needs at least one dimension")
    parts = {name: _sequence(value, name) for name, value in
             (("shape", shape), ("strides", strides), ("offsets", offsets), ("order", order))}
    for name, part in parts.items():
        if len(part) != len(block):
            raise ValueError(f"make_block_ptr: {name} has {len(part)} entries but block_shape "
                             f"{tuple(block)} has {len(block)}")
    return block_pointer(base, [_extent(e, "shape") for e in parts["shape"]],
                         [_extent(e, "strides") for e in parts["strides"]],
                         [_offset(o) for o in parts["offsets"]], block,
                         _order(parts["order"], len(block)))


@builtin
def advance(base: block_pointer, offsets: Sequence[Any]) -> block_pointer:
    """``base`` moved by ``offsets`` elements along each dimension (int32 values or ints)::

        a_bp = tl.advance(a_bp, (0, BLOCK_K))
    """
    base = unwrap(base)
    if not isinstance(base, block_pointer):
        raise TypeError(f"tl.advance expects a block pointer (from tl.make_block_ptr), got "
                        f"{getattr(base, 'type', base)!r}")
    deltas = _sequence(offsets, "offsets")
    if len(deltas) != len(base.block_shape):
        raise ValueError(f"tl.advance: {len(deltas)} offsets for a block pointer of rank "
                         f"{len(base.block_shape)}")
    moved = []
    for offset, delta in zip(base.offsets, deltas):
        unchanged = isinstance(delta, int) and not isinstance(delta, bool) and delta == 0
        moved.append(offset if unchanged else semantic.add(offset, _offset(delta)))
    return block_pointer(base.base, base.shape, base.strides, moved, base.block_shape,
                         base.order)


# ==== access =================================================================================
def _along(value: tensor, dim: int, rank: int) -> tensor:
    """A 1-D block as dimension ``dim`` of a rank-``rank`` block (other dimensions size 1)."""
    for axis in range(rank):
        if axis != dim:
            value = semantic.expand_dims(value, axis)
    return value


def _access(pointer: block_pointer, boundary_check: Any) -> Tuple[tensor, Optional[tensor]]:
    """The block of pointers an access through ``pointer`` uses, and its mask (``None``
    without boundary checks)."""
    rank = len(pointer.block_shape)
    dims = _boundary_dims(boundary_check, rank)
    indices = [semantic.add(offset, arange(0, size))
               for offset, size in zip(pointer.offsets, pointer.block_shape)]
    pointers = pointer.base
    for dim, (index, stride) in enumerate(zip(indices, pointer.strides)):
        pointers = semantic.add(pointers, _along(
            semantic.mul(semantic.cast(index, int64), stride), dim, rank))
    mask = None
    for dim in dims:
        index = indices[dim]
        inside = semantic.and_(semantic.greater_equal(index, 0),
                               semantic.less_than(index, pointer.shape[dim]))
        inside = _along(inside, dim, rank)
        mask = inside if mask is None else semantic.and_(mask, inside)
    return pointers, mask


def load_operands(pointer: block_pointer, boundary_check: Any,
                  padding_option: Any) -> Tuple[tensor, Optional[tensor], Any]:
    """The pointers, mask and ``other`` of a ``tl.load`` through ``pointer``."""
    padding = _padding(pointer, padding_option)
    pointers, mask = _access(pointer, boundary_check)
    return pointers, mask, padding if mask is not None else None


def store_operands(pointer: block_pointer, value: tensor,
                   boundary_check: Any) -> Tuple[tensor, Optional[tensor]]:
    """The pointers and mask of a ``tl.store`` of ``value`` through ``pointer``."""
    if value.type.is_block() and value.shape != pointer.block_shape:
        raise ValueError(f"cannot store a block of shape {list(value.shape)} through a block "
                         f"pointer of block shape {list(pointer.block_shape)}")
    return _access(pointer, boundary_check)
