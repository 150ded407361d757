"""The row softmax of examples/softmax.py written for Triton: same algorithm, same launch
configuration (one program per row, BLOCK_N = next_power_of_2(n_cols), the same num_warps), so the
benchmark compares code generation, not algorithms. `available` is False where Triton is missing."""
try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton is only on GPU hosts
    triton = None

available = triton is not None

if available:
    @triton.jit
    def softmax_kernel(out_ptr, in_ptr, in_row_stride, out_row_stride, n_cols,
                       BLOCK_N: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK_N)
        mask = cols < n_cols
        x = tl.load(in_ptr + row * in_row_stride + cols, mask=mask, other=-float("inf"))
        x = x.to(tl.float32)
        x = x - tl.max(x, axis=0)
        num = tl.exp(x)
        den = tl.sum(num, axis=0)
        y = num / den
        tl.store(out_ptr + row * out_row_stride + cols, y, mask=mask)


def softmax(x, out, num_warps):
    n_rows, n_cols = x.shape
    block_n = triton.next_power_of_2(n_cols)
    softmax_kernel[(n_rows,)](out, x, x.stride(0), out.stride(0), n_cols, BLOCK_N=block_n,
                              num_warps=num_warps)
    return out
