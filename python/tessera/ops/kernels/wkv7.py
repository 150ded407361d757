"""The WKV7 (RWKV-7) tile kernels of ``tessera.ops.rwkv``: ``specs/rwkv-and-attention.md`` part B.

Per (b, h) the state S is N x N, row i (value/output), column j (key/receptance), and a step is

    sa = S a;   S = S diag(d) + sa b^T + v k^T;   y = S r

Training runs the chunked forward (wkv7_chunk_prep_kernel, then wkv7_chunk_fwd_kernel, whose
docstring has its mathematics): chunks of 16 steps as tensor-core products. wkv7s and the
reference backend step through time (wkv7_fwd_kernel), exactly in fp32 or fp64.

Row i of the update reads only row i of S (sa[i] and y[i] are sums along the row), so the
forward splits the rows of one head over ``N // BLOCK_I`` programs, each holding a
BLOCK_I x N block of S in registers (fp32, or fp64 for the reference backend) and walking T in
order: a step loads the six vectors, takes two row sums and stores BLOCK_I outputs.

Training saves what the backward needs instead of a state per step: ``sa`` (B, T, H, N) in the
compute type, and a checkpoint of S every ``CHUNK`` steps (B, H, ceil(T / CHUNK), N, N), the
state before step c * CHUNK. The backward ("backstepping", B.4) walks t = T-1 .. 0 with the
adjoint G = dL/dS_t: it recovers S_{t-1} = (S_t - v k^T - sa b^T) diag(1/d) inside a chunk
and reloads the checkpoint at the chunk's first step, so rounding errors amplified by 1/d
(d > 0.545 in models) never compound over more than CHUNK steps. Its column sums (dr, dd, dk,
da, db) run over every row, so one program holds the whole N x N of S and G of one head.

Decay conventions (B.3), the constexpr ``DECAY``: 0 raw, d = exp(-exp(w)); 1 clampw,
d = exp(-e^{-1/2} sigmoid(w)); 2 log, d = exp(w).
"""
from __future__ import annotations

import tessera
import tessera.language as tl

from .wkv4 import _up

__all__ = ["CHUNK_PREP_WARPS", "DECAY_CODES", "choose_backward_warps", "choose_chunk_block",
           "choose_forward_block", "wkv7_bwd_kernel", "wkv7_chunk_fwd_kernel",
           "wkv7_chunk_prep_kernel", "wkv7_fwd_kernel"]

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
def wkv7_fwd_kernel(R, W, K, V, A, B, Y, S0, ST, SA, CKPT, T, H, s0_stride_b,
                    N: tl.constexpr, BLOCK_I: tl.constexpr, DECAY: tl.constexpr,
                    CHUNK: tl.constexpr, HAS_S0: tl.constexpr, HAS_ST: tl.constexpr,
                    SAVE: tl.constexpr, F64: tl.constexpr):
    """y (B, T, H, N) of r, w, k, v, a, b (B, T, H, N), all contiguous. Program (ib, b * H + h)
    holds rows ib * BLOCK_I .. + BLOCK_I of head (b, h).

    S0: the initial state, fp32 [b, h, i, j] with batch stride s0_stride_b (0 broadcasts one
    (H, N, N) state over B), when HAS_S0; zeros otherwise. ST: the final state, fp32
    (B, H, N, N), when HAS_ST (it may be S0: each program reads its rows before writing them).
    SAVE: also write, in the compute type, sa (B, T, H, N) and CKPT (B, H, ceil(T / CHUNK) + 1,
    N, N): slot c < ceil(T / CHUNK) the state before step c * CHUNK, the last slot the final
    state, for the backward."""
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_i = tl.program_id(0) * BLOCK_I + tl.arange(0, BLOCK_I)
    offs_j = tl.arange(0, N)
    tile = offs_i[:, None] * N + offs_j[None, :]
    # The step's vectors are loaded straight into the state's layout, as 2-D broadcasts (a
    # j-vector is the same in every row, an i-vector in every column): each thread holds runs
    # of one row along j, so the row sums stay mostly in registers, with no layout conversion.
    cols = offs_j[None, :] + 0 * offs_i[:, None]
    rows = offs_i[:, None] + 0 * offs_j[None, :]
    if HAS_S0:
        state = _up(tl.load(S0 + b.to(tl.int64) * s0_stride_b + h * (N * N) + tile), F64)
    else:
        state = _up(tl.zeros((BLOCK_I, N), tl.float32), F64)
    row = (b.to(tl.int64) * T * H + h) * N
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
# (4 warps fall back to FMAs: 2.8 ms against 1.8 ms on the H200 at B=8, T=4096, H=32, N=64).
CHUNK_PREP_WARPS = 2


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
def _split_dot(x, y, acc, HALF: tl.constexpr):
    """acc + x @ y of fp32 blocks to about fp32 accuracy: with HALF (1 or 2), three bf16
    tensor-core products of the operands split into high and low halves (the low x low term
    is below fp32 rounding); else fp32 FMAs."""
    if HALF != 0:
        x_hi = x.to(tl.bfloat16)
        y_hi = y.to(tl.bfloat16)
        acc = tl.dot(x_hi, y_hi, acc)
        acc = tl.dot((x - x_hi.to(tl.float32)).to(tl.bfloat16), y_hi, acc)
        return tl.dot(x_hi, (y - y_hi.to(tl.float32)).to(tl.bfloat16), acc)
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
def wkv7_chunk_prep_kernel(R, W, K, A, B, JV, LL, DECAYS, T, H, N: tl.constexpr,
                           DECAY: tl.constexpr, CHUNK: tl.constexpr, EXACT: tl.constexpr):
    """The state-independent part of chunk c of head (b, h), program (c, b * H + h), for
    wkv7_chunk_fwd_kernel (whose docstring has the mathematics). It writes, fp32:
    JV (B * H, chunks, 4, CHUNK, N): a~ = (I - P_ab)^-1 (a e^{g'}), r~ = r e^g + P_rb a~,
    k e^{g_15 - g} and b e^{g_15 - g}; LL (B * H, chunks, 2, CHUNK, CHUNK):
    U = (I - P_ab)^-1 P_ak and P_rk + P_rb U; DECAYS (B * H, chunks, N): e^{g_15}."""
    tl.static_assert(CHUNK == 16)
    c = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_j = tl.arange(0, N)
    steps = tl.arange(0, CHUNK)
    step_of_sj = steps[:, None] + 0 * offs_j[None, :]
    live = c * CHUNK + step_of_sj < T
    row = (b.to(tl.int64) * T + c * CHUNK) * (H * N) + h * N
    step_j = steps[:, None] * (H * N) + offs_j[None, :]
    r = tl.load(R + row + step_j, mask=live, other=0.0).to(tl.float32)
    k = tl.load(K + row + step_j, mask=live, other=0.0).to(tl.float32)
    a = tl.load(A + row + step_j, mask=live, other=0.0).to(tl.float32)
    bb = tl.load(B + row + step_j, mask=live, other=0.0).to(tl.float32)
    log_d, _ = _log_decay(tl.load(W + row + step_j, mask=live, other=0.0).to(tl.float32),
                          DECAY)
    # Steps past T decay by 1 (log d = 0), so the final state is the one after step T.
    log_d = tl.where(live, tl.maximum(log_d, -MAX_LOG_DECAY), 0.0)
    strictly_lower = steps[:, None] > steps[None, :]
    lower = steps[:, None] >= steps[None, :]
    g = _prefix_sums(lower, log_d)
    g_prev = g - log_d
    g_mid = tl.sum(tl.where(step_of_sj == CHUNK // 2 - 1, g, 0.0), axis=0)[None, :]
    g_last = tl.sum(tl.where(step_of_sj == CHUNK - 1, g, 0.0), axis=0)
    from_mid = tl.exp(g_mid - g)
    k_from_mid = tl.trans(k * from_mid)
    b_from_mid = tl.trans(bb * from_mid)
    a_to_mid = a * tl.exp(g_prev - g_mid)
    r_to_mid = r * tl.exp(g - g_mid)
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
    a_solved = _dot32(solve, a * tl.exp(g_prev), EXACT)
    u = _dot32(solve, p_ak, EXACT)
    to_last = tl.exp(g_last[None, :] - g)
    chunk = bh.to(tl.int64) * ((T + CHUNK - 1) // CHUNK) + c
    jv = JV + chunk * (4 * CHUNK * N) + steps[:, None] * N + offs_j[None, :]
    tl.store(jv, a_solved)
    tl.store(jv + CHUNK * N, r * tl.exp(g) + _dot32(p_rb, a_solved, EXACT))
    tl.store(jv + 2 * CHUNK * N, k * to_last)
    tl.store(jv + 3 * CHUNK * N, bb * to_last)
    ll = LL + chunk * (2 * CHUNK * CHUNK) + steps[:, None] * CHUNK + steps[None, :]
    tl.store(ll, u)
    tl.store(ll + CHUNK * CHUNK, p_rk + _dot32(p_rb, u, EXACT))
    tl.store(DECAYS + chunk * N + offs_j, tl.exp(g_last))


@tessera.jit
def wkv7_chunk_fwd_kernel(V, Y, S0, ST, SA, CKPT, JV, LL, DECAYS, T, H, s0_stride_b,
                          N: tl.constexpr, BLOCK_I: tl.constexpr, CHUNK: tl.constexpr,
                          HAS_S0: tl.constexpr, HAS_ST: tl.constexpr, SAVE: tl.constexpr,
                          HALF: tl.constexpr):
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

    HALF (0 fp32, 1 bf16, 2 fp16: the I/O type) picks the tensor-core type of those products;
    the state update is split to fp32 accuracy, because the backward steps back from these
    states, where a rounding error grows by 1/d a step."""
    tl.static_assert(CHUNK == 16)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    offs_i = tl.program_id(0) * BLOCK_I + tl.arange(0, BLOCK_I)
    offs_j = tl.arange(0, N)
    steps = tl.arange(0, CHUNK)
    tile = offs_i[:, None] * N + offs_j[None, :]
    if HAS_S0:
        state = tl.load(S0 + b.to(tl.int64) * s0_stride_b + h * (N * N) + tile)
    else:
        state = tl.zeros((BLOCK_I, N), tl.float32)
    step_of_is = steps[None, :] + 0 * offs_i[:, None]
    i_step = offs_i[:, None] + steps[None, :] * (H * N)  # [i, s] of a chunk's i-vectors
    j_step = offs_j[:, None] + steps[None, :] * N  # [j, s]: the prep's rows, transposed
    step_j = steps[:, None] * N + offs_j[None, :]
    step_t = steps[:, None] + steps[None, :] * CHUNK  # [s', s]: transposed
    row = (b.to(tl.int64) * T * H + h) * N
    chunks = (T + CHUNK - 1) // CHUNK
    chunk = bh.to(tl.int64) * chunks
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N)
    zeros = tl.zeros((BLOCK_I, CHUNK), tl.float32)
    for c in range(chunks):
        if SAVE:
            tl.store(CKPT + ckpt + tile, state)
            ckpt += N * N
        live = c * CHUNK + step_of_is < T
        v = tl.load(V + row + i_step, mask=live, other=0.0).to(tl.float32)  # [i, s]
        jv = JV + chunk * (4 * CHUNK * N)
        ll = LL + chunk * (2 * CHUNK * CHUNK)
        sa = _half_dot(state, tl.load(jv + j_step), zeros, HALF)
        sa = _half_dot(v, tl.load(ll + step_t), sa, HALF)
        y = _half_dot(state, tl.load(jv + CHUNK * N + j_step), zeros, HALF)
        y = _half_dot(v, tl.load(ll + CHUNK * CHUNK + step_t), y, HALF)
        tl.store(Y + row + i_step, y.to(Y.dtype.element_ty), mask=live)
        if SAVE:
            tl.store(SA + row + i_step, sa, mask=live)
        decay = tl.load(DECAYS + chunk * N + offs_j)[None, :]
        state = _split_dot(v, tl.load(jv + 2 * CHUNK * N + step_j), state * decay, HALF)
        state = _split_dot(sa, tl.load(jv + 3 * CHUNK * N + step_j), state, HALF)
        row += CHUNK * H * N
        chunk += 1
    if SAVE:
        tl.store(CKPT + ckpt + tile, state)
    if HAS_ST:
        tl.store(ST + bh.to(tl.int64) * (N * N) + tile, state)


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
    the H200 at B=8, H=32, N=64, 64 rows and 4 warps take 1.5 ms, 32 rows and 2 warps 2.2 ms:
    the wider tiles pay for the fewer programs); a warp per 16 rows, as the tensor-core tiles
    are 16 rows tall; 8 warps at N = 128, whose 64 x 128 state needs the registers."""
    block_i = min(n, 64)
    return block_i, 8 if n == 128 else block_i // 16
