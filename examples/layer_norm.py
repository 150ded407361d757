"""Fused layer norm forward over the last dim, with weight and bias; one program per row.

    y = (x - mean(x)) / sqrt(var(x) + eps) * w + b

The row is one block (BLOCK_N = next_power_of_2(N)); the math is fp32 whatever the storage dtype.
The kernel also writes each row's mean and 1/std (fp32), which a backward pass needs.
"""
import tessera
import tessera.language as tl

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


@tessera.jit
def layer_norm_fwd_kernel(X, Y, W, B, Mean, Rstd, stride_x, stride_y, N, eps,
                          BLOCK_N: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    mask = cols < N
    x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / N
    diff = tl.where(mask, x - mean, 0.0)
    var = tl.sum(diff * diff, axis=0) / N
    rstd = 1.0 / tl.sqrt(var + eps)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
    y = diff * rstd * w + b
    tl.store(Mean + row, mean)
    tl.store(Rstd + row, rstd)
    tl.store(Y + row * stride_y + cols, y, mask=mask)


def num_warps_for(block_n):
    return min(max(block_n // 256, 1), 16)


def layer_norm(x, weight, bias, eps=1e-5, out=None, return_stats=False):
    """Layer norm over the last dim of x (any leading shape, rows contiguous)."""
    N = x.shape[-1]
    if weight.shape != (N,) or bias.shape != (N,):
        raise ValueError("layer_norm: weight and bias must have shape (N,)")
    x2 = x.reshape(-1, N)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    M = x2.shape[0]
    if out is None:
        out = torch.empty_like(x)
    y2 = out.view(-1, N)
    if y2.stride(-1) != 1:
        raise ValueError("layer_norm: out must have contiguous rows")
    mean = torch.empty(M, device=x.device, dtype=torch.float32)
    rstd = torch.empty(M, device=x.device, dtype=torch.float32)
    max_fused = 65536 // x.element_size()
    block_n = tessera.next_power_of_2(N)
    if block_n > max_fused:
        raise ValueError(f"layer_norm: rows longer than {max_fused} elements are not supported")
    if M > 0:
        layer_norm_fwd_kernel[(M,)](x2, y2, weight.contiguous(), bias.contiguous(), mean, rstd,
                                    x2.stride(0), y2.stride(0), N, eps, BLOCK_N=block_n,
                                    num_warps=num_warps_for(block_n))
    return (out, mean, rstd) if return_stats else out


def _spec(name, ty, block_n):
    return dict(name=name, fn=layer_norm_fwd_kernel,
                signature={"X": f"*{ty}", "Y": f"*{ty}", "W": f"*{ty}", "B": f"*{ty}",
                           "Mean": "*fp32", "Rstd": "*fp32", "stride_x": "i32", "stride_y": "i32",
                           "N": "i32", "eps": "fp32"},
                constants={"BLOCK_N": block_n}, num_warps=num_warps_for(block_n))


COMPILE_SPECS = [_spec("layer_norm_fp32_1024", "fp32", 1024),
                 _spec("layer_norm_bf16_4096", "bf16", 4096)]
