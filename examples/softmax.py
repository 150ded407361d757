"""Row softmax: one program per row, the whole row in one block of BLOCK_N = next_power_of_2(n_cols).

Loads any floating dtype, computes in fp32 (max-subtract, exp, sum, divide) and stores in the output's
dtype (tl.store converts to the pointer's element type, as in Triton). The row maximum and sum are
cross-thread reductions, which the compiler lowers to warp shuffles.
"""
import tessera
import tessera.language as tl

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


@tessera.jit
def softmax_kernel(out_ptr, in_ptr, in_row_stride, out_row_stride, n_cols, BLOCK_N: tl.constexpr):
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


def num_warps_for(block_n):
    """Warps per row; shared with bench/'s Triton kernel so both run the same configuration."""
    if block_n >= 8192:
        return 16
    if block_n >= 2048:
        return 8
    return 4


MAX_BLOCK_N = 1 << 15  # the whole row lives in registers


def softmax(x, out=None, out_dtype=None):
    """Softmax over the last dim of a 2-D CUDA tensor whose rows are contiguous."""
    if x.dim() != 2:
        raise ValueError("softmax: x must be 2-D")
    if x.stride(1) != 1:
        raise ValueError("softmax: rows of x must be contiguous")
    n_rows, n_cols = x.shape
    if out is None:
        out = torch.empty((n_rows, n_cols), device=x.device, dtype=out_dtype or x.dtype)
    elif out.shape != x.shape or out.stride(1) != 1:
        raise ValueError("softmax: out must have x's shape and contiguous rows")
    if n_rows == 0 or n_cols == 0:
        return out
    block_n = tessera.next_power_of_2(n_cols)
    if block_n > MAX_BLOCK_N:
        raise ValueError(f"softmax: rows longer than {MAX_BLOCK_N} are not supported")
    softmax_kernel[(n_rows,)](out, x, x.stride(0), out.stride(0), n_cols, BLOCK_N=block_n,
                              num_warps=num_warps_for(block_n))
    return out


def _spec(name, in_ty, out_ty, block_n, aligned):
    a = ":16" if aligned else ""
    return dict(name=name, fn=softmax_kernel,
                signature={"out_ptr": f"*{out_ty}{a}", "in_ptr": f"*{in_ty}{a}",
                           "in_row_stride": f"i32{a}", "out_row_stride": f"i32{a}",
                           "n_cols": f"i32{a}"},
                constants={"BLOCK_N": block_n}, num_warps=num_warps_for(block_n))


COMPILE_SPECS = [
    _spec("softmax_bf16_4096", "bf16", "bf16", 4096, aligned=True),
    _spec("softmax_fp32_1024", "fp32", "fp32", 1024, aligned=False),
]
