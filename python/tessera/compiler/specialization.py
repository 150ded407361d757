"""Generation of the tile IR module of one specialisation of a kernel.

A specialisation fixes, per parameter, either a compile-time value (constexprs and
integers equal to 1, folded into the body) or a run-time type, plus whether the value is
known divisible by 16 (``{tile.divisibility = 16 : i32}``). A tensor descriptor parameter
(``tensordesc<bf16[128,64]>``) becomes several kernel parameters; for it, "divisible by 16"
means that the host encodes a TMA tensor map: the base address and the strides are
multiples of 16 bytes::

    >>> specs = [ArgSpec(dtype=pointer_type(float32), divisible_by_16=True),
    ...          ArgSpec(dtype=int32), ArgSpec(value=1024)]       # doctest: +SKIP
    >>> print(generate_tile_ir(add_kernel, specs))                 # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..language.core import tensor
from ..language import dtypes
from ..language.tensor_descriptor import (from_parameters, parameter_types,
                                          tensor_descriptor_type)
from .code_generator import CodeGenerator
from .function import KernelFunction
from .ir_builder import IRBuilder, building

__all__ = ["ArgSpec", "generate_tile_ir"]


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

    def parameter_types(self) -> List[dtypes.dtype]:
        """The language types of a run-time argument's kernel parameters."""
        ty = self.runtime_type
        if isinstance(ty, tensor_descriptor_type):
            return parameter_types(ty, with_tensor_map=self.divisible_by_16)
        return [ty]

    def parameter_divisibility(self) -> List[int]:
        """What each kernel parameter of a run-time argument is known a multiple of (1:
        nothing); for a pointer, its address in bytes."""
        ty = self.runtime_type
        if not isinstance(ty, tensor_descriptor_type):
            return [16 if self.divisible_by_16 else 1]
        divisibility = [1] * len(self.parameter_types())
        if self.divisible_by_16:
            # The base address and the strides (in elements) span multiples of 16 bytes.
            element_bytes = max(1, ty.element_ty.primitive_bitwidth // 8)
            divisibility[1] = 16
            for i in range(len(divisibility) - (ty.rank - 1), len(divisibility)):
                divisibility[i] = max(1, 16 // element_bytes)
        return divisibility

    def parameters(self) -> List[Tuple[str, str]]:
        """The kernel parameters of a run-time argument: (MLIR type, attributes) each."""
        return [(ty.mlir, f"{{tile.divisibility = {d} : i32}}" if d > 1 else "{}")
                for ty, d in zip(self.parameter_types(), self.parameter_divisibility())]

    def bind(self, values: Sequence[tensor]) -> Any:
        """The kernel-side value of a run-time argument made of its parameters' values."""
        ty = self.runtime_type
        if isinstance(ty, tensor_descriptor_type):
            return from_parameters(ty, values, with_tensor_map=self.divisible_by_16)
        (value,) = values
        return value


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
    parameters = [(parameter, arg) for arg, spec in runtime for parameter in spec.parameters()]
    with building(builder):
        entry = builder.begin_block([ty for (ty, _), _ in parameters],
                                    [source.location(arg) for _, arg in parameters])
        arguments: Dict[str, Any] = {}
        block_args = iter(entry.args)
        for parameter, spec in zip(function.arg_names, specs):
            if spec.is_constant:
                arguments[parameter] = spec.value
                continue
            arguments[parameter] = spec.bind([tensor(next(block_args), ty)
                                              for ty in spec.parameter_types()])
        CodeGenerator(builder, function).run(arguments, is_kernel=True)
        builder.emit("func.return", [], [])
        builder.end_block()
        attributes: Dict[str, Optional[str]] = {
            "sym_name": f'"{name or function.__name__}"',
            "function_type": "(" + ", ".join(ty for (ty, _), _ in parameters) + ") -> ()",
        }
        if parameters:
            attributes["arg_attrs"] = "[" + ", ".join(attrs for (_, attrs), _ in parameters) + "]"
        attributes["tile.kernel"] = None
        builder.emit("func.func", [], [], attributes, regions=[entry])
    return builder.module_text()
