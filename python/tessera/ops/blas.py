"""``matmul``, ``mm``, ``bmm`` and ``addmm`` with PyTorch's semantics (``specs/ops.md``, "Matrix
multiply"), computed by the autotuned kernel of ``kernels/matmul.py``.

fp16, bf16 and fp32 inputs, fp32 accumulation, output in the input dtype; fp32 uses TF32 tensor
cores unless ``torch.get_float32_matmul_precision() == "highest"`` (PyTorch's default), then
exact fp32 products. Operands of any strides (transposed, sliced, broadcast) are passed as they
are, never copied; batch dimensions that can be merged are merged into one launch, and a batched
product by a 2-D matrix becomes one tall product when the memory layout allows. CPU tensors run
the same kernel compiled for the host (TF32 emulated, the first fitting config, no tuning).

The ops are differentiable (torch.autograd) when grad mode is on and an operand requires grad:
the gradients are Tessera products too (``grad @ b^T`` and ``a^T @ grad`` through transposed
views), and the gradient of a matrix that broadcasts along every batch dim (``(B..., M, K) @
(K, N)``: the weight of a linear layer) is one tall product over the batch, on 2-D views of the
operands where their layout allows (a copy otherwise). The gradient of a partially broadcast
batch dim is not supported (NotImplementedError, raised by the call that would need it), nor
``out=`` with autograd (as in PyTorch). ``addmm``'s ``input`` gradient is summed over its
broadcast dims by ``elementwise.sum_to`` (``sum_rows_kernel``), as add's operands' are.

    >>> import tessera.ops
    >>> c = tessera.ops.matmul(a, b)                          # doctest: +SKIP
    >>> tessera.ops.addmm(bias, x, w.t(), beta=1, alpha=0.5)  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import itertools
import math
from numbers import Number
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

try:
    import torch
except ImportError:  # pragma: no cover - the CPU tier has no PyTorch (as_tensor says so)
    torch = None

from ..runtime.autotuner import Autotuner, Config, autotune, heuristics
from ..runtime.tensor_descriptor import TensorDescriptor
from ..utils import cdiv
from . import settings
from .arguments import (as_tensor, check_device, check_dtype, check_no_overlap, check_out,
                        check_real, check_same)
from .elementwise import sum_to
from .kernels.matmul import CONFIGS, GROUP_M, HEURISTICS, KEY, matmul_kernel, prune_configs
from .no_backward import check_no_grad_out, tracks_grad

__all__ = ["addmm", "bmm", "matmul", "mm", "tuned_kernel"]

_kernel = heuristics(HEURISTICS)(matmul_kernel)
# With K == 0 there is nothing to tune: every tile is alpha * 0 + beta * input.
_EMPTY_K_CONFIG = Config({"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": GROUP_M},
                         num_warps=4, num_stages=1)
_TUNING_WARMUP_MS = 10
_TUNING_REP_MS = 40
_MAX_PROGRAMS = 2 ** 31 - 1  # CUDA's grid x limit
_MIN_BLOCK_M = min(c.kwargs["BLOCK_M"] for c in CONFIGS)
_MIN_BLOCK_N = min(c.kwargs["BLOCK_N"] for c in CONFIGS)
_tuners: Dict[Tuple[Optional[int], ...], Autotuner] = {}


@functools.lru_cache(maxsize=None)
def _shared_memory_limit(device: Any) -> Optional[int]:
    """The shared memory a program may use on CUDA ``device``; None (no limit) on the host."""
    if device.type == "cpu":
        return None
    properties = torch.cuda.get_device_properties(device)
    return getattr(properties, "shared_memory_per_block_optin", None)


def _prune(configs: Sequence[Config], named_args: Dict[str, Any], max_num_configs: Optional[int],
           **kwargs: Any) -> List[Config]:
    return prune_configs(configs, named_args,
                         max_shared_memory=_shared_memory_limit(named_args["a_ptr"].device),
                         max_num_configs=max_num_configs)


def tuned_kernel() -> Autotuner:
    """The autotuned kernel that the ops launch under the current ``tessera.ops`` settings; its
    ``best_config`` is the config of its last launch and ``cache`` its choices per key."""
    num_warps, num_stages, max_num_configs = key = (
        settings.get_default_num_warps(), settings.get_default_num_stages(),
        settings.get_default_max_num_configs())
    tuner = _tuners.get(key)
    if tuner is None:
        configs = dict.fromkeys(Config(c.kwargs, num_warps=num_warps or c.num_warps,
                                       num_stages=num_stages or c.num_stages,
                                       pre_hook=c.pre_hook) for c in CONFIGS)
        prune = functools.partial(_prune, max_num_configs=max_num_configs)
        tuner = _tuners[key] = autotune(
            configs=list(configs), key=KEY, prune_configs_by={"early_config_prune": prune},
            warmup=_TUNING_WARMUP_MS, rep=_TUNING_REP_MS)(_kernel)
    return tuner


def _input_precision(dtype: Any) -> str:
    if dtype == torch.float32 and torch.get_float32_matmul_precision() != "highest":
        return "tf32"
    return "ieee"


def _operands(op: str, *named: Tuple[str, Any]) -> List["torch.Tensor"]:
    """The tensors of ``named`` (name, value) pairs, checked: CUDA or CPU, one device, one
    supported dtype."""
    tensors = [as_tensor(value, name, op) for name, value in named]
    for (name, _), tensor in zip(named, tensors):
        check_device(tensor, name, op)
        check_dtype(tensor, name, op, (torch.float16, torch.bfloat16, torch.float32))
    check_same(op, *((name, t) for (name, _), t in zip(named, tensors)))
    return tensors


def _check_rank(op: str, name: str, tensor: "torch.Tensor", rank: int) -> None:
    if tensor.dim() != rank:
        raise ValueError(f"{op}: {name} must have {rank} dimensions, got shape "
                         f"{tuple(tensor.shape)}")


def _output(op: str, out: Any, shape: Sequence[int], like: "torch.Tensor",
            inputs: Sequence[Tuple[str, "torch.Tensor"]]) -> "torch.Tensor":
    if out is None:
        return torch.empty(tuple(shape), dtype=like.dtype, device=like.device)
    out = check_out(op, out, shape, like.dtype, like.device)
    for name, tensor in inputs:
        check_no_overlap(op, out, name, tensor)
    return out


def _merged_batch(tensors: Sequence["torch.Tensor"]) -> List[Tuple[int, List[int]]]:
    """The batch dimensions of ``tensors`` (one batch shape, two matrix dims each) as groups
    ``(size, [stride of each tensor])``, innermost first, adjacent dimensions merged where every
    tensor's strides allow; size-1 dimensions dropped."""
    groups: List[Tuple[int, List[int]]] = []
    for dim in reversed(range(tensors[0].dim() - 2)):
        size = tensors[0].shape[dim]
        if size == 1:
            continue
        strides = [t.stride(dim) for t in tensors]
        if groups and all(s == groups[-1][0] * inner for s, inner in zip(strides, groups[-1][1])):
            groups[-1] = (size * groups[-1][0], groups[-1][1])
        else:
            groups.append((size, strides))
    return groups


def _launch_views(tensors: Sequence["torch.Tensor"]) -> Iterator[List["torch.Tensor"]]:
    """3-D views ``(batch, rows, cols)`` of ``tensors`` (A, B, C and possibly the bias, with one
    batch shape), one list per launch: the innermost merged batch group is the kernel's batch,
    outer groups (batch dimensions whose strides do not merge, as broadcasting can make) are
    iterated here, and a batch too large for one grid is split."""
    groups = _merged_batch(tensors)
    size, strides = groups[0] if groups else (1, [0] * len(tensors))
    outer = groups[1:][::-1]
    rows, cols = tensors[2].shape[-2:]
    tiles = cdiv(rows, _MIN_BLOCK_M) * cdiv(cols, _MIN_BLOCK_N)
    chunk = max(1, _MAX_PROGRAMS // max(tiles, 1))
    for index in itertools.product(*(range(s) for s, _ in outer)):
        for start in range(0, size, chunk):
            count = min(chunk, size - start)
            views = []
            for j, t in enumerate(tensors):
                offset = t.storage_offset() + start * strides[j] + sum(
                    i * group_strides[j] for i, (_, group_strides) in zip(index, outer))
                views.append(t.as_strided((count,) + tuple(t.shape[-2:]),
                                          (strides[j],) + tuple(t.stride()[-2:]), offset))
            yield views


def _fold_batch_into_rows(views: List["torch.Tensor"]) -> List["torch.Tensor"]:
    """``(B, M, K) @ (B, K, N)`` as ``(1, B*M, K) @ (1, K, N)`` where B is the same matrix for
    every batch (0 batch stride) and A, C (and the bias) hold their batches' rows one after the
    other: one tall product instead of B small ones."""
    a, b, c, *bias = views
    batch, m = a.shape[0], a.shape[1]
    if batch == 1 or b.stride(0) != 0 or any(t.stride(0) != m * t.stride(1)
                                             for t in [a, c] + bias):
        return views
    return [t.as_strided((1, batch * m, t.shape[2]), (0, t.stride(1), t.stride(2))) if t is not b
            else b[:1] for t in views]


def _descriptor(matrix: "torch.Tensor", descriptor_type: type = TensorDescriptor
                ) -> Optional[TensorDescriptor]:
    """A descriptor whose tiles TMA can copy on this device (its block shape is set per config
    by the kernel's pre_hook), or None: of a row-major 2-D matrix, or of the transpose of a
    column-major fp16/bf16 one (whose tiles the kernel transposes in shared memory; tf32
    tensor cores read only K-major tiles, which A^T's are not)."""
    rows, cols = matrix.shape
    if cols == 1 or matrix.stride(1) == 1:
        row_stride = matrix.stride(0) if rows > 1 else cols
        desc = descriptor_type(matrix, (rows, cols), (row_stride, 1), [1, 1])
    elif matrix.stride(0) == 1 and matrix.element_size() == 2:
        desc = descriptor_type(matrix, (cols, rows), (matrix.stride(1), 1), [1, 1])
    else:
        return None
    return desc if desc.supports_tma() else None


def _grid(batch: int, m: int, n: int) -> Callable[[Dict[str, Any]], Tuple[int]]:
    """The launch grid: one program per output tile of every batch."""
    return lambda meta: (batch * cdiv(m, meta["BLOCK_M"]) * cdiv(n, meta["BLOCK_N"]),)


def _stride(t: "torch.Tensor", dim: int) -> int:
    """A dimension's stride, 0 for a dimension of size 1 (whose stride does not matter): fewer
    specialisations and autotuning keys."""
    return t.stride(dim) if t.shape[dim] > 1 else 0


def _gemm(a: "torch.Tensor", b: "torch.Tensor", c: "torch.Tensor",
          bias: Optional["torch.Tensor"], alpha: Number, beta: Number) -> None:
    """``c = alpha * a @ b + beta * bias`` for ``a (..., M, K)``, ``b (..., K, N)``, ``c`` and
    ``bias`` ``(..., M, N)``, all with one batch shape (``bias`` None: no bias term)."""
    if c.numel() == 0:
        return
    k = a.shape[-1]
    precision = _input_precision(a.dtype)
    launch: Callable[..., Any]
    if k == 0:
        alpha = 1  # a @ b is exactly zero
        launch = functools.partial(_kernel.run, **_EMPTY_K_CONFIG.all_kwargs())
    else:
        launch = tuned_kernel().run
    tensors = [a, b, c] + ([bias] if bias is not None else [])
    for views in _launch_views(tensors):
        a3, b3, c3, *rest = _fold_batch_into_rows(views)
        launch(*kernel_arguments(a3, b3, c3, rest[0] if rest else None, alpha, beta),
               grid=_grid(*c3.shape), INPUT_PRECISION=precision)


def kernel_arguments(a3: Any, b3: Any, c3: Any, bias3: Any, alpha: Number, beta: Number,
                     descriptor_type: type = TensorDescriptor) -> Tuple[Any, ...]:
    """The matmul kernel's run-time arguments for the 3-D views ``(batch, rows, cols)`` of one
    launch (``tessera.ops.aot`` passes stand-ins of tensors and descriptors, to plan the same
    launch without a GPU)."""
    k = a3.shape[2]
    # 1 stays an int: an argument equal to 1 is folded into the kernel
    alpha, beta = (1 if x == 1 else float(x) for x in (alpha, beta))
    bias_strides = [_stride(bias3, d) for d in range(3)] if bias3 is not None else [0, 0, 0]
    # TMA reads the operands of a single product through descriptors.
    single = c3.shape[0] == 1 and k > 0
    a_desc = _descriptor(a3[0], descriptor_type) if single else None
    b_desc = _descriptor(b3[0], descriptor_type) if single else None
    return (a3, b3, c3, bias3, a_desc, b_desc, c3.shape[1], c3.shape[2], k,
            *(_stride(t, d) for t in (a3, b3, c3) for d in range(3)), *bias_strides,
            alpha, beta)


def _shape(t: "torch.Tensor") -> Tuple[int, ...]:
    return tuple(t.shape)


def _broadcast(a: "torch.Tensor", b: "torch.Tensor"
               ) -> Tuple["torch.Tensor", "torch.Tensor", Tuple[int, ...]]:
    """``torch.matmul``'s operands as broadcast matrices, ``(batch..., m, k)`` and ``(batch...,
    k, n)`` views (a 1-D operand gains the dim that the product drops), and the result's
    shape."""
    if a.dim() == 0 or b.dim() == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got input of shape "
                         f"{_shape(a)} and other of shape {_shape(b)}")
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(1) if b.dim() == 1 else b
    (m, k), (k2, n) = a2.shape[-2:], b2.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: input of shape {_shape(a)} and other of shape {_shape(b)} "
                         f"cannot be multiplied ({k} columns against {k2} rows)")
    try:
        batch = tuple(torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    except RuntimeError:
        raise ValueError(f"matmul: the batch dimensions of input {_shape(a)} and other "
                         f"{_shape(b)} do not broadcast") from None
    shape = batch + ((m,) if a.dim() > 1 else ()) + ((n,) if b.dim() > 1 else ())
    return a2.expand(batch + (m, k)), b2.expand(batch + (k, n)), shape


def _as_product(t: "torch.Tensor", a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """``t``, of the shape of ``a @ b`` (the result or its gradient), as the ``(batch..., m, n)``
    view that the product's matrices make: with the dims that 1-D operands drop."""
    if a.dim() == 1:
        t = t.unsqueeze(t.dim() - (b.dim() > 1))
    return t.unsqueeze(-1) if b.dim() == 1 else t


def _check_backward(op: str, named: Sequence[Tuple[str, "torch.Tensor"]],
                    batch: Tuple[int, ...]) -> None:
    """NotImplementedError if an operand that requires grad was broadcast along some of the
    batch dims ``batch`` but not all: its gradient would be a sum over those dims only."""
    for name, t in named:
        own = tuple(t.shape[:-2])
        if t.requires_grad and own != batch and any(size != 1 for size in own):
            shapes = " and ".join(f"{n} of shape {_shape(x)}" for n, x in named)
            raise NotImplementedError(
                f"{op}: its backward does not support that broadcast: {shapes} broadcast to "
                f"the batch dims {batch}, so {name}'s gradient would be a sum over some of "
                "its broadcast batch dims; supported are equal batch dims and an operand "
                "broadcast along every batch dim (such as a 2-D one). Expand "
                f"{name} to the batch dims, or call it under torch.no_grad()")


def _operand_grad(left: "torch.Tensor", right: "torch.Tensor",
                  operand: "torch.Tensor") -> "torch.Tensor":
    """``left @ right`` (``(batch..., r, c)``) summed over the batch dims along which
    ``operand`` (``(..., r, c)``, or 1-D for a vector) was broadcast: its gradient, of its
    shape. ``operand`` has the batch dims, or none but size-1 ones (``_check_backward``)."""
    grad = torch.empty(operand.shape, dtype=left.dtype, device=left.device)
    batch = tuple(left.shape[:-2])
    rows, cols = left.shape[-2], right.shape[-1]
    if tuple(operand.shape[:-2]) == batch:
        _gemm(left, right, grad.view(batch + (rows, cols)), None, 1, 0)
    else:
        # sum_i left_i @ right_i = [left_0 left_1 ...] @ [right_0; right_1; ...]: one product
        # whose inner dim runs over (batch, inner); 2-D views where the strides allow, else
        # reshape copies.
        inner = right.shape[-2] * math.prod(batch)
        _gemm(left.movedim(-2, 0).reshape(rows, inner), right.reshape(inner, cols),
              grad.view(rows, cols), None, 1, 0)
    return grad


@functools.lru_cache(maxsize=None)
def _autograd_functions() -> Tuple[type, type]:
    """The torch.autograd.Functions of the products (matmul, mm, bmm) and of addmm (built on
    first use: importing needs no PyTorch)."""
    class MatmulFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            a3, b3, shape = _broadcast(a, b)
            result = torch.empty(shape, dtype=a.dtype, device=a.device)
            _gemm(a3, b3, _as_product(result, a, b), None, 1, 0)
            ctx.save_for_backward(a, b)
            return result

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            a3, b3, _ = _broadcast(a, b)
            grad3 = _as_product(grad, a, b)
            grad_a = _operand_grad(grad3, b3.mT, a) if ctx.needs_input_grad[0] else None
            grad_b = _operand_grad(a3.mT, grad3, b) if ctx.needs_input_grad[1] else None
            return grad_a, grad_b

    class AddmmFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, bias, a, b, beta, alpha):
            shape = (a.shape[0], b.shape[1])
            c = torch.empty(shape, dtype=a.dtype, device=a.device)
            _gemm(a, b, c, bias.expand(shape) if beta != 0 else None, alpha, beta)
            ctx.bias_shape, ctx.beta, ctx.alpha = tuple(bias.shape), beta, alpha
            ctx.save_for_backward(a, b)
            return c

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            needs = ctx.needs_input_grad
            grad_bias = sum_to("addmm", grad, ctx.bias_shape, grad.dtype, ctx.beta) \
                if needs[0] else None
            grad_a = grad_b = None
            if needs[1]:
                grad_a = torch.empty(a.shape, dtype=a.dtype, device=a.device)
                _gemm(grad, b.mT, grad_a, None, ctx.alpha, 0)
            if needs[2]:
                grad_b = torch.empty(b.shape, dtype=b.dtype, device=b.device)
                _gemm(a.mT, grad, grad_b, None, ctx.alpha, 0)
            return grad_bias, grad_a, grad_b, None, None

    return MatmulFunction, AddmmFunction


def matmul(input: Any, other: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """The matrix product of two tensors, as ``torch.matmul``.

    1-D operands are vectors (a dimension is added for the product, then removed); with more
    than two dimensions the leading ones are batch dimensions, which broadcast.

    >>> tessera.ops.matmul(torch.randn(10, 3, 4, device="cuda"),
    ...                    torch.randn(4, 5, device="cuda")).shape   # doctest: +SKIP
    torch.Size([10, 3, 5])

    Differentiable (torch.autograd) in both operands, except for the gradient of an operand
    broadcast along some batch dims but not all (NotImplementedError).
    """
    a, b = _operands("matmul", ("input", input), ("other", other))
    a3, b3, shape = _broadcast(a, b)
    if tracks_grad((a, b)):
        if out is not None:
            check_no_grad_out("matmul", (a, b), "out=")
        _check_backward("matmul", [("input", a), ("other", b)], tuple(a3.shape[:-2]))
        return _autograd_functions()[0].apply(a, b)
    result = _output("matmul", out, shape, a, [("input", a), ("other", b)])
    _gemm(a3, b3, _as_product(result, a, b), None, 1, 0)
    return result


def mm(input: Any, mat2: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """The product of two matrices, ``(m, k) @ (k, n)``, as ``torch.mm``.

    Differentiable (torch.autograd) in both operands.

    >>> tessera.ops.mm(x, w.t())   # doctest: +SKIP
    """
    a, b = _operands("mm", ("input", input), ("mat2", mat2))
    _check_rank("mm", "input", a, 2)
    _check_rank("mm", "mat2", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: input of shape {_shape(a)} and mat2 of shape {_shape(b)} cannot "
                         "be multiplied")
    if tracks_grad((a, b)):
        if out is not None:
            check_no_grad_out("mm", (a, b), "out=")
        return _autograd_functions()[0].apply(a, b)
    c = _output("mm", out, (a.shape[0], b.shape[1]), a, [("input", a), ("mat2", b)])
    _gemm(a, b, c, None, 1, 0)
    return c


def bmm(input: Any, mat2: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """Batched matrix products, ``(b, m, k) @ (b, k, n)``, as ``torch.bmm`` (no broadcasting).

    Differentiable (torch.autograd) in both operands.

    >>> tessera.ops.bmm(q, k.transpose(1, 2))   # doctest: +SKIP
    """
    a, b = _operands("bmm", ("input", input), ("mat2", mat2))
    _check_rank("bmm", "input", a, 3)
    _check_rank("bmm", "mat2", b, 3)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: input of shape {_shape(a)} and mat2 of shape {_shape(b)} cannot "
                         "be multiplied (expected (b, m, k) and (b, k, n))")
    if tracks_grad((a, b)):
        if out is not None:
            check_no_grad_out("bmm", (a, b), "out=")
        return _autograd_functions()[0].apply(a, b)
    c = _output("bmm", out, (a.shape[0], a.shape[1], b.shape[2]), a,
                [("input", a), ("mat2", b)])
    _gemm(a, b, c, None, 1, 0)
    return c


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Number = 1, alpha: Number = 1,
          out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``beta * input + alpha * (mat1 @ mat2)``, as ``torch.addmm``: ``input`` broadcasts to
    ``(m, n)`` and is ignored when ``beta == 0`` (its NaNs do not propagate). ``out`` may be
    ``input`` itself.

    Differentiable (torch.autograd) in ``input``, ``mat1`` and ``mat2``; ``input``'s gradient is
    ``beta * grad`` summed over the dims along which it broadcasts.

    >>> y = tessera.ops.addmm(bias, x, w.t())   # a linear layer   # doctest: +SKIP
    """
    bias, a, b = _operands("addmm", ("input", input), ("mat1", mat1), ("mat2", mat2))
    check_real(beta, "beta", "addmm")
    check_real(alpha, "alpha", "addmm")
    _check_rank("addmm", "mat1", a, 2)
    _check_rank("addmm", "mat2", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"addmm: mat1 of shape {_shape(a)} and mat2 of shape {_shape(b)} "
                         "cannot be multiplied")
    shape = (a.shape[0], b.shape[1])
    try:
        expanded = bias.expand(shape)
    except RuntimeError:
        raise ValueError(f"addmm: input of shape {_shape(bias)} does not broadcast to the "
                         f"product's shape {shape}") from None
    if tracks_grad((bias, a, b)):
        if out is not None:
            check_no_grad_out("addmm", (bias, a, b), "out=")
        return _autograd_functions()[1].apply(bias, a, b, beta, alpha)
    aliased = out is not None and isinstance(out, torch.Tensor) and \
        out.data_ptr() == expanded.data_ptr() and out.stride() == expanded.stride()
    inputs = [("mat1", a), ("mat2", b)] + ([] if aliased else [("input", bias)])
    c = _output("addmm", out, shape, a, inputs)
    _gemm(a, b, c, expanded if beta != 0 else None, alpha, beta)
    return c
