"""FlashAttention-2's Python API over Tessera's attention kernels (``specs/rwkv-and-attention.md``
part C): code using ``flash_attn`` ports by changing the import.

    from tessera.ops import flash_attn_func
    out = flash_attn_func(q, k, v, causal=True)                      # q: (B, Sq, Hq, D)
    out, lse, _ = flash_attn_func(q, k, v, window_size=(256, 0), softcap=30.0,
                                  return_attn_probs=True)            # lse: (B, Hq, Sq) fp32

    out = flash_attn_with_kvcache(q, k_cache, v_cache, k_new, v_new,
                                  cache_seqlens=lengths, causal=True)  # appends, then attends

Tensors are (B, S, H, D), fp16 or bf16, on a CUDA device or the CPU (where the kernels run
compiled for the host), the last dimension contiguous; causal masks and windows are aligned
bottom-right (the last query sees the last key). ``flash_attn_func`` and
``flash_attn_varlen_func`` are differentiable in q, k and v; the backward never uses atomics,
so it is always deterministic. ``flash_attn_with_kvcache`` is forward only.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Optional, Sequence, Tuple, Union

from .arguments import (as_tensor, check_bool, check_device, check_distinct, check_dtype,
                        check_finite, check_same, check_separate, torch)
from .attention_core import Ragged, Scores, attention, check_inputs, dropout_fields
from .attention_splitkv import KVCache, splitkv_attention, write_rows

__all__ = ["flash_attn_func", "flash_attn_varlen_func", "flash_attn_with_kvcache"]

MAX_HEAD_DIM = 256
_MAX_SEQLEN = 2 ** 31  # max_seqlen_q / max_seqlen_k size the launch grid: below a 32-bit index


def _check_qkv(op: str, q: Any, k: Any, v: Any, names: Sequence[str] = ("q", "k", "v"),
               same_batch: bool = True) -> Tuple["torch.Tensor", ...]:
    """q (B, Sq, Hq, D), k and v (B', Sk, Hk, D) checked: device, dtype, rank, layout, head
    dimensions, heads, and B' = B where ``same_batch``. ``names`` name them in errors."""
    q_name, k_name, v_name = names
    q, k, v = check_inputs(op, tuple(zip(names, (q, k, v))), "(batch, seqlen, nheads, headdim)")
    batch, _, heads, dim = q.shape
    if not 1 <= dim <= MAX_HEAD_DIM:
        raise ValueError(f"{op}: {q_name} has head dimension {dim}; expected 1 to "
                         f"{MAX_HEAD_DIM}")
    if k.shape[3] != dim:
        raise ValueError(f"{op}: {k_name} has head dimension {k.shape[3]} but {q_name} has "
                         f"{dim}; expected them equal")
    if same_batch and k.shape[0] != batch:
        raise ValueError(f"{op}: {k_name} has batch {k.shape[0]} but {q_name} has {batch}; "
                         "expected them equal")
    if tuple(v.shape) != tuple(k.shape):
        raise ValueError(f"{op}: {v_name} has shape {tuple(v.shape)} but {k_name} has "
                         f"{tuple(k.shape)}; expected them equal")
    kv_heads = k.shape[2]
    if kv_heads < 1 or heads % kv_heads != 0:
        raise ValueError(f"{op}: {q_name} has {heads} heads and {k_name} {kv_heads}; expected "
                         "the query heads to be a multiple of the key/value heads")
    return q, k, v


def _int_pair(value: Any) -> Optional[Tuple[int, int]]:
    """``value`` as a pair of ints (Python, NumPy or 0-d integer tensors), or None where it is
    not one: not two items, or items that are bools or not integers (floats, characters)."""
    try:
        items = tuple(value)
        if len(items) != 2 or any(isinstance(item, bool) for item in items):
            return None
        return operator.index(items[0]), operator.index(items[1])
    except TypeError:
        return None


def _window(op: str, window_size: Sequence[int], causal: Any) -> Tuple[int, int]:
    """(left, right) of ``window_size``, with right 0 when ``causal`` (a bool)."""
    causal = check_bool(causal, "causal", op)
    pair = _int_pair(window_size)
    if pair is None:
        raise TypeError(f"{op}: window_size is {window_size!r}; expected a pair of ints "
                        "(left, right)")
    left, right = pair
    if left < -1 or right < -1:
        raise ValueError(f"{op}: window_size is {tuple(window_size)}; expected each side >= 0 "
                         "or -1 (unbounded)")
    return left, 0 if causal else right


def _alibi(op: str, alibi_slopes: Any, batch: int, heads: int,
           like: "torch.Tensor") -> Optional["torch.Tensor"]:
    if alibi_slopes is None:
        return None
    slopes = as_tensor(alibi_slopes, "alibi_slopes", op)
    check_device(slopes, "alibi_slopes", op)
    if slopes.device != like.device:
        raise ValueError(f"{op}: alibi_slopes is on {slopes.device} but q is on {like.device}; "
                         "expected one device")
    if slopes.dtype != torch.float32:
        raise TypeError(f"{op}: alibi_slopes has dtype {slopes.dtype}; expected torch.float32")
    if tuple(slopes.shape) not in ((heads,), (batch, heads)):
        raise ValueError(f"{op}: alibi_slopes has shape {tuple(slopes.shape)}; expected "
                         f"({heads},) or ({batch}, {heads})")
    return slopes.contiguous()


def _scalars(op: str, dropout_p: Any, softmax_scale: Any, softcap: Any,
             dim: int) -> Tuple[float, float, float]:
    """dropout_p (a probability), the score scale (softmax_scale, a finite number, or
    1/sqrt(dim) for None) and softcap (finite, >= 0), checked, as floats."""
    dropout_p = check_finite(dropout_p, "dropout_p", op, 0, 1, "a probability in [0, 1]")
    softcap = check_finite(softcap, "softcap", op, low=0,
                           expected=">= 0 (0 turns it off) and finite")
    scale = 1.0 / math.sqrt(dim) if softmax_scale is None else check_finite(
        softmax_scale, "softmax_scale", op)
    return dropout_p, scale, softcap


def _check_flags(op: str, deterministic: Any, return_attn_probs: Any) -> None:
    """``deterministic`` (accepted for compatibility: the backward always is) and
    ``return_attn_probs`` are bools."""
    check_bool(deterministic, "deterministic", op)
    check_bool(return_attn_probs, "return_attn_probs", op)


def flash_attn_func(q: Any, k: Any, v: Any, dropout_p: float = 0.0,
                    softmax_scale: Optional[float] = None, causal: bool = False,
                    window_size: Sequence[int] = (-1, -1), softcap: float = 0.0,
                    alibi_slopes: Any = None, deterministic: bool = False,
                    return_attn_probs: bool = False
                    ) -> Union["torch.Tensor", Tuple["torch.Tensor", "torch.Tensor", None]]:
    """Attention over (B, S, H, D) tensors with FlashAttention-2's signature and semantics.

    Args:
        q: (B, Sq, Hq, D); k, v: (B, Sk, Hk, D) with Hq a multiple of Hk (GQA / MQA), fp16 or
            bf16, D <= 256.
        dropout_p: drops each probability with this probability and scales the kept ones by
            1 / (1 - dropout_p) (C.2 step 6); the mask is Philox, keyed by a seed drawn from
            PyTorch's default generator (``torch.manual_seed`` reproduces it), and the
            backward regenerates it.
        softmax_scale: the score scale, 1/sqrt(D) by default.
        causal: query i sees keys j <= i + Sk - Sq (bottom-right aligned).
        window_size: (left, right): query i sees keys in [i + Sk - Sq - left,
            i + Sk - Sq + right]; -1 leaves a side unbounded. ``causal`` sets right to 0.
        softcap: > 0 caps the scaled scores as ``softcap * tanh(s / softcap)``.
        alibi_slopes: fp32 (Hq,) or (B, Hq): adds ``-slope * |i + Sk - Sq - j|`` to the scores.
        deterministic: accepted for compatibility; the backward is always deterministic.
        return_attn_probs: also return the log-sum-exp (B, Hq, Sq) fp32 (+inf for a query that
            sees no key) and, in place of the dropout mask, None.

    Returns:
        out (B, Sq, Hq, D) in v's dtype; or ``(out, softmax_lse, None)``.

    Example:
        >>> q = torch.randn(2, 1024, 16, 64, device="cuda", dtype=torch.bfloat16)  # doctest: +SKIP
        >>> flash_attn_func(q, q, q, causal=True).shape                          # doctest: +SKIP
        torch.Size([2, 1024, 16, 64])
    """
    op = "flash_attn_func"
    q, k, v = _check_qkv(op, q, k, v)
    batch, seqlen_q, heads, dim = q.shape
    seqlen_k = k.shape[1]
    dropout_p, scale, softcap = _scalars(op, dropout_p, softmax_scale, softcap, dim)
    _check_flags(op, deterministic, return_attn_probs)
    left, right = _window(op, window_size, causal)
    scores = Scores(scale=scale, softcap=softcap, off=seqlen_k - seqlen_q, left=left,
                    right=right, alibi_slopes=_alibi(op, alibi_slopes, batch, heads, q),
                    **dropout_fields(dropout_p))
    out, lse = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scores,
                         need_lse=return_attn_probs, seq_major=True)
    out = out.transpose(1, 2)
    return (out, lse, None) if return_attn_probs else out


def _int32_tensor(op: str, name: str, value: Any, like: "torch.Tensor",
                  shape: Optional[Tuple[int, ...]] = None) -> "torch.Tensor":
    """``value`` as a contiguous int32 tensor (of ``shape``, if given) on ``like``'s device."""
    tensor = as_tensor(value, name, op)
    check_device(tensor, name, op)
    if tensor.device != like.device:
        raise ValueError(f"{op}: {name} is on {tensor.device} but q is on {like.device}; "
                         "expected one device")
    if tensor.dtype != torch.int32:
        raise TypeError(f"{op}: {name} has dtype {tensor.dtype}; expected torch.int32")
    if shape is not None and tuple(tensor.shape) != shape:
        raise ValueError(f"{op}: {name} has shape {tuple(tensor.shape)}; expected {shape}")
    return tensor.contiguous()


def _check_cu_seqlens(op: str, name: str, cu_seqlens: Any, total: int, max_seqlen: Any,
                      like: "torch.Tensor") -> "torch.Tensor":
    """cu_seqlens checked against the packed length and max_seqlen (one small device-to-host
    copy: a wrong prefix sum would read and write out of bounds, a short max_seqlen would skip
    rows)."""
    cu = _int32_tensor(op, name, cu_seqlens, like)
    if cu.dim() != 1 or cu.numel() < 2:
        raise ValueError(f"{op}: {name} has shape {tuple(cu.shape)}; expected (batch + 1,) "
                         "with batch >= 1")
    max_name = name.replace("cu_seqlens", "max_seqlen")
    if not isinstance(max_seqlen, int) or isinstance(max_seqlen, bool) or max_seqlen < 0:
        raise TypeError(f"{op}: {max_name} is {max_seqlen!r}; expected an int >= 0")
    if max_seqlen >= _MAX_SEQLEN:
        raise ValueError(f"{op}: {max_name} is {max_seqlen}; expected an int below 2**31 (it "
                         "sizes the launch)")
    starts = cu.tolist()
    lengths = [b - a for a, b in zip(starts, starts[1:])]
    if starts[0] != 0 or min(lengths) < 0 or starts[-1] > total:
        raise ValueError(f"{op}: {name} is {starts}; expected non-decreasing prefix sums from "
                         f"0 to at most {total} (the packed length)")
    if max(lengths) > max_seqlen:
        raise ValueError(f"{op}: {max_name} is {max_seqlen} but {name} has a sequence of "
                         f"{max(lengths)}; expected it at least the longest")
    return cu


def flash_attn_varlen_func(q: Any, k: Any, v: Any, cu_seqlens_q: Any, cu_seqlens_k: Any,
                           max_seqlen_q: int, max_seqlen_k: int, dropout_p: float = 0.0,
                           softmax_scale: Optional[float] = None, causal: bool = False,
                           window_size: Sequence[int] = (-1, -1), softcap: float = 0.0,
                           alibi_slopes: Any = None, deterministic: bool = False,
                           return_attn_probs: bool = False, block_table: Any = None
                           ) -> Union["torch.Tensor",
                                      Tuple["torch.Tensor", "torch.Tensor", None]]:
    """:func:`flash_attn_func` over packed sequences of different lengths.

    Args:
        q: (total_q, Hq, D); k, v: (total_k, Hk, D): the sequences of a batch one after another.
        cu_seqlens_q, cu_seqlens_k: int32 (B + 1,) prefix sums of the sequence lengths
            (``cu_seqlens[0] = 0``, ``cu_seqlens[-1] = total``); sequence b of q is rows
            ``cu_seqlens_q[b]:cu_seqlens_q[b + 1]``.
        max_seqlen_q, max_seqlen_k: the longest sequence of each (sizes the launch). Both
            are checked against cu_seqlens, which costs a small device-to-host copy of each.
        block_table: not supported (a paged KV cache goes to flash_attn_with_kvcache).
        The rest as in :func:`flash_attn_func`; each sequence aligns its causal mask, window
        and ALiBi distances bottom-right by its own lengths.

    Returns:
        out (total_q, Hq, D); or ``(out, softmax_lse, None)`` with softmax_lse (Hq, total_q).

    Example:
        >>> cu = torch.tensor([0, 5, 12], dtype=torch.int32, device="cuda")  # doctest: +SKIP
        >>> q = torch.randn(12, 8, 64, device="cuda", dtype=torch.float16)   # doctest: +SKIP
        >>> flash_attn_varlen_func(q, q, q, cu, cu, 7, 7, causal=True).shape  # doctest: +SKIP
        torch.Size([12, 8, 64])
    """
    op = "flash_attn_varlen_func"
    if block_table is not None:
        raise NotImplementedError(f"{op}: block_table is not supported; use "
                                  "flash_attn_with_kvcache for a paged KV cache")
    q, k, v = (as_tensor(t, name, op) for t, name in ((q, "q"), (k, "k"), (v, "v")))
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if tensor.dim() != 3:
            raise ValueError(f"{op}: {name} has {tensor.dim()} dimensions; expected 3, "
                             "(total, nheads, headdim)")
    q4, k4, v4 = _check_qkv(op, q[None], k[None], v[None])
    cu_q = _check_cu_seqlens(op, "cu_seqlens_q", cu_seqlens_q, q.shape[0], max_seqlen_q, q)
    cu_k = _check_cu_seqlens(op, "cu_seqlens_k", cu_seqlens_k, k.shape[0], max_seqlen_k, q)
    if cu_q.numel() != cu_k.numel():
        raise ValueError(f"{op}: cu_seqlens_q has {cu_q.numel()} entries and cu_seqlens_k "
                         f"{cu_k.numel()}; expected the same batch + 1")
    batch = cu_q.numel() - 1
    heads, dim = q.shape[1], q.shape[2]
    dropout_p, scale, softcap = _scalars(op, dropout_p, softmax_scale, softcap, dim)
    _check_flags(op, deterministic, return_attn_probs)
    left, right = _window(op, window_size, causal)
    scores = Scores(scale=scale, softcap=softcap, left=left, right=right,
                    alibi_slopes=_alibi(op, alibi_slopes, batch, heads, q),
                    **dropout_fields(dropout_p))
    ragged = Ragged(cu_q, cu_k, max_seqlen_q, max_seqlen_k)
    out, lse = attention(q4.transpose(1, 2), k4.transpose(1, 2), v4.transpose(1, 2), scores,
                         need_lse=return_attn_probs, seq_major=True, ragged=ragged)
    out = out.transpose(1, 2)[0]
    return (out, lse[0], None) if return_attn_probs else out


def _rotary_tables(op: str, rotary_cos: Any, rotary_sin: Any, q: "torch.Tensor",
                   has_new: bool) -> Optional[Tuple["torch.Tensor", "torch.Tensor"]]:
    if rotary_cos is None and rotary_sin is None:
        return None
    if rotary_cos is None or rotary_sin is None:
        raise ValueError(f"{op}: got only one of rotary_cos and rotary_sin; expected both or "
                         "neither")
    if not has_new:
        raise ValueError(f"{op}: rotary_cos/rotary_sin rotate the new k; expected k and v "
                         "given with them")
    tables = []
    for name, value in (("rotary_cos", rotary_cos), ("rotary_sin", rotary_sin)):
        table = as_tensor(value, name, op)
        check_device(table, name, op)
        check_dtype(table, name, op, (torch.float16, torch.bfloat16, torch.float32))
        if table.device != q.device:
            raise ValueError(f"{op}: {name} is on {table.device} but q is on {q.device}; "
                             "expected one device")
        if table.dim() != 2:
            raise ValueError(f"{op}: {name} has {table.dim()} dimensions; expected 2, "
                             "(seqlen_ro, rotary_dim / 2)")
        tables.append(table if table.stride(-1) == 1 else table.contiguous())
    cos, sin = tables
    if cos.shape != sin.shape:
        raise ValueError(f"{op}: rotary_cos has shape {tuple(cos.shape)} and rotary_sin "
                         f"{tuple(sin.shape)}; expected them equal")
    if not 1 <= 2 * cos.shape[1] <= q.shape[3]:
        raise ValueError(f"{op}: rotary_cos has {cos.shape[1]} columns, a rotary dimension of "
                         f"{2 * cos.shape[1]}; expected 1 to headdim / 2 = {q.shape[3] // 2}")
    return cos, sin


def flash_attn_with_kvcache(q: Any, k_cache: Any, v_cache: Any, k: Any = None, v: Any = None,
                            rotary_cos: Any = None, rotary_sin: Any = None,
                            cache_seqlens: Any = None, cache_batch_idx: Any = None,
                            cache_leftpad: Any = None, block_table: Any = None,
                            softmax_scale: Optional[float] = None, causal: bool = False,
                            window_size: Sequence[int] = (-1, -1), softcap: float = 0.0,
                            rotary_interleaved: bool = True, alibi_slopes: Any = None,
                            num_splits: int = 0, return_softmax_lse: bool = False
                            ) -> Union["torch.Tensor", Tuple["torch.Tensor", "torch.Tensor"]]:
    """Attention of new queries over a KV cache, after appending new keys and values in place
    (``specs/rwkv-and-attention.md`` C.5); forward only.

    For each batch b with ``L = cache_seqlens[b]``: the new k and v rows (rotated, for k) are
    written into the cache at rows ``L .. L + S_new - 1``; q is rotated at positions ``L + i``;
    query i then attends over cache rows ``[cache_leftpad[b], L + S_new)``, causal masks and
    windows aligned bottom-right. ``cache_seqlens`` is not incremented.

    Args:
        q: (B, Sq, Hq, D), fp16 or bf16, D <= 256.
        k_cache, v_cache: (B_cache, S_cache, Hk, D), or (num_blocks, page_block_size, Hk, D)
            pages with ``block_table``; q's dtype, Hq a multiple of Hk. Written in place.
        k, v: optional new rows (B, S_new, Hk, D), both or neither.
        rotary_cos, rotary_sin: optional (seqlen_ro, rotary_dim / 2) tables (fp16, bf16 or
            fp32; needs k and v): the first rotary_dim dims of q and of the new k are rotated,
            pairs (x[2j], x[2j+1]) if ``rotary_interleaved`` else (x[j], x[j + rotary_dim/2]).
            Positions past the table are left unrotated.
        cache_seqlens: int or int32 (B,): the cache rows in use before the new ones; None means
            every row of the cache (then k and v must be None).
        cache_batch_idx: int32 (B,): the cache entry of each batch (default b); not with
            block_table.
        cache_leftpad: int32 (B,): the first cache row each batch attends to; not with
            block_table.
        block_table: int32 (B, max_blocks): cache row j of batch b lives in row
            ``j % page_block_size`` of page ``block_table[b, j // page_block_size]``;
            page_block_size a multiple of 16.
        softmax_scale, causal, window_size, softcap, alibi_slopes: as in
            :func:`flash_attn_func`, with Sk = L + S_new per batch.
        num_splits: how many chunks the keys are cut into (0: chosen for the device). Results
            differ only by rounding.
        return_softmax_lse: also return the log-sum-exp (B, Hq, Sq) fp32.

    Values inside the int32 tensors are not checked (that would synchronise): a length past
    the cache is clamped to it, a page index out of range reads page 0 and writes nothing.

    Returns:
        out (B, Sq, Hq, D); or ``(out, softmax_lse)``.

    Example:
        >>> bf16 = dict(device="cuda", dtype=torch.bfloat16)                     # doctest: +SKIP
        >>> k_cache = torch.zeros(2, 4096, 8, 128, **bf16)                       # doctest: +SKIP
        >>> v_cache = torch.zeros(2, 4096, 8, 128, **bf16)                       # doctest: +SKIP
        >>> lengths = torch.tensor([100, 37], dtype=torch.int32, device="cuda")  # doctest: +SKIP
        >>> q = torch.randn(2, 1, 32, 128, **bf16)                               # doctest: +SKIP
        >>> k, v = torch.randn(2, 2, 1, 8, 128, **bf16)                          # doctest: +SKIP
        >>> out = flash_attn_with_kvcache(q, k_cache, v_cache, k, v, cache_seqlens=lengths,
        ...                               causal=True)                            # doctest: +SKIP
    """
    op = "flash_attn_with_kvcache"
    q, k_cache, v_cache = _check_qkv(op, q, k_cache, v_cache, ("q", "k_cache", "v_cache"),
                                     same_batch=False)
    batch, seqlen_q, heads, dim = q.shape
    kv_heads = k_cache.shape[2]

    table, page_size = None, 0
    if block_table is not None:
        table = _int32_tensor(op, "block_table", block_table, q)
        if table.dim() != 2 or table.shape[0] != batch:
            raise ValueError(f"{op}: block_table has shape {tuple(table.shape)}; expected "
                             f"({batch}, max_num_blocks_per_seq)")
        page_size = k_cache.shape[1]
        if page_size % 16 != 0:
            raise ValueError(f"{op}: k_cache has pages of {page_size} rows; expected a "
                             "multiple of 16")
        for name, value in (("cache_batch_idx", cache_batch_idx),
                            ("cache_leftpad", cache_leftpad)):
            if value is not None:
                raise NotImplementedError(f"{op}: {name} with block_table is not supported")
        capacity = table.shape[1] * page_size
    else:
        capacity = k_cache.shape[1]
        if cache_batch_idx is None and k_cache.shape[0] != batch:
            raise ValueError(f"{op}: k_cache has batch {k_cache.shape[0]} but q has {batch}; "
                             "expected them equal (or cache_batch_idx)")
    batch_idx = None if cache_batch_idx is None else _int32_tensor(
        op, "cache_batch_idx", cache_batch_idx, q, (batch,))
    leftpad = None if cache_leftpad is None else _int32_tensor(
        op, "cache_leftpad", cache_leftpad, q, (batch,))

    if (k is None) != (v is None):
        raise ValueError(f"{op}: got only one of k and v; expected both or neither")
    new_rows = 0
    if k is not None:
        k, v = check_inputs(op, (("k", k), ("v", v)), "(batch, seqlen_new, nheads_k, headdim)")
        check_same(op, ("q", q), ("k", k))
        if tuple(k.shape) != tuple(v.shape) or (k.shape[0], k.shape[2], k.shape[3]) != (
                batch, kv_heads, dim):
            raise ValueError(f"{op}: k has shape {tuple(k.shape)} and v {tuple(v.shape)}; "
                             f"expected both ({batch}, seqlen_new, {kv_heads}, {dim})")
        new_rows = k.shape[1]
        for name, cache in (("k_cache", k_cache), ("v_cache", v_cache)):
            check_distinct(cache, name, op, "expected distinct elements (k and v are "
                           "appended to the caches in place)")
        appended = "k and v are appended to the caches in place"
        check_separate(op, "v_cache", v_cache, "k_cache", k_cache, appended)
        for new_name, new in (("k", k), ("v", v)):
            for name, cache in (("k_cache", k_cache), ("v_cache", v_cache)):
                check_separate(op, new_name, new, name, cache, appended)
    rotary = _rotary_tables(op, rotary_cos, rotary_sin, q, k is not None)

    if cache_seqlens is None:
        if k is not None:
            raise ValueError(f"{op}: k and v need cache_seqlens (where to append them)")
        seqlens = None
    elif isinstance(cache_seqlens, int) and not isinstance(cache_seqlens, bool):
        if not 0 <= cache_seqlens <= capacity - new_rows:
            raise ValueError(f"{op}: cache_seqlens is {cache_seqlens}; expected 0 to "
                             f"{capacity - new_rows} (the cache holds {capacity} rows, "
                             f"{new_rows} new)")
        seqlens = torch.full((batch,), cache_seqlens, dtype=torch.int32, device=q.device)
    else:
        seqlens = _int32_tensor(op, "cache_seqlens", cache_seqlens, q, (batch,))
    if not isinstance(num_splits, int) or isinstance(num_splits, bool) or num_splits < 0:
        raise ValueError(f"{op}: num_splits is {num_splits!r}; expected an int >= 0 "
                         "(0 chooses)")
    _, scale, softcap = _scalars(op, 0.0, softmax_scale, softcap, dim)
    check_bool(rotary_interleaved, "rotary_interleaved", op)
    check_bool(return_softmax_lse, "return_softmax_lse", op)
    left, right = _window(op, window_size, causal)
    # (off aligns a full cache, cache_seqlens None, bottom-right; lengths align each batch)
    scores = Scores(scale=scale, softcap=softcap, off=capacity - seqlen_q, left=left,
                    right=right, alibi_slopes=_alibi(op, alibi_slopes, batch, heads, q))

    rotated = None if rotary is None else (*rotary, rotary_interleaved)
    if k is not None:
        placement = {"seqlens": seqlens, "batch_idx": batch_idx, "block_table": table,
                     "page_size": page_size}
        write_rows(k, k_cache, capacity, rotary=rotated, **placement)
        write_rows(v, v_cache, capacity, **placement)
    if rotary is not None:
        rotated_q = torch.empty(q.shape, dtype=q.dtype, device=q.device)
        write_rows(q, rotated_q, seqlen_q, seqlens=seqlens, at_position=False, rotary=rotated)
        q = rotated_q
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    cache = KVCache(seqlens, new_rows, capacity, leftpad, batch_idx, table, page_size)
    lse = splitkv_attention(q.transpose(1, 2), k_cache.transpose(1, 2), v_cache.transpose(1, 2),
                            out.transpose(1, 2), scores, need_lse=return_softmax_lse,
                            cache=cache, num_splits=num_splits)
    return (out, lse) if return_softmax_lse else out
