"""Atomic read-modify-writes of global memory, as Triton's ``tl.atomic_*``.

Each returns the values the memory held before (undefined where ``mask`` is false) and applies
every element of the block once, whatever threads the kernel spreads it over::

    old = tl.atomic_add(counts + bins, 1, mask=valid)       # a histogram   # doctest: +SKIP
    ticket = tl.atomic_add(counter, 1)                     # one per program   # doctest: +SKIP
    tl.atomic_max(best + row, score)                                           # doctest: +SKIP
    while tl.atomic_cas(lock, 0, 1) == 1: pass             # a spin lock        # doctest: +SKIP

``sem`` orders the access with the program's other accesses: ``"relaxed"``, ``"acquire"``,
``"release"`` or ``"acq_rel"`` (the default); ``scope`` names the threads that ordering is with:
``"cta"`` (the program), ``"gpu"`` (the default) or ``"sys"``.

Element types: ``atomic_add`` takes 32- and 64-bit integers, float16, float32 and float64;
``atomic_max`` / ``atomic_min`` and the bitwise ones 32- and 64-bit integers (unsigned types
compare as unsigned); ``atomic_xchg`` and ``atomic_cas`` any 32- or 64-bit type.
"""
from __future__ import annotations

from typing import Any, Optional

from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import dtype, float16, float32, float64
from .memory import _mask_operand, _pointer_operand

__all__ = ["atomic_add", "atomic_and", "atomic_cas", "atomic_max", "atomic_min", "atomic_or",
           "atomic_xchg", "atomic_xor"]

_SEMANTICS = ("relaxed", "acquire", "release", "acq_rel")
_SCOPES = ("cta", "gpu", "sys")


def _ordering(name: str, sem: Any, scope: Any) -> dict:
    sem = unwrap(sem) or "acq_rel"
    scope = unwrap(scope) or "gpu"
    if sem not in _SEMANTICS:
        raise ValueError(f"tl.{name}: sem must be one of {', '.join(_SEMANTICS)}, got {sem!r}")
    if scope not in _SCOPES:
        raise ValueError(f"tl.{name}: scope must be one of {', '.join(_SCOPES)}, got "
                         f"{scope!r}")
    return {"sem": f'"{sem}"', "scope": f'"{scope}"'}


def _is_word(element: dtype) -> bool:
    return not element.is_ptr() and element.primitive_bitwidth in (32, 64)


def _check_element(name: str, element: dtype, allowed: bool, expected: str) -> None:
    if not allowed:
        raise TypeError(f"tl.{name}: the pointers address {element}; expected {expected}")


def _operands(name: str, pointer: Any, value: Any) -> tuple:
    """The pointers and ``value`` (converted to their element type), broadcast together."""
    pointer = _pointer_operand(pointer, name)
    element = pointer.dtype.element_ty
    value = semantic.cast(semantic.to_tensor(value), element)
    pointer, value = semantic.broadcast_values(pointer, value)
    return pointer, value


def _rmw(name: str, kind: str, pointer: Any, value: Any, mask: Any, sem: Any,
         scope: Any) -> tensor:
    attributes = _ordering(name, sem, scope)
    pointer, value = _operands(name, pointer, value)
    operands = [pointer, value]
    mask = _mask_operand(mask)
    if mask is not None:
        pointer, mask = semantic.broadcast_values(pointer, mask)
        operands = [pointer, semantic.broadcast_to_shape(value, pointer.shape), mask]
    attributes["kind"] = f'"{kind}"'
    return semantic.emit("tile.atomic_rmw", operands, operands[1].type, attributes)


def _integer_rmw(name: str, kind: str, pointer: Any, value: Any, mask: Any, sem: Any,
                 scope: Any, unsigned_kind: Optional[str] = None) -> tensor:
    element = _pointer_operand(pointer, name).dtype.element_ty
    _check_element(name, element, element.is_int() and _is_word(element),
                   "32- or 64-bit integers")
    if unsigned_kind is not None and element.is_int_unsigned():
        kind = unsigned_kind
    return _rmw(name, kind, pointer, value, mask, sem, scope)


@builtin
def atomic_add(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomically adds ``val`` to the elements ``pointer`` addresses, where ``mask`` is true;
    returns their old values. Float additions are applied in a nondeterministic order."""
    element = _pointer_operand(pointer, "atomic_add").dtype.element_ty
    if element in (float16, float32, float64):
        return _rmw("atomic_add", "fadd", pointer, val, mask, sem, scope)
    _check_element("atomic_add", element, element.is_int() and _is_word(element),
                   "32- or 64-bit integers, float16, float32 or float64")
    return _rmw("atomic_add", "add", pointer, val, mask, sem, scope)


@builtin
def atomic_max(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomically replaces each element with the larger of it and ``val``; returns the old
    values."""
    return _integer_rmw("atomic_max", "max", pointer, val, mask, sem, scope, "umax")


@builtin
def atomic_min(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomically replaces each element with the smaller of it and ``val``; returns the old
    values."""
    return _integer_rmw("atomic_min", "min", pointer, val, mask, sem, scope, "umin")


@builtin
def atomic_and(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomic bitwise and; returns the old values."""
    return _integer_rmw("atomic_and", "and", pointer, val, mask, sem, scope)


@builtin
def atomic_or(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
              scope: Optional[str] = None) -> tensor:
    """Atomic bitwise or; returns the old values."""
    return _integer_rmw("atomic_or", "or", pointer, val, mask, sem, scope)


@builtin
def atomic_xor(pointer: Any, val: Any, mask: Optional[tensor] = None, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomic bitwise exclusive or; returns the old values."""
    return _integer_rmw("atomic_xor", "xor", pointer, val, mask, sem, scope)


@builtin
def atomic_xchg(pointer: Any, val: Any, mask: Optional[tensor] = None,
                sem: Optional[str] = None, scope: Optional[str] = None) -> tensor:
    """Atomically replaces each element with ``val``; returns the old values."""
    element = _pointer_operand(pointer, "atomic_xchg").dtype.element_ty
    _check_element("atomic_xchg", element, _is_word(element), "a 32- or 64-bit type")
    return _rmw("atomic_xchg", "xchg", pointer, val, mask, sem, scope)


@builtin
def atomic_cas(pointer: Any, cmp: Any, val: Any, sem: Optional[str] = None,
               scope: Optional[str] = None) -> tensor:
    """Atomically replaces each element with ``val`` where its bits equal ``cmp``'s; returns the
    old values (equal to ``cmp`` where the swap happened)."""
    attributes = _ordering("atomic_cas", sem, scope)
    element = _pointer_operand(pointer, "atomic_cas").dtype.element_ty
    _check_element("atomic_cas", element, _is_word(element), "a 32- or 64-bit type")
    pointer, value = _operands("atomic_cas", pointer, val)
    compare = semantic.cast(semantic.to_tensor(cmp), element)
    pointer, compare = semantic.broadcast_values(pointer, compare)
    value = semantic.broadcast_to_shape(value, pointer.shape)
    return semantic.emit("tile.atomic_cas", [pointer, compare, value], value.type, attributes)
