"""A plain FlashAttention-2-style forward kernel written for Triton: the reference that the
attention benchmark (bench/bench_attention.py) measures tessera.ops.scaled_dot_product_attention
against, next to PyTorch's flash and cuDNN backends.

One program computes a BLOCK_M x D tile of the output of one (batch, head): it keeps its queries
in registers, walks the keys and values in BLOCK_N blocks and merges each block's scores into a
running maximum and row sum (online softmax, in the exp2 domain: the scale is folded with
log2(e)), accumulating P @ V in fp32 and dividing by the row sum once at the end.

Causal attention is top-left aligned (key j visible to query i iff j <= i, PyTorch SDPA's
``is_causal``; queries and keys have one length). The key loop is split in two: the blocks left
of the query block's diagonal are fully visible and run without a mask; only the blocks that
cross the diagonal apply it. Programs of the later (longer) query blocks are launched first, so
that the short ones fill the tail of the grid.

Layout (B, H, S, D) with a unit last stride (the benchmark passes contiguous tensors), fp16 or
bf16, D in {64, 128, 256}; any S (the ragged last blocks are masked, at no cost where S is a
multiple of the blocks). Block sizes, warps and stages come from a short autotuning list keyed on
the sequence length, head dim and causality. ``available`` is False where Triton is missing;
this module imports without Triton, and only ``triton_attention`` needs it.
"""
try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton is only on GPU hosts
    triton = None

available = triton is not None

HEAD_DIMS = (64, 128, 256)

if available:
    # A Triton kernel reads only globals that are constexpr instances.
    LOG2E = tl.constexpr(1.4426950408889634)

    # (BLOCK_M, BLOCK_N, num_warps, num_stages); BLOCK_M is a multiple of BLOCK_N in every
    # entry, so that a query block's diagonal starts on a key block boundary.
    _CONFIGS = [(128, 64, 8, 3), (128, 128, 8, 2), (64, 64, 4, 3), (128, 64, 8, 2)]
    CONFIGS = [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
               for m, n, w, s in _CONFIGS]

    @triton.jit
    def _attend_blocks(acc, row_sum, row_max, q, k_base, v_base, stride_kn, stride_vn,
                       offs_m, offs_d, lo, hi, qk_scale, seq_len,
                       BLOCK_N: tl.constexpr, DIAGONAL: tl.constexpr,
                       MASK_KEYS: tl.constexpr):
        """Folds the key/value blocks [lo, hi) into the running state of a query block.
        DIAGONAL: hide keys right of the diagonal (j > i). MASK_KEYS: the last block may run
        past the sequence; its loads are masked and its missing keys hidden."""
        for start_n in tl.range(lo, hi, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            k_ptrs = k_base + offs_n[:, None] * stride_kn + offs_d[None, :]
            v_ptrs = v_base + offs_n[:, None] * stride_vn + offs_d[None, :]
            if MASK_KEYS:
                in_seq = offs_n[:, None] < seq_len
                k = tl.load(k_ptrs, mask=in_seq, other=0.0)
                v = tl.load(v_ptrs, mask=in_seq, other=0.0)
            else:
                k = tl.load(k_ptrs)
                v = tl.load(v_ptrs)
            # scores in log2 units: s = (q . k) * scale * log2(e)
            s = tl.dot(q, tl.trans(k)) * qk_scale
            if DIAGONAL:
                s = tl.where(offs_m[:, None] >= offs_n[None, :], s, -float("inf"))
            elif MASK_KEYS:
                s = tl.where(offs_n[None, :] < seq_len, s, -float("inf"))
            # Every row of a block already holds a visible key (key 0 for the first block,
            # key i on the diagonal), so the new maximum is finite.
            new_max = tl.maximum(row_max, tl.max(s, axis=1))
            p = tl.math.exp2(s - new_max[:, None])
            rescale = tl.math.exp2(row_max - new_max)
            row_sum = row_sum * rescale + tl.sum(p, axis=1)
            acc = acc * rescale[:, None]
            acc = tl.dot(p.to(v.dtype), v, acc)
            row_max = new_max
        return acc, row_sum, row_max

    @triton.autotune(configs=CONFIGS, key=["seq_len", "HEAD_DIM", "CAUSAL"])
    @triton.heuristics({"MASK_M": lambda args: args["seq_len"] % args["BLOCK_M"] != 0,
                        "MASK_N": lambda args: args["seq_len"] % args["BLOCK_N"] != 0})
    @triton.jit
    def _attention_kernel(q_ptr, k_ptr, v_ptr, out_ptr, qk_scale, heads, seq_len,
                          stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
                          stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om,
                          HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                          MASK_M: tl.constexpr, MASK_N: tl.constexpr):
        if CAUSAL:  # the longest rows first
            block_m = tl.num_programs(0) - 1 - tl.program_id(0)
        else:
            block_m = tl.program_id(0)
        bh = tl.program_id(1)
        b = (bh // heads).to(tl.int64)
        h = (bh % heads).to(tl.int64)
        q_base = q_ptr + b * stride_qb + h * stride_qh
        k_base = k_ptr + b * stride_kb + h * stride_kh
        v_base = v_ptr + b * stride_vb + h * stride_vh
        o_base = out_ptr + b * stride_ob + h * stride_oh

        offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM)
        q_ptrs = q_base + offs_m[:, None] * stride_qm + offs_d[None, :]
        if MASK_M:
            q = tl.load(q_ptrs, mask=offs_m[:, None] < seq_len, other=0.0)
        else:
            q = tl.load(q_ptrs)

        acc = tl.zeros((BLOCK_M, HEAD_DIM), dtype=tl.float32)
        row_sum = tl.zeros((BLOCK_M,), dtype=tl.float32)
        row_max = tl.full((BLOCK_M,), -float("inf"), dtype=tl.float32)
        if CAUSAL:
            # keys [0, diagonal) are visible to every row of the block: no mask
            diagonal = block_m * BLOCK_M
            acc, row_sum, row_max = _attend_blocks(
                acc, row_sum, row_max, q, k_base, v_base, stride_kn, stride_vn, offs_m, offs_d,
                0, diagonal, qk_scale, seq_len, BLOCK_N, False, False)
            # the blocks on the diagonal: keys [diagonal, diagonal + BLOCK_M) within the sequence
            end = tl.minimum(diagonal + BLOCK_M, seq_len)
            acc, row_sum, row_max = _attend_blocks(
                acc, row_sum, row_max, q, k_base, v_base, stride_kn, stride_vn, offs_m, offs_d,
                diagonal, end, qk_scale, seq_len, BLOCK_N, True, MASK_N)
        else:
            acc, row_sum, row_max = _attend_blocks(
                acc, row_sum, row_max, q, k_base, v_base, stride_kn, stride_vn, offs_m, offs_d,
                0, seq_len, qk_scale, seq_len, BLOCK_N, False, MASK_N)

        out = (acc / row_sum[:, None]).to(out_ptr.dtype.element_ty)
        o_ptrs = o_base + offs_m[:, None] * stride_om + offs_d[None, :]
        if MASK_M:
            tl.store(o_ptrs, out, mask=offs_m[:, None] < seq_len)
        else:
            tl.store(o_ptrs, out)


def triton_attention(q, k, v, causal, scale=None):
    """softmax(q k^T * scale [+ causal mask]) v for (B, H, S, D) tensors of one shape and dtype
    (fp16 or bf16, unit last stride, D in {64, 128, 256}); ``scale`` defaults to 1/sqrt(D).
    The output is allocated per call (torch.empty_like(q)), as the ops do."""
    if not available:
        raise RuntimeError("triton_attention needs Triton, which is not installed")
    import torch

    if q.dim() != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must have one (B, H, S, D) shape, got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if q.dtype not in (torch.float16, torch.bfloat16) or k.dtype != q.dtype or \
            v.dtype != q.dtype:
        raise TypeError(f"q, k, v must be all float16 or all bfloat16, got {q.dtype}, "
                        f"{k.dtype}, {v.dtype}")
    batch, heads, seq_len, head_dim = q.shape
    if head_dim not in HEAD_DIMS:
        raise ValueError(f"head dim {head_dim} is not one of {HEAD_DIMS}")
    if any(t.stride(-1) != 1 for t in (q, k, v)):
        raise ValueError("q, k, v need a unit stride in their last dimension")
    if scale is None:
        scale = head_dim ** -0.5
    out = torch.empty_like(q)  # q's layout where q is dense (a unit last stride), else plain

    def grid(meta):
        return (triton.cdiv(seq_len, meta["BLOCK_M"]), batch * heads)

    _attention_kernel[grid](
        q, k, v, out, scale * 1.4426950408889634, heads, seq_len,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), out.stride(0), out.stride(1), out.stride(2),
        HEAD_DIM=head_dim, CAUSAL=bool(causal))
    return out
