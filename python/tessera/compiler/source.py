"""A kernel function's source: parsed once, with the file positions of its AST nodes.

    >>> src = FunctionSource.of(kernel)                    # doctest: +SKIP
    >>> src.location(src.definition.body[0])               # doctest: +SKIP
    Location(file='/path/kernel.py', line=12, col=4)
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, List, Union

from ..errors import CompilationError
from .ir_builder import Location

__all__ = ["FunctionSource", "Located"]

Located = Union[ast.stmt, ast.expr, ast.arg]  # nodes with a line and column


@dataclass(frozen=True)
class FunctionSource:
    """The parsed ``def`` of a Python function and where its lines are in their file."""

    file: str
    first_line: int  # file line number of lines[0]
    indent: int  # columns removed by dedenting
    lines: List[str]
    definition: ast.FunctionDef

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> "FunctionSource":
        """Reads and parses ``fn``'s source (``inspect.getsourcelines`` + ``ast``)."""
        try:
            lines, first_line = inspect.getsourcelines(fn)
        except (OSError, TypeError) as error:
            raise TypeError(f"cannot read the source of {fn!r}: {error}") from error
        file = inspect.getsourcefile(fn) or fn.__code__.co_filename
        indent = len(lines[0]) - len(lines[0].lstrip())
        module = ast.parse(textwrap.dedent("".join(lines)))
        definition = module.body[0]
        if not isinstance(definition, ast.FunctionDef):
            raise TypeError(f"{fn!r} is not defined by a `def` statement")
        return cls(file, first_line, indent, lines, definition)

    def location(self, node: Located) -> Location:
        return Location(self.file, self.first_line + node.lineno - 1, node.col_offset + self.indent)

    def error(self, node: Located, message: str) -> CompilationError:
        """A ``CompilationError`` at ``node``: ``file:line: message`` plus the source line."""
        loc = self.location(node)
        return CompilationError(message, filename=loc.file, lineno=loc.line, col=loc.col,
                                source_line=self.lines[node.lineno - 1])
