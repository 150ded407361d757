"""Argument checks shared by the ops: tensors in, devices, dtypes, ``out=``; ``sm_count``, the
device fact the ops size their grids by; and ``device_scope``.

The ops run on CUDA tensors, and on CPU tensors through the host back end (the kernels compiled
for this CPU, as ``device="cpu"`` launches are), which is how the CPU test tier checks their
numerics without a GPU.

Every error names the op and the argument and says what was expected, as ``specs/ops.md``
("Errors") asks: ``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong device,
rank or shape, or a value out of range (NaN included).

    >>> check_device(torch.ones(2, device="meta"), "input", "mm")   # doctest: +SKIP
    ValueError: mm: input is on meta; expected a CUDA or CPU tensor
"""
from __future__ import annotations

import contextlib
import functools
import math
from numbers import Complex, Number, Real
from typing import Any, Optional, Sequence, Tuple

try:
    import torch
except ImportError:  # pragma: no cover - the CPU tier has no PyTorch
    torch = None

__all__ = ["HOST_SM_COUNT", "as_tensor", "check_bool", "check_device", "check_distinct",
           "check_dtype", "check_finite", "check_no_overlap", "check_out", "check_real",
           "check_same", "check_separate", "device_scope", "memory_range", "overlaps",
           "sm_count"]

# What sm_count says of the host: the grid-sizing rules then split work as they would on a small
# GPU, so that the CPU tier runs the ops' split paths (the host runs programs one at a time).
HOST_SM_COUNT = 4


def as_tensor(value: Any, name: str, op: str) -> "torch.Tensor":
    """``value`` as a ``torch.Tensor``: tensors pass through, objects exposing
    ``__cuda_array_interface__`` or ``__dlpack__`` become views of the same memory."""
    if torch is None:
        raise RuntimeError(f"tessera.ops.{op} needs PyTorch, which is not installed")
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "__cuda_array_interface__"):
        return torch.as_tensor(value)
    if hasattr(value, "__dlpack__"):
        return torch.from_dlpack(value)
    raise TypeError(f"{op}: {name} must be a tensor (a torch.Tensor, or an object with "
                    f"__dlpack__ or __cuda_array_interface__), got {type(value).__name__}")


def check_device(tensor: "torch.Tensor", name: str, op: str) -> None:
    """``tensor`` is where the ops run: a CUDA device, or the host CPU."""
    if tensor.device.type not in ("cuda", "cpu"):
        raise ValueError(f"{op}: {name} is on {tensor.device}; expected a CUDA or CPU tensor")


def check_dtype(tensor: "torch.Tensor", name: str, op: str, allowed: Sequence[Any]) -> None:
    if tensor.dtype not in allowed:
        names = ", ".join(str(d).replace("torch.", "") for d in allowed)
        raise TypeError(f"{op}: {name} has dtype {str(tensor.dtype).replace('torch.', '')}; "
                        f"expected one of {names}")


def check_same(op: str, *named: Tuple[str, "torch.Tensor"]) -> None:
    """The tensors are on one device and of one dtype (the first one's)."""
    first_name, first = named[0]
    for name, tensor in named[1:]:
        if tensor.device != first.device:
            raise ValueError(f"{op}: {name} is on {tensor.device} but {first_name} is on "
                             f"{first.device}; expected tensors on one device")
        if tensor.dtype != first.dtype:
            raise TypeError(f"{op}: {name} has dtype {tensor.dtype} but {first_name} has "
                            f"{first.dtype}; expected the same dtype")


def check_bool(value: Any, name: str, op: str) -> bool:
    """``value``, which must be a Python bool: a flag's stand-ins (the string ``"False"``, which
    is truthy, 1, a NumPy or tensor bool) are refused, as PyTorch's own flags refuse them."""
    if not isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a bool, got {type(value).__name__}")
    return value


def check_real(value: Any, name: str, op: str) -> float:
    """``value`` as a float: a real number (a Python or NumPy int or float...), not a bool, a
    complex, a string or a tensor."""
    if isinstance(value, bool) or not isinstance(value, Number) or \
            (isinstance(value, Complex) and not isinstance(value, Real)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an int past the floats' range
        return math.inf if value > 0 else -math.inf


def check_finite(value: Any, name: str, op: str, low: Optional[float] = None,
                 high: Optional[float] = None, expected: Optional[str] = None) -> float:
    """``value`` as a float: a real number (``check_real``) that is finite (not NaN nor +-inf)
    and within ``[low, high]`` where they are given. ``expected`` words the ValueError's
    expectation (by default "a finite number", with the bounds).

        >>> check_finite(float("nan"), "eps", "layer_norm", low=0)   # doctest: +SKIP
        ValueError: layer_norm: eps is nan; expected a finite number >= 0
    """
    number = check_real(value, name, op)
    if math.isfinite(number) and (low is None or number >= low) and \
            (high is None or number <= high):
        return number
    if expected is None:
        expected = "a finite number" + (
            f" in [{low}, {high}]" if low is not None and high is not None else
            f" >= {low}" if low is not None else f" <= {high}" if high is not None else "")
    raise ValueError(f"{op}: {name} is {value}; expected {expected}")


def check_distinct(tensor: "torch.Tensor", name: str, op: str,
                   expected: str = "expected a tensor whose elements are distinct") -> None:
    """No two elements of ``tensor``, which the op writes, share memory through a 0 stride (an
    expanded view): each would receive several results. ``expected`` ends the error."""
    if any(stride == 0 and size > 1 for stride, size in zip(tensor.stride(), tensor.shape)):
        raise ValueError(f"{op}: {name} has elements that share memory (a 0 stride); "
                         f"{expected}")


def memory_range(tensor: "torch.Tensor") -> Optional[Tuple[int, int]]:
    """The byte range ``[start, end)`` of a non-empty tensor whose elements tile their memory
    exactly (non-overlapping and dense, in any dimension order), else None."""
    if tensor.numel() == 0:
        return None
    expected = 1
    for stride, size in sorted((st, sz) for st, sz in zip(tensor.stride(), tensor.shape)
                               if sz != 1):
        if stride != expected:
            return None
        expected *= size
    start = tensor.data_ptr()
    return start, start + tensor.numel() * tensor.element_size()


def _span(tensor: "torch.Tensor") -> Tuple[int, int]:
    """The byte range ``[start, end)`` from a non-empty tensor's first element to past its last
    (PyTorch strides are never negative)."""
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    start = tensor.data_ptr()
    return start, start + (last + 1) * tensor.element_size()


def overlaps(tensor: "torch.Tensor", other: "torch.Tensor") -> bool:
    """Whether two tensors share memory, as far as their layouts tell: where the memory between
    their first and last elements intersects, they overlap when both are dense, when one lies
    within a dense other, or when both are the same view; other strided views (interleaved rows
    of one buffer) are taken to be separate."""
    if tensor.numel() == 0 or other.numel() == 0:
        return False
    a, b = _span(tensor), _span(other)
    if not (a[0] < b[1] and b[0] < a[1]):
        return False
    dense_a, dense_b = memory_range(tensor), memory_range(other)
    return (dense_a is not None and dense_b is not None) or \
        (dense_a is not None and dense_a[0] <= b[0] and b[1] <= dense_a[1]) or \
        (dense_b is not None and dense_b[0] <= a[0] and a[1] <= dense_b[1]) or \
        (a == b and tensor.stride() == other.stride())


def check_separate(op: str, name: str, tensor: "torch.Tensor", other_name: str,
                   other: "torch.Tensor", why: str) -> None:
    """ValueError where ``tensor`` ``overlaps`` ``other``."""
    if overlaps(tensor, other):
        raise ValueError(f"{op}: {name} overlaps {other_name} in memory; expected separate "
                         f"tensors ({why})")


def check_no_overlap(op: str, out: "torch.Tensor", name: str, tensor: "torch.Tensor",
                     allow_same: bool = False) -> None:
    """``out`` shares no memory with ``tensor`` (``overlaps``). With ``allow_same``, ``out`` may
    also be ``tensor`` itself, element for element (an element-wise op in place)."""
    if allow_same and tensor.dim() > 0 and tuple(tensor.shape) == tuple(out.shape) and \
            tensor.data_ptr() == out.data_ptr() and tensor.stride() == out.stride():
        return
    if overlaps(out, tensor):
        expected = f"{name} itself or separate from it" if allow_same else "a separate output"
        raise ValueError(f"{op}: out overlaps {name} in memory; expected {expected}")


def check_out(op: str, out: Any, shape: Sequence[int], dtype: "torch.dtype",
              device: "torch.device", castable: bool = False) -> "torch.Tensor":
    """``out`` as the result of ``op``: a tensor of exactly ``shape`` on ``device``, no two of
    whose elements share memory, of ``dtype`` (with ``castable``: of any dtype that ``dtype``
    casts to, as PyTorch's element-wise ops allow)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{op}: out must be a torch.Tensor, got {type(out).__name__}")
    if castable and not torch.can_cast(dtype, out.dtype):
        raise TypeError(f"{op}: out has dtype {out.dtype}, but the result has dtype {dtype}, "
                        "which cannot be cast to it")
    if not castable and out.dtype != dtype:
        raise TypeError(f"{op}: out has dtype {out.dtype}; expected {dtype} (the result's "
                        "dtype)")
    if out.device != device:
        raise ValueError(f"{op}: out is on {out.device}; expected {device}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{op}: out has shape {tuple(out.shape)}; expected {tuple(shape)}")
    check_distinct(out, "out", op)
    return out


def sm_count(device: "torch.device") -> int:
    """The number of SMs of CUDA ``device`` (queried once per device), or ``HOST_SM_COUNT`` for
    the CPU."""
    return HOST_SM_COUNT if device.type == "cpu" else _cuda_sm_count(device.index)


@functools.lru_cache(maxsize=None)
def _cuda_sm_count(index: Optional[int]) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def device_scope(device: "torch.device") -> Any:
    """Makes CUDA ``device`` current (``torch.cuda.device``); nothing for the CPU."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
