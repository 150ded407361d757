"""``tessera.TensorDescriptor``: a tensor in device memory passed to a kernel as a descriptor,
as Triton's ``triton.tools.tensor_descriptor.TensorDescriptor``.

    desc = tessera.TensorDescriptor.from_tensor(x, block_shape=[128, 64])
    kernel[grid](desc, ...)            # in the kernel: desc.load([row, col]), desc.store(...)

The last dimension must be contiguous (stride 1). On sm_90a, the one target whose kernels use
the Tensor Memory Accelerator, the launch also passes a TMA tensor map when the tensor allows
one: a base address and strides that are multiples of 16 bytes, and rows of at least 16 bytes.
The map copies boxes of ``min(128, row bytes)`` bytes along the last dimension, swizzled at that
width, and the block's rows (``tma_box``): the shared-memory layout the compiler's software
pipeliner fills for tensor cores, a block taking one box per such column run. Blocks of more
than 256 rows, and anything else, fall back to ordinary loads.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

from .. import _C
from ..language.dtypes import str_to_ty
from .arguments import classify
from .host import HOST

__all__ = ["TensorDescriptor"]

_MAX_BOX = 256  # elements along a dimension of a TMA box


def _ints(values: Sequence[Any], name: str) -> Tuple[int, ...]:
    try:
        result = tuple(int(v) for v in values)
    except TypeError:
        raise TypeError(f"TensorDescriptor: {name} must be a sequence of ints, got "
                        f"{values!r}") from None
    if any(isinstance(v, bool) for v in values):
        raise TypeError(f"TensorDescriptor: {name} must hold ints, got {values!r}")
    return result


def tma_box(block_shape: Sequence[int], element_bytes: int) -> Tuple[List[int], int]:
    """The TMA box one copy moves for ``block_shape``, and its swizzle width in bytes (0 for
    none): rows of ``min(128, row bytes)`` bytes, swizzled at that width when it is at least
    32 bytes."""
    row_bytes = block_shape[-1] * element_bytes
    swizzle = min(128, row_bytes) if row_bytes >= 32 else 0
    inner = swizzle // element_bytes if swizzle else block_shape[-1]
    return [*block_shape[:-1], inner], swizzle


class TensorDescriptor:
    """A descriptor of ``base`` (a tensor or any kernel pointer argument) viewed as a tensor of
    ``shape`` and ``strides`` (in elements, the last 1) accessed in ``block_shape`` blocks.

    ``block_shape`` may be reassigned (an autotuner ``pre_hook`` sets it per config, as in
    Triton); ``padding`` is ``"zero"``: elements outside the tensor load as 0.
    """

    def __init__(self, base: Any, shape: Sequence[int], strides: Sequence[int],
                 block_shape: Sequence[int], padding: str = "zero") -> None:
        shape, strides = _ints(shape, "shape"), _ints(strides, "strides")
        if not 1 <= len(shape) <= 5:
            raise ValueError(f"TensorDescriptor: rank must be 1 to 5, got shape {shape}")
        if len(strides) != len(shape):
            raise ValueError(f"TensorDescriptor: strides {strides} and shape {shape} differ in "
                             "rank")
        if strides[-1] != 1:
            raise ValueError(f"TensorDescriptor: the last dimension must be contiguous (stride "
                             f"1), got strides {strides}")
        if any(s < 0 for s in shape):
            raise ValueError(f"TensorDescriptor: shape {shape} has a negative size")
        if padding != "zero":
            raise ValueError(f"TensorDescriptor: padding must be 'zero', got {padding!r}")
        key, pointer, device = classify(base, True)
        if key[0] == "c" or not str(key[0]).startswith("*"):
            raise TypeError(f"TensorDescriptor: base must be a tensor, got {type(base).__name__}")
        if key[0] == "*i1":
            raise TypeError("TensorDescriptor: bool tensors are not supported")
        self.base = base
        self.shape = shape
        self.strides = strides
        self.padding = padding
        self._element = key[0][1:]
        self._pointer: int = pointer
        self._device: Union[int, str, None] = device  # a CUDA device, or HOST
        self._element_bytes: int = str_to_ty(self._element).primitive_bitwidth // 8
        self._launch: Optional[Tuple[Any, Any, Any]] = None
        self.block_shape = block_shape

    @staticmethod
    def from_tensor(tensor: Any, block_shape: Sequence[int]) -> "TensorDescriptor":
        """The descriptor of a whole tensor (its own shape and strides)::

            desc = tessera.TensorDescriptor.from_tensor(a, block_shape=[128, 64])
        """
        return TensorDescriptor(tensor, tensor.shape, tensor.stride(), block_shape)

    @property
    def block_shape(self) -> Tuple[int, ...]:
        return self._block_shape

    @block_shape.setter
    def block_shape(self, block_shape: Sequence[int]) -> None:
        block = _ints(block_shape, "block_shape")
        if len(block) != len(self.shape):
            raise ValueError(f"TensorDescriptor: block_shape {block} and shape {self.shape} "
                             "differ in rank")
        if any(b < 1 or b & (b - 1) for b in block):
            raise ValueError(f"TensorDescriptor: block_shape entries must be powers of two, "
                             f"got {block}")
        if getattr(self, "_block_shape", None) != block:
            self._block_shape = block
            self._launch = None

    def supports_tma(self) -> bool:
        """Whether kernels on the tensor's device read it through a TMA tensor map (whatever the
        block shape): an sm_90a GPU, a base address and strides that are multiples of 16
        bytes."""
        e = self._element_bytes
        return (self._target() == "sm_90a"
                and self._pointer % 16 == 0
                and all(s * e % 16 == 0 for s in self.strides[:-1])
                and all(1 <= d <= 2 ** 32 for d in self.shape))

    def _target(self) -> Optional[str]:
        """The compile target of the tensor's device, None off the GPU."""
        from .jit_function import device_target
        return device_target(self._device) if self._device not in (None, HOST) else None

    def _tma_ready(self) -> bool:
        """Whether a TMA tensor map can describe the tensor and its blocks."""
        box, _ = tma_box(self._block_shape, self._element_bytes)
        return (self.supports_tma() and all(b <= _MAX_BOX for b in box)
                and box[-1] * self._element_bytes % 16 == 0)

    def launch_argument(self) -> Tuple[Any, Any, Optional[int]]:
        """``(key, value, device)`` for the kernel launcher (see ``runtime.arguments``)."""
        if self._launch is None:
            key = self.key()
            value: List[Any] = [self._pointer, *self.shape, *self.strides[:-1]]
            if key[1]:
                value.insert(0, self._tensor_map())
            self._launch = (key, tuple(value), self._device)
        return self._launch

    def key(self) -> Tuple[str, bool]:
        """The descriptor's part of a specialisation key: its signature and whether it is
        TMA-ready."""
        signature = f"tensordesc<{self._element}[{','.join(str(b) for b in self._block_shape)}]>"
        return signature, self._tma_ready()

    def _tensor_map(self) -> bytes:
        e = self._element_bytes
        box, swizzle = tma_box(self._block_shape, e)
        return _C.encode_tensor_map(self._pointer, list(self.shape),
                                    [s * e for s in self.strides[:-1]], box, e, swizzle)

    def __repr__(self) -> str:
        return (f"TensorDescriptor(shape={self.shape}, strides={self.strides}, "
                f"block_shape={self._block_shape}, dtype={self._element})")

