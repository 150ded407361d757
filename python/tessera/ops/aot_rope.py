"""rotary_position_embedding ahead of time: the kernels and op records (docs/op-records.md,
"The rope family") that let C and C++ programs call it by name.

The kernel's constexprs fix the head dim, so an entry names shapes ``[B, S, H, D]``. An input
dtype means four *variants* (two for fp32): tables of fp32 or of the input's dtype, pairs
interleaved or in halves. Per shape and variant, three kernels: the case, which the Python op
compiles for that contiguous call at 256-byte aligned addresses with contiguous tables, and two
generic twins of the same tile (32- and 64-bit offsets) that assume nothing.

The case is planned by the op's own code (``rope._arguments``: ``launch_config``,
``_word_view``, the 64-bit test) on stand-ins of the tensors, and specialised by the kernel's
own ``argument_key``: it is the very kernel (same tile IR) the op JIT-compiles for that call.

    >>> [k.name for k in kernels("rotary_position_embedding", "fp32", [[1, 4096, 32, 128]],
    ...                          "sm_90a")][:3]    # doctest: +NORMALIZE_WHITESPACE
    ['rope_kernel/fp32-fp32/interleaved/1x4096x32x128/sm_90a',
     'rope_kernel/fp32-fp32/interleaved/1x4096x32x128-generic/sm_90a',
     'rope_kernel/fp32-fp32/interleaved/1x4096x32x128-generic64/sm_90a']
"""
from __future__ import annotations

import contextlib
import threading
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from ..compiler.specialization import generate_tile_ir
from ..runtime import arguments
from ..utils import cdiv
from . import rope
from .aot import SHARED_MEMORY_BYTES, _parameters
from .aot_elementwise import BundledKernel
from .kernels.rope import rope_kernel

__all__ = ["DTYPES", "OPS", "Variant", "check_shape", "kernels", "variants"]

DTYPES = ("fp16", "bf16", "fp32")
OPS = frozenset({"rotary_position_embedding"})
_OP = "rotary_position_embedding"
_NUM_STAGES = 3  # the launcher's default: the op passes num_warps only
_FAMILY = "rope"
_ALIGNMENT = 256  # bytes: every PyTorch CUDA allocation starts at such an address


class Variant(NamedTuple):
    """The input's and the tables' dtypes (signature names) and the pairs' layout."""

    input: str
    table: str
    interleaved: bool


def variants(op: str, dtype: str) -> List[Variant]:
    """The variants the op launches for inputs of ``dtype``: fp32 tables and (16-bit inputs)
    tables of the input's dtype, each with interleaved pairs and with halves.

    >>> [(v.table, v.interleaved) for v in variants("rotary_position_embedding", "bf16")]
    [('fp32', True), ('fp32', False), ('bf16', True), ('bf16', False)]
    """
    if op not in OPS:
        raise ValueError(f"{op!r} is not a rope op: one of {sorted(OPS)}")
    if dtype not in DTYPES:
        raise ValueError(f"{op}: dtype must be one of {list(DTYPES)}, got {dtype!r}")
    tables = ["fp32"] + ([dtype] if dtype != "fp32" else [])
    return [Variant(dtype, table, interleaved) for table in tables
            for interleaved in (True, False)]


def check_shape(shape: Any) -> Tuple[int, int, int, int]:
    """``shape`` as ``(B, S, H, D)``, or ValueError: four positive ints, D even.

    >>> check_shape([1, 4096, 32, 128])
    (1, 4096, 32, 128)
    """
    if not isinstance(shape, (list, tuple)) or len(shape) != 4 or \
            any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape) or \
            shape[3] % 2:
        raise ValueError(f"{_OP}: a shape is [B, S, H, D] of positive ints with D even (the "
                         f"rotation acts on pairs), got {shape!r}")
    batch, seq, heads, dim = shape
    return batch, seq, heads, dim


# What the stand-ins know of PyTorch's dtypes, by attribute name (``str(dtype)`` is
# ``"torch." + name``): signature and element size.
_DTYPES = {"float16": ("fp16", 2), "bfloat16": ("bf16", 2), "float32": ("fp32", 4),
           "int32": ("i32", 4), "int64": ("i64", 8)}
_ATTRIBUTES = {signature: name for name, (signature, _) in _DTYPES.items()}
_torch_lock = threading.Lock()


@contextlib.contextmanager
def _torch_dtypes() -> Iterator[Any]:
    """The dtypes that ``rope`` compares tensors' with: PyTorch's where it is installed, else
    their names, which ``rope.torch`` (None without PyTorch: the op cannot run then) stands for
    meanwhile, so that ``_word_view`` runs on stand-ins."""
    if rope.torch is not None:
        yield rope.torch
        return
    with _torch_lock:
        rope.torch = SimpleNamespace(**{name: f"torch.{name}" for name in _DTYPES})
        try:
            yield rope.torch
        finally:
            rope.torch = None


class _StandIn:
    """A CUDA tensor that is not there: what ``rope._arguments`` reads of one (shape, strides,
    dtype, storage offset; ``as_strided`` and a ``view`` as words of two elements) and what
    the JIT's key needs (the element signature and the address)."""

    def __init__(self, shape: Sequence[int], strides: Sequence[int], dtype: Any,
                 offset: int = 0) -> None:
        self.shape = tuple(shape)
        self._strides = tuple(strides)
        self.dtype = dtype
        self.signature, self._bytes = _DTYPES[str(dtype).replace("torch.", "")]
        self._offset = offset
        self.pointer = _ALIGNMENT + offset * self._bytes

    @classmethod
    def contiguous(cls, shape: Sequence[int], dtype: Any) -> "_StandIn":
        strides, step = [], 1
        for size in reversed(shape):
            strides.insert(0, step)
            step *= size
        return cls(shape, strides, dtype)

    def stride(self, dim: Optional[int] = None) -> Any:
        return self._strides if dim is None else self._strides[dim]

    def storage_offset(self) -> int:
        return self._offset

    def as_strided(self, shape: Sequence[int], strides: Sequence[int]) -> "_StandIn":
        return _StandIn(shape, strides, self.dtype, self._offset)

    def view(self, dtype: Any) -> "_StandIn":
        """As elements of ``dtype``, twice as wide (PyTorch's rules: the last dim contiguous,
        the other strides and the offset even)."""
        ratio = _DTYPES[str(dtype).replace("torch.", "")][1] // self._bytes
        if ratio != 2 or self._strides[-1] != 1 or self.shape[-1] % 2 or self._offset % 2 or \
                any(stride % 2 for stride in self._strides[:-1]):
            raise ValueError(f"cannot view {self.dtype} {self.shape} {self._strides} as {dtype}")
        return _StandIn(self.shape[:-1] + (self.shape[-1] // 2,),
                        [stride // 2 for stride in self._strides[:-1]] + [1], dtype,
                        self._offset // 2)


def _stand_in_argument(arg: _StandIn, specialize: bool) -> Tuple[Any, Any, Optional[int]]:
    return arguments.pointer_key(arg.signature, arg.pointer, specialize), arg.pointer, None


arguments.HANDLERS[_StandIn] = _stand_in_argument


def _case_meta(variant: Variant, shape: Tuple[int, int, int, int]
               ) -> Tuple[Dict[str, Any], List[Any]]:
    """The constexprs and the specialisation key of the op's launch for a contiguous input of
    ``shape`` (and output, tables ``(S, D/2)``) at aligned addresses."""
    batch, seq, heads, dim = shape
    with _torch_dtypes() as torch:
        x = _StandIn.contiguous(shape, getattr(torch, _ATTRIBUTES[variant.input]))
        out = _StandIn.contiguous(shape, x.dtype)
        table = getattr(torch, _ATTRIBUTES[variant.table])
        sin = _StandIn.contiguous((seq, dim // 2), table)
        cos = _StandIn.contiguous((seq, dim // 2), table)
        args, meta = rope._arguments(x, out, sin, cos, variant.interleaved)
    # The op's own limit on its grid (rotary_position_embedding refuses larger calls).
    programs = batch * seq * cdiv(heads, meta["BLOCK_H"]) * cdiv(meta["HALF"], meta["BLOCK_HALF"])
    if programs >= 2 ** 31:
        raise ValueError(f"{_OP}: input of shape {list(shape)} needs {programs} programs, more "
                         "than a launch's 2**31 - 1")
    named = dict(zip(rope_kernel.arg_names, args), **meta)
    return meta, rope_kernel.argument_key(named)


def _generic_key(variant: Variant, meta: Dict[str, Any], index_64: bool) -> List[Any]:
    """The key of a kernel of the case's tile that assumes nothing: element pointers (no
    words) of divisibility 1, every integer a run-time ``i32`` (``i64`` with ``index_64``)."""
    pointers = {"X": variant.input, "Y": variant.input, "SIN": variant.table,
                "COS": variant.table}
    index = "i64" if index_64 else "i32"
    key: List[Any] = []
    for name in rope_kernel.arg_names:
        if name in meta:
            key.append(meta[name])
        elif name in pointers:
            key.append((f"*{pointers[name]}", False))
        else:
            key.append((index, False))
    return key


def _bundled(variant: Variant, name: str, kind: str, meta: Dict[str, Any], key: List[Any],
             target: str) -> BundledKernel:
    specs = rope_kernel.specialization(key)
    record = {"kind": kind, "input": variant.input, "table": variant.table,
              "half": meta["HALF"], "block_h": meta["BLOCK_H"],
              "block_half": meta["BLOCK_HALF"], "even_h": meta["EVEN_H"],
              "interleaved": meta["INTERLEAVED"], "paired": meta["PAIRED"],
              "index_64": meta["INDEX_64"], "num_warps": rope._DEFAULT_NUM_WARPS,
              "num_stages": _NUM_STAGES, "target": target,
              "params": _parameters(rope_kernel, specs),
              "ones": [n for n, part in zip(rope_kernel.arg_names, key) if part == ("c", 1)]}
    return BundledKernel(name, generate_tile_ir(rope_kernel, specs), target,
                         rope._DEFAULT_NUM_WARPS, _NUM_STAGES, _FAMILY, record)


def kernels(op: str, dtype: str, shapes: Sequence[Sequence[int]], target: str
            ) -> List[BundledKernel]:
    """The kernels and op records that let C and C++ programs call ``op`` (the rope op) on
    inputs of ``dtype`` and ``shapes`` on GPUs of ``target``: per shape and variant, the case
    and its generic and generic64 twins. Kernels of equal tile IR (the twins of shapes of one
    head dim and tile) are listed per shape; the bundle's writer stores them once.

    >>> case = kernels("rotary_position_embedding", "bf16", [[1, 4096, 8, 128]], "sm_90a")[0]
    >>> record = case.op_record
    >>> record["half"], record["block_h"], record["block_half"], record["paired"]
    (64, 8, 64, True)
    """
    if target not in SHARED_MEMORY_BYTES:
        raise ValueError(f"unknown target {target!r}: one of {sorted(SHARED_MEMORY_BYTES)}")
    op_variants = variants(op, dtype)
    if not shapes:
        raise ValueError(f"{op}: shapes [[B, S, H, D], ...] are needed: the kernel is "
                         "specialised to the head dim")
    checked = [check_shape(shape) for shape in shapes]
    bundled = []
    for shape in checked:
        for variant in op_variants:
            meta, key = _case_meta(variant, shape)
            prefix = (f"{rope_kernel.__name__}/{variant.input}-{variant.table}/"
                      f"{'interleaved' if variant.interleaved else 'halves'}/"
                      f"{'x'.join(map(str, shape))}")
            bundled.append(_bundled(variant, f"{prefix}/{target}", "case", meta, key, target))
            for suffix, index_64 in (("generic", False), ("generic64", True)):
                twin = dict(meta, EVEN_H=False, PAIRED=False, INDEX_64=index_64)
                bundled.append(_bundled(variant, f"{prefix}-{suffix}/{target}", "generic",
                                        twin, _generic_key(variant, twin, index_64), target))
    return bundled
