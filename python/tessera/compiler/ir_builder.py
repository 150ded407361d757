"""Text builder for tile IR in MLIR's generic op form (docs/tile-ir.md).

The builder knows nothing of the language's types: operands are ``(ssa_name, mlir_type)``
pairs and results are MLIR type strings. Every op gets ``loc("file":line:col)`` from
``builder.loc``, which the code generator moves along the Python source.

Example::

    >>> b = IRBuilder(Location("k.py", 1, 0))
    >>> (x,) = b.emit("arith.constant", [], ["i32"], {"value": "7 : i32"})
    >>> b.emit("arith.addi", [(x, "i32"), (x, "i32")], ["i32"])
    ['%1']
    >>> print(b.root.lines[1])
    %1 = "arith.addi"(%0, %0) : (i32, i32) -> i32 loc("k.py":1:0)

Ops with regions are built by opening a block (``begin_block``), emitting its body,
closing it (``end_block``) and passing the returned blocks to ``emit(regions=...)``.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Location", "Block", "IRBuilder", "current_builder", "building"]

Operand = Tuple[str, str]  # (SSA name, MLIR type)


@dataclass(frozen=True)
class Location:
    """A Python source position; ``col`` is 0-based like ``ast`` column offsets."""

    file: str
    line: int
    col: int

    def text(self) -> str:
        escaped = self.file.replace("\\", "\\\\").replace('"', '\\"')
        return f'loc("{escaped}":{self.line}:{self.col})'


@dataclass
class Block:
    """One block of a region: its argument names/types and its op lines."""

    args: List[str]
    arg_types: List[str]
    arg_locs: List[Optional[Location]]
    lines: List[str] = field(default_factory=list)

    def header(self) -> Optional[str]:
        if not self.args:
            return None
        parts = []
        for name, ty, loc in zip(self.args, self.arg_types, self.arg_locs):
            parts.append(f"{name}: {ty}" + (f" {loc.text()}" if loc else ""))
        return f"^bb0({', '.join(parts)}):"


def format_attributes(attrs: Mapping[str, Optional[str]]) -> str:
    """``{"axis": "0 : i32", "tile.kernel": None}`` -> ``{axis = 0 : i32, tile.kernel}``."""
    items = [name if value is None else f"{name} = {value}" for name, value in attrs.items()]
    return "{" + ", ".join(items) + "}"


def _type_list(types: Sequence[str]) -> str:
    return "(" + ", ".join(types) + ")"


class IRBuilder:
    """Accumulates the ops of one module as text, numbering SSA values ``%0, %1, ...``."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc
        self._next_id = 0
        self.root = Block([], [], [])
        self._blocks: List[Block] = [self.root]

    def fresh(self) -> str:
        """A new SSA name, unique in the module."""
        name = f"%{self._next_id}"
        self._next_id += 1
        return name

    def begin_block(self, arg_types: Sequence[str],
                    arg_locs: Optional[Sequence[Optional[Location]]] = None) -> Block:
        """Opens a block with arguments of ``arg_types``; ops go into it until ``end_block``."""
        args = [self.fresh() for _ in arg_types]
        locs: List[Optional[Location]] = (list(arg_locs) if arg_locs is not None
                                          else [None] * len(arg_types))
        block = Block(args, list(arg_types), locs)
        self._blocks.append(block)
        return block

    def end_block(self) -> Block:
        """Closes the innermost open block and returns it (to pass as a region)."""
        if len(self._blocks) == 1:
            raise RuntimeError("end_block without begin_block")
        return self._blocks.pop()

    def emit(self, op_name: str, operands: Sequence[Operand], result_types: Sequence[str],
             attributes: Optional[Mapping[str, Optional[str]]] = None,
             regions: Sequence[Block] = (), block: Optional[Block] = None) -> List[str]:
        """Appends one op (to ``block``, by default the innermost open block).

        Returns the SSA names of its results (``%7`` or ``%7#0, %7#1`` for several).
        """
        results: List[str] = []
        prefix = ""
        if len(result_types) == 1:
            results = [self.fresh()]
            prefix = f"{results[0]} = "
        elif len(result_types) > 1:
            base = self.fresh()
            results = [f"{base}#{i}" for i in range(len(result_types))]
            prefix = f"{base}:{len(result_types)} = "
        text = f'{prefix}"{op_name}"(' + ", ".join(name for name, _ in operands) + ")"
        lines = [text]
        if regions:
            lines[-1] += " ("
            for index, region in enumerate(regions):
                lines[-1] += "{"
                header = region.header()
                if header:
                    lines.append(header)
                lines.extend("  " + line for line in region.lines)
                lines.append("}" + (", " if index + 1 < len(regions) else ""))
            lines[-1] += ")"
        if attributes:
            lines[-1] += " " + format_attributes(attributes)
        result_text = result_types[0] if len(result_types) == 1 else _type_list(result_types)
        lines[-1] += (f" : {_type_list([ty for _, ty in operands])} -> {result_text} "
                      f"{self.loc.text()}")
        target = block if block is not None else self._blocks[-1]
        target.lines.extend(lines)
        return results

    def module_text(self) -> str:
        """The whole module: a ``builtin.module`` holding the ops emitted at top level."""
        if len(self._blocks) != 1:
            raise RuntimeError("module_text with open blocks")
        body = "\n".join("  " + line for line in self.root.lines)
        return f'"builtin.module"() ({{\n{body}\n}}) : () -> () {self.loc.text()}\n'


_state = threading.local()


def current_builder() -> IRBuilder:
    """The builder of the kernel being generated on this thread.

    Raises ``RuntimeError`` outside code generation, which is what calling a
    ``tessera.language`` function from plain Python does.
    """
    builder = getattr(_state, "builder", None)
    if builder is None:
        raise RuntimeError("tessera.language functions can only be called inside a "
                           "@tessera.jit function")
    return builder


@contextmanager
def building(builder: IRBuilder) -> Iterator[IRBuilder]:
    """Makes ``builder`` the current builder of this thread for the ``with`` body."""
    previous = getattr(_state, "builder", None)
    _state.builder = builder
    try:
        yield builder
    finally:
        _state.builder = previous
