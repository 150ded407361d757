"""The backward kernels of ``tessera.ops``' layer_norm and rms_norm, and their planning.

With ``xhat = (x - mean) * rstd`` (layer norm; ``rstd = 1 / sqrt(var + eps)``) or ``xhat = x *
rstd`` (rms norm; ``rstd = 1 / sqrt(mean(x^2) + eps)``), ``y = xhat * w (+ b)`` and the
incoming gradient ``dy``, each row of ``N`` elements has, with ``g = dy * w`` (``dy`` without a
weight),

    layer norm:  dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    rms norm:    dx = rstd * (g - xhat * mean(g * xhat))

and the parameters sum over the rows: ``dw = sum(dy * xhat)``, ``db = sum(dy)``. Everything is
computed in fp32 and rounded once into each gradient's dtype (dx: the input's; dw, db: the
weight's and the bias's).

The forward saves nothing but its input: the row statistics (mean and rstd) are recomputed
here, by the forward kernel's formulas, so the forward's launches are the same with and
without autograd. The backward reads contiguous rows (``x`` and ``dy`` ``(n_rows, N)``; the
caller makes them so); the weight is read through strides, as the forward reads it.

``norm_bwd_kernel`` works on tiles ``[ROWS, BLOCK_N]`` and has a 2-D grid: axis 0 the column
blocks, axis 1 ``groups`` programs that walk the row blocks ``group, group + groups, ...``.

- one pass (``ONE_PASS``, ``BLOCK_N >= N``, a single column block): a tile holds whole rows, so
  the program computes the statistics, ``mean(g)`` and ``mean(g * xhat)`` from registers and
  writes ``dx``: one read of ``x`` and ``dy``, one write of ``dx``;
- longer rows: ``norm_bwd_stats_kernel`` first walks each row in chunks (one pass for the
  mean and variance, merged with Chan's formula as in the forward; a second for ``mean(g)`` and
  ``mean(g * xhat)``) and stores those four numbers per row in an fp32 ``(4, n_rows)`` buffer;
  ``norm_bwd_kernel`` then forms ``dx`` tile by tile from them.

``dw`` and ``db`` are summed without atomics, so deterministically: each program adds its rows'
``dy * xhat`` and ``dy`` into fp32 accumulators held in registers across its row blocks, and
stores their column sums once, as row ``group`` of an fp32 ``(groups, N)`` buffer of partial
sums; ``sum_rows_kernel`` then sums that buffer over its rows, in a fixed order, into the
weight's (bias's) dtype. ``groups`` is a few programs per SM, so the partial buffers stay small
(``2 * SMs * N`` floats) while every SM has programs. (A program cannot add into its row of a
global buffer row block after row block instead: the language has no barrier to order one
thread's store before another's load of the same address.)

``sum_rows_kernel`` is a general strided sum, ``out[a, n] = scale * sum_p src[a, p, n]``; the
``addmm`` backward uses it for the gradient of its broadcast ``input``.

The rest of the module is pure Python (no PyTorch): the configs and the int64 tests.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import tessera
import tessera.language as tl

from .masks import both, masked_load, masked_store
from .normalization import _column_offsets, _columns, _masked, _rms_rstd

__all__ = ["BackwardPlan", "STATS_BLOCK_N", "STATS_NUM_WARPS", "SumBlock", "choose_sum_block",
           "norm_bwd_kernel", "norm_bwd_stats_kernel", "plan_backward", "sum_needs_int64",
           "sum_rows_kernel"]


@tessera.jit
def _rows(block, n_rows, ROWS: tl.constexpr, EVEN_M: tl.constexpr, INDEX_64: tl.constexpr):
    """(indices [ROWS, 1] of the rows of row block ``block``, a [ROWS, 1] mask or None)."""
    if INDEX_64:
        rows = block.to(tl.int64) * ROWS + tl.arange(0, ROWS).to(tl.int64)
    else:
        rows = block * ROWS + tl.arange(0, ROWS)
    mask = None if EVEN_M else rows[:, None] < n_rows
    return rows[:, None], mask


@tessera.jit
def _masked_rows(x, row_mask):
    """``x`` with the rows outside ``row_mask`` (None: none) set to 0: padding rows hold
    zeros, whose ``xhat`` is NaN when ``eps`` is 0 (0 * rsqrt(0))."""
    if row_mask is None:
        return x
    return tl.where(row_mask, x, 0.0)


@tessera.jit
def _times_weight(dy, w_ptr, w_cols, col_mask, rows_zero):
    """``dy * w`` (``dy`` without a weight), the weight in fp32, loaded for every row of the
    tile (``rows_zero``: a [ROWS, 1] block of zeros) so that it arrives in the tile's layout,
    as the forward's ``_affine`` loads it."""
    if w_ptr is None:
        return dy
    mask = None if col_mask is None else col_mask[None, :]
    return dy * masked_load(w_ptr + w_cols[None, :] + rows_zero, mask, 0.0).to(tl.float32)


@tessera.jit
def _normalized(x, shift, col_mask, N, eps, RMS: tl.constexpr):
    """(xhat, rstd [ROWS, 1]) of whole rows ``x`` (padding columns 0), by the forward's one-pass
    formulas: layer norm on ``x - shift`` (the row's first element), the variance about the
    mean of the deviations; xhat is 0 in the padding columns."""
    if RMS:
        rstd = _rms_rstd(tl.sum(x * x, axis=1) / N, eps)[:, None]
        xhat = x * rstd
    else:
        diff = _masked(x - shift, col_mask)
        diff = _masked(diff - (tl.sum(diff, axis=1) / N)[:, None], col_mask)
        rstd = tl.rsqrt(tl.sum(diff * diff, axis=1) / N + eps)[:, None]
        xhat = diff * rstd
    return xhat, rstd


@tessera.jit
def norm_bwd_stats_kernel(x_ptr, dy_ptr, w_ptr, stats_ptr, n_rows, N, n_inner,
                          w_stride_outer, w_stride_col, eps,
                          RMS: tl.constexpr, ROWS: tl.constexpr, BLOCK_N: tl.constexpr,
                          EVEN_M: tl.constexpr, EVEN_N: tl.constexpr, INDEX_64: tl.constexpr):
    # Long rows: per row, stats[0] = mean of x - shift (layer norm), stats[1] = rstd,
    # stats[2] = mean(g * xhat), stats[3] = mean(g) (layer norm).
    rows, row_mask = _rows(tl.program_id(0), n_rows, ROWS, EVEN_M, INDEX_64)
    x_rows = rows * N
    shift = 0.0
    if not RMS:
        shift = masked_load(x_ptr + x_rows, row_mask, 0.0).to(tl.float32)
    mean = tl.zeros((ROWS, 1), dtype=tl.float32)  # of x - shift
    m2 = tl.zeros((ROWS, 1), dtype=tl.float32)  # sum of squares (about the mean for LN)
    for start in tl.range(0, N, BLOCK_N):
        cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        x = masked_load(x_ptr + x_rows + cols[None, :], mask, 0.0).to(tl.float32)
        if RMS:
            m2 += tl.sum(x * x, axis=1)[:, None]
        else:
            # Chan et al., as the forward: merge (start, mean, m2) with this chunk's.
            x = _masked(x - shift, col_mask)
            count = tl.minimum(N - start, BLOCK_N).to(tl.float32)
            chunk_mean = (tl.sum(x, axis=1) / count)[:, None]
            diff = _masked(x - chunk_mean, col_mask)
            delta = chunk_mean - mean
            total = start.to(tl.float32) + count
            mean += delta * (count / total)
            m2 += tl.sum(diff * diff, axis=1)[:, None] + delta * delta * (
                start.to(tl.float32) * count / total)
    if RMS:
        rstd = _rms_rstd(m2 / N, eps)
    else:
        rstd = tl.rsqrt(m2 / N + eps)
    gx = tl.zeros((ROWS, 1), dtype=tl.float32)  # sum of g * xhat
    gm = tl.zeros((ROWS, 1), dtype=tl.float32)  # sum of g
    for start in tl.range(0, N, BLOCK_N):
        cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        x = masked_load(x_ptr + x_rows + cols[None, :], mask, 0.0).to(tl.float32)
        dy = masked_load(dy_ptr + x_rows + cols[None, :], mask, 0.0).to(tl.float32)
        g = _times_weight(dy, w_ptr, _column_offsets(cols, n_inner, w_stride_outer,
                                                     w_stride_col), col_mask, rows * 0)
        if RMS:
            xhat = x * rstd
        else:
            xhat = ((x - shift) - mean) * rstd
        gx += tl.sum(g * xhat, axis=1)[:, None]  # g is 0 in the padding columns
        gm += tl.sum(g, axis=1)[:, None]
    if not RMS:
        masked_store(stats_ptr + rows, mean, row_mask)
        masked_store(stats_ptr + 3 * n_rows + rows, gm / N, row_mask)
    masked_store(stats_ptr + n_rows + rows, rstd, row_mask)
    masked_store(stats_ptr + 2 * n_rows + rows, gx / N, row_mask)


@tessera.jit
def norm_bwd_kernel(x_ptr, dy_ptr, dx_ptr, w_ptr, stats_ptr, dw_part_ptr, db_part_ptr,
                    n_rows, N, n_inner, w_stride_outer, w_stride_col, eps,
                    RMS: tl.constexpr, ROWS: tl.constexpr, BLOCK_N: tl.constexpr,
                    ONE_PASS: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
                    INDEX_64: tl.constexpr):
    # dx of the rows (dx_ptr None: not wanted), and this program's partial sums of dy * xhat
    # and dy (row program_id(1) of the (groups, N) buffers; None: not wanted). ONE_PASS: the
    # tile holds whole rows and computes their statistics; otherwise stats_ptr has them.
    group = tl.program_id(1)
    cols, col_mask = _columns(tl.program_id(0) * BLOCK_N, N, BLOCK_N, EVEN_N, INDEX_64)
    w_cols = _column_offsets(cols, n_inner, w_stride_outer, w_stride_col)
    dw = tl.zeros((ROWS, BLOCK_N), dtype=tl.float32)
    db = tl.zeros((ROWS, BLOCK_N), dtype=tl.float32)
    for block in tl.range(group, tl.cdiv(n_rows, ROWS), tl.num_programs(1)):
        rows, row_mask = _rows(block, n_rows, ROWS, EVEN_M, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        offsets = rows * N + cols[None, :]
        x = masked_load(x_ptr + offsets, mask, 0.0).to(tl.float32)
        dy = masked_load(dy_ptr + offsets, mask, 0.0).to(tl.float32)
        g = _times_weight(dy, w_ptr, w_cols, col_mask, rows * 0)
        shift = 0.0
        if not RMS:
            shift = masked_load(x_ptr + rows * N, row_mask, 0.0).to(tl.float32)
        if ONE_PASS:
            xhat, rstd = _normalized(x, shift, col_mask, N, eps, RMS)
            gx = (tl.sum(g * xhat, axis=1) / N)[:, None]
            gm = (tl.sum(g, axis=1) / N)[:, None]
        else:
            rstd = masked_load(stats_ptr + n_rows + rows, row_mask, 0.0)
            gx = masked_load(stats_ptr + 2 * n_rows + rows, row_mask, 0.0)
            if RMS:
                xhat = x * rstd
            else:
                mean = masked_load(stats_ptr + rows, row_mask, 0.0)
                gm = masked_load(stats_ptr + 3 * n_rows + rows, row_mask, 0.0)
                xhat = ((x - shift) - mean) * rstd
        if dx_ptr is not None:
            if RMS:
                dx = rstd * (g - xhat * gx)
            else:
                dx = rstd * (g - gm - xhat * gx)
            tl.store(dx_ptr + offsets, dx.to(dx_ptr.dtype.element_ty), mask=mask)
        if dw_part_ptr is not None:
            dw += _masked_rows(dy * xhat, row_mask)
        if db_part_ptr is not None:
            db += dy  # 0 in padding rows and columns
    partial = group * N + cols
    if dw_part_ptr is not None:
        masked_store(dw_part_ptr + partial, tl.sum(dw, axis=0), col_mask)
    if db_part_ptr is not None:
        masked_store(db_part_ptr + partial, tl.sum(db, axis=0), col_mask)


@tessera.jit
def sum_rows_kernel(src_ptr, out_ptr, A, P, N, src_stride_a, src_stride_p, src_stride_n,
                    out_stride_a, out_stride_n, scale,
                    BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr, EVEN_N: tl.constexpr,
                    INDEX_64: tl.constexpr, PACKED: tl.constexpr = False):
    # out[a, n] = scale * sum over p of src[a, p, n]: n in the column block program_id(0), a =
    # program_id(1); PACKED (few columns, many outputs), the block's columns j run over all A x N
    # outputs, a = j // N and n = j % N, on grid axis 0 alone. Summed in fp32, in the same order
    # whatever the device, rounded once.
    p = tl.arange(0, BLOCK_P)
    if INDEX_64:
        p = p.to(tl.int64)
    if PACKED:
        j, _ = _columns(tl.program_id(0) * BLOCK_N, N, BLOCK_N, True, INDEX_64)
        a = j // N
        cols = j % N
        col_mask = a < A
    else:
        a = tl.program_id(1)
        if INDEX_64:
            a = a.to(tl.int64)
        cols, col_mask = _columns(tl.program_id(0) * BLOCK_N, N, BLOCK_N, EVEN_N, INDEX_64)
    src = src_ptr + (a * src_stride_a + cols * src_stride_n)[None, :]
    acc = tl.zeros((BLOCK_P, BLOCK_N), dtype=tl.float32)
    for start in tl.range(0, P, BLOCK_P):
        rows = start + p
        mask = both(rows[:, None] < P, None if col_mask is None else col_mask[None, :])
        acc += masked_load(src + rows[:, None] * src_stride_p, mask, 0.0).to(tl.float32)
    total = tl.sum(acc, axis=0) * scale
    masked_store(out_ptr + a * out_stride_a + cols * out_stride_n,
                 total.to(out_ptr.dtype.element_ty), col_mask)


# ---- planning (pure Python) ----------------------------------------------------------------

# A one-pass tile holds at most this many elements: the backward keeps about twice the
# forward's live blocks (x, dy, g, xhat and the dw/db accumulators), so half the forward's
# MAX_ONE_PASS, at 16 elements per thread and block at 16 warps. Longer rows go through the
# statistics kernel, in chunks of STATS_BLOCK_N, and tiles of LONG_ROWS x LONG_BLOCK_N.
MAX_ONE_PASS = 8192
ROWS_TARGET = 2048  # short rows are packed so that a tile has about this many elements
ELEMENTS_PER_THREAD = 8  # of a tile: num_warps = tile / (32 * this), in [1, 16]
STATS_BLOCK_N = 4096
STATS_NUM_WARPS = 8
LONG_ROWS = 8
LONG_BLOCK_N = 512
# Programs per SM along the rows: each adds a row of N floats to the partial sums, so few;
# two, so that an SM has a second program's loads in flight.
PROGRAMS_PER_SM = 2
# sum_rows_kernel: tiles of SUM_TILE elements, at most SUM_MAX_BLOCK_N columns wide. A launch
# of fewer than SUM_PROGRAMS programs narrows its column blocks, down to SUM_MIN_BLOCK_N (128
# bytes of fp32 per row), and gives them more rows: the loop is latency-bound, so the more
# programs and warps in flight the better. On an H100 the norms' dw and db sums (264 rows of
# 4096 columns) went from 18 us (16 programs of 256 columns, 4 warps) to 3.3 us, and a bias
# gradient over 8192 rows from 444 us to 30 us (torch.sum: 35 us). Not a function of the
# device, so that the sums' order is the same on every GPU.
SUM_TILE = 2048
SUM_MAX_BLOCK_N = 256
SUM_MIN_BLOCK_N = 32
SUM_PROGRAMS = 512
# Warps: a full tile's 8 elements per thread take 8; smaller tiles (few rows or columns) 4, as
# a 16-element tile ran slower with 8 (27 us against 22 for 70000 sums of 4 rows x 3 columns).
SUM_WARPS = (4, 8)
# Outputs of at most this many summed elements, narrower than SUM_MIN_BLOCK_N, share tiles
# (packed): a tile each left most of it idle. On an H100, 70000 sums of 4 x 3 went from 22 us
# to 2.0 us (torch.sum: 3.3 us). Larger ones keep a program each, whose rows are contiguous
# when the columns are few (4096 sums of 4096 x 1: 23 us, torch.sum 28 us).
SUM_PACKED_ELEMENTS = 64


class BackwardPlan(NamedTuple):
    """A launch of ``norm_bwd_kernel``: tiles of ``rows x block_n``; ``grid`` (column blocks,
    groups), the groups being the programs along the rows (and the partial sums' rows)."""
    one_pass: bool
    rows: int
    block_n: int
    num_warps: int
    grid: tuple
    index_64: bool


def _reach(size: int, block: int) -> int:
    """The indices a blocked walk over ``size`` elements computes offsets for."""
    return -(-size // block) * block


@functools.lru_cache(maxsize=1024)
def plan_backward(n_rows: int, n_cols: int, sm_count: int) -> BackwardPlan:
    """The ``norm_bwd_kernel`` launch for ``n_rows`` contiguous rows of ``n_cols`` elements on
    a device of ``sm_count`` SMs (when not one pass, ``norm_bwd_stats_kernel`` runs first, a
    program per row, in chunks of STATS_BLOCK_N).

    >>> plan_backward(8192, 4096, 132)
    BackwardPlan(one_pass=True, rows=1, block_n=4096, num_warps=16, grid=(1, 264), index_64=False)
    >>> plan_backward(100, 64, 4)
    BackwardPlan(one_pass=True, rows=32, block_n=64, num_warps=8, grid=(1, 4), index_64=False)
    >>> plan_backward(64, 20000, 132)
    BackwardPlan(one_pass=False, rows=8, block_n=512, num_warps=16, grid=(40, 6), index_64=False)
    """
    full = tessera.next_power_of_2(max(n_cols, 1))
    rows_cap = tessera.next_power_of_2(max(n_rows, 1))
    if full <= MAX_ONE_PASS:
        one_pass, block_n, rows = True, full, min(max(ROWS_TARGET // full, 1), rows_cap)
    else:
        one_pass, block_n, rows = False, LONG_BLOCK_N, LONG_ROWS
    num_warps = min(max(rows * block_n // (32 * ELEMENTS_PER_THREAD), 1), 16)
    col_blocks = -(-n_cols // block_n)
    row_blocks = -(-n_rows // rows)
    # Enough programs in all for PROGRAMS_PER_SM per SM, none without a row block.
    groups = min(row_blocks, max(PROGRAMS_PER_SM * sm_count // col_blocks, 1))
    # Offsets: of x, dy, dx (padding rows and columns included), of the partial sums and of the
    # statistics (4 * n_rows).
    padded_cols = _reach(n_cols, block_n)
    extent = max(_reach(n_rows, rows) * padded_cols, groups * padded_cols,
                 4 * _reach(n_rows, rows))
    return BackwardPlan(one_pass, rows, block_n, num_warps, (col_blocks, groups),
                        extent >= 2 ** 31)


class SumBlock(NamedTuple):
    """A ``sum_rows_kernel`` tile: ``block_p`` summed rows by ``block_n`` columns (``packed``:
    columns of several outputs)."""
    block_p: int
    block_n: int
    num_warps: int
    packed: bool = False


def choose_sum_block(n_out: int, n_sum: int, n_cols: int) -> SumBlock:
    """The tile of ``sum_rows_kernel`` summing ``n_out`` times ``n_sum`` rows of ``n_cols``
    columns.

    >>> choose_sum_block(1, 264, 4096)
    SumBlock(block_p=64, block_n=32, num_warps=8, packed=False)
    >>> choose_sum_block(64, 264, 4096)
    SumBlock(block_p=8, block_n=256, num_warps=8, packed=False)
    >>> choose_sum_block(1, 5000, 1)
    SumBlock(block_p=2048, block_n=1, num_warps=8, packed=False)
    >>> choose_sum_block(70000, 4, 3)
    SumBlock(block_p=4, block_n=256, num_warps=4, packed=True)
    """
    packed = n_out > 1 and n_cols < SUM_MIN_BLOCK_N and n_sum * n_cols <= SUM_PACKED_ELEMENTS
    n_columns = n_out * n_cols if packed else n_cols
    block_n = min(tessera.next_power_of_2(max(n_columns, 1)), SUM_MAX_BLOCK_N)
    programs = 1 if packed else n_out
    while block_n > SUM_MIN_BLOCK_N and programs * -(-n_columns // block_n) < SUM_PROGRAMS:
        block_n //= 2
    block_p = min(SUM_TILE // block_n, tessera.next_power_of_2(max(n_sum, 1)))
    num_warps = SUM_WARPS[1] if block_p * block_n == SUM_TILE else SUM_WARPS[0]
    return SumBlock(block_p, block_n, num_warps, packed)


def sum_needs_int64(n_out: int, n_sum: int, n_cols: int, block: SumBlock,
                    src_strides: tuple, out_strides: tuple) -> bool:
    """Whether an offset of a ``sum_rows_kernel`` launch (padding included) reaches 2**31:
    ``src_strides`` (a, p, n) of the summed tensor, ``out_strides`` (a, n) of the output.

    >>> sum_needs_int64(1, 2 ** 20, 4096, SumBlock(8, 256, 4), (0, 4096, 1), (0, 1))
    True
    """
    p = _reach(n_sum, block.block_p)
    if block.packed:  # column indices j over all outputs; padding ones give a = j // N past A
        columns = _reach(n_out * n_cols, block.block_n)
        n_out, n = -(-columns // n_cols), n_cols
    else:
        columns = n = _reach(n_cols, block.block_n)
    src = (n_out - 1) * abs(src_strides[0]) + (p - 1) * abs(src_strides[1]) + \
        (n - 1) * abs(src_strides[2])
    out = (n_out - 1) * abs(out_strides[0]) + (n - 1) * abs(out_strides[1])
    return max(src, out, p, columns) >= 2 ** 31
