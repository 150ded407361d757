"""kernel[grid](...) without a GPU: the runtime half of tessera._C is replaced by a recorder,
so these tests check specialisation keys, the kernel cache, argument packing and grids."""
from __future__ import annotations

import subprocess
import sys
from typing import Any, List, Tuple

import numpy as np
import pytest

from test_frontend_support import REPO, line_of, tessera

import tessera.language as tl
from tessera.runtime import jit_function as jit_module


class RecordedKernel:
    def __init__(self, tile_ir: str, target: str, num_warps: int, num_stages: int, device: int,
                 plan: str) -> None:
        self.tile_ir, self.target, self.plan, self.device = tile_ir, target, plan, device
        self.num_warps, self.num_stages = num_warps, num_stages
        self.launches: List[Tuple[int, int, int, int, list]] = []

    def launch(self, grid_x, grid_y, grid_z, stream, values) -> None:
        self.launches.append((grid_x, grid_y, grid_z, stream, list(values)))


class RecordingRuntime:
    """Stands in for tessera._C in tessera.runtime.jit."""

    def __init__(self) -> None:
        self.kernels: List[RecordedKernel] = []
        self.targets: List[int] = []

    def device_target(self, device: int) -> str:
        self.targets.append(device)
        return "sm_90a"

    def get_kernel(self, *args: Any) -> RecordedKernel:
        kernel = RecordedKernel(*args)
        self.kernels.append(kernel)
        return kernel


@pytest.fixture
def runtime(monkeypatch):
    recorder = RecordingRuntime()
    monkeypatch.setattr(jit_module, "_C", recorder)
    jit_module.device_target.cache_clear()
    for kernel in (add_kernel, unspecialised, scalars, awkward_names):
        kernel.cache.clear()
    yield recorder
    jit_module.device_target.cache_clear()


class CudaArray:
    """A minimal __cuda_array_interface__ producer."""

    def __init__(self, pointer: int, typestr: str = "<f4", device: Any = None) -> None:
        self.pointer, self.typestr, self.device = pointer, typestr, device

    @property
    def __cuda_array_interface__(self):
        return {"shape": (1024,), "typestr": self.typestr, "data": (self.pointer, False),
                "version": 3}


class CudaArrayOnDevice(CudaArray):
    def __dlpack_device__(self):
        return (2, self.device)


@tessera.jit
def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(Z + offs, tl.load(X + offs, mask=offs < n) + tl.load(Y + offs, mask=offs < n),
             mask=offs < n)


def _arrays(typestr="<f4", base=0x10000):
    return [CudaArray(base + i * 0x1000, typestr) for i in range(3)]


def test_launch_packs_pointers_and_scalars_in_parameter_order(runtime):
    x, y, z = _arrays()
    returned = add_kernel[(4,)](x, y, z, 1000, BLOCK=256)
    (kernel,) = runtime.kernels
    assert returned.handle is kernel and returned.plan == kernel.plan == "pppi"
    assert kernel.launches == [(4, 1, 1, 0, [x.pointer, y.pointer, z.pointer, 1000])]
    assert (kernel.target, kernel.num_warps, kernel.num_stages, kernel.device) == ("sm_90a", 4, 3, 0)
    assert "function_type = (!tile.ptr<f32>, !tile.ptr<f32>, !tile.ptr<f32>, i32) -> ()" in \
        kernel.tile_ir
    assert "{start = 0 : i32, end = 256 : i32}" in kernel.tile_ir


def test_repeated_launch_reuses_the_kernel_without_generating_ir(runtime, monkeypatch):
    generated = []
    original = jit_module.generate_tile_ir
    monkeypatch.setattr(jit_module, "generate_tile_ir",
                        lambda *args: generated.append(args) or original(*args))
    args = _arrays()
    for n in (1000, 1001, 1003):  # none divisible by 16
        add_kernel[(4,)](*args, n, BLOCK=256)
    assert len(generated) == 1 and len(runtime.kernels) == 1
    assert [launch[4][3] for launch in runtime.kernels[0].launches] == [1000, 1001, 1003]


def test_specialisation_key_distinguishes_dtypes_constexprs_and_options(runtime):
    args = _arrays()
    add_kernel[(1,)](*args, 1000, BLOCK=256)
    add_kernel[(1,)](*_arrays("<f2"), 1000, BLOCK=256)
    add_kernel[(1,)](*args, 1000, BLOCK=128)
    add_kernel[(1,)](*args, 1000, BLOCK=256, num_warps=8)
    add_kernel[(1,)](*args, 1000, BLOCK=256, num_stages=2)
    add_kernel[(1,)](*args, 1000, BLOCK=256)
    assert len(runtime.kernels) == 5
    assert "!tile.ptr<f16>" in runtime.kernels[1].tile_ir
    assert "end = 128 : i32" in runtime.kernels[2].tile_ir
    assert runtime.kernels[3].num_warps == 8 and runtime.kernels[4].num_stages == 2


def test_integers_equal_to_one_are_folded_and_dropped(runtime):
    add_kernel[(1,)](*_arrays(), 1, BLOCK=256)
    (kernel,) = runtime.kernels
    x, y, z = _arrays()
    assert kernel.plan == "pppx"  # the folded n is skipped when packing
    assert kernel.launches[0][4] == [x.pointer, y.pointer, z.pointer, None]
    assert "function_type = (!tile.ptr<f32>, !tile.ptr<f32>, !tile.ptr<f32>) -> ()" in kernel.tile_ir
    assert "{value = 1 : i32}" in kernel.tile_ir


def test_divisibility_by_16_of_integers_and_pointers(runtime):
    x, y, z = _arrays()
    misaligned = CudaArray(0x10004)
    add_kernel[(1,)](x, y, z, 1024, BLOCK=256)
    add_kernel[(1,)](misaligned, y, z, 1000, BLOCK=256)
    aligned, unaligned = runtime.kernels
    divisible = "{tile.divisibility = 16 : i32}"
    assert f"arg_attrs = [{divisible}, {divisible}, {divisible}, {divisible}]" in aligned.tile_ir
    assert f"arg_attrs = [{{}}, {divisible}, {divisible}, {{}}]" in unaligned.tile_ir


@tessera.jit(do_not_specialize=["n"])
def unspecialised(X, n):
    tl.store(X, n)


def test_do_not_specialize_keeps_ones_and_multiples_of_16_as_plain_parameters(runtime):
    x = CudaArray(0x10000, "<i4")
    unspecialised[(1,)](x, 1)
    unspecialised[(1,)](x, 32)
    (kernel,) = runtime.kernels
    assert kernel.plan == "pi" and "arg_attrs = [{tile.divisibility = 16 : i32}, {}]" in kernel.tile_ir
    assert [launch[4] for launch in kernel.launches] == [[x.pointer, 1], [x.pointer, 32]]


@tessera.jit
def scalars(X, flag, scale, big, maybe, BLOCK: tl.constexpr = 64):
    value = tl.load(X) * scale + big
    if maybe is None:
        value = value + 1
    if flag:
        tl.store(X, value)


def test_bool_float_i64_and_none_arguments(runtime):
    x = CudaArray(0x10000)
    scalars[(1,)](x, True, 0.5, 2 ** 40, None)
    (kernel,) = runtime.kernels
    assert kernel.plan == "pbflx"  # None is folded
    assert "function_type = (!tile.ptr<f32>, i1, f32, i64) -> ()" in kernel.tile_ir
    assert kernel.launches[0][4] == [x.pointer, True, 0.5, 2 ** 40, None]


def test_keyword_arguments_and_defaults(runtime):
    x = CudaArray(0x10000)
    scalars[(1,)](X=x, flag=False, scale=2.0, big=3, maybe=None)
    scalars[(1,)](x, False, 2.0, 3, None, BLOCK=64)
    assert len(runtime.kernels) == 1 and len(runtime.kernels[0].launches) == 2
    with pytest.raises(TypeError):
        scalars[(1,)](x, False, 2.0, 3, None, bogus=1)


@tessera.jit
def awkward_names(key, device, stream, kernel, handler):
    tl.store(key, device + stream + kernel + handler)


def test_parameter_names_do_not_clash_with_the_launcher(runtime):
    x = CudaArray(0x10000, "<i4")
    awkward_names[(1,)](x, 3, 5, 7, 9)
    (kernel,) = runtime.kernels
    assert kernel.device == 0 and kernel.launches[0][3] == 0
    assert kernel.launches[0][4] == [x.pointer, 3, 5, 7, 9]
    with pytest.raises(TypeError, match="reserved"):
        tessera.jit(lambda X, grid: None)


def test_grid_callable_gets_the_meta_parameters(runtime):
    seen = []

    def grid(meta):
        seen.append(meta)
        return (tessera.cdiv(meta["n"], meta["BLOCK"]), 2)

    x, y, z = _arrays()
    add_kernel[grid](x, y, z, 1000, BLOCK=256, num_warps=2)
    (meta,) = seen
    assert meta["X"] is x and meta["n"] == 1000 and meta["BLOCK"] == 256
    assert meta["num_warps"] == 2
    assert runtime.kernels[0].launches[0][:3] == (4, 2, 1)


def test_launchers_of_tuple_grids_are_kept(runtime):
    assert add_kernel[(4,)] is add_kernel[(4,)]
    assert add_kernel[(4,)] is not add_kernel[(8,)]
    x, y, z = _arrays()
    add_kernel[(4,)](x, y, z, 1000, BLOCK=256)
    add_kernel[(8, 2)](x, y, z, 1000, BLOCK=256)
    add_kernel[[3]](x, y, z, 1000, BLOCK=256)  # a list: not kept, still launched
    assert [launch[:3] for launch in runtime.kernels[0].launches] == [(4, 1, 1), (8, 2, 1),
                                                                       (3, 1, 1)]
    with pytest.raises(TypeError):
        add_kernel[([4],)](x, y, z, 1000, BLOCK=256)  # unhashable: reported by the launch


def test_empty_grid_loads_but_does_not_launch(runtime):
    add_kernel[(0,)](*_arrays(), 1000, BLOCK=256)
    assert len(runtime.kernels) == 1 and runtime.kernels[0].launches == []
    with pytest.raises(ValueError, match="1 to 3 dimensions"):
        add_kernel[(1, 1, 1, 1)](*_arrays(), 1000, BLOCK=256)


def test_device_comes_from_the_first_tensor(runtime):
    x = CudaArrayOnDevice(0x10000, device=1)
    add_kernel[(1,)](x, x, x, 100, BLOCK=64)
    assert runtime.kernels[0].device == 1 and runtime.targets == [1]


def test_unsupported_arguments_are_rejected(runtime):
    with pytest.raises(TypeError, match="unsupported kernel argument type"):
        add_kernel[(1,)](object(), *_arrays()[:2], 100, BLOCK=64)
    with pytest.raises(ValueError, match="CUDA memory"):
        add_kernel[(1,)](np.zeros(4, np.float32), *_arrays()[:2], 100, BLOCK=64)
    with pytest.raises(TypeError, match="typestr"):
        add_kernel[(1,)](CudaArray(0x1000, "<c8"), *_arrays()[:2], 100, BLOCK=64)


def test_front_end_errors_surface_at_launch(runtime):
    with pytest.raises(tessera.CompilationError, match="arange"):
        add_kernel[(1,)](*_arrays(), 100, BLOCK=100)
    assert runtime.kernels == []


def test_compiler_errors_at_launch_point_at_the_kernel_source(runtime, monkeypatch):
    file, line = add_kernel.source.file, line_of(add_kernel, "tl.store(Z + offs")

    def failing_get_kernel(*args):
        raise tessera.CompilationError(f"{file}:{line}:4: error: 'tile.store' op rejected")

    monkeypatch.setattr(runtime, "get_kernel", failing_get_kernel)
    with pytest.raises(tessera.CompilationError) as info:
        add_kernel[(1,)](*_arrays(), 100, BLOCK=64)
    assert str(info.value).startswith(f"{file}:{line}: 'tile.store' op rejected\n    tl.store(")


def test_calling_a_kernel_directly_is_an_error():
    with pytest.raises(RuntimeError, match=r"add_kernel\[grid\]"):
        add_kernel(1, 2, 3, 4)


def test_dlpack_capsules_are_read_in_cpp():
    array = np.arange(8, dtype=np.float32)[2:]
    pointer, device_type, device_id, code, bits, lanes = tessera._C.dlpack_info(array.__dlpack__())
    assert pointer == array.ctypes.data
    assert (device_type, device_id, code, bits, lanes) == (1, 0, 2, 32, 1)
    assert tessera._C.dlpack_info(np.zeros(2, np.int16).__dlpack__())[3:5] == (0, 16)


def test_import_does_not_import_torch_and_needs_no_gpu():
    code = ("import sys, tessera; assert 'torch' not in sys.modules; "
            "assert set(tessera.stats()) == {'compiles', 'disk_hits', 'memory_hits', 'launches', "
            "'bundle_hits', 'tuning_runs', 'tuning_cache_hits'}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr


def test_host_helpers():
    assert tessera.cdiv(1000, 128) == 8 and tessera.cdiv(1024, 128) == 8
    assert [tessera.next_power_of_2(n) for n in (0, 1, 2, 3, 100, 1024, 1025)] == \
        [0, 1, 2, 4, 128, 1024, 2048]
