"""Kernels on the host CPU: ``kernel[grid](..., device="cpu")`` or ``TESSERA_INTERPRET=1``.

The kernel goes through the same front end and tile IR as on a GPU; the tile IR is then lowered
to loops over buffers and compiled for this CPU by LLVM's JIT (``convert-tile-to-host``), and the
runtime runs the programs of the grid one after another. Arguments are host arrays: NumPy
arrays, PyTorch CPU tensors, or anything with ``__array_interface__``::

    x = np.random.rand(1000).astype(np.float32)
    out = np.empty_like(x)
    add_kernel[(8,)](x, x, out, 1000, BLOCK=128)            # host arrays: runs on the CPU

Every load, store and atomic is checked against the arrays of the launch: an access outside
all of them is skipped and the launch raises ``IndexError`` naming the access, the program id
and the kernel's source line. ``breakpoint()`` in a kernel opens pdb in each program that
reaches it (``tessera.runtime.breakpoints``). The programs run one after another and cannot be
interrupted, so a launch of more than ``MAX_HOST_PROGRAMS`` programs is refused (raise it to
run larger grids).

With ``TESSERA_INTERPRET=1`` in the environment when a kernel is defined, every launch of it
runs on the CPU; CUDA tensors are copied to the host and back around each launch.
"""
from __future__ import annotations

import bdb
import linecache
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import _C
from ..errors import CANCELLED, CompilationError, TesseraError
from .breakpoints import take_handler_error

__all__ = ["HOST", "MAX_HOST_PROGRAMS", "HostAddress", "HostLoadedKernel",
           "check_element_aligned", "host_array_argument", "interpret_mode", "to_host"]

HOST = "cpu"  # the device of host arguments in specialisation keys
# The most programs a host launch runs: 2**24 take from seconds to minutes for small kernels.
MAX_HOST_PROGRAMS = 2 ** 24

_ARRAY_TYPESTRS = {"b1": "i1", "i1": "i8", "i2": "i16", "i4": "i32", "i8": "i64", "u1": "u8",
                   "u2": "u16", "u4": "u32", "u8": "u64", "f2": "fp16", "f4": "fp32",
                   "f8": "fp64"}
_OUT_OF_BOUNDS = re.compile(r"out-of-bounds \w+ at (?P<file>.+):(?P<line>\d+) in program")


def interpret_mode() -> bool:
    """Whether ``TESSERA_INTERPRET`` asks for every kernel to run on the CPU."""
    return os.environ.get("TESSERA_INTERPRET", "") not in ("", "0")


class HostAddress(int):
    """A host array's data address (the launch value of a pointer parameter) that remembers the
    bytes ``[low, high)`` the array spans, which the kernel may access."""

    low: int
    high: int

    def __new__(cls, address: int, low: int, high: int) -> "HostAddress":
        value = super().__new__(cls, address)
        value.low, value.high = low, high
        return value


def _span(address: int, shape: Sequence[int], strides: Sequence[int], itemsize: int
          ) -> HostAddress:
    """The address of an array with byte ``strides``, and the bytes its elements cover."""
    if any(size == 0 for size in shape):
        return HostAddress(address, address, address)
    low = address + sum((size - 1) * stride for size, stride in zip(shape, strides) if stride < 0)
    high = address + sum((size - 1) * stride for size, stride in zip(shape, strides)
                         if stride > 0) + itemsize
    return HostAddress(address, low, high)


def check_element_aligned(address: int, itemsize: int, signature: str) -> None:
    """ValueError unless ``address`` is a multiple of the ``itemsize`` bytes of its
    ``signature`` elements: kernels access elements at their natural alignment."""
    if address % itemsize:
        raise ValueError(f"its address 0x{address:x} is not a multiple of {itemsize}, the size "
                         f"of its {signature} elements; kernels need element-aligned memory")


def host_array_argument(arg: Any, specialize: bool) -> Tuple[Tuple[str, bool], HostAddress, str]:
    """The handler of objects with ``__array_interface__`` (NumPy arrays)."""
    interface = arg.__array_interface__
    address = interface["data"][0]
    signature = _ARRAY_TYPESTRS.get(interface["typestr"][1:])
    if signature is None:
        raise TypeError(f"unsupported array dtype {interface['typestr']!r}")
    itemsize = int(interface["typestr"][2:])
    check_element_aligned(address, itemsize, signature)
    shape = interface["shape"]
    strides = interface.get("strides")
    if strides is None:  # C-contiguous
        strides, step = [], itemsize
        for size in reversed(shape):
            strides.insert(0, step)
            step *= size
    value = _span(address, shape, strides, itemsize)
    return ("*" + signature, specialize and address % 16 == 0), value, HOST


def host_torch_argument(arg: Any, signature: str, specialize: bool
                        ) -> Tuple[Tuple[str, bool], HostAddress, str]:
    """The handler's result for a PyTorch CPU tensor whose dtype has ``signature``."""
    itemsize = arg.element_size()
    check_element_aligned(arg.data_ptr(), itemsize, signature)
    value = _span(arg.data_ptr(), arg.shape, [s * itemsize for s in arg.stride()], itemsize)
    return ("*" + signature, specialize and value % 16 == 0), value, HOST


def _buffers(names: Sequence[str], values: Sequence[Any]) -> List[Tuple[int, int, str]]:
    buffers = []
    for name, value in zip(names, values):
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, HostAddress):
                buffers.append((item.low, item.high - item.low, name))
    return buffers


def _with_source_line(message: str) -> str:
    """The runtime's out-of-bounds message with the kernel's source line appended."""
    match = _OUT_OF_BOUNDS.search(message)
    if not match:
        return message
    text = linecache.getline(match["file"], int(match["line"])).strip()
    return f"{message}\n    {text}" if text else message


class HostLoadedKernel:
    """One specialisation of a kernel compiled for the host CPU; returned by each launch."""

    device = HOST
    target = "host"

    def __init__(self, name: str, tile_ir: str, num_warps: int, num_stages: int, plan: str,
                 param_names: Sequence[str]) -> None:
        self.name = name
        self.tile_ir = tile_ir
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.plan = plan
        self.param_names = list(param_names)
        try:
            self.handle = _C.HostKernel(tile_ir, plan)
        except CompilationError as error:
            raise CompilationError.from_compiler(error.error_message) from None

    def launch(self, grid_x: int, grid_y: int, grid_z: int, stream: int,
               values: Sequence[Any]) -> None:
        """Runs every program of the grid (``stream`` is ignored)."""
        try:
            self.handle.launch(grid_x, grid_y, grid_z, values,
                               _buffers(self.param_names, values))
        except TesseraError as error:
            if error.code == CANCELLED:  # the user quit the debugger, or its handler raised
                raise take_handler_error() or bdb.BdbQuit(str(error)) from None
            if "out-of-bounds" in str(error):
                raise IndexError(_with_source_line(str(error))) from None
            raise

    @property
    def asm(self) -> Dict[str, Optional[str]]:
        """The stages of the host compile: "tile", "host", "host-llvm", "host-llir"."""
        return {stage: self.handle.stage(stage)
                for stage in ("tile", "host", "host-llvm", "host-llir")}

    def __repr__(self) -> str:
        return f"HostLoadedKernel({self.name!r}, device='cpu')"


class _HostCopy:
    """A CUDA tensor's host copy during an interpreted launch, written back after it."""

    def __init__(self, tensor: Any) -> None:
        self.tensor = tensor
        self.host = tensor.detach().cpu()

    def write_back(self) -> None:
        self.tensor.copy_(self.host)


def to_host(args: Dict[str, Any]) -> Tuple[Dict[str, Any], List[_HostCopy]]:
    """``args`` with each CUDA tensor replaced by a host copy (tensors sharing storage get views
    of one copy of it), and the copies to write back after the launch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return args, []
    storages: Dict[int, _HostCopy] = {}
    copies: Dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, torch.Tensor) and value.is_cuda:
            storage = value.untyped_storage()
            key = storage.data_ptr()
            if key not in storages:
                whole = torch.empty(0, dtype=torch.uint8, device=value.device)
                whole.set_(storage)
                storages[key] = _HostCopy(whole)
            host_storage = storages[key].host.untyped_storage()
            view = torch.empty(0, dtype=value.dtype)
            view.set_(host_storage, value.storage_offset(), value.shape, value.stride())
            copies[name] = view
        else:
            copies[name] = value
    return copies, list(storages.values())
