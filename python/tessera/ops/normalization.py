"""``softmax``, ``layer_norm`` and ``rms_norm`` with PyTorch's semantics (``specs/ops.md``,
"Normalisation, softmax, activations, dropout"), computed by the kernels of
``kernels/normalization.py``.

fp16, bf16 and fp32 inputs (weights of the norms in any of them), fp32 statistics, outputs
in the input's dtype (softmax: in ``dtype`` when given). Inputs of any strides are read where
they are, never copied: the reduced dims of a row, and the dims that enumerate the rows, are
merged where the strides allow and passed to the kernel as strides; outputs are allocated
contiguous. Rows up to 16384 elements are normalised from registers in one pass, longer ones
in two passes over memory.

``layer_norm`` and ``rms_norm`` are differentiable (torch.autograd) in the input, the weight and
the bias, by the kernels of ``kernels/normalization_backward.py``: when grad mode is on and one
of them requires grad, the call goes through an autograd.Function whose forward makes the same
launches as a call without autograd and saves only the input and weight (the backward
recomputes the row statistics). Without grad the call is unchanged.

    >>> import tessera.ops
    >>> p = tessera.ops.softmax(scores, dim=-1)                         # doctest: +SKIP
    >>> h = tessera.ops.layer_norm(x, (4096,), weight, bias, eps=1e-5)  # doctest: +SKIP
    >>> h = tessera.ops.rms_norm(x, x.shape[-1:], weight)               # doctest: +SKIP
"""
from __future__ import annotations

import functools
import math
from typing import Any, List, Optional, Sequence, Tuple, Union

try:
    import torch
except ImportError:  # pragma: no cover - the CPU tier has no PyTorch (as_tensor says so)
    torch = None

from ..utils import cdiv
from . import settings
from .arguments import as_tensor, check_device, check_dtype, check_finite, sm_count
from .kernels import grid as launch_grid
from .kernels.normalization import (Block, Launch, choose_block, merge_dims, needs_int64,
                                    norm_kernel, softmax_bwd_kernel, softmax_kernel,
                                    split_rows)
from .kernels.normalization_backward import (STATS_BLOCK_N, STATS_NUM_WARPS, choose_sum_block,
                                             norm_bwd_kernel, norm_bwd_stats_kernel,
                                             plan_backward, sum_needs_int64, sum_rows_kernel)
from .no_backward import tracks_grad

__all__ = ["layer_norm", "rms_norm", "softmax"]

Shape = Tuple[int, ...]
# One launch: each tensor's element offset, the kernel's run-time arguments after the
# pointers, and its row dims / int64 / row-mask constexprs and grid.
Plan = Tuple[Block, List[Tuple[Tuple[int, ...], Tuple[Any, ...], int, bool, bool, int]]]


def _floats() -> Tuple[Any, ...]:
    return (torch.float16, torch.bfloat16, torch.float32)


def contiguous_strides(shape: Shape) -> Shape:
    """The element strides of a row-major (C-contiguous) tensor of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _row_arguments(launch: Launch, tensors: int) -> Tuple[int, Tuple[int, ...], int]:
    """(number of rows, (M1, M2, then each tensor's three row strides), ROW_DIMS) of a launch;
    unused dims get size and stride 1, which the JIT folds into the kernel."""
    dims = list(launch.dims) or [(1, (1,) * tensors)]
    row_dims = len(dims)
    dims += [(1, (1,) * tensors)] * (3 - row_dims)
    n_rows = dims[0][0] * dims[1][0] * dims[2][0]
    strides = tuple(dims[d][1][t] for t in range(tensors) for d in range(3))
    return n_rows, (dims[1][0], dims[2][0]) + strides, row_dims


def _plan(op: str, row_groups: List[Tuple[int, Tuple[int, ...]]],
          columns: List[Tuple[int, Tuple[int, ...]]], n_cols: int, row_strided: bool,
          num_warps: Optional[int], tensors: int = 2) -> Tuple[Block, List[Launch]]:
    n_rows = 1
    for size, _ in row_groups:
        n_rows *= size
    # Rows whose starts are adjacent while their columns are not: several per program.
    strided = row_strided and bool(row_groups) and row_groups[-1][1][0] == 1
    block = choose_block(op, n_cols, n_rows, strided, num_warps)
    return block, split_rows(row_groups, block.rows, tensors=tensors)


@functools.lru_cache(maxsize=1024)
def _softmax_plan(shape: Shape, strides: Tuple[Shape, ...], dim: int,
                  num_warps: Optional[int]) -> Plan:
    """The launches of a row kernel along ``dim`` over tensors of ``shape`` with ``strides``
    (the forward's input; the backward's output and gradient), writing a new contiguous
    tensor: per launch, the tensors' offsets and the kernel's arguments (the row sizes, then
    each tensor's row and column strides, the written one last)."""
    written = contiguous_strides(shape)
    every = strides + (written,)
    outer = [d for d in range(len(shape)) if d != dim]
    row_groups = merge_dims([shape[d] for d in outer], [[t[d] for d in outer] for t in every])
    n_cols = shape[dim]
    col_strides = tuple(t[dim] for t in every)
    block, launches = _plan("softmax", row_groups, [(n_cols, col_strides)], n_cols,
                            strides[0][dim] != 1 and n_cols > 1, num_warps, len(every))
    steps = []
    for launch in launches:
        n_rows, rows, row_dims = _row_arguments(launch, len(every))
        index_64 = needs_int64(launch.dims, [(n_cols, col_strides)], block.rows,
                               block.block_n)
        per_tensor = [arg for t in range(len(every))
                      for arg in (*rows[2 + 3 * t:5 + 3 * t], col_strides[t])]
        args = (n_rows, n_cols, *rows[:2], *per_tensor)
        steps.append((launch.offsets, args, row_dims, index_64, n_rows % block.rows == 0,
                      cdiv(n_rows, block.rows)))
    return block, steps


def _num_stages() -> int:
    """The kernels' loops stream each element once and are not pipelined: one stage unless
    ``tessera.ops.set_default_num_stages`` says otherwise. (There is no autotuning here, so
    ``max_num_configs`` does not apply; ``num_warps`` overrides the heuristic's warps.)"""
    return settings.get_default_num_stages() or 1


def _pointer(tensor: "torch.Tensor", offset: int) -> "torch.Tensor":
    """A tensor whose first element is element ``offset`` of ``tensor``: for the kernel's
    pointer, a 1-D view from there to ``tensor``'s last element, since the host back end lets
    a kernel access the memory its arguments span and nothing else."""
    if offset == 0:
        return tensor
    end = 1 + sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    return tensor.as_strided((end - offset,), (1,), tensor.storage_offset() + offset)


def _check_dim(op: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    rank = max(ndim, 1)  # a 0-d tensor has one dim for this purpose, as in PyTorch
    if not -rank <= dim < rank:
        raise ValueError(f"{op}: dim {dim} is out of range for input with {ndim} dimensions; "
                         f"expected {-rank} <= dim < {rank}")
    return dim % rank


def softmax(input: Any, dim: int, dtype: Optional["torch.dtype"] = None) -> "torch.Tensor":
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``, as ``torch.softmax``.

    ``dtype``: the result's dtype; the input is converted to it before the op (the kernel
    reads the input's dtype and rounds each element to ``dtype``). Sums and maxima are fp32.
    A row holding +inf or NaN, or only -inf, gives NaN, as in PyTorch.

    >>> tessera.ops.softmax(torch.randn(8, 1000, device="cuda"), dim=-1)   # doctest: +SKIP
    """
    x = as_tensor(input, "input", "softmax")
    check_device(x, "input", "softmax")
    check_dtype(x, "input", "softmax", _floats())
    dim = _check_dim("softmax", dim, x.dim())
    if dtype is None:
        dtype = x.dtype
    elif not isinstance(dtype, torch.dtype):
        raise TypeError(f"softmax: dtype must be a torch.dtype or None, got "
                        f"{type(dtype).__name__}")
    elif dtype not in _floats():
        raise TypeError(f"softmax: dtype is {dtype}; expected one of torch.float16, "
                        "torch.bfloat16, torch.float32 or None")
    if tracks_grad((x,)):
        return _softmax_function().apply(x, dim, dtype)
    return _softmax_forward(x, dim, dtype)


def _row_layout(t: "torch.Tensor") -> Tuple[Shape, Shape]:
    """(shape, strides) of ``t`` for the row kernels: a 0-d tensor as one row of one."""
    return (tuple(t.shape), tuple(t.stride())) if t.dim() else ((1,), (1,))


def _softmax_forward(x: "torch.Tensor", dim: int, dtype: "torch.dtype") -> "torch.Tensor":
    y = torch.empty(x.shape, dtype=dtype, device=x.device)
    if y.numel() == 0:
        return y
    shape, strides = _row_layout(x)
    block, steps = _softmax_plan(shape, (strides,), dim, settings.get_default_num_warps())
    for offsets, args, row_dims, index_64, even_m, programs in steps:
        softmax_kernel[(programs,)](
            _pointer(x, offsets[0]), _pointer(y, offsets[1]), *args, ROW_DIMS=row_dims,
            ROWS=block.rows, BLOCK_N=block.block_n, ONE_PASS=block.one_pass, EVEN_M=even_m,
            EVEN_N=args[1] % block.block_n == 0, INDEX_64=index_64,
            num_warps=block.num_warps, num_stages=_num_stages())
    return y


def _softmax_backward(y: "torch.Tensor", dy: "torch.Tensor", dim: int,
                      dtype: "torch.dtype") -> "torch.Tensor":
    """The gradient (of ``dtype``) of softmax's input, from its output ``y`` and ``dy``."""
    dx = torch.empty(y.shape, dtype=dtype, device=y.device)
    if dx.numel() == 0:
        return dx
    shape, y_strides = _row_layout(y)
    _, dy_strides = _row_layout(dy)
    block, steps = _softmax_plan(shape, (y_strides, dy_strides), dim,
                                 settings.get_default_num_warps())
    for offsets, args, row_dims, index_64, even_m, programs in steps:
        softmax_bwd_kernel[(programs,)](
            _pointer(y, offsets[0]), _pointer(dy, offsets[1]), _pointer(dx, offsets[2]), *args,
            ROW_DIMS=row_dims, ROWS=block.rows, BLOCK_N=block.block_n,
            ONE_PASS=block.one_pass, EVEN_M=even_m, EVEN_N=args[1] % block.block_n == 0,
            INDEX_64=index_64, num_warps=block.num_warps, num_stages=_num_stages())
    return dx


@functools.lru_cache(maxsize=None)
def _softmax_function() -> type:
    """softmax's torch.autograd.Function (built on first use: importing needs no PyTorch); it
    saves the output, from which the backward computes."""
    class SoftmaxFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, dim, dtype):
            y = _softmax_forward(x, dim, dtype)
            ctx.save_for_backward(y)
            ctx.dim, ctx.input_dtype = dim, x.dtype
            return y

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, dy):
            (y,) = ctx.saved_tensors
            return _softmax_backward(y, dy, ctx.dim, ctx.input_dtype), None, None

    return SoftmaxFunction


@functools.lru_cache(maxsize=1024)
def _norm_plan(op: str, shape: Shape, x_strides: Shape, w_strides: Optional[Shape],
               b_strides: Optional[Shape], k: int, num_warps: Optional[int]) -> Plan:
    """The launches of a norm over the last ``k`` dims of ``shape``; the weight and bias,
    when given, have those dims' shape and strides ``w_strides`` / ``b_strides``."""
    y_strides = contiguous_strides(shape)
    lead = len(shape) - k
    params = [s for s in (w_strides, b_strides) if s is not None]
    columns = merge_dims(shape[lead:], [x_strides[lead:], y_strides[lead:], *params])
    if len(columns) > 2:
        raise ValueError(f"{op}: the normalized dims of input (strides {x_strides[lead:]}) and "
                         "of weight/bias merge into more than two strided groups; expected "
                         "at most two (make one of them contiguous)")
    n_cols = 1
    for size in shape[lead:]:
        n_cols *= size
    # Column strides of x, weight and bias: (outer, inner) groups, n_inner None for one group.
    cols = columns or [(1, (1,) * (2 + len(params)))]
    inner = cols[-1][1]
    outer = cols[0][1] if len(cols) == 2 else (1,) * len(inner)
    n_inner = cols[-1][0] if len(cols) == 2 else None
    col_args: List[Any] = [n_inner, outer[0], inner[0]]
    t = 2  # weight's, then bias's, index in the merged groups' strides
    for strides in (w_strides, b_strides):
        if strides is None:
            col_args += [1, 1]
        else:
            col_args += [outer[t], inner[t]]
            t += 1
    row_groups = merge_dims(shape[:lead], [x_strides[:lead], y_strides[:lead]])
    block, launches = _plan(op, row_groups, cols, n_cols, inner[0] != 1 and n_cols > 1,
                            num_warps)
    steps = []
    for launch in launches:
        n_rows, rows, row_dims = _row_arguments(launch, 2)
        index_64 = needs_int64(launch.dims, cols, block.rows, block.block_n)
        args = (n_rows, n_cols, *rows, *col_args)
        steps.append((launch.offsets, args, row_dims, index_64, n_rows % block.rows == 0,
                      cdiv(n_rows, block.rows)))
    return block, steps


def _normalized_shape(op: str, normalized_shape: Any, x: "torch.Tensor") -> Shape:
    """``normalized_shape`` as a tuple, checked against ``x``'s trailing dims."""
    if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{type(normalized_shape).__name__}") from None
    if any(isinstance(s, bool) or not isinstance(s, int) for s in shape):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    if not shape:
        raise ValueError(f"{op}: normalized_shape is empty; expected at least one dim")
    if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape):]) != shape:
        raise ValueError(f"{op}: normalized_shape {shape} does not match the trailing dims "
                         f"of input of shape {tuple(x.shape)}; expected input of shape "
                         f"(*, {', '.join(map(str, shape))})")
    return shape


def _parameter(op: str, name: str, value: Any, x: "torch.Tensor",
               shape: Shape) -> Optional["torch.Tensor"]:
    """The weight or bias (None stays None), checked: on x's device, a float dtype, of
    exactly ``normalized_shape``."""
    if value is None:
        return None
    t = as_tensor(value, name, op)
    check_device(t, name, op)
    if t.device != x.device:
        raise ValueError(f"{op}: {name} is on {t.device} but input is on {x.device}; expected "
                         "tensors on one device")
    check_dtype(t, name, op, _floats())
    if tuple(t.shape) != shape:
        raise ValueError(f"{op}: {name} has shape {tuple(t.shape)}; expected normalized_shape "
                         f"{shape}")
    return t


def _norm(op: str, input: Any, normalized_shape: Union[int, Sequence[int]], weight: Any,
          bias: Any, eps: Optional[float], rms: bool) -> "torch.Tensor":
    x = as_tensor(input, "input", op)
    check_device(x, "input", op)
    check_dtype(x, "input", op, _floats())
    shape = _normalized_shape(op, normalized_shape, x)
    w = _parameter(op, "weight", weight, x, shape)
    b = _parameter(op, "bias", bias, x, shape)
    if eps is None and rms:  # rms_norm's default (specs/ops.md); layer_norm has none
        eps = torch.finfo(x.dtype).eps
    eps = check_finite(eps, "eps", op, low=0)
    if tracks_grad((x, w, b)):
        return _norm_function().apply(x, w, b, shape, eps, rms)
    return _norm_forward(op, x, w, b, shape, eps, rms)


def _norm_forward(op: str, x: "torch.Tensor", w: Optional["torch.Tensor"],
                  b: Optional["torch.Tensor"], shape: Shape, eps: float,
                  rms: bool) -> "torch.Tensor":
    """The norm of checked arguments (``shape``: normalized_shape)."""
    y = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    block, steps = _norm_plan(op, tuple(x.shape), tuple(x.stride()),
                              None if w is None else tuple(w.stride()),
                              None if b is None else tuple(b.stride()), len(shape),
                              settings.get_default_num_warps())
    for offsets, args, row_dims, index_64, even_m, programs in steps:
        norm_kernel[(programs,)](
            _pointer(x, offsets[0]), _pointer(y, offsets[1]), w, b, *args, eps, RMS=rms,
            ROW_DIMS=row_dims, ROWS=block.rows, BLOCK_N=block.block_n,
            ONE_PASS=block.one_pass, EVEN_M=even_m, EVEN_N=args[1] % block.block_n == 0,
            INDEX_64=index_64, num_warps=block.num_warps, num_stages=_num_stages())
    return y


def sum_rows(src: "torch.Tensor", out: "torch.Tensor", scale: float = 1) -> None:
    """``out[a, n] = scale * sum over p of src[a, p, n]`` for a 3-D view ``src`` (A, P, N) and a
    2-D view ``out`` (A, N), by ``sum_rows_kernel``: fp32 sums in a fixed order, rounded once
    into ``out``'s dtype. The norms' backward sums its partial sums with it, and ``addmm``'s
    backward the gradient of its broadcast ``input``. Outputs narrower than a tile share tiles
    (``SumBlock.packed``), all in one launch; otherwise the outputs a go on grid axis 1, at most
    65535 a launch (a grid of A x column blocks in one dimension would need a division in the
    kernel, which cost this latency-bound loop a fifth of its speed on an H100)."""
    n_out, n_sum, n_cols = src.shape
    if out.numel() == 0:
        return
    block = choose_sum_block(n_out, n_sum, n_cols)
    src_strides, out_strides = tuple(src.stride()), tuple(out.stride())
    per_launch = n_out if block.packed else launch_grid.MAX_GRID_YZ
    for start in range(0, n_out, per_launch):
        outputs = min(per_launch, n_out - start)
        grid = ((cdiv(outputs * n_cols, block.block_n), 1) if block.packed else
                (cdiv(n_cols, block.block_n), outputs))
        sum_rows_kernel[grid](
            src[start:start + outputs], out[start:start + outputs], outputs, n_sum, n_cols,
            *src_strides, *out_strides, 1 if scale == 1 else float(scale),
            BLOCK_P=block.block_p, BLOCK_N=block.block_n,
            EVEN_N=not block.packed and n_cols % block.block_n == 0,
            INDEX_64=sum_needs_int64(outputs, n_sum, n_cols, block, src_strides, out_strides),
            PACKED=block.packed, num_warps=block.num_warps, num_stages=_num_stages())


def _weight_columns(w: Optional["torch.Tensor"]) -> Tuple[Optional[int], int, int]:
    """``(n_inner, outer stride, inner stride)`` of the weight's elements in row-major order
    (n_inner None: one stride), for the backward kernels' ``_column_offsets``. The forward
    merged the weight's dims with the input's into at most two groups, so alone they merge
    into at most two as well."""
    if w is None:
        return None, 1, 1
    groups = merge_dims(tuple(w.shape), [tuple(w.stride())]) or [(1, (1,))]
    if len(groups) == 1:
        return None, 1, groups[0][1][0]
    (_, (outer,)), (n_inner, (inner,)) = groups
    return n_inner, outer, inner


def _norm_backward(x: "torch.Tensor", w: Optional["torch.Tensor"], dy: "torch.Tensor",
                   shape: Shape, eps: float, rms: bool, bias_dtype: Optional["torch.dtype"],
                   needs: Sequence[bool]) -> Tuple[Optional["torch.Tensor"], ...]:
    """(dx, dw, db) of a norm over the trailing dims ``shape`` of ``x``; each is None where
    ``needs`` (of x, weight, bias) says it is not wanted, db also without a bias
    (``bias_dtype`` None). The kernels read contiguous rows: ``x`` and ``dy`` are copied
    where they are not contiguous."""
    x, dy = x.contiguous(), dy.contiguous()
    n_cols = math.prod(shape)
    n_rows = x.numel() // n_cols if n_cols else 0
    plan = plan_backward(n_rows, n_cols, sm_count(x.device))
    groups = plan.grid[1]

    def partials(wanted: bool) -> Optional["torch.Tensor"]:
        if not wanted:
            return None
        return torch.empty((groups, n_cols), dtype=torch.float32, device=x.device)

    dx = torch.empty(x.shape, dtype=x.dtype, device=x.device) if needs[0] else None
    dw_part = partials(needs[1] and w is not None)
    db_part = partials(needs[2] and bias_dtype is not None)
    if n_rows and n_cols and (dx is not None or dw_part is not None or db_part is not None):
        w_columns = _weight_columns(w)
        num_warps = settings.get_default_num_warps()
        stats = None
        if not plan.one_pass:
            stats = torch.empty((4, n_rows), dtype=torch.float32, device=x.device)
            norm_bwd_stats_kernel[(n_rows,)](
                x, dy, w, stats, n_rows, n_cols, *w_columns, eps, RMS=rms, ROWS=1,
                BLOCK_N=STATS_BLOCK_N, EVEN_M=True, EVEN_N=n_cols % STATS_BLOCK_N == 0,
                INDEX_64=plan.index_64, num_warps=num_warps or STATS_NUM_WARPS,
                num_stages=_num_stages())
        norm_bwd_kernel[plan.grid](
            x, dy, dx, w, stats, dw_part, db_part, n_rows, n_cols, *w_columns, eps, RMS=rms,
            ROWS=plan.rows, BLOCK_N=plan.block_n, ONE_PASS=plan.one_pass,
            EVEN_M=n_rows % plan.rows == 0, EVEN_N=n_cols % plan.block_n == 0,
            INDEX_64=plan.index_64, num_warps=num_warps or plan.num_warps,
            num_stages=_num_stages())
    grads = []
    for part, dtype in ((dw_part, None if w is None else w.dtype), (db_part, bias_dtype)):
        grad = None
        if part is not None:
            grad = torch.empty(shape, dtype=dtype, device=x.device)
            sum_rows(part.unsqueeze(0), grad.view(1, n_cols))
        grads.append(grad)
    return (dx, *grads)


_function = None


def _norm_function():
    """The torch.autograd.Function of layer_norm and rms_norm (built on first use: importing
    needs no PyTorch)."""
    global _function
    if _function is None:
        class NormFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, w, b, shape, eps, rms):
                ctx.shape, ctx.eps, ctx.rms = shape, eps, rms
                ctx.bias_dtype = None if b is None else b.dtype
                ctx.save_for_backward(x, w)
                return _norm_forward("rms_norm" if rms else "layer_norm", x, w, b, shape, eps,
                                     rms)

            @staticmethod
            @torch.autograd.function.once_differentiable
            def backward(ctx, dy):
                x, w = ctx.saved_tensors
                grads = _norm_backward(x, w, dy, ctx.shape, ctx.eps, ctx.rms, ctx.bias_dtype,
                                       ctx.needs_input_grad[:3])
                return (*grads, None, None, None)

        _function = NormFunction
    return _function


def layer_norm(input: Any, normalized_shape: Union[int, Sequence[int]], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> "torch.Tensor":
    """Layer normalisation over the trailing ``normalized_shape`` dims, as
    ``torch.nn.functional.layer_norm``: ``(x - mean) / sqrt(var + eps) * weight + bias`` with
    the biased variance, in fp32; the result has the input's dtype. ``weight`` and ``bias``
    (optional) have exactly ``normalized_shape``, any strides and any float dtype; ``eps`` is a
    finite number >= 0.

    Differentiable (torch.autograd) in ``input``, ``weight`` and ``bias`` when grad mode is on
    and one of them requires grad; the gradients are computed by Tessera kernels, in fp32,
    each in its tensor's dtype (not twice differentiable).

    >>> tessera.ops.layer_norm(x, x.shape[-1:], w, b)   # doctest: +SKIP
    """
    return _norm("layer_norm", input, normalized_shape, weight, bias, eps, rms=False)


def rms_norm(input: Any, normalized_shape: Union[int, Sequence[int]], weight: Any = None,
             eps: Optional[float] = None) -> "torch.Tensor":
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims, as
    ``torch.nn.functional.rms_norm``: ``x * rsqrt(mean(x^2) + eps) * weight`` in fp32; the
    result has the input's dtype. ``eps`` is a finite number >= 0, or None for
    ``torch.finfo(input.dtype).eps``. A row holding NaN or +-inf (a mean square of inf) is NaN
    throughout, as in PyTorch.

    Differentiable (torch.autograd) in ``input`` and ``weight``, as ``layer_norm``.

    >>> tessera.ops.rms_norm(x, (4096,), w, eps=1e-6)   # doctest: +SKIP
    """
    return _norm("rms_norm", input, normalized_shape, weight, None, eps, rms=True)
