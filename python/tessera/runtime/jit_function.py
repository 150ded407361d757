"""``@tessera.jit``: kernels launched as ``kernel[grid](*args, **meta)``, as in Triton.

    @tessera.jit
    def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
        ...

    grid = lambda meta: (tessera.cdiv(n, meta["BLOCK"]),)
    add_kernel[grid](x, y, z, n, BLOCK=1024, num_warps=4)

Each launch computes a specialisation key (argument dtypes, constexpr values, integers
equal to 1, integers and pointers divisible by 16, num_warps, num_stages, device). The
first launch with a key checks the launch options and constexprs, generates tile IR and loads
the kernel through the runtime; later launches find it in a dict and only pack arguments.
Grids beyond CUDA's limits (or, on the host, of more than ``host.MAX_HOST_PROGRAMS``
programs) are refused before anything runs.

Two launchers share that work. ``tessera._C.Launcher`` (python/src/fast_launch.cpp) launches
in one C++ call for the common arguments (torch tensors, DeviceBuffers, ints, floats, bools,
None); anything else goes to the Python launcher generated here, which is the reference: both
compute the same keys and load missing ones with ``JITFunction._load``.
"""
from __future__ import annotations

import collections.abc
import functools
import operator
import sys
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from .. import _C
from .._C import Launcher, configure_fast_launch
from ..compiler.aot import CompiledKernel, compile_tile_ir
from ..compiler.function import KernelFunction
from ..compiler.specialization import ArgSpec, generate_tile_ir
from ..errors import CompilationError
from ..language.core import constexpr
from ..language.tensor_descriptor import parse_runtime_type
from . import host
from .arguments import (FAST_PATH_KINDS, HANDLERS, KEY_PARTS, classify, handler_for,
                        is_memory, plan_kind, torch_argument, torch_signatures)
from .host import HOST, HostLoadedKernel, interpret_mode, to_host
from .tensor_descriptor import TensorDescriptor

__all__ = ["JITFunction", "LoadedKernel", "jit"]

Grid = Union[Sequence[int], Callable[[Dict[str, Any]], Sequence[int]]]

_CONSTEXPR, _SPECIALIZED, _NOT_SPECIALIZED = 0, 1, 2  # how each parameter enters the key
_NUM_WARPS = (1, 2, 4, 8, 16, 32)
CUDA_MAX_GRID = (2 ** 31 - 1, 65535, 65535)  # gridDim.x, y, z on every CUDA architecture


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


# The Python launcher; its own names start with _t_ so that they never shadow a parameter.
_LAUNCHER = """\
def {name}({parameters}*, grid, num_warps=4, num_stages=3{device_keyword}):
    if (_t_interpret or {device} is not None) and {device} is not _t_on_host:
        return _t_host_launch(grid, num_warps, num_stages, {device}, {{{meta}}})
    _t_device = None
    _t_device_handler = None
{classify}    if _t_device is None:
        _t_device = 0
    _t_key = ({key}num_warps, num_stages, _t_device)
    try:
        _t_kernel = _t_cache_get(_t_key)
    except TypeError:  # an unhashable constexpr or option, which _t_load reports
        _t_kernel = None
    if _t_kernel is None:
        _t_kernel = _t_load(_t_key)
    if callable(grid):
        grid = grid({{{meta}"num_warps": num_warps, "num_stages": num_stages}})
    _t_x, _t_y, _t_z = _t_grid_dims(grid, _t_device == _t_host)
    if _t_x and _t_y and _t_z:
        _t_stream = (_t_torch_stream(_t_device) if _t_device_handler is _t_torch_handler
                     and _t_device != _t_host else 0)
        _t_kernel.launch(_t_x, _t_y, _t_z, _t_stream, ({values}))
    return _t_kernel
"""
_CLASSIFY = """\
    try:
        _t_handler = _t_handlers_get(type({p})) or _t_handler_for(type({p}))
        _t_key_{p}, _t_value_{p}, _t_device_{p} = _t_handler({p}, {specialize})
    except (TypeError, ValueError) as _t_error:
        raise _t_argument_error({kernel!r}, {p!r}, _t_error) from None
    if _t_device_{p} is not None:
        if _t_device is None:
            _t_device, _t_device_handler = _t_device_{p}, _t_handler
        elif _t_device_{p} != _t_device:
            _t_mixed_devices({kernel!r}, {p!r}, _t_device_{p}, _t_device)
"""
_UNWRAP = """\
    if type({p}) is _t_constexpr:
        {p} = {p}.value
"""
_RESERVED = {"grid", "num_warps", "num_stages"}
_ON_HOST = object()  # the launcher's device when _host_launch has moved the arguments to the host
_MAX_BOUND_GRIDS = 64  # tuple grids whose launchers a kernel keeps


def _defaults(function: "JITFunction") -> Dict[str, Any]:
    return {name: p.default for name, p in function.signature.parameters.items()
            if p.default is not p.empty}


def _make_launcher(function: "JITFunction", modes: Sequence[int]) -> Callable[..., LoadedKernel]:
    """Generates the Python launch function of a kernel: its parameters (with their defaults)
    plus ``grid``, ``num_warps``, ``num_stages`` and ``device`` (``"cpu"`` to run on the host;
    absent when a parameter has that name); one classification per argument, unrolled.

    Generated code lets Python bind the arguments and report binding errors as for any
    function; it launches what ``tessera._C.Launcher`` leaves to it.
    """
    names = function.arg_names
    reserved = [n for n in names if n in _RESERVED or n.startswith("_t_")]
    if reserved:
        raise TypeError(f"kernel parameters cannot be named {reserved} (grid, num_warps, "
                        "num_stages and names starting with _t_ are reserved)")
    defaults = _defaults(function)
    classify = []
    for name, mode in zip(names, modes):
        if mode == _CONSTEXPR:
            classify.append(_UNWRAP.format(p=name))
        else:
            classify.append(_CLASSIFY.format(p=name, specialize=mode == _SPECIALIZED,
                                             kernel=function.__name__))
    runtime = [name for name, mode in zip(names, modes) if mode != _CONSTEXPR]
    source = _LAUNCHER.format(
        name=function.__name__,
        parameters="".join(f"{n}=_t_defaults[{n!r}], " if n in defaults else f"{n}, "
                           for n in names),
        classify="".join(classify),
        key="".join(f"{n}, " if mode == _CONSTEXPR else f"_t_key_{n}, "
                    for n, mode in zip(names, modes)),
        meta="".join(f"{n!r}: {n}, " for n in names),
        # device="cpu" runs on the host, unless the kernel has a parameter named device.
        device_keyword="" if "device" in names else ", device=None",
        device="None" if "device" in names else "device",
        values="".join(f"_t_value_{n}, " for n in runtime))
    namespace: Dict[str, Any] = {
        "_t_defaults": defaults, "_t_constexpr": constexpr, "_t_handlers_get": HANDLERS.get,
        "_t_handler_for": handler_for, "_t_torch_handler": torch_argument,
        "_t_torch_stream": _torch_stream, "_t_cache_get": function.cache.get,
        "_t_load": function._load, "_t_grid_dims": _grid_dims,
        "_t_interpret": interpret_mode(), "_t_on_host": _ON_HOST, "_t_host": HOST,
        "_t_host_launch": function._host_launch, "_t_mixed_devices": _mixed_devices,
        "_t_argument_error": _argument_error,
    }
    exec(compile(source, f"<tessera launcher of {function.__name__}>", "exec"), namespace)
    return namespace[function.__name__]


class JITFunction(KernelFunction):
    """A kernel: launch with ``kernel[grid](*args, num_warps=4, num_stages=3, **constexprs)``.

    Calls from other kernels are inlined. ``grid`` is a tuple of 1 to 3 ints or a callable
    taking the dict of bound arguments (plus num_warps, num_stages) and returning one.
    ``cache`` maps specialisation keys to loaded kernels. ``run(*args, grid=..., **kwargs)``
    launches as ``kernel[grid](*args, **kwargs)`` does.
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
        self.cache: Dict[tuple, LoadedKernel] = {}
        self._python_launcher = _make_launcher(self, self._modes)
        self.run: Callable[..., LoadedKernel] = Launcher(
            tuple(self.arg_names), tuple(self._modes), _defaults(self), self.cache, self._load,
            self._python_launcher)
        if interpret_mode():  # every launch goes to the Python launcher, which runs on the host
            self.run = _PythonRun(self._python_launcher)
        self._bound: Dict[tuple, Tuple[tuple, Callable[..., LoadedKernel]]] = {}

    def __getitem__(self, grid: Grid) -> Callable[..., LoadedKernel]:
        # kernel[grid] runs at every launch: the launchers of tuple grids of ints are kept, and
        # returned for the very tuple they were made for (a constant of the calling code). An
        # equal tuple gets a launcher of its own, which checks its sizes: one of other numbers
        # ((2.0,) == (2,)) must be refused at its launch, and binding costs no more than
        # checking its types here.
        if type(grid) is not tuple:
            return self.run.bind(grid)
        try:
            kept, launcher = self._bound[grid]
        except KeyError:
            launcher = self.run.bind(grid)
            if len(self._bound) < _MAX_BOUND_GRIDS and all(type(size) is int for size in grid):
                self._bound[grid] = grid, launcher
            return launcher
        except TypeError:  # an unhashable grid entry: the launch reports it
            return self.run.bind(grid)
        return launcher if kept is grid else self.run.bind(grid)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.__name__} is a @tessera.jit kernel: launch it with "
                           f"{self.__name__}[grid](...), or call it from another kernel")

    def argument_key(self, named: Mapping[str, Any]) -> List[Any]:
        """The argument part of the specialisation key that a launch with the arguments
        ``named`` (by parameter name, constexprs unwrapped) computes, as the launchers do;
        ``tessera.ops.aot`` plans launches with it."""
        parts: List[Any] = []
        for name, mode in zip(self.arg_names, self._modes):
            value = named[name]
            if mode == _CONSTEXPR:
                parts.append(value)
            elif isinstance(value, TensorDescriptor):  # its key, without encoding a tensor map
                parts.append(value.key())
            else:
                parts.append(classify(value, mode == _SPECIALIZED)[0])
        return parts

    def specialization(self, key: Sequence[Any]) -> List[ArgSpec]:
        """The ``ArgSpec`` of each parameter for a launch's specialisation key."""
        specs = []
        for part, mode in zip(key, self._modes):
            if mode == _CONSTEXPR:
                specs.append(ArgSpec(value=part))
            elif part[0] == "c":
                specs.append(ArgSpec(value=part[1]))
            else:
                specs.append(ArgSpec(dtype=parse_runtime_type(part[0]),
                                     divisible_by_16=part[1]))
        return specs

    def _host_launch(self, grid: Grid, num_warps: int, num_stages: int, device: Any,
                     args: Dict[str, Any]) -> Any:
        """A launch on the host CPU: with ``device="cpu"``, or any launch in interpret mode.
        CUDA tensors among ``args`` are copied to the host for the launch and back after it."""
        if device not in (None, HOST):
            raise ValueError(f"{self.__name__}: device must be 'cpu' (or left out), got "
                             f"{device!r}")
        host_args, copies = to_host(args)
        kernel = self._python_launcher(**host_args, grid=grid, num_warps=num_warps,
                                       num_stages=num_stages, device=_ON_HOST)
        for copy in copies:
            copy.write_back()
        return kernel

    def _load(self, key: Tuple[Any, ...]) -> Union[LoadedKernel, HostLoadedKernel]:
        """Generates, compiles and loads the specialisation ``key`` (argument keys, num_warps,
        num_stages, device)."""
        *arguments, num_warps, num_stages, device = key
        self._check_launch(arguments, num_warps, num_stages)
        num_warps, num_stages = int(num_warps), int(num_stages)
        tile_ir = generate_tile_ir(self, self.specialization(arguments))
        plan = "".join("x" if part[0] == "c" else plan_kind(part[0], part[1])
                       for part, mode in zip(arguments, self._modes) if mode != _CONSTEXPR)
        kernel: Union[LoadedKernel, HostLoadedKernel]
        if device == HOST:
            runtime_names = [name for name, mode in zip(self.arg_names, self._modes)
                             if mode != _CONSTEXPR]
            kernel = HostLoadedKernel(self.__name__, tile_ir, num_warps, num_stages, plan,
                                      runtime_names)
        else:
            kernel = LoadedKernel(self.__name__, tile_ir, device_target(device), num_warps,
                                  num_stages, device, plan)
        canonical = tuple(part if mode == _CONSTEXPR else KEY_PARTS.setdefault(part, part)
                          for part, mode in zip(arguments, self._modes))
        self.cache[canonical + (num_warps, num_stages, device)] = kernel
        return kernel

    def _check_launch(self, arguments: Sequence[Any], num_warps: Any, num_stages: Any) -> None:
        """Refuses the launch options and constexprs of a new specialisation that no kernel can
        have. Options are judged by value, as cache lookups compare them (4.0 finds the kernel
        of 4 warps), so that a launch is refused or not whatever the cache holds."""
        if num_warps not in _NUM_WARPS:
            raise ValueError(f"{self.__name__}: num_warps must be a power of two from 1 to 32, "
                             f"got {num_warps!r}")
        try:
            whole = int(num_stages) == num_stages
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not (whole and 1 <= num_stages < 2 ** 31):
            raise ValueError(f"{self.__name__}: num_stages must be an int from 1 to 2**31 - 1, "
                             f"got {num_stages!r}")
        for name, mode, value in zip(self.arg_names, self._modes, arguments):
            if mode != _CONSTEXPR:
                continue
            try:
                hash(value)
            except TypeError:
                raise TypeError(f"{self.__name__}: constexpr {name!r} must be hashable (an int, "
                                "float, bool, str, None, dtype or a tuple of them), got "
                                f"{type(value).__name__}") from None
            if is_memory(value):
                raise TypeError(f"{self.__name__}: constexpr {name!r} must be a compile-time "
                                f"value, got a {type(value).__name__}: tensors and arrays go to "
                                "parameters not annotated tl.constexpr")


class _PythonRun:
    """``JITFunction.run`` when every launch must take the Python launcher (interpret mode)."""

    def __init__(self, launcher: Callable[..., Any]) -> None:
        self._launcher = launcher

    def __call__(self, *args: Any, grid: Grid, **kwargs: Any) -> Any:
        return self._launcher(*args, grid=grid, **kwargs)

    def bind(self, grid: Grid) -> Callable[..., Any]:
        return functools.partial(self._launcher, grid=grid)


def _argument_error(kernel: str, name: str, error: Exception) -> Exception:
    """A handler's TypeError or ValueError with the kernel and the argument named."""
    if type(error) not in (TypeError, ValueError):  # a subclass may not take a message alone
        return error
    return type(error)(f"{kernel}: argument {name!r}: {error}")


def _mixed_devices(kernel: str, name: str, device: Any, other: Any) -> None:
    where = {HOST: "the host (CPU)"}
    if HOST in (device, other):
        hint = ("a launch takes host arrays or CUDA memory, not both (device='cpu' copies CUDA "
                "tensors to the host)")
    else:
        hint = "a launch runs on one GPU and takes memory of that GPU alone"
    raise ValueError(f"{kernel}: argument {name!r} is on "
                     f"{where.get(device, f'CUDA device {device}')} but earlier arguments are on "
                     f"{where.get(other, f'CUDA device {other}')}; {hint}")


def _grid_dims(grid: Any, on_host: bool = False) -> Tuple[int, int, int]:
    """The (x, y, z) sizes of a grid: a tuple or list of 1 to 3 ints from 0 to 2**32 - 1,
    within CUDA's limits (``CUDA_MAX_GRID``) or, ``on_host``, of at most
    ``host.MAX_HOST_PROGRAMS`` programs. A grid with a 0 launches nothing, so its other sizes
    are not checked (as tessera._C.Launcher does). tessera._C.Launcher calls this for grids other
    than tuples and lists of ints."""
    dims = grid if isinstance(grid, (tuple, list)) else _grid_sequence(grid)
    size = len(dims)
    if size == 1:
        x, y, z = dims[0], 1, 1
    elif size == 2:
        (x, y), z = dims, 1
    elif size == 3:
        x, y, z = dims
    else:
        raise ValueError(f"a grid has 1 to 3 dimensions, got {grid!r}")
    if type(x) is not int or type(y) is not int or type(z) is not int:
        x, y, z = (_grid_int(grid, axis, value) for axis, value in enumerate((x, y, z)))
    if not (x and y and z):
        return x, y, z
    if not (0 < x < 2 ** 32 and 0 < y < 2 ** 32 and 0 < z < 2 ** 32):  # as tessera._C.Launcher
        raise TypeError(f"grid dimensions must be ints from 0 to 2**32 - 1, got {grid!r}")
    if on_host:
        if x * y * z > host.MAX_HOST_PROGRAMS:
            raise ValueError(f"grid {grid!r} has {x * y * z} programs, more than the "
                             f"{host.MAX_HOST_PROGRAMS} a host launch runs (they run one after "
                             "another; tessera.runtime.host.MAX_HOST_PROGRAMS sets the limit)")
    elif x > CUDA_MAX_GRID[0] or y > CUDA_MAX_GRID[1] or z > CUDA_MAX_GRID[2]:
        raise ValueError(f"grid {grid!r} is beyond CUDA's limits: x up to 2**31 - 1, y and z up "
                         "to 65535")
    return x, y, z


def _grid_sequence(grid: Any) -> Sequence[Any]:
    if isinstance(grid, collections.abc.Sequence) and not isinstance(grid, (str, bytes)):
        return grid
    raise TypeError(f"a grid must be a tuple of 1 to 3 ints, or a callable returning one, got "
                    f"{grid!r} ({type(grid).__name__})")


def _grid_int(grid: Any, axis: int, value: Any) -> int:
    """A grid size as an int: anything with __index__ but a bool."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    hint = ("; tessera.cdiv(n, BLOCK) counts programs in ints" if isinstance(value, float)
            else "")
    raise TypeError(f"grid dimension {axis} must be an int, got {value!r} "
                    f"({type(value).__name__}) in grid {grid!r}{hint}")


configure_fast_launch(handler_for, FAST_PATH_KINDS, torch_signatures, KEY_PARTS, constexpr,
                      _grid_dims)


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
