"""Printing from kernels: ``tl.device_print``, as Triton's.

    tl.device_print("x", x)                 # one line per element of x
    tl.device_print("row, sum: ", row, total, hex=False)   # doctest: +SKIP

Each line reads ``pid (x, y, z) idx (i, j) <prefix> <values>``: the program id, the element's
index in the printed blocks (none for scalars), the prefix and each argument's element,
separated by ", ". The host prints the lines in index order, program after program; on a GPU each
thread prints the elements it holds (those a layout gives several threads, once per thread), in
no particular order, and the output appears when the device synchronises.
"""
from __future__ import annotations

from typing import Any

from . import semantic
from .core import builtin, unwrap

__all__ = ["device_print"]


def _mlir_string(text: str) -> str:
    """``text`` as an MLIR string literal (quotes, backslashes and control bytes escaped)."""
    escaped = "".join(c if c.isprintable() and c not in '"\\' else
                      "".join(f"\\{b:02X}" for b in c.encode()) for c in text)
    return f'"{escaped}"'


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
    signed = ", ".join("true" if v.dtype.is_int_signed() or v.dtype.is_floating() else "false"
                       for v in values)
    semantic.emit_without_result("tile.print", values, {
        "prefix": _mlir_string(prefix), "hex": "true" if unwrap(hex) else "false",
        "is_signed": f"array<i1: {signed}>" if values else "array<i1>"})
