"""Shared helpers of the front-end tests (no tests here).

Makes ``tessera`` importable from the source tree when it is not pip-installed, finds an
MLIR parser for generated IR and locates source lines of kernels.
"""
from __future__ import annotations

import inspect
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Mapping, Optional

REPO = pathlib.Path(__file__).resolve().parents[3]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import tessera  # noqa: E402
from tessera.compiler.aot import specs_from_signature  # noqa: E402
from tessera.compiler.specialization import generate_tile_ir  # noqa: E402

MLIR_OPT = "/usr/lib/llvm-22/bin/mlir-opt"


def parser_command() -> Optional[List[str]]:
    """tessera-opt (TESSERA_OPT or build/compiler/tessera-opt), else mlir-opt accepting
    unregistered dialects; None when neither exists."""
    tessera_opt = os.environ.get("TESSERA_OPT") or str(REPO / "build" / "compiler" / "tessera-opt")
    if os.path.exists(tessera_opt):
        return [tessera_opt]
    mlir_opt = MLIR_OPT if os.path.exists(MLIR_OPT) else shutil.which("mlir-opt")
    return [mlir_opt, "--allow-unregistered-dialect"] if mlir_opt else None


def parse(ir: str) -> subprocess.CompletedProcess:
    """Runs the parser on ``ir``; the result's returncode is 0 when it parsed (and verified)."""
    command = parser_command()
    assert command is not None, "no tessera-opt or mlir-opt to parse the IR"
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False) as handle:
        handle.write(ir)
    try:
        return subprocess.run(command + [handle.name], capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(handle.name)


def tile_ir(kernel: Any, signature: Mapping[str, str],
            constants: Optional[Dict[str, Any]] = None) -> str:
    """The tile IR of ``kernel`` for a Triton-style signature, as tessera.compile makes it."""
    return generate_tile_ir(kernel, specs_from_signature(kernel, signature, constants or {}))


def line_of(kernel: Any, snippet: str) -> int:
    """The file line number of the first line of ``kernel`` containing ``snippet``."""
    lines, first = inspect.getsourcelines(kernel.fn)
    for offset, line in enumerate(lines):
        if snippet in line:
            return first + offset
    raise AssertionError(f"{snippet!r} not in {kernel.__name__}")


def ops(ir: str, name: str) -> List[str]:
    """The lines of ``ir`` holding op ``name`` (generic form)."""
    return [line for line in ir.splitlines() if f'"{name}"(' in line]


def full_ops(ir: str, name: str) -> List[str]:
    """The complete text of each op ``name``, regions included (up to its closing ``})``)."""
    lines = ir.splitlines()
    found = []
    for index, line in enumerate(lines):
        if f'"{name}"(' not in line:
            continue
        if not line.endswith("({"):
            found.append(line.strip())
            continue
        indent = len(line) - len(line.lstrip())
        end = next(i for i in range(index + 1, len(lines))
                   if lines[i].startswith(" " * indent + "})"))
        found.append("\n".join(l.strip() for l in lines[index:end + 1]))
    return found


__all__ = ["REPO", "tessera", "parse", "parser_command", "tile_ir", "line_of", "ops", "full_ops"]
