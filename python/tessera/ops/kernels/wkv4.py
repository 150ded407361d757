"""The WKV (RWKV-4) kernels of ``tessera.ops.rwkv``: ``specs/rwkv-and-attention.md`` part A.

Every ``(b, c)`` channel is an independent recurrence over t, so one program takes ``BLOCK_C``
channels of one batch row and walks the T steps in order, holding the state in registers in the
stabilised form of A.2: ``alpha = aa * e^pp``, ``beta = bb * e^pp`` with ``pp`` the running
maximum exponent, so every ``exp`` argument is <= 0. Loads and stores of a step are contiguous
over the channels.

The walk is latency-bound: a program has one warp or a few, and a step's arithmetic is short
against a global load's latency. So the kernels read their inputs in groups of ``AHEAD`` steps,
a group ahead of the steps they compute (a loop-carried tuple of blocks per input): one load
latency per group instead of one per step. The last ``T % AHEAD`` steps go one at a time.

``F64`` selects the compute type: fp32 for the ``tile`` backend (C's "fp32 math": inputs
upcast on load, outputs rounded once at the store) and fp64 for the ``reference`` backend.

Backward (A.4), by the adjoint of the stabilised recurrence: with ``Ga = dL/dalpha * e^pp`` and
``Gb = dL/dbeta * e^pp`` (scaled like the state, so they stay finite), one step back from t is

    D = e1 bb + e2                          (e1, e2, y as in the forward step into t)
    gv_t = gy e2 / D + e^(k - pp_t) Ga
    gk_t = gy e2 (v - y) / D + e^(k - pp_t) (Ga v + Gb)
    gu  += gy e2 (v - y) / D
    g_w += r (Ga aa + Gb bb),               r = e^(w + pp_{t-1} - pp_t) <= 1
    Ga, Gb <- gy e1 / D + r Ga,  -gy y e1 / D + r Gb

with (aa, bb, pp) the state before step t. ``wkv4_bwd_kernel`` first replays the forward,
saving the state before each step (fp32 or fp64 scratch, (B, T, C) per component), then walks
back; each program reads only what it wrote. gw and gu are written per batch row, and
``wkv4_sum_rows_kernel`` sums them over B.
"""
from __future__ import annotations

import tessera
import tessera.language as tl

__all__ = ["AHEAD", "EMPTY_PP", "MAX_BLOCK_C", "REFERENCE_AHEAD", "choose_block",
           "wkv4_bwd_kernel", "wkv4_fwd_kernel", "wkv4_sum_rows_kernel"]

EMPTY_PP = -1e38  # the exponent of an empty state (never -inf: -inf - -inf is NaN)
MAX_BLOCK_C = 128
# Steps per group of loads (the tile backend's, and the fp64 reference backend's, whose blocks
# take twice the registers and whose speed matters less).
AHEAD = 8
REFERENCE_AHEAD = 2


@tessera.jit
def _up(x, F64: tl.constexpr):
    """x in the compute type."""
    if F64:
        x = x.to(tl.float64)
    else:
        x = x.to(tl.float32)
    return x


@tessera.jit
def _zeros(BLOCK_C: tl.constexpr, F64: tl.constexpr):
    return _up(tl.zeros((BLOCK_C,), tl.float32), F64)


@tessera.jit
def _empty_state(BLOCK_C: tl.constexpr, F64: tl.constexpr):
    """(aa, bb, pp) of BLOCK_C channels that have seen nothing: 0, 0, EMPTY_PP."""
    return (_zeros(BLOCK_C, F64), _zeros(BLOCK_C, F64),
            _up(tl.full((BLOCK_C,), EMPTY_PP, tl.float32), F64))


@tessera.jit
def _output_weights(pp, u, k):
    """(e1, e2) of A.2's first half: y = (e1 aa + e2 v) / (e1 bb + e2)."""
    o = tl.maximum(pp, u + k)
    return tl.exp(pp - o), tl.exp(u + k - o)


@tessera.jit
def _advance(aa, bb, pp, w, k, v):
    """The state (aa, bb, pp) after a step with key k and value v (A.2's second half)."""
    o = tl.maximum(w + pp, k)
    e1 = tl.exp(w + pp - o)
    e2 = tl.exp(k - o)
    return e1 * aa + e2 * v, e1 * bb + e2, o


@tessera.jit
def _ahead(X, at, step, left, mask, AHEAD: tl.constexpr):
    """(X's blocks at offsets at, at + step, ... (AHEAD of them; zeros from the left-th on),
    the offset after the last)."""
    blocks = ()
    for s in tl.static_range(AHEAD):
        blocks = blocks + (tl.load(X + at, mask=mask & (s < left), other=0.0),)
        at += step
    return blocks, at


@tessera.jit
def _kv_ahead(K, V, at, step, left, mask, AHEAD: tl.constexpr):
    """_ahead of K and V at the same offsets: (k blocks, v blocks, the offset after the last)."""
    ks, _ = _ahead(K, at, step, left, mask, AHEAD)
    vs, at = _ahead(V, at, step, left, mask, AHEAD)
    return ks, vs, at


@tessera.jit
def _forward_step(Y, row, aa, bb, pp, w, u, k, v, mask, F64: tl.constexpr):
    """Stores y of the step with key k and value v at Y + row; the state after it."""
    k = _up(k, F64)
    v = _up(v, F64)
    e1, e2 = _output_weights(pp, u, k)
    y = (e1 * aa + e2 * v) / (e1 * bb + e2)
    tl.store(Y + row, y.to(Y.dtype.element_ty), mask=mask)
    return _advance(aa, bb, pp, w, k, v)


@tessera.jit
def _batch_and_channels(BLOCK_C: tl.constexpr):
    """(b, channels) of this program in the grid (B, cdiv(C, BLOCK_C)): the batch rows on axis
    0, which takes 2**31 - 1 of them (axis 1 stops at 65535). b is int64, so that b * C and
    b * stride_b may pass 2**31."""
    return tl.program_id(0).to(tl.int64), tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)


@tessera.jit
def wkv4_fwd_kernel(W, U, K, V, Y, AA, BB, PP, T, C, stride_b, stride_t,
                    BLOCK_C: tl.constexpr, STATE: tl.constexpr, F64: tl.constexpr,
                    AHEAD: tl.constexpr = AHEAD):
    """y (B, T, C) of k, v (B, T, C) (rows of stride_t, batches of stride_b; channels
    contiguous), w, u (C,). STATE: the state (aa, bb, pp), (B, C) each, is read before the first
    step and overwritten after the last; otherwise the recurrence starts empty."""
    b, offs_c = _batch_and_channels(BLOCK_C)
    mask = offs_c < C
    w = _up(tl.load(W + offs_c, mask=mask, other=0.0), F64)
    u = _up(tl.load(U + offs_c, mask=mask, other=0.0), F64)
    state = b * C + offs_c
    if STATE:
        aa = _up(tl.load(AA + state, mask=mask, other=0.0), F64)
        bb = _up(tl.load(BB + state, mask=mask, other=0.0), F64)
        pp = _up(tl.load(PP + state, mask=mask, other=EMPTY_PP), F64)
    else:
        aa, bb, pp = _empty_state(BLOCK_C, F64)
    row = b * stride_b + offs_c
    full = T - T % AHEAD  # the steps that go in groups
    ks, vs, ahead = _kv_ahead(K, V, row, stride_t, full, mask, AHEAD)
    for t0 in range(0, full, AHEAD):
        now_k, now_v = ks, vs
        ks, vs, ahead = _kv_ahead(K, V, ahead, stride_t, full - t0 - AHEAD, mask, AHEAD)
        for s in tl.static_range(AHEAD):
            aa, bb, pp = _forward_step(Y, row, aa, bb, pp, w, u, now_k[s], now_v[s], mask, F64)
            row += stride_t
    for t in range(full, T):
        k = tl.load(K + row, mask=mask, other=0.0)
        v = tl.load(V + row, mask=mask, other=0.0)
        aa, bb, pp = _forward_step(Y, row, aa, bb, pp, w, u, k, v, mask, F64)
        row += stride_t
    if STATE:
        tl.store(AA + state, aa.to(AA.dtype.element_ty), mask=mask)
        tl.store(BB + state, bb.to(BB.dtype.element_ty), mask=mask)
        tl.store(PP + state, pp.to(PP.dtype.element_ty), mask=mask)


@tessera.jit
def _save_state(SAVED, saved, component, aa, bb, pp, mask):
    """Stores the state (aa, bb, pp) at SAVED + saved, a component apart."""
    tl.store(SAVED + saved, aa, mask=mask)
    tl.store(SAVED + component + saved, bb, mask=mask)
    tl.store(SAVED + 2 * component + saved, pp, mask=mask)


@tessera.jit
def _backward_step(GK, GV, row, aa, bb, pp, pp_after, k, v, gy, w, u, ga, gb, gw, gu, mask,
                   F64: tl.constexpr):
    """Stores gk and gv of the step at row, whose state before it is (aa, bb, pp) and whose
    exponent after it is pp_after; (ga, gb, gw, gu) before the step from those after it."""
    k = _up(k, F64)
    v = _up(v, F64)
    gy = _up(gy, F64)
    e1, e2 = _output_weights(pp, u, k)
    inv = 1.0 / (e1 * bb + e2)
    y = (e1 * aa + e2 * v) * inv
    q2 = gy * e2 * inv
    decay_k = tl.exp(k - pp_after)
    tl.store(GV + row, (q2 + decay_k * ga).to(GV.dtype.element_ty), mask=mask)
    tl.store(GK + row, (q2 * (v - y) + decay_k * (ga * v + gb)).to(GK.dtype.element_ty),
             mask=mask)
    gu += q2 * (v - y)
    r = tl.exp(w + pp - pp_after)
    gw += r * (ga * aa + gb * bb)
    q1 = gy * e1 * inv
    return q1 + r * ga, r * gb - q1 * y, gw, gu


@tessera.jit
def wkv4_bwd_kernel(W, U, K, V, GY, GK, GV, GW_ROWS, GU_ROWS, SAVED, T, C, stride_b, stride_t,
                    BLOCK_C: tl.constexpr, F64: tl.constexpr, AHEAD: tl.constexpr = AHEAD):
    """gk, gv (B, T, C) (strided as k) and the per-batch-row gw, gu (B, C) (gw = dL/dw * w)
    of the empty-state recurrence, given gy (strided as k). SAVED: (3, B, T, C) scratch in the
    compute type, contiguous, for the replayed states."""
    b, offs_c = _batch_and_channels(BLOCK_C)
    mask = offs_c < C
    w = _up(tl.load(W + offs_c, mask=mask, other=0.0), F64)
    u = _up(tl.load(U + offs_c, mask=mask, other=0.0), F64)
    aa, bb, pp = _empty_state(BLOCK_C, F64)
    row = b * stride_b + offs_c
    component = tl.num_programs(0).to(tl.int64) * T * C
    saved = (b * T) * C + offs_c
    full = T - T % AHEAD
    # The replay, up from step 0: the state before each step saved.
    ks, vs, ahead = _kv_ahead(K, V, row, stride_t, full, mask, AHEAD)
    for t0 in range(0, full, AHEAD):
        now_k, now_v = ks, vs
        ks, vs, ahead = _kv_ahead(K, V, ahead, stride_t, full - t0 - AHEAD, mask, AHEAD)
        for s in tl.static_range(AHEAD):
            _save_state(SAVED, saved, component, aa, bb, pp, mask)
            aa, bb, pp = _advance(aa, bb, pp, w, _up(now_k[s], F64), _up(now_v[s], F64))
            row += stride_t
            saved += C
    for t in range(full, T):
        _save_state(SAVED, saved, component, aa, bb, pp, mask)
        k = _up(tl.load(K + row, mask=mask, other=0.0), F64)
        v = _up(tl.load(V + row, mask=mask, other=0.0), F64)
        aa, bb, pp = _advance(aa, bb, pp, w, k, v)
        row += stride_t
        saved += C
    # The walk back, down from step T - 1: groups from the top, the first T % AHEAD steps last.
    ga = _zeros(BLOCK_C, F64)
    gb = _zeros(BLOCK_C, F64)
    gw = _zeros(BLOCK_C, F64)
    gu = _zeros(BLOCK_C, F64)
    pp_after = pp
    back = -stride_t
    aas, _ = _ahead(SAVED, saved - C, -C, full, mask, AHEAD)
    bbs, _ = _ahead(SAVED + component, saved - C, -C, full, mask, AHEAD)
    pps, saved_ahead = _ahead(SAVED + 2 * component, saved - C, -C, full, mask, AHEAD)
    ks, _ = _ahead(K, row + back, back, full, mask, AHEAD)
    vs, _ = _ahead(V, row + back, back, full, mask, AHEAD)
    gys, ahead = _ahead(GY, row + back, back, full, mask, AHEAD)
    for t0 in range(0, full, AHEAD):
        now_aa, now_bb, now_pp, now_k, now_v, now_gy = aas, bbs, pps, ks, vs, gys
        left = full - t0 - AHEAD
        aas, _ = _ahead(SAVED, saved_ahead, -C, left, mask, AHEAD)
        bbs, _ = _ahead(SAVED + component, saved_ahead, -C, left, mask, AHEAD)
        pps, saved_ahead = _ahead(SAVED + 2 * component, saved_ahead, -C, left, mask, AHEAD)
        ks, _ = _ahead(K, ahead, back, left, mask, AHEAD)
        vs, _ = _ahead(V, ahead, back, left, mask, AHEAD)
        gys, ahead = _ahead(GY, ahead, back, left, mask, AHEAD)
        for s in tl.static_range(AHEAD):
            row += back
            saved -= C
            ga, gb, gw, gu = _backward_step(GK, GV, row, now_aa[s], now_bb[s], now_pp[s],
                                            pp_after, now_k[s], now_v[s], now_gy[s], w, u, ga,
                                            gb, gw, gu, mask, F64)
            pp_after = now_pp[s]
    for step in range(full, T):
        row += back
        saved -= C
        pp = tl.load(SAVED + 2 * component + saved, mask=mask, other=0.0)
        ga, gb, gw, gu = _backward_step(
            GK, GV, row, tl.load(SAVED + saved, mask=mask, other=0.0),
            tl.load(SAVED + component + saved, mask=mask, other=0.0), pp, pp_after,
            tl.load(K + row, mask=mask, other=0.0), tl.load(V + row, mask=mask, other=0.0),
            tl.load(GY + row, mask=mask, other=0.0), w, u, ga, gb, gw, gu, mask, F64)
        pp_after = pp
    state = b * C + offs_c
    tl.store(GW_ROWS + state, (gw * w).to(GW_ROWS.dtype.element_ty), mask=mask)
    tl.store(GU_ROWS + state, gu.to(GU_ROWS.dtype.element_ty), mask=mask)


@tessera.jit
def wkv4_sum_rows_kernel(ROWS, OUT, B, C, BLOCK_C: tl.constexpr):
    """OUT[c] = sum over b of ROWS[b, c] (ROWS contiguous (B, C)), summed in ROWS' type in
    order b = 0, 1, ... and rounded once into OUT's."""
    offs_c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = offs_c < C
    row = ROWS + offs_c
    total = tl.load(row, mask=mask, other=0.0)
    for b in range(1, B):
        row += C  # a pointer step: B * C may pass 2**31
        total += tl.load(row, mask=mask, other=0.0)
    tl.store(OUT + offs_c, total.to(OUT.dtype.element_ty), mask=mask)


def choose_block(batch: int, channels: int, num_sms: int = 132) -> int:
    """BLOCK_C: channels per program, from MAX_BLOCK_C down to 32 while the grid is under two
    programs per SM (the recurrence is latency-bound, so more, smaller programs hide more of
    it)."""
    block = MAX_BLOCK_C
    while block > 32 and batch * -(-channels // block) < 2 * num_sms:
        block //= 2
    return block
