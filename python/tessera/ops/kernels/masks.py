"""Kernel helpers for optional masks: None stands for "every element is inside", so that a kernel
specialised for evenly divided problems emits no mask at all.

    x = masked_load(X + offsets, both(row_mask, column_mask))   # either mask may be None
"""
import tessera
import tessera.language as tl

__all__ = ["both", "masked_load", "masked_store"]


@tessera.jit
def both(mask, other):
    """``mask & other``, either of which may be None for "everything"."""
    if mask is None:
        return other
    if other is None:
        return mask
    return mask & other


@tessera.jit
def masked_load(pointers, mask, other=0):
    """The values at ``pointers``; where ``mask`` is False, ``other``."""
    if mask is None:
        return tl.load(pointers)
    return tl.load(pointers, mask=mask, other=other)


@tessera.jit
def masked_store(pointers, values, mask):
    """Stores ``values`` at ``pointers`` where ``mask`` is True."""
    if mask is None:
        tl.store(pointers, values)
    else:
        tl.store(pointers, values, mask=mask)
