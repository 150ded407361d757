"""The kernels of ``tessera.ops``' softmax (and its backward), layer_norm and rms_norm, and
their planning.

Each op reduces "rows": softmax the elements along one dimension, the norms the trailing
``normalized_shape`` dimensions. A program owns ``ROWS`` rows and works on a 2-D block
``[ROWS, BLOCK_N]`` of them, in fp32 whatever the storage dtype:

- one pass (``ONE_PASS``, ``BLOCK_N >= N``): the rows live in registers; one load, the
  reductions (max and sum of exponentials; mean and variance; mean of squares), one store;
- multi-pass: a first loop over the row in ``BLOCK_N`` chunks gathers the statistics (online
  softmax: a running maximum and a rescaled sum; layer norm: per-chunk mean and sum of squared
  deviations, merged with Chan's formula, which does not cancel like ``E[x^2] - E[x]^2``; rms
  norm: a sum of squares) and a second loop normalises and stores.

Short rows are packed several to a program so that a program still moves kilobytes; long rows
take one program each. Addressing is by strides, so that views need no copies: a row is
``N`` elements ``stride_col`` apart (for the norms, possibly a 2-level index
``(c // n_inner, c % n_inner)`` when the normalised dims do not merge into one), and row ``r``
starts at ``i0 * stride0 + i1 * stride1 + i2 * stride2`` with ``r = (i0 * M1 + i1) * M2 + i2``
(the caller passes unit sizes and strides for unused dims, which the JIT folds away, as it
does a ``stride_col`` of 1). ``EVEN_M`` / ``EVEN_N`` drop the row / column masks where the
block divides the problem; ``INDEX_64`` computes offsets in 64 bits where some offset reaches
2**31.

The rest of the module is pure Python (no PyTorch): merging dims, the config choice, the
int64 test and the split of the rows into launches, which ``tessera.ops.normalization`` applies.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

import tessera
import tessera.language as tl

from .masks import both, masked_load

__all__ = ["Block", "Launch", "MAX_KERNEL_DIMS", "MAX_ONE_PASS_WARPS", "MAX_PROGRAMS",
           "choose_block", "merge_dims", "needs_int64", "norm_kernel", "softmax_bwd_kernel",
           "softmax_kernel", "split_rows"]

# exp(x) == exp2(x * LOG2E), and exp2 is one instruction (ex2.approx). The scaling follows the
# max subtraction so that no finite x overflows.
LOG2E = 1.4426950408889634


@tessera.jit
def _row_offsets(pid, n_rows, M1, M2, stride0, stride1, stride2, ROW_DIMS: tl.constexpr,
                 ROWS: tl.constexpr, EVEN_M: tl.constexpr, INDEX_64: tl.constexpr):
    """(offset of each row of program ``pid``, a [ROWS, 1] mask or None). Only the ROW_DIMS
    dims in use are indexed: the compiler's alignment analysis does not see through a
    division by a unit size."""
    if INDEX_64:
        rows = pid.to(tl.int64) * ROWS + tl.arange(0, ROWS).to(tl.int64)
    else:
        rows = pid * ROWS + tl.arange(0, ROWS)
    if ROW_DIMS == 1:
        offsets = rows * stride0
    elif ROW_DIMS == 2:
        offsets = (rows // M1) * stride0 + (rows % M1) * stride1
    else:
        offsets = (rows // (M1 * M2)) * stride0 + ((rows // M2) % M1) * stride1 + \
            (rows % M2) * stride2
    mask = None if EVEN_M else rows[:, None] < n_rows
    return offsets[:, None], mask


@tessera.jit
def _column_offsets(cols, n_inner, stride_outer, stride_inner):
    """Offsets of columns ``cols``: ``cols * stride_inner``, or, with a 2-level index (an
    ``n_inner`` that is not None), ``(cols // n_inner, cols % n_inner)`` by the two strides."""
    if n_inner is None:
        return cols * stride_inner
    return (cols // n_inner) * stride_outer + (cols % n_inner) * stride_inner


@tessera.jit
def _columns(start, N, BLOCK_N: tl.constexpr, EVEN_N: tl.constexpr, INDEX_64: tl.constexpr):
    """(column indices ``start + [0, BLOCK_N)``, a [BLOCK_N] mask or None)."""
    cols = start + tl.arange(0, BLOCK_N)
    if INDEX_64:
        cols = cols.to(tl.int64)
    mask = None if EVEN_N else cols < N
    return cols, mask


@tessera.jit
def softmax_kernel(x_ptr, y_ptr, n_rows, N, M1, M2,
                   x_stride0, x_stride1, x_stride2, x_stride_col,
                   y_stride0, y_stride1, y_stride2, y_stride_col,
                   ROW_DIMS: tl.constexpr, ROWS: tl.constexpr, BLOCK_N: tl.constexpr,
                   ONE_PASS: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
                   INDEX_64: tl.constexpr):
    # Inputs are rounded to the output dtype first: softmax(x, dtype=d) is softmax(x.to(d)).
    out_ty = y_ptr.dtype.element_ty
    pid = tl.program_id(0)
    x_rows, row_mask = _row_offsets(pid, n_rows, M1, M2, x_stride0, x_stride1, x_stride2,
                                    ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    y_rows, _ = _row_offsets(pid, n_rows, M1, M2, y_stride0, y_stride1, y_stride2,
                             ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    if ONE_PASS:
        cols, col_mask = _columns(0, N, BLOCK_N, EVEN_N, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        x = masked_load(x_ptr + x_rows + cols[None, :] * x_stride_col, mask, -float("inf"))
        x = x.to(out_ty).to(tl.float32)
        row_max = tl.max(x, axis=1)
        e = tl.exp2((x - row_max[:, None]) * LOG2E)
        y = e * (1.0 / tl.sum(e, axis=1))[:, None]
        tl.store(y_ptr + y_rows + cols[None, :] * y_stride_col, y.to(out_ty), mask=mask)
    else:
        # Online softmax: the running maximum m and the sum s of exp(x - m), rescaled
        # whenever m grows. A row that is -inf so far keeps m = -inf
        # and s = 0 (m_safe avoids -inf - -inf = NaN); a row of only -inf ends as NaN, as in
        # PyTorch, through the second loop's exp2(-inf - -inf).
        m = tl.full((ROWS,), -float("inf"), tl.float32)
        s = tl.zeros((ROWS,), dtype=tl.float32)
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            x = masked_load(x_ptr + x_rows + cols[None, :] * x_stride_col, mask, -float("inf"))
            x = x.to(out_ty).to(tl.float32)
            m_new = tl.maximum(m, tl.max(x, axis=1))
            m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
            s = s * tl.exp2((m - m_safe) * LOG2E) + \
                tl.sum(tl.exp2((x - m_safe[:, None]) * LOG2E), axis=1)
            m = m_new
        inv = (1.0 / s)[:, None]
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            x = masked_load(x_ptr + x_rows + cols[None, :] * x_stride_col, mask, -float("inf"))
            x = x.to(out_ty).to(tl.float32)
            y = tl.exp2((x - m[:, None]) * LOG2E) * inv
            tl.store(y_ptr + y_rows + cols[None, :] * y_stride_col, y.to(out_ty), mask=mask)


@tessera.jit
def softmax_bwd_kernel(y_ptr, dy_ptr, dx_ptr, n_rows, N, M1, M2,
                       y_stride0, y_stride1, y_stride2, y_stride_col,
                       dy_stride0, dy_stride1, dy_stride2, dy_stride_col,
                       dx_stride0, dx_stride1, dx_stride2, dx_stride_col,
                       ROW_DIMS: tl.constexpr, ROWS: tl.constexpr, BLOCK_N: tl.constexpr,
                       ONE_PASS: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
                       INDEX_64: tl.constexpr):
    """Softmax's backward from its output: ``dx = y * (dy - sum(dy * y))`` along each row, in
    fp32, rounded into dx's dtype. Rows as in softmax_kernel (masked elements load as 0, which
    adds nothing to the sum); multi-pass: a first loop sums ``dy * y``, a second writes."""
    pid = tl.program_id(0)
    y_rows, row_mask = _row_offsets(pid, n_rows, M1, M2, y_stride0, y_stride1, y_stride2,
                                    ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    dy_rows, _ = _row_offsets(pid, n_rows, M1, M2, dy_stride0, dy_stride1, dy_stride2,
                              ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    dx_rows, _ = _row_offsets(pid, n_rows, M1, M2, dx_stride0, dx_stride1, dx_stride2,
                              ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    if ONE_PASS:
        cols, col_mask = _columns(0, N, BLOCK_N, EVEN_N, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        y = masked_load(y_ptr + y_rows + cols[None, :] * y_stride_col, mask).to(tl.float32)
        dy = masked_load(dy_ptr + dy_rows + cols[None, :] * dy_stride_col, mask).to(tl.float32)
        dot = tl.sum(y * dy, axis=1)
        dx = y * (dy - dot[:, None])
        tl.store(dx_ptr + dx_rows + cols[None, :] * dx_stride_col,
                 dx.to(dx_ptr.dtype.element_ty), mask=mask)
    else:
        dot = tl.zeros((ROWS,), dtype=tl.float32)
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            y = masked_load(y_ptr + y_rows + cols[None, :] * y_stride_col, mask)
            dy = masked_load(dy_ptr + dy_rows + cols[None, :] * dy_stride_col, mask)
            dot += tl.sum(y.to(tl.float32) * dy.to(tl.float32), axis=1)
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            y = masked_load(y_ptr + y_rows + cols[None, :] * y_stride_col, mask)
            dy = masked_load(dy_ptr + dy_rows + cols[None, :] * dy_stride_col, mask)
            dx = y.to(tl.float32) * (dy.to(tl.float32) - dot[:, None])
            tl.store(dx_ptr + dx_rows + cols[None, :] * dx_stride_col,
                     dx.to(dx_ptr.dtype.element_ty), mask=mask)


@tessera.jit
def _masked(x, col_mask):
    """``x`` with the columns outside ``col_mask`` (None: none) set to 0."""
    if col_mask is None:
        return x
    return tl.where(col_mask[None, :], x, 0.0)


@tessera.jit
def _affine(y, w_ptr, b_ptr, cols, col_mask, n_inner, w_stride_outer, w_stride_col,
            b_stride_outer, b_stride_col, rows_zero):
    """``y * w + b`` with the weight and bias (either may be None) of columns ``cols``.

    The weights are addressed for every row of the tile (``rows_zero``: a [ROWS, 1] block of
    zeros), so that each thread loads the entries its own elements need (repeats hit L1) in the
    tile's layout: loading one row and broadcasting it would move the whole tile through
    shared memory."""
    mask = None if col_mask is None else col_mask[None, :]
    if w_ptr is not None:
        w_ptrs = w_ptr + _column_offsets(cols, n_inner, w_stride_outer, w_stride_col)[None, :]
        y = y * masked_load(w_ptrs + rows_zero, mask, 0.0).to(tl.float32)
    if b_ptr is not None:
        b_ptrs = b_ptr + _column_offsets(cols, n_inner, b_stride_outer, b_stride_col)[None, :]
        y = y + masked_load(b_ptrs + rows_zero, mask, 0.0).to(tl.float32)
    return y


@tessera.jit
def _rms_rstd(mean_square, eps):
    """``rsqrt(mean_square + eps)``, NaN where the mean square is +inf (a row holding +-inf,
    or squares past fp32's range): the whole row is then NaN, as PyTorch's rms_norm gives it
    (its mean of squares is a Welford mean, in which inf - inf is NaN), rather than 0 for
    the finite elements and NaN for the infinite ones."""
    return tl.where(mean_square == float("inf"), float("nan"), tl.rsqrt(mean_square + eps))


@tessera.jit
def norm_kernel(x_ptr, y_ptr, w_ptr, b_ptr, n_rows, N, M1, M2,
                x_stride0, x_stride1, x_stride2, y_stride0, y_stride1, y_stride2,
                n_inner, x_stride_outer, x_stride_col, w_stride_outer, w_stride_col,
                b_stride_outer, b_stride_col, eps,
                RMS: tl.constexpr, ROW_DIMS: tl.constexpr, ROWS: tl.constexpr,
                BLOCK_N: tl.constexpr, ONE_PASS: tl.constexpr, EVEN_M: tl.constexpr,
                EVEN_N: tl.constexpr, INDEX_64: tl.constexpr):
    # Layer norm (RMS false): (x - mean) * rsqrt(var + eps) * w + b, biased variance.
    # RMS norm: x * rsqrt(mean(x^2) + eps) * w. The output's rows are contiguous.
    # Layer norm works on x - shift, the row's first element: sums of values that small do not
    # lose the mean's digits when the mean is large against the deviations, and x - shift is
    # exact where x and shift are within a factor of 2.
    out_ty = y_ptr.dtype.element_ty
    pid = tl.program_id(0)
    x_rows, row_mask = _row_offsets(pid, n_rows, M1, M2, x_stride0, x_stride1, x_stride2,
                                    ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    y_rows, _ = _row_offsets(pid, n_rows, M1, M2, y_stride0, y_stride1, y_stride2,
                             ROW_DIMS, ROWS, EVEN_M, INDEX_64)
    shift = 0.0
    if not RMS:
        shift = masked_load(x_ptr + x_rows, row_mask, 0.0).to(tl.float32)
    if ONE_PASS:
        cols, col_mask = _columns(0, N, BLOCK_N, EVEN_N, INDEX_64)
        mask = both(row_mask, None if col_mask is None else col_mask[None, :])
        x_cols = _column_offsets(cols, n_inner, x_stride_outer, x_stride_col)
        x = masked_load(x_ptr + x_rows + x_cols[None, :], mask, 0.0).to(tl.float32)
        if RMS:
            rstd = _rms_rstd(tl.sum(x * x, axis=1) / N, eps)
            y = x * rstd[:, None]
        else:
            diff = _masked(x - shift, col_mask)
            diff = _masked(diff - (tl.sum(diff, axis=1) / N)[:, None], col_mask)
            rstd = tl.rsqrt(tl.sum(diff * diff, axis=1) / N + eps)
            y = diff * rstd[:, None]
        y = _affine(y, w_ptr, b_ptr, cols, col_mask, n_inner, w_stride_outer, w_stride_col,
                    b_stride_outer, b_stride_col, x_rows * 0)
        tl.store(y_ptr + y_rows + cols[None, :], y.to(out_ty), mask=mask)
    else:
        mean = tl.zeros((ROWS,), dtype=tl.float32)  # of x - shift
        m2 = tl.zeros((ROWS,), dtype=tl.float32)  # sum of squares (about the mean for LN)
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            x_cols = _column_offsets(cols, n_inner, x_stride_outer, x_stride_col)
            x = masked_load(x_ptr + x_rows + x_cols[None, :], mask, 0.0).to(tl.float32)
            if RMS:
                m2 += tl.sum(x * x, axis=1)
            else:
                # Chan et al.: merge (start, mean, m2) with this chunk's (count, mean, m2).
                x = _masked(x - shift, col_mask)
                count = tl.minimum(N - start, BLOCK_N).to(tl.float32)
                chunk_mean = tl.sum(x, axis=1) / count
                diff = _masked(x - chunk_mean[:, None], col_mask)
                delta = chunk_mean - mean
                total = start.to(tl.float32) + count
                mean += delta * (count / total)
                m2 += tl.sum(diff * diff, axis=1) + delta * delta * (
                    start.to(tl.float32) * count / total)
        if RMS:
            rstd = _rms_rstd(m2 / N, eps)[:, None]
        else:
            rstd = tl.rsqrt(m2 / N + eps)[:, None]
        for start in tl.range(0, N, BLOCK_N):
            cols, col_mask = _columns(start, N, BLOCK_N, EVEN_N, INDEX_64)
            mask = both(row_mask, None if col_mask is None else col_mask[None, :])
            x_cols = _column_offsets(cols, n_inner, x_stride_outer, x_stride_col)
            x = masked_load(x_ptr + x_rows + x_cols[None, :], mask, 0.0).to(tl.float32)
            if RMS:
                y = x * rstd
            else:
                y = ((x - shift) - mean[:, None]) * rstd
            y = _affine(y, w_ptr, b_ptr, cols, col_mask, n_inner, w_stride_outer,
                        w_stride_col, b_stride_outer, b_stride_col, x_rows * 0)
            tl.store(y_ptr + y_rows + cols[None, :], y.to(out_ty), mask=mask)


# ---- planning (pure Python) ----------------------------------------------------------------

MAX_KERNEL_DIMS = 3  # row dims the kernels index (M0, M1, M2); more are looped over in Python
MAX_PROGRAMS = 2 ** 31 - 1  # CUDA's grid x limit
# A one-pass block holds at most this many elements: 32 per thread at 16 warps (layer norm
# takes about 106 registers there, and spills at 32768); longer rows take the multi-pass path
# with blocks of MULTI_PASS_BLOCK elements, whose second read mostly hits L2.
MAX_ONE_PASS = 16384
MULTI_PASS_BLOCK = 8192
# Short rows are packed so that a program's block has about this many elements.
ROWS_TARGET = 4096
# Rows one element apart in memory (a reduction over a non-innermost dim): at least this many
# per program, so that a block's columns are read as whole cache lines.
STRIDED_ROWS = 64
ELEMENTS_PER_THREAD = 16  # of a block: num_warps = block / (32 * this), in [1, 16]
# The most warps of a one-pass block, by op: softmax's and rms_norm's rows of 16384 bf16 ran
# faster at 8 warps than at 16 on an H200, layer_norm's at 16 (bench_ops_normalization.py).
MAX_ONE_PASS_WARPS = {"softmax": 8, "layer_norm": 16, "rms_norm": 8}


def merge_dims(sizes: Sequence[int], strides: Sequence[Sequence[int]]
               ) -> List[Tuple[int, Tuple[int, ...]]]:
    """``sizes`` (outer to inner) and each tensor's ``strides`` of them, as groups ``(size,
    strides)``, outer to inner: unit dims dropped, and a dim merged into the next inner group
    when every tensor's stride allows (``stride == inner size * inner stride``).

    >>> merge_dims([4, 1, 3, 5], [[15, 7, 5, 1], [1, 0, 20, 4]])
    [(4, (15, 1)), (15, (1, 4))]
    """
    groups: List[Tuple[int, Tuple[int, ...]]] = []
    for dim in reversed(range(len(sizes))):
        size = sizes[dim]
        if size == 1:
            continue
        dim_strides = tuple(s[dim] for s in strides)
        if groups and all(s == groups[0][0] * inner
                          for s, inner in zip(dim_strides, groups[0][1])):
            groups[0] = (size * groups[0][0], groups[0][1])
        else:
            groups.insert(0, (size, dim_strides))
    return groups


class Block(NamedTuple):
    """A launch configuration: ``ROWS`` rows per program, ``BLOCK_N`` columns per block."""
    one_pass: bool
    rows: int
    block_n: int
    num_warps: int


def choose_block(op: str, n_cols: int, n_rows: int, strided_rows: bool,
                 num_warps: Optional[int] = None) -> Block:
    """The block of ``op`` ("softmax", "layer_norm", "rms_norm") for rows of ``n_cols``
    elements, ``n_rows`` of them; ``strided_rows``: the rows' first elements are adjacent in
    memory and their columns are not (so more rows per program make the loads coalesce).
    ``num_warps`` overrides the heuristic's warps.

    >>> choose_block("softmax", 4096, 4096, False)
    Block(one_pass=True, rows=1, block_n=4096, num_warps=8)
    >>> choose_block("softmax", 16384, 4096, False)
    Block(one_pass=True, rows=1, block_n=16384, num_warps=8)
    >>> choose_block("layer_norm", 70000, 8, False)
    Block(one_pass=False, rows=1, block_n=8192, num_warps=16)
    """
    rows_cap = tessera.next_power_of_2(max(n_rows, 1))
    min_rows = min(STRIDED_ROWS, rows_cap) if strided_rows else 1
    full = tessera.next_power_of_2(max(n_cols, 1))
    if min_rows * full <= MAX_ONE_PASS:
        one_pass, block_n = True, full
        rows = min(max(ROWS_TARGET // full, min_rows), rows_cap)
    else:
        one_pass, rows = False, min_rows
        block_n = max(MULTI_PASS_BLOCK // rows, 1)
    if num_warps is None:
        most = MAX_ONE_PASS_WARPS[op] if one_pass else 16
        num_warps = min(max(rows * block_n // (32 * ELEMENTS_PER_THREAD), 1), most)
    return Block(one_pass, rows, block_n, num_warps)


def needs_int64(kernel_dims: Sequence[Tuple[int, Sequence[int]]],
                columns: Sequence[Tuple[int, Sequence[int]]], rows_per_program: int,
                block_n: int) -> bool:
    """Whether an index or element offset that a launch computes can reach 2**31.

    ``kernel_dims``: the row groups ``(size, strides)`` that the kernel indexes (strides of
    x and y); ``columns``: the column groups (one, or two for a 2-level index), with the
    strides of x, y and possibly weight and bias. The last program's padding rows and the last
    block's padding columns count.

    >>> needs_int64([(4096, (4096, 4096))], [(4096, (1, 1))], 1, 4096)
    False
    >>> needs_int64([(4096, (1, 1))], [(2 ** 20, (4096, 4096))], 64, 128)
    True
    """
    n_cols = n_rows = 1
    for size, _ in columns:
        n_cols *= size
    for size, _ in kernel_dims:
        n_rows *= size
    reach = -(-n_cols // block_n) * block_n  # columns indexed, padding included
    if reach >= 2 ** 31 or n_rows + rows_per_program >= 2 ** 31:
        return True
    for t in range(len(columns[0][1])):
        if len(columns) == 1:
            extent = (reach - 1) * abs(columns[0][1][t])
        else:
            (_, outer), (n_inner, inner) = columns
            extent = (reach - 1) // n_inner * abs(outer[t]) + (n_inner - 1) * abs(inner[t])
        for i, (size, strides) in enumerate(kernel_dims):
            if t < len(strides):
                padding = rows_per_program - 1 if i == 0 else 0
                extent += (size - 1 + padding) * abs(strides[t])
        if extent >= 2 ** 31:
            return True
    return False


class Launch(NamedTuple):
    """One launch over some of the rows: each tensor's element offset of its first row and
    the (at most MAX_KERNEL_DIMS) row groups ``(size, strides)`` that the kernel indexes."""
    offsets: Tuple[int, ...]
    dims: Tuple[Tuple[int, Tuple[int, ...]], ...]


def split_rows(groups: Sequence[Tuple[int, Sequence[int]]], rows_per_program: int,
               max_programs: int = MAX_PROGRAMS, tensors: int = 2) -> List[Launch]:
    """The launches that cover the row groups ``groups`` (outer to inner, from
    ``merge_dims``): the innermost MAX_KERNEL_DIMS groups are the kernel's, the outer ones are
    iterated here, and the kernel's outermost group is cut where a launch would need more
    than ``max_programs`` programs (inner groups that alone need more move outside).
    ``tensors``: how many tensors' offsets a launch carries when ``groups`` is empty (one row:
    a 1-D input, a 0-d softmax); otherwise each group's strides say.

    >>> split_rows([(2, (100,)), (3, (10,)), (4, (5,)), (5, (1,))], 1)[1]
    Launch(offsets=(100,), dims=((3, (10,)), (4, (5,)), (5, (1,))))
    """
    if not groups:
        return [Launch((0,) * tensors, ())]
    tensors = len(groups[0][1])
    kernel = list(groups[-MAX_KERNEL_DIMS:])
    outer = list(groups[:-MAX_KERNEL_DIMS])
    max_rows = max_programs * rows_per_program
    while True:
        inner_rows = 1
        for size, _ in kernel[1:]:
            inner_rows *= size
        if inner_rows <= max_rows or len(kernel) == 1:
            break
        outer.append(kernel.pop(0))
    chunk = max(max_rows // inner_rows, 1)
    head_size, head_strides = kernel[0]
    launches = []
    offsets: List[Tuple[int, ...]] = [(0,) * tensors]
    for size, strides in outer:
        offsets = [tuple(o + i * s for o, s in zip(base, strides))
                   for base in offsets for i in range(size)]
    for base in offsets:
        for start in range(0, head_size, chunk):
            count = min(chunk, head_size - start)
            launches.append(Launch(tuple(o + start * s for o, s in zip(base, head_strides)),
                                   ((count, tuple(head_strides)),) + tuple(kernel[1:])))
    return launches
