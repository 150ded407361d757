"""The matmul of tessera.ops (python/tessera/ops/kernels/matmul.py) written for Triton: the same
grouped-tile algorithm (fp32 accumulation, masks dropped by the EVEN_M/N/K heuristics), the same
configs, autotuning key and pruning, so that the benchmark compares code generation, not
algorithms. It computes C = A @ B for 2-D operands only (tessera's kernel also carries a batch
index, alpha and an optional bias, which the benchmark does not use). `available` is False where
Triton is missing."""
try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton is only on GPU hosts
    triton = None

available = triton is not None

if available:
    import torch

    from tessera.ops.kernels.matmul import CONFIGS, HEURISTICS, KEY, prune_configs

    def _prune(configs, named_args, **kwargs):
        properties = torch.cuda.get_device_properties(named_args["a_ptr"].device)
        return prune_configs(configs, named_args, max_shared_memory=getattr(
            properties, "shared_memory_per_block_optin", None))

    @triton.jit
    def _load(pointers, in_rows, in_k, MASK_ROWS: tl.constexpr, MASK_K: tl.constexpr):
        if MASK_ROWS:
            if MASK_K:
                tile = tl.load(pointers, mask=in_rows & in_k, other=0.0)
            else:
                tile = tl.load(pointers, mask=in_rows, other=0.0)
        else:
            if MASK_K:
                tile = tl.load(pointers, mask=in_k, other=0.0)
            else:
                tile = tl.load(pointers)
        return tile

    @triton.autotune(
        configs=[triton.Config(dict(c.kwargs), num_warps=c.num_warps, num_stages=c.num_stages)
                 for c in CONFIGS],
        key=KEY, prune_configs_by={"early_config_prune": _prune})
    @triton.heuristics({name: HEURISTICS[name] for name in ("EVEN_M", "EVEN_N", "EVEN_K")})
    @triton.jit
    def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
                      stride_cm, stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                      BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, EVEN_M: tl.constexpr,
                      EVEN_N: tl.constexpr, EVEN_K: tl.constexpr,
                      INPUT_PRECISION: tl.constexpr):
        pid = tl.program_id(0)
        num_pid_m = tl.cdiv(M, BLOCK_M)
        num_pid_n = tl.cdiv(N, BLOCK_N)
        num_pid_in_group = GROUP_M * num_pid_n
        first_pid_m = (pid // num_pid_in_group) * GROUP_M
        group_size_m = tl.minimum(num_pid_m - first_pid_m, GROUP_M)
        pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
        pid_n = (pid % num_pid_in_group) // group_size_m

        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        offs_k = tl.arange(0, BLOCK_K)
        rows = offs_m[:, None]
        cols = offs_n[None, :]
        a_ptrs = a_ptr + rows * stride_am + offs_k[None, :] * stride_ak
        b_ptrs = b_ptr + offs_k[:, None] * stride_bk + cols * stride_bn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(0, tl.cdiv(K, BLOCK_K)):
            k_left = K - k * BLOCK_K
            a = _load(a_ptrs, rows < M, offs_k[None, :] < k_left, not EVEN_M, not EVEN_K)
            b = _load(b_ptrs, cols < N, offs_k[:, None] < k_left, not EVEN_N, not EVEN_K)
            acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)
            a_ptrs += BLOCK_K * stride_ak
            b_ptrs += BLOCK_K * stride_bk

        c = acc.to(c_ptr.dtype.element_ty)
        c_ptrs = c_ptr + rows * stride_cm + cols * stride_cn
        if EVEN_M:
            if EVEN_N:
                tl.store(c_ptrs, c)
            else:
                tl.store(c_ptrs, c, mask=cols < N)
        else:
            if EVEN_N:
                tl.store(c_ptrs, c, mask=rows < M)
            else:
                tl.store(c_ptrs, c, mask=(rows < M) & (cols < N))


def matmul(a, b, out):
    """out = a @ b for 2-D CUDA tensors of one dtype (fp32 in tf32 unless PyTorch's float32
    matmul precision is "highest", as tessera.ops does)."""
    m, k = a.shape
    n = b.shape[1]
    precision = "ieee" if a.dtype != torch.float32 or \
        torch.get_float32_matmul_precision() == "highest" else "tf32"

    def grid(meta):
        return (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]),)

    matmul_kernel[grid](a, b, out, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        out.stride(0), out.stride(1), INPUT_PRECISION=precision)
    return out
