"""Generation of the tile IR module of one specialisation of a kernel.

A specialisation fixes, per parameter, either a compile-time value (constexprs and
integers equal to 1, folded into the body) or a run-time type, plus whether the value is
known divisible by 16 (``{tile.divisibility = 16 : i32}``)::

    >>> specs = [ArgSpec(dtype=pointer_type(float32), divisible_by_16=True),
    ...          ArgSpec(dtype=int32), ArgSpec(value=1024)]       # doctest: +SKIP
    >>> print(generate_tile_ir(add_kernel, specs))                 # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from ..language.core import tensor
from ..language import dtypes
from .code_generator import CodeGenerator
from .function import KernelFunction
from .ir_builder import IRBuilder, building

__all__ = ["ArgSpec", "generate_tile_ir"]

DIVISIBILITY_ATTRIBUTE = "{tile.divisibility = 16 : i32}"


@dataclass(frozen=True)
class ArgSpec:
    """How one kernel parameter is specialised: a run-time ``dtype`` or a constant ``value``."""

    dtype: Optional[dtypes.dtype] = None
    value: Any = None
    divisible_by_16: bool = False

    @property
    def is_constant(self) -> bool:
        return self.dtype is None

    @property
    def runtime_type(self) -> dtypes.dtype:
        """The parameter's type (only for run-time parameters)."""
        if self.dtype is None:
            raise ValueError("a constant has no run-time type")
        return self.dtype


def generate_tile_ir(function: KernelFunction, specs: Sequence[ArgSpec],
                     name: Optional[str] = None) -> str:
    """The tile IR module (generic MLIR text) of ``function`` specialised by ``specs``.

    Raises ``CompilationError`` (with ``file:line:``) for errors in the kernel.
    """
    if len(specs) != len(function.arg_names):
        raise ValueError(f"{function.__name__} has {len(function.arg_names)} parameters, got "
                         f"{len(specs)} specialisations")
    source = function.source
    definition = source.definition
    builder = IRBuilder(source.location(definition))
    runtime = [(arg, spec) for arg, spec in zip(definition.args.args, specs) if not spec.is_constant]
    with building(builder):
        entry = builder.begin_block([spec.runtime_type.mlir for _, spec in runtime],
                                    [source.location(arg) for arg, _ in runtime])
        arguments: Dict[str, Any] = {}
        block_args = iter(entry.args)
        for parameter, spec in zip(function.arg_names, specs):
            arguments[parameter] = (spec.value if spec.is_constant
                                    else tensor(next(block_args), spec.runtime_type))
        CodeGenerator(builder, function).run(arguments, is_kernel=True)
        builder.emit("func.return", [], [])
        builder.end_block()
        attributes: Dict[str, Optional[str]] = {
            "sym_name": f'"{name or function.__name__}"',
            "function_type": "(" + ", ".join(spec.runtime_type.mlir for _, spec in runtime) + ") -> ()",
        }
        if runtime:
            attributes["arg_attrs"] = "[" + ", ".join(
                DIVISIBILITY_ATTRIBUTE if spec.divisible_by_16 else "{}"
                for _, spec in runtime) + "]"
        attributes["tile.kernel"] = None
        builder.emit("func.func", [], [], attributes, regions=[entry])
    return builder.module_text()
