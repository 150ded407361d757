"""tessera._C.Launcher, the C++ launch path of @tessera.jit kernels (python/src/fast_launch.cpp),
without a GPU.

In this process, Launcher.classify shows what a launch computes before its cache lookup: its
specialisation key, plan and packed values must equal the Python launcher's (loading through a
recording runtime here) over many argument combinations, and the arguments it leaves to the Python
launcher must be those it does not replicate, with the Python launcher's errors.

In subprocesses whose libtessera has kernel loading and launching replaced by a recorder (a small
library put in front of it with LD_PRELOAD), launches through real _C.Kernel objects must pack the
same parameters, with the same grid and stream, as the Python launcher's, take the Python launcher
only where they should, and follow changes of the kernel cache.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from test_frontend_support import REPO, tessera

import tessera.language as tl
from tessera.runtime import arguments
from tessera.runtime import jit_function as jit_module
from tessera.runtime.buffer import DeviceBuffer


# ---- stand-ins for torch, device buffers and CUDA arrays -------------------------------------

class FakeDtype:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


DTYPES = {name: FakeDtype(name) for name in ("float32", "float16", "int32", "complex64")}


class Tensor:
    """Just enough of a torch tensor; arguments.handler_for recognises it by module and name."""

    def __init__(self, pointer: int, dtype: str = "float32", index: int = 0,
                 is_cuda: bool = True, where: str = "cpu") -> None:
        self.pointer, self.dtype, self.index, self.is_cuda = pointer, DTYPES[dtype], index, is_cuda
        self.where = where  # the device when not on CUDA

    def data_ptr(self) -> int:
        return self.pointer

    def get_device(self) -> int:
        return self.index if self.is_cuda else -1

    @property
    def device(self) -> str:
        return f"cuda:{self.index}" if self.is_cuda else self.where


Tensor.__module__ = "torch"


class Parameter(Tensor):
    """A tensor subclass, as torch.nn.Parameter."""


def stream_of(device: int) -> int:
    """The fake torch's current raw stream on a device (changed through CURRENT_STREAMS)."""
    return CURRENT_STREAMS.get(device, 0x5000 + device)


CURRENT_STREAMS: Dict[int, int] = {}


def fake_torch_module() -> types.ModuleType:
    """A module to install as sys.modules["torch"]: the dtypes arguments.py maps (complex64 it
    does not) and torch._C._cuda_getCurrentRawStream."""
    module = types.ModuleType("torch")
    for name, dtype in DTYPES.items():
        setattr(module, name, dtype)
    module.Tensor = Tensor
    module._C = types.SimpleNamespace(_cuda_getCurrentRawStream=stream_of)
    return module


class Buffer(DeviceBuffer):
    """A tessera.DeviceBuffer that owns no memory."""

    def __init__(self, pointer: int, signature: str = "fp32", device: Any = 0) -> None:
        self.ptr, self.signature, self.device = pointer, signature, device

    def __del__(self) -> None:
        pass


class CudaArray:
    """A minimal __cuda_array_interface__ producer (left to the Python launcher)."""

    def __init__(self, pointer: int, typestr: str = "<f4") -> None:
        self.pointer, self.typestr = pointer, typestr

    @property
    def __cuda_array_interface__(self) -> Dict[str, Any]:
        return {"shape": (1024,), "typestr": self.typestr, "data": (self.pointer, False),
                "version": 3}


def mixed_body(X, Y, n, m, flag, scale, maybe, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(X + offs, tl.load(X + offs))
    tl.store(Y + offs, tl.load(Y + offs))


mixed = tessera.jit(mixed_body)
unspecialised = tessera.jit(do_not_specialize=["X", "n"])(mixed_body)


@tessera.jit
def defaults(X, n, scale=1.5, BLOCK: tl.constexpr = 64):
    offs = tl.arange(0, BLOCK)
    tl.store(X + offs, tl.load(X + offs, mask=offs < n) * scale, mask=offs < n)


KERNELS = (mixed, unspecialised, defaults)


# ---- in this process: Launcher.classify against the Python launcher ---------------------------

class RecordedKernel:
    def __init__(self, tile_ir: str, target: str, num_warps: int, num_stages: int, device: int,
                 plan: str) -> None:
        self.plan, self.device = plan, device
        self.launches: List[Tuple[Tuple[int, int, int], int, list]] = []

    def launch(self, grid_x, grid_y, grid_z, stream, values) -> None:
        self.launches.append(((grid_x, grid_y, grid_z), stream, list(values)))


class RecordingRuntime:
    """Stands in for tessera._C in jit_function: loads record their plan, launches their values."""

    def device_target(self, device: int) -> str:
        return "sm_90a"

    def get_kernel(self, *args: Any) -> RecordedKernel:
        return RecordedKernel(*args)


@pytest.fixture
def python_launches(monkeypatch):
    """Installs the fake torch and the recording runtime; clears the kernels' caches after."""
    monkeypatch.setitem(sys.modules, "torch", fake_torch_module())
    monkeypatch.setattr(jit_module, "_C", RecordingRuntime())
    jit_module.device_target.cache_clear()
    # arguments.torch_signatures() may hold the real torch's dtypes (an earlier test's launches).
    arguments.torch_signatures().clear()
    yield
    jit_module.device_target.cache_clear()
    for kernel in KERNELS:
        kernel.cache.clear()
    # arguments.torch_signatures() read the fake torch module: forget it.
    arguments.torch_signatures().clear()


def as_packed(kind: str, value: Any) -> Any:
    """A launch value as Launcher.classify reports it: the slot's integer bits, or the float."""
    if kind == "x":
        return None
    if kind == "f":
        return float(value)
    if kind == "b":
        return int(bool(value))
    return value & (0xFFFFFFFF if kind == "i" else 0xFFFFFFFFFFFFFFFF)


def python_launch(kernel, args: tuple, kwargs: dict) -> Tuple[tuple, str, list, int]:
    """(key, plan, packed values, stream) of one launch through the Python launcher."""
    kernel.cache.clear()
    loaded = kernel._python_launcher(*args, grid=(1,), **kwargs)
    (key,) = kernel.cache
    ((_, stream, values),) = loaded.handle.launches
    return key, loaded.plan, [as_packed(k, v) for k, v in zip(loaded.plan, values)], stream


def assert_same_classification(kernel, *args: Any, **kwargs: Any) -> None:
    key, plan, values, stream = python_launch(kernel, args, kwargs)
    classified = kernel.run.classify(*args, **kwargs)
    assert classified is not None, f"left to the Python launcher: {args} {kwargs}"
    fast_key, fast_plan, fast_values, torch_stream = classified
    # repr tells True from 1 and 1 from 1.0, which == does not.
    assert repr(fast_key) == repr(key) and fast_key == key
    assert (fast_plan, fast_values, torch_stream) == (plan, values, stream != 0)
    for part, mode in zip(fast_key, kernel._modes):
        if mode != jit_module._CONSTEXPR:
            assert part is arguments.KEY_PARTS[part], "a key part is not the canonical one"


ALIGNED, MISALIGNED = 0x7F0000001000, 0x7F0000001004
INTS = [0, 1, 2, 16, 17, -1, -16, -17, 2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1, 2 ** 32,
        2 ** 40 + 16, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 16, 2 ** 64 - 1, -2 ** 63]
# One launch's memory is on one device; test_defaults_and_devices_match_the_python_launcher
# varies it.
POINTERS = [Tensor(ALIGNED), Tensor(MISALIGNED), Tensor(ALIGNED, "float16"),
            Tensor(ALIGNED, "int32"), Parameter(MISALIGNED), Buffer(ALIGNED),
            Buffer(MISALIGNED, "fp16"), Buffer(ALIGNED, "i32", device=None)]
SCALARS = [1, 7, 32, 2.5, 0.0, True, False, None, -2 ** 40]


def test_keys_plans_and_values_match_the_python_launcher(python_launches):
    for i, n in enumerate(INTS):
        x, y = POINTERS[i % len(POINTERS)], POINTERS[(3 * i + 1) % len(POINTERS)]
        m, scale = SCALARS[i % len(SCALARS)], SCALARS[(i + 4) % len(SCALARS)]
        flag, maybe = SCALARS[(i + 2) % len(SCALARS)], SCALARS[(5 * i) % len(SCALARS)]
        for kernel in (mixed, unspecialised):
            assert_same_classification(kernel, x, y, n, m, flag, scale, maybe, BLOCK=64)
            assert_same_classification(kernel, x, Y=y, n=n, m=m, flag=flag, scale=scale,
                                       maybe=maybe, BLOCK=tl.constexpr(32), num_warps=8,
                                       num_stages=2)


def test_defaults_and_devices_match_the_python_launcher(python_launches):
    assert_same_classification(defaults, Tensor(ALIGNED), 100)
    assert_same_classification(defaults, Buffer(ALIGNED, device=None), 1, 2.0, BLOCK=128)
    # The device comes from the first argument that has one (the others are on it, or have
    # none); the stream from torch only when that argument is a tensor.
    assert_same_classification(mixed, Buffer(ALIGNED, device=2), Tensor(ALIGNED, index=2), 1, 1,
                               True, 1.0, None, BLOCK=64)
    assert_same_classification(mixed, Buffer(ALIGNED, device=None), Tensor(ALIGNED, index=2), 1,
                               1, True, 1.0, None, BLOCK=64)
    assert_same_classification(mixed, Parameter(ALIGNED, index=1), Buffer(ALIGNED, device=1), 1,
                               1, True, 1.0, None, BLOCK=64)
    assert mixed.run.classify(Tensor(ALIGNED, index=3), Buffer(ALIGNED, device=None), 1, 1, True,
                              1.0, None, BLOCK=64)[0][-1] == 3


@pytest.mark.parametrize("args, kwargs", [
    ((CudaArray(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((np.zeros(4, np.float32), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED, is_cuda=False), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED, "complex64"), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 2 ** 64, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), -2 ** 63 - 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(-16), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), "7", 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED, index=3), Buffer(ALIGNED, device=1), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Buffer(ALIGNED), Tensor(ALIGNED, index=1), 1, 1, True, 1.0, None), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0, None, 64), {"BLOCK": 64}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64, "bogus": 1}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64, "grid": (1,)}),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 1, 1, True, 1.0, None), {"BLOCK": 64, "n": 1}),
])
def test_what_the_launcher_leaves_to_python(python_launches, args, kwargs):
    assert mixed.run.classify(*args, **kwargs) is None


class LateTensor(Tensor):
    """A tensor type nothing has seen yet."""


def test_argument_types_are_resolved_by_handler_for(python_launches):
    late = LateTensor(ALIGNED)
    assert LateTensor not in arguments.HANDLERS
    assert mixed.run.classify(late, late, 1, 1, True, 1.0, None, BLOCK=64) is not None
    assert arguments.HANDLERS[LateTensor] is arguments.torch_argument


REST = (1, True, 1.0, None)  # m, flag, scale, maybe


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((Tensor(ALIGNED, is_cuda=False, where="meta"), Tensor(ALIGNED), 16, *REST), {}, ValueError,
     "a tensor on meta"),
    ((Tensor(ALIGNED, "complex64"), Tensor(ALIGNED), 16, *REST), {}, TypeError,
     "unsupported tensor dtype"),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 2 ** 64, *REST), {}, ValueError,
     "does not fit in 64 bits"),
    ((object(), Tensor(ALIGNED), 16, *REST), {}, TypeError, "unsupported kernel argument type"),
    ((Tensor(ALIGNED, index=1), Tensor(ALIGNED), 16, *REST), {}, ValueError,
     "argument 'Y' is on CUDA device 0 but earlier arguments are on CUDA device 1; a launch runs "
     "on one GPU"),
    ((Buffer(ALIGNED, device=2), Parameter(ALIGNED, index=0), 16, *REST), {}, ValueError,
     "argument 'Y' is on CUDA device 0 but earlier arguments are on CUDA device 2"),
    ((Tensor(ALIGNED), Tensor(ALIGNED), 16, *REST), {"bogus": 1}, TypeError,
     "unexpected keyword"),
    ((Tensor(ALIGNED),), {}, TypeError, "missing"),
])
def test_launches_it_leaves_to_python_raise_the_python_errors(python_launches, args, kwargs,
                                                              error, match):
    with pytest.raises(error, match=match):
        mixed[(1,)](*args, BLOCK=64, **kwargs)
    with pytest.raises(error, match=match):
        mixed.run(*args, grid=(1,), BLOCK=64, **kwargs)


def test_kernels_with_more_than_64_parameters_launch_through_python(python_launches, tmp_path,
                                                                   monkeypatch):
    names = [f"a{i}" for i in range(64)]
    (tmp_path / "many_parameters.py").write_text(
        "import tessera.language as tl\n\n\n"
        f"def many(X, {', '.join(names)}):\n    tl.store(X, {' + '.join(names)})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from many_parameters import many

    kernel = tessera.jit(many)
    args = (Tensor(ALIGNED, "int32"), *range(64))
    assert kernel.run.classify(*args) is None
    loaded = kernel[(1,)](*args)
    assert loaded.plan == "pix" + "i" * 62  # a1 == 1 is folded
    assert loaded.handle.launches[0][2][:4] == [ALIGNED, 0, None, 2]


def test_grid_launchers(python_launches):
    assert mixed[(4,)] is mixed[(4,)]
    assert isinstance(mixed[(4,)], tessera._C.GridLauncher) and mixed[(4,)].grid == (4,)
    grid = lambda meta: (1,)  # noqa: E731
    assert mixed[grid].grid is grid
    assert "mixed_body" in repr(mixed[(4,)])
    with pytest.raises(TypeError):
        tessera._C.GridLauncher()


# ---- in subprocesses: launches through _C.Kernel with a recording libtessera -----------------

STUB_SOURCE = r"""
// Put in front of libtessera with LD_PRELOAD: kernels load without a GPU (compiled to learn their
// parameter count) and launches are recorded, not run; buffers get made-up addresses.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/tessera.h"

struct tessera_kernel {
  int32_t num_params;
};

namespace {
struct Launch {
  uint32_t grid[3];
  uint64_t stream;
  std::vector<uint64_t> params;
};
std::vector<Launch> launches;
uint64_t kernel_gets = 0;
uint64_t next_address = 0x7f0000100000ull;
} // namespace

extern "C" {
tessera_status_t tessera_device_target(tessera_runtime_t, int32_t, char *buf, size_t size) {
  std::snprintf(buf, size, "sm_90a");
  return nullptr;
}
tessera_status_t tessera_kernel_get(tessera_runtime_t, const char *tile_ir, size_t size,
                                    const tessera_compile_options *options, int32_t,
                                    tessera_kernel_t *out) {
  tessera_compiled_t compiled = nullptr;
  if (tessera_status_t status = tessera_compile(tile_ir, size, options, &compiled))
    return status;
  *out = new tessera_kernel{tessera_compiled_num_params(compiled)};
  tessera_compiled_free(compiled);
  ++kernel_gets;
  return nullptr;
}
int32_t tessera_kernel_num_params(tessera_kernel_t kernel) { return kernel->num_params; }
tessera_status_t tessera_kernel_launch(tessera_kernel_t, uint32_t x, uint32_t y, uint32_t z,
                                       void *stream, void **args, size_t num_args) {
  Launch launch{{x, y, z}, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(stream)), {}};
  for (size_t i = 0; i < num_args; ++i) {
    uint64_t slot = 0;
    std::memcpy(&slot, args[i], sizeof slot);
    launch.params.push_back(slot);
  }
  launches.push_back(launch);
  return nullptr;
}
tessera_status_t tessera_malloc(tessera_runtime_t, int32_t, size_t bytes, uint64_t *out) {
  *out = next_address;
  next_address += (bytes + 255) / 256 * 256;
  return nullptr;
}
tessera_status_t tessera_free(tessera_runtime_t, int32_t, uint64_t) { return nullptr; }

uint64_t stub_kernel_gets() { return kernel_gets; }
uint64_t stub_launch_count() { return launches.size(); }
// Copies launch `index`: grid, stream, and up to 64 parameter slots; returns the parameter count.
uint64_t stub_launch(uint64_t index, uint32_t *grid, uint64_t *stream, uint64_t *params) {
  const Launch &launch = launches.at(index);
  std::memcpy(grid, launch.grid, sizeof launch.grid);
  *stream = launch.stream;
  for (size_t i = 0; i < launch.params.size() && i < 64; ++i)
    params[i] = launch.params[i];
  return launch.params.size();
}
}
"""


@tessera.jit
def constexpr_first(B: tl.constexpr, X):
    pass


# Tests that an unwrapped tl.constexpr value stays alive while Python code that runs later in the
# launch (a tensor's data_ptr here) drops its last other reference.
def test_unwrapped_constexpr_values_are_owned_by_the_launch(python_launches):
    wrapped = tl.constexpr(None)

    class Rebinding(Tensor):
        def data_ptr(self) -> int:
            wrapped.value = None
            return self.pointer

    wrapped.value = ("only referenced by the constexpr", object())
    expected = wrapped.value
    key = constexpr_first.run.classify(wrapped, Rebinding(0x1000))[0]
    assert key[0] == expected and key[1] == ("*fp32", True)


@pytest.fixture(scope="module")
def recording_libtessera(tmp_path_factory):
    """The LD_PRELOAD library (built with g++ against python/tessera/libtessera.so)."""
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        message = "no C++ compiler (g++) to build the recording libtessera"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("recording-libtessera")
    source, library = directory / "recorder.cpp", directory / "librecorder.so"
    source.write_text(STUB_SOURCE)
    package = REPO / "python" / "tessera"
    subprocess.run([compiler, "-O1", "-std=c++17", "-shared", "-fPIC", f"-I{REPO}", str(source),
                    f"-L{package}", "-ltessera", f"-Wl,-rpath,{package}", "-o", str(library)],
                   check=True, capture_output=True, text=True)
    return library


SCENARIO = r"""
import sys
sys.path[:0] = [sys.argv[1]]
import test_fast_launch
getattr(test_fast_launch, sys.argv[2])()
print("SCENARIO PASSED")
"""


@pytest.mark.parametrize("scenario", ["scenario_torch_tensors", "scenario_buffers_and_scalars",
                                      "scenario_fallbacks_and_errors", "scenario_cache_changes",
                                      "scenario_list_changed_while_packing"])
def test_launches_through_kernels_match_the_python_launcher(recording_libtessera, tmp_path,
                                                            scenario):
    env = dict(os.environ, LD_PRELOAD=str(recording_libtessera),
               TESSERA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", SCENARIO, str(Path(__file__).parent),
                             scenario], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and "SCENARIO PASSED" in result.stdout, \
        f"{scenario} failed:\n{result.stdout}\n{result.stderr}"


class Recorder:
    """The recording libtessera of a scenario process, and the Python launchers it counts."""

    def __init__(self) -> None:
        self.library = ctypes.CDLL(None)  # LD_PRELOAD put it in the global scope
        for name in ("stub_kernel_gets", "stub_launch_count", "stub_launch"):
            getattr(self.library, name).restype = ctypes.c_uint64
        self.python_launcher_calls = 0
        codes = {kernel._python_launcher.__code__ for kernel in KERNELS}

        def count(frame, event, arg):
            if event == "call" and frame.f_code in codes:
                self.python_launcher_calls += 1

        sys.setprofile(count)
        sys.modules["torch"] = fake_torch_module()

    def kernel_gets(self) -> int:
        return self.library.stub_kernel_gets()

    def launches(self) -> List[Tuple[Tuple[int, ...], int, List[int]]]:
        """(grid, stream, parameter slots) of every launch so far."""
        result = []
        for index in range(self.library.stub_launch_count()):
            grid, stream = (ctypes.c_uint32 * 3)(), ctypes.c_uint64()
            params = (ctypes.c_uint64 * 64)()
            count = self.library.stub_launch(ctypes.c_uint64(index), grid, ctypes.byref(stream),
                                             params)
            result.append((tuple(grid), stream.value, list(params[:count])))
        return result

    def compare(self, launch, python_launch, fast: bool = True) -> Any:
        """Runs `launch` then `python_launch` (the same launch through the Python launcher); both
        must return the same LoadedKernel and record the same launch (or none). `fast`: the first
        must not call the Python launcher. Returns the LoadedKernel."""
        before, calls = len(self.launches()), self.python_launcher_calls
        loaded = launch()
        assert (self.python_launcher_calls == calls) == fast, \
            "the Python launcher was called" if fast else "the Python launcher was not called"
        middle = len(self.launches())
        assert python_launch() is loaded
        records = self.launches()
        assert records[before:middle] == records[middle:], (records[before:middle],
                                                              records[middle:])
        return loaded


def fp32_bits(value: float) -> int:
    return int(np.array(value, np.float32).view(np.uint32))


def scenario_torch_tensors() -> None:
    recorder = Recorder()
    x, y = Tensor(ALIGNED), Tensor(ALIGNED + 0x1000)
    recorder.compare(lambda: mixed[(2, 3)](x, y, 1000, 7, True, 0.5, None, BLOCK=64),
                     lambda: mixed._python_launcher(x, y, 1000, 7, True, 0.5, None, BLOCK=64,
                                                    grid=(2, 3)))
    grid, stream, params = recorder.launches()[0]
    assert grid == (2, 3, 1) and stream == 0x5000
    assert params == [x.pointer, y.pointer, 1000, 7, 1, fp32_bits(0.5)]
    gets = recorder.kernel_gets()
    for n, m, flag, scale, maybe in [(1001, 7, False, -2.25, None), (1002, 2 ** 40, True, 3.0, 5),
                                     (1, 1, True, 0.0, None), (32, -3, False, 1e30, None)]:
        for kernel in (mixed, unspecialised):
            recorder.compare(
                lambda: kernel[(5,)](x, y, n, m, flag, scale, maybe, BLOCK=64),
                lambda: kernel._python_launcher(x, y, n, m, flag, scale, maybe, BLOCK=64,
                                                grid=(5,)))
    # A changed dtype or alignment is a new specialisation; the same key is not loaded again.
    specialisations = len(mixed.cache)
    for x in (Tensor(ALIGNED, "float16"), Tensor(MISALIGNED), Parameter(MISALIGNED, "int32")):
        recorder.compare(lambda: mixed[(1,)](x, y, 1000, 7, True, 0.5, None, BLOCK=64),
                         lambda: mixed._python_launcher(x, y, 1000, 7, True, 0.5, None,
                                                        BLOCK=64, grid=(1,)))
    assert len(mixed.cache) == specialisations + 3
    gets = recorder.kernel_gets()
    mixed[(1,)](Tensor(ALIGNED, "float16"), y, 1000, 7, True, 0.5, None, BLOCK=64)
    assert recorder.kernel_gets() == gets
    # Streams: torch's current stream of the tensor's device, read at each launch.
    x, y = Tensor(ALIGNED, index=1), Tensor(ALIGNED + 0x1000, index=1)
    for stream in (0x7000, 0x8000):
        CURRENT_STREAMS[1] = stream
        mixed[(1,)](x, y, 1000, 7, True, 0.5, None, BLOCK=64)
        assert recorder.launches()[-1][1] == stream
    # Grid callables get the bound arguments, constexprs unwrapped; run() takes grid=.
    seen = []

    def grid(meta):
        seen.append(meta)
        return (tessera.cdiv(meta["n"], meta["BLOCK"]), meta["num_warps"])

    loaded = recorder.compare(
        lambda: mixed[grid](x, y, 1000, 7, True, 0.5, None, BLOCK=tl.constexpr(64), num_warps=2),
        lambda: mixed._python_launcher(x, y, 1000, 7, True, 0.5, None, BLOCK=64, num_warps=2,
                                       grid=grid))
    assert mixed.run(x, y, 1000, 7, True, 0.5, None, BLOCK=64, num_warps=2, grid=grid) is loaded
    assert seen[0] == seen[1] == seen[2] == {
        "X": x, "Y": y, "n": 1000, "m": 7, "flag": True, "scale": 0.5, "maybe": None,
        "BLOCK": 64, "num_warps": 2, "num_stages": 3}
    *_, python_launch, run_launch = recorder.launches()
    assert run_launch == python_launch and run_launch[0] == (16, 2, 1)


def scenario_buffers_and_scalars() -> None:
    recorder = Recorder()
    x, y = tessera.empty(1024, "fp32"), tessera.empty(1024, "fp16")
    for n, scale in [(1024, 2.0), (1, 0.5), (17, -1.0), (2 ** 63, 3.5), (-2 ** 40, 1.0)]:
        recorder.compare(lambda: defaults[(1,)](x, n, scale, BLOCK=128),
                         lambda: defaults._python_launcher(x, n, scale, BLOCK=128, grid=(1,)))
        assert recorder.launches()[-1][1] == 0  # no torch tensor: the legacy default stream
    recorder.compare(lambda: defaults[(3,)](y, 100),
                     lambda: defaults._python_launcher(y, 100, grid=(3,)))
    assert recorder.launches()[-1][2] == [y.ptr, 100, fp32_bits(1.5)]
    # The device and stream come from the first argument with a device: a buffer's (no torch
    # stream), then a tensor's.
    tensor = Tensor(ALIGNED, index=0)
    recorder.compare(lambda: mixed[(1,)](x, tensor, 1, 1, True, 1.0, None, BLOCK=64),
                     lambda: mixed._python_launcher(x, tensor, 1, 1, True, 1.0, None, BLOCK=64,
                                                    grid=(1,)))
    assert recorder.launches()[-1][1] == 0
    recorder.compare(lambda: mixed[(1,)](tensor, x, 1, 1, True, 1.0, None, BLOCK=64),
                     lambda: mixed._python_launcher(tensor, x, 1, 1, True, 1.0, None, BLOCK=64,
                                                    grid=(1,)))
    assert recorder.launches()[-1][1] == 0x5000


def scenario_list_changed_while_packing() -> None:
    x = tessera.empty(1024, "fp32")
    loaded = defaults[(1,)](x, 7)
    values: List[Any] = []

    class Clearing:
        def __index__(self) -> int:
            values.clear()
            values.extend([0] * 1000)
            return 7

    values[:] = [x.ptr, Clearing(), 2.5]
    loaded.handle.launch(1, 1, 1, 0, values)
    assert Recorder().launches()[-1][2] == [x.ptr, 7, fp32_bits(2.5)]


def scenario_fallbacks_and_errors() -> None:
    recorder = Recorder()
    x = tessera.empty(1024, "fp32")
    array = CudaArray(x.ptr + 0x1000)
    # An argument the launcher does not replicate: the whole launch is the Python launcher's.
    recorder.compare(lambda: mixed[(1,)](x, array, 7, 7, True, 1.0, None, BLOCK=64),
                     lambda: mixed._python_launcher(x, array, 7, 7, True, 1.0, None, BLOCK=64,
                                                    grid=(1,)), fast=False)
    # Grid errors are the Python launcher's; a zero dimension launches nothing.
    launches = len(recorder.launches())
    assert defaults[(0, 5)](x, 7) is defaults[(1,)](x, 7)
    assert len(recorder.launches()) == launches + 1
    for grid, error, match in [((1, 1, 1, 1), ValueError, "1 to 3 dimensions"),
                               ((2 ** 32,), TypeError, None), ((-1,), TypeError, None),
                               (("a",), TypeError, "grid dimension 0 must be an int"),
                               ((2.0,), TypeError, "tessera.cdiv"),
                               ((1, 65536), ValueError, "beyond CUDA's limits"),
                               ((2 ** 31,), ValueError, "beyond CUDA's limits"),
                               (([4],), TypeError, None)]:
        for launcher in (defaults[grid], lambda *args: defaults._python_launcher(*args,
                                                                                 grid=grid)):
            try:
                launcher(x, 7)
            except error as raised:
                assert match is None or match in str(raised)
            else:
                raise AssertionError(f"grid {grid} launched")
    assert defaults[(np.int64(2),)](x, 7) is defaults[(2,)](x, 7)  # _grid_dims converts it
    assert recorder.launches()[-1][0] == recorder.launches()[-2][0] == (2, 1, 1)
    assert defaults[(2 ** 31 - 1, 65535, 65535)](x, 7) is defaults[(2,)](x, 7)
    assert recorder.launches()[-2][0] == (2 ** 31 - 1, 65535, 65535)
    # Python launcher errors for arguments it rejects, through both launch forms.
    for launch in (lambda: defaults[(1,)](x, 2 ** 64), lambda: defaults.run(x, 2 ** 64, grid=(1,))):
        try:
            launch()
        except ValueError as raised:
            assert "does not fit in 64 bits" in str(raised)
        else:
            raise AssertionError("launched an int beyond 64 bits")


def scenario_cache_changes() -> None:
    recorder = Recorder()
    x = tessera.empty(1024, "fp32")
    # Alternating keys: each launch finds its own kernel.
    loaded = {}
    for n in (16, 17, 17, 16, 1, 16, 1, 17):
        assert loaded.setdefault(n, defaults[(1,)](x, n)) is defaults[(1,)](x, n)
        params = recorder.launches()[-1][2]
        assert params == [x.ptr, fp32_bits(1.5)] if n == 1 else params == [x.ptr, n, fp32_bits(1.5)]
    assert len(set(map(id, loaded.values()))) == 3
    assert recorder.python_launcher_calls == 0
    # A cleared cache is loaded again; a replaced entry is what launches find.
    first = defaults[(1,)](x, 16)
    defaults.cache.clear()
    gets = recorder.kernel_gets()
    second = defaults[(1,)](x, 16)
    assert second is not first and recorder.kernel_gets() == gets + 1
    (key,) = [key for key, value in defaults.cache.items() if value is second]
    defaults.cache[key] = first
    assert defaults[(1,)](x, 16) is first
    del defaults.cache[key]
    assert defaults[(1,)](x, 16) not in (first, second)
    assert recorder.python_launcher_calls == 0
