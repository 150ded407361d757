"""The rotary position embedding kernel of ``tessera.ops``.

For input ``x (B, S, H, D)`` and tables ``sin, cos (S, D/2)``, each rotation pair ``(x0, x1)``
of a head becomes ``(x0 * cos - x1 * sin, x0 * sin + x1 * cos)`` with the angle of pair ``i``
of position ``s``; the pairs are ``(x[2i], x[2i+1])`` (``INTERLEAVED``) or ``(x[i],
x[D/2 + i])``. Math is fp32, the result is stored in the input's dtype.

One program rotates a ``BLOCK_H x BLOCK_HALF`` tile of one token (of the ``B * S`` positions,
in order): heads x pairs. It loads the token's ``BLOCK_HALF`` entries of each table once and
broadcasts them over the heads. Programs are numbered pair block fastest, then head block, then
token, so that programs running together share table rows in L2.

The pairs of an interleaved layout are adjacent elements; where the caller can view the memory
as words of two elements (``PAIRED``: 32-bit words for fp16/bf16, 64-bit for fp32), ``X`` and
``Y`` point to words and one word holds one pair, so the loads and stores are contiguous and
vectorise (16 bytes per access where aligned), with no de-interleaving. Otherwise each element
is addressed through its stride. Every tensor has its own strides: slices of a fused QKV
tensor, transposed heads and broadcast tables need no copies.
"""
from __future__ import annotations

import tessera
import tessera.language as tl

from .masks import both, masked_load, masked_store

__all__ = ["rope_kernel"]


@tessera.jit
def _unpack(words, ELEMENT: tl.constexpr):
    """The two elements of each word (the lower-addressed one first) as fp32."""
    if ELEMENT == "fp32":
        first = words.to(tl.uint32).to(tl.float32, bitcast=True)
        second = (words >> 32).to(tl.uint32).to(tl.float32, bitcast=True)
    elif ELEMENT == "bf16":  # a bf16 is the high half of the fp32 of the same value
        first = (words << 16).to(tl.float32, bitcast=True)
        second = ((words >> 16) << 16).to(tl.float32, bitcast=True)
    else:
        first = words.to(tl.uint16).to(tl.float16, bitcast=True).to(tl.float32)
        second = (words >> 16).to(tl.uint16).to(tl.float16, bitcast=True).to(tl.float32)
    return first, second


@tessera.jit
def _pack(first, second, ELEMENT: tl.constexpr):
    """Words of two fp32 values rounded to ``ELEMENT`` (``first`` at the lower address)."""
    if ELEMENT == "fp32":
        words = (first.to(tl.uint32, bitcast=True).to(tl.uint64)
                 | (second.to(tl.uint32, bitcast=True).to(tl.uint64) << 32))
    else:
        element = tl.bfloat16 if ELEMENT == "bf16" else tl.float16
        words = (first.to(element).to(tl.uint16, bitcast=True).to(tl.uint32)
                 | (second.to(element).to(tl.uint16, bitcast=True).to(tl.uint32) << 16))
    return words


@tessera.jit
def rope_kernel(X, Y, SIN, COS, S, H,
                stride_xb, stride_xs, stride_xh, stride_xd,
                stride_yb, stride_ys, stride_yh, stride_yd,
                stride_sin_s, stride_sin_d, stride_cos_s, stride_cos_d,
                HALF: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_HALF: tl.constexpr,
                EVEN_H: tl.constexpr, INTERLEAVED: tl.constexpr, PAIRED: tl.constexpr,
                ELEMENT: tl.constexpr, INDEX_64: tl.constexpr):
    # program -> (token, head block, pair block), pair block fastest
    HALF_BLOCKS: tl.constexpr = (HALF + BLOCK_HALF - 1) // BLOCK_HALF
    pid = tl.program_id(0)
    pid_i = pid % HALF_BLOCKS
    pid = pid // HALF_BLOCKS
    head_blocks = tl.cdiv(H, BLOCK_H)
    pid_h = pid % head_blocks
    token = pid // head_blocks
    h = (pid_h * BLOCK_H + tl.arange(0, BLOCK_H))[:, None]
    i = (pid_i * BLOCK_HALF + tl.arange(0, BLOCK_HALF))[None, :]
    if INDEX_64:  # a tensor spans 2**31 elements or more
        token = token.to(tl.int64)
        h = h.to(tl.int64)
    b = token // S
    s = token % S

    mask_h = None if EVEN_H else h < H  # EVEN_H: H % BLOCK_H == 0
    mask_i = None if HALF % BLOCK_HALF == 0 else i < HALF
    mask = both(mask_h, mask_i)

    # This token's rows of the tables, addressed for every head: each thread loads the entries
    # its own pairs need (the repeats hit L1) in the tile's layout, so nothing moves between
    # threads, where loading one row and broadcasting it over the heads would.
    rows = h * 0
    sin = masked_load(SIN + s * stride_sin_s + i * stride_sin_d + rows, mask_i).to(tl.float32)
    cos = masked_load(COS + s * stride_cos_s + i * stride_cos_d + rows, mask_i).to(tl.float32)

    x_rows = X + b * stride_xb + s * stride_xs + h * stride_xh
    y_rows = Y + b * stride_yb + s * stride_ys + h * stride_yh
    if PAIRED:  # one word per pair: stride_xd and stride_yd count words
        x0, x1 = _unpack(masked_load(x_rows + i * stride_xd, mask), ELEMENT)
    else:
        if INTERLEAVED:
            d0 = 2 * i
            d1 = 2 * i + 1
        else:
            d0 = i
            d1 = i + HALF
        x0 = masked_load(x_rows + d0 * stride_xd, mask).to(tl.float32)
        x1 = masked_load(x_rows + d1 * stride_xd, mask).to(tl.float32)

    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    if PAIRED:
        masked_store(y_rows + i * stride_yd, _pack(y0, y1, ELEMENT), mask)
    else:
        masked_store(y_rows + d0 * stride_yd, y0, mask)
        masked_store(y_rows + d1 * stride_yd, y1, mask)
