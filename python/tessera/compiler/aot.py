"""Ahead-of-time compilation: ``tessera.compile`` turns a kernel and a signature into PTX
(and a cubin when ``ptxas`` is available) without a GPU.

    >>> k = tessera.compile(add_kernel, signature={"X": "*fp32:16", "Y": "*fp32", "n": "i32"},
    ...                     constants={"BLOCK": 1024}, target="sm_90a")   # doctest: +SKIP
    >>> k.name, sorted(k.asm)                                             # doctest: +SKIP
    ('add_kernel', ['cubin', 'llir', 'ptx', 'tile', 'tilegpu'])

Signature types are Triton's strings: ``"*fp32"`` (pointer), ``"i32"``, ``"i64"``, ``"u32"``,
``"fp32"``, ``"fp16"``, ``"bf16"``..., and ``"tensordesc<bf16[128,64]>"`` for a tensor
descriptor; a ``":16"`` suffix declares the value (the address for pointers) divisible by 16,
and a descriptor's tensor TMA-ready (``tessera.TensorDescriptor``).
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Mapping, Optional, Union

from .. import _C
from ..errors import CompilationError
from ..language.core import unwrap
from ..language.tensor_descriptor import parse_runtime_type
from .function import KernelFunction
from .specialization import ArgSpec, generate_tile_ir

__all__ = ["CompiledKernel", "compile", "compile_tile_ir"]

TEXT_STAGES = ("tile", "tilegpu", "llir", "ptx")


class CompiledKernel:
    """A compiled kernel: ``asm`` maps stage names to text (``"cubin"`` to bytes)."""

    def __init__(self, compiled: "_C.Compiled") -> None:
        self.name: str = compiled.name
        self.shared: int = compiled.shared
        self.num_params: int = compiled.num_params
        self.asm: Dict[str, Union[str, bytes]] = {}
        for stage in TEXT_STAGES:
            data = compiled.stage(stage)
            if data is not None:
                self.asm[stage] = data.decode()
        cubin = compiled.stage("cubin")
        if cubin is not None:
            self.asm["cubin"] = cubin

    def __repr__(self) -> str:
        return f"CompiledKernel({self.name!r}, shared={self.shared}, stages={sorted(self.asm)})"


def compile_tile_ir(tile_ir: str, target: str, num_warps: int, num_stages: int) -> CompiledKernel:
    """Compiles tile IR text; compiler diagnostics are re-raised at their Python line."""
    try:
        return CompiledKernel(_C.compile(tile_ir, target, num_warps, num_stages))
    except CompilationError as error:
        raise CompilationError.from_compiler(error.error_message) from None


def _parse_signature(name: str, text: str) -> ArgSpec:
    text = text.strip()
    divisible = text.endswith(":16")
    if divisible:
        text = text[:-3]
    if text == "constexpr":
        raise ValueError(f"parameter {name} is a constexpr: give its value in `constants`")
    return ArgSpec(dtype=parse_runtime_type(text), divisible_by_16=divisible)


def specs_from_signature(function: KernelFunction, signature: Mapping[str, str],
                         constants: Mapping[str, Any]) -> List[ArgSpec]:
    """The specialisation that a signature and constants describe, in parameter order (a
    constexpr parameter missing from ``constants`` takes its default, as at a launch)."""
    unknown = (set(signature) | set(constants)) - set(function.arg_names)
    if unknown:
        raise ValueError(f"{function.__name__} has no parameters {sorted(unknown)}")
    specs = []
    for name in function.arg_names:
        default = function.signature.parameters[name].default
        if name in constants:
            specs.append(ArgSpec(value=unwrap(constants[name])))
        elif name in function.constexpr_names and default is not inspect.Parameter.empty:
            specs.append(ArgSpec(value=unwrap(default)))
        elif name in function.constexpr_names:
            raise ValueError(f"constexpr parameter {name} needs a value in `constants`")
        elif name not in signature:
            raise ValueError(f"parameter {name} is missing from the signature")
        else:
            specs.append(_parse_signature(name, signature[name]))
    return specs


def compile(fn: KernelFunction, signature: Mapping[str, str],
            constants: Optional[Mapping[str, Any]] = None, target: str = "sm_90a",
            num_warps: int = 4, num_stages: int = 3) -> CompiledKernel:
    """Compiles ``fn`` (a ``@tessera.jit`` function) for ``target`` without a GPU.

    ``signature`` maps run-time parameters to type strings, ``constants`` maps constexpr
    parameters (or any parameter to fold) to values. Raises ``CompilationError``.

    >>> k = tessera.compile(add_kernel, {"X": "*fp32", "Y": "*fp32", "Z": "*fp32", "n": "i32"},
    ...                     constants={"BLOCK": 1024}, target="sm_80")   # doctest: +SKIP
    >>> print(k.asm["ptx"])                                             # doctest: +SKIP
    """
    if not isinstance(fn, KernelFunction):
        raise TypeError(f"tessera.compile expects a @tessera.jit function, got {fn!r}")
    specs = specs_from_signature(fn, signature, dict(constants or {}))
    return compile_tile_ir(generate_tile_ir(fn, specs), target, num_warps, num_stages)
