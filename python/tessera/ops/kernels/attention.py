"""The attention kernels of ``tessera.ops``: ``O = softmax(logits(Q K^T)) V`` and its gradients.

Scores follow ``specs/rwkv-and-attention.md`` C.2 in order: ``scale * q.k``, the softcap
``c * tanh(s / c)``, the ALiBi bias ``-slope * |i + off - j|``, then the visibility window (key j
is visible to query i iff ``i + off - left <= j <= i + off + right``; causal is ``right = 0``;
``off`` aligns the window, 0 for top-left and ``Lk - Lq`` for bottom-right) and an optional
boolean or additive ``attn_mask``. Everything runs in the exp2 domain (logits times log2(e)).

Forward (``attention_fwd_kernel``), FlashAttention-2 style: one program computes ``BLOCK_M``
query rows of one (batch, query head) against every visible key in ``BLOCK_N`` steps, keeping
a running row maximum ``m``, a running row sum ``l`` and an fp32 accumulator, and divides by
``l`` once at the end. Query head ``h`` reads kv head ``h // GROUP`` (grouped-query attention).

Backward, recomputing the probabilities ``P = exp(s - lse)`` tile by tile from the forward's
log-sum-exp (C.6), in three kernels and no atomics, so the result is bitwise reproducible:
``attention_bwd_delta_kernel`` computes ``delta_i = sum_d dO_id O_id``;
``attention_bwd_dkdv_kernel`` gives one program ``BLOCK_N`` keys of one kv head and walks the
queries of every query head sharing it, accumulating dK and dV (the GQA reduction happens in
registers, in a fixed order); ``attention_bwd_dq_kernel`` gives one program ``BLOCK_M`` queries
and walks their keys.

Every walk is split into blocks that some row sees only in part (the window's edges, ragged
ends, masks, ALiBi: computed with positions, "masked") and blocks every row sees whole (no
position work). All loops have the form the compiler's software pipeliner recognises (pointers
carried and advanced, loads feeding only ``tl.dot``), so the streamed operands go through
shared-memory rings; on sm_90a ``A @ trans(B)`` reads B's tile K-major in place and a
register-held left operand goes to wgmma without shared memory.

With ``DROPOUT``, P @ V (and the backward's P^T @ dO and dP) take the kept probabilities scaled
by ``1 / (1 - dropout)``; the mask is Philox at a counter numbering every (batch, head, query,
key) of the problem (``_keep``), so the backward kernels regenerate it.

Every product asks for ``input_precision="ieee"``: fp16 and bf16 operands run on tensor cores
regardless, and fp32 operands (scaled_dot_product_attention's fp32 inputs) on FMAs in fp32, never
tf32.

Rows with no visible key give 0, and ``+inf`` as their log-sum-exp.
"""
from __future__ import annotations

from typing import Dict

import tessera
import tessera.language as tl

from .grid import batch_head_id

__all__ = ["MASK_ADD", "MASK_BOOL", "MASK_NONE", "attention_bwd_delta_kernel",
           "attention_bwd_dkdv_kernel", "attention_bwd_dq_kernel", "attention_fwd_kernel",
           "choose_bwd_config", "choose_config", "head_dim_block"]

MASK_NONE, MASK_BOOL, MASK_ADD = 0, 1, 2
LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453


@tessera.jit
def _load_rows(ptrs, rows, length, d_mask, MASKED: tl.constexpr, EVEN_D: tl.constexpr):
    """A (rows, head dim) block: masked where rows may run past `length` or D is padded."""
    if MASKED:
        mask = rows[:, None] < length
        if not EVEN_D:
            mask = mask & d_mask[None, :]
        return tl.load(ptrs, mask=mask, other=0.0)
    if EVEN_D:
        return tl.load(ptrs)
    return tl.load(ptrs, mask=d_mask[None, :], other=0.0)


@tessera.jit
def _sequence(CU, b, length, VARLEN: tl.constexpr):
    """(first row, length) of sequence b: packed rows from cu_seqlens, or the whole batch entry."""
    if VARLEN:
        start = tl.load(CU + b)
        return start.to(tl.int64), tl.load(CU + b + 1) - start
    return 0, length


@tessera.jit
def _block_ranges(start, BLOCK: tl.constexpr, STEP: tl.constexpr, length, off, before, after,
                  HAS_BEFORE: tl.constexpr, HAS_AFTER: tl.constexpr,
                  ALL_MASKED: tl.constexpr):
    """Which of `length` positions the BLOCK rows from `start` see, as STEP-aligned bounds
    (lo, a, b, hi): [lo, a) and [b, hi) are seen in part, [a, b) whole. Row r sees positions
    [r + off - before, r + off + after] (an unbounded side when its HAS_ flag is off)."""
    lo = 0
    hi = length
    if HAS_BEFORE:
        lo = (max(start + off - before, 0) // STEP) * STEP
    if HAS_AFTER:
        hi = max(min(length, start + BLOCK + off + after), 0)
    lo = min(lo, hi)
    whole_lo = lo
    if HAS_BEFORE:
        whole_lo = ((max(start + BLOCK - 1 + off - before, 0) + STEP - 1) // STEP) * STEP
    whole_hi = (length // STEP) * STEP
    if HAS_AFTER:
        whole_hi = (max(min(length, start + off + after + 1), 0) // STEP) * STEP
    a = min(max(whole_lo, lo), hi)
    b = min(max(whole_hi, a), hi)
    if ALL_MASKED:
        a = lo
        b = lo
    return lo, a, b, hi


@tessera.jit
def _logits(qk, qi, kj, m_ptrs, Lq, Lk, off, left, right, scale, softcap, slope2,
            MASKED: tl.constexpr, HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
            MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr, ALIBI: tl.constexpr):
    """Exp2-domain logits of the raw scores `qk` for query rows `qi` and keys `kj` (index
    tiles that broadcast to qk's shape); -inf where hidden. Unmasked: no position work."""
    if SOFTCAP:
        s = tl.tanh(qk * (scale / softcap)) * (softcap * LOG2E)
    else:
        s = qk * (scale * LOG2E)
    if MASKED:
        visible = (kj < Lk) & (qi < Lq)
        if HAS_RIGHT:
            visible = visible & (kj <= qi + off + right)
        if HAS_LEFT:
            visible = visible & (kj >= qi + off - left)
        if ALIBI:
            s = s - slope2 * tl.abs(qi + off - kj).to(tl.float32)
        if MASK_KIND == 1:
            keep = tl.load(m_ptrs, mask=visible, other=0)
            visible = visible & (keep != 0)
        if MASK_KIND == 2:
            bias = tl.load(m_ptrs, mask=visible, other=0.0).to(tl.float32)
            s = s + bias * LOG2E
        s = tl.where(visible, s, float("-inf"))
    return s


@tessera.jit
def _keep(seed, dropout, drop_base, qi, kj, drop_cols):
    """The dropout of C.2 step 6 for queries qi and keys kj (index tiles that broadcast): True
    where kept, with probability 1 - dropout; Philox at counter drop_base + qi * drop_cols + kj,
    so the backward regenerates the forward's mask."""
    return tl.rand(seed, drop_base + qi.to(tl.int64) * drop_cols + kj) >= dropout


@tessera.jit
def _drop_base(b, h, H, q_start, k_start, drop_rows, drop_cols, DROPOUT: tl.constexpr):
    """The dropout counter of query 0, key 0 of (b, h): the counters of the whole problem are
    ((b * H + h) * drop_rows + row) * drop_cols + column, rows and columns counted in the
    (packed) q and k tensors."""
    if DROPOUT:
        return ((b * H + h) * drop_rows + q_start) * drop_cols + k_start
    return 0


@tessera.jit
def _page_rows(base, table_slot, row, num_pages, stride_page, stride_n, offs_d,
               BLOCK_N: tl.constexpr):
    """Pointers to BLOCK_N rows from row `row` of page *table_slot of a paged cache. A page
    index out of [0, num_pages) reads page 0 rather than out of bounds."""
    page = tl.load(table_slot).to(tl.int64)
    page = tl.where((page >= 0) & (page < num_pages), page, 0)
    rows = row + tl.arange(0, BLOCK_N)
    return base + page * stride_page + rows[:, None] * stride_n + offs_d[None, :]


@tessera.jit
def _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn,
            offs_m, offs_d, lo, hi, Lq, Lk, d_mask, off, left, right, scale, softcap, slope2,
            table, page_size, num_pages, stride_kpage, stride_vpage, seed, dropout, drop_scale,
            drop_base, drop_cols, BLOCK_N: tl.constexpr, MASKED: tl.constexpr,
            HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr, MASK_KIND: tl.constexpr,
            SOFTCAP: tl.constexpr, ALIBI: tl.constexpr, EVEN_D: tl.constexpr,
            PAGED: tl.constexpr, DROPOUT: tl.constexpr):
    """Folds keys [lo, hi) into (acc, m_i, l_i). PAGED: K and V are paged caches (see
    _page_rows; k_base and v_base point to the kv head of page 0), `lo` and every block start
    are multiples of BLOCK_N and page_size of BLOCK_N. DROPOUT: P @ V takes the kept
    probabilities times drop_scale (the row sum l counts them all)."""
    offs_n = lo + tl.arange(0, BLOCK_N)
    k_ptrs = k_base + offs_n[:, None] * stride_kn + offs_d[None, :]
    v_ptrs = v_base + offs_n[:, None] * stride_vn + offs_d[None, :]
    m_ptrs = None
    if MASK_KIND != 0:
        m_ptrs = m_base + offs_n[None, :] * stride_mn
    qk_scale = scale * LOG2E
    if PAGED:
        # position j is row j % page_size of page table[j // page_size]; the two counters step
        # without dividing, so that the loads' addresses may run ahead (software pipelining)
        table_slot = table + lo // page_size
        page_row = lo % page_size
    for start in range(lo, hi, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        if PAGED:
            k_ptrs = _page_rows(k_base, table_slot, page_row, num_pages, stride_kpage,
                                stride_kn, offs_d, BLOCK_N)
            v_ptrs = _page_rows(v_base, table_slot, page_row, num_pages, stride_vpage,
                                stride_vn, offs_d, BLOCK_N)
        k = _load_rows(k_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        qk = tl.dot(q, tl.trans(k), input_precision="ieee")
        if MASKED or SOFTCAP:
            s = _logits(qk, offs_m[:, None], cols[None, :], m_ptrs, Lq, Lk, off, left, right,
                        scale, softcap, slope2, MASKED, HAS_LEFT, HAS_RIGHT, MASK_KIND,
                        SOFTCAP, ALIBI)
            m_new = tl.maximum(m_i, tl.max(s, 1))
            # A row that has seen no visible key yet keeps m = -inf: subtract 0 instead.
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            p = tl.exp2(s - m_safe[:, None])
            alpha = tl.exp2(m_i - m_safe)
        else:
            # scale > 0 here: the row maximum is taken before scaling, one FMA per score
            m_new = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)
            p = tl.exp2(qk * qk_scale - m_new[:, None])
            alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None]
        v = _load_rows(v_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        if DROPOUT:
            keep = _keep(seed, dropout, drop_base, offs_m[:, None], cols[None, :], drop_cols)
            p = tl.where(keep, p * drop_scale, 0.0)
        acc = tl.dot(p.to(v_base.dtype.element_ty), v, acc, input_precision="ieee")
        m_i = m_new
        if PAGED:
            page_row += BLOCK_N
            page_end = page_row == page_size
            table_slot += page_end.to(tl.int32)
            page_row = tl.where(page_end, 0, page_row)
        else:
            k_ptrs += BLOCK_N * stride_kn
            v_ptrs += BLOCK_N * stride_vn
        if MASK_KIND != 0:
            m_ptrs += BLOCK_N * stride_mn
    return acc, m_i, l_i


@tessera.jit
def _attend_all(q, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn, offs_m, offs_d, lo,
                a, b, hi, Lq, Lk, d_mask, off, left, right, scale, softcap, slope2, table,
                page_size, num_pages, stride_kpage, stride_vpage, seed, dropout, drop_scale,
                drop_base, drop_cols, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                HEAD_DIM: tl.constexpr, HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
                MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr, ALIBI: tl.constexpr,
                EVEN_D: tl.constexpr, PAGED: tl.constexpr, DROPOUT: tl.constexpr):
    """(acc, m_i, l_i) of the BLOCK_M query rows over keys [lo, hi) as _block_ranges splits
    them: [lo, a) and [b, hi) masked, [a, b) whole (see _attend for the other arguments)."""
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, HEAD_DIM), tl.float32)
    if HAS_LEFT:
        acc, m_i, l_i = _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn,
                                stride_mn, offs_m, offs_d, lo, a, Lq, Lk, d_mask, off, left,
                                right, scale, softcap, slope2, table, page_size, num_pages,
                                stride_kpage, stride_vpage, seed, dropout, drop_scale,
                                drop_base, drop_cols, BLOCK_N, True, HAS_LEFT, HAS_RIGHT,
                                MASK_KIND, SOFTCAP, ALIBI, EVEN_D, PAGED, DROPOUT)
    acc, m_i, l_i = _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn,
                            stride_mn, offs_m, offs_d, a, b, Lq, Lk, d_mask, off, left, right,
                            scale, softcap, slope2, table, page_size, num_pages, stride_kpage,
                            stride_vpage, seed, dropout, drop_scale, drop_base, drop_cols,
                            BLOCK_N, False, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI,
                            EVEN_D, PAGED, DROPOUT)
    acc, m_i, l_i = _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn,
                            stride_mn, offs_m, offs_d, b, hi, Lq, Lk, d_mask, off, left, right,
                            scale, softcap, slope2, table, page_size, num_pages, stride_kpage,
                            stride_vpage, seed, dropout, drop_scale, drop_base, drop_cols,
                            BLOCK_N, True, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI,
                            EVEN_D, PAGED, DROPOUT)
    return acc, m_i, l_i


@tessera.jit(do_not_specialize=["seed"])
def attention_fwd_kernel(Q, K, V, O, LSE, MASK, ALIBI_SLOPES, CU_Q, CU_K,
                         stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                         stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om,
                         stride_mb, stride_mh, stride_mm, stride_mn, stride_ab,
                         stride_lb, stride_lh,
                         H, GROUP, Lq, Lk, D, scale, softcap, off, left, right,
                         seed, dropout, drop_scale, drop_rows, drop_cols,
                         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, HEAD_DIM: tl.constexpr,
                         EVEN_D: tl.constexpr, HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
                         MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr, ALIBI: tl.constexpr,
                         POSITIVE_SCALE: tl.constexpr, VARLEN: tl.constexpr,
                         DROPOUT: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    start_m = tl.program_id(0)
    bh = batch_head_id(PAIRS_ON_Z)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    kv_h = h // GROUP
    q_start, Lq = _sequence(CU_Q, b, Lq, VARLEN)
    k_start, Lk = _sequence(CU_K, b, Lk, VARLEN)
    if VARLEN:
        off = Lk - Lq  # packed sequences align bottom-right, each by its own lengths
        if start_m * BLOCK_M >= Lq:
            return
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    d_mask = offs_d < D

    q_ptrs = (Q + b * stride_qb + h * stride_qh + q_start * stride_qm
              + offs_m[:, None] * stride_qm + offs_d[None, :])
    q = _load_rows(q_ptrs, offs_m, Lq, d_mask, True, EVEN_D)
    k_base = K + b * stride_kb + kv_h * stride_kh + k_start * stride_kn
    v_base = V + b * stride_vb + kv_h * stride_vh + k_start * stride_vn
    m_base = None
    if MASK_KIND != 0:
        m_base = MASK + b * stride_mb + h * stride_mh + offs_m[:, None] * stride_mm
    slope2 = 0.0
    if ALIBI:
        slope2 = tl.load(ALIBI_SLOPES + b * stride_ab + h) * LOG2E
    drop_base = _drop_base(b, h, H, q_start, k_start, drop_rows, drop_cols, DROPOUT)

    all_masked: tl.constexpr = MASK_KIND != 0 or ALIBI or not POSITIVE_SCALE
    lo, a, b_, hi = _block_ranges(start_m * BLOCK_M, BLOCK_M, BLOCK_N, Lk, off, left, right,
                                  HAS_LEFT, HAS_RIGHT, all_masked)
    acc, m_i, l_i = _attend_all(q, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn,
                                offs_m, offs_d, lo, a, b_, hi, Lq, Lk, d_mask, off, left, right,
                                scale, softcap, slope2, None, 0, 0, 0, 0, seed, dropout,
                                drop_scale, drop_base, drop_cols, BLOCK_M, BLOCK_N, HEAD_DIM,
                                HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, False,
                                DROPOUT)

    seen = l_i > 0.0
    inv_l = tl.where(seen, 1.0 / l_i, 0.0)
    out = acc * inv_l[:, None]
    o_ptrs = (O + b * stride_ob + h * stride_oh + q_start * stride_om
              + offs_m[:, None] * stride_om + offs_d[None, :])
    row_mask = offs_m < Lq
    if EVEN_D:
        tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=row_mask[:, None])
    else:
        tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=row_mask[:, None] & d_mask[None, :])
    if LSE is not None:
        # natural-log log-sum-exp of the logits; +inf for a row without visible keys
        lse = tl.where(seen, (m_i + tl.log2(l_i)) * LN2, float("inf"))
        tl.store(LSE + b * stride_lb + h * stride_lh + q_start + offs_m, lse, mask=row_mask)


@tessera.jit
def attention_bwd_delta_kernel(O, DO, DELTA, CU_Q, stride_ob, stride_oh, stride_om, stride_gb,
                               stride_gh, stride_gm, stride_lb, stride_lh, H, Lq, D,
                               BLOCK_M: tl.constexpr, HEAD_DIM: tl.constexpr,
                               VARLEN: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """delta[b, h, i] = sum_d dO[b, h, i, d] * O[b, h, i, d], in fp32."""
    start_m = tl.program_id(0)
    bh = batch_head_id(PAIRS_ON_Z)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    q_start, Lq = _sequence(CU_Q, b, Lq, VARLEN)
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    mask = (offs_m[:, None] < Lq) & (offs_d[None, :] < D)
    rows = q_start + offs_m[:, None]
    o = tl.load(O + b * stride_ob + h * stride_oh + rows * stride_om + offs_d[None, :],
                mask=mask, other=0.0).to(tl.float32)
    do = tl.load(DO + b * stride_gb + h * stride_gh + rows * stride_gm + offs_d[None, :],
                 mask=mask, other=0.0).to(tl.float32)
    tl.store(DELTA + b * stride_lb + h * stride_lh + q_start + offs_m, tl.sum(o * do, 1),
             mask=offs_m < Lq)


@tessera.jit
def _dkdv_rows(dk, dv, k, v, q_base, do_base, lse_base, delta_base, m_base, stride_qm,
               stride_gm, stride_mm, offs_n, offs_d, lo, hi, Lq, Lk, d_mask, off, left, right,
               scale, softcap, slope2, seed, dropout, drop_scale, drop_base, drop_cols,
               BLOCK_M: tl.constexpr, MASKED: tl.constexpr, HAS_LEFT: tl.constexpr,
               HAS_RIGHT: tl.constexpr, MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr,
               ALIBI: tl.constexpr, EVEN_D: tl.constexpr, DROPOUT: tl.constexpr):
    """Adds the contributions of query rows [lo, hi) of one query head to (dk, dv)."""
    offs_m = lo + tl.arange(0, BLOCK_M)
    q_ptrs = q_base + offs_m[:, None] * stride_qm + offs_d[None, :]
    do_ptrs = do_base + offs_m[:, None] * stride_gm + offs_d[None, :]
    m_ptrs = None
    if MASK_KIND != 0:
        m_ptrs = m_base + offs_m[None, :] * stride_mm
    for start in range(lo, hi, BLOCK_M):
        rows = start + tl.arange(0, BLOCK_M)
        q = _load_rows(q_ptrs, rows, Lq, d_mask, MASKED, EVEN_D)
        qk_t = tl.dot(k, tl.trans(q), input_precision="ieee")
        s_t = _logits(qk_t, rows[None, :], offs_n[:, None], m_ptrs, Lq, Lk, off, left, right,
                      scale, softcap, slope2, MASKED, HAS_LEFT, HAS_RIGHT, MASK_KIND,
                      SOFTCAP, ALIBI)
        if MASKED:
            lse2 = tl.load(lse_base + rows, mask=rows < Lq, other=float("inf")) * LOG2E
            delta = tl.load(delta_base + rows, mask=rows < Lq, other=0.0)
        else:
            lse2 = tl.load(lse_base + rows) * LOG2E
            delta = tl.load(delta_base + rows)
        p_t = tl.exp2(s_t - lse2[None, :])
        do = _load_rows(do_ptrs, rows, Lq, d_mask, MASKED, EVEN_D)
        kept_t = p_t
        if DROPOUT:
            keep_t = _keep(seed, dropout, drop_base, rows[None, :], offs_n[:, None], drop_cols)
            kept_t = tl.where(keep_t, p_t * drop_scale, 0.0)
        dv = tl.dot(kept_t.to(q_base.dtype.element_ty), do, dv, input_precision="ieee")
        dp_t = tl.dot(v, tl.trans(do), input_precision="ieee")
        if DROPOUT:
            dp_t = tl.where(keep_t, dp_t * drop_scale, 0.0)
        ds_t = p_t * (dp_t - delta[None, :])
        if SOFTCAP:
            t = tl.tanh(qk_t * (scale / softcap))
            ds_t = ds_t * (1.0 - t * t)
        dk = tl.dot(ds_t.to(q_base.dtype.element_ty), q, dk, input_precision="ieee")
        q_ptrs += BLOCK_M * stride_qm
        do_ptrs += BLOCK_M * stride_gm
        if MASK_KIND != 0:
            m_ptrs += BLOCK_M * stride_mm
    return dk, dv


@tessera.jit(do_not_specialize=["seed"])
def attention_bwd_dkdv_kernel(Q, K, V, DO, LSE, DELTA, DK, DV, MASK, ALIBI_SLOPES, CU_Q, CU_K,
                              stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                              stride_vb, stride_vh, stride_vn, stride_gb, stride_gh, stride_gm,
                              stride_dkb, stride_dkh, stride_dkn, stride_dvb, stride_dvh,
                              stride_dvn, stride_mb, stride_mh, stride_mm, stride_mn, stride_ab,
                              stride_lb, stride_lh,
                              H, HKV, GROUP, Lq, Lk, D, scale, softcap, off, left, right,
                              seed, dropout, drop_scale, drop_rows, drop_cols,
                              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                              HEAD_DIM: tl.constexpr, EVEN_D: tl.constexpr,
                              HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
                              MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr,
                              ALIBI: tl.constexpr, VARLEN: tl.constexpr,
                              DROPOUT: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    start_n = tl.program_id(0)
    bhk = batch_head_id(PAIRS_ON_Z)
    b = (bhk // HKV).to(tl.int64)
    kv_h = (bhk % HKV).to(tl.int64)
    q_start, Lq = _sequence(CU_Q, b, Lq, VARLEN)
    k_start, Lk = _sequence(CU_K, b, Lk, VARLEN)
    if VARLEN:
        off = Lk - Lq
        if start_n * BLOCK_N >= Lk:
            return
    offs_n = start_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    d_mask = offs_d < D

    k = _load_rows(K + b * stride_kb + kv_h * stride_kh + (k_start + offs_n[:, None]) * stride_kn
                   + offs_d[None, :], offs_n, Lk, d_mask, True, EVEN_D)
    v = _load_rows(V + b * stride_vb + kv_h * stride_vh + (k_start + offs_n[:, None]) * stride_vn
                   + offs_d[None, :], offs_n, Lk, d_mask, True, EVEN_D)
    dk = tl.zeros((BLOCK_N, HEAD_DIM), tl.float32)
    dv = tl.zeros((BLOCK_N, HEAD_DIM), tl.float32)

    # Query i sees key j iff j - off - right <= i <= j - off + left: the forward's window seen
    # from the keys, with the sides swapped.
    all_masked: tl.constexpr = MASK_KIND != 0 or ALIBI
    lo, a, b_, hi = _block_ranges(start_n * BLOCK_N, BLOCK_N, BLOCK_M, Lq, -off, right, left,
                                  HAS_RIGHT, HAS_LEFT, all_masked)
    for g in range(0, GROUP):
        h = kv_h * GROUP + g
        q_base = Q + b * stride_qb + h * stride_qh + q_start * stride_qm
        do_base = DO + b * stride_gb + h * stride_gh + q_start * stride_gm
        row_base = b * stride_lb + h * stride_lh + q_start
        m_base = None
        if MASK_KIND != 0:
            m_base = MASK + b * stride_mb + h * stride_mh + offs_n[:, None] * stride_mn
        slope2 = 0.0
        if ALIBI:
            slope2 = tl.load(ALIBI_SLOPES + b * stride_ab + h) * LOG2E
        drop_base = _drop_base(b, h, H, q_start, k_start, drop_rows, drop_cols, DROPOUT)
        if HAS_RIGHT:
            dk, dv = _dkdv_rows(dk, dv, k, v, q_base, do_base, LSE + row_base,
                                DELTA + row_base, m_base, stride_qm, stride_gm, stride_mm,
                                offs_n, offs_d, lo, a, Lq, Lk, d_mask, off, left, right, scale,
                                softcap, slope2, seed, dropout, drop_scale, drop_base,
                                drop_cols, BLOCK_M, True, HAS_LEFT, HAS_RIGHT, MASK_KIND,
                                SOFTCAP, ALIBI, EVEN_D, DROPOUT)
        dk, dv = _dkdv_rows(dk, dv, k, v, q_base, do_base, LSE + row_base, DELTA + row_base,
                            m_base, stride_qm, stride_gm, stride_mm, offs_n, offs_d, a, b_, Lq,
                            Lk, d_mask, off, left, right, scale, softcap, slope2, seed, dropout,
                            drop_scale, drop_base, drop_cols, BLOCK_M, False, HAS_LEFT,
                            HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, DROPOUT)
        dk, dv = _dkdv_rows(dk, dv, k, v, q_base, do_base, LSE + row_base, DELTA + row_base,
                            m_base, stride_qm, stride_gm, stride_mm, offs_n, offs_d, b_, hi, Lq,
                            Lk, d_mask, off, left, right, scale, softcap, slope2, seed, dropout,
                            drop_scale, drop_base, drop_cols, BLOCK_M, True, HAS_LEFT,
                            HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, DROPOUT)

    store_mask = offs_n[:, None] < Lk
    if not EVEN_D:
        store_mask = store_mask & d_mask[None, :]
    dk_ptrs = DK + b * stride_dkb + kv_h * stride_dkh + (k_start + offs_n[:, None]) * stride_dkn
    tl.store(dk_ptrs + offs_d[None, :], (dk * scale).to(DK.dtype.element_ty), mask=store_mask)
    dv_ptrs = DV + b * stride_dvb + kv_h * stride_dvh + (k_start + offs_n[:, None]) * stride_dvn
    tl.store(dv_ptrs + offs_d[None, :], dv.to(DV.dtype.element_ty), mask=store_mask)


@tessera.jit
def _dq_keys(dq, q, do, lse2, delta, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn,
             offs_m, offs_d, lo, hi, Lq, Lk, d_mask, off, left, right, scale, softcap, slope2,
             seed, dropout, drop_scale, drop_base, drop_cols, BLOCK_N: tl.constexpr,
             MASKED: tl.constexpr, HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
             MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr, ALIBI: tl.constexpr,
             EVEN_D: tl.constexpr, DROPOUT: tl.constexpr):
    """Adds the contributions of keys [lo, hi) to dq."""
    offs_n = lo + tl.arange(0, BLOCK_N)
    k_ptrs = k_base + offs_n[:, None] * stride_kn + offs_d[None, :]
    v_ptrs = v_base + offs_n[:, None] * stride_vn + offs_d[None, :]
    m_ptrs = None
    if MASK_KIND != 0:
        m_ptrs = m_base + offs_n[None, :] * stride_mn
    for start in range(lo, hi, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        k = _load_rows(k_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        qk = tl.dot(q, tl.trans(k), input_precision="ieee")
        s = _logits(qk, offs_m[:, None], cols[None, :], m_ptrs, Lq, Lk, off, left, right,
                    scale, softcap, slope2, MASKED, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP,
                    ALIBI)
        p = tl.exp2(s - lse2[:, None])
        v = _load_rows(v_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        dp = tl.dot(do, tl.trans(v), input_precision="ieee")
        if DROPOUT:
            keep = _keep(seed, dropout, drop_base, offs_m[:, None], cols[None, :], drop_cols)
            dp = tl.where(keep, dp * drop_scale, 0.0)
        ds = p * (dp - delta[:, None])
        if SOFTCAP:
            t = tl.tanh(qk * (scale / softcap))
            ds = ds * (1.0 - t * t)
        dq = tl.dot(ds.to(k_base.dtype.element_ty), k, dq, input_precision="ieee")
        k_ptrs += BLOCK_N * stride_kn
        v_ptrs += BLOCK_N * stride_vn
        if MASK_KIND != 0:
            m_ptrs += BLOCK_N * stride_mn
    return dq


@tessera.jit(do_not_specialize=["seed"])
def attention_bwd_dq_kernel(Q, K, V, DO, LSE, DELTA, DQ, MASK, ALIBI_SLOPES, CU_Q, CU_K,
                            stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                            stride_vb, stride_vh, stride_vn, stride_gb, stride_gh, stride_gm,
                            stride_dqb, stride_dqh, stride_dqm,
                            stride_mb, stride_mh, stride_mm, stride_mn, stride_ab,
                            stride_lb, stride_lh,
                            H, GROUP, Lq, Lk, D, scale, softcap, off, left, right,
                            seed, dropout, drop_scale, drop_rows, drop_cols,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                            HEAD_DIM: tl.constexpr, EVEN_D: tl.constexpr,
                            HAS_LEFT: tl.constexpr, HAS_RIGHT: tl.constexpr,
                            MASK_KIND: tl.constexpr, SOFTCAP: tl.constexpr,
                            ALIBI: tl.constexpr, VARLEN: tl.constexpr,
                            DROPOUT: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    start_m = tl.program_id(0)
    bh = batch_head_id(PAIRS_ON_Z)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    kv_h = h // GROUP
    q_start, Lq = _sequence(CU_Q, b, Lq, VARLEN)
    k_start, Lk = _sequence(CU_K, b, Lk, VARLEN)
    if VARLEN:
        off = Lk - Lq
        if start_m * BLOCK_M >= Lq:
            return
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    d_mask = offs_d < D
    row_mask = offs_m < Lq

    q = _load_rows(Q + b * stride_qb + h * stride_qh + (q_start + offs_m[:, None]) * stride_qm
                   + offs_d[None, :], offs_m, Lq, d_mask, True, EVEN_D)
    do = _load_rows(DO + b * stride_gb + h * stride_gh + (q_start + offs_m[:, None]) * stride_gm
                    + offs_d[None, :], offs_m, Lq, d_mask, True, EVEN_D)
    row_base = b * stride_lb + h * stride_lh + q_start
    lse2 = tl.load(LSE + row_base + offs_m, mask=row_mask, other=float("inf")) * LOG2E
    delta = tl.load(DELTA + row_base + offs_m, mask=row_mask, other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh + k_start * stride_kn
    v_base = V + b * stride_vb + kv_h * stride_vh + k_start * stride_vn
    m_base = None
    if MASK_KIND != 0:
        m_base = MASK + b * stride_mb + h * stride_mh + offs_m[:, None] * stride_mm
    slope2 = 0.0
    if ALIBI:
        slope2 = tl.load(ALIBI_SLOPES + b * stride_ab + h) * LOG2E
    drop_base = _drop_base(b, h, H, q_start, k_start, drop_rows, drop_cols, DROPOUT)
    dq = tl.zeros((BLOCK_M, HEAD_DIM), tl.float32)

    all_masked: tl.constexpr = MASK_KIND != 0 or ALIBI
    lo, a, b_, hi = _block_ranges(start_m * BLOCK_M, BLOCK_M, BLOCK_N, Lk, off, left, right,
                                  HAS_LEFT, HAS_RIGHT, all_masked)
    if HAS_LEFT:
        dq = _dq_keys(dq, q, do, lse2, delta, k_base, v_base, m_base, stride_kn, stride_vn,
                      stride_mn, offs_m, offs_d, lo, a, Lq, Lk, d_mask, off, left, right,
                      scale, softcap, slope2, seed, dropout, drop_scale, drop_base, drop_cols,
                      BLOCK_N, True, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D,
                      DROPOUT)
    dq = _dq_keys(dq, q, do, lse2, delta, k_base, v_base, m_base, stride_kn, stride_vn,
                  stride_mn, offs_m, offs_d, a, b_, Lq, Lk, d_mask, off, left, right, scale,
                  softcap, slope2, seed, dropout, drop_scale, drop_base, drop_cols, BLOCK_N,
                  False, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, DROPOUT)
    dq = _dq_keys(dq, q, do, lse2, delta, k_base, v_base, m_base, stride_kn, stride_vn,
                  stride_mn, offs_m, offs_d, b_, hi, Lq, Lk, d_mask, off, left, right, scale,
                  softcap, slope2, seed, dropout, drop_scale, drop_base, drop_cols, BLOCK_N,
                  True, HAS_LEFT, HAS_RIGHT, MASK_KIND, SOFTCAP, ALIBI, EVEN_D, DROPOUT)

    dq_ptrs = (DQ + b * stride_dqb + h * stride_dqh + q_start * stride_dqm
               + offs_m[:, None] * stride_dqm)
    store_mask = row_mask[:, None]
    if not EVEN_D:
        store_mask = store_mask & d_mask[None, :]
    tl.store(dq_ptrs + offs_d[None, :], (dq * scale).to(DQ.dtype.element_ty), mask=store_mask)


def head_dim_block(d: int) -> int:
    """The power-of-two block (at least 16) that a head dimension ``d`` is padded to."""
    return max(16, 1 << (d - 1).bit_length())


def choose_config(head_dim: int, causal: bool, fp32: bool = False) -> Dict[str, int]:
    """BLOCK_M, BLOCK_N, num_warps and num_stages for one forward call (sm_80 and sm_90a
    alike): the fastest of a sweep at B=4, H=32, S=4096 on an H200 (two warpgroups of 64 query
    rows each, K and V double-buffered); the causal kernel's two loops would spill with
    128-key blocks. fp32 inputs (FMA dots, operands staged in shared memory) take the largest
    blocks that do not spill."""
    if fp32:
        block = 64 if head_dim <= 128 else 32
        return {"BLOCK_M": block, "BLOCK_N": block, "num_warps": 8, "num_stages": 1}
    block_n = 128 if 64 < head_dim <= 128 and not causal else 64
    return {"BLOCK_M": 128, "BLOCK_N": block_n, "num_warps": 8, "num_stages": 2}


def choose_bwd_config(head_dim: int, fp32: bool = False) -> Dict[str, Dict[str, int]]:
    """Blocks, warps and stages of the two backward kernels: ``dkdv`` (BLOCK_N keys per
    program, BLOCK_M query rows per step) and ``dq`` (BLOCK_M queries, BLOCK_N keys per step).
    dK and dV stay in registers for the whole program, so past D = 128 each warpgroup holds
    half of their columns (64 keys over two warpgroups). fp32 inputs take the largest blocks
    that do not spill."""
    if fp32:
        wide = head_dim > 128
        return {"dkdv": {"BLOCK_M": 16 if wide else 32, "BLOCK_N": 32 if wide else 64,
                         "num_warps": 8, "num_stages": 1},
                "dq": {"BLOCK_M": 32 if wide else 64, "BLOCK_N": 32, "num_warps": 8,
                       "num_stages": 1}}
    if head_dim <= 128:
        return {"dkdv": {"BLOCK_M": 32, "BLOCK_N": 128, "num_warps": 8, "num_stages": 2},
                "dq": {"BLOCK_M": 128, "BLOCK_N": 64, "num_warps": 8, "num_stages": 2}}
    return {"dkdv": {"BLOCK_M": 32, "BLOCK_N": 64, "num_warps": 8, "num_stages": 2},
            "dq": {"BLOCK_M": 64, "BLOCK_N": 32, "num_warps": 8, "num_stages": 2}}
