"""``KernelFunction``: a Python function written in ``tessera.language``.

It holds what code generation needs: the signature, which parameters are
``tl.constexpr``, the parsed source (read once) and the globals the body may read.
``tessera.jit`` builds a ``JITFunction`` (a subclass that can also be launched).
"""
from __future__ import annotations

import ast
import inspect
from types import ModuleType
from typing import Any, Callable, Dict, FrozenSet, List, Optional

from ..language.core import constexpr, is_builtin, unwrap
from ..language.dtypes import dtype
from .returns import lower_returns
from .source import FunctionSource

__all__ = ["KernelFunction", "MISSING"]

MISSING = object()  # lookup_global's answer for an undefined name


def is_constexpr_annotation(annotation: Any) -> bool:
    """``tl.constexpr``, or its string form under ``from __future__ import annotations``."""
    if annotation is constexpr:
        return True
    return isinstance(annotation, str) and annotation.split(".")[-1] == "constexpr"


def _readable_global(value: Any) -> bool:
    if isinstance(value, (constexpr, ModuleType, KernelFunction, dtype, bool, int, float)):
        return True
    if value is None or is_builtin(value):
        return True
    return callable(value) and getattr(value, "__module__", "").split(".")[0] == "tessera"


class KernelFunction:
    """A function in the kernel language; calls to it from kernels are inlined."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__name__: str = fn.__name__
        self.__qualname__: str = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self.signature = inspect.signature(fn)
        self.arg_names: List[str] = list(self.signature.parameters)
        for parameter in self.signature.parameters.values():
            if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                raise TypeError(f"{fn.__name__}: *args, **kwargs and keyword-only parameters "
                                "are not supported in kernels")
        self.constexpr_names: FrozenSet[str] = frozenset(
            name for name, parameter in self.signature.parameters.items()
            if is_constexpr_annotation(parameter.annotation))
        self._source: Optional[FunctionSource] = None
        self._bodies: Dict[bool, List[ast.stmt]] = {}

    @property
    def source(self) -> FunctionSource:
        """The parsed source, read on first use."""
        if self._source is None:
            self._source = FunctionSource.of(self.fn)
        return self._source

    def body(self, is_kernel: bool) -> List[ast.stmt]:
        """The body with returns lowered (see ``returns.lower_returns``), cached."""
        if is_kernel not in self._bodies:
            self._bodies[is_kernel] = lower_returns(self.source.definition.body, self.source,
                                                    is_kernel)
        return self._bodies[is_kernel]

    def lookup_global(self, name: str) -> Any:
        """The value of a global or closure variable ``name`` as the kernel sees it.

        Returns ``MISSING`` when undefined; raises ``NameError`` for a global kernels may not
        read (anything but constexprs, numbers, dtypes, modules and language functions).
        """
        code = self.fn.__code__
        if name in code.co_freevars:
            cell = self.fn.__closure__[code.co_freevars.index(name)]  # type: ignore[index]
            value = cell.cell_contents
        else:
            value = self.fn.__globals__.get(name, MISSING)
            if value is MISSING:
                return MISSING
        if not _readable_global(value):
            raise NameError(f"cannot access global variable {name} ({type(value).__name__}) "
                            "from a kernel: kernels read only globals that are tl.constexpr, "
                            "int, float, bool, dtypes, modules or @tessera.jit functions")
        return unwrap(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fn.__module__}:{self.fn.__qualname__})"

