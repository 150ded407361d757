"""FlashAttention-2's Python API over Tessera's attention kernels (``specs/rwkv-and-attention.md``
part C): code using ``flash_attn`` ports by changing the import.

    from tessera.ops import flash_attn_func
    out = flash_attn_func(q, k, v, causal=True)                      # q: (B, Sq, Hq, D)
    out, lse, _ = flash_attn_func(q, k, v, window_size=(256, 0), softcap=30.0,
                                  return_attn_probs=True)            # lse: (B, Hq, Sq) fp32

Tensors are (B, S, H, D), fp16 or bf16, the last dimension contiguous; causal masks and
windows are aligned bottom-right (the last query sees the last key). Differentiable in q, k and
v; the backward never uses atomics, so it is always deterministic.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple, Union

from .arguments import as_tensor, check_cuda, torch
from .attention_core import Ragged, Scores, attention, check_inputs

__all__ = ["flash_attn_func", "flash_attn_varlen_func"]

MAX_HEAD_DIM = 256


def _check_qkv(op: str, q: Any, k: Any, v: Any) -> Tuple["torch.Tensor", ...]:
    """q (B, Sq, Hq, D), k and v (B, Sk, Hk, D) checked: device, dtype, rank, layout, heads."""
    q, k, v = check_inputs(op, (("q", q), ("k", k), ("v", v)), "(batch, seqlen, nheads, headdim)")
    batch, _, heads, dim = q.shape
    if not 1 <= dim <= MAX_HEAD_DIM:
        raise ValueError(f"{op}: q has head dimension {dim}; expected 1 to {MAX_HEAD_DIM}")
    if k.shape[0] != batch or k.shape[3] != dim:
        raise ValueError(f"{op}: k has shape {tuple(k.shape)} and q {tuple(q.shape)}; expected "
                         "the same batch and head dimension")
    if tuple(v.shape) != tuple(k.shape):
        raise ValueError(f"{op}: v has shape {tuple(v.shape)} but k has {tuple(k.shape)}; "
                         "expected them equal")
    kv_heads = k.shape[2]
    if kv_heads < 1 or heads % kv_heads != 0:
        raise ValueError(f"{op}: q has {heads} heads and k {kv_heads}; expected the query "
                         "heads to be a multiple of the key/value heads")
    return q, k, v


def _window(op: str, window_size: Sequence[int], causal: bool) -> Tuple[int, int]:
    try:
        left, right = (int(w) for w in window_size)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: window_size is {window_size!r}; expected a pair of ints "
                        "(left, right)") from None
    if left < -1 or right < -1:
        raise ValueError(f"{op}: window_size is {tuple(window_size)}; expected each side >= 0 "
                         "or -1 (unbounded)")
    return left, 0 if causal else right


def _alibi(op: str, alibi_slopes: Any, batch: int, heads: int,
           like: "torch.Tensor") -> Optional["torch.Tensor"]:
    if alibi_slopes is None:
        return None
    slopes = as_tensor(alibi_slopes, "alibi_slopes", op)
    check_cuda(slopes, "alibi_slopes", op)
    if slopes.device != like.device:
        raise ValueError(f"{op}: alibi_slopes is on {slopes.device} but q is on {like.device}; "
                         "expected one device")
    if slopes.dtype != torch.float32:
        raise TypeError(f"{op}: alibi_slopes has dtype {slopes.dtype}; expected torch.float32")
    if tuple(slopes.shape) not in ((heads,), (batch, heads)):
        raise ValueError(f"{op}: alibi_slopes has shape {tuple(slopes.shape)}; expected "
                         f"({heads},) or ({batch}, {heads})")
    return slopes.contiguous()


def _scalars(op: str, dropout_p: float, softmax_scale: Optional[float], softcap: float,
             dim: int) -> Tuple[float, float]:
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p is {dropout_p}; expected a probability in [0, 1]")
    if dropout_p > 0.0:
        raise NotImplementedError(f"{op}: dropout_p > 0 is not supported yet")
    if softcap < 0.0:
        raise ValueError(f"{op}: softcap is {softcap}; expected >= 0 (0 turns it off)")
    scale = 1.0 / math.sqrt(dim) if softmax_scale is None else float(softmax_scale)
    return scale, float(softcap)


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
        dropout_p: must be 0 for now.
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
    del deterministic
    q, k, v = _check_qkv(op, q, k, v)
    batch, seqlen_q, heads, dim = q.shape
    seqlen_k = k.shape[1]
    scale, softcap = _scalars(op, dropout_p, softmax_scale, softcap, dim)
    left, right = _window(op, window_size, causal)
    scores = Scores(scale=scale, softcap=softcap, off=seqlen_k - seqlen_q, left=left,
                    right=right, alibi_slopes=_alibi(op, alibi_slopes, batch, heads, q))
    out, lse = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scores,
                         need_lse=return_attn_probs, seq_major=True)
    out = out.transpose(1, 2)
    return (out, lse, None) if return_attn_probs else out


def _check_cu_seqlens(op: str, name: str, cu_seqlens: Any, total: int, max_seqlen: Any,
                      like: "torch.Tensor") -> "torch.Tensor":
    """cu_seqlens checked against the packed length and max_seqlen (one small device-to-host
    copy: a wrong prefix sum would read and write out of bounds, a short max_seqlen would skip
    rows)."""
    cu = as_tensor(cu_seqlens, name, op)
    check_cuda(cu, name, op)
    if cu.device != like.device:
        raise ValueError(f"{op}: {name} is on {cu.device} but q is on {like.device}; expected "
                         "one device")
    if cu.dtype != torch.int32:
        raise TypeError(f"{op}: {name} has dtype {cu.dtype}; expected torch.int32")
    if cu.dim() != 1 or cu.numel() < 2:
        raise ValueError(f"{op}: {name} has shape {tuple(cu.shape)}; expected (batch + 1,) "
                         "with batch >= 1")
    max_name = name.replace("cu_seqlens", "max_seqlen")
    if not isinstance(max_seqlen, int) or isinstance(max_seqlen, bool) or max_seqlen < 0:
        raise TypeError(f"{op}: {max_name} is {max_seqlen!r}; expected an int >= 0")
    starts = cu.tolist()
    lengths = [b - a for a, b in zip(starts, starts[1:])]
    if starts[0] != 0 or min(lengths) < 0 or starts[-1] > total:
        raise ValueError(f"{op}: {name} is {starts}; expected non-decreasing prefix sums from "
                         f"0 to at most {total} (the packed length)")
    if max(lengths) > max_seqlen:
        raise ValueError(f"{op}: {max_name} is {max_seqlen} but {name} has a sequence of "
                         f"{max(lengths)}; expected it at least the longest")
    return cu.contiguous()


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
    del deterministic
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
    scale, softcap = _scalars(op, dropout_p, softmax_scale, softcap, dim)
    left, right = _window(op, window_size, causal)
    scores = Scores(scale=scale, softcap=softcap, left=left, right=right,
                    alibi_slopes=_alibi(op, alibi_slopes, batch, heads, q))
    ragged = Ragged(cu_q, cu_k, max_seqlen_q, max_seqlen_k)
    out, lse = attention(q4.transpose(1, 2), k4.transpose(1, 2), v4.transpose(1, 2), scores,
                         need_lse=return_attn_probs, seq_major=True, ragged=ragged)
    out = out.transpose(1, 2)[0]
    return (out, lse[0], None) if return_attn_probs else out
