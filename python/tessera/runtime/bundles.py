"""Bundles: kernels compiled ahead of time, and the autotuner's results for them, in one versioned,
checksummed file (the format is ``runtime/bundle.h``'s), so that a process that loads it starts
without compiling or tuning what it lists.

    >>> cases = [tessera.BundleCase("add", add_kernel, {"X": "*fp32:16", "Y": "*fp32:16",
    ...          "Z": "*fp32:16", "n": "i32"}, {"BLOCK": 1024}, target="sm_90a")]
    >>> tessera.build_bundle("kernels.tbundle", cases)          # no GPU needed  # doctest: +SKIP
    >>> tessera.load_bundle("kernels.tbundle")                  # in the serving process # doctest: +SKIP
    {'kernels': 1, 'tuning': 0}

A case is what ``tessera.compile`` takes; a launch whose specialisation matches it (same
signature, constants and options, from the same kernel source) takes the bundle's binary. Tuning
results come from this process's tuning cache (``tessera.runtime.tuning_cache``): tune on a GPU
first, then build, and the loading process finds those results instead of timing. Kernels the
bundle lacks are compiled as usual.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional

from .. import _C
from ..compiler.aot import specs_from_signature
from ..compiler.specialization import generate_tile_ir
from . import tuning_cache

__all__ = ["BundleCase", "build_bundle", "load_bundle"]


class BundleCase(NamedTuple):
    """One kernel specialisation of a bundle, looked up as ``name``."""

    name: str
    kernel: Any  # a @tessera.jit function
    signature: Mapping[str, str]
    constants: Optional[Mapping[str, Any]] = None
    target: str = "sm_90a"
    num_warps: int = 4
    num_stages: int = 3


def build_bundle(path: str, cases: Iterable[BundleCase], description: str = "",
                 include_tuning: bool = True) -> Dict[str, int]:
    """Compiles ``cases`` (or finds them in the kernel cache) and writes them, with the tuning
    cache's results when ``include_tuning``, to the bundle ``path``. Returns the counts written:
    ``{"kernels": ..., "tuning": ...}``."""
    bundle = _C.Bundle.create(description)
    kernels = 0
    for case in cases:
        specs = specs_from_signature(case.kernel, case.signature, dict(case.constants or {}))
        bundle.add_kernel(case.name, generate_tile_ir(case.kernel, specs), case.target,
                          case.num_warps, case.num_stages)
        kernels += 1
    records = tuning_cache.stored_records() if include_tuning else []
    for record in records:
        bundle.add_tuning(*record)
    bundle.write(path)
    return {"kernels": kernels, "tuning": len(records)}


def load_bundle(path: str) -> Dict[str, int]:
    """Reads and checks the bundle ``path`` and makes its kernels and tuning results available to
    this process. Returns the counts loaded: ``{"kernels": ..., "tuning": ...}``. A missing file
    raises ``TesseraError`` (NOT_FOUND), a damaged one says what is wrong with it."""
    bundle = _C.Bundle.read(path)
    bundle.load()
    records = bundle.tuning
    for kernel, key, config, milliseconds in records:
        tuning_cache.preload(kernel, key, config, milliseconds)
    return {"kernels": len(bundle.kernels), "tuning": len(records)}
