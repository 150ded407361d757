"""Rewrites ``return`` statements into assignments so that bodies lower to ``scf.if``.

A return inside an ``if`` takes the statements after the ``if`` into the branches that
fall through::

    if pid >= n:          becomes     if pid >= n:
        return                            pass
    x = ...                           else:
                                          x = ...

In inlined functions ``return v`` assigns ``v`` to the hidden variable ``RETURN_NAME``
(so a runtime ``if`` yields it like any other variable). Returns inside loops are
rejected, as in Triton.
"""
from __future__ import annotations

import ast
from typing import List

from .source import FunctionSource

__all__ = ["RETURN_NAME", "lower_returns"]

RETURN_NAME = "<return>"  # not a Python identifier, so no user variable can clash


def _contains_return(stmts: List[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Return) for stmt in stmts for node in ast.walk(stmt))


def _always_returns(stmts: List[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and _always_returns(last.body) and _always_returns(last.orelse)


def lower_returns(stmts: List[ast.stmt], source: FunctionSource, is_kernel: bool) -> List[ast.stmt]:
    """``stmts`` without ``return``: see the module docstring."""
    lowered: List[ast.stmt] = []
    for index, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                if is_kernel:
                    raise source.error(stmt, "a kernel cannot return a value")
                target = ast.Name(id=RETURN_NAME, ctx=ast.Store())
                lowered.append(ast.copy_location(ast.Assign(targets=[target], value=stmt.value),
                                                 stmt))
            return lowered
        if isinstance(stmt, ast.If) and _contains_return([stmt]):
            rest = stmts[index + 1:]
            body = stmt.body if _always_returns(stmt.body) else stmt.body + rest
            orelse = stmt.orelse if _always_returns(stmt.orelse) else stmt.orelse + rest
            new_if = ast.If(test=stmt.test,
                            body=lower_returns(body, source, is_kernel)
                            or [ast.copy_location(ast.Pass(), stmt)],
                            orelse=lower_returns(orelse, source, is_kernel))
            lowered.append(ast.copy_location(new_if, stmt))
            return lowered
        if _contains_return([stmt]):
            inner = next(node for node in ast.walk(stmt) if isinstance(node, ast.Return))
            raise source.error(inner, "`return` is only supported outside loops")
        lowered.append(stmt)
    return lowered
