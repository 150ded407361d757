"""Launches of the attention kernels (``kernels/attention.py``) and their autograd function,
shared by ``scaled_dot_product_attention`` and the ``flash_attn_*`` entry points.

Both entry points reduce a call to :class:`Scores` (how the logits are formed and which are
visible) and four (B, H, L, D)-shaped views: the flash layout (B, S, H, D) is passed as its
transpose, so the kernels read either layout in place through strides. :func:`attention`
computes the output and, when asked or when autograd will need it, the log-sum-exp; the
backward recomputes the probabilities from it. Without autograd, calls with few queries per kv
head (decoding) go to the split-KV kernel (``attention_splitkv.py``).

    scores = Scores(scale=0.125, off=lk - lq, right=0)            # bottom-right causal
    out, lse = attention(q, k, v, scores, need_lse=True)          # (B, Hq, Lq, D), (B, Hq, Lq)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from . import settings
from .arguments import as_tensor, check_device, check_dtype, check_same, torch
from .attention_splitkv import SPLITKV_MAX_ROWS, splitkv_attention
from .kernels.attention import (MASK_ADD, MASK_BOOL, MASK_NONE, attention_bwd_delta_kernel,
                                attention_bwd_dkdv_kernel, attention_bwd_dq_kernel,
                                attention_fwd_kernel, choose_bwd_config, choose_config,
                                head_dim_block)
from .kernels.grid import batch_head_grid

__all__ = ["HALF_DTYPES", "Ragged", "Scores", "attention", "check_inputs", "dropout_fields"]

_DELTA_BLOCK_M = 64
HALF_DTYPES = (torch.float16, torch.bfloat16) if torch is not None else ()


@dataclass(frozen=True)
class Scores:
    """The logits ``scale * q.k``, capped (``softcap > 0``), ALiBi-biased and windowed: key j
    is visible to query i iff ``i + off - left <= j <= i + off + right`` (a negative bound is
    unbounded), and where ``mask`` allows it (bool: True attends; float: added, natural-log
    domain). ``mask`` is a (B, Hq, Lq, Lk) view; ``alibi_slopes`` fp32 (Hq,) or (B, Hq).
    ``dropout`` > 0 drops probabilities (C.2 step 6) by a Philox mask keyed by ``seed``."""
    scale: float
    softcap: float = 0.0
    off: int = 0
    left: int = -1
    right: int = -1
    mask: Optional["torch.Tensor"] = None
    alibi_slopes: Optional["torch.Tensor"] = None
    dropout: float = 0.0
    seed: int = 0

    def kernel_arguments(self) -> Tuple[list, dict]:
        """The kernels' mask and ALiBi tensors, their strides and the scalars after them, and
        the constexprs they select."""
        mask_kind, mask, mask_strides = MASK_NONE, None, (0, 0, 0, 0)
        if self.mask is not None:
            mask = self.mask
            if mask.dtype == torch.bool:
                mask_kind, mask = MASK_BOOL, mask.view(torch.uint8)
            else:
                mask_kind = MASK_ADD
            mask_strides = tuple(mask.stride())
        slopes, slope_stride = self.alibi_slopes, 0
        if slopes is not None and slopes.dim() == 2:
            slope_stride = slopes.stride(0)
        tensors = [mask, slopes]
        strides = [*mask_strides, slope_stride]
        scalars = [self.scale, self.softcap if self.softcap > 0 else 1.0, self.off,
                   max(self.left, 0), max(self.right, 0)]
        constants = {"HAS_LEFT": self.left >= 0, "HAS_RIGHT": self.right >= 0,
                     "MASK_KIND": mask_kind, "SOFTCAP": self.softcap > 0,
                     "ALIBI": slopes is not None}
        return [tensors, strides, scalars], constants

    def dropout_arguments(self, rows: int, cols: int) -> Tuple[list, dict]:
        """The kernels' dropout scalars (the mask's counters number the ``rows`` query rows
        and ``cols`` key rows of each head) and constexpr."""
        keep = 1.0 - self.dropout
        return ([self.seed, self.dropout, 1.0 / keep if keep > 0 else 0.0, rows, cols],
                {"DROPOUT": self.dropout > 0})


def dropout_fields(dropout_p: float) -> dict:
    """Scores' dropout fields for a call with ``dropout_p``: a fresh seed per call from
    PyTorch's default generator (``torch.manual_seed`` reproduces it), always of 64 bits so
    that every seed runs the same compiled kernel."""
    if dropout_p <= 0.0:
        return {}
    return {"dropout": float(dropout_p),
            "seed": int(torch.randint(2 ** 32, 2 ** 62, (), dtype=torch.int64))}


@dataclass(frozen=True)
class Ragged:
    """Packed sequences of different lengths (``flash_attn_varlen_func``): the views' batch is
    1 and their length the total; sequence b spans rows ``cu_seqlens_q[b]:cu_seqlens_q[b+1]``
    of q (and likewise of k and v). Windows align bottom-right per sequence."""
    cu_seqlens_q: "torch.Tensor"
    cu_seqlens_k: "torch.Tensor"
    max_seqlen_q: int
    max_seqlen_k: int

    @property
    def batch(self) -> int:
        return self.cu_seqlens_q.numel() - 1


def _problem(q: "torch.Tensor", k: "torch.Tensor", ragged: Optional[Ragged]) -> dict:
    """Batch, heads, lengths (the longest, when ragged) and the kernels' sequence arguments:
    the cu_seqlens pointers and the batch and head strides of the LSE-shaped tensors."""
    batch, heads, lq, _ = q.shape
    lk = k.shape[2]
    if ragged is None:
        return {"batch": batch, "lq": lq, "lk": lk, "cu": [None, None],
                "lse_strides": [heads * lq, lq], "VARLEN": False}
    return {"batch": ragged.batch, "lq": ragged.max_seqlen_q, "lk": ragged.max_seqlen_k,
            "cu": [ragged.cu_seqlens_q, ragged.cu_seqlens_k], "lse_strides": [0, lq],
            "VARLEN": True}


def check_inputs(op: str, named: Sequence[Tuple[str, Any]], layout: str,
                 dtypes: Tuple["torch.dtype", ...] = HALF_DTYPES) -> List["torch.Tensor"]:
    """The (name, value) inputs as CUDA or CPU tensors of rank 4 (``layout`` names the dims),
    of one of ``dtypes``, one device and dtype, the last dimension contiguous; errors name the
    argument."""
    tensors = []
    for name, value in named:
        tensor = as_tensor(value, name, op)
        check_device(tensor, name, op)
        check_dtype(tensor, name, op, dtypes)
        if tensor.dim() != 4:
            raise ValueError(f"{op}: {name} has {tensor.dim()} dimensions; expected 4, "
                             f"{layout}")
        if tensor.stride(-1) != 1 and tensor.shape[-1] > 1:
            raise ValueError(f"{op}: {name}'s last dimension has stride {tensor.stride(-1)}; "
                             "expected it contiguous (stride 1)")
        tensors.append(tensor)
    check_same(op, *zip((name for name, _ in named), tensors))
    return tensors


def _bhl_strides(tensor: "torch.Tensor", ragged: Optional[Ragged]) -> list:
    """Batch, head and row strides of a (B, H, L, D) view; no batch stride when ragged (the
    batch index is then the sequence's, and the rows are offset by cu_seqlens instead)."""
    return [0 if ragged is not None else tensor.stride(0), tensor.stride(1), tensor.stride(2)]


def _new_output(q: "torch.Tensor", v: "torch.Tensor", seq_major: bool) -> "torch.Tensor":
    """The (B, Hq, Lq, D) output, viewing a (B, Lq, Hq, D) tensor when ``seq_major``."""
    batch, heads, lq, dim = q.shape
    if seq_major:
        return torch.empty((batch, lq, heads, dim), dtype=v.dtype,
                           device=q.device).transpose(1, 2)
    return torch.empty((batch, heads, lq, dim), dtype=v.dtype, device=q.device)


def _forward(q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor", scores: Scores,
             need_lse: bool, seq_major: bool, ragged: Optional[Ragged]
             ) -> Tuple["torch.Tensor", Optional["torch.Tensor"]]:
    """softmax(logits) @ v (see :func:`attention`) and the (B, Hq, Lq) fp32 LSE if asked."""
    heads, dim, kv_heads = q.shape[1], q.shape[3], k.shape[1]
    problem = _problem(q, k, ragged)
    out = _new_output(q, v, seq_major)
    lse = None
    if need_lse:
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
    (tensors, strides, scalars), constants = scores.kernel_arguments()
    random, dropout = scores.dropout_arguments(q.shape[2], k.shape[2])
    config = choose_config(dim, constants["HAS_LEFT"] or constants["HAS_RIGHT"],
                           q.dtype == torch.float32)
    head_dim = head_dim_block(dim)
    grid, pairs = batch_head_grid(-(-problem["lq"] // config["BLOCK_M"]), problem["batch"], heads)
    attention_fwd_kernel[grid](
        q, k, v, out, lse, *tensors, *problem["cu"],
        *_bhl_strides(q, ragged), *_bhl_strides(k, ragged), *_bhl_strides(v, ragged),
        *_bhl_strides(out, ragged), *strides, *problem["lse_strides"],
        heads, heads // kv_heads, problem["lq"], problem["lk"], dim, *scalars, *random,
        BLOCK_M=config["BLOCK_M"], BLOCK_N=config["BLOCK_N"], HEAD_DIM=head_dim,
        EVEN_D=head_dim == dim, POSITIVE_SCALE=scores.scale > 0, VARLEN=problem["VARLEN"],
        **pairs, **constants, **dropout, **settings.launch_options(config))
    return out, lse


def _backward(q, k, v, out, lse, grad_out, scores: Scores, ragged: Optional[Ragged]):
    """dq, dk, dv (in the inputs' dtypes and shapes) of the attention that gave ``out``."""
    heads, dim, kv_heads = q.shape[1], q.shape[3], k.shape[1]
    problem = _problem(q, k, ragged)
    batch, lq, lk = problem["batch"], problem["lq"], problem["lk"]
    if grad_out.stride(-1) != 1:
        grad_out = grad_out.contiguous()
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    head_dim = head_dim_block(dim)
    delta = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
    if lq > 0:
        grid, pairs = batch_head_grid(-(-lq // _DELTA_BLOCK_M), batch, heads)
        attention_bwd_delta_kernel[grid](
            out, grad_out, delta, problem["cu"][0], *_bhl_strides(out, ragged),
            *_bhl_strides(grad_out, ragged), *problem["lse_strides"], heads, lq, dim,
            BLOCK_M=_DELTA_BLOCK_M, HEAD_DIM=head_dim, VARLEN=problem["VARLEN"],
            **pairs, num_warps=4)

    (tensors, strides, scalars), constants = scores.kernel_arguments()
    random, dropout = scores.dropout_arguments(q.shape[2], k.shape[2])
    constants.update(HEAD_DIM=head_dim, EVEN_D=head_dim == dim, VARLEN=problem["VARLEN"],
                     **dropout)
    qkv_strides = [*_bhl_strides(q, ragged), *_bhl_strides(k, ragged),
                   *_bhl_strides(v, ragged), *_bhl_strides(grad_out, ragged)]
    config = choose_bwd_config(dim, q.dtype == torch.float32)
    dkdv = config["dkdv"]
    if lk > 0:  # (no program to launch otherwise)
        grid, pairs = batch_head_grid(-(-lk // dkdv["BLOCK_N"]), batch, kv_heads)
        attention_bwd_dkdv_kernel[grid](
            q, k, v, grad_out, lse, delta, dk, dv, *tensors, *problem["cu"], *qkv_strides,
            *_bhl_strides(dk, ragged), *_bhl_strides(dv, ragged), *strides,
            *problem["lse_strides"], heads, kv_heads, heads // kv_heads, lq, lk, dim, *scalars,
            *random, BLOCK_M=dkdv["BLOCK_M"], BLOCK_N=dkdv["BLOCK_N"], **pairs,
            **constants, **settings.launch_options(dkdv))
    dq_config = config["dq"]
    if lq > 0:
        grid, pairs = batch_head_grid(-(-lq // dq_config["BLOCK_M"]), batch, heads)
        attention_bwd_dq_kernel[grid](
            q, k, v, grad_out, lse, delta, dq, *tensors, *problem["cu"], *qkv_strides,
            *_bhl_strides(dq, ragged), *strides, *problem["lse_strides"],
            heads, heads // kv_heads, lq, lk, dim, *scalars, *random,
            BLOCK_M=dq_config["BLOCK_M"], BLOCK_N=dq_config["BLOCK_N"], **pairs,
            **constants, **settings.launch_options(dq_config))
    return dq, dk, dv


_function = None


def _autograd_function():
    """The torch.autograd.Function (built on first use: importing needs no PyTorch)."""
    global _function
    if _function is None:
        class AttentionFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, q, k, v, scores, seq_major, ragged):
                out, lse = _forward(q, k, v, scores, True, seq_major, ragged)
                ctx.scores, ctx.ragged = scores, ragged
                ctx.save_for_backward(q, k, v, out, lse)
                ctx.mark_non_differentiable(lse)
                return out, lse

            @staticmethod
            def backward(ctx, grad_out, grad_lse):
                q, k, v, out, lse = ctx.saved_tensors
                dq, dk, dv = _backward(q, k, v, out, lse, grad_out, ctx.scores, ctx.ragged)
                return dq, dk, dv, None, None, None

        _function = AttentionFunction
    return _function


def attention(q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor", scores: Scores,
              need_lse: bool = False, seq_major: bool = False, ragged: Optional[Ragged] = None
              ) -> Tuple["torch.Tensor", Optional["torch.Tensor"]]:
    """``softmax(logits(q k^T)) v`` over checked (B, H, L, D) views (q: (B, Hq, Lq, D); k, v:
    (B, Hkv, Lk, D)); returns ``(out, lse)``: out (B, Hq, Lq, D), a view of a (B, Lq, Hq, D)
    tensor when ``seq_major``; lse (B, Hq, Lq) fp32, or None when not asked for.
    ``ragged``: the views hold packed sequences (batch 1). Differentiable in q, k and v when
    any of them requires grad."""
    if q.numel() == 0:
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
        return _new_output(q, v, seq_major), lse if need_lse else None
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        out, lse = _autograd_function().apply(q, k, v, scores, seq_major, ragged)
        return out, lse if need_lse else None
    if (ragged is None and scores.dropout == 0
            and q.shape[2] * (q.shape[1] // k.shape[1]) <= SPLITKV_MAX_ROWS):
        out = _new_output(q, v, seq_major)
        return out, splitkv_attention(q, k, v, out, scores, need_lse)
    return _forward(q, k, v, scores, need_lse, seq_major, ragged)
