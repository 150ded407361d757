"""Exceptions raised by Tessera.

``TesseraError`` carries a non-success status of the C API (``code`` is its
``tessera_status_code``); ``CompilationError`` is raised for a kernel that does not
compile, whether the front end or the C++ compiler rejected it. Its message starts
with ``file:line:`` and shows the offending source line::

    add.py:12: incompatible shapes [128] and [64] in `+`
        z = x + y
            ^
"""
from __future__ import annotations

import linecache
import re
from typing import Optional

__all__ = ["TesseraError", "CompilationError"]

# The tessera_status_code values (runtime/tessera.h) that callers tell apart.
INVALID_ARGUMENT = 1  # a caller error; at a kernel's load, resource limits exceeded
COMPILE_ERROR = 2  # a rejected kernel
UNAVAILABLE = 4  # no driver or no device on this machine
CANCELLED = 8  # a host launch that its breakpoint handler stopped


class TesseraError(RuntimeError):
    """A failure reported by libtessera; ``code`` is the C API status code."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code


_DIAGNOSTIC = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>[^\n]*)$", re.M)


class CompilationError(TesseraError):
    """A kernel failed to compile.

    Built with a location, the message reads ``file:line: message`` followed by the
    source line and a caret under the column::

        >>> err = CompilationError("bad", filename="k.py", lineno=3, col=8,
        ...                        source_line="    z = x + y")
        >>> print(err)
        k.py:3: bad
            z = x + y
                ^
    """

    def __init__(self, message: str, code: Optional[int] = COMPILE_ERROR, *,
                 filename: Optional[str] = None, lineno: Optional[int] = None,
                 col: Optional[int] = None, source_line: Optional[str] = None,
                 notes: Optional[str] = None) -> None:
        self.error_message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        text = message
        if filename is not None and lineno is not None:
            text = f"{filename}:{lineno}: {message}"
            if source_line:
                text += "\n" + source_line.rstrip()
                if col is not None:
                    text += "\n" + " " * col + "^"
        if notes:
            text += "\n" + notes
        super().__init__(text, code)

    @classmethod
    def from_compiler(cls, diagnostics: str) -> "CompilationError":
        """Re-raises the C++ compiler's diagnostics at the first located error.

        ``diagnostics`` is the compiler's message, whose error lines read
        ``file:line:col: error: message`` (MLIR's rendering of the ``loc`` of each op).
        """
        match = _DIAGNOSTIC.search(diagnostics)
        if match is None:
            return cls(diagnostics)
        filename, lineno = match["file"], int(match["line"])
        source_line = linecache.getline(filename, lineno) or None
        rest = diagnostics.strip()
        notes = None if rest == match.group(0).strip() else "compiler diagnostics:\n" + rest
        return cls(match["msg"], filename=filename, lineno=lineno, col=int(match["col"]),
                   source_line=source_line, notes=notes)
