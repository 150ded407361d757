"""The attention forward kernel of ``tessera.ops``: ``O = softmax(scale * Q K^T + mask) V``.

One program computes ``BLOCK_M`` query rows of one (batch, query head) against every visible key,
FlashAttention-2 style: it walks the keys in ``BLOCK_N`` steps, keeping a running row maximum
``m``, a running row sum ``l`` and an fp32 accumulator, all in the exp2 domain (scores scaled by
``scale * log2(e)``), and divides by ``l`` once at the end. Query head ``h`` reads kv head
``h // GROUP`` (grouped-query attention).

The key walk is split in two loops: blocks every row of the program sees whole run without any
masking; the blocks the causal diagonal, the key count or ``attn_mask`` cut into run masked.
Both loops have the form the compiler's software pipeliner recognises (pointers carried and
advanced, loads feeding only ``tl.dot``), so K and V stream through shared-memory rings; on
sm_90a ``Q @ trans(K)`` reads K's tile K-major in place and ``P @ V`` takes the probabilities
from registers.

Rows with no visible key (a causal variant with more queries than keys, an all-False mask row)
give 0, and ``+inf`` as their log-sum-exp.
"""
from __future__ import annotations

from typing import Dict

import tessera
import tessera.language as tl

__all__ = ["MASK_ADD", "MASK_BOOL", "MASK_NONE", "attention_fwd_kernel", "choose_config",
           "head_dim_block"]

MASK_NONE, MASK_BOOL, MASK_ADD = 0, 1, 2


@tessera.jit
def _load_kv(ptrs, cols, Lk, d_mask, MASKED: tl.constexpr, EVEN_D: tl.constexpr):
    """A K or V block of keys `cols`: masked where keys may run past Lk or D is padded."""
    if MASKED:
        mask = cols[:, None] < Lk
        if not EVEN_D:
            mask = mask & d_mask[None, :]
        return tl.load(ptrs, mask=mask, other=0.0)
    if EVEN_D:
        return tl.load(ptrs)
    return tl.load(ptrs, mask=d_mask[None, :], other=0.0)


@tessera.jit
def _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn, stride_mn,
            offs_m, offs_d, lo, hi, Lk, d_mask, qk_scale, causal_offset,
            BLOCK_N: tl.constexpr, MASKED: tl.constexpr, IS_CAUSAL: tl.constexpr,
            MASK_KIND: tl.constexpr, EVEN_D: tl.constexpr):
    """Folds keys [lo, hi) into (acc, m_i, l_i). MASKED: some score of these blocks is hidden."""
    offs_n = lo + tl.arange(0, BLOCK_N)
    k_ptrs = k_base + offs_n[:, None] * stride_kn + offs_d[None, :]
    v_ptrs = v_base + offs_n[:, None] * stride_vn + offs_d[None, :]
    m_ptrs = None
    if MASK_KIND != 0:
        m_ptrs = m_base + offs_n[None, :] * stride_mn
    for start in range(lo, hi, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        k = _load_kv(k_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        qk = tl.dot(q, tl.trans(k))
        if MASKED:
            s = qk * qk_scale
            visible = cols[None, :] < Lk
            if IS_CAUSAL:
                visible = visible & (cols[None, :] <= offs_m[:, None] + causal_offset)
            if MASK_KIND == 1:
                keep = tl.load(m_ptrs, mask=visible, other=0)
                visible = visible & (keep != 0)
            if MASK_KIND == 2:
                bias = tl.load(m_ptrs, mask=visible, other=0.0).to(tl.float32)
                s = s + bias * 1.4426950408889634  # natural-log mask into the exp2 domain
            s = tl.where(visible, s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            # A row that has seen no visible key yet keeps m = -inf: subtract 0 instead.
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            p = tl.exp2(s - m_safe[:, None])
            alpha = tl.exp2(m_i - m_safe)
        else:
            m_new = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)
            p = tl.exp2(qk * qk_scale - m_new[:, None])
            alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None]
        v = _load_kv(v_ptrs, cols, Lk, d_mask, MASKED, EVEN_D)
        acc = tl.dot(p.to(v_base.dtype.element_ty), v, acc)
        m_i = m_new
        k_ptrs += BLOCK_N * stride_kn
        v_ptrs += BLOCK_N * stride_vn
        if MASK_KIND != 0:
            m_ptrs += BLOCK_N * stride_mn
    return acc, m_i, l_i


@tessera.jit
def attention_fwd_kernel(Q, K, V, O, LSE, MASK,
                         stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                         stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om,
                         stride_mb, stride_mh, stride_mm, stride_mn,
                         H, GROUP, Lq, Lk, D, scale, causal_offset,
                         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, HEAD_DIM: tl.constexpr,
                         EVEN_D: tl.constexpr, IS_CAUSAL: tl.constexpr, MASK_KIND: tl.constexpr,
                         POSITIVE_SCALE: tl.constexpr):
    start_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    kv_h = h // GROUP
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    d_mask = offs_d < D
    row_mask = offs_m < Lq

    q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :]
    if EVEN_D:
        q = tl.load(q_ptrs, mask=row_mask[:, None], other=0.0)
    else:
        q = tl.load(q_ptrs, mask=row_mask[:, None] & d_mask[None, :], other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    m_base = None
    if MASK_KIND != 0:
        m_base = MASK + b * stride_mb + h * stride_mh + offs_m[:, None] * stride_mm

    qk_scale = scale * 1.4426950408889634
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, HEAD_DIM), tl.float32)

    # Keys [0, whole) are visible to every row of this program (and exist); [whole, hi) are not.
    hi = Lk
    if IS_CAUSAL:
        hi = max(min(Lk, start_m * BLOCK_M + BLOCK_M + causal_offset), 0)
        whole = min(hi, max(start_m * BLOCK_M + causal_offset + 1, 0))
    else:
        whole = hi
    whole = (whole // BLOCK_N) * BLOCK_N
    if MASK_KIND != 0 or not POSITIVE_SCALE:
        whole = 0  # every block masks (or takes the maximum after scaling)
    acc, m_i, l_i = _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn,
                            stride_mn, offs_m, offs_d, 0, whole, Lk, d_mask, qk_scale,
                            causal_offset, BLOCK_N, False, IS_CAUSAL, MASK_KIND, EVEN_D)
    acc, m_i, l_i = _attend(acc, m_i, l_i, q, k_base, v_base, m_base, stride_kn, stride_vn,
                            stride_mn, offs_m, offs_d, whole, hi, Lk, d_mask, qk_scale,
                            causal_offset, BLOCK_N, True, IS_CAUSAL, MASK_KIND, EVEN_D)

    seen = l_i > 0.0
    inv_l = tl.where(seen, 1.0 / l_i, 0.0)
    out = acc * inv_l[:, None]
    o_ptrs = O + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_om + offs_d[None, :]
    if EVEN_D:
        tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=row_mask[:, None])
    else:
        tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=row_mask[:, None] & d_mask[None, :])
    if LSE is not None:
        # natural-log log-sum-exp of the scaled scores; +inf for a row without visible keys
        lse = tl.where(seen, (m_i + tl.log2(l_i)) * 0.6931471805599453, float("inf"))
        tl.store(LSE + bh * Lq + offs_m, lse, mask=row_mask)


def head_dim_block(d: int) -> int:
    """The power-of-two block (at least 16) that a head dimension ``d`` is padded to."""
    return max(16, 1 << (d - 1).bit_length())


def choose_config(head_dim: int, causal: bool) -> Dict[str, int]:
    """BLOCK_M, BLOCK_N, num_warps and num_stages for one call (sm_80 and sm_90a alike): the
    fastest of a sweep at B=4, H=32, S=4096 on an H200 (two warpgroups of 64 query rows each,
    K and V double-buffered); the causal kernel's two loops would spill with 128-key blocks."""
    block_n = 128 if 64 < head_dim <= 128 and not causal else 64
    return {"BLOCK_M": 128, "BLOCK_N": block_n, "num_warps": 8, "num_stages": 2}

