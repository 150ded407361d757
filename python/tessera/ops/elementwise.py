"""Element-wise ops with PyTorch's semantics (``specs/ops.md``, "Element-wise" and the
activations), all computed by the one kernel of ``kernels/elementwise.py``.

Every op here goes through ``_launch``: operands (tensors of any strides, 0-d CPU tensors and
Python scalars) are broadcast to one shape and promoted to one dtype by PyTorch's rules, the
dimensions that every operand's strides allow are merged, and the kernel runs once (or once per
slice, past four merged dimensions). As in PyTorch, tensors convert to the promoted dtype and
fp16 and bf16 then compute in fp32, Python scalars (and 0-d CPU tensors beside CUDA tensors)
convert straight to the compute dtype, and the result is rounded to the op's dtype before an
``out=`` of another dtype receives it. The operands are CUDA tensors, or CPU tensors (their
kernel then runs on the host CPU).

    >>> import tessera.ops as ops
    >>> y = ops.add(x, bias, alpha=0.5)        # broadcasting, x + 0.5 * bias   # doctest: +SKIP
    >>> m = ops.gt(x, 0)                       # torch.bool                     # doctest: +SKIP
    >>> ops.clamp(x, min=-1.0, out=x)          # in place through out=          # doctest: +SKIP
"""
from __future__ import annotations

import functools
import math
from numbers import Integral, Number
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

try:
    import torch
except ImportError:  # pragma: no cover - the CPU tier has no PyTorch (as_tensor says so)
    torch = None

import tessera.language as tl

from ..utils import cdiv
from . import settings
from .arguments import (as_tensor, check_bool, check_device, check_distinct, check_no_overlap,
                        check_out)
from .kernels.elementwise import (ABSENT, DROPOUT_BLOCK, MAX_RANK, SCALAR, TENSOR,
                                  UNARY_BACKWARDS, dropout_kernel, elementwise_kernel)
from .no_backward import check_no_grad_out, tracks_grad, without_backward
from .normalization import contiguous_strides, sum_rows

__all__ = ["abs", "add", "bitwise_and", "bitwise_not", "bitwise_or", "clamp", "cos", "div",
           "dropout",
           "eq", "exp", "ge", "gelu", "gt", "isinf", "isnan", "le", "lt", "mul", "ne", "neg",
           "pow", "relu", "rsqrt", "sigmoid", "silu", "sin", "sub", "tanh"]

Operand = Union["torch.Tensor", bool, int, float]
_INDEX_32_LIMIT = 2 ** 31
_DEFAULT_NUM_WARPS = 4
_BYTES_PER_THREAD = 32  # two 16-byte accesses per operand in flight
_SLICE_SEED_STEP = 0x9E3779B97F4A7C15  # odd: successive slices of a dropout get distinct seeds


_LANGUAGE_DTYPES: Dict["torch.dtype", tl.dtype] = {}


def _language_dtypes() -> Dict["torch.dtype", tl.dtype]:
    """The torch dtypes the element-wise ops take, each with its kernel-language dtype."""
    if not _LANGUAGE_DTYPES:
        _LANGUAGE_DTYPES.update({
            torch.float16: tl.float16, torch.bfloat16: tl.bfloat16, torch.float32: tl.float32,
            torch.float64: tl.float64, torch.int8: tl.int8, torch.int16: tl.int16,
            torch.int32: tl.int32, torch.int64: tl.int64, torch.uint8: tl.uint8,
            torch.bool: tl.int1})
    return _LANGUAGE_DTYPES


def _compute_dtype(dtype: "torch.dtype") -> tl.dtype:
    """The dtype the kernel computes in: fp32 for fp16 and bf16 (PyTorch's opmath type)."""
    if dtype in (torch.float16, torch.bfloat16):
        return tl.float32
    return _language_dtypes()[dtype]


def _dtype_name(dtype: "torch.dtype") -> str:
    return str(dtype).replace("torch.", "")


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, complex)


def _is_cpu_scalar(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type == "cpu" and value.dim() == 0


def _tensor_operand(value: Any, name: str, op: str) -> Operand:
    """``value`` as a tensor, or as a Python number. A 0-d CPU tensor stays a tensor: beside
    CUDA tensors it is a scalar passed by value (as PyTorch mixes it with them)."""
    if _is_number(value):
        return value
    tensor = as_tensor(value, name, op)
    if tensor.dtype not in _language_dtypes():
        raise TypeError(f"{op}: {name} has dtype {_dtype_name(tensor.dtype)}; expected one of "
                        + ", ".join(_dtype_name(d) for d in _language_dtypes()))
    check_device(tensor, name, op)
    return tensor


def _result_type(op: str, operands: Sequence[Tuple[str, Operand]]) -> "torch.dtype":
    """PyTorch's type promotion over tensors and numbers (dimensioned tensors first, then 0-d
    tensors, then numbers, each within its category)."""
    values = [value for _, value in operands]
    if not any(isinstance(v, torch.Tensor) for v in values):
        raise TypeError(f"{op}: {operands[0][0]} must be a tensor, got "
                        f"{type(values[0]).__name__}")
    result = values[0]
    for i, value in enumerate(values[1:], 2):
        dtype = torch.result_type(result, value)
        if i == len(values):
            return dtype
        # Keep what the next step needs of the promoted operands: their dtype and whether a
        # dimensioned tensor took part (a meta tensor costs nothing).
        dimensioned = any(isinstance(v, torch.Tensor) and v.dim() > 0 for v in (result, value))
        result = torch.empty((1,) if dimensioned else (), dtype=dtype, device="meta")
    return result.dtype


def _scalar_argument(value: Any, common: "torch.dtype") -> Any:
    """A number (or 0-d CPU tensor) as the kernel's scalar argument. As in PyTorch, it is not
    rounded to the common dtype: it converts straight to the compute dtype (fp32 for fp16 and
    bf16 operands) in the kernel."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if common == torch.bool:
        return bool(value)
    return float(value) if common.is_floating_point else int(value)


def _merged_dims(shape: Sequence[int], strides: Sequence[Sequence[int]]
                 ) -> List[Tuple[int, List[int]]]:
    """The dims of ``shape`` as ``(size, [stride of each operand])``, innermost first, with
    size-1 dims dropped and adjacent dims merged where every operand's strides allow."""
    merged: List[Tuple[int, List[int]]] = []
    for d in reversed(range(len(shape))):
        size = shape[d]
        if size == 1:
            continue
        dim_strides = [s[d] for s in strides]
        if merged:
            inner_size, inner_strides = merged[-1]
            if all(st == ist * inner_size for st, ist in zip(dim_strides, inner_strides)):
                merged[-1] = (inner_size * size, inner_strides)
                continue
        merged.append((size, dim_strides))
    return merged or [(1, [1] * len(strides))]


def _launch(op: str, kernel_op: str, operands: Sequence[Tuple[str, Operand]],
            common: "torch.dtype", result_dtype: "torch.dtype", out: Optional[Any] = None,
            alpha: Any = 1, round_scalars: bool = False,
            tracked: Optional[bool] = None) -> "torch.Tensor":
    """Runs ``kernel_op`` over broadcast ``operands`` (name, tensor or number) converted to
    ``common`` (computing in fp32 for fp16/bf16) into ``out`` or a new tensor of
    ``result_dtype``; ``alpha`` is add's and sub's multiplier (1 is folded into the kernel).
    ``kernel_op`` "dropout" runs dropout_kernel with ``alpha`` = (p, scale, seed). Scalars
    convert to the compute dtype, or with ``round_scalars`` first to ``common`` (PyTorch's
    comparisons compare in the common dtype; its arithmetic takes scalars at fp32). ``tracked``:
    whether grad mode is on and an operand requires grad, where the caller knows it (the
    result then gets the raising node of ``no_backward``, and ``out`` is refused)."""
    tensors = [(name, v) for name, v in operands if isinstance(v, torch.Tensor)]
    device = next((v.device for _, v in tensors if not _is_cpu_scalar(v)), torch.device("cpu"))
    if device.type != "cpu":  # 0-d CPU tensors are then scalars passed by value, as in PyTorch
        tensors = [(name, v) for name, v in tensors if not _is_cpu_scalar(v)]
    for name, tensor in tensors[1:]:
        if tensor.device != device:
            raise ValueError(f"{op}: {name} is on {tensor.device} but {tensors[0][0]} is on "
                             f"{device}; expected tensors on one device")
    try:
        shape = torch.broadcast_shapes(*(t.shape for _, t in tensors))
    except RuntimeError:
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in tensors)
        raise ValueError(f"{op}: the shapes of {shapes} do not broadcast together") from None
    if tracked is None:  # over every tensor operand, 0-d CPU ones passed by value included
        tracked = tracks_grad(v for _, v in operands)
    if out is None:
        out = torch.empty(shape, dtype=result_dtype, device=device)
    else:
        if tracked:
            how = "inplace=True" if any(out is t for _, t in tensors) else "out="
            check_no_grad_out(op, (v for _, v in operands), how)
        out = check_out(op, out, shape, result_dtype, device, castable=True)
        if out.dtype not in _language_dtypes():
            raise TypeError(f"{op}: out has dtype {_dtype_name(out.dtype)}, which tessera.ops "
                            "does not support")
        for name, tensor in tensors:
            check_no_overlap(op, out, name, tensor, allow_same=True)
    if out.numel() != 0:
        launched = {id(t) for _, t in tensors}
        args = [v.expand(shape) if id(v) in launched else _scalar_argument(v, common)
                for _, v in operands]
        scalar_dtype = _language_dtypes()[common] if round_scalars else _compute_dtype(common)
        _launch_slices(kernel_op, args, out, (common, result_dtype, scalar_dtype), alpha)
    return without_backward(op, out, (v for _, v in operands)) if tracked else out


def _launch_slices(kernel_op: str, args: List[Any], out: "torch.Tensor",
                   dtypes: Tuple["torch.dtype", "torch.dtype", tl.dtype], alpha: Any) -> None:
    """Launches over ``out``, slicing its outermost dim while more than MAX_RANK merged dims
    remain."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)] + [out]
    dims = _merged_dims(out.shape, [t.stride() for t in tensors])
    if len(dims) > MAX_RANK:
        for i in range(out.shape[0]):
            if kernel_op == "dropout":  # each slice its own random stream
                p, scale, seed = alpha
                alpha = (p, scale, (seed + _SLICE_SEED_STEP) % 2 ** 62)
            _launch_slices(kernel_op, [a[i] if isinstance(a, torch.Tensor) else a for a in args],
                           out[i], dtypes, alpha)
        return
    n = out.numel()
    extents = [sum((size - 1) * strides[k] for size, strides in dims)
               for k in range(len(tensors))]
    index_64 = n >= _INDEX_32_LIMIT or max(extents) >= _INDEX_32_LIMIT
    rank = len(dims)
    padding = [1] * (MAX_RANK - rank)  # unused sizes and strides are 1, which the JIT folds
    sizes = [size for size, _ in dims[:-1]] + padding  # the outermost size is never needed
    strides = [[s[k] for _, s in dims] + padding for k in range(len(tensors))]
    num_warps = settings.get_default_num_warps() or _DEFAULT_NUM_WARPS
    if kernel_op == "dropout":
        dropout_kernel[(cdiv(n, DROPOUT_BLOCK),)](
            args[0], out, n, *alpha, *sizes, *strides[0], *strides[-1],
            RANK=rank, INDEX_64=index_64, BLOCK=DROPOUT_BLOCK, num_warps=num_warps)
        return
    kinds: List[int] = []
    kernel_strides: List[int] = []
    operand_strides = iter(strides)
    padded_args = list(args) + [None] * (3 - len(args))
    for arg in padded_args:
        if isinstance(arg, torch.Tensor):
            kinds.append(TENSOR)
            kernel_strides += next(operand_strides)
        else:
            kinds.append(ABSENT if arg is None else SCALAR)
            kernel_strides += [1] * MAX_RANK
    kernel_strides += strides[-1]
    widest = max(t.element_size() for t in tensors)
    block = num_warps * 32 * max(1, _BYTES_PER_THREAD // widest)
    elementwise_kernel[(cdiv(n, block),)](
        *padded_args, out, n, alpha, *sizes, *kernel_strides, OP=kernel_op, A_KIND=kinds[0],
        B_KIND=kinds[1], C_KIND=kinds[2], COMMON=_language_dtypes()[dtypes[0]],
        COMPUTE=_compute_dtype(dtypes[0]), RESULT=_language_dtypes()[dtypes[1]],
        SCALAR_DTYPE=dtypes[2], RANK=rank, INDEX_64=index_64, BLOCK=block, num_warps=num_warps)


# ==== public ops ===============================================================================
def _input(value: Any, op: str, name: str = "input") -> "torch.Tensor":
    """The op's main operand: a CUDA or CPU tensor of a supported dtype."""
    tensor = _tensor_operand(value, name, op)
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(value).__name__}")
    check_device(tensor, name, op)
    return tensor


def _reject(op: str, name: str, dtype: "torch.dtype", expected: str) -> None:
    raise TypeError(f"{op}: {name} has dtype {_dtype_name(dtype)}; expected {expected}")


def _float_result(dtype: "torch.dtype") -> "torch.dtype":
    """The dtype of a floating-point function of ``dtype`` (integers give the default float)."""
    return dtype if dtype.is_floating_point else torch.get_default_dtype()


def _float_function(name: str, kernel_op: str, doc: str):
    def function(input: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
        x = _input(input, name)
        if x.dtype.is_floating_point and kernel_op in UNARY_BACKWARDS:
            return _unary(name, kernel_op, x, out)
        result = _float_result(x.dtype)
        return _launch(name, kernel_op, [("input", x)], result, result, out)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"{doc}, element-wise, as ``torch.{name}``: floats keep their dtype "
                        "(fp16/bf16 computed in fp32), integers and bools give the default "
                        f"float dtype.\n\n    >>> y = tessera.ops.{name}(x)   # doctest: +SKIP\n")
    return function


exp = _float_function("exp", "exp", "The exponential")
rsqrt = _float_function("rsqrt", "rsqrt", "The reciprocal square root")
sin = _float_function("sin", "sin", "The sine")
cos = _float_function("cos", "cos", "The cosine")
sigmoid = _float_function("sigmoid", "sigmoid", "The logistic sigmoid ``1 / (1 + exp(-x))``")
tanh = _float_function("tanh", "tanh", "The hyperbolic tangent (+-1 for large ``|x|``, never "
                       "NaN)")


def abs(input: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``|input|`` element-wise, as ``torch.abs`` (any numeric dtype but bool).

    >>> tessera.ops.abs(x)   # doctest: +SKIP
    """
    x = _input(input, "abs")
    if x.dtype == torch.bool:
        _reject("abs", "input", x.dtype, "a number type (abs of bool is not supported)")
    return _unary("abs", "abs", x, out)


def neg(input: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``-input`` element-wise, as ``torch.neg`` (any numeric dtype but bool).

    >>> tessera.ops.neg(x)   # doctest: +SKIP
    """
    x = _input(input, "neg")
    if x.dtype == torch.bool:
        _reject("neg", "input", x.dtype, "a number type (use bitwise_not to negate bools)")
    return _unary("neg", "neg", x, out)


def bitwise_not(input: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``~input`` on integers, logical not on bools, as ``torch.bitwise_not``.

    >>> tessera.ops.bitwise_not(mask)   # doctest: +SKIP
    """
    x = _input(input, "bitwise_not")
    if x.dtype.is_floating_point:
        _reject("bitwise_not", "input", x.dtype, "an integer or bool dtype")
    return _launch("bitwise_not", "bitwise_not", [("input", x)], x.dtype, x.dtype, out)


def _classify(name: str, kernel_op: str, doc: str):
    def function(input: Any) -> "torch.Tensor":
        x = _input(input, name)
        return _launch(name, kernel_op, [("input", x)], _float_result(x.dtype), torch.bool)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"{doc} (a ``torch.bool`` tensor; integers and bools are never "
                        f"{name[2:]}), as ``torch.{name}``.\n\n"
                        f"    >>> tessera.ops.{name}(x).any()   # doctest: +SKIP\n")
    return function


isnan = _classify("isnan", "isnan", "Which elements are NaN")
isinf = _classify("isinf", "isinf", "Which elements are +inf or -inf")


@functools.lru_cache(maxsize=None)
def _unary_function() -> type:
    """The torch.autograd.Function of the differentiable unary functions (built on first use:
    importing needs no PyTorch). The backward recomputes the slope from the saved input."""
    class UnaryFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, op, kernel_op):
            ctx.save_for_backward(x)
            ctx.op, ctx.kernel_op = op, kernel_op
            return _launch(op, kernel_op, [("input", x)], x.dtype, x.dtype)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            grad_x = _launch(ctx.op, UNARY_BACKWARDS[ctx.kernel_op],
                             [("grad", grad), ("input", x)], x.dtype, x.dtype)
            return grad_x, None, None

    return UnaryFunction


def _unary(op: str, kernel_op: str, x: "torch.Tensor", out: Optional[Any] = None
           ) -> "torch.Tensor":
    """Unary function ``kernel_op`` (one of ``UNARY_BACKWARDS``) of ``x`` into ``out`` or a
    new tensor of its dtype; recorded for autograd where grad mode is on and ``x`` requires
    grad (``out`` is then refused)."""
    tracked = tracks_grad((x,))
    if out is None and tracked:
        return _unary_function().apply(x, op, kernel_op)
    return _launch(op, kernel_op, [("input", x)], x.dtype, x.dtype, out, tracked=tracked)


def _activation_input(op: str, input: Any, floats_only: bool) -> "torch.Tensor":
    x = _input(input, op)
    if x.dtype == torch.bool or (floats_only and not x.dtype.is_floating_point):
        _reject(op, "input", x.dtype, "a floating-point dtype" if floats_only else
                "a number type")
    return x


def _inplace_output(op: str, x: "torch.Tensor") -> "torch.Tensor":
    """``x`` as the output of an ``inplace=True`` call: each of its elements is written, so no
    two may share memory."""
    check_distinct(x, "input", op, "inplace=True needs distinct elements")
    return x


def relu(input: Any, inplace: bool = False) -> "torch.Tensor":
    """``max(input, 0)``, as ``torch.nn.functional.relu`` (NaN stays NaN); ``inplace=True``
    writes into ``input`` and returns it.

    >>> tessera.ops.relu(x, inplace=True)   # doctest: +SKIP
    """
    x = _activation_input("relu", input, floats_only=False)
    out = _inplace_output("relu", x) if check_bool(inplace, "inplace", "relu") else None
    return _unary("relu", "relu", x, out)


def silu(input: Any, inplace: bool = False) -> "torch.Tensor":
    """``input * sigmoid(input)``, as ``torch.nn.functional.silu``; floats only.

    >>> tessera.ops.silu(x)   # doctest: +SKIP
    """
    x = _activation_input("silu", input, floats_only=True)
    out = _inplace_output("silu", x) if check_bool(inplace, "inplace", "silu") else None
    return _unary("silu", "silu", x, out)


def gelu(input: Any, approximate: str = "none") -> "torch.Tensor":
    """``x * Phi(x)`` with the normal CDF through ``erf`` (``approximate="none"``) or PyTorch's
    ``tanh`` approximation (``"tanh"``), as ``torch.nn.functional.gelu``; floats only.

    >>> tessera.ops.gelu(x, approximate="tanh")   # doctest: +SKIP
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _activation_input("gelu", input, floats_only=True)
    return _unary("gelu", "gelu" if approximate == "none" else "gelu_tanh", x)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False
            ) -> "torch.Tensor":
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``, as
    ``torch.nn.functional.dropout``; with ``training=False`` or ``p == 0`` returns ``input``
    (``inplace=True``) or a copy. Floats only.

    The random stream is Philox keyed by a seed drawn from PyTorch's default (CPU) generator
    and the element's index in ``input``'s logical order, so ``torch.manual_seed`` makes the
    result reproducible whatever ``input``'s strides.

    >>> torch.manual_seed(0); y = tessera.ops.dropout(x, p=0.1)   # doctest: +SKIP
    """
    x = _activation_input("dropout", input, floats_only=True)
    if isinstance(p, bool) or not _is_number(p):
        raise TypeError(f"dropout: p must be a number in [0, 1], got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a number in [0, 1], got {p!r}")
    training = check_bool(training, "training", "dropout")
    inplace = check_bool(inplace, "inplace", "dropout")
    tracked = not inplace and tracks_grad((x,))
    if not training or p == 0:
        if inplace:
            return x
        if tracked:  # the identity, differentiable: dropout keeping every element
            return _dropout_function().apply(x, 0.0, 1.0, 0)
        return _launch("dropout", "identity", [("input", x)], x.dtype, x.dtype)
    out = _inplace_output("dropout", x) if inplace else None
    seed = int(torch.randint(0, 2 ** 62, (), dtype=torch.int64))
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    if tracked:
        return _dropout_function().apply(x, float(p), scale, seed)
    return _launch("dropout", "dropout", [("input", x)], x.dtype, x.dtype, out,
                   alpha=(float(p), scale, seed))


def _one_dropout_stream(x: "torch.Tensor") -> "torch.Tensor":
    """``x``, or a contiguous copy where a dropout of it would be launched in slices: each
    slice draws its own random stream, so a gradient (launched whole) would get another mask."""
    dims = _merged_dims(x.shape, [x.stride(), contiguous_strides(tuple(x.shape))])
    return x if len(dims) <= MAX_RANK else x.contiguous()


@functools.lru_cache(maxsize=None)
def _dropout_function() -> type:
    """The torch.autograd.Function of dropout. The backward is the same dropout of the
    gradient: the mask is a function of the seed and each element's logical index, so the
    gradient of a kept element is scaled as the element was, and a dropped one's is zero."""
    class DropoutFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, p, scale, seed):
            ctx.dropout = (p, scale, seed)
            return _launch("dropout", "dropout", [("input", _one_dropout_stream(x))], x.dtype,
                           x.dtype, alpha=ctx.dropout)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad):
            grad_x = _launch("dropout", "dropout", [("grad", _one_dropout_stream(grad))],
                             grad.dtype, grad.dtype, alpha=ctx.dropout)
            return grad_x, None, None, None

    return DropoutFunction


def _binary_operands(op: str, input: Any, other: Any, other_name: str = "other"
                     ) -> Tuple[List[Tuple[str, Operand]], "torch.dtype"]:
    operands = [("input", _input(input, op)), (other_name, _tensor_operand(other, other_name, op))]
    return operands, _result_type(op, operands)


def _check_alpha(op: str, alpha: Any, result: "torch.dtype") -> Any:
    if not _is_number(alpha):
        raise TypeError(f"{op}: alpha must be a real number, got {type(alpha).__name__}")
    if not result.is_floating_point and isinstance(alpha, float):
        raise TypeError(f"{op}: alpha is a float but the result has the integral dtype "
                        f"{_dtype_name(result)}; expected an integer alpha")
    if result == torch.bool and alpha != 1:
        raise TypeError(f"{op}: alpha must be 1 (or True) for bool tensors, got {alpha!r}")
    return int(alpha) if isinstance(alpha, bool) else alpha


def _arithmetic(op: str, operands: List[Tuple[str, Operand]], result: "torch.dtype",
                out: Optional[Any], alpha: Any = 1) -> "torch.Tensor":
    """add, sub, mul or div (true division) of ``operands`` into ``out`` or a new tensor of
    ``result``; recorded for autograd where grad mode is on and a tensor operand requires grad
    (``out`` is then refused). Operands that autograd cannot follow here (a CPU scalar tensor
    beside CUDA tensors, integer results) get the no-backward node of ``_launch``."""
    tensors = [v for _, v in operands if isinstance(v, torch.Tensor)]
    tracked = tracks_grad(tensors)
    if out is None and tracked and result.is_floating_point and \
            len({t.device for t in tensors if t.requires_grad or t.dim()}) == 1:
        (_, a), (_, b) = operands
        return _arithmetic_function().apply(op, result, alpha, a, b)
    return _launch(op, op, operands, result, result, out, alpha=alpha, tracked=tracked)


def sum_to(op: str, grad: "torch.Tensor", shape: Sequence[int], dtype: "torch.dtype",
            scale: Any = 1) -> "torch.Tensor":
    """``scale * grad`` summed over the dims along which an operand of ``shape`` broadcast to
    ``grad``'s, in ``dtype``: that operand's gradient. Each run of adjacent broadcast dims is one
    ``sum_rows`` (fp32 sums in a fixed order; fp32 between runs)."""
    target = (1,) * (grad.dim() - len(shape)) + tuple(shape)
    runs: List[Tuple[int, int]] = []
    for d, (size, want) in enumerate(zip(grad.shape, target)):
        if size != want:
            if runs and runs[-1][1] == d:
                runs[-1] = (runs[-1][0], d + 1)
            else:
                runs.append((d, d + 1))
    if not runs:
        if scale == 1:
            return grad if grad.dtype == dtype else _launch(
                op, "identity", [("grad", grad)], grad.dtype, dtype)
        return _launch(op, "mul", [("grad", grad), ("scale", scale)], grad.dtype, dtype)
    current = grad.contiguous()  # the runs become (A, P, N) views
    dims = list(current.shape)
    for k, (start, end) in enumerate(runs):
        last = k == len(runs) - 1
        outer = math.prod(dims[:start])
        inner = math.prod(dims[end:])
        summed = torch.empty((outer, inner), dtype=dtype if last else torch.float32,
                             device=grad.device)
        sum_rows(current.view(outer, math.prod(dims[start:end]), inner), summed,
                 scale if last else 1)
        dims[start:end] = [1] * (end - start)
        current = summed.view(dims)
    return current.view(tuple(shape))


@functools.lru_cache(maxsize=None)
def _arithmetic_function() -> type:
    """The torch.autograd.Function of add, sub, mul and div (built on first use: importing
    needs no PyTorch). With ``g`` the output's gradient and ``y`` the output:
    add/sub ``g`` and ``+-alpha * g``; mul ``g * b`` and ``g * a``; div ``g / b`` and
    ``-(g / b) * y``; each summed to its operand's shape and rounded to its dtype."""
    class ArithmeticFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, op, result, alpha, a, b):
            y = _launch(op, op, [("input", a), ("other", b)], result, result, alpha=alpha)
            ctx.op, ctx.result, ctx.alpha = op, result, alpha
            ctx.operands = [(tuple(v.shape), v.dtype) if isinstance(v, torch.Tensor) else None
                            for v in (a, b)]
            ctx.scalars = [None if isinstance(v, torch.Tensor) else v for v in (a, b)]
            kept = {"mul": (a, b), "div": (None, b)}.get(op, (None, None))
            ctx.save_for_backward(*(v if isinstance(v, torch.Tensor) else None for v in kept),
                                  y if op == "div" else None)
            return y

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            saved_a, saved_b, y = ctx.saved_tensors
            a = saved_a if saved_a is not None else ctx.scalars[0]
            b = saved_b if saved_b is not None else ctx.scalars[1]
            op, result = ctx.op, ctx.result
            needs = ctx.needs_input_grad[3:5]
            grads: List[Optional["torch.Tensor"]] = [None, None]
            # A product that is summed over broadcast dims stays in fp32 until the sum is
            # rounded: fp16/bf16 products would each be rounded first, and their sum can cancel.
            wide = [torch.float32 if needs[i] and ctx.operands[i] is not None and
                    ctx.operands[i][0] != tuple(g.shape) and result.itemsize < 4 else result
                    for i in range(2)]
            if op in ("add", "sub"):
                other_scale = ctx.alpha if op == "add" else -ctx.alpha
                parts = [(g, 1), (g, other_scale)]
            elif op == "mul":
                parts = [(_launch(op, "mul", [("grad", g), ("other", b)], result, wide[0]), 1)
                         if needs[0] else None,
                         (_launch(op, "mul", [("grad", g), ("input", a)], result, wide[1]), 1)
                         if needs[1] else None]
            else:
                quotient = _launch(op, "div", [("grad", g), ("other", b)], result,
                                   torch.promote_types(*wide))
                parts = [(quotient, 1),
                         (_launch(op, "mul", [("grad", quotient), ("result", y)], quotient.dtype,
                                  wide[1]), -1) if needs[1] else None]
            for i, part in enumerate(parts):
                if needs[i] and part is not None and ctx.operands[i] is not None:
                    shape, dtype = ctx.operands[i]
                    grads[i] = sum_to(op, part[0], shape, dtype, part[1])
            return None, None, None, grads[0], grads[1]

    return ArithmeticFunction


def add(input: Any, other: Any, *, alpha: Any = 1, out: Optional["torch.Tensor"] = None
        ) -> "torch.Tensor":
    """``input + alpha * other`` with broadcasting and type promotion, as ``torch.add``
    (bools: logical or).

    >>> tessera.ops.add(x, 1.5)                  # doctest: +SKIP
    >>> tessera.ops.add(x, bias, alpha=-1)       # doctest: +SKIP
    """
    operands, result = _binary_operands("add", input, other)
    alpha = _check_alpha("add", alpha, result)
    if result == torch.bool:
        return _launch("add", "bitwise_or", operands, result, result, out, alpha=alpha)
    return _arithmetic("add", operands, result, out, alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Optional["torch.Tensor"] = None
        ) -> "torch.Tensor":
    """``input - alpha * other`` with broadcasting and type promotion, as ``torch.sub``.

    >>> tessera.ops.sub(x, y, alpha=2)   # doctest: +SKIP
    """
    operands, result = _binary_operands("sub", input, other)
    if any(isinstance(v, bool) or (isinstance(v, torch.Tensor) and v.dtype == torch.bool)
           for _, v in operands):
        raise TypeError("sub: subtracting bools is not supported (PyTorch refuses it too); use "
                        "bitwise_not or a logical op")
    alpha = _check_alpha("sub", alpha, result)
    return _arithmetic("sub", operands, result, out, alpha)


def mul(input: Any, other: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``input * other`` with broadcasting and type promotion, as ``torch.mul`` (bools:
    logical and).

    >>> tessera.ops.mul(x, 0.5)   # doctest: +SKIP
    """
    operands, result = _binary_operands("mul", input, other)
    if result == torch.bool:
        return _launch("mul", "bitwise_and", operands, result, result, out)
    return _arithmetic("mul", operands, result, out)


def div(input: Any, other: Any, *, rounding_mode: Optional[str] = None,
        out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``input / other`` as ``torch.div``: true division (integers give the default float
    dtype) with ``rounding_mode=None``, the quotient rounded toward zero with ``"trunc"`` or
    toward negative infinity with ``"floor"`` (integer division for integer dtypes).

    >>> tessera.ops.div(a, b, rounding_mode="floor")   # doctest: +SKIP
    """
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError("div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    operands, result = _binary_operands("div", input, other)
    if rounding_mode is None:
        return _arithmetic("div", operands, _float_result(result), out)
    if result == torch.bool:
        _reject("div", "input", result, f"numbers for rounding_mode={rounding_mode!r}")
    return _launch("div", "div_" + rounding_mode, operands, result, result, out)


def pow(input: Any, exponent: Any, *, out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``input ** exponent`` as ``torch.pow``; either may be a Python number (not both).
    Integer powers are exact; a negative integer exponent of an integer base gives 1, -1 or 0
    as in PyTorch, except that a Python number as that exponent is an error, as in PyTorch.

    >>> tessera.ops.pow(x, 2)     # doctest: +SKIP
    >>> tessera.ops.pow(2.0, x)   # doctest: +SKIP
    """
    operands = [("input", _tensor_operand(input, "input", "pow")),
                ("exponent", _tensor_operand(exponent, "exponent", "pow"))]
    result = _result_type("pow", operands)
    if result == torch.bool:
        _reject("pow", "input", result, "numbers (pow of bools is not supported)")
    if not result.is_floating_point and _is_number(exponent) and exponent < 0:
        raise ValueError(f"pow: exponent is {exponent}; integers to negative integer powers "
                         "are not allowed")
    return _launch("pow", "pow", operands, result, result, out)


def _comparison(name: str, symbol: str):
    def function(input: Any, other: Any, *, out: Optional["torch.Tensor"] = None
                 ) -> "torch.Tensor":
        operands, common = _binary_operands(name, input, other)
        # Bools compare as 0 and 1 (an i1 compares as signed: True would be -1).
        compute = torch.uint8 if common == torch.bool else common
        return _launch(name, name, operands, compute, torch.bool, out, round_scalars=True)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``input {symbol} other`` element-wise with broadcasting, as "
                        f"``torch.{name}``: a ``torch.bool`` tensor, both operands first "
                        "promoted to their common dtype.\n\n"
                        f"    >>> tessera.ops.{name}(x, 0)   # doctest: +SKIP\n")
    return function


eq = _comparison("eq", "==")
ne = _comparison("ne", "!=")
lt = _comparison("lt", "<")
le = _comparison("le", "<=")
gt = _comparison("gt", ">")
ge = _comparison("ge", ">=")


def _reject_float_operand(op: str, operands: Sequence[Tuple[str, Operand]],
                          result: "torch.dtype") -> None:
    """The TypeError of a bitwise op whose operands promote to the float ``result``, naming the
    first floating-point operand."""
    for name, value in operands:
        if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
            _reject(op, name, value.dtype, "integer or bool operands")
        if _is_number(value) and not isinstance(value, Integral):
            raise TypeError(f"{op}: {name} is the float {value}; expected integer or bool "
                            "operands")
    _reject(op, "input", result, "integer or bool operands")


def _bitwise(name: str, symbol: str):
    def function(input: Any, other: Any, *, out: Optional["torch.Tensor"] = None
                 ) -> "torch.Tensor":
        operands, result = _binary_operands(name, input, other)
        if result.is_floating_point:
            _reject_float_operand(name, operands, result)
        return _launch(name, name, operands, result, result, out)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``input {symbol} other`` on integers and bools with broadcasting, as "
                        f"``torch.{name}``.\n\n"
                        f"    >>> tessera.ops.{name}(mask, other_mask)   # doctest: +SKIP\n")
    return function


bitwise_and = _bitwise("bitwise_and", "&")
bitwise_or = _bitwise("bitwise_or", "|")


def clamp(input: Any, min: Any = None, max: Any = None, *,
          out: Optional["torch.Tensor"] = None) -> "torch.Tensor":
    """``min(max(input, min), max)`` as ``torch.clamp``: bounds are tensors (broadcast) or
    numbers, either may be None (not both); NaN in any operand gives NaN; ``min > max`` gives
    ``max``.

    >>> tessera.ops.clamp(x, min=0.0)            # doctest: +SKIP
    >>> tessera.ops.clamp(x, lo, hi, out=x)      # doctest: +SKIP
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must not be None")
    operands = [("input", _input(input, "clamp"))]
    for name, bound in (("min", min), ("max", max)):
        if bound is not None:
            operands.append((name, _tensor_operand(bound, name, "clamp")))
    result = _result_type("clamp", operands)
    if result == torch.bool:
        _reject("clamp", "input", result, "numbers (clamp of bools is not supported)")
    kernel_op = "clamp" if len(operands) == 3 else "clamp_min" if max is None else "clamp_max"
    return _launch("clamp", kernel_op, operands, result, result, out)
