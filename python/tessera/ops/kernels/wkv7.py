"""The WKV7 (RWKV-7) tile kernels of ``tessera.ops.rwkv``: ``specs/rwkv-and-attention.md`` part B.

Per (b, h) the state S is N x N, row i (value/output), column j (key/receptance), and a step is

    sa = S a;   S = S diag(d) + sa b^T + v k^T;   y = S r

Training runs chunks of 16 steps as tensor-core products: the forward is
wkv7_chunk_prep_kernel (parallel over chunks) then wkv7_chunk_fwd_kernel (the walk over chunks,
whose docstring has the mathematics); the backward is its transpose, the prep kernel again,
wkv7_chunk_bwd_walk_kernel (dL/dS at every chunk boundary, walking back) and
wkv7_chunk_bwd_kernel (every chunk's input gradients in parallel). wkv7s and the reference
backend step through time (wkv7_fwd_kernel, wkv7_bwd_kernel), exactly in fp32 or fp64.

Row i of the update reads only row i of S (sa[i] and y[i] are sums along the row), so the
forwards and the backward walk split the rows of one head over ``N // BLOCK_I`` programs.

Training saves what the backward needs instead of a state per step: ``sa`` (B, T, H, N) in the
compute type, and a checkpoint of S every ``CHUNK`` steps (B, H, ceil(T / CHUNK) + 1, N, N),
the state before step c * CHUNK (the last slot the final state). The chunked backward reads a
chunk's start state from them. The reference backend's backward ("backstepping", B.4) walks
t = T-1 .. 0 with the adjoint G = dL/dS_t: it recovers S_{t-1} = (S_t - v k^T - sa b^T)
diag(1/d) inside a chunk and reloads the checkpoint at the chunk's first step; its column sums
(dr, dd, dk, da, db) run over every row, so one program holds the whole N x N of S and G.

Decay conventions (B.3), the constexpr ``DECAY``: 0 raw, d = exp(-exp(w)); 1 clampw,
d = exp(-e^{-1/2} sigmoid(w)); 2 log, d = exp(w).
"""
from __future__ import annotations

import tessera
import tessera.language as tl

from .grid import batch_head_id
from .wkv4 import _up

__all__ = ["CHUNK_BWD_WARPS", "CHUNK_PREP_WARPS", "DECAY_CODES", "choose_backward_warps",
           "choose_chunk_block", "choose_chunk_bwd_block", "choose_forward_block",
           "wkv7_bwd_kernel", "wkv7_chunk_bwd_kernel", "wkv7_chunk_bwd_walk_kernel",
           "wkv7_chunk_fwd_kernel", "wkv7_chunk_prep_kernel", "wkv7_fwd_kernel"]

DECAY_CODES = {"raw": 0, "clampw": 1, "log": 2}
CLAMPW_SCALE = 0.6065306597126334  # e^{-1/2}


@tessera.jit
def _log_decay(w, DECAY: tl.constexpr):
    """(log d, d log d / dw) of the passed decay tensor w under convention DECAY."""
    if DECAY == 0:
        log_d = -tl.exp(w)
        slope = log_d
    elif DECAY == 1:
        sig = tl.sigmoid(w)
        log_d = -CLAMPW_SCALE * sig
        slope = log_d * (1.0 - sig)
    else:
        log_d = w
        slope = tl.zeros_like(w) + 1.0
    return log_d, slope


@tessera.jit
def _rows_program(T, H, N: tl.constexpr, BLOCK_I: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """(b * H + h, b, h, offs_i, offs_j, the [i, j] offsets of its rows, the offset of the
    head's first (B, T, H, N) element) of program (ib, b * H + h) of a kernel that walks T
    holding rows ib * BLOCK_I .. + BLOCK_I of the N x N state (or its gradient) of head (b, h)."""
    bh = batch_head_id(PAIRS_ON_Z)
    b = bh // H
    h = bh % H
    offs_i = tl.program_id(0) * BLOCK_I + tl.arange(0, BLOCK_I)
    offs_j = tl.arange(0, N)
    tile = offs_i[:, None] * N + offs_j[None, :]
    return bh, b, h, offs_i, offs_j, tile, (b.to(tl.int64) * T * H + h) * N


@tessera.jit
def wkv7_fwd_kernel(R, W, K, V, A, B, Y, S0, ST, SA, CKPT, T, H, s0_stride_b,
                    N: tl.constexpr, BLOCK_I: tl.constexpr, DECAY: tl.constexpr,
                    CHUNK: tl.constexpr, HAS_S0: tl.constexpr, HAS_ST: tl.constexpr,
                    SAVE: tl.constexpr, F64: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """y (B, T, H, N) of r, w, k, v, a, b (B, T, H, N), all contiguous. Program (ib, b * H + h)
    holds rows ib * BLOCK_I .. + BLOCK_I of head (b, h).

    S0: the initial state, fp32 [b, h, i, j] with batch stride s0_stride_b (0 broadcasts one
    (H, N, N) state over B), when HAS_S0; zeros otherwise. ST: the final state, fp32
    (B, H, N, N), when HAS_ST (it may be S0: each program reads its rows before writing them).
    SAVE: also write, in the compute type, sa (B, T, H, N) and CKPT (B, H, ceil(T / CHUNK) + 1,
    N, N): slot c < ceil(T / CHUNK) the state before step c * CHUNK, the last slot the final
    state, for the backward."""
    bh, b, h, offs_i, offs_j, tile, row = _rows_program(T, H, N, BLOCK_I, PAIRS_ON_Z)
    # The step's vectors are loaded straight into the state's layout, as 2-D broadcasts (a
    # j-vector is the same in every row, an i-vector in every column): each thread holds runs
    # of one row along j, so the row sums stay mostly in registers, with no layout conversion.
    cols = offs_j[None, :] + 0 * offs_i[:, None]
    rows = offs_i[:, None] + 0 * offs_j[None, :]
    if HAS_S0:
        state = _up(tl.load(S0 + b.to(tl.int64) * s0_stride_b + h * (N * N) + tile), F64)
    else:
        state = _up(tl.zeros((BLOCK_I, N), tl.float32), F64)
    chunks = (T + CHUNK - 1) // CHUNK
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N)  # a scalar: a tile of offsets costs registers
    for t in range(T):
        if SAVE:
            if t % CHUNK == 0:
                tl.store(CKPT + ckpt + tile, state)
                ckpt += N * N
        r = _up(tl.load(R + row + cols), F64)
        log_d, _ = _log_decay(_up(tl.load(W + row + cols), F64), DECAY)
        k = _up(tl.load(K + row + cols), F64)
        a = _up(tl.load(A + row + cols), F64)
        bb = _up(tl.load(B + row + cols), F64)
        v = _up(tl.load(V + row + rows), F64)
        sa = tl.sum(state * a, axis=1)
        if SAVE:
            tl.store(SA + row + offs_i, sa)
        state = state * tl.exp(log_d) + sa[:, None] * bb + v * k
        y = tl.sum(state * r, axis=1)
        tl.store(Y + row + offs_i, y.to(Y.dtype.element_ty))
        row += H * N
    if SAVE:
        tl.store(CKPT + ckpt + tile, state)
    if HAS_ST:
        tl.store(ST + bh.to(tl.int64) * (N * N) + tile, state.to(tl.float32))


# The chunked forward clamps log d at -MAX_LOG_DECAY per step (d >= 4.5e-5; model decays are
# above 0.545): its factors exp(+-(g - g_mid)) then stay below e^80 within a chunk of 16.
MAX_LOG_DECAY = 10.0
# wkv7_chunk_prep_kernel's warps: mma.sync splits its 16 x 16 products over 2 warps at most
# (with 4 the products fall back to FMAs, which measured 1.5x slower on the H200).
CHUNK_PREP_WARPS = 2
# wkv7_chunk_bwd_kernel's warps, for the same reason (its 16 x 16 products).
CHUNK_BWD_WARPS = 2


@tessera.jit
def _half_dot(x, y, acc, HALF: tl.constexpr):
    """acc + x @ y of fp32 blocks: on tensor cores with inputs rounded to bf16 (HALF 1) or
    fp16 (HALF 2), else (HALF 0) in fp32 FMAs."""
    if HALF == 1:
        return tl.dot(x.to(tl.bfloat16), y.to(tl.bfloat16), acc)
    if HALF == 2:
        return tl.dot(x.to(tl.float16), y.to(tl.float16), acc)
    return tl.dot(x, y, acc, input_precision="ieee")


@tessera.jit
def _dot32(x, y, EXACT: tl.constexpr):
    """x @ y of fp32 blocks, in fp32 FMAs when EXACT, else on tf32 tensor cores."""
    if EXACT:
        return tl.dot(x, y, input_precision="ieee")
    return tl.dot(x, y, input_precision="tf32")


@tessera.jit
def _prefix_sums(lower, x):
    """Running sums down the rows of fp32 x (CHUNK x N) as lower @ x on bf16 tensor cores,
    exactly: x splits into three bf16 parts (8 bits of mantissa each) and lower is 0 or 1."""
    hi = x.to(tl.bfloat16)
    rest = x - hi.to(tl.float32)
    mid = rest.to(tl.bfloat16)
    lo = (rest - mid.to(tl.float32)).to(tl.bfloat16)
    ones = lower.to(tl.bfloat16)
    return tl.dot(ones, lo, tl.dot(ones, mid, tl.dot(ones, hi)))


@tessera.jit
def _chunk_program(T, H, N: tl.constexpr, CHUNK: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """(c, b * H + h, the offset of the chunk's first (B, T, H, N) element, its index in the
    prep kernel's (B * H, chunks) workspace) of program (c, b * H + h) of a per-chunk kernel."""
    c = tl.program_id(0)
    bh = batch_head_id(PAIRS_ON_Z)
    row = (bh.to(tl.int64) // H * T + c * CHUNK) * (H * N) + bh % H * N
    chunk = bh.to(tl.int64) * ((T + CHUNK - 1) // CHUNK) + c
    return c, bh, row, chunk


@tessera.jit
def _chunk_inputs(R, W, K, A, B, row, c, T, H, N: tl.constexpr, DECAY: tl.constexpr,
                  CHUNK: tl.constexpr):
    """r, k, a, b, log d and d log d / dw (CHUNK x N, fp32) of chunk c, whose first element is
    at offset `row`. Steps past T are zero with log d = 0 (d = 1), so the final state is the one
    after step T; log d is held at -MAX_LOG_DECAY."""
    offs_j = tl.arange(0, N)
    steps = tl.arange(0, CHUNK)
    live = c * CHUNK + steps[:, None] + 0 * offs_j[None, :] < T
    step_j = steps[:, None] * (H * N) + offs_j[None, :]
    r = tl.load(R + row + step_j, mask=live, other=0.0).to(tl.float32)
    k = tl.load(K + row + step_j, mask=live, other=0.0).to(tl.float32)
    a = tl.load(A + row + step_j, mask=live, other=0.0).to(tl.float32)
    bb = tl.load(B + row + step_j, mask=live, other=0.0).to(tl.float32)
    log_d, slope = _log_decay(tl.load(W + row + step_j, mask=live, other=0.0).to(tl.float32),
                              DECAY)
    log_d = tl.where(live, tl.maximum(log_d, -MAX_LOG_DECAY), 0.0)
    return r, k, a, bb, log_d, slope


@tessera.jit
def _chunk_decays(lower, log_d, N: tl.constexpr, CHUNK: tl.constexpr):
    """(g, g', g_7, g_15) of a chunk's log decays (CHUNK x N): g_t = sum of log d up to and
    including step t (lower @ log d, exact), g'_t = g_t - log d_t; g_7 (the mid-chunk
    reference) and g_15 as 1 x N rows."""
    g = _prefix_sums(lower, log_d)
    step_of_sj = tl.arange(0, CHUNK)[:, None] + 0 * tl.arange(0, N)[None, :]
    g_mid = tl.sum(tl.where(step_of_sj == CHUNK // 2 - 1, g, 0.0), axis=0)[None, :]
    g_last = tl.sum(tl.where(step_of_sj == CHUNK - 1, g, 0.0), axis=0)[None, :]
    return g, g - log_d, g_mid, g_last


@tessera.jit
def wkv7_chunk_prep_kernel(R, W, K, A, B, JV, LL, DECAYS, PT, T, H, N: tl.constexpr,
                           DECAY: tl.constexpr, CHUNK: tl.constexpr, EXACT: tl.constexpr,
                           BACKWARD: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """The state-independent part of chunk c of head (b, h), program (c, b * H + h), for
    wkv7_chunk_fwd_kernel (whose docstring has the mathematics). It writes JV
    (B * H, chunks, 4, CHUNK, N): a~ = (I - P_ab)^-1 (a e^{g'}), r~ = r e^g + P_rb a~,
    k e^{g_15 - g} and b e^{g_15 - g}; LL (B * H, chunks, 2, CHUNK, CHUNK):
    U = (I - P_ab)^-1 P_ak and P_rk + P_rb U, both in the I/O type, the one the walks' products
    round them to; and fp32 DECAYS (B * H, chunks, N): e^{g_15}. With BACKWARD, PT instead of
    LL (B * H, chunks, 4, CHUNK, CHUNK), fp32, for wkv7_chunk_bwd_kernel: the transposes of
    (I - P_ab)^-1, P_ak, P_rb and P_rk."""
    tl.static_assert(CHUNK == 16)
    c, bh, row, chunk = _chunk_program(T, H, N, CHUNK, PAIRS_ON_Z)
    offs_j = tl.arange(0, N)
    steps = tl.arange(0, CHUNK)
    r, k, a, bb, log_d, _ = _chunk_inputs(R, W, K, A, B, row, c, T, H, N, DECAY, CHUNK)
    strictly_lower = steps[:, None] > steps[None, :]
    lower = steps[:, None] >= steps[None, :]
    g, g_prev, g_mid, g_last = _chunk_decays(lower, log_d, N, CHUNK)
    # Stored and scaled as early as they can be, so that few blocks stay live across the solve.
    to_last = tl.exp(g_last - g)
    jv = JV + chunk * (4 * CHUNK * N) + steps[:, None] * N + offs_j[None, :]
    tl.store(jv + 2 * CHUNK * N, (k * to_last).to(JV.dtype.element_ty))
    tl.store(jv + 3 * CHUNK * N, (bb * to_last).to(JV.dtype.element_ty))
    tl.store(DECAYS + chunk * N + offs_j[None, :], tl.exp(g_last))
    from_mid = tl.exp(g_mid - g)
    k_from_mid = tl.trans(k * from_mid)
    b_from_mid = tl.trans(bb * from_mid)
    a_to_mid = a * tl.exp(g_prev - g_mid)
    r_to_mid = r * tl.exp(g - g_mid)
    a_scaled = a * tl.exp(g_prev)
    r_scaled = r * tl.exp(g)
    p_ab = tl.where(strictly_lower, _dot32(a_to_mid, b_from_mid, EXACT), 0.0)
    p_ak = tl.where(strictly_lower, _dot32(a_to_mid, k_from_mid, EXACT), 0.0)
    p_rb = tl.where(lower, _dot32(r_to_mid, b_from_mid, EXACT), 0.0)
    p_rk = tl.where(lower, _dot32(r_to_mid, k_from_mid, EXACT), 0.0)
    # (I - P)^-1 = (I + P)(I + P^2)(I + P^4)(I + P^8), as P^16 = 0
    solve = tl.where(steps[:, None] == steps[None, :], 1.0, 0.0) + p_ab
    power = p_ab
    for _ in tl.static_range(3):
        power = _dot32(power, power, EXACT)
        solve += _dot32(solve, power, EXACT)
    a_solved = _dot32(solve, a_scaled, EXACT)
    u = _dot32(solve, p_ak, EXACT)
    tl.store(jv, a_solved.to(JV.dtype.element_ty))
    r_solved = r_scaled + _dot32(p_rb, a_solved, EXACT)
    tl.store(jv + CHUNK * N, r_solved.to(JV.dtype.element_ty))
    if not BACKWARD:
        ll = LL + chunk * (2 * CHUNK * CHUNK) + steps[:, None] * CHUNK + steps[None, :]
        tl.store(ll, u.to(LL.dtype.element_ty))
        tl.store(ll + CHUNK * CHUNK, (p_rk + _dot32(p_rb, u, EXACT)).to(LL.dtype.element_ty))
    else:
        pt = PT + chunk * (4 * CHUNK * CHUNK) + steps[:, None] + steps[None, :] * CHUNK
        tl.store(pt, solve)
        tl.store(pt + CHUNK * CHUNK, p_ak)
        tl.store(pt + 2 * CHUNK * CHUNK, p_rb)
        tl.store(pt + 3 * CHUNK * CHUNK, p_rk)


@tessera.jit
def _chunk_columns(X, first_row, first_t, offs_i, T, H, N: tl.constexpr, CHUNK: tl.constexpr):
    """The [i, s] block of a (B, T, H, N) input over the CHUNK steps from first_t (zero past T),
    loaded as stored (rows are steps) and transposed as a view, so that tilegpu-pipeline can
    prefetch it: its address depends on the walk's step alone."""
    steps = tl.arange(0, CHUNK)
    live = first_t + steps[:, None] + 0 * offs_i[None, :] < T
    step_i = steps[:, None] * (H * N) + offs_i[None, :]
    return tl.trans(tl.load(X + first_row + first_t * (H * N) + step_i, mask=live, other=0.0))


@tessera.jit
def wkv7_chunk_fwd_kernel(V, Y, S0, ST, SA, CKPT, JV, LL, DECAYS, T, H, s0_stride_b,
                          N: tl.constexpr, BLOCK_I: tl.constexpr, CHUNK: tl.constexpr,
                          HAS_S0: tl.constexpr, HAS_ST: tl.constexpr, SAVE: tl.constexpr,
                          HALF: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """wkv7_fwd_kernel's y, final state, sa and checkpoints (fp32 compute only) by chunks of
    CHUNK = 16 steps on tensor cores, from v and what wkv7_chunk_prep_kernel wrote. Program
    (ib, b * H + h) holds rows ib * BLOCK_I .. + BLOCK_I of the state of head (b, h).

    Within a chunk from state S (steps t, s = 0..15; g_t = sum of log d up to and including
    step t, per column j; g'_t = g_t - log d_t), the recurrence unrolls to

        sa_t = S (a_t e^{g'_t}) + sum_{s<t} [v_s (a_t e^{g'_t - g_s}).k_s + sa_s (..).b_s]
        y_t  = S (r_t e^{g_t})  + sum_{s<=t} [v_s (r_t e^{g_t - g_s}).k_s + sa_s (..).b_s]
        S'   = S e^{g_15} + sum_s [v_s (k_s e^{g_15 - g_s})^T + sa_s (b_s e^{g_15 - g_s})^T]

    The 16 x 16 products over j (P_ak, P_ab strictly lower, P_rk, P_rb lower triangular) go
    through a mid-chunk reference, e^{g_t - g_7} e^{g_7 - g_s}. sa solves a unit lower
    triangular system, (I - P_ab) sa = S a e^{g'} + P_ak v, so with the prep kernel's
    a~ = (I - P_ab)^-1 a e^{g'}, U = (I - P_ab)^-1 P_ak (rows are steps):

        sa = S a~^T + v U^T,   y = S r~^T + v (P_rk + P_rb U)^T

    HALF (0 fp32, 1 bf16, 2 fp16: the I/O type) picks the tensor-core type of those products
    and of the state update S e^{g_15} + v k~ + sa b~ (k~, b~ = k, b e^{g_15 - g}): a NumPy
    model at bf16 puts the final state within 1.3e-3 of float64 at T = 1024 and 4096 (an
    fp32-accurate update, split into bf16 halves, 1.6e-4; y and the gradients the same)."""
    tl.static_assert(CHUNK == 16)
    bh, b, h, offs_i, offs_j, tile, first_row = _rows_program(T, H, N, BLOCK_I, PAIRS_ON_Z)
    steps = tl.arange(0, CHUNK)
    if HAS_S0:
        state = tl.load(S0 + b.to(tl.int64) * s0_stride_b + h * (N * N) + tile)
    else:
        state = tl.zeros((BLOCK_I, N), tl.float32)
    step_of_is = steps[None, :] + 0 * offs_i[:, None]
    i_step = offs_i[:, None] + steps[None, :] * (H * N)  # [i, s] of a chunk's i-vectors
    step_j = steps[:, None] * N + offs_j[None, :]
    step_t = steps[:, None] * CHUNK + steps[None, :]
    out_row = first_row
    out_t = 0
    chunks = (T + CHUNK - 1) // CHUNK
    first_chunk = bh.to(tl.int64) * chunks
    decay_at = first_chunk * N
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N)
    zeros = tl.zeros((BLOCK_I, CHUNK), tl.float32)
    decay = tl.load(DECAYS + decay_at + offs_j)[None, :]
    # The blocks the products read are loaded as stored (rows are steps) and transposed as
    # views, their addresses from c alone: tilegpu-pipeline then prefetches them (it takes no
    # stream whose address arithmetic feeds anything else), so the stores and the decays' load
    # (an iteration ahead, by hand) keep their own running offsets.
    for c in range(chunks):
        decay_at += N
        next_decay = tl.load(DECAYS + decay_at + offs_j, mask=c + 1 < chunks, other=1.0)
        if SAVE:
            tl.store(CKPT + ckpt + tile, state)
            ckpt += N * N
        v = _chunk_columns(V, first_row, c.to(tl.int64) * CHUNK, offs_i, T, H, N, CHUNK)
        jv = JV + (first_chunk + c) * (4 * CHUNK * N)
        ll = LL + (first_chunk + c) * (2 * CHUNK * CHUNK)
        sa = _half_dot(state, tl.trans(tl.load(jv + step_j)), zeros, HALF)
        sa = _half_dot(v, tl.trans(tl.load(ll + step_t)), sa, HALF)
        y = _half_dot(state, tl.trans(tl.load(jv + CHUNK * N + step_j)), zeros, HALF)
        y = _half_dot(v, tl.trans(tl.load(ll + CHUNK * CHUNK + step_t)), y, HALF)
        live = out_t + step_of_is < T
        tl.store(Y + out_row + i_step, y.to(Y.dtype.element_ty), mask=live)
        if SAVE:
            tl.store(SA + out_row + i_step, sa, mask=live)
        state = _half_dot(v, tl.load(jv + 2 * CHUNK * N + step_j), state * decay, HALF)
        state = _half_dot(sa, tl.load(jv + 3 * CHUNK * N + step_j), state, HALF)
        decay = next_decay[None, :]
        out_row += CHUNK * H * N
        out_t += CHUNK
    if SAVE:
        tl.store(CKPT + ckpt + tile, state)
    if HAS_ST:
        tl.store(ST + bh.to(tl.int64) * (N * N) + tile, state)


@tessera.jit
def wkv7_chunk_bwd_walk_kernel(DY, DST, DS0, ENDS, JV, DECAYS, T, H, N: tl.constexpr,
                               BLOCK_I: tl.constexpr, CHUNK: tl.constexpr,
                               HAS_DST: tl.constexpr, HAS_DS0: tl.constexpr,
                               HALF: tl.constexpr, PAIRS_ON_Z: tl.constexpr):
    """The chunked backward's walk: G = dL/dS at every chunk boundary, from the last chunk to
    the first, by the transpose of wkv7_chunk_fwd_kernel's chunk step. A chunk maps its start
    state S to S (e^{g_15} + a~^T b~) + ..., where b~ = b e^{g_15 - g}, and its outputs to
    y = S r~^T + ..., so with G the gradient at the chunk's end (rows are steps):

        G_start = G e^{g_15} + (G b~^T) a~ + dy^T r~

    It reads JV (a~, r~, b~) and DECAYS (e^{g_15}) from wkv7_chunk_prep_kernel and writes
    ENDS (B * H, chunks, N, N) fp32: slot c is G at the end of chunk c, for
    wkv7_chunk_bwd_kernel. DST: dL/dS_T, fp32 (B, H, N, N), when HAS_DST; DS0: dL/dS_0, when
    HAS_DS0. Program (ib, b * H + h) holds rows ib * BLOCK_I .. + BLOCK_I of the head's G: row
    i of G reads only row i (as row i of S in the forward). HALF as in wkv7_chunk_fwd_kernel:
    G is not stepped back through 1/d, so plain bf16/fp16 products keep it within 1e-3."""
    tl.static_assert(CHUNK == 16)
    bh, _, _, offs_i, offs_j, tile, first_row = _rows_program(T, H, N, BLOCK_I, PAIRS_ON_Z)
    steps = tl.arange(0, CHUNK)
    head = bh.to(tl.int64) * (N * N)
    if HAS_DST:
        grad = tl.load(DST + head + tile)
    else:
        grad = tl.zeros((BLOCK_I, N), tl.float32)
    step_j = steps[:, None] * N + offs_j[None, :]
    chunks = (T + CHUNK - 1) // CHUNK
    last_chunk = bh.to(tl.int64) * chunks + chunks - 1
    end_at = last_chunk * (N * N)
    decay = tl.load(DECAYS + last_chunk * N + offs_j)[None, :]
    zeros = tl.zeros((BLOCK_I, CHUNK), tl.float32)
    # As in wkv7_chunk_fwd_kernel, the products' blocks are loaded as stored, their addresses
    # from `back` alone, for tilegpu-pipeline; the decays are loaded an iteration ahead.
    for back in range(chunks):
        next_decay = tl.load(DECAYS + last_chunk * N - (back + 1) * N + offs_j,
                             mask=back + 1 < chunks, other=1.0)
        tl.store(ENDS + end_at + tile, grad)
        end_at -= N * N
        dy = _chunk_columns(DY, first_row, (chunks - 1 - back).to(tl.int64) * CHUNK, offs_i, T,
                            H, N, CHUNK)
        jv = JV + (last_chunk - back) * (4 * CHUNK * N)
        grad_b = _half_dot(grad, tl.trans(tl.load(jv + 3 * CHUNK * N + step_j)), zeros, HALF)
        grad = _half_dot(grad_b, tl.load(jv + step_j), grad * decay, HALF)
        grad = _half_dot(dy, tl.load(jv + CHUNK * N + step_j), grad, HALF)
        decay = next_decay[None, :]
    if HAS_DS0:
        tl.store(DS0 + head + tile, grad)


@tessera.jit
def wkv7_chunk_bwd_kernel(R, W, K, V, A, B, DY, SA, CKPT, ENDS, JV, PT, DR, DW, DK, DV, DA, DB,
                          T, H, N: tl.constexpr, BLOCK_I: tl.constexpr, DECAY: tl.constexpr,
                          CHUNK: tl.constexpr, EXACT: tl.constexpr, HALF: tl.constexpr,
                          PAIRS_ON_Z: tl.constexpr):
    """dr, dw, dk, dv, da, db of chunk c of head (b, h), program (c, b * H + h), from dy, the
    forward's sa and chunk-start states (CKPT), the walk's gradients at the chunk's end (ENDS,
    G below) and wkv7_chunk_prep_kernel's JV and PT. It reverses wkv7_chunk_fwd_kernel's
    chunk (rows are steps; S the chunk-start state; A^ = a e^{g'}, R^ = r e^g, B^ = b e^{-g},
    K^ = k e^{-g}; b~, k~ = b, k e^{g_15 - g}):

        dsa = b~ G^T + P_rb^T dy,   dX = (I - P_ab)^-T dsa,   dv = k~ G^T + P_rk^T dy + P_ak^T dX
        dP_ab, dP_ak, dP_rb, dP_rk = dX sa^T, dX v^T, dy sa^T, dy v^T   (masked as P)
        da = (dX S + dP_ab B^ + dP_ak K^) e^{g'},   dr = (dy S + dP_rb B^ + dP_rk K^) e^g
        db = (dP_ab^T A^ + dP_rb^T R^) e^{-g} + (sa G) e^{g_15 - g},   dk alike with v, K
        dlog d_s = sum_{t >= s} (dr r - db b - dk k)_t + sum_{t > s} (da a)_t + dg_15
        dg_15 = colsum(G * S) e^{g_15} + colsum((sa G) * b~ + (v G) * k~)

    The products through e^{-g} take the prep kernel's mid-chunk reference. The state's rows
    go BLOCK_I at a time, the products with S and G on HALF tensor cores (as the forward's with
    S), the 16 x 16 ones in tf32 (fp32 FMAs when EXACT, for fp32 I/O). Steps past T are the
    prep kernel's padding (zero inputs, d = 1) and store nothing; dw is 0 where log d was held
    at -MAX_LOG_DECAY."""
    tl.static_assert(CHUNK == 16)
    c, bh, row, chunk = _chunk_program(T, H, N, CHUNK, PAIRS_ON_Z)
    offs_j = tl.arange(0, N)
    steps = tl.arange(0, CHUNK)
    pt = PT + chunk * (4 * CHUNK * CHUNK) + steps[:, None] * CHUNK + steps[None, :]
    solve_t = tl.load(pt)
    p_ak_t = tl.load(pt + CHUNK * CHUNK)
    p_rb_t = tl.load(pt + 2 * CHUNK * CHUNK)
    p_rk_t = tl.load(pt + 3 * CHUNK * CHUNK)
    jv = JV + chunk * (4 * CHUNK * N)
    ckpt = CKPT + (chunk + bh) * (N * N)  # CKPT has chunks + 1 slots a head
    ends = ENDS + chunk * (N * N)
    ds_x = tl.zeros((CHUNK, N), tl.float32)  # dX S
    dy_s = tl.zeros((CHUNK, N), tl.float32)
    sa_g = tl.zeros((CHUNK, N), tl.float32)
    v_g = tl.zeros((CHUNK, N), tl.float32)
    d_p_ab = tl.zeros((CHUNK, CHUNK), tl.float32)
    d_p_ak = tl.zeros((CHUNK, CHUNK), tl.float32)
    d_p_rb = tl.zeros((CHUNK, CHUNK), tl.float32)
    d_p_rk = tl.zeros((CHUNK, CHUNK), tl.float32)
    g_state = tl.zeros((1, N), tl.float32)  # colsum(G * S)
    zeros = tl.zeros((CHUNK, BLOCK_I), tl.float32)
    step_j = steps[:, None] * N + offs_j[None, :]
    for block in range(N // BLOCK_I):
        offs_i = block * BLOCK_I + tl.arange(0, BLOCK_I)
        live_si = c * CHUNK + steps[:, None] + 0 * offs_i[None, :] < T
        live_is = c * CHUNK + steps[None, :] + 0 * offs_i[:, None] < T
        step_i = steps[:, None] * (H * N) + offs_i[None, :]
        i_step = offs_i[:, None] + steps[None, :] * (H * N)
        grad_t = tl.load(ends + offs_j[:, None] + offs_i[None, :] * N)
        dy = tl.load(DY + row + step_i, mask=live_si, other=0.0).to(tl.float32)
        dsa = _half_dot(tl.load(jv + 3 * CHUNK * N + step_j), grad_t, zeros, HALF)
        dx = _dot32(solve_t, dsa + _dot32(p_rb_t, dy, EXACT), EXACT)
        dv = _half_dot(tl.load(jv + 2 * CHUNK * N + step_j), grad_t, zeros, HALF)
        dv += _dot32(p_rk_t, dy, EXACT) + _dot32(p_ak_t, dx, EXACT)
        tl.store(DV + row + step_i, dv.to(DV.dtype.element_ty), mask=live_si)
        sa_t = tl.load(SA + row + i_step, mask=live_is, other=0.0)
        v_t = tl.load(V + row + i_step, mask=live_is, other=0.0).to(tl.float32)
        d_p_ab += _dot32(dx, sa_t, EXACT)
        d_p_ak += _dot32(dx, v_t, EXACT)
        d_p_rb += _dot32(dy, sa_t, EXACT)
        d_p_rk += _dot32(dy, v_t, EXACT)
        state = tl.load(ckpt + offs_i[:, None] * N + offs_j[None, :])
        ds_x = _half_dot(dx, state, ds_x, HALF)
        dy_s = _half_dot(dy, state, dy_s, HALF)
        grad = tl.load(ends + offs_i[:, None] * N + offs_j[None, :])
        g_state += tl.sum(grad * state, axis=0)[None, :]
        sa = tl.load(SA + row + step_i, mask=live_si, other=0.0)
        sa_g = _half_dot(sa, grad, sa_g, HALF)
        v = tl.load(V + row + step_i, mask=live_si, other=0.0).to(tl.float32)
        v_g = _half_dot(v, grad, v_g, HALF)
    r, k, a, bb, log_d, slope = _chunk_inputs(R, W, K, A, B, row, c, T, H, N, DECAY, CHUNK)
    lower = steps[:, None] >= steps[None, :]
    d_p_ab = tl.where(steps[:, None] > steps[None, :], d_p_ab, 0.0)
    d_p_ak = tl.where(steps[:, None] > steps[None, :], d_p_ak, 0.0)
    d_p_rb = tl.where(lower, d_p_rb, 0.0)
    d_p_rk = tl.where(lower, d_p_rk, 0.0)
    g, g_prev, g_mid, g_last = _chunk_decays(lower, log_d, N, CHUNK)
    from_mid = tl.exp(g_mid - g)
    to_last = tl.exp(g_last - g)
    d_last = g_state * tl.exp(g_last)
    d_last += tl.sum(sa_g * (bb * to_last) + v_g * (k * to_last), axis=0)[None, :]
    b_mid = bb * from_mid
    k_mid = k * from_mid
    da = ds_x * tl.exp(g_prev)
    da += (_dot32(d_p_ab, b_mid, EXACT) + _dot32(d_p_ak, k_mid, EXACT)) * tl.exp(g_prev - g_mid)
    dr = dy_s * tl.exp(g)
    dr += (_dot32(d_p_rb, b_mid, EXACT) + _dot32(d_p_rk, k_mid, EXACT)) * tl.exp(g - g_mid)
    a_mid = a * tl.exp(g_prev - g_mid)
    r_mid = r * tl.exp(g - g_mid)
    db = sa_g * to_last + (_dot32(tl.trans(d_p_ab), a_mid, EXACT) +
                           _dot32(tl.trans(d_p_rb), r_mid, EXACT)) * from_mid
    dk = v_g * to_last + (_dot32(tl.trans(d_p_ak), a_mid, EXACT) +
                          _dot32(tl.trans(d_p_rk), r_mid, EXACT)) * from_mid
    da_a = da * a
    # dL/dg_t sums into dL/dlog d_s for every s <= t (and g'_t for s < t)
    d_log_d = _prefix_sums(steps[:, None] <= steps[None, :],
                           dr * r - db * bb - dk * k + da_a) - da_a + d_last
    dw = tl.where(log_d > -MAX_LOG_DECAY, d_log_d * slope, 0.0)
    live = c * CHUNK + steps[:, None] + 0 * offs_j[None, :] < T
    out = row + steps[:, None] * (H * N) + offs_j[None, :]
    tl.store(DR + out, dr.to(DR.dtype.element_ty), mask=live)
    tl.store(DW + out, dw.to(DW.dtype.element_ty), mask=live)
    tl.store(DK + out, dk.to(DK.dtype.element_ty), mask=live)
    tl.store(DA + out, da.to(DA.dtype.element_ty), mask=live)
    tl.store(DB + out, db.to(DB.dtype.element_ty), mask=live)

@tessera.jit
def _adjoint_step(state, prev, grad, r, d, slope, k, v, a, bb, sa, dy, DR, DW, DK, DV, DA, DB,
                  at_row, at_col):
    """One step of B.4 back from S_t (state) to S_{t-1} (prev): stores the step's input
    gradients and returns G = dL/dS_{t-1}, given grad = dL/dS_t from the later steps. The
    vectors come as N x N broadcasts (j-vectors r, d, slope, k, a, bb; i-vectors v, sa, dy)."""
    tl.store(DR + at_col, tl.sum(state * dy, axis=0).to(DR.dtype.element_ty))
    grad += dy * r
    # dw = dd * d * dlog(d)/dw with dd = sum_i G[i][j] S_{t-1}[i][j] (B.3)
    tl.store(DW + at_col, tl.sum(grad * prev * (d * slope), axis=0).to(DW.dtype.element_ty))
    tl.store(DK + at_col, tl.sum(grad * v, axis=0).to(DK.dtype.element_ty))
    tl.store(DV + at_row, tl.sum(grad * k, axis=1).to(DV.dtype.element_ty))
    dsa = tl.sum(grad * bb, axis=1)
    tl.store(DB + at_col, tl.sum(grad * sa, axis=0).to(DB.dtype.element_ty))
    tl.store(DA + at_col, tl.sum(prev * dsa[:, None], axis=0).to(DA.dtype.element_ty))
    return grad * d + dsa[:, None] * a


@tessera.jit
def wkv7_bwd_kernel(R, W, K, V, A, B, DY, DST, SA, CKPT, DR, DW, DK, DV, DA, DB, DS0, T, H,
                    N: tl.constexpr, DECAY: tl.constexpr, CHUNK: tl.constexpr,
                    HAS_DST: tl.constexpr, HAS_DS0: tl.constexpr, F64: tl.constexpr):
    """dr, dw, dk, dv, da, db (B, T, H, N, contiguous, in the inputs' dtypes) from dy, given the
    forward's sa and checkpoints (wkv7_fwd_kernel with SAVE). DST: dL/dS_T, fp32
    (B, H, N, N), when HAS_DST. DS0: dL/dS_0 per (b, h), in the compute type, when HAS_DS0.
    One program per head (b * H + h)."""
    bh = tl.program_id(0)
    b = bh // H
    h = bh % H
    offs = tl.arange(0, N)
    tile = offs[:, None] * N + offs[None, :]
    cols = offs[None, :] + 0 * offs[:, None]  # broadcast loads, as in wkv7_fwd_kernel
    rows = offs[:, None] + 0 * offs[None, :]
    head = bh.to(tl.int64) * (N * N)
    chunks = (T + CHUNK - 1) // CHUNK
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N) + chunks * (N * N)
    state = tl.load(CKPT + ckpt + tile)
    if HAS_DST:
        grad = _up(tl.load(DST + head + tile), F64)
    else:
        grad = _up(tl.zeros((N, N), tl.float32), F64)
    first_row = (b.to(tl.int64) * T * H + h) * N
    for back in range(T):
        t = T - 1 - back
        row = first_row + t.to(tl.int64) * (H * N)
        r = _up(tl.load(R + row + cols), F64)
        log_d, slope = _log_decay(_up(tl.load(W + row + cols), F64), DECAY)
        d = tl.exp(log_d)
        k = _up(tl.load(K + row + cols), F64)
        a = _up(tl.load(A + row + cols), F64)
        bb = _up(tl.load(B + row + cols), F64)
        v = _up(tl.load(V + row + rows), F64)
        sa = _up(tl.load(SA + row + rows), F64)
        dy = _up(tl.load(DY + row + rows), F64)
        if t % CHUNK == 0:
            ckpt -= N * N
            prev = tl.load(CKPT + ckpt + tile)
        else:
            prev = (state - v * k - sa * bb) / d
        grad = _adjoint_step(state, prev, grad, r, d, slope, k, v, a, bb, sa, dy,
                             DR, DW, DK, DV, DA, DB, row + offs, row + offs)
        state = prev
    if HAS_DS0:
        tl.store(DS0 + head + tile, grad.to(DS0.dtype.element_ty))


def choose_forward_block(heads: int, n: int, num_sms: int = 132, f64: bool = False):
    """(BLOCK_I, num_warps) of the forward over `heads` = B * H heads: rows per program halve,
    down to 16, while the grid is under four programs per SM (the walk over T is latency-bound,
    so more, smaller programs hide more of it); about 16 state elements per thread (8 in
    fp64), at most 8 warps."""
    block_i = n
    while block_i > 16 and heads * (n // block_i) < 4 * num_sms:
        block_i //= 2
    per_thread = 8 if f64 else 16
    return block_i, max(1, min(8, block_i * n // (32 * per_thread)))


def choose_backward_warps(n: int, f64: bool = False) -> int:
    """num_warps of the backward, which holds S, G and S_{t-1} of one head: about 16 elements
    of each per thread (8 in fp64), at most 16 warps."""
    per_thread = 8 if f64 else 16
    return max(1, min(16, n * n // (32 * per_thread)))


def choose_chunk_block(n: int):
    """(BLOCK_I, num_warps) of the chunked forward: up to 64 rows of a head per program (on
    the H200 at B=8, H=32, N=64, 64 rows and 4 warps measured faster than 32 rows and 2 warps:
    the wider tiles pay for the fewer programs); a warp per 16 rows, as the tensor-core tiles
    are 16 rows tall; 8 warps at N = 128, whose 64 x 128 state needs the registers."""
    block_i = min(n, 64)
    return block_i, 8 if n == 128 else block_i // 16


def choose_chunk_bwd_block(n: int) -> int:
    """BLOCK_I of wkv7_chunk_bwd_kernel: the rows of S and G it takes at a time, 64 at most (on
    the H200 at B=8, T=4096, H=32, N=64, 64 rows measured faster than 32 or 16: the kernel
    waits on its chain of small products more than it spills)."""
    return min(n, 64)
