"""``@tessera.jit``: kernels launched as ``kernel[grid](*args, **meta)``, as in Triton.

    @tessera.jit
    def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
        ...

    grid = lambda meta: (tessera.cdiv(n, meta["BLOCK"]),)
    add_kernel[grid](x, y, z, n, BLOCK=1024, num_warps=4)

Each launch computes a specialisation key (argument dtypes, constexpr values, integers
equal to 1, integers and pointers divisible by 16, num_warps, num_stages, device). The
first launch with a key generates tile IR and loads the kernel through the runtime; later
launches find it in a dict and only pack arguments.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .. import _C
from ..compiler.aot import CompiledKernel, compile_tile_ir
from ..compiler.function import KernelFunction
from ..compiler.specialization import ArgSpec, generate_tile_ir
from ..errors import CompilationError
from ..language.core import unwrap
from ..language.dtypes import str_to_ty
from .arguments import handler_for, is_torch_handler, plan_kind

__all__ = ["JITFunction", "LoadedKernel", "jit"]

Grid = Union[Sequence[int], Callable[[Dict[str, Any]], Sequence[int]]]

_CONSTEXPR, _SPECIALIZED, _NOT_SPECIALIZED = 0, 1, 2
_LAUNCH_OPTIONS = ("num_warps", "num_stages")


@functools.lru_cache(maxsize=None)
def device_target(device: int) -> str:
    """The compile target of a device ("sm_90a"...), asked of the runtime once."""
    return _C.device_target(device)


def _torch_stream(device: int) -> int:
    torch = sys.modules["torch"]
    return torch._C._cuda_getCurrentRawStream(device)


class LoadedKernel:
    """One specialisation of a kernel, loaded on a device; returned by each launch."""

    def __init__(self, name: str, tile_ir: str, target: str, num_warps: int, num_stages: int,
                 device: int, plan: str) -> None:
        self.name = name
        self.tile_ir = tile_ir
        self.target = target
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.device = device
        self.plan = plan
        try:
            self.handle = _C.get_kernel(tile_ir, target, num_warps, num_stages, device, plan)
        except CompilationError as error:
            raise CompilationError.from_compiler(error.error_message) from None
        self.launch = self.handle.launch
        self._compiled: Optional[CompiledKernel] = None

    @property
    def asm(self) -> Dict[str, Union[str, bytes]]:
        """The compiler's stages for this specialisation (compiled again on first access)."""
        if self._compiled is None:
            self._compiled = compile_tile_ir(self.tile_ir, self.target, self.num_warps,
                                             self.num_stages)
        return self._compiled.asm

    def __repr__(self) -> str:
        return (f"LoadedKernel({self.name!r}, device={self.device}, target={self.target!r}, "
                f"num_warps={self.num_warps}, num_stages={self.num_stages})")


def _make_binder(name: str, parameters: Iterable[str],
                 defaults: Dict[str, Any]) -> Callable[..., Tuple[tuple, int, int]]:
    """A function with the kernel's parameters (and defaults) plus the launch options,
    returning ``(arguments, num_warps, num_stages)``: Python does the argument binding."""
    names = list(parameters)
    clash = set(names) & set(_LAUNCH_OPTIONS)
    if clash:
        raise TypeError(f"kernel parameters cannot be named {sorted(clash)}")
    signature = ", ".join(f"{n}=__defaults['{n}']" if n in defaults else n for n in names)
    source = (f"def {name}({signature}{', ' if names else ''}*, num_warps=4, num_stages=3):\n"
              f"    return ({''.join(n + ', ' for n in names)}), num_warps, num_stages\n")
    namespace: Dict[str, Any] = {"__defaults": defaults}
    exec(source, namespace)
    return namespace[name]


class JITFunction(KernelFunction):
    """A kernel: launch with ``kernel[grid](*args, num_warps=4, num_stages=3, **constexprs)``.

    Calls from other kernels are inlined. ``grid`` is a tuple of 1 to 3 ints or a callable
    taking the dict of bound arguments (plus num_warps, num_stages) and returning one.
    """

    def __init__(self, fn: Callable[..., Any],
                 do_not_specialize: Iterable[Union[int, str]] = ()) -> None:
        super().__init__(fn)
        excluded = {self.arg_names[p] if isinstance(p, int) else p for p in do_not_specialize}
        self._modes = [
            _CONSTEXPR if name in self.constexpr_names
            else _NOT_SPECIALIZED if name in excluded else _SPECIALIZED
            for name in self.arg_names
        ]
        defaults = {name: p.default for name, p in self.signature.parameters.items()
                    if p.default is not p.empty}
        self._binder = _make_binder(fn.__name__, self.arg_names, defaults)
        self._kernels: Dict[tuple, LoadedKernel] = {}

    def __getitem__(self, grid: Grid) -> Callable[..., LoadedKernel]:
        return functools.partial(self.run, grid=grid)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.__name__} is a @tessera.jit kernel: launch it with "
                           f"{self.__name__}[grid](...), or call it from another kernel")

    def run(self, *args: Any, grid: Grid, **kwargs: Any) -> LoadedKernel:
        """Binds arguments, finds or builds the specialisation and launches it."""
        bound, num_warps, num_stages = self._binder(*args, **kwargs)
        keys: List[Any] = []
        values: List[Any] = []
        device: Optional[int] = None
        torch_stream = False
        for arg, mode in zip(bound, self._modes):
            if mode == _CONSTEXPR:
                keys.append(unwrap(arg))
                continue
            handler = handler_for(type(arg))
            key, value, arg_device = handler(arg, mode == _SPECIALIZED)
            keys.append(key)
            if value is not None:
                values.append(value)
            if device is None and arg_device is not None:
                device = arg_device
                torch_stream = is_torch_handler(handler)
        if device is None:
            device = 0
        cache_key = (tuple(keys), num_warps, num_stages, device)
        kernel = self._kernels.get(cache_key)
        if kernel is None:
            kernel = self._load(keys, num_warps, num_stages, device)
            self._kernels[cache_key] = kernel
        if callable(grid):
            meta = dict(zip(self.arg_names, bound))
            meta.update(num_warps=num_warps, num_stages=num_stages)
            grid = grid(meta)
        grid_x, grid_y, grid_z = _grid_dims(grid)
        if grid_x and grid_y and grid_z:
            stream = _torch_stream(device) if torch_stream else 0
            kernel.launch(grid_x, grid_y, grid_z, stream, values)
        return kernel

    def specialization(self, keys: Sequence[Any]) -> List[ArgSpec]:
        """The ``ArgSpec`` of each parameter for the per-argument keys of a launch."""
        specs = []
        for key, mode in zip(keys, self._modes):
            if mode == _CONSTEXPR:
                specs.append(ArgSpec(value=key))
            elif key[0] == "c":
                specs.append(ArgSpec(value=key[1]))
            else:
                specs.append(ArgSpec(dtype=str_to_ty(key[0]), divisible_by_16=key[1]))
        return specs

    def _load(self, keys: Sequence[Any], num_warps: int, num_stages: int,
              device: int) -> LoadedKernel:
        tile_ir = generate_tile_ir(self, self.specialization(keys))
        plan = "".join(plan_kind(key[0]) for key, mode in zip(keys, self._modes)
                       if mode != _CONSTEXPR and key[0] != "c")
        return LoadedKernel(self.__name__, tile_ir, device_target(device), num_warps,
                            num_stages, device, plan)


def _grid_dims(grid: Sequence[int]) -> Tuple[int, int, int]:
    dims = tuple(int(d) for d in grid)
    if not 1 <= len(dims) <= 3:
        raise ValueError(f"a grid has 1 to 3 dimensions, got {grid!r}")
    return dims + (1,) * (3 - len(dims))  # type: ignore[return-value]


def jit(fn: Optional[Callable[..., Any]] = None, *,
        do_not_specialize: Iterable[Union[int, str]] = ()) -> Any:
    """Makes a Python function a Tessera kernel (``@tessera.jit`` or
    ``@tessera.jit(do_not_specialize=["n"])``).

    >>> @tessera.jit
    ... def scale(X, n, factor, BLOCK: tl.constexpr):
    ...     offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ...     tl.store(X + offs, tl.load(X + offs, mask=offs < n) * factor, mask=offs < n)
    >>> scale[(tessera.cdiv(n, 256),)](x, n, 2.0, BLOCK=256)   # doctest: +SKIP

    Parameters named in ``do_not_specialize`` are never folded when equal to 1 nor marked
    divisible by 16.
    """
    if fn is None:
        return lambda f: JITFunction(f, do_not_specialize)
    return JITFunction(fn, do_not_specialize)
