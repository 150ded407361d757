"""Debugging kernels: ``tl.device_print`` (as Triton's) and Python's ``breakpoint()``.

    tl.device_print("x", x)                 # one line per element of x
    tl.device_print("row, sum: ", row, total, hex=False)   # doctest: +SKIP

Each line reads ``pid (x, y, z) idx (i, j) <prefix> <values>``: the program id, the element's
index in the printed blocks (none for scalars), the prefix and each argument's element,
separated by ", ". The host prints the lines in index order, program after program; on a GPU each
thread prints the elements it holds (those a layout gives several threads, once per thread), in
no particular order, and the output appears when the device synchronises.

``breakpoint()`` in a kernel stops each program that reaches it, on the CPU, in pdb with the
kernel's variables there (``tessera.runtime.breakpoints``); GPU kernels skip it.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple

from . import semantic
from ..compiler.ir_builder import current_builder
from .core import builtin, tensor, unwrap

__all__ = ["breakpoint_globals", "device_print", "emit_breakpoint"]


def _mlir_string(text: str) -> str:
    """``text`` as an MLIR string literal (quotes, backslashes and control bytes escaped)."""
    escaped = "".join(c if c.isprintable() and c not in '"\\' else
                      "".join(f"\\{b:02X}" for b in c.encode()) for c in text)
    return f'"{escaped}"'


def _signedness(values: Sequence[tensor]) -> str:
    """The ``is_signed`` attribute of ops that show ``values``: whether each one's integers are
    signed (floats count as signed)."""
    signed = ", ".join("true" if v.dtype.is_int_signed() or v.dtype.is_floating() else "false"
                       for v in values)
    return f"array<i1: {signed}>" if values else "array<i1>"


@builtin
def device_print(prefix: str, *args: Any, hex: bool = False) -> None:
    """Prints ``args`` (blocks of shapes that broadcast together, or scalars) after ``prefix``,
    one line per element index; a space follows the prefix unless it ends with one. With
    ``hex``, elements print as their bits in hexadecimal (pointers always do)."""
    prefix = unwrap(prefix)
    if not isinstance(prefix, str):
        raise TypeError(f"tl.device_print: prefix must be a string, got {type(prefix).__name__}")
    if not isinstance(unwrap(hex), bool):
        raise TypeError("tl.device_print: hex must be a bool")
    values = [semantic.to_tensor(arg) for arg in args]
    blocks = [v for v in values if v.type.is_block()]
    if blocks:
        common = blocks[0]
        for block in blocks[1:]:
            common, _ = semantic.broadcast_values(common, block)
        values = [semantic.broadcast_to_shape(v, common.shape) if v.type.is_block() else v
                  for v in values]
    if values and prefix and not prefix[-1].isspace():
        prefix += " "
    semantic.emit_without_result("tile.print", values, {
        "prefix": _mlir_string(prefix), "hex": "true" if unwrap(hex) else "false",
        "is_signed": _signedness(values)})


# The globals of the function around each breakpoint() compiled, by (file, line).
_BREAKPOINT_GLOBALS: Dict[Tuple[str, int], Dict[str, Any]] = {}


def breakpoint_globals(file: str, line: int) -> Dict[str, Any]:
    """The globals of the function whose ``breakpoint()`` is at ``file:line`` (empty if none was
    compiled in this process)."""
    return _BREAKPOINT_GLOBALS.get((file, line), {})


def _as_tensor(value: Any) -> Any:
    """``value`` as a tensor the breakpoint can carry: tensors, and numbers (compile-time values)
    as constants; None for anything else (tuples, dtypes, block pointers, ...)."""
    value = unwrap(value)
    if isinstance(value, tensor):
        return value
    if isinstance(value, (bool, int, float)):
        try:
            return semantic.to_tensor(value)
        except ValueError:  # an integer beyond 64 bits
            return None
    return None


def emit_breakpoint(function: str, variables: Mapping[str, Any],
                    function_globals: Dict[str, Any]) -> None:
    """Emits ``tile.breakpoint`` for ``breakpoint()`` in kernel ``function``, carrying those of
    ``variables`` (the kernel's names) that are tensors or numbers; the debugger will evaluate
    expressions there in ``function_globals`` (see ``breakpoint_globals``)."""
    loc = current_builder().loc
    _BREAKPOINT_GLOBALS[(loc.file, loc.line)] = function_globals
    names, values = [], []
    for name, value in variables.items():
        carried = _as_tensor(value) if name.isidentifier() else None
        if carried is not None:
            names.append(name)
            values.append(carried)
    semantic.emit_without_result("tile.breakpoint", values, {
        "function": _mlir_string(function),
        "names": "[" + ", ".join(_mlir_string(name) for name in names) + "]",
        "is_signed": _signedness(values)})
