"""The softmax, layer_norm and rms_norm kernels of tessera.ops (python/tessera/ops/kernels/
normalization.py) written for Triton, for row-major 2-D inputs: the same algorithms (one pass
from registers, or two passes over memory with an online softmax / Chan-merged layer norm
statistics about the row's first element), the same blocks, masks and num_warps (taken from
tessera's planner, passed in as ``block``), so that the benchmark compares code generation,
not algorithms. ``available`` is False where Triton is missing."""
try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton is only on GPU hosts
    triton = None

available = triton is not None

if available:
    # A Triton kernel reads only globals that are constexpr instances.
    LOG2E = tl.constexpr(1.4426950408889634)

    @triton.jit
    def _softmax_kernel(x_ptr, y_ptr, n_rows, N, stride_x, stride_y,
                        ROWS: tl.constexpr, BLOCK_N: tl.constexpr, ONE_PASS: tl.constexpr,
                        EVEN: tl.constexpr):
        rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        x_rows = (rows * stride_x)[:, None]
        y_rows = (rows * stride_y)[:, None]
        row_ok = rows[:, None] < n_rows
        out_ty = y_ptr.dtype.element_ty
        if ONE_PASS:
            cols = tl.arange(0, BLOCK_N)[None, :]
            mask = row_ok & (cols < N)
            if EVEN:
                x = tl.load(x_ptr + x_rows + cols)
            else:
                x = tl.load(x_ptr + x_rows + cols, mask=mask, other=-float("inf"))
            x = x.to(out_ty).to(tl.float32)
            row_max = tl.max(x, axis=1)
            e = tl.exp2((x - row_max[:, None]) * LOG2E)
            y = e * (1.0 / tl.sum(e, axis=1))[:, None]
            if EVEN:
                tl.store(y_ptr + y_rows + cols, y.to(out_ty))
            else:
                tl.store(y_ptr + y_rows + cols, y.to(out_ty), mask=mask)
        else:
            m = tl.full((ROWS,), -float("inf"), tl.float32)
            s = tl.zeros((ROWS,), dtype=tl.float32)
            for start in tl.range(0, N, BLOCK_N):
                cols = start + tl.arange(0, BLOCK_N)[None, :]
                mask = row_ok & (cols < N)
                x = tl.load(x_ptr + x_rows + cols, mask=mask, other=-float("inf"))
                x = x.to(out_ty).to(tl.float32)
                m_new = tl.maximum(m, tl.max(x, axis=1))
                m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
                s = s * tl.exp2((m - m_safe) * LOG2E) + \
                    tl.sum(tl.exp2((x - m_safe[:, None]) * LOG2E), axis=1)
                m = m_new
            inv = (1.0 / s)[:, None]
            for start in tl.range(0, N, BLOCK_N):
                cols = start + tl.arange(0, BLOCK_N)[None, :]
                mask = row_ok & (cols < N)
                x = tl.load(x_ptr + x_rows + cols, mask=mask, other=-float("inf"))
                x = x.to(out_ty).to(tl.float32)
                y = tl.exp2((x - m[:, None]) * LOG2E) * inv
                tl.store(y_ptr + y_rows + cols, y.to(out_ty), mask=mask)

    @triton.jit
    def _norm_kernel(x_ptr, y_ptr, w_ptr, b_ptr, n_rows, N, stride_x, stride_y, eps,
                     RMS: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                     ROWS: tl.constexpr, BLOCK_N: tl.constexpr, ONE_PASS: tl.constexpr,
                     EVEN: tl.constexpr):
        rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        x_rows = (rows * stride_x)[:, None]
        y_rows = (rows * stride_y)[:, None]
        row_ok = rows[:, None] < n_rows
        out_ty = y_ptr.dtype.element_ty
        shift = 0.0
        if not RMS:
            shift = tl.load(x_ptr + x_rows, mask=row_ok, other=0.0).to(tl.float32)
        if ONE_PASS:
            cols = tl.arange(0, BLOCK_N)
            mask = row_ok & (cols[None, :] < N)
            if EVEN:
                x = tl.load(x_ptr + x_rows + cols[None, :]).to(tl.float32)
            else:
                x = tl.load(x_ptr + x_rows + cols[None, :], mask=mask, other=0.0).to(tl.float32)
            if RMS:
                ms = tl.sum(x * x, axis=1) / N  # an inf mean square: a NaN row, as tessera's
                rstd = tl.where(ms == float("inf"), float("nan"), tl.rsqrt(ms + eps))
                y = x * rstd[:, None]
            else:
                diff = x - shift
                if not EVEN:
                    diff = tl.where(mask, diff, 0.0)
                diff = diff - (tl.sum(diff, axis=1) / N)[:, None]
                if not EVEN:
                    diff = tl.where(mask, diff, 0.0)
                y = diff * tl.rsqrt(tl.sum(diff * diff, axis=1) / N + eps)[:, None]
            if HAS_W:
                y = y * tl.load(w_ptr + cols, mask=cols < N, other=0.0).to(tl.float32)[None, :]
            if HAS_B:
                y = y + tl.load(b_ptr + cols, mask=cols < N, other=0.0).to(tl.float32)[None, :]
            if EVEN:
                tl.store(y_ptr + y_rows + cols[None, :], y.to(out_ty))
            else:
                tl.store(y_ptr + y_rows + cols[None, :], y.to(out_ty), mask=mask)
        else:
            mean = tl.zeros((ROWS,), dtype=tl.float32)
            m2 = tl.zeros((ROWS,), dtype=tl.float32)
            for start in tl.range(0, N, BLOCK_N):
                cols = start + tl.arange(0, BLOCK_N)
                mask = row_ok & (cols[None, :] < N)
                x = tl.load(x_ptr + x_rows + cols[None, :], mask=mask, other=0.0).to(tl.float32)
                if RMS:
                    m2 += tl.sum(x * x, axis=1)
                else:
                    x = tl.where(mask, x - shift, 0.0)
                    count = tl.minimum(N - start, BLOCK_N).to(tl.float32)
                    chunk_mean = tl.sum(x, axis=1) / count
                    diff = tl.where(mask, x - chunk_mean[:, None], 0.0)
                    delta = chunk_mean - mean
                    total = start.to(tl.float32) + count
                    mean += delta * (count / total)
                    m2 += tl.sum(diff * diff, axis=1) + delta * delta * (
                        start.to(tl.float32) * count / total)
            if RMS:
                rstd = tl.where(m2 == float("inf"), float("nan"), tl.rsqrt(m2 / N + eps))
                rstd = rstd[:, None]
            else:
                rstd = tl.rsqrt(m2 / N + eps)[:, None]
            for start in tl.range(0, N, BLOCK_N):
                cols = start + tl.arange(0, BLOCK_N)
                mask = row_ok & (cols[None, :] < N)
                x = tl.load(x_ptr + x_rows + cols[None, :], mask=mask, other=0.0).to(tl.float32)
                if RMS:
                    y = x * rstd
                else:
                    y = ((x - shift) - mean[:, None]) * rstd
                if HAS_W:
                    y = y * tl.load(w_ptr + cols, mask=cols < N, other=0.0).to(
                        tl.float32)[None, :]
                if HAS_B:
                    y = y + tl.load(b_ptr + cols, mask=cols < N, other=0.0).to(
                        tl.float32)[None, :]
                tl.store(y_ptr + y_rows + cols[None, :], y.to(out_ty), mask=mask)


def _even(x, block):
    n_rows, n_cols = x.shape
    return n_rows % block.rows == 0 and n_cols % block.block_n == 0


def softmax(x, out, block):
    """Softmax over the last dim of a 2-D tensor with contiguous rows, into ``out``."""
    n_rows, n_cols = x.shape
    _softmax_kernel[(triton.cdiv(n_rows, block.rows),)](
        x, out, n_rows, n_cols, x.stride(0), out.stride(0), ROWS=block.rows,
        BLOCK_N=block.block_n, ONE_PASS=block.one_pass, EVEN=_even(x, block),
        num_warps=block.num_warps)
    return out


def norm(x, out, weight, bias, eps, rms, block):
    """Layer norm (``rms`` False) or RMS norm over the last dim of a 2-D tensor with contiguous
    rows, with contiguous weight and bias (either may be None), into ``out``."""
    n_rows, n_cols = x.shape
    _norm_kernel[(triton.cdiv(n_rows, block.rows),)](
        x, out, weight, bias, n_rows, n_cols, x.stride(0), out.stride(0), eps, RMS=rms,
        HAS_W=weight is not None, HAS_B=bias is not None, ROWS=block.rows,
        BLOCK_N=block.block_n, ONE_PASS=block.one_pass, EVEN=_even(x, block),
        num_warps=block.num_warps)
    return out
