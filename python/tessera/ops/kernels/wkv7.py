"""The WKV7 (RWKV-7) tile kernels of ``tessera.ops.rwkv``: ``specs/rwkv-and-attention.md`` part B.

Per (b, h) the state S is N x N, row i (value/output), column j (key/receptance), and a step is

    sa = S a;   S = S diag(d) + sa b^T + v k^T;   y = S r

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

__all__ = ["DECAY_CODES", "choose_backward_warps", "choose_forward_block", "wkv7_bwd_kernel",
           "wkv7_fwd_kernel"]

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
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N) + tile
    for t in range(T):
        if SAVE:
            if t % CHUNK == 0:
                tl.store(CKPT + ckpt, state)
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
        tl.store(CKPT + ckpt, state)
    if HAS_ST:
        tl.store(ST + bh.to(tl.int64) * (N * N) + tile, state.to(tl.float32))


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
    ckpt = bh.to(tl.int64) * (chunks + 1) * (N * N) + chunks * (N * N) + tile
    state = tl.load(CKPT + ckpt)
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
            prev = tl.load(CKPT + ckpt)
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
