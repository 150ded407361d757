"""Launches of the split-KV attention kernels (``kernels/attention_splitkv.py``): decoding
(few queries per kv head against many keys) for ``scaled_dot_product_attention`` and
``flash_attn_func``, and every ``flash_attn_with_kvcache`` call.

    lse = splitkv_attention(q, k, v, out, scores, need_lse=True)   # (B, H, L, D) views
    splitkv_attention(q, k_pages, v_pages, out, scores, cache=KVCache(...))

The keys are cut into ``num_splits`` chunks (0: about one program per SM; the CPU counts as
``arguments.HOST_SM_COUNT`` SMs) whose partial results a second kernel merges by their
log-sum-exps; one split needs no merge. The split changes results only by rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from . import settings
from .arguments import sm_count, torch
from .kernels.attention import head_dim_block
from .kernels.attention_splitkv import (attention_combine_kernel, attention_splitkv_kernel,
                                        choose_splitkv_config, kv_write_kernel)
from .kernels.grid import batch_head_grid

if TYPE_CHECKING:  # (attention_core builds on this module)
    from .attention_core import Scores

__all__ = ["KVCache", "SPLITKV_MAX_ROWS", "splitkv_attention", "write_rows"]

# Calls whose GQA group times query length fits one program's rows take the split-KV path.
SPLITKV_MAX_ROWS = 64
MAX_SPLITS = 128
MIN_BLOCKS_PER_SPLIT = 4
_WRITE_BLOCK_S = 16


@dataclass(frozen=True)
class KVCache:
    """Where the keys of a split-KV call are: batch b sees ``seqlens[b] + new_keys`` keys
    (all ``capacity`` rows when ``seqlens`` is None), from ``leftpad[b]`` on, in cache entry
    ``batch_idx[b]`` (or b), or through ``block_table`` (B, max_blocks) pages of
    ``page_size`` rows. Tensors are int32 on q's device. A call without a cache is
    ``KVCache(None, 0, Lk)``: every key of k and v."""
    seqlens: Optional["torch.Tensor"]
    new_keys: int
    capacity: int
    leftpad: Optional["torch.Tensor"] = None
    batch_idx: Optional["torch.Tensor"] = None
    block_table: Optional["torch.Tensor"] = None
    page_size: int = 0


def _num_splits(requested: int, programs: int, key_blocks: int, device: "torch.device") -> int:
    if requested <= 0:
        # one wave of about one program per SM was fastest (GQA 32/8 decoding, H200: B=1,
        # 4 and 16 best at 16, 4 and 1 splits)
        wanted = sm_count(device) // programs
        requested = min(wanted, -(-key_blocks // MIN_BLOCKS_PER_SPLIT))
    return max(1, min(requested, key_blocks, MAX_SPLITS))


def splitkv_attention(q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor",
                      out: "torch.Tensor", scores: "Scores", need_lse: bool = False,
                      cache: Optional[KVCache] = None, num_splits: int = 0
                      ) -> Optional["torch.Tensor"]:
    """The forward of :func:`attention_core.attention` (no autograd) into ``out`` (B, Hq, Lq,
    D), over (B, H, L, D) views, or over a KV cache: k and v (B_cache, Hkv, S_cache, D) views,
    or (num_pages, Hkv, page_size, D) when ``cache.block_table`` is given; ``scores.off`` is
    ignored where ``cache.seqlens`` gives lengths (each batch aligns bottom-right by its own).
    Returns the (B, Hq, Lq) fp32 LSE if asked."""
    batch, heads, lq, dim = q.shape
    kv_heads = k.shape[1]
    group = heads // kv_heads
    lse = torch.empty((batch, heads, lq), dtype=torch.float32, device=q.device) \
        if need_lse else None
    if out.numel() == 0:
        return lse
    if cache is None:
        cache = KVCache(None, 0, k.shape[2])
    table = cache.block_table
    config = choose_splitkv_config(dim, cache.page_size, q.dtype == torch.float32)
    head_dim = head_dim_block(dim)
    m_blocks = -(-group * lq // config["BLOCK_M"])
    splits = _num_splits(num_splits, m_blocks * batch * kv_heads,
                         max(1, -(-cache.capacity // config["BLOCK_N"])), q.device)
    part_rows = batch * heads * lq
    o_part = lse_part = None
    if splits > 1:
        o_part = torch.empty((splits, part_rows, head_dim), dtype=torch.float32,
                             device=q.device)
        lse_part = torch.empty((splits, part_rows), dtype=torch.float32, device=q.device)

    (tensors, strides, scalars), constants = scores.kernel_arguments()
    grid, pairs = batch_head_grid(splits * m_blocks, batch, kv_heads)
    attention_splitkv_kernel[grid](
        q, k, v, out, lse, o_part, lse_part, *tensors, cache.seqlens, cache.leftpad,
        cache.batch_idx, table, *q.stride()[:3], *k.stride()[:3], *v.stride()[:3],
        *out.stride()[:3], *strides, heads * lq, lq,
        table.stride(0) if table is not None else 0, part_rows,
        heads, kv_heads, group, lq, cache.capacity, dim, *scalars, cache.new_keys,
        cache.capacity, max(cache.page_size, 1), k.shape[0] if table is not None else 0, splits,
        BLOCK_M=config["BLOCK_M"], BLOCK_N=config["BLOCK_N"], HEAD_DIM=head_dim,
        EVEN_D=head_dim == dim, POSITIVE_SCALE=scores.scale > 0, CACHE=cache.seqlens is not None,
        HAS_LEFTPAD=cache.leftpad is not None, HAS_BATCH_IDX=cache.batch_idx is not None,
        PAGED=table is not None, SPLIT=splits > 1, **pairs, **constants,
        **settings.launch_options(config))
    if splits > 1:
        attention_combine_kernel[(part_rows,)](
            o_part, lse_part, out, lse, *out.stride()[:3], heads * lq, lq, part_rows, heads,
            lq, dim, splits, SPLITS=1 << (splits - 1).bit_length(), HEAD_DIM=head_dim,
            num_warps=4)
    return lse


def write_rows(src: "torch.Tensor", dst: "torch.Tensor", capacity: int,
               seqlens: Optional["torch.Tensor"] = None, at_position: bool = True,
               batch_idx: Optional["torch.Tensor"] = None,
               block_table: Optional["torch.Tensor"] = None, page_size: int = 0,
               rotary: Optional[Tuple["torch.Tensor", "torch.Tensor", bool]] = None) -> None:
    """Copies the rows of ``src`` (B, S, H, D) into ``dst``: at rows ``seqlens[b] + i`` when
    ``at_position`` (else ``i``) of a (B_dst, rows, H, D) tensor (entry ``batch_idx[b]`` or b),
    or of (num_pages, page_size, H, D) pages through ``block_table``; rows past ``capacity``
    are dropped. ``rotary = (cos, sin, interleaved)`` rotates them at positions
    ``seqlens[b] + i`` on the way (tables (positions, rotary_dim / 2))."""
    batch, rows, heads, dim = src.shape
    if src.numel() == 0:
        return
    cos, sin, interleaved = rotary if rotary is not None else (None, None, False)
    table_stride = block_table.stride(0) if block_table is not None else 0
    grid, pairs = batch_head_grid(-(-rows // _WRITE_BLOCK_S), batch, heads)
    kv_write_kernel[grid](
        src, dst, cos, sin, seqlens, batch_idx, block_table,
        src.stride(0), src.stride(1), src.stride(2), dst.stride(0), dst.stride(1),
        dst.stride(2), cos.stride(0) if cos is not None else 0,
        sin.stride(0) if sin is not None else 0, table_stride,
        heads, rows, dim, capacity, max(page_size, 1),
        dst.shape[0] if block_table is not None else 0,
        cos.shape[1] if cos is not None else 0, cos.shape[0] if cos is not None else 0,
        BLOCK_S=_WRITE_BLOCK_S, HEAD_DIM=head_dim_block(dim), ROTARY=rotary is not None,
        INTERLEAVED=bool(interleaved), AT_POSITION=at_position,
        HAS_SEQLENS=seqlens is not None, HAS_BATCH_IDX=batch_idx is not None,
        PAGED=block_table is not None, **pairs, num_warps=4)
