"""Tessera: a Triton-style JIT kernel compiler.

    import tessera
    import tessera.language as tl

    @tessera.jit
    def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(Z + offs, tl.load(X + offs, mask=mask) + tl.load(Y + offs, mask=mask), mask=mask)

    add_kernel[(tessera.cdiv(n, 1024),)](x, y, z, n, BLOCK=1024)        # on a GPU
    tessera.compile(add_kernel, signature={"X": "*fp32", "Y": "*fp32", "Z": "*fp32",
                    "n": "i32"}, constants={"BLOCK": 1024}).asm["ptx"]  # anywhere
"""
from . import errors  # first: tessera._C raises its exception classes
from . import _C, language
from .compiler.aot import CompiledKernel, compile
from .errors import CompilationError, TesseraError
from .runtime.autotuner import Config, autotune, heuristics
from .runtime.breakpoints import KernelBreakpoint, set_breakpoint_handler
from .runtime.bundles import BundleCase, build_bundle, load_bundle
from .runtime.precompile import AotReport, aot
from .runtime.buffer import DeviceBuffer, empty, from_numpy
from .runtime.cuda_source import CudaConfig, CudaKernel
from .runtime.jit_function import JITFunction, LoadedKernel, jit
from .runtime.tensor_descriptor import TensorDescriptor
from .utils import cdiv, next_power_of_2

__version__ = "0.1.0"

__all__ = [
    "AotReport", "BundleCase", "CompilationError", "CompiledKernel", "Config", "CudaConfig",
    "CudaKernel", "DeviceBuffer", "JITFunction", "KernelBreakpoint",
    "LoadedKernel", "TensorDescriptor", "TesseraError", "aot", "autotune", "build_bundle", "cdiv",
    "compile", "empty", "errors", "from_numpy", "heuristics", "jit", "language", "load_bundle",
    "next_power_of_2", "set_breakpoint_handler", "stats",
]


def stats() -> dict:
    """This process's counters: the runtime's ``compiles``, ``disk_hits``, ``memory_hits``,
    ``launches`` and ``bundle_hits``, and the autotuner's ``tuning_runs`` (configs timed) and
    ``tuning_cache_hits`` (config results read from the tuning cache or a bundle instead)."""
    from .runtime.autotuner import _counters
    return {**_C.stats(), **_counters}
