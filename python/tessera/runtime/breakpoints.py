"""Python's ``breakpoint()`` in kernels that run on the CPU::

    @tessera.jit
    def scale_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offsets, mask=offsets < n)
        breakpoint()                      # pdb, once per program, with x, offsets, n, BLOCK...
        tl.store(out_ptr + offsets, 2 * x, mask=offsets < n)

Each program that reaches the call stops in pdb, in a frame at the call's source line whose
locals are the kernel's variables there: blocks as NumPy arrays, scalars and compile-time
numbers as NumPy scalars, pointers as their addresses (uint64), bf16 widened to float32. They
are copies: changing one does not change the kernel. ``c`` goes on to the next breakpoint (later
in this program, or in the next one); ``q`` stops the launch, which then raises ``bdb.BdbQuit``
as quitting pdb does in Python. A kernel cannot be stepped, so ``n``, ``s``, ``unt`` and ``r``
continue too. ``PYTHONBREAKPOINT=0`` turns kernel breakpoints off, as it does Python's, and GPU
kernels skip them.

``set_breakpoint_handler`` puts any function of a ``KernelBreakpoint`` in pdb's place; an
exception it raises stops the launch, which raises it.
"""
from __future__ import annotations

import os
import pdb
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple


from .. import _C
from ..language.debugging import breakpoint_globals
from ..language.dtypes import str_to_ty
from .buffer import _NUMPY_NAMES

__all__ = ["KernelBreakpoint", "KernelDebugger", "debug_with_pdb", "set_breakpoint_handler",
           "take_handler_error"]

# A breakpoint value's dtype (a language dtype's name) -> its NumPy dtype; pointers are addresses.
_NUMPY_DTYPES = {str_to_ty(signature).name: name for signature, name in _NUMPY_NAMES.items()}
_NUMPY_DTYPES["ptr"] = "uint64"


@dataclass(frozen=True)
class KernelBreakpoint:
    """One program at one ``breakpoint()``: where, and the kernel's variables there."""

    file: str
    line: int
    function: str  # the kernel, or the @tessera.jit function inlined into it that stops
    program_id: Tuple[int, int, int]
    values: Dict[str, Any]  # NumPy arrays (blocks) and NumPy scalars


BreakpointHandler = Callable[[KernelBreakpoint], Optional[bool]]


class KernelDebugger(pdb.Pdb):
    """pdb over a snapshot of a kernel's variables: stepping commands continue instead."""

    def _continue_instead(self, arg: str) -> Any:
        self.message("a kernel cannot be stepped: continuing to the next breakpoint")
        return self.do_continue(arg)

    do_step = do_s = do_next = do_n = _continue_instead
    do_until = do_unt = do_return = do_r = _continue_instead


def debug_with_pdb(breakpoint: KernelBreakpoint) -> bool:
    """The default handler: pdb at the breakpoint's line, in a frame named after its function
    whose locals are the kernel's variables. True (stop the launch) when the user quits."""
    debugger = KernelDebugger(nosigint=True)
    debugger.message(f"tessera: {breakpoint.function} stopped in program "
                     f"{breakpoint.program_id}")

    def interact(frame: FrameType) -> None:
        debugger.botframe = frame  # `up` and `where` stop at the kernel's frame
        debugger.interaction(frame, None)

    # The frame runs one line, the breakpoint's: the call that opens the debugger in it.
    source = "\n" * (breakpoint.line - 1) + "__tessera_interact__(__import__('sys')._getframe())\n"
    code = compile(source, breakpoint.file, "exec").replace(co_name=breakpoint.function)
    frame_globals = dict(breakpoint_globals(breakpoint.file, breakpoint.line),
                         __tessera_interact__=interact)
    exec(code, frame_globals, dict(breakpoint.values))
    return bool(debugger.quitting)


_handler: BreakpointHandler = debug_with_pdb


def set_breakpoint_handler(handler: Optional[BreakpointHandler]) -> BreakpointHandler:
    """Makes ``handler`` (None: ``debug_with_pdb``) what breakpoints call; returns the previous
    one. A handler that returns True stops the launch, which then raises ``bdb.BdbQuit``.

    >>> seen = []
    >>> previous = set_breakpoint_handler(lambda stop: seen.append(stop.values["x"]))
    >>> _ = set_breakpoint_handler(previous)
    """
    global _handler
    previous = _handler
    _handler = handler if handler is not None else debug_with_pdb
    return previous


def _value(dtype: str, shape: Sequence[int], data: bytes) -> Any:
    """A breakpoint value as NumPy: an array of ``shape``, or a scalar when it is ``()``."""
    import numpy as np

    if dtype == "bf16":
        array = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        array = np.frombuffer(data, _NUMPY_DTYPES[dtype]).copy()
    array = array.reshape(tuple(shape))
    return array[()] if not shape else array


# What a handler raised, for the launch it stopped to raise in its place.
_handler_error: Optional[BaseException] = None


def take_handler_error() -> Optional[BaseException]:
    """The exception a handler raised since the last call (the launch stopped), or None."""
    global _handler_error
    error, _handler_error = _handler_error, None
    return error


def _on_breakpoint(file: str, line: int, function: str, program_id: Tuple[int, int, int],
                   values: List[Tuple[str, str, Tuple[int, ...], bytes]]) -> bool:
    """What libtessera calls at each breakpoint (``_C.set_breakpoint_handler``): True stops
    the launch."""
    global _handler_error
    if os.environ.get("PYTHONBREAKPOINT") == "0":
        return False
    arrays = {name: _value(dtype, shape, data) for name, dtype, shape, data in values}
    try:
        return bool(_handler(KernelBreakpoint(file, line, function, program_id, arrays)))
    except BaseException as error:  # it cannot cross the kernel's frames: the launch raises it
        _handler_error = error
        return True


_C.set_breakpoint_handler(_on_breakpoint)
