"""``scaled_dot_product_attention`` with PyTorch's semantics (``specs/ops.md``), differentiable.

    import tessera.ops as ops
    out = ops.scaled_dot_product_attention(q, k, v, is_causal=True)          # (B, H, L, D)
    out = ops.scaled_dot_product_attention(q, k, v, enable_gqa=True)         # Hq = 4 Hkv
    out = ops.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           causal_variant=ops.CausalVariant.LOWER_RIGHT)

fp16, bf16 and fp32 inputs on a CUDA device or the CPU (where the kernels run compiled for the
host), with the last dimension contiguous (any other strides), head
dimensions up to 256, boolean (True attends) or additive ``attn_mask`` broadcastable to
``(B, Hq, Lq, Lk)``, grouped-query attention, and both causal alignments. Rows that see no key
give 0. One forward kernel (``kernels/attention.py``) computes every case; with any input
requiring grad, autograd runs the backward kernels (deterministic: no atomics), which give
``attn_mask`` no gradient. fp32 inputs are computed in fp32 throughout (FMA dots, not tf32), as
PyTorch's own fp32 attention is.

With ``present_key`` / ``present_value`` (a decode step's new rows) the op first writes them
into ``present_key_slot`` / ``present_value_slot``, views into ``key`` / ``value``, and then
attends over all of ``key`` / ``value``. Calls with few query rows per kv head (decoding) run
the split-KV kernel, which spreads the keys over the whole GPU (or the CPU's programs).

Not supported yet, and refused with an error that says so: a value head dimension other than
the query's.
"""
from __future__ import annotations

import enum
import math
from typing import Any, List, Optional, Tuple

from .arguments import (as_tensor, check_bool, check_device, check_distinct, check_finite,
                        check_same, torch)
from .attention_core import HALF_DTYPES, Scores, attention, check_inputs, dropout_fields
from .attention_splitkv import write_rows

__all__ = ["CausalVariant", "scaled_dot_product_attention"]

_OP = "scaled_dot_product_attention"
_DTYPES = HALF_DTYPES + ((torch.float32,) if torch is not None else ())
MAX_HEAD_DIM = 256


class CausalVariant(enum.IntEnum):
    """Which keys a causal query sees: ``UPPER_LEFT``, key j visible to query i iff j <= i;
    ``LOWER_RIGHT``, iff j <= i + Lk - Lq (the last query sees every key)."""
    UPPER_LEFT = 1
    LOWER_RIGHT = 2


def _mask_view(attn_mask: Any, shape, query: "torch.Tensor") -> "torch.Tensor":
    """``attn_mask`` as a (B, Hq, Lq, Lk) view (broadcast dims get stride 0), checked."""
    mask = as_tensor(attn_mask, "attn_mask", _OP)
    check_device(mask, "attn_mask", _OP)
    if mask.device != query.device:
        raise ValueError(f"{_OP}: attn_mask is on {mask.device} but query is on "
                         f"{query.device}; expected tensors on one device")
    if mask.dtype != torch.bool and not mask.dtype.is_floating_point:
        raise TypeError(f"{_OP}: attn_mask has dtype {mask.dtype}; expected torch.bool or a "
                        "floating-point dtype")
    if mask.requires_grad and torch.is_grad_enabled():
        raise NotImplementedError(f"{_OP}: attn_mask requires grad; a gradient for the mask is "
                                  "not supported (detach it)")
    if mask.dim() > 4:
        raise ValueError(f"{_OP}: attn_mask has {mask.dim()} dimensions; expected at most 4, "
                         f"broadcastable to {tuple(shape)}")
    try:
        return mask.expand(*shape)
    except RuntimeError:
        raise ValueError(f"{_OP}: attn_mask of shape {tuple(mask.shape)} does not broadcast to "
                         f"(B, Hq, Lq, Lk) = {tuple(shape)}") from None


def _present_writes(key: "torch.Tensor", value: "torch.Tensor", *present: Any
                    ) -> List[Tuple["torch.Tensor", "torch.Tensor"]]:
    """The checked (rows, slot) pairs of the present_* slot write: present_key into
    present_key_slot, a view into key, and likewise for value; [] when none is given."""
    names = ("present_key", "present_value", "present_key_slot", "present_value_slot")
    if all(t is None for t in present):
        return []
    missing = [name for name, t in zip(names, present) if t is None]
    if missing:
        raise ValueError(f"{_OP}: {', '.join(missing)} missing; expected all four present_* "
                         "arguments together")
    tensors = check_inputs(_OP, tuple(zip(names, present)), "(B, Hkv, L, D)", _DTYPES)
    check_same(_OP, ("key", key), ("present_key", tensors[0]))
    key_rows, value_rows, key_slot, value_slot = tensors
    writes = []
    for name, rows, slot, parent_name, parent in (
            ("present_key", key_rows, key_slot, "key", key),
            ("present_value", value_rows, value_slot, "value", value)):
        slot_name = f"{name}_slot"
        if tuple(slot.shape) != tuple(rows.shape):
            raise ValueError(f"{_OP}: {slot_name} has shape {tuple(slot.shape)} but {name} "
                             f"{tuple(rows.shape)}; expected them equal")
        if slot.untyped_storage().data_ptr() != parent.untyped_storage().data_ptr():
            raise ValueError(f"{_OP}: {slot_name} is not a view into {parent_name}; expected "
                             f"the rows of {parent_name} that {name} is written to")
        check_distinct(slot, slot_name, _OP, f"expected distinct elements ({name} is written "
                       "into them)")
        writes.append((rows, slot))
    return writes


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: Optional[float] = None, enable_gqa: bool = False,
                                 causal_variant: Optional[CausalVariant] = None,
                                 present_key: Any = None, present_value: Any = None,
                                 present_key_slot: Any = None,
                                 present_value_slot: Any = None) -> "torch.Tensor":
    """``softmax(query @ key^T * scale + mask) @ value`` over (B, H, L, D) tensors.

    Args:
        query: (B, Hq, Lq, D); key, value: (B, Hkv, Lk, D), fp16, bf16 or fp32, one dtype,
            the last dimension contiguous.
        attn_mask: bool (True = attend) or float (added to the scores, natural-log domain),
            broadcastable to (B, Hq, Lq, Lk); not together with ``is_causal``.
        dropout_p: drops each probability with this probability and scales the kept ones by
            1 / (1 - dropout_p); Philox keyed by a seed from PyTorch's default generator
            (``torch.manual_seed`` reproduces a call), regenerated by the backward.
        is_causal: hide future keys, aligned by ``causal_variant`` (default UPPER_LEFT).
        scale: the score scale (a finite number), 1/sqrt(D) by default.
        enable_gqa: query head h reads kv head h // (Hq / Hkv); without it Hq must equal Hkv.
        present_key, present_value: (B, Hkv, Lp, D) rows written, before attending, into
            present_key_slot / present_value_slot: views into key / value of the same shape
            (typically ``key[:, :, pos:pos + Lp]``). All four or none.

    Returns:
        (B, Hq, Lq, D) in value's dtype. A row that sees no key is 0.

    Example:
        >>> q = torch.randn(2, 8, 128, 64, device="cuda", dtype=torch.bfloat16)  # doctest: +SKIP
        >>> out = scaled_dot_product_attention(q, q, q, is_causal=True)         # doctest: +SKIP
    """
    query, key, value = check_inputs(_OP, (("query", query), ("key", key), ("value", value)),
                                     "(B, H, L, D)", _DTYPES)
    dropout_p = check_finite(dropout_p, "dropout_p", _OP, 0, 1, "a probability in [0, 1]")
    is_causal = check_bool(is_causal, "is_causal", _OP)
    enable_gqa = check_bool(enable_gqa, "enable_gqa", _OP)
    scale = None if scale is None else check_finite(scale, "scale", _OP)
    present = _present_writes(key, value, present_key, present_value, present_key_slot,
                              present_value_slot)
    if attn_mask is not None and is_causal:
        raise ValueError(f"{_OP}: attn_mask and is_causal are mutually exclusive; give one")
    if causal_variant is not None and (isinstance(causal_variant, bool) or not isinstance(
            causal_variant, int) or causal_variant not in tuple(CausalVariant)):
        raise ValueError(f"{_OP}: causal_variant is {causal_variant!r}; expected "
                         "CausalVariant.UPPER_LEFT or CausalVariant.LOWER_RIGHT")

    batch, heads, lq, dim = query.shape
    kv_batch, kv_heads, lk, key_dim = key.shape
    if key_dim != dim:
        raise ValueError(f"{_OP}: key has head dimension {key_dim} but query has {dim}; "
                         "expected them equal")
    if tuple(value.shape[:3]) != (kv_batch, kv_heads, lk):
        raise ValueError(f"{_OP}: value has shape {tuple(value.shape)} but key has "
                         f"{tuple(key.shape)}; expected the same batch, heads and length")
    if value.shape[-1] != dim:
        raise NotImplementedError(f"{_OP}: value's head dimension {value.shape[-1]} differs "
                                  f"from query's {dim}, which is not supported yet")
    if kv_batch != batch:
        raise ValueError(f"{_OP}: key has batch {kv_batch} but query has {batch}; expected "
                         "them equal")
    if dim > MAX_HEAD_DIM or dim < 1:
        raise ValueError(f"{_OP}: query has head dimension {dim}; expected 1 to "
                         f"{MAX_HEAD_DIM}")
    if enable_gqa:
        if kv_heads < 1 or heads % kv_heads != 0:
            raise ValueError(f"{_OP}: query has {heads} heads and key {kv_heads}; with "
                             "enable_gqa the query heads must be a multiple of the key heads")
    elif kv_heads != heads:
        raise ValueError(f"{_OP}: query has {heads} heads and key {kv_heads}; expected them "
                         "equal (or enable_gqa=True)")
    scale = 1.0 / math.sqrt(dim) if scale is None else scale

    mask = None if attn_mask is None else _mask_view(attn_mask, (batch, heads, lq, lk), query)
    right, off = -1, 0
    if is_causal:
        right = 0
        if causal_variant == CausalVariant.LOWER_RIGHT:
            off = lk - lq
    scores = Scores(scale=scale, off=off, right=right, mask=mask,
                    **dropout_fields(dropout_p))
    for rows, slot in present:
        write_rows(rows.transpose(1, 2), slot.transpose(1, 2), rows.shape[2], at_position=False)
    return attention(query, key, value, scores)[0]
