"""Split-KV attention for few queries against many keys (decode), and the KV-cache row writer.

``attention_splitkv_kernel`` computes the forward of ``kernels/attention.py`` (the same score
pipeline, helpers and exp2-domain online softmax) with two changes that suit decoding:

- Packed GQA rows: one program holds the queries of every query head sharing one kv head, row
  ``r`` being query ``r // GROUP`` of head ``kv_h * GROUP + r % GROUP``, so a decode step
  (Lq = 1) fills the tile's rows with the group's heads and each K/V block is read once for
  all of them.
- Split keys: the ``num_splits`` programs of a row block (along grid axis 0; the (batch, kv
  head) pairs are on axes 1 and 2, as ``grid.batch_head_grid`` lays them out) cut its visible
  keys into chunks of whole ``BLOCK_N`` blocks, so a handful of (batch, kv head) pairs still
  fills the GPU. Each chunk writes its normalised partial output and its log2-domain
  log-sum-exp (``-inf`` when it saw no key) to fp32 workspaces, and
  ``attention_combine_kernel`` merges them: ``o = sum_s 2^(lse_s - m) o_s / sum_s 2^(lse_s -
  m)``. One split stores the result directly.

With ``CACHE`` the keys are a KV cache (``specs/rwkv-and-attention.md`` C.5): batch b sees
``SEQLENS_K[b] + new_keys`` keys (at most ``capacity``) from position ``LEFTPAD[b]`` on,
bottom-right aligned, in cache entry ``BATCH_IDX[b]``, or through ``BLOCK_TABLE`` pages.

``kv_write_kernel`` copies rows of a (B, S, H, D) source to a destination at rows ``L + i``
(``L = SEQLENS[b]``, or 0) of a contiguous or paged cache, or at rows ``i`` of a buffer,
optionally rotating them (RoPE at positions ``L + i``): the KV-cache append, the rotated query
and SDPA's present_* slot write.
"""
from __future__ import annotations

from typing import Dict

import tessera
import tessera.language as tl

from .attention import LN2, LOG2E, _attend_all, _block_ranges, _load_rows
from .grid import batch_head_id

__all__ = ["attention_combine_kernel", "attention_splitkv_kernel", "choose_splitkv_config",
           "kv_write_kernel"]


@tessera.jit
def attention_splitkv_kernel(Q, K, V, O, LSE, O_PART, LSE_PART, MASK, ALIBI_SLOPES, SEQLENS_K,
                             LEFTPAD, BATCH_IDX, BLOCK_TABLE,
                             stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                             stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om,
                             stride_mb, stride_mh, stride_mm, stride_mn, stride_ab,
                             stride_lb, stride_lh, stride_tb, stride_part,
                             H, HKV, GROUP, Lq, Lk, D, scale, softcap, off, left, right,
                             new_keys, capacity, page_size, num_pages, num_splits,
                             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                             HEAD_DIM: tl.constexpr, EVEN_D: tl.constexpr,
                             HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
                             MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr, ALIBI: tl.constexpr,
                             POSITIVE_SCALE: tl.constexpr, CACHE: tl.constexpr,
                             HAS_LEFTPAD: tl.constexpr, HAS_BATCH_IDX: tl.constexpr,
                             PAGED: tl.constexpr, SPLIT: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    # grid axis 0: (split, row block), the row blocks of one split adjacent
    m_blocks = (GROUP * Lq + BLOCK_M - 1) // BLOCK_M
    start_m = tl.program_id(0) % m_blocks
    split = tl.program_id(0) // m_blocks
    bhk = batch_head_id(PAIRS_ON_Z)
    b = (bhk // HKV).to(tl.int64)
    kv_h = (bhk % HKV).to(tl.int64)
    if CACHE:
        Lk = max(min(tl.load(SEQLENS_K + b) + new_keys, capacity), 0)
        off = Lk - Lq
    leftpad = 0
    if HAS_LEFTPAD:
        leftpad = min(max(tl.load(LEFTPAD + b), 0), Lk)
        Lk = Lk - leftpad
        off = off - leftpad

    rows = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    qi = rows // GROUP
    h = kv_h * GROUP + (rows % GROUP).to(tl.int64)
    row_mask = qi < Lq
    offs_d = tl.arange(0, HEAD_DIM)
    d_mask = offs_d < D
    q = _load_rows(Q + b * stride_qb + h[:, None] * stride_qh + qi[:, None] * stride_qm
                   + offs_d[None, :], qi, Lq, d_mask, True, EVEN_D)

    cache_b = b
    if HAS_BATCH_IDX:
        cache_b = tl.load(BATCH_IDX + b).to(tl.int64)
    table = None
    if PAGED:
        table = BLOCK_TABLE + b * stride_tb
        k_base = K + kv_h * stride_kh
        v_base = V + kv_h * stride_vh
    else:
        k_base = K + cache_b * stride_kb + kv_h * stride_kh + leftpad * stride_kn
        v_base = V + cache_b * stride_vb + kv_h * stride_vh + leftpad * stride_vn
    m_base = None
    if MASK_KIND != 0:
        m_base = MASK + b * stride_mb + h[:, None] * stride_mh + qi[:, None] * stride_mm
    slope2 = 0.0
    if ALIBI:
        slope2 = (tl.load(ALIBI_SLOPES + b * stride_ab + h, mask=row_mask, other=0.0)
                  * LOG2E)[:, None]

    # The block's rows hold queries from (start_m * BLOCK_M) // GROUP on, at most BLOCK_M of
    # them: a conservative span for the visible range (rows past it are masked anyway).
    all_masked: tl.constexpr = MASK_KIND != 0 or ALIBI or not POSITIVE_SCALE
    lo, a, b_, hi = _block_ranges((start_m * BLOCK_M) // GROUP, BLOCK_M, BLOCK_N, Lk, off,
                                  left, right, HAS_LEFT, HAS_RIGHT, all_masked)
    if SPLIT:
        blocks_per_split = ((hi - lo + BLOCK_N - 1) // BLOCK_N + num_splits - 1) // num_splits
        split_lo = min(lo + split * blocks_per_split * BLOCK_N, hi)
        split_hi = min(split_lo + blocks_per_split * BLOCK_N, hi)
        a = min(max(a, split_lo), split_hi)
        b_ = min(max(b_, split_lo), split_hi)
        lo = split_lo
        hi = split_hi
    acc, m_i, l_i = _attend_all(q, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn, qi,
                                offs_d, lo, a, b_, hi, Lq, Lk, d_mask, off, left, right, scale,
                                softcap, slope2, table, page_size, num_pages, stride_kb,
                                stride_vb, 0, 0.0, 1.0, 0, 0, BLOCK_M, BLOCK_N, HEAD_DIM,
                                HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, PAGED,
                                False)

    seen = l_i > 0.0
    inv_l = tl.where(seen, 1.0 / l_i, 0.0)
    out = acc * inv_l[:, None]
    store_mask = row_mask[:, None]
    if not EVEN_D:
        store_mask = store_mask & d_mask[None, :]
    if SPLIT:
        # workspace row (b, h, qi) of this split, in the order the combine kernel reads
        part = split * stride_part + (b * H + h) * Lq + qi
        tl.store(O_PART + part[:, None] * HEAD_DIM + offs_d[None, :], out, mask=store_mask)
        tl.store(LSE_PART + part, tl.where(seen, m_i + tl.log2(l_i), float("-inf")),
                 mask=row_mask)
    else:
        o_ptrs = O + b * stride_ob + h[:, None] * stride_oh + qi[:, None] * stride_om
        tl.store(o_ptrs + offs_d[None, :], out.to(O.dtype.element_ty), mask=store_mask)
        if LSE is not None:
            lse = tl.where(seen, (m_i + tl.log2(l_i)) * LN2, float("inf"))
            tl.store(LSE + b * stride_lb + h * stride_lh + qi, lse, mask=row_mask)


@tessera.jit
def attention_combine_kernel(O_PART, LSE_PART, O, LSE, stride_ob, stride_oh, stride_om,
                             stride_lb, stride_lh, stride_part, H, Lq, D, num_splits,
                             SPLITS: tl.constexpr, HEAD_DIM: tl.constexpr):
    """Merges the num_splits partial results of workspace row (b, h, qi) = program 0."""
    row = tl.program_id(0).to(tl.int64)
    qi = row % Lq
    b = row // Lq // H
    h = row // Lq % H
    splits = tl.arange(0, SPLITS)
    offs_d = tl.arange(0, HEAD_DIM)
    valid = splits < num_splits
    part = splits * stride_part + row
    lse2 = tl.load(LSE_PART + part, mask=valid, other=float("-inf"))
    m = tl.max(lse2, 0)
    m_safe = tl.where(m == float("-inf"), 0.0, m)
    weight = tl.exp2(lse2 - m_safe)
    total = tl.sum(weight, 0)
    partial = tl.load(O_PART + part[:, None] * HEAD_DIM + offs_d[None, :],
                      mask=valid[:, None], other=0.0)
    seen = total > 0.0
    out = tl.sum(partial * weight[:, None], 0) * tl.where(seen, 1.0 / total, 0.0)
    tl.store(O + b * stride_ob + h * stride_oh + qi * stride_om + offs_d, out.to(
        O.dtype.element_ty), mask=offs_d < D)
    if LSE is not None:
        lse = tl.where(seen, (m_safe + tl.log2(total)) * LN2, float("inf"))
        tl.store(LSE + b * stride_lb + h * stride_lh + qi, lse)


@tessera.jit
def kv_write_kernel(X, DST, COS, SIN, SEQLENS, BATCH_IDX, BLOCK_TABLE,
                    stride_xb, stride_xs, stride_xh, stride_db, stride_ds, stride_dh,
                    stride_cos, stride_sin, stride_tb,
                    H, S, D, capacity, page_size, num_pages, rotary_half, table_rows,
                    BLOCK_S: tl.constexpr, HEAD_DIM: tl.constexpr, ROTARY: tl.constexpr,
                    INTERLEAVED: tl.constexpr, AT_POSITION: tl.constexpr,
                    HAS_SEQLENS: tl.constexpr, HAS_BATCH_IDX: tl.constexpr,
                    PAGED: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """Row i < S of head h of batch b of X goes to row ``L + i`` (AT_POSITION) or ``i`` of DST
    (batch ``BATCH_IDX[b]``, or through the page table), rotated at position ``L + i`` where
    ROTARY: the first ``2 * rotary_half`` dims, pairs (x[2j], x[2j+1]) (INTERLEAVED) or (x[j],
    x[j + rotary_half]), by the angle of table row ``L + i``, column j. Rows past ``capacity``
    (or in a page out of range) are not written; positions past the table are not rotated."""
    start = tl.program_id(0)
    bh = batch_head_id(PAIRS_ON_Z)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    i = start * BLOCK_S + tl.arange(0, BLOCK_S)
    position = i
    if HAS_SEQLENS:
        position = tl.load(SEQLENS + b) + i
    offs_d = tl.arange(0, HEAD_DIM)
    in_rows = (i < S)[:, None]
    x_row = X + b * stride_xb + h * stride_xh + i[:, None].to(tl.int64) * stride_xs
    x = tl.load(x_row + offs_d[None, :], mask=in_rows & (offs_d < D)[None, :],
                other=0.0).to(tl.float32)
    if ROTARY:
        if INTERLEAVED:
            first = offs_d % 2 == 0
            partner = offs_d ^ 1
            pair = offs_d // 2
        else:
            first = offs_d < rotary_half
            partner = tl.where(first, offs_d + rotary_half, offs_d - rotary_half)
            pair = tl.where(first, offs_d, offs_d - rotary_half)
        rotated = in_rows & (offs_d < 2 * rotary_half)[None, :]
        angle_mask = rotated & (position < table_rows)[:, None]
        cos = tl.load(COS + position[:, None] * stride_cos + pair[None, :], mask=angle_mask,
                      other=1.0).to(tl.float32)
        sin = tl.load(SIN + position[:, None] * stride_sin + pair[None, :], mask=angle_mask,
                      other=0.0).to(tl.float32)
        other = tl.load(x_row + partner[None, :], mask=rotated, other=0.0).to(tl.float32)
        x = x * cos + tl.where(first[None, :], -other, other) * sin
    row = i
    if AT_POSITION:
        row = position
    writable = (row >= 0) & (row < capacity)
    if PAGED:
        page = tl.load(BLOCK_TABLE + b * stride_tb + row // page_size, mask=writable,
                       other=-1).to(tl.int64)
        writable = writable & (page >= 0) & (page < num_pages)
        dst_row = DST + page * stride_db + (row % page_size).to(tl.int64) * stride_ds
    else:
        dst_b = b
        if HAS_BATCH_IDX:
            dst_b = tl.load(BATCH_IDX + b).to(tl.int64)
        dst_row = DST + dst_b * stride_db + row.to(tl.int64) * stride_ds
    tl.store(dst_row[:, None] + h * stride_dh + offs_d[None, :], x.to(DST.dtype.element_ty),
             mask=in_rows & writable[:, None] & (offs_d < D)[None, :])


def choose_splitkv_config(head_dim: int, page_size: int = 0, fp32: bool = False
                          ) -> Dict[str, int]:
    """BLOCK_M (packed query rows per program), BLOCK_N, num_warps and num_stages of the
    split-KV kernel; BLOCK_N divides ``page_size`` (a multiple of 16) when the cache is paged.
    One warpgroup of 64 rows: the wgmma shape on sm_90a, and mma.sync tiles of 16 rows would
    need more registers (each warp holding all of q) and spill. Three stages of 64 keys: the
    fastest of BLOCK_N {64, 128} x stages {2, 3, 4} in GQA 32/8 D=128 decoding on an H200.
    fp32 inputs (FMA dots, operands staged in shared memory) need two warpgroups not to spill."""
    block_n = 64 if head_dim <= 128 else 32
    while page_size and page_size % block_n:
        block_n //= 2
    if fp32:
        return {"BLOCK_M": 64, "BLOCK_N": block_n, "num_warps": 8, "num_stages": 1}
    return {"BLOCK_M": 64, "BLOCK_N": block_n, "num_warps": 4, "num_stages": 3}
