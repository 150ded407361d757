"""``tessera.autotune`` and ``tessera.heuristics``: meta-parameters chosen at launch, with the
semantics of Triton's decorators of the same names.

    @tessera.autotune(configs=[tessera.Config({"BLOCK": 256}, num_warps=4),
                               tessera.Config({"BLOCK": 1024}, num_warps=8)],
                      key=["n"])
    @tessera.jit
    def scale(X, n, factor, BLOCK: tl.constexpr):
        ...

    scale[lambda meta: (tessera.cdiv(n, meta["BLOCK"]),)](x, n, 2.0)  # tunes for this n
    scale.best_config                                                 # the config it launched

On the first launch with a new key (the values of the ``key`` arguments, the dtypes of the
tensor arguments and their device), the autotuner times every config that survives
``prune_configs_by`` with CUDA events on the current PyTorch stream (median of repeats), then
launches the fastest; later launches with that key use it directly (an in-memory cache).
Launches that run on the host CPU (host arrays, ``device="cpu"``, ``TESSERA_INTERPRET=1``) time
nothing: GPU timings are meaningless there, so they take the first config that survives pruning.
Arguments named in ``reset_to_zero`` are zeroed before each timed run and those in
``restore_value`` copied back after it, so that in-place kernels tune on their real inputs.
Configs that do not compile or do not fit the device (shared memory, registers) are skipped with
the reason logged on the ``tessera.autotune`` logger; if every config fails the launch raises a
``RuntimeError`` listing them. Tuning prints a progress line on stderr unless ``TESSERA_QUIET=1``.
Each config's result (its time, or why it was skipped) is kept on disk per key, device model
and compiler build (``tessera.runtime.tuning_cache``): a later process times only the configs it
finds no result for, such as configs added since.

``@tessera.heuristics({"EVEN_K": lambda args: args["K"] % args["BLOCK_K"] == 0})`` computes
meta-parameters from the other arguments at every launch; stacked under ``@tessera.autotune`` its
functions also see the config's values.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import INVALID_ARGUMENT, CompilationError, TesseraError
from .host import HOST, interpret_mode
from .tuning_cache import TunedResult, TuningCache

__all__ = ["Autotuner", "Config", "Heuristics", "autotune", "do_bench", "heuristics"]

logger = logging.getLogger("tessera.autotune")

_LAUNCH_KEYWORDS = frozenset({"grid", "num_warps", "num_stages"})
_PRUNE_FIELDS = frozenset({"perf_model", "top_k", "early_config_prune"})
_MAX_REPEATS = 1000

# Configs timed, and configs whose result came from the tuning cache, in this process
# (tessera.stats()).
_counters = {"tuning_runs": 0, "tuning_cache_hits": 0}


class Config:
    """One point of an autotuning space: constexpr values plus ``num_warps`` and ``num_stages``.

    ``pre_hook``, as in Triton, is called before every launch with this config (timed or not)
    with the dict of the kernel's arguments and the config's values, e.g. to set the
    ``block_shape`` of ``tessera.TensorDescriptor`` arguments; it is not part of the config's
    identity.

    >>> c = Config({"BLOCK_M": 128, "BLOCK_N": 64}, num_warps=8, num_stages=4)
    >>> c.all_kwargs()
    {'BLOCK_M': 128, 'BLOCK_N': 64, 'num_warps': 8, 'num_stages': 4}
    >>> str(c)
    'BLOCK_M: 128, BLOCK_N: 64, num_warps: 8, num_stages: 4'
    """

    def __init__(self, kwargs: Mapping[str, Any], num_warps: int = 4, num_stages: int = 3,
                 pre_hook: Optional[Callable[[Dict[str, Any]], None]] = None) -> None:
        if not isinstance(kwargs, Mapping):
            raise TypeError(f"Config kwargs must be a dict of meta-parameters, got {kwargs!r}")
        reserved = sorted(_LAUNCH_KEYWORDS & set(kwargs))
        if reserved:
            raise ValueError(f"Config kwargs cannot set {reserved}: pass num_warps and num_stages "
                             "as Config arguments")
        if (not isinstance(num_warps, int) or isinstance(num_warps, bool) or num_warps < 1
                or num_warps > 32 or num_warps & (num_warps - 1)):
            raise ValueError(f"Config num_warps must be a power of two from 1 to 32, got "
                             f"{num_warps!r}")
        if not isinstance(num_stages, int) or isinstance(num_stages, bool) or num_stages < 1:
            raise ValueError(f"Config num_stages must be an int >= 1, got {num_stages!r}")
        if pre_hook is not None and not callable(pre_hook):
            raise TypeError(f"Config pre_hook must be callable, got {pre_hook!r}")
        self.kwargs: Dict[str, Any] = dict(kwargs)
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.pre_hook = pre_hook

    def run_pre_hook(self, named: Mapping[str, Any]) -> None:
        """Calls ``pre_hook`` (if any) with the kernel's arguments and this config's values."""
        if self.pre_hook is not None:
            self.pre_hook({**named, **self.all_kwargs()})

    def all_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of a launch with this config."""
        return {**self.kwargs, "num_warps": self.num_warps, "num_stages": self.num_stages}

    def _identity(self) -> Tuple[Any, ...]:
        return tuple(self.all_kwargs().items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __str__(self) -> str:
        return ", ".join(f"{name}: {value}" for name, value in self.all_kwargs().items())

    def __repr__(self) -> str:
        return (f"Config({self.kwargs!r}, num_warps={self.num_warps}, "
                f"num_stages={self.num_stages})")


def _l2_flush_bytes(torch: Any) -> int:
    properties = torch.cuda.get_device_properties(torch.cuda.current_device())
    return max(2 * getattr(properties, "L2_cache_size", 0), 256 << 20)


def do_bench(fn: Callable[[], Any], warmup: float = 25, rep: float = 100) -> float:
    """The median GPU time of ``fn()`` in milliseconds, with CUDA events on the current stream.

    ``fn`` runs once (compiling, loading), then five times for an estimate, then about
    ``warmup`` ms untimed and about ``rep`` ms timed (at most 1000 runs), each timed run after
    the L2 cache was flushed by zeroing a buffer twice its size.

    >>> do_bench(lambda: torch.mm(a, b), rep=50)   # doctest: +SKIP
    0.0213
    """
    import torch

    fn()
    torch.cuda.synchronize()
    flush = torch.empty(_l2_flush_bytes(torch), dtype=torch.int8, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        flush.zero_()
        fn()
    end.record()
    torch.cuda.synchronize()
    estimate = max(start.elapsed_time(end) / 5, 1e-4)
    for _ in range(max(1, int(warmup / estimate))):
        fn()
    repeats = min(_MAX_REPEATS, max(1, int(rep / estimate)))
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for i in range(repeats):
        flush.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


_default_do_bench = do_bench  # Autotuner's parameter of the same name shadows it


def _skip_reason(error: Exception) -> Optional[Tuple[int, str]]:
    """``(log level, reason)`` when ``error`` means that a config cannot run here, else None.

    A config is skipped when it does not compile (front end, compiler, or the driver's JIT
    rejecting its PTX) or exceeds the device's limits (shared memory or registers at load, launch
    out of resources). Anything else (a faulting kernel, a missing GPU, a wrong argument) is not
    the config's fault and propagates.
    """
    message = str(error)
    first_line = (message.strip().splitlines() or [type(error).__name__])[0]
    if isinstance(error, CompilationError):
        return logging.WARNING, f"does not compile: {first_line}"
    if isinstance(error, TesseraError):
        if error.code == INVALID_ARGUMENT or "OUT_OF_RESOURCES" in message:
            return logging.INFO, f"exceeds the device's resources: {first_line}"
        if "cuModuleLoadDataEx" in message:
            return logging.WARNING, f"does not load: {first_line}"
    return None


def _runs_on_host(key: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    """Whether a launch with tuning ``key`` (whose last part is its device) runs on the host."""
    return interpret_mode() or kwargs.get("device") == HOST or str(key[-1]) == HOST


def _device_scope(device: Any) -> Any:
    """Makes ``device`` (a torch CUDA device or an index) current, so that the timing events go
    to the stream the kernel runs on."""
    torch = sys.modules.get("torch")
    if torch is None or device is None or getattr(device, "type", "cuda") != "cuda" or \
            not torch.cuda.is_available():
        return contextlib.nullcontext()
    return torch.cuda.device(device)


class _Progress:
    """The tuning progress line on stderr: rewritten in place on a terminal, otherwise one line
    when tuning starts and one when it ends. Silent with ``TESSERA_QUIET=1``."""

    def __init__(self, name: str, key: Tuple[Any, ...], total: int, stored: int) -> None:
        self.quiet = os.environ.get("TESSERA_QUIET", "") not in ("", "0")
        self.interactive = sys.stderr.isatty()
        self.prefix = f"tessera.autotune: {name} {key}"
        self.total = total
        self.stored = stored
        self.width = 0
        if not self.quiet and not self.interactive:
            self._write(f"{self.prefix}: timing {total} configs"
                        + (f" ({stored} more from the tuning cache)" if stored else "") + "\n")

    def _write(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def update(self, index: int, config: Config) -> None:
        if self.quiet or not self.interactive:
            return
        line = f"{self.prefix}: config {index + 1}/{self.total} ({config})"
        self._write("\r" + line.ljust(self.width))
        self.width = len(line)

    def done(self, best: Config, milliseconds: float, seconds: float, skipped: int) -> None:
        if self.quiet:
            return
        stored = f", {self.stored} from the tuning cache" if self.stored else ""
        line = (f"{self.prefix}: best of {self.total + self.stored - skipped} configs ({skipped} "
                f"skipped{stored}) in {seconds:.1f} s: {best} ({milliseconds:.4f} ms)")
        self._write(("\r" + line.ljust(self.width) if self.interactive else line) + "\n")


class KernelInterface:
    """What ``Autotuner`` and ``Heuristics`` share with ``JITFunction``: ``kernel[grid](...)``
    launches through ``run``; ``fn`` is the kernel they wrap; ``arg_names`` its parameters."""

    fn: Any
    arg_names: List[str]
    __name__: str

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __getitem__(self, grid: Any) -> Callable[..., Any]:
        return functools.partial(self.run, grid=grid)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.__name__} is a tessera kernel: launch it with "
                           f"{self.__name__}[grid](...)")


def _check_names(what: str, names: Iterable[str], arg_names: Sequence[str]) -> List[str]:
    names = list(names)
    unknown = [name for name in names if name not in arg_names]
    if unknown:
        raise ValueError(f"autotune {what} names {unknown}, which are not parameters of the "
                         f"kernel ({list(arg_names)})")
    return names


class Autotuner(KernelInterface):
    """A kernel launched with the fastest of ``configs`` for each key; see the module docstring.

    ``do_bench(kernel_call) -> milliseconds`` times one config (default: ``do_bench`` above with
    ``warmup`` and ``rep``); tests inject their own. After a launch, ``best_config`` is the
    config used; after a tuning, ``configs_timings`` maps each timed config to its time and
    ``bench_time`` is the tuning's duration in seconds. ``cache`` maps keys to chosen configs.
    """

    def __init__(self, fn: Any, arg_names: Sequence[str], configs: Sequence[Config],
                 key: Sequence[str], reset_to_zero: Optional[Sequence[str]] = None,
                 restore_value: Optional[Sequence[str]] = None,
                 prune_configs_by: Optional[Mapping[str, Any]] = None, warmup: float = 25,
                 rep: float = 100,
                 do_bench: Optional[Callable[[Callable[[], Any]], float]] = None,
                 cache_results: bool = True) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.arg_names = list(arg_names)
        configs = list(configs) or [Config({})]
        bad = [c for c in configs if not isinstance(c, Config)]
        if bad:
            raise TypeError(f"autotune configs must be tessera.Config objects, got {bad[0]!r}")
        self.configs: List[Config] = configs
        if isinstance(key, str):
            raise TypeError(f"autotune key must be a list of parameter names, got {key!r}")
        self.keys = _check_names("key", key, self.arg_names)
        self.reset_to_zero = _check_names("reset_to_zero", reset_to_zero or (), self.arg_names)
        self.restore_value = _check_names("restore_value", restore_value or (), self.arg_names)
        prune = dict(prune_configs_by or {})
        unknown = sorted(set(prune) - _PRUNE_FIELDS)
        if unknown:
            raise ValueError(f"prune_configs_by has unknown fields {unknown} (expected "
                             f"{sorted(_PRUNE_FIELDS)})")
        self.perf_model: Optional[Callable[..., float]] = prune.get("perf_model")
        self.top_k: float = prune.get("top_k", 1.0)
        self.early_config_prune: Optional[Callable[..., List[Config]]] = \
            prune.get("early_config_prune")
        if not (isinstance(self.top_k, int) and self.top_k >= 1
                or isinstance(self.top_k, float) and 0 < self.top_k <= 1):
            raise ValueError(f"prune_configs_by top_k must be an int >= 1 or a fraction in "
                             f"(0, 1], got {self.top_k!r}")
        for name, value in (("warmup", warmup), ("rep", rep)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"autotune {name} must be a positive number of ms, got {value!r}")
        self.do_bench = do_bench or functools.partial(_default_do_bench, warmup=warmup, rep=rep)
        self._tuned_names = frozenset(_LAUNCH_KEYWORDS - {"grid"}).union(
            *(c.kwargs for c in configs))
        self._arg_set = frozenset(self.arg_names)
        self.cache: Dict[Tuple[Any, ...], Config] = {}
        self.cache_results = bool(cache_results)
        self._tuning_cache: Optional[TuningCache] = None
        self.best_config: Optional[Config] = None
        self.configs_timings: Dict[Config, float] = {}
        self.bench_time: Optional[float] = None

    # ---- keys and pruning ------------------------------------------------------------------
    def named_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        """The kernel's arguments of a launch by parameter name (launch options left out)."""
        named = dict(zip(self.arg_names, args))
        named.update((k, v) for k, v in kwargs.items() if k in self._arg_set)
        return named

    def tuning_key(self, named: Mapping[str, Any]) -> Tuple[Any, ...]:
        """The values of the ``key`` arguments (those given), then the dtype of every argument
        that has one, then the device of the first of those that has a device."""
        parts: List[Any] = [named[name] for name in self.keys if name in named]
        device = None
        for value in named.values():
            dtype = getattr(value, "dtype", None)
            if dtype is not None:
                parts.append(str(dtype))
                if device is None:
                    device = getattr(value, "device", None)
        parts.append(device)
        return tuple(parts)

    def prune_configs(self, named: Mapping[str, Any], kwargs: Mapping[str, Any]) -> List[Config]:
        """``early_config_prune(configs, named_args, **kwargs)``, then the ``top_k`` configs by
        ``perf_model(**named_args, **kwargs, **config.all_kwargs())``."""
        configs = self.configs
        extra = {k: v for k, v in kwargs.items() if k not in named and k != "grid"}
        if self.early_config_prune is not None:
            configs = list(self.early_config_prune(configs, dict(named), **extra))
            if not configs:
                raise RuntimeError(f"{self.__name__}: early_config_prune returned no config; it "
                                   "must keep at least one")
        if self.perf_model is not None:
            top_k = self.top_k if isinstance(self.top_k, int) else \
                max(1, int(len(configs) * self.top_k))
            if len(configs) > top_k:
                estimates = {c: self.perf_model(**named, **extra, **c.all_kwargs())
                             for c in configs}
                configs = sorted(configs, key=estimates.__getitem__)[:top_k]
        return configs

    # ---- tuning and launching -------------------------------------------------------------
    def _bench(self, args: Sequence[Any], kwargs: Mapping[str, Any], named: Mapping[str, Any],
               config: Config, saved: Mapping[str, Any]) -> float:
        current = {**kwargs, **config.all_kwargs()}

        def kernel_call() -> None:
            self._zero(named)
            config.run_pre_hook(named)
            try:
                self.fn.run(*args, **current)
            finally:
                for name, copy in saved.items():
                    named[name].copy_(copy)

        return self.do_bench(kernel_call)

    def _zero(self, named: Mapping[str, Any]) -> None:
        for name in self.reset_to_zero:
            if named.get(name) is not None:
                named[name].zero_()

    def _open_tuning_cache(self) -> Optional[TuningCache]:
        """The kernel's tuning cache, opened on first use; None when results are not kept."""
        if self.cache_results and self._tuning_cache is None:
            self._tuning_cache = TuningCache(self.fn)
        return self._tuning_cache

    def _stored_results(self, key: Tuple[Any, ...], configs: Sequence[Config]
                        ) -> Dict[Config, TunedResult]:
        cache = self._open_tuning_cache()
        if cache is None:
            return {}
        stored = cache.load(key, configs)
        _counters["tuning_cache_hits"] += len(stored)
        return stored

    def _bundled_choice(self, key: Tuple[Any, ...], configs: Sequence[Config]
                        ) -> Optional[Config]:
        """The config a loaded bundle chose for ``key`` without timing, if it is among
        ``configs``."""
        cache = self._open_tuning_cache()
        chosen = cache.bundled_choice(key, configs) if cache is not None else None
        if chosen is not None:
            _counters["tuning_cache_hits"] += 1
        return chosen

    def _tune(self, key: Tuple[Any, ...], args: Sequence[Any], kwargs: Mapping[str, Any],
              named: Mapping[str, Any], configs: Sequence[Config]) -> Config:
        chosen = self._bundled_choice(key, configs)
        if chosen is not None:
            return chosen
        started = time.perf_counter()
        stored = self._stored_results(key, configs)
        timings = {c: r.milliseconds for c, r in stored.items() if r.milliseconds is not None}
        skipped = {c: r.skipped for c, r in stored.items() if r.skipped is not None}
        to_time = [c for c in configs if c not in stored]
        progress = _Progress(self.__name__, key, len(to_time), len(stored))
        with _device_scope(key[-1]):
            saved = {name: named[name].clone() for name in self.restore_value
                     if named.get(name) is not None}
            for index, config in enumerate(to_time):
                progress.update(index, config)
                _counters["tuning_runs"] += 1
                try:
                    milliseconds = float(self._bench(args, kwargs, named, config, saved))
                except Exception as error:  # only the config's own failures are skipped
                    reason = _skip_reason(error)
                    if reason is None:
                        raise
                    level, skipped[config] = reason
                    logger.log(level, "%s: skipping config (%s) for key %s: it %s",
                               self.__name__, config, key, skipped[config])
                    self._store(key, config, TunedResult(skipped=skipped[config]))
                    continue
                if math.isnan(milliseconds):
                    raise ValueError(f"{self.__name__}: do_bench returned NaN for config "
                                     f"({config})")
                timings[config] = milliseconds
                self._store(key, config, TunedResult(milliseconds=milliseconds))
                logger.debug("%s: %s -> %.4f ms", self.__name__, config, milliseconds)
            self._zero(named)
        if not timings:
            reasons = "\n".join(f"  {c}: {reason}" for c, reason in skipped.items())
            raise RuntimeError(f"{self.__name__}: no config could run for key {key} (every one "
                               f"was skipped):\n{reasons}")
        best = min(timings, key=timings.__getitem__)
        self.configs_timings = timings
        self.bench_time = time.perf_counter() - started
        progress.done(best, timings[best], self.bench_time, len(skipped))
        return best

    def _store(self, key: Tuple[Any, ...], config: Config, result: TunedResult) -> None:
        if self._tuning_cache is not None:
            self._tuning_cache.store(key, config, result)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Launches with the config chosen for this launch's key (tuning first if it is new)."""
        if not self._tuned_names.isdisjoint(kwargs):
            raise ValueError(f"{self.__name__}: conflicting meta-parameters "
                             f"{sorted(self._tuned_names.intersection(kwargs))}: the autotuner's "
                             "configs set them; do not pass them at launch")
        if len(self.configs) == 1:
            config = self.configs[0]
        else:
            named = self.named_arguments(args, kwargs)
            key = self.tuning_key(named)
            config = self.cache.get(key)
            if config is None:
                configs = self.prune_configs(named, kwargs)
                config = configs[0] if len(configs) == 1 or _runs_on_host(key, kwargs) else \
                    self._tune(key, args, kwargs, named, configs)
                self.cache[key] = config
        self.best_config = config
        if config.pre_hook is not None:
            config.run_pre_hook(self.named_arguments(args, kwargs))
        return self.fn.run(*args, **kwargs, **config.all_kwargs())


def autotune(configs: Sequence[Config], key: Sequence[str],
             prune_configs_by: Optional[Mapping[str, Any]] = None,
             reset_to_zero: Optional[Sequence[str]] = None,
             restore_value: Optional[Sequence[str]] = None, warmup: float = 25, rep: float = 100,
             do_bench: Optional[Callable[[Callable[[], Any]], float]] = None,
             cache_results: bool = True) -> Callable[[Any], Autotuner]:
    """Decorator: launch a ``@tessera.jit`` kernel (or a ``@tessera.heuristics`` one) with the
    fastest of ``configs`` for each distinct key.

    >>> @tessera.autotune(configs=[tessera.Config({"BLOCK": 128}, num_warps=4),
    ...                            tessera.Config({"BLOCK": 1024}, num_warps=8)],
    ...                   key=["n"])
    ... @tessera.jit
    ... def kernel(X, n, BLOCK: tl.constexpr):
    ...     ...

    - ``key``: parameter names whose values select a tuned config (plus the dtypes of tensor
      arguments and their device);
    - ``prune_configs_by``: ``{"early_config_prune": f(configs, named_args, **kwargs) -> configs,
      "perf_model": f(**named_args, **kwargs, **config.all_kwargs()) -> estimated time,
      "top_k": int, or a fraction of the configs}``;
    - ``reset_to_zero`` / ``restore_value``: parameters zeroed before / restored after each timed
      run (tensors with ``zero_``, ``clone`` and ``copy_``);
    - ``warmup`` / ``rep``: milliseconds of untimed and timed runs per config;
    - ``do_bench``: replaces the timing: ``do_bench(kernel_call) -> milliseconds``;
    - ``cache_results``: keep each config's result on disk (``tessera.runtime.tuning_cache``),
      so that later processes time only the configs they have no result for.
    """
    def decorator(fn: Any) -> Autotuner:
        return Autotuner(fn, fn.arg_names, configs, key, reset_to_zero, restore_value,
                         prune_configs_by, warmup, rep, do_bench, cache_results)
    return decorator


class Heuristics(KernelInterface):
    """A kernel whose meta-parameters ``values`` are computed at each launch: each function
    receives the launch's arguments (and the values computed before it) by name."""

    def __init__(self, fn: Any, arg_names: Sequence[str],
                 values: Mapping[str, Callable[[Dict[str, Any]], Any]]) -> None:
        bad = [name for name, f in values.items() if not callable(f)]
        if bad:
            raise TypeError(f"heuristics values must be functions of the arguments; {bad} are not")
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.arg_names = list(arg_names)
        self.values = dict(values)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        named = dict(zip(self.arg_names, args))
        named.update(kwargs)
        for name, heuristic in self.values.items():
            kwargs[name] = named[name] = heuristic(named)
        return self.fn.run(*args, **kwargs)


def heuristics(values: Mapping[str, Callable[[Dict[str, Any]], Any]]
               ) -> Callable[[Any], Heuristics]:
    """Decorator: compute meta-parameters from the launch's arguments.

    >>> @tessera.heuristics({"BLOCK": lambda args: tessera.next_power_of_2(args["n"])})
    ... @tessera.jit
    ... def kernel(X, n, BLOCK: tl.constexpr):
    ...     ...
    """
    def decorator(fn: Any) -> Heuristics:
        return Heuristics(fn, fn.arg_names, values)
    return decorator
