"""Element-wise vector add: out[i] = x[i] + y[i], masked at the tail.

The kernel is Triton's tutorial kernel with the imports changed. With 16-byte aligned pointers and a
length divisible by 16 (the specialisation the JIT picks for such arguments), each thread moves 16
bytes per global access.
"""
import tessera
import tessera.language as tl

try:  # the host wrapper uses PyTorch; compiling the kernel does not
    import torch
except ImportError:  # pragma: no cover - CPU build machines have no PyTorch
    torch = None


@tessera.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


DEFAULT_BLOCK = 1024
DEFAULT_NUM_WARPS = 4


def add(x, y, out=None, BLOCK=DEFAULT_BLOCK, num_warps=DEFAULT_NUM_WARPS):
    """x + y for two contiguous CUDA tensors of one dtype and shape; `out` may be given."""
    if x.shape != y.shape or x.dtype != y.dtype or x.device != y.device:
        raise ValueError("add: x and y must have the same shape, dtype and device")
    if not (x.is_contiguous() and y.is_contiguous()):
        raise ValueError("add: x and y must be contiguous")
    if out is None:
        out = torch.empty_like(x)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous():
        raise ValueError("add: out must be a contiguous tensor of x's shape and dtype")
    n = x.numel()
    if n == 0:
        return out
    if n >= 2**31:
        raise ValueError("add: offsets are 32-bit; split tensors of 2^31 or more elements")
    grid = lambda meta: (tessera.cdiv(n, meta["BLOCK"]),)  # noqa: E731
    add_kernel[grid](x, y, out, n, BLOCK=BLOCK, num_warps=num_warps)
    return out


# Specialisations that `tessera.compile` builds without a GPU (quickstart, CPU tests). A ":16" suffix
# marks an argument known to be divisible by 16 (a pointer 16-byte aligned), as Triton's AOT
# signatures do.
COMPILE_SPECS = [
    dict(name="vector_add_fp32_aligned", fn=add_kernel,
         signature={"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16",
                    "n_elements": "i32:16"},
         constants={"BLOCK": DEFAULT_BLOCK}, num_warps=DEFAULT_NUM_WARPS),
    dict(name="vector_add_bf16_aligned", fn=add_kernel,
         signature={"x_ptr": "*bf16:16", "y_ptr": "*bf16:16", "out_ptr": "*bf16:16",
                    "n_elements": "i32:16"},
         constants={"BLOCK": DEFAULT_BLOCK}, num_warps=DEFAULT_NUM_WARPS),
    dict(name="vector_add_fp32", fn=add_kernel,
         signature={"x_ptr": "*fp32", "y_ptr": "*fp32", "out_ptr": "*fp32", "n_elements": "i32"},
         constants={"BLOCK": DEFAULT_BLOCK}, num_warps=DEFAULT_NUM_WARPS),
]
