"""Tiled matmul C = A @ B with tl.dot: fp16/bf16/fp32 inputs, fp32 accumulation, any strides.

Each program computes one BLOCK_M x BLOCK_N tile of C, walking K in BLOCK_K steps; loads are masked
at the edges, so M, N and K need not be multiples of the block sizes. For fp32 inputs
INPUT_PRECISION picks "ieee" (exact fp32 products) or "tf32" (tensor cores, 10-bit mantissas).
"""
import tessera
import tessera.language as tl

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


@tessera.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                  stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                  INPUT_PRECISION: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    rows = tl.expand_dims(offs_m, 1)  # BLOCK_M x 1
    cols = tl.expand_dims(offs_n, 0)  # 1 x BLOCK_N
    ks_col = tl.expand_dims(offs_k, 0)  # 1 x BLOCK_K
    ks_row = tl.expand_dims(offs_k, 1)  # BLOCK_K x 1
    a_ptrs = a_ptr + rows * stride_am + ks_col * stride_ak
    b_ptrs = b_ptr + ks_row * stride_bk + cols * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(rows < M) & (ks_col < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(ks_row < k_left) & (cols < N), other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)
        a_ptrs = a_ptrs + BLOCK_K * stride_ak
        b_ptrs = b_ptrs + BLOCK_K * stride_bk
    c_ptrs = c_ptr + rows * stride_cm + cols * stride_cn
    tl.store(c_ptrs, acc, mask=(rows < M) & (cols < N))


@tessera.jit
def matmul_block_ptr_kernel(A, B, C, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                            stride_cm, stride_cn, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """matmul_kernel written with block pointers: the edges masked by boundary_check."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    a_bp = tl.make_block_ptr(A, shape=(M, K), strides=(stride_am, stride_ak),
                             offsets=(pid_m * BM, 0), block_shape=(BM, BK), order=(1, 0))
    b_bp = tl.make_block_ptr(B, shape=(K, N), strides=(stride_bk, stride_bn),
                             offsets=(0, pid_n * BN), block_shape=(BK, BN), order=(1, 0))
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BK)):
        a = tl.load(a_bp, boundary_check=(0, 1), padding_option="zero")
        b = tl.load(b_bp, boundary_check=(0, 1), padding_option="zero")
        acc = tl.dot(a, b, acc)
        a_bp = tl.advance(a_bp, (0, BK))
        b_bp = tl.advance(b_bp, (BK, 0))
    c_bp = tl.make_block_ptr(C, shape=(M, N), strides=(stride_cm, stride_cn),
                             offsets=(pid_m * BM, pid_n * BN), block_shape=(BM, BN), order=(1, 0))
    tl.store(c_bp, acc, boundary_check=(0, 1))


DEFAULT_BLOCKS = dict(BLOCK_M=32, BLOCK_N=32, BLOCK_K=32)
DEFAULT_NUM_WARPS = 4
DEFAULT_NUM_STAGES = 2


def matmul(a, b, out=None, out_dtype=None, input_precision="ieee", num_warps=DEFAULT_NUM_WARPS,
           num_stages=DEFAULT_NUM_STAGES, **blocks):
    """a (M x K) @ b (K x N) for CUDA tensors of one dtype and any strides."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: incompatible shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype != b.dtype:
        raise ValueError("matmul: a and b must have the same dtype")
    if input_precision not in ("ieee", "tf32"):
        raise ValueError("matmul: input_precision must be 'ieee' or 'tf32'")
    M, K = a.shape
    N = b.shape[1]
    if out is None:
        out = torch.empty((M, N), device=a.device, dtype=out_dtype or a.dtype)
    elif out.shape != (M, N):
        raise ValueError("matmul: out must have shape (M, N)")
    cfg = dict(DEFAULT_BLOCKS, **blocks)
    if M == 0 or N == 0:
        return out
    if K == 0:
        return out.zero_()
    grid = lambda meta: (tessera.cdiv(M, meta["BLOCK_M"]), tessera.cdiv(N, meta["BLOCK_N"]))  # noqa: E731
    matmul_kernel[grid](a, b, out, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        out.stride(0), out.stride(1), INPUT_PRECISION=input_precision,
                        num_warps=num_warps, num_stages=num_stages, **cfg)
    return out


def _spec(name, ty, precision, out_ty=None):
    sig = {"a_ptr": f"*{ty}", "b_ptr": f"*{ty}", "c_ptr": f"*{out_ty or ty}"}
    for arg in ("M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn", "stride_cm",
                "stride_cn"):
        sig[arg] = "i32"
    return dict(name=name, fn=matmul_kernel, signature=sig,
                constants=dict(DEFAULT_BLOCKS, INPUT_PRECISION=precision),
                num_warps=DEFAULT_NUM_WARPS, num_stages=DEFAULT_NUM_STAGES)


COMPILE_SPECS = [
    _spec("matmul_fp16", "fp16", "ieee"),
    _spec("matmul_bf16_out_fp32", "bf16", "ieee", out_ty="fp32"),
    _spec("matmul_fp32_ieee", "fp32", "ieee"),
    _spec("matmul_fp32_tf32", "fp32", "tf32"),
]
