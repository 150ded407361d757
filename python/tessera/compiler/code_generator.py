"""The AST walker: evaluates a kernel's body, emitting tile IR for run-time values.

Compile-time values (constexpr parameters, numbers in expressions, dtypes, tuples) are
plain Python objects and fold as Python; run-time values are ``tl.tensor`` and their
operations emit IR through the current ``IRBuilder``. As in Triton, a number assigned to
a variable becomes a (constant) tensor unless the variable is annotated ``tl.constexpr``.

Control flow:
- ``if`` on a compile-time value visits one branch; on a scalar tensor it becomes
  ``scf.if``, yielding the variables that either branch assigns (and that exist after it).
- ``for x in range(...)`` / ``tl.range(...)`` becomes ``scf.for``; the loop carries the
  variables assigned in the body that were defined before the loop.
- ``if`` and ``for`` yield and carry aggregates (block pointers) as their tensors.
- ``for x in tl.static_range(...)`` is unrolled.
- calls to ``@tessera.jit`` functions are inlined.
"""
from __future__ import annotations

import ast
import builtins
import operator
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, Union

from ..errors import CompilationError
from ..language import semantic
from ..language.compile_time import range as tl_range
from ..language.compile_time import static_range
from ..language.core import aggregate, constexpr, is_builtin, tensor, unwrap
from ..language.debugging import emit_breakpoint
from ..language.dtypes import int1
from ..language.math import maximum, minimum
from .function import MISSING, KernelFunction, is_constexpr_annotation
from .ir_builder import IRBuilder
from .returns import RETURN_NAME

__all__ = ["CodeGenerator"]

_BINARY_OPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
_COMPARE_OPS: Dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_UNARY_OPS: Dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}
# Python builtins a kernel may call; `range` is the run-time loop iterator.
_PYTHON_BUILTINS: Dict[str, Any] = {
    "range": tl_range, "min": min, "max": max, "len": len, "int": int, "float": float,
    "bool": bool, "isinstance": isinstance, "getattr": getattr, "tuple": tuple, "list": tuple,
    "breakpoint": builtins.breakpoint,
}
# Exceptions whose message alone explains a user error.
_USER_ERRORS = (TypeError, ValueError, NameError, AssertionError, ZeroDivisionError)

# What loops carry and run-time `if`s yield: a tensor, an aggregate, or a tuple of such values
# (a kernel's (k, v) blocks of the next steps, say).
RuntimeValue = Union[tensor, aggregate, Tuple[Any, ...]]


def _is_runtime(value: Any) -> bool:
    if isinstance(value, tuple):
        return len(value) > 0 and all(_is_runtime(v) for v in value)
    return isinstance(value, (tensor, aggregate))


def _runtime_type(value: RuntimeValue) -> Any:
    """What must stay the same across a loop's iterations or an `if`'s branches."""
    if isinstance(value, tuple):
        return tuple(_runtime_type(v) for v in value)
    return value.type


def _is_compile_time(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_compile_time(v) for v in value)
    return not _is_runtime(value)


def _flatten(values: Sequence[RuntimeValue]) -> List[tensor]:
    """The tensors that make up ``values`` (a tensor is its own), in order."""
    leaves: List[tensor] = []
    for value in values:
        if isinstance(value, tensor):
            leaves.append(value)
        elif isinstance(value, tuple):
            leaves += _flatten(value)
        else:
            leaves += value.flatten()
    return leaves


def _rebuild(template: RuntimeValue, remaining: Iterator[str]) -> RuntimeValue:
    """A value of ``template``'s type made of the next SSA values of ``remaining``."""
    if isinstance(template, tuple):
        return tuple(_rebuild(element, remaining) for element in template)
    leaves = [tensor(next(remaining), leaf.type) for leaf in _flatten([template])]
    return leaves[0] if isinstance(template, tensor) else template.unflatten(leaves)


def _unflatten(templates: Sequence[RuntimeValue], handles: Sequence[str]) -> List[RuntimeValue]:
    """Values of the types of ``templates`` made of the SSA values ``handles``."""
    remaining: Iterator[str] = iter(handles)
    return [_rebuild(template, remaining) for template in templates]


def _same_compile_time_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    simple = (bool, int, float, str, type(None))
    return type(a) is type(b) and isinstance(a, simple) and a == b


def _describe(error: Exception) -> str:
    if isinstance(error, _USER_ERRORS):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


def _assigned_names(stmts: Sequence[ast.stmt]) -> List[str]:
    """Names stored to anywhere in ``stmts`` (in first-assignment order)."""
    names: Dict[str, None] = {}
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names[node.id] = None
    return list(names)


def as_assigned_value(value: Any) -> Any:
    """What a variable holds after ``name = value``: numbers become constant tensors."""
    if isinstance(value, tuple):
        return tuple(as_assigned_value(v) for v in value)
    value = unwrap(value)
    if isinstance(value, (bool, int, float)):
        return semantic.to_tensor(value)
    return value


class CodeGenerator(ast.NodeVisitor):
    """Walks the body of one function (the kernel, or an inlined callee)."""

    def __init__(self, builder: IRBuilder, function: KernelFunction,
                 call_stack: Tuple[KernelFunction, ...] = ()) -> None:
        self.builder = builder
        self.function = function
        self.source = function.source
        self.call_stack = call_stack + (function,)
        self.scope: Dict[str, Any] = {}

    # ---- entry points ------------------------------------------------------------------
    def run(self, arguments: Dict[str, Any], is_kernel: bool) -> Any:
        """Visits the body with ``arguments`` bound; returns the function's return value."""
        self.scope = dict(arguments)
        self.visit_statements(self.function.body(is_kernel))
        return self.scope.get(RETURN_NAME)

    def visit_statements(self, stmts: Sequence[ast.stmt]) -> None:
        for stmt in stmts:
            self.visit(stmt)

    def visit(self, node: ast.AST) -> Any:
        """Visits ``node`` with the builder's location at it; errors get its file:line."""
        saved = self.builder.loc
        located = node if isinstance(node, (ast.stmt, ast.expr, ast.arg)) else None
        if located is not None:
            self.builder.loc = self.source.location(located)
        try:
            return super().visit(node)
        except CompilationError:
            raise
        except Exception as error:
            if located is None:
                raise
            raise self.source.error(located, _describe(error)) from error
        finally:
            self.builder.loc = saved

    def generic_visit(self, node: ast.AST) -> Any:
        raise TypeError(f"unsupported Python construct in a kernel: {type(node).__name__}")

    # ---- names -------------------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        if name in self.scope:
            return self.scope[name]
        value = self.function.lookup_global(name)
        if value is not MISSING:
            return value
        if name in _PYTHON_BUILTINS:
            return _PYTHON_BUILTINS[name]
        raise NameError(f"name {name!r} is not defined")

    def assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                raise ValueError(f"cannot unpack {value!r} into {len(target.elts)} names")
            for element, item in zip(target.elts, value):
                self.assign(element, item)
        else:
            raise TypeError(f"cannot assign to {type(target).__name__} in a kernel")

    # ---- statements --------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        self.visit(node.value)

    def visit_Pass(self, node: ast.Pass) -> None:
        pass

    def visit_Assign(self, node: ast.Assign) -> None:
        value = as_assigned_value(self.visit(node.value))
        for target in node.targets:
            self.assign(target, value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None:
            return
        if not isinstance(node.target, ast.Name):
            raise TypeError("annotated assignment needs a simple name")
        annotation = (node.annotation.value if isinstance(node.annotation, ast.Constant)
                      else self.visit(node.annotation))
        value = self.visit(node.value)
        if not is_constexpr_annotation(annotation):
            self.scope[node.target.id] = as_assigned_value(value)
            return
        if isinstance(self.scope.get(node.target.id), tensor):
            raise TypeError(f"{node.target.id} is a tensor and cannot become a tl.constexpr")
        if not _is_compile_time(value):
            raise TypeError(f"{node.target.id} is annotated tl.constexpr but its value is a "
                            "tensor")
        self.scope[node.target.id] = unwrap(value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if not isinstance(node.target, ast.Name):
            raise TypeError("augmented assignment needs a simple name")
        current = self.lookup(node.target.id)
        result = self._binary(node.op, current, self.visit(node.value))
        self.scope[node.target.id] = as_assigned_value(result)

    def visit_Assert(self, node: ast.Assert) -> None:
        """Compile-time asserts are checked; run-time asserts are dropped (as in Triton
        without debug mode)."""
        condition = self.visit(node.test)
        if _is_compile_time(condition) and not condition:
            message = self.visit(node.msg) if node.msg is not None else "assertion failed"
            raise AssertionError(message)

    def visit_If(self, node: ast.If) -> None:
        condition = unwrap(self.visit(node.test))
        if not isinstance(condition, tensor):
            self.visit_statements(node.body if condition else node.orelse)
            return
        self._runtime_if(self._scalar_condition(condition), node)

    def _scalar_condition(self, condition: tensor) -> tensor:
        if condition.type.is_block():
            raise TypeError("an `if` condition must be a scalar, not a block of shape "
                            f"{list(condition.shape)}; use tl.where for element-wise choice")
        return semantic.cast(condition, int1)

    def _runtime_if(self, condition: tensor, node: ast.If) -> None:
        live = dict(self.scope)
        then_block = self.builder.begin_block([])
        self.visit_statements(node.body)
        then_scope = self.scope
        self.builder.end_block()
        self.scope = dict(live)
        else_block = self.builder.begin_block([])
        self.visit_statements(node.orelse)
        else_scope = self.scope
        self.builder.end_block()

        if RETURN_NAME not in live and (RETURN_NAME in then_scope) != (RETURN_NAME in else_scope):
            raise TypeError(f"{self.function.__name__} returns a value on only one path of a "
                            "run-time `if`")
        names = [n for n in live if then_scope[n] is not live[n] or else_scope[n] is not live[n]]
        names += [n for n in then_scope if n not in live and n in else_scope]
        merged: Dict[str, Any] = {}
        yielded: List[Tuple[str, RuntimeValue, RuntimeValue]] = []
        for name in names:
            then_value, else_value = then_scope[name], else_scope[name]
            if _is_runtime(then_value) and _is_runtime(else_value):
                then_type, else_type = _runtime_type(then_value), _runtime_type(else_value)
                if then_type != else_type:
                    raise TypeError(f"mismatched type for {name} between then block "
                                    f"({then_type}) and else block ({else_type})")
                yielded.append((name, then_value, else_value))
            elif _same_compile_time_value(then_value, else_value):
                merged[name] = then_value
            elif name in live:
                raise TypeError(f"{name} is assigned {then_value!r} in the then block and "
                                f"{else_value!r} in the else block of a run-time `if`")
            # a new name with different compile-time values per branch is undefined after
        then_values = [t for _, t, _ in yielded]
        then_leaves = _flatten(then_values)
        self.builder.emit("scf.yield", [(t.handle, t.type.mlir) for t in then_leaves], [],
                          block=then_block)
        if yielded or else_block.lines:
            else_leaves = _flatten([e for _, _, e in yielded])
            self.builder.emit("scf.yield", [(e.handle, e.type.mlir) for e in else_leaves],
                              [], block=else_block)
        results = self.builder.emit("scf.if", [(condition.handle, "i1")],
                                    [t.type.mlir for t in then_leaves],
                                    regions=[then_block, else_block])
        self.scope = live
        self.scope.update(merged)
        for (name, _, _), value in zip(yielded, _unflatten(then_values, results)):
            self.scope[name] = value

    def visit_For(self, node: ast.For) -> None:
        if node.orelse:
            raise TypeError("`for ... else` is not supported")
        if not isinstance(node.target, ast.Name):
            raise TypeError("a loop variable must be a simple name")
        iterator = self.visit(node.iter)
        if isinstance(iterator, static_range):
            for value in iterator:
                self.scope[node.target.id] = value
                self.visit_statements(node.body)
            return
        if not isinstance(iterator, tl_range):
            raise TypeError("only range(...), tl.range(...) and tl.static_range(...) loops are "
                            "supported")
        self._runtime_for(node, node.target.id, iterator)

    def _loop_bounds(self, iterator: tl_range) -> Tuple[tensor, tensor, tensor, bool]:
        start, end, step = iterator.start, iterator.end, iterator.step
        negative_step = False
        if not isinstance(step, tensor):
            if step == 0:
                raise ValueError("range() step must not be zero")
            if step < 0:
                start, end, step, negative_step = end, start, -step, True
        bounds = [semantic.to_tensor(v) for v in (start, end, step)]
        if any(not b.dtype.is_int() or b.type.is_block() for b in bounds):
            raise TypeError("loop bounds and step must be integer scalars, got "
                            + ", ".join(str(b.type) for b in bounds))
        ty = semantic.integer_promote(semantic.integer_promote(bounds[0].dtype, bounds[1].dtype),
                                      bounds[2].dtype)
        lower, upper, step_t = (semantic.cast(b, ty) for b in bounds)
        return lower, upper, step_t, negative_step

    def _runtime_for(self, node: ast.For, target: str, iterator: tl_range) -> None:
        lower, upper, step, negative_step = self._loop_bounds(iterator)
        live = dict(self.scope)
        assigned = [n for n in _assigned_names(node.body) if n != target]
        carried = [n for n in assigned if _is_runtime(live.get(n))]
        fixed = [n for n in assigned if n in live and not _is_runtime(live[n])]
        inits: List[RuntimeValue] = [live[n] for n in carried]
        init_leaves = _flatten(inits)
        block = self.builder.begin_block([lower.type.mlir] + [t.type.mlir for t in init_leaves])
        induction = tensor(block.args[0], lower.type)
        if negative_step:  # iterate upward, count down: i = upper - j + lower
            induction = semantic.add(semantic.sub(upper, induction), lower)
        self.scope[target] = induction
        for name, value in zip(carried, _unflatten(inits, block.args[1:])):
            self.scope[name] = value
        self.visit_statements(node.body)
        yields = []
        for name, init in zip(carried, inits):
            value = self.scope[name]
            if not _is_runtime(value) or _runtime_type(value) != _runtime_type(init):
                now = _runtime_type(value) if _is_runtime(value) else value
                raise TypeError(f"loop-carried variable {name} has initial type "
                                f"{_runtime_type(init)} but is re-assigned to {now!r} in the "
                                "loop; make sure that the type stays consistent")
            yields.append(value)
        for name in fixed:
            if not _same_compile_time_value(self.scope[name], live[name]):
                raise TypeError(f"cannot re-assign compile-time value {name} ({live[name]!r}) "
                                "in a run-time loop")
        self.builder.emit("scf.yield", [(v.handle, v.type.mlir) for v in _flatten(yields)], [])
        self.builder.end_block()
        operands = [lower, upper, step] + init_leaves
        results = self.builder.emit("scf.for", [(t.handle, t.type.mlir) for t in operands],
                                    [t.type.mlir for t in init_leaves], regions=[block])
        self.scope = live
        for name, value in zip(carried, _unflatten(inits, results)):
            self.scope[name] = value

    def visit_While(self, node: ast.While) -> None:
        raise TypeError("`while` loops are not supported; use `for ... in range(...)`")

    # ---- expressions -------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        return self.lookup(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        return unwrap(getattr(self.visit(node.value), node.attr))

    def visit_Tuple(self, node: ast.Tuple) -> Tuple[Any, ...]:
        return tuple(self.visit(element) for element in node.elts)

    def visit_List(self, node: ast.List) -> Tuple[Any, ...]:
        return tuple(self.visit(element) for element in node.elts)

    def visit_Slice(self, node: ast.Slice) -> slice:
        parts = [None if part is None else self.visit(part)
                 for part in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        value = self.visit(node.value)
        index = self.visit(node.slice)
        if isinstance(value, tensor):
            return value[index]
        if not _is_compile_time(index):
            raise TypeError("tuple indices must be compile-time values")
        return value[index]

    def visit_JoinedStr(self, node: ast.JoinedStr) -> str:
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                evaluated = self.visit(value.value)
                if not _is_compile_time(evaluated):
                    raise TypeError("f-strings in kernels can only format compile-time values")
                spec = self.visit(value.format_spec) if value.format_spec else ""
                parts.append(format(evaluated, spec))
            else:
                parts.append(self.visit(value))
        return "".join(parts)

    def _binary(self, op: ast.operator, lhs: Any, rhs: Any) -> Any:
        function = _BINARY_OPS.get(type(op))
        if function is None:
            raise TypeError(f"unsupported operator {type(op).__name__}")
        return function(lhs, rhs)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return self._binary(node.op, self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return semantic.logical_not(operand) if isinstance(operand, tensor) else not operand
        return _UNARY_OPS[type(node.op)](operand)

    def visit_Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise TypeError("chained comparisons are not supported; split them with `and`")
        lhs, rhs = self.visit(node.left), self.visit(node.comparators[0])
        op = node.ops[0]
        if isinstance(op, (ast.Is, ast.IsNot)):
            return (lhs is rhs) == isinstance(op, ast.Is)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not (_is_compile_time(lhs) and _is_compile_time(rhs)):
                raise TypeError("`in` needs compile-time operands")
            return (lhs in rhs) == isinstance(op, ast.In)
        return _COMPARE_OPS[type(op)](lhs, rhs)

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        result = self.visit(node.values[0])
        for operand in node.values[1:]:
            if not isinstance(result, tensor):
                if bool(result) != is_and:  # short-circuits like Python
                    return result
                result = self.visit(operand)
                continue
            rhs = self.visit(operand)
            result = (semantic.logical_and if is_and else semantic.logical_or)(result, rhs)
        return result

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        condition = unwrap(self.visit(node.test))
        if not isinstance(condition, tensor):
            return self.visit(node.body if condition else node.orelse)
        condition = self._scalar_condition(condition)
        values = []
        blocks = []
        for branch in (node.body, node.orelse):
            self.builder.begin_block([])
            value = semantic.to_tensor(self.visit(branch))
            self.builder.emit("scf.yield", [(value.handle, value.type.mlir)], [])
            blocks.append(self.builder.end_block())
            values.append(value)
        if values[0].type != values[1].type:
            raise TypeError("conditional expression with a run-time condition has "
                            f"inconsistent types {values[0].type} and {values[1].type}")
        (result,) = self.builder.emit("scf.if", [(condition.handle, "i1")],
                                      [values[0].type.mlir], regions=blocks)
        return tensor(result, values[0].type)

    def visit_Call(self, node: ast.Call) -> Any:
        function = self.visit(node.func)
        args: List[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.visit(arg.value))
            else:
                args.append(self.visit(arg))
        kwargs: Dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise TypeError("`**kwargs` in calls is not supported")
            kwargs[keyword.arg] = self.visit(keyword.value)
        return self.call(function, args, kwargs)

    def call(self, function: Any, args: List[Any], kwargs: Dict[str, Any]) -> Any:
        """Calls ``function`` from kernel code: inlines kernel functions, runs builtins."""
        if isinstance(function, KernelFunction):
            return self._inline(function, args, kwargs)
        if (function is min or function is max) and not kwargs:
            if all(_is_compile_time(a) for a in args):
                return function(*args)
            if len(args) == 2:
                return (minimum if function is min else maximum)(*args)
            raise TypeError(f"{function.__name__}() of tensors takes exactly 2 arguments")
        if function is builtins.breakpoint:
            return self._breakpoint(args, kwargs)
        if function is constexpr:
            (value,) = args
            if not _is_compile_time(value):
                raise TypeError("tl.constexpr() needs a compile-time value")
            return unwrap(value)
        if is_builtin(function) or isinstance(getattr(function, "__self__", None), tensor):
            return function(*args, **kwargs)
        if not all(_is_compile_time(v) for v in list(args) + list(kwargs.values())):
            name = getattr(function, "__name__", repr(function))
            raise TypeError(f"{name} is not a tessera.language function: it can only be "
                            "called with compile-time arguments")
        return function(*args, **kwargs)

    def _breakpoint(self, args: List[Any], kwargs: Dict[str, Any]) -> None:
        """``breakpoint()``: stops host programs here with the function's variables."""
        if args or kwargs:
            raise TypeError("breakpoint() in a kernel takes no arguments")
        emit_breakpoint(self.function.__name__, self.scope, self.function.fn.__globals__)

    def _inline(self, callee: KernelFunction, args: List[Any], kwargs: Dict[str, Any]) -> Any:
        if callee in self.call_stack:
            raise TypeError(f"recursive call to {callee.__name__} is not supported")
        try:
            bound = callee.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{callee.__name__}(): {error}") from None
        bound.apply_defaults()
        arguments = {name: unwrap(value) for name, value in bound.arguments.items()}
        for name in callee.constexpr_names:
            if not _is_compile_time(arguments[name]):
                raise TypeError(f"parameter {name} of {callee.__name__} is tl.constexpr but "
                                "was given a tensor")
        generator = CodeGenerator(self.builder, callee, self.call_stack)
        return generator.run(arguments, is_kernel=False)
