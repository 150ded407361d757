"""CUDA C++ kernels compiled at run time by NVRTC, launched on PyTorch tensors, autotuned.

    from tessera.runtime.cuda_source import CudaConfig, CudaKernel

    SRC = r'''
    extern "C" __global__ void axpb(const float* x, float* y, float a, float b, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) y[i] = a * x[i] + b * SCALE;
    }
    '''
    axpb = CudaKernel(SRC, "axpb", signature="ppffi")
    config = CudaConfig(defines={"SCALE": 2}, num_threads=256)
    axpb[(tessera.cdiv(n, 256),)](x, y, 3.0, 1.0, n, config=config)

The entry must be declared ``extern "C" __global__``. ``signature`` has one character per kernel
parameter: ``p`` a pointer (a CUDA tensor, a ``tessera.DeviceBuffer``, any CUDA array, or None
for a null pointer), ``i`` a 32-bit and ``l`` a 64-bit integer, ``f`` a float, ``d`` a double and
``b`` a bool; it is checked against the parameters of the compiled entry. A launch runs on the
device of its pointer arguments (all on one device) and on PyTorch's current stream of that device
when any is a torch tensor (else the legacy default stream, or ``stream=``).

A ``CudaConfig`` is what NVRTC compiles besides the source: ``-D`` defines, extra options, the
block size and the dynamic shared memory. Each (config, device) is loaded once through the
runtime (memory cache, disk cache, else NVRTC) and kept in ``CudaKernel.cache``, so that a
repeated launch only packs its arguments. With several ``configs`` and no ``config=`` at launch,
the first launch for each ``key(args)`` (and device) times every config with CUDA events
(``tessera.runtime.autotuner.do_bench``) and keeps the fastest; configs that do not compile or do
not fit the device are skipped with the reason logged on the ``tessera.autotune`` logger (a
RuntimeError lists them when none can run). Results persist in the tuning cache
(``tessera.runtime.tuning_cache``) per source, key and GPU architecture.

``compile`` and ``precompile`` need no GPU: they give the PTX and cubin for a target, and put the
cubin into the disk cache for later launches.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import numbers
import re
import sys
import time
from typing import (Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from .. import _C
from .arguments import handler_for, torch_argument
from .autotuner import _counters, _device_scope, _skip_reason, do_bench as _do_bench
from .jit_function import _grid_dims, _torch_stream, device_target
from .host import HOST
from .tuning_cache import AotDevice, TunedResult, TuningCache

__all__ = ["CudaConfig", "CudaKernel"]

logger = logging.getLogger("tessera.autotune")

Grid = Union[Sequence[int], Callable[["CudaConfig"], Sequence[int]]]
DefineValue = Union[bool, int, float, str]

_KINDS = "pilfdb"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT_RANGES = {"i": (-2 ** 31, 2 ** 32), "l": (-2 ** 63, 2 ** 64)}


class CudaConfig:
    """What NVRTC compiles besides the source, and how a launch runs it. Immutable, hashable.

    - ``defines``: macros passed as ``-DNAME=VALUE`` (bools as 1 or 0), sorted by name;
    - ``num_threads``: threads per block, a power of two from 32 to 1024;
    - ``shared_bytes``: dynamic shared memory per block (``extern __shared__``);
    - ``options``: further NVRTC options, e.g. ``("--use_fast_math", "-lineinfo")``; the target
      architecture is not one of them (the device's is used, or ``CudaKernel(target=...)``), nor
      are include paths: a source holds all it needs but the CUDA toolkit's headers.

    >>> c = CudaConfig(defines={"N": 64, "USE_BF16": True}, num_threads=64)
    >>> c.nvrtc_options()
    ['-DN=64', '-DUSE_BF16=1']
    >>> c.num_warps
    2
    """

    __slots__ = ("defines", "num_threads", "shared_bytes", "options", "_identity", "_hash")

    def __init__(self, defines: Optional[Mapping[str, DefineValue]] = None,
                 num_threads: int = 128, shared_bytes: int = 0,
                 options: Sequence[str] = ()) -> None:
        defines = dict(defines or {})
        for name, value in defines.items():
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                raise ValueError(f"CudaConfig defines: {name!r} is not a C identifier")
            if not isinstance(value, (bool, int, float, str)):
                raise TypeError(f"CudaConfig defines[{name!r}] must be a bool, int, float or "
                                f"str, got {type(value).__name__}")
        if (not isinstance(num_threads, int) or isinstance(num_threads, bool)
                or not 32 <= num_threads <= 1024 or num_threads & (num_threads - 1)):
            raise ValueError(f"CudaConfig num_threads must be a power of two from 32 to 1024, "
                             f"got {num_threads!r}")
        if not isinstance(shared_bytes, int) or isinstance(shared_bytes, bool) or shared_bytes < 0:
            raise ValueError(f"CudaConfig shared_bytes must be an int >= 0, got {shared_bytes!r}")
        if isinstance(options, str) or not all(isinstance(o, str) and o for o in options):
            raise TypeError(f"CudaConfig options must be a sequence of non-empty strings, got "
                            f"{options!r}")
        self.defines: Tuple[Tuple[str, DefineValue], ...] = tuple(sorted(defines.items()))
        self.num_threads = num_threads
        self.shared_bytes = shared_bytes
        self.options: Tuple[str, ...] = tuple(options)
        # Defines compare by type too: {"X": 1} and {"X": True} compile alike but are kept apart.
        self._identity = (tuple((n, type(v).__name__, v) for n, v in self.defines), num_threads,
                          shared_bytes, self.options)
        self._hash = hash(self._identity)

    @property
    def num_warps(self) -> int:
        """``num_threads // 32``: the runtime's unit of block size."""
        return self.num_threads // 32

    def nvrtc_options(self) -> List[str]:
        """The options NVRTC gets: the defines, then ``options``."""
        def text(value: DefineValue) -> str:
            return str(int(value)) if isinstance(value, bool) else str(value)
        return [f"-D{name}={text(value)}" for name, value in self.defines] + list(self.options)

    def all_kwargs(self) -> Dict[str, Any]:
        """The config as plain data: what the tuning cache records."""
        return {"defines": [list(d) for d in self.defines], "num_threads": self.num_threads,
                "shared_bytes": self.shared_bytes, "options": list(self.options)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CudaConfig) and self._identity == other._identity

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_hash"):
            raise AttributeError("CudaConfig is immutable")
        object.__setattr__(self, name, value)

    def __str__(self) -> str:
        return ", ".join([f"{n}={v}" for n, v in self.defines]
                         + [f"num_threads={self.num_threads}"]
                         + ([f"shared_bytes={self.shared_bytes}"] if self.shared_bytes else [])
                         + list(self.options))

    def __repr__(self) -> str:
        return (f"CudaConfig(defines={dict(self.defines)!r}, num_threads={self.num_threads}, "
                f"shared_bytes={self.shared_bytes}, options={self.options!r})")


class CudaKernel:
    """A CUDA C++ kernel: launch with ``kernel[grid](*args, config=None, stream=None)``.

    ``grid`` is a tuple of 1 to 3 ints, or a function of the launch's config returning one.
    ``arg_names`` (one per signature character) name the arguments in error messages.
    ``configs`` and ``key``: see the module docstring; ``key(args)`` takes the launch's arguments
    as a tuple and returns a hashable value (shapes, dtypes...); without ``key`` a kernel is tuned
    once per device. ``restore_value`` lists arguments (indices or names) restored after each
    timed run, for kernels that update tensors in place. ``do_bench(fn) -> milliseconds``
    replaces the timing (default ``do_bench`` with ``warmup`` and ``rep``). ``target`` forces a
    compile target ("sm_80", ...; default: each device's own).

    >>> k = CudaKernel(SRC, "axpb", signature="ppffi", arg_names="x y a b n".split(),
    ...                configs=[CudaConfig(num_threads=t) for t in (128, 256, 512)],
    ...                key=lambda args: args[4])                  # tuned per n
    >>> k[lambda c: (tessera.cdiv(n, c.num_threads),)](x, y, 2.0, 1.0, n)  # doctest: +SKIP
    >>> k.best_config                                                   # doctest: +SKIP
    CudaConfig(defines={}, num_threads=256, shared_bytes=0, options=())
    """

    def __init__(self, source: str, entry: str, signature: str, *,
                 configs: Optional[Sequence[CudaConfig]] = None,
                 key: Optional[Callable[[Tuple[Any, ...]], Hashable]] = None,
                 arg_names: Optional[Sequence[str]] = None,
                 restore_value: Sequence[Union[int, str]] = (), target: Optional[str] = None,
                 warmup: float = 25, rep: float = 100,
                 do_bench: Optional[Callable[[Callable[[], Any]], float]] = None,
                 cache_results: bool = True) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ValueError("CudaKernel source must be a non-empty string of CUDA C++")
        if not isinstance(entry, str) or not _IDENTIFIER.match(entry):
            raise ValueError(f"CudaKernel entry must be the name of an extern \"C\" __global__ "
                             f"function, got {entry!r}")
        if not isinstance(signature, str) or any(c not in _KINDS for c in signature):
            raise ValueError(f"CudaKernel signature must be a string of {', '.join(_KINDS)} "
                             f"(one per kernel parameter), got {signature!r}")
        self.source = source
        self.entry = self.__name__ = entry
        self.signature = signature
        names = list(arg_names) if arg_names is not None else \
            [f"argument {i}" for i in range(len(signature))]
        if len(names) != len(signature):
            raise ValueError(f"{entry}: arg_names has {len(names)} names for a signature of "
                             f"{len(signature)} parameters")
        self.arg_names = names
        self.configs: List[CudaConfig] = list(configs) if configs else [CudaConfig()]
        bad = [c for c in self.configs if not isinstance(c, CudaConfig)]
        if bad:
            raise TypeError(f"{entry}: configs must be CudaConfig objects, got {bad[0]!r}")
        if key is not None and not callable(key):
            raise TypeError(f"{entry}: key must be a function of the launch's arguments")
        self.key = key
        self.restore_value = [self._index(v) for v in restore_value]
        self.target = target or ""
        self.do_bench = do_bench or functools.partial(_do_bench, warmup=warmup, rep=rep)
        self.cache_results = bool(cache_results)
        # The loaded kernels, by (config, device); the chosen config, by (key, device).
        self.cache: Dict[Tuple[CudaConfig, int], Any] = {}
        self.tuned: Dict[Tuple[Any, int], CudaConfig] = {}
        self.best_config: Optional[CudaConfig] = None
        self.configs_timings: Dict[CudaConfig, float] = {}
        self._source_hash = hashlib.sha256(source.encode()).hexdigest()[:16]

    def _index(self, argument: Union[int, str]) -> int:
        if isinstance(argument, str) and argument in self.arg_names:
            return self.arg_names.index(argument)
        if isinstance(argument, int) and 0 <= argument < len(self.signature):
            return argument
        raise ValueError(f"{self.entry}: {argument!r} is not an argument of the kernel "
                         f"({self.arg_names})")

    # ---- compiling without a GPU ----------------------------------------------------------
    def compile(self, config: Optional[CudaConfig] = None, target: str = "sm_90a") -> Any:
        """Compiles for ``target`` with NVRTC, without a GPU or cache: a ``tessera._C.Compiled``
        whose ``stage("ptx")`` and ``stage("cubin")`` hold the binaries. ValueError when the
        entry's parameters do not match the signature.

        >>> CudaKernel(SRC, "axpb", "ppffi").compile().num_params
        5
        """
        config = self._config_or_default(config)
        compiled = _C.compile_cuda(self.source, self.entry, target, config.num_warps,
                                   config.shared_bytes, config.nvrtc_options())
        if compiled.num_params != len(self.signature):
            raise ValueError(f"{self.entry}: signature {self.signature!r} has "
                             f"{len(self.signature)} parameters but the kernel has "
                             f"{compiled.num_params}")
        return compiled

    def precompile(self, config: Optional[CudaConfig] = None, target: str = "sm_90a") -> bool:
        """Puts the cubin for ``target`` into the disk cache without a GPU; True when this call
        compiled it (False: it was cached already)."""
        config = self._config_or_default(config)
        return _C.precompile_cuda(self.source, self.entry, target, config.num_warps,
                                  config.shared_bytes, config.nvrtc_options())

    def _config_or_default(self, config: Optional[CudaConfig]) -> CudaConfig:
        if config is None:
            return self.configs[0]
        if not isinstance(config, CudaConfig):
            raise TypeError(f"{self.entry}: config must be a CudaConfig, got {config!r}")
        return config

    # ---- launching -------------------------------------------------------------------------
    def __getitem__(self, grid: Grid) -> Callable[..., None]:
        return functools.partial(self.run, grid=grid)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{self.entry} is a CUDA kernel: launch it with "
                           f"{self.entry}[grid](...)")

    def run(self, *args: Any, grid: Grid, config: Optional[CudaConfig] = None,
            stream: Optional[int] = None) -> None:
        """Launches ``grid`` with ``args`` (one per signature character) and ``config`` (default:
        the only config, or the one tuned for this launch's key)."""
        values, device, on_torch = self._bind(args)
        if stream is None:
            stream = _torch_stream(device) if on_torch else 0
        if config is None:
            config = self.configs[0] if len(self.configs) == 1 else \
                self._tuned_config(args, values, device, grid, stream)
        elif not isinstance(config, CudaConfig):
            raise TypeError(f"{self.entry}: config must be a CudaConfig, got {config!r}")
        self.best_config = config
        self._launch(config, values, device, grid, stream)

    def _launch(self, config: CudaConfig, values: Tuple[Any, ...], device: int, grid: Grid,
                stream: int) -> None:
        kernel = self.cache.get((config, device))
        if kernel is None:
            kernel = self._load(config, device)
        x, y, z = _grid_dims(grid(config) if callable(grid) else grid)
        if x and y and z:
            kernel.launch(x, y, z, stream, values)

    def _load(self, config: CudaConfig, device: int) -> Any:
        try:
            kernel = _C.get_cuda_kernel(self.source, self.entry, self.target, config.num_warps,
                                        config.shared_bytes, config.nvrtc_options(), device,
                                        self.signature)
        except ValueError as error:  # the signature does not match the entry's parameters
            raise ValueError(f"{self.entry}: signature {self.signature!r}: {error}") from None
        self.cache[(config, device)] = kernel
        return kernel

    def _bind(self, args: Sequence[Any]) -> Tuple[Tuple[Any, ...], int, bool]:
        """(launch values, device, whether a pointer is a torch tensor); TypeError or ValueError
        naming the argument that is of the wrong kind or on another device."""
        if len(args) != len(self.signature):
            raise TypeError(f"{self.entry} takes {len(self.signature)} arguments (signature "
                            f"{self.signature!r}), got {len(args)}")
        values: List[Any] = []
        device: Optional[int] = None
        device_of = ""
        on_torch = False
        for kind, arg, name in zip(self.signature, args, self.arg_names):
            if kind != "p":
                values.append(self._scalar(kind, arg, name))
                continue
            if arg is None:
                values.append(0)
                continue
            try:
                handler = handler_for(type(arg))
            except TypeError as error:
                raise TypeError(f"{self.entry}: {name} must be a CUDA tensor (a pointer): "
                                f"{error}") from None
            if handler is torch_argument:  # any dtype: the source decides what it points at
                if not arg.is_cuda:
                    raise ValueError(f"{self.entry}: {name} is a tensor on {arg.device}; CUDA "
                                     "kernels need CUDA tensors")
                value, arg_device = arg.data_ptr(), arg.get_device()
            else:
                try:
                    part, value, arg_device = handler(arg, False)
                except (TypeError, ValueError) as error:
                    raise type(error)(f"{self.entry}: {name}: {error}") from None
                if not isinstance(part[0], str) or not part[0].startswith("*"):
                    raise TypeError(f"{self.entry}: {name} must be a CUDA tensor (a pointer), "
                                    f"got {type(arg).__name__}")
                if arg_device == HOST:
                    raise ValueError(f"{self.entry}: {name} is a host array; CUDA C++ kernels "
                                     "need CUDA memory (only tile kernels run on the CPU)")
            if device is None:
                device, device_of = arg_device, name
            elif arg_device != device:
                raise ValueError(f"{self.entry}: {name} is on cuda:{arg_device} but {device_of} "
                                 f"is on cuda:{device}: all tensors of a launch must be on one "
                                 "device")
            on_torch = on_torch or handler is torch_argument
            values.append(value)
        if device is None:
            torch = sys.modules.get("torch")
            device = torch.cuda.current_device() if torch is not None and \
                torch.cuda.is_available() else 0
        return tuple(values), device, on_torch

    def _scalar(self, kind: str, arg: Any, name: str) -> Any:
        # Exact int and float first: the ABC checks below cost more than the rest of a launch.
        if kind == "f" or kind == "d":
            if type(arg) is float:
                return arg
        elif type(arg) is int and kind != "b":
            low, high = _INT_RANGES[kind]
            if low <= arg < high:
                return arg
        if kind in _INT_RANGES or kind == "b":
            if not isinstance(arg, numbers.Integral):
                raise TypeError(f"{self.entry}: {name} must be an int, got "
                                f"{type(arg).__name__}")
            if kind == "b":
                return bool(arg)
            low, high = _INT_RANGES[kind]
            if not low <= int(arg) < high:
                raise ValueError(f"{self.entry}: {name} = {int(arg)} does not fit in "
                                 f"{32 if kind == 'i' else 64} bits")
            return int(arg)
        if not isinstance(arg, numbers.Real):
            raise TypeError(f"{self.entry}: {name} must be a float, got {type(arg).__name__}")
        return float(arg)

    # ---- autotuning ------------------------------------------------------------------------
    def _tuned_config(self, args: Sequence[Any], values: Tuple[Any, ...], device: int,
                      grid: Grid, stream: int) -> CudaConfig:
        key = self.key(tuple(args)) if self.key is not None else None
        config = self.tuned.get((key, device))
        if config is None:
            config = self._tune(key, args, values, device, grid, stream)
            self.tuned[(key, device)] = config
        return config

    def _tune(self, key: Any, args: Sequence[Any], values: Tuple[Any, ...], device: int,
              grid: Grid, stream: int) -> CudaConfig:
        started = time.perf_counter()
        # Stored results are per source, entry, key and GPU architecture.
        tuning_key = (self._source_hash, self.entry, key, AotDevice(device_target(device)))
        cache = TuningCache(self) if self.cache_results else None
        stored = cache.load(tuning_key, self.configs) if cache is not None else {}
        _counters["tuning_cache_hits"] += len(stored)
        timings = {c: r.milliseconds for c, r in stored.items() if r.milliseconds is not None}
        skipped = {c: r.skipped for c, r in stored.items() if r.skipped is not None}
        saved = [(args[i], args[i].clone()) for i in self.restore_value if args[i] is not None]
        with _device_scope(device):
            for config in [c for c in self.configs if c not in stored]:
                _counters["tuning_runs"] += 1

                def call(config: CudaConfig = config) -> None:
                    try:
                        self._launch(config, values, device, grid, stream)
                    finally:
                        for tensor, copy in saved:
                            tensor.copy_(copy)

                try:
                    milliseconds = float(self.do_bench(call))
                except Exception as error:  # only the config's own failures are skipped
                    reason = _skip_reason(error)
                    if reason is None:
                        raise
                    level, skipped[config] = reason
                    logger.log(level, "%s: skipping config (%s) for key %s: it %s", self.entry,
                               config, key, skipped[config])
                    result = TunedResult(skipped=skipped[config])
                else:
                    if math.isnan(milliseconds):
                        raise ValueError(f"{self.entry}: do_bench returned NaN for config "
                                         f"({config})")
                    timings[config] = milliseconds
                    result = TunedResult(milliseconds=milliseconds)
                if cache is not None:
                    cache.store(tuning_key, config, result)
        if not timings:
            reasons = "\n".join(f"  {c}: {reason}" for c, reason in skipped.items())
            raise RuntimeError(f"{self.entry}: no config could run for key {key!r} (every one "
                               f"was skipped):\n{reasons}")
        best = min(timings, key=timings.__getitem__)
        self.configs_timings = timings
        logger.info("%s: best of %d configs for key %r in %.1f s: %s (%.4f ms)", self.entry,
                    len(self.configs), key, time.perf_counter() - started, best, timings[best])
        return best
