"""A minimal device buffer over the C API's ``tessera_malloc``/``memcpy``, for callers
without a framework such as PyTorch.

    >>> import numpy as np
    >>> x = tessera.from_numpy(np.arange(1024, dtype=np.float32))   # doctest: +SKIP
    >>> y = tessera.empty((1024,), tl.float32)                       # doctest: +SKIP
    >>> add_kernel[(8,)](x, x, y, 1024, BLOCK=128)                   # doctest: +SKIP
    >>> y.numpy()[:3]                                                # doctest: +SKIP
    array([0., 2., 4.], dtype=float32)

Buffers are accepted as kernel arguments and expose ``__cuda_array_interface__``.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Sequence, Tuple, Union

from .. import _C
from ..language.dtypes import dtype, str_to_ty, ty_to_str

__all__ = ["DeviceBuffer", "empty", "from_numpy"]

# Triton signature name -> numpy dtype name (bf16 has no numpy equivalent).
_NUMPY_NAMES = {"i1": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
                "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
                "fp16": "float16", "fp32": "float32", "fp64": "float64"}
_SIGNATURE_OF_NUMPY = {name: signature for signature, name in _NUMPY_NAMES.items()}


def _as_dtype(value: Union[dtype, str, Any]) -> dtype:
    """A language dtype from a dtype, a signature name ("fp32", "bf16") or a numpy dtype."""
    if isinstance(value, dtype):
        if value.is_ptr() or value.is_block():
            raise TypeError(f"a buffer holds scalars, not {value}")
        return value
    if isinstance(value, str):
        try:
            return str_to_ty(value)
        except ValueError:
            name = value
    else:
        import numpy
        name = numpy.dtype(value).name
    if name not in _SIGNATURE_OF_NUMPY:
        raise TypeError(f"unsupported buffer dtype {value!r}")
    return str_to_ty(_SIGNATURE_OF_NUMPY[name])


class DeviceBuffer:
    """``prod(shape)`` elements of ``dtype`` in the memory of CUDA device ``device``.

    Freed when garbage-collected. ``ptr`` is the device address.
    """

    def __init__(self, shape: Union[int, Sequence[int]], dtype: Union[dtype, str, Any],
                 device: int = 0) -> None:
        self.shape: Tuple[int, ...] = (int(shape),) if isinstance(shape, int) else tuple(
            int(d) for d in shape)
        if any(d < 0 for d in self.shape):
            raise ValueError(f"negative dimension in shape {self.shape}")
        self.dtype = _as_dtype(dtype)
        self.signature = ty_to_str(self.dtype)
        self.device = device
        self.itemsize = max(self.dtype.primitive_bitwidth // 8, 1)
        self.nbytes = math.prod(self.shape) * self.itemsize
        self.ptr = 0
        self.ptr = _C.malloc(device, max(self.nbytes, 1))

    def data_ptr(self) -> int:
        return self.ptr

    def numpy(self) -> Any:
        """A host copy as a numpy array (not for bf16, which numpy lacks)."""
        import numpy
        if self.signature not in _NUMPY_NAMES:
            raise TypeError(f"numpy has no {self.dtype} dtype")
        array = numpy.empty(self.shape, dtype=_NUMPY_NAMES[self.signature])
        if self.nbytes:
            _C.memcpy_dtoh(self.device, array, self.ptr)
        return array

    @property
    def __cuda_array_interface__(self) -> Dict[str, Any]:
        if self.signature not in _NUMPY_NAMES:
            raise TypeError(f"__cuda_array_interface__ has no typestr for {self.dtype}")
        import numpy
        return {"shape": self.shape, "typestr": numpy.dtype(_NUMPY_NAMES[self.signature]).str,
                "data": (self.ptr, False), "version": 3, "strides": None}

    def __del__(self) -> None:
        if self.ptr:
            try:
                _C.free(self.device, self.ptr)
            except Exception:  # interpreter shutdown or a failed driver: nothing to report to
                pass

    def __repr__(self) -> str:
        return (f"DeviceBuffer(shape={self.shape}, dtype={self.dtype}, device={self.device}, "
                f"ptr=0x{self.ptr:x})")


def empty(shape: Union[int, Sequence[int]], dtype: Union[dtype, str, Any],
          device: int = 0) -> DeviceBuffer:
    """An uninitialised buffer; ``dtype`` is a ``tl`` dtype, "fp32"-style name or numpy dtype.

    >>> tessera.empty((4, 256), tl.float16, device=0)   # doctest: +SKIP
    """
    return DeviceBuffer(shape, dtype, device)


def from_numpy(array: Any, device: int = 0) -> DeviceBuffer:
    """A device copy of a numpy array.

    >>> tessera.from_numpy(np.ones(16, np.float32)).numpy().sum()   # doctest: +SKIP
    16.0
    """
    import numpy
    host = numpy.ascontiguousarray(array)
    buffer = DeviceBuffer(host.shape, host.dtype, device)
    if buffer.nbytes:
        _C.memcpy_htod(device, buffer.ptr, host)
    return buffer
