"""Classification of kernel launch arguments.

For each argument a handler returns ``(key, value, device)``:

- ``key``: its part of the specialisation key, either ``("c", constant)`` for a value folded
  into the kernel (None, integers equal to 1) or ``(signature, divisible_by_16)`` with a
  Triton signature string (``"*fp32"``, ``"i32"``, ``"fp32"``...);
- ``value``: what is passed at launch (the data pointer for tensors), None for constants;
- ``device``: the CUDA device index of a tensor, ``"cpu"`` for host arrays (NumPy arrays,
  PyTorch CPU tensors: the launch runs on the CPU, see ``tessera.runtime.host``), None for
  scalars.

Accepted: PyTorch tensors, ``tessera.DeviceBuffer``, objects with
``__cuda_array_interface__`` (v3) or ``__dlpack__`` (CUDA device), ``tessera.TensorDescriptor``
(several parameters; its value a tuple), and Python int/float/bool/None (other integers and
reals, such as NumPy scalars, as the int or float they equal). A pointer must be a multiple of
its element size. PyTorch is never imported here: its tensors are recognised by type.

    >>> classify(7, True)
    (('i32', False), 7, None)
    >>> classify(1, True), classify(32, True)[0]
    ((('c', 1), None, None), ('i32', True))
"""
from __future__ import annotations

import numbers
import operator
from typing import Any, Callable, Dict, Optional, Tuple, Union

from .. import _C
from ..errors import UNAVAILABLE, TesseraError
from ..language.dtypes import str_to_ty
from .host import check_element_aligned, host_array_argument, host_torch_argument

__all__ = ["FAST_PATH_KINDS", "HANDLERS", "Handler", "KEY_PARTS", "classify", "handler_for",
           "is_memory", "plan_kind", "pointer_key", "torch_argument", "torch_signatures"]

Key = Tuple[Any, Any]
Device = Union[int, str]  # a CUDA device index, or "cpu" for host arrays
Handler = Callable[[Any, bool], Tuple[Key, Any, Optional[Device]]]

# Launch-plan kinds (see python/src/tessera_module.cpp) of run-time parameter signatures.
PLAN_KINDS = {"i1": "b", "i8": "i", "i16": "i", "i32": "i", "u8": "i", "u16": "i", "u32": "i",
              "i64": "l", "u64": "l", "fp32": "f", "fp64": "d"}

_CAI_TYPESTRS = {"b1": "i1", "i1": "i8", "i2": "i16", "i4": "i32", "i8": "i64", "u1": "u8",
                 "u2": "u16", "u4": "u32", "u8": "u64", "f2": "fp16", "f4": "fp32", "f8": "fp64"}
# DLPack (type code, bits) -> signature; codes: 0 int, 1 uint, 2 float, 4 bfloat, 6 bool.
_DLPACK_TYPES = {(0, 8): "i8", (0, 16): "i16", (0, 32): "i32", (0, 64): "i64", (1, 8): "u8",
                 (1, 16): "u16", (1, 32): "u32", (1, 64): "u64", (2, 16): "fp16",
                 (2, 32): "fp32", (2, 64): "fp64", (4, 16): "bf16", (6, 8): "i1"}
_DLPACK_CUDA_DEVICES = (2, 13)  # kDLCUDA, kDLCUDAManaged
_TORCH_SIGNATURES: Dict[Any, str] = {}
_ELEMENT_BYTES: Dict[str, int] = {}  # element signature ("fp32") -> its size in bytes
# The canonical object of each key part ({part: part}): the keys JITFunction stores and those
# tessera._C's launcher builds use these, so that cache lookups compare parts by identity.
KEY_PARTS: Dict[Key, Key] = {}


def plan_kind(signature: str, divisible_by_16: bool = False) -> str:
    """The launch-plan characters of a run-time argument's signature: one, or for a tensor
    descriptor a parenthesised group (its tensor map when it is TMA-ready, base pointer, shape
    and strides)."""
    if signature.startswith("tensordesc<"):
        rank = signature.count(",") + 1
        return "(" + ("m" if divisible_by_16 else "") + "p" + "l" * (2 * rank - 1) + ")"
    return "p" if signature.startswith("*") else PLAN_KINDS[signature]


def _descriptor_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return arg.launch_argument()


def pointer_key(signature: str, pointer: int, specialize: bool) -> Key:
    """The key part of a pointer to ``signature`` elements (``"fp32"``) at ``pointer``;
    ValueError for a pointer that is not a multiple of the element size."""
    itemsize = _ELEMENT_BYTES.get(signature)
    if itemsize is None:
        itemsize = _ELEMENT_BYTES.setdefault(
            signature, max(1, str_to_ty(signature).primitive_bitwidth // 8))
    check_element_aligned(pointer, itemsize, signature)
    return ("*" + signature, specialize and pointer % 16 == 0)


def _int_argument(arg: int, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    if specialize and arg == 1:
        return ("c", 1), None, None
    if -2 ** 31 <= arg < 2 ** 31:
        signature = "i32"
    elif -2 ** 63 <= arg < 2 ** 63:
        signature = "i64"
    elif 2 ** 63 <= arg < 2 ** 64:
        signature = "u64"
    else:
        raise ValueError(f"integer {arg} does not fit in 64 bits (kernels take ints from -2**63 "
                         "to 2**64 - 1)")
    return (signature, specialize and arg % 16 == 0), arg, None


def _integral_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    # int subclasses and NumPy integers: the int they equal (NumPy's would otherwise be 0-d
    # arrays, pointers, by their __array_interface__).
    return _int_argument(operator.index(arg), specialize)


def _bool_argument(arg: bool, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return ("i1", False), arg, None


def _float_argument(arg: float, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return ("fp32", False), arg, None


def _real_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return _float_argument(float(arg), specialize)  # float subclasses, NumPy floats


def _truth_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return _bool_argument(bool(arg), specialize)  # NumPy bools


def _none_argument(arg: None, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return ("c", None), None, None


def torch_signatures() -> Dict[Any, str]:
    """torch dtype -> signature ("fp32"...), of the dtypes this torch has."""
    if not _TORCH_SIGNATURES:
        import torch
        names = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64",
                 "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8",
                 "uint16": "u16", "uint32": "u32", "uint64": "u64", "bool": "i1"}
        for attribute, signature in names.items():
            if hasattr(torch, attribute):
                _TORCH_SIGNATURES[getattr(torch, attribute)] = signature
    return _TORCH_SIGNATURES


def torch_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[Device]]:
    signature = _TORCH_SIGNATURES.get(arg.dtype) or torch_signatures().get(arg.dtype)
    if signature is None:
        raise TypeError(f"unsupported tensor dtype {arg.dtype}")
    if not arg.is_cuda:
        if str(arg.device) == "cpu":
            return host_torch_argument(arg, signature, specialize)
        raise ValueError(f"a tensor on {arg.device} was passed; kernels take CUDA tensors, or "
                         "CPU tensors to run on the host")
    pointer = arg.data_ptr()
    return pointer_key(signature, pointer, specialize), pointer, arg.get_device()


def _buffer_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    return pointer_key(arg.signature, arg.ptr, specialize), arg.ptr, arg.device


def _cai_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    interface = arg.__cuda_array_interface__
    pointer = interface["data"][0]
    signature = _CAI_TYPESTRS.get(interface["typestr"][1:])
    if signature is None:
        raise TypeError(f"unsupported __cuda_array_interface__ typestr {interface['typestr']!r}")
    return pointer_key(signature, pointer, specialize), pointer, _cai_device(arg, pointer)


def _cai_device(arg: Any, pointer: int) -> Optional[int]:
    """The device of a ``__cuda_array_interface__``'s memory, which the interface does not
    carry: the object's ``__dlpack_device__`` when it has one, else the driver's record of the
    pointer. None for a NULL pointer (an empty array), and 0 where there is no driver (the
    launch then says so)."""
    if hasattr(arg, "__dlpack_device__"):
        return arg.__dlpack_device__()[1]
    if pointer == 0:
        return None
    try:
        return _C.pointer_device(pointer)
    except TesseraError as error:
        if error.code == UNAVAILABLE:
            return 0
        raise ValueError(f"its __cuda_array_interface__ data pointer {pointer:#x} is not CUDA "
                         "memory (the driver does not know the address)") from error


def _dlpack_argument(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    pointer, device_type, device_id, code, bits, lanes = _C.dlpack_info(arg.__dlpack__())
    if device_type not in _DLPACK_CUDA_DEVICES:
        raise ValueError(f"a DLPack tensor on device type {device_type} was passed; kernels "
                         "need CUDA memory")
    signature = _DLPACK_TYPES.get((code, bits)) if lanes == 1 else None
    if signature is None:
        raise TypeError(f"unsupported DLPack dtype (code {code}, bits {bits}, lanes {lanes})")
    return pointer_key(signature, pointer, specialize), pointer, device_id


HANDLERS: Dict[type, Handler] = {
    int: _int_argument, bool: _bool_argument, float: _float_argument,
    type(None): _none_argument,
}
_SCALAR_HANDLERS = frozenset({_int_argument, _bool_argument, _float_argument, _none_argument,
                              _integral_argument, _real_argument, _truth_argument})


# The handlers that tessera._C.Launcher replicates in C++ (python/src/fast_launch.cpp), by the
# kind it knows them as: it classifies arguments of the types these handle (per handler_for)
# itself, so a change to one of them must be made there too (test_fast_launch.py compares).
FAST_PATH_KINDS: Dict[Handler, str] = {
    _int_argument: "int", _bool_argument: "bool", _float_argument: "float",
    _none_argument: "none", torch_argument: "torch", _buffer_argument: "buffer",
}


def handler_for(cls: type) -> Handler:
    """The handler of arguments of type ``cls`` (resolved once per type)."""
    handler = HANDLERS.get(cls)
    if handler is not None:
        return handler
    from .buffer import DeviceBuffer
    from .tensor_descriptor import TensorDescriptor
    if issubclass(cls, TensorDescriptor):
        handler = _descriptor_argument
    elif any(base.__module__ == "torch" and base.__name__ == "Tensor" for base in cls.__mro__):
        handler = torch_argument
    elif issubclass(cls, DeviceBuffer):
        handler = _buffer_argument
    elif hasattr(cls, "__cuda_array_interface__"):
        handler = _cai_argument
    elif issubclass(cls, numbers.Integral):
        handler = _integral_argument
    elif issubclass(cls, numbers.Real):
        handler = _real_argument
    elif cls.__module__ == "numpy" and cls.__name__ in ("bool", "bool_"):
        handler = _truth_argument
    elif hasattr(cls, "__array_interface__"):
        handler = host_array_argument
    elif hasattr(cls, "__dlpack__"):
        handler = _dlpack_argument
    else:
        raise TypeError(f"unsupported kernel argument type {cls.__qualname__}: expected a "
                        "tensor, a tessera.DeviceBuffer, a CUDA or NumPy array, or an "
                        "int/float/bool")
    HANDLERS[cls] = handler
    return handler


def is_memory(value: Any) -> bool:
    """Whether ``value`` is memory that a launch passes by pointer (a tensor, buffer, array or
    tensor descriptor), not a scalar nor any other Python object."""
    try:
        return handler_for(type(value)) not in _SCALAR_HANDLERS
    except TypeError:
        return False


def classify(arg: Any, specialize: bool) -> Tuple[Key, Any, Optional[int]]:
    """``(key, value, device)`` of one argument; see the module docstring."""
    return handler_for(type(arg))(arg, specialize)
