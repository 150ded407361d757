"""Global memory access: ``load`` and ``store`` through (blocks of) pointers, or through
block pointers (``tl.make_block_ptr``, see ``block_pointer``).

    >>> x = tl.load(X + offs, mask=offs < n, other=0.0)   # doctest: +SKIP
    >>> tl.store(Y + offs, x, mask=offs < n)               # doctest: +SKIP
    >>> x = tl.load(x_bp, boundary_check=(0, 1), padding_option="zero")   # doctest: +SKIP

Pointers to ``int1`` address bytes: loads yield ``value != 0``, stores write 0 or 1.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from . import block_pointer as bp
from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import int1, int8

__all__ = ["load", "store"]

_CACHE_MODIFIERS = ("", ".ca", ".cg", ".cv")
_EVICTION_POLICIES = ("", "evict_first", "evict_last", "evict_normal")


def _check_hints(cache_modifier: Any, eviction_policy: Any) -> None:
    """Cache and eviction hints are accepted for Triton compatibility and not emitted."""
    if unwrap(cache_modifier) not in _CACHE_MODIFIERS:
        raise ValueError(f"cache_modifier must be one of {_CACHE_MODIFIERS}")
    if unwrap(eviction_policy) not in _EVICTION_POLICIES:
        raise ValueError(f"eviction_policy must be one of {_EVICTION_POLICIES}")


def _pointer_operand(pointer: Any, what: str) -> tensor:
    pointer = unwrap(pointer)
    if not isinstance(pointer, tensor) or not pointer.dtype.is_ptr():
        raise TypeError(f"unsupported pointer type {getattr(pointer, 'type', pointer)!r} in "
                        f"tl.{what}")
    return pointer


def _check_no_block_options(boundary_check: Any, padding_option: Any = "") -> None:
    """``boundary_check`` and ``padding_option`` apply to block pointers only."""
    if unwrap(boundary_check) not in (None, ()):
        raise ValueError("boundary_check applies to block pointers (tl.make_block_ptr); mask "
                         "accesses through other pointers with `mask`")
    if unwrap(padding_option) not in (None, ""):
        raise ValueError("padding_option applies to block pointers (tl.make_block_ptr); give "
                         "other pointers `other`")


def _mask_operand(mask: Any) -> Optional[tensor]:
    mask = unwrap(mask)
    if mask is None:
        return None
    mask = semantic.to_tensor(mask)
    if mask.dtype != int1:
        raise TypeError(f"mask must have boolean scalar type, got {mask.dtype}")
    return mask


@builtin
def load(pointer: Any, mask: Optional[tensor] = None, other: Any = None,
         boundary_check: Sequence[int] = (), padding_option: str = "",
         cache_modifier: str = "", eviction_policy: str = "", volatile: bool = False) -> tensor:
    """Loads the values ``pointer`` points at; where ``mask`` is false, yields ``other``
    (undefined when ``other`` is omitted).

    ``pointer`` is a pointer or a block of pointers; ``mask`` and ``other`` broadcast to
    its shape. ``cache_modifier``, ``eviction_policy`` and ``volatile`` are hints that this
    compiler ignores.

    Through a block pointer (``tl.make_block_ptr``) the result is a block of its
    ``block_shape``, and ``boundary_check`` (dimensions) and ``padding_option`` take the
    place of ``mask`` and ``other``: elements outside ``[0, shape[d])`` along a checked
    dimension ``d`` are not read and yield 0 (``"zero"``), NaN (``"nan"``) or an undefined
    value (``""``); unchecked dimensions must be in bounds::

        tile = tl.load(x_bp, boundary_check=(0,), padding_option="zero")
    """
    _check_hints(cache_modifier, eviction_policy)
    pointer = unwrap(pointer)
    if isinstance(pointer, bp.block_pointer):
        if unwrap(mask) is not None or unwrap(other) is not None:
            raise ValueError("`mask` and `other` cannot be given for a block pointer; use "
                             "boundary_check and padding_option")
        pointer, mask, other = bp.load_operands(pointer, boundary_check, padding_option)
    else:
        _check_no_block_options(boundary_check, padding_option)
    pointer = _pointer_operand(pointer, "load")
    mask = _mask_operand(mask)
    other = unwrap(other)
    if other is not None and mask is None:
        raise ValueError("`other` cannot be provided without `mask`")
    element = pointer.dtype.element_ty
    is_bool = element == int1
    loaded = int8 if is_bool else element
    if other is not None:
        other = semantic.cast(other, loaded)
    if not pointer.type.is_block():
        if any(v is not None and v.type.is_block() for v in (mask, other)):
            raise ValueError("mask and other cannot be blocks if the pointer is a scalar")
    else:
        if mask is not None:
            pointer, mask = semantic.broadcast_values(pointer, mask)
        if other is not None:
            pointer, other = semantic.broadcast_values(pointer, other)
    operands = [pointer]
    if mask is not None:
        operands.append(semantic.broadcast_to_shape(mask, pointer.shape))
    if other is not None:
        operands.append(semantic.broadcast_to_shape(other, pointer.shape))
    result = emit_load(operands, mask is not None, other is not None,
                       semantic.with_element(pointer.type, loaded))
    return semantic.cast(result, int1) if is_bool else result


def emit_load(operands: Sequence[tensor], has_mask: bool, has_other: bool, result: Any,
              tensor_map: Optional[tensor] = None, coords: Sequence[tensor] = ()) -> tensor:
    """Emits ``tile.load`` of ``operands`` (pointers, then the mask and ``other`` when
    present); with ``tensor_map``, the load also names the box at ``coords`` of that tensor
    map, which describes the same elements (see ``tensor_descriptor``)."""
    extra = [] if tensor_map is None else [tensor_map, *coords]
    segments = (f"array<i32: 1, {int(has_mask)}, {int(has_other)}, "
                f"{int(tensor_map is not None)}, {len(coords)}>")
    return semantic.emit("tile.load", [*operands, *extra], result,
                         {"operandSegmentSizes": segments})


@builtin
def store(pointer: Any, value: Any, mask: Optional[tensor] = None,
          boundary_check: Sequence[int] = (), cache_modifier: str = "",
          eviction_policy: str = "") -> None:
    """Stores ``value`` (converted to the pointee type) where ``mask`` is true.

    ``value`` and ``mask`` broadcast to the shape of ``pointer``. Through a block pointer
    ``value`` is a block of its ``block_shape`` (or a scalar), and ``boundary_check``
    (dimensions) takes the place of ``mask``: elements outside ``[0, shape[d])`` along a
    checked dimension ``d`` are not written::

        tl.store(y_bp, tile, boundary_check=(0, 1))
    """
    _check_hints(cache_modifier, eviction_policy)
    pointer = unwrap(pointer)
    value = semantic.to_tensor(value)
    if isinstance(pointer, bp.block_pointer):
        if unwrap(mask) is not None:
            raise ValueError("`mask` cannot be given for a block pointer; use boundary_check")
        pointer, mask = bp.store_operands(pointer, value, boundary_check)
    else:
        _check_no_block_options(boundary_check)
    pointer = _pointer_operand(pointer, "store")
    mask = _mask_operand(mask)
    if not pointer.type.is_block():
        if value.type.is_block():
            raise ValueError("value argument cannot be a block if the pointer is a scalar")
        if mask is not None and mask.type.is_block():
            raise ValueError("mask argument cannot be a block if the pointer is a scalar")
    element = pointer.dtype.element_ty
    stored = int8 if element == int1 else element
    value = semantic.broadcast_to_shape(semantic.cast(value, stored), pointer.shape)
    operands = [pointer, value]
    if mask is not None:
        operands.append(semantic.broadcast_to_shape(mask, pointer.shape))
    segments = f"array<i32: 1, 1, {int(mask is not None)}>"
    semantic.emit_without_result("tile.store", operands, {"operandSegmentSizes": segments})

