"""A bad-input sweep of ``kernel[grid](...)``, the launcher of ``@tessera.jit`` kernels, on the
host backend (NumPy arrays and PyTorch CPU tensors, run by the host JIT); needs no GPU. Every
case checks a clear exception (its type and a message naming the argument, or the grid, and
what was expected), never a crash, a hang or a write.

Covered:
- grids, as a tuple, from a grid callable and through ``kernel.run(grid=...)``: negative
  sizes; sizes that are not ints (float, str, None, bool, a list); no dimension or more than 3;
  grids that are no sequence (an int, a str, None); sizes of 2**32 and more; more programs in
  all than the host runs (``host.MAX_HOST_PROGRAMS``, 2**24: 2**40 programs would run for days),
  that limit read at each launch; a grid callable returning None or an int, or raising; and
  grids that must run: a 0 size launches nothing, NumPy ints are sizes;
- CUDA's grid limits (x up to 2**31 - 1, y and z up to 65535) in the Python launcher, with the
  runtime replaced by a recorder (as test_frontend_jit.py does): refused before any launch, the
  largest grid CUDA takes accepted;
- arguments: too few, too many, repeated and unknown keywords, a missing constexpr, a constexpr
  given an array or a tensor (unhashable or not), objects that are no tensor for a pointer (and
  a Python int or None there: a compile error at the kernel's line), host arrays beside CUDA
  memory, a tensor on the meta device, unsupported dtypes (complex, float128, datetime, object,
  structured; float64 runs), ints outside -2**63..2**64 - 1, ints past int32 (int64 or uint64
  specialisations storing the exact value), bools, floats (NaN, inf, -0.0), None and 1 (folded),
  NumPy scalars (scalars, not 0-d arrays), pointers that are not a multiple of their element
  size (NumPy views, ``__array_interface__`` and ``__cuda_array_interface__`` objects, PyTorch
  CPU tensors; refused naming the argument) and pointers that are element-aligned but not 16-byte
  aligned (run, results exact, no divisibility assumed);
- launch options: num_warps that is not a power of two from 1 to 32, num_stages below 1 or not
  an int, unknown launch options, a device other than "cpu".

Every array given to a refused launch is filled first (a sentinel, or its input values) and
must be unchanged after the error. CUDA tensors (the C++ fast launch path), several GPUs and
real launches at CUDA's limits are covered by test/python/gpu/test_gpu_launch_bad_inputs.py.
"""
import re

import numpy as np
import pytest

from launch_cases import BINDING, BLOCK, copy_kernel, store_kernel
from test_frontend_support import tessera

import tessera.language as tl
from tessera.runtime import host
from tessera.runtime import jit_function as jit_module

N = 100
SENTINEL = -77  # fits every dtype here but the unsigned


@tessera.jit
def optional_kernel(OUT, maybe):
    if maybe is None:
        tl.store(OUT, -1)
    else:
        tl.store(OUT, maybe)


def arrays(dtype=np.float32, n=N):
    """(x, out): an input counting up and an output full of the sentinel."""
    return np.arange(n).astype(dtype), np.full(n, SENTINEL, dtype)


def refused(error, match, launch, *written):
    """Runs ``launch``, which must raise ``error`` matching ``match``, and checks that every
    array in ``written`` is unchanged."""
    before = [np.asarray(array).tobytes() for array in written]
    with pytest.raises(error, match=match):
        launch()
    for array, content in zip(written, before):
        assert np.asarray(array).tobytes() == content, "a refused launch changed an argument"


class HostArray:
    """An ``__array_interface__`` over ``address`` (hashable, as any object)."""

    def __init__(self, address, typestr="<f4", shape=(N,)):
        self.interface = {"data": (address, False), "typestr": typestr, "shape": shape,
                          "version": 3}

    @property
    def __array_interface__(self):
        return self.interface


class CudaArray:
    """A ``__cuda_array_interface__`` at ``pointer`` on device 0; nothing here reads it."""

    def __init__(self, pointer, typestr="<f4"):
        self.interface = {"data": (pointer, False), "typestr": typestr, "shape": (N,),
                          "version": 3}

    @property
    def __cuda_array_interface__(self):
        return self.interface


def launch_forms(kernel):
    """kernel[grid](...) and kernel.run(..., grid=grid), each with a tuple and with a grid
    callable returning it: functions (grid, *args, **kwargs)."""
    return {
        "tuple": lambda grid, *args, **kwargs: kernel[grid](*args, **kwargs),
        "callable": lambda grid, *args, **kwargs: kernel[lambda meta: grid](*args, **kwargs),
        "run": lambda grid, *args, **kwargs: kernel.run(*args, grid=grid, **kwargs),
    }


# ==== grids ======================================================================================
SIZES = r"grid dimensions must be ints from 0 to 2\*\*32 - 1"
AN_INT = "grid dimension {} must be an int"
HOST_LIMIT = r"more than the 16777216 a host launch runs .*MAX_HOST_PROGRAMS"
BAD_GRIDS = {
    "negative": ((-1,), TypeError, SIZES),
    "negative-y": ((4, -2), TypeError, SIZES),
    "negative-z": ((1, 1, -3), TypeError, SIZES),
    "float": ((2.0,), TypeError, AN_INT.format(0) + r".*tessera\.cdiv"),
    "fraction": ((N / BLOCK,), TypeError, AN_INT.format(0)),
    "numpy-float": ((np.float32(2),), TypeError, AN_INT.format(0)),
    "str": (("4",), TypeError, AN_INT.format(0) + r", got '4' \(str\)"),
    "none": ((1, None), TypeError, AN_INT.format(1)),
    "bool": ((True,), TypeError, AN_INT.format(0) + r", got True \(bool\)"),
    "bool-z": ((2, 2, False), TypeError, AN_INT.format(2)),
    "list": (([4],), TypeError, AN_INT.format(0)),
    "no-dimension": ((), ValueError, "1 to 3 dimensions, got ()"),
    "four-dimensions": ((1, 1, 1, 1), ValueError, "1 to 3 dimensions"),
    "int": (4, TypeError, r"a grid must be a tuple of 1 to 3 ints.*got 4 \(int\)"),
    "str-grid": ("4", TypeError, "a grid must be a tuple"),
    "none-grid": (None, TypeError, r"got None \(NoneType\)"),
    "2**32": ((2 ** 32,), TypeError, SIZES),
    "2**64-y": ((1, 2 ** 64), TypeError, SIZES),
    "2**40-programs": ((2 ** 20, 2 ** 20), ValueError, HOST_LIMIT),
    "past-host-limit": ((2 ** 24 + 1,), ValueError, HOST_LIMIT),
    "2**31-1-x": ((2 ** 31 - 1,), ValueError, HOST_LIMIT),
    "largest": ((2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1), ValueError, HOST_LIMIT),
}


@pytest.mark.parametrize("form", ["tuple", "callable", "run"])
@pytest.mark.parametrize("case", BAD_GRIDS)
def test_bad_grids_are_refused(case, form):
    grid, error, match = BAD_GRIDS[case]
    x, out = arrays()
    launch = launch_forms(copy_kernel)[form]
    refused(error, match, lambda: launch(grid, x, out, N, BLOCK=BLOCK), x, out)


def test_the_host_limit_is_read_at_each_launch(monkeypatch):
    monkeypatch.setattr(host, "MAX_HOST_PROGRAMS", 8)
    x, out = arrays()
    for grid in [(9,), (3, 3), (2, 2, 3)]:
        refused(ValueError, "more than the 8 a host launch runs", lambda: copy_kernel[grid](
            x, out, N, BLOCK=16), x, out)
    copy_kernel[(4, 2)](x, out, N, BLOCK=16)  # 8 programs: the limit itself runs
    np.testing.assert_array_equal(out[:64], x[:64])


def test_grid_callable_results_and_errors():
    x, out = arrays()
    refused(TypeError, r"got None \(NoneType\)", lambda: copy_kernel[lambda meta: None](
        x, out, N, BLOCK=BLOCK), x, out)
    refused(TypeError, r"got 1 \(int\)", lambda: copy_kernel[lambda meta: 1](
        x, out, N, BLOCK=BLOCK), x, out)
    refused(KeyError, "BLOKC", lambda: copy_kernel[lambda meta: (meta["BLOKC"],)](
        x, out, N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("grid", [(0,), (0, 3), (5, 0, 2)])
def test_a_zero_grid_launches_nothing(grid):
    x, out = arrays()
    loaded = copy_kernel[grid](x, out, N, BLOCK=BLOCK)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(out, np.full(N, SENTINEL, np.float32))


def test_numpy_ints_are_grid_sizes():
    x, out = arrays()
    copy_kernel[lambda meta: (np.int64(1), np.int32(1))](x, out, N, BLOCK=BLOCK)
    np.testing.assert_array_equal(out, x)


class RecordedKernel:
    def __init__(self, *args):
        self.launches = []

    def launch(self, grid_x, grid_y, grid_z, stream, values):
        self.launches.append((grid_x, grid_y, grid_z))


class RecordingRuntime:
    """Stands in for tessera._C in jit_function: CUDA kernels are recorded, never run."""

    def __init__(self):
        self.kernels = []

    def device_target(self, device):
        return "sm_90a"

    def get_kernel(self, *args):
        self.kernels.append(RecordedKernel(*args))
        return self.kernels[-1]


@pytest.fixture
def cuda_recorder(monkeypatch):
    recorder = RecordingRuntime()
    monkeypatch.setattr(jit_module, "_C", recorder)
    jit_module.device_target.cache_clear()
    copy_kernel.cache.clear()
    yield recorder
    jit_module.device_target.cache_clear()
    copy_kernel.cache.clear()


CUDA_LIMITS = r"is beyond CUDA's limits: x up to 2\*\*31 - 1, y and z up to 65535"


@pytest.mark.parametrize("grid", [(2 ** 31,), (2 ** 32 - 1,), (1, 65536), (1, 1, 65536),
                                  (2 ** 31, 65536, 65536)])
@pytest.mark.parametrize("form", ["tuple", "callable", "run"])
def test_grids_beyond_cuda_limits_are_refused_before_the_launch(cuda_recorder, grid, form):
    x, out = CudaArray(0x7F0000001000), CudaArray(0x7F0000002000)
    with pytest.raises(ValueError, match=CUDA_LIMITS):
        launch_forms(copy_kernel)[form](grid, x, out, N, BLOCK=BLOCK)
    assert all(kernel.launches == [] for kernel in cuda_recorder.kernels)


def test_the_largest_cuda_grid_is_launched(cuda_recorder):
    x, out = CudaArray(0x7F0000001000), CudaArray(0x7F0000002000)
    copy_kernel[(2 ** 31 - 1, 65535, 65535)](x, out, N, BLOCK=BLOCK)
    (kernel,) = cuda_recorder.kernels
    assert kernel.launches == [(2 ** 31 - 1, 65535, 65535)]


# ==== arguments ==================================================================================
@pytest.mark.parametrize("case", BINDING)
def test_binding_errors(case):
    launch, match = BINDING[case]
    x, out = arrays()
    refused(TypeError, match, lambda: launch(x, out), x, out)


HASHABLE = r"constexpr 'BLOCK' must be hashable"
COMPILE_TIME = r"constexpr 'BLOCK' must be a compile-time value, got a {}: tensors and arrays"


@pytest.mark.parametrize("value, match", [
    (np.array(BLOCK), HASHABLE), (np.full(4, BLOCK), HASHABLE), ([BLOCK], HASHABLE),
    ({"BLOCK": BLOCK}, HASHABLE), (tl.constexpr(np.array(BLOCK)), HASHABLE),
    (HostArray(0x10000, shape=()), COMPILE_TIME.format("HostArray")),
    (CudaArray(0x10000), COMPILE_TIME.format("CudaArray")),
], ids=["0-d-array", "array", "list", "dict", "wrapped-array", "array-interface",
        "cuda-array-interface"])
def test_constexprs_given_arrays_are_refused(value, match):
    x, out = arrays()
    refused(TypeError, match, lambda: copy_kernel[(1,)](x, out, N, BLOCK=value), x, out)


def test_constexprs_given_torch_tensors_are_refused():
    torch = pytest.importorskip("torch")
    x, out = arrays()
    refused(TypeError, COMPILE_TIME.format("Tensor"), lambda: copy_kernel[(1,)](
        x, out, N, BLOCK=torch.tensor(BLOCK)), x, out)


NOT_A_TENSOR = r"copy_kernel: argument 'X': unsupported kernel argument type {}: expected a tensor"


@pytest.mark.parametrize("value, name", [
    (object(), "object"), ([1.0] * N, "list"), ("x", "str"), (b"\0" * 4 * N, "bytes"),
    ({}, "dict"), (1j, "complex"),
])
def test_objects_that_are_no_tensor_are_refused_for_pointers(value, name):
    x, out = arrays()
    refused(TypeError, NOT_A_TENSOR.format(name), lambda: copy_kernel[(1,)](
        value, out, N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("value, match", [(5, "unsupported pointer type"),
                                          (None, "expected a tensor or a number, got None")])
def test_scalars_for_pointers_fail_to_compile_at_the_kernel_line(value, match):
    x, out = arrays()
    refused(tessera.CompilationError, r"launch_cases.py:\d+: " + match,
            lambda: copy_kernel[(1,)](value, out, N, BLOCK=BLOCK), x, out)


def test_host_arrays_beside_cuda_memory_are_refused():
    x, out = arrays()
    device = CudaArray(0x7F0000001000)
    refused(ValueError, r"argument 'OUT' is on CUDA device 0 but earlier arguments are on the "
            r"host \(CPU\); a launch takes host arrays or CUDA memory, not both",
            lambda: copy_kernel[(1,)](x, device, N, BLOCK=BLOCK), x)
    refused(ValueError, r"argument 'OUT' is on the host \(CPU\) but earlier arguments are on "
            "CUDA device 0", lambda: copy_kernel[(1,)](device, out, N, BLOCK=BLOCK), out)


def test_torch_meta_complex_and_cuda_beside_cpu_tensors_are_refused():
    torch = pytest.importorskip("torch")
    x, out = torch.arange(N, dtype=torch.float32), torch.full((N,), SENTINEL, dtype=torch.float32)
    refused(ValueError, "argument 'X': a tensor on meta was passed; kernels take CUDA tensors, "
            "or CPU tensors", lambda: copy_kernel[(1,)](torch.empty(N, device="meta"), out, N,
                                                        BLOCK=BLOCK), out)
    refused(TypeError, "argument 'OUT': unsupported tensor dtype torch.complex64",
            lambda: copy_kernel[(1,)](x, out.to(torch.complex64), N, BLOCK=BLOCK), x, out)
    refused(ValueError, "argument 'OUT' is on CUDA device 0 but earlier arguments are on the host",
            lambda: copy_kernel[(1,)](x, CudaArray(0x7F0000001000), N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("dtype, typestr", [
    (np.complex64, "<c8"), (np.complex128, "<c16"), (np.longdouble, "<f16"),
    ("datetime64[ns]", "<M8[ns]"), (object, "|O"), ("V8", "|V8"),
])
def test_unsupported_dtypes_are_refused(dtype, typestr):
    x, out = arrays()
    other = np.zeros(N, dtype)
    refused(TypeError, f"argument 'X': unsupported array dtype '{re.escape(typestr)}'",
            lambda: copy_kernel[(1,)](other, out, N, BLOCK=BLOCK), x, out)
    refused(TypeError, f"argument 'OUT': unsupported array dtype '{re.escape(typestr)}'",
            lambda: copy_kernel[(1,)](x, other, N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("typestr", ["<c8", "<c16", "<f16", "|O", "|V8"])
def test_unsupported_cuda_array_interface_dtypes_are_refused(typestr):
    x, out = arrays()
    refused(TypeError, "argument 'X': unsupported __cuda_array_interface__ typestr "
            f"'{re.escape(typestr)}'", lambda: copy_kernel[(1,)](
                CudaArray(0x7F0000001000, typestr), out, N, BLOCK=BLOCK), x, out)


def test_float64_runs():
    x, out = arrays(np.float64)
    copy_kernel[(1,)](x + 0.5, out, N, BLOCK=BLOCK)
    np.testing.assert_array_equal(out, x + 0.5)


@pytest.mark.parametrize("value", [2 ** 64, -2 ** 63 - 1, 10 ** 30, -10 ** 30])
def test_ints_beyond_64_bits_are_refused(value):
    out = np.full(1, SENTINEL, np.int64)
    refused(ValueError, r"store_kernel: argument 'value': integer -?\d+ does not fit in 64 bits "
            r"\(kernels take ints from -2\*\*63 to 2\*\*64 - 1\)",
            lambda: store_kernel[(1,)](out, value), out)


@pytest.mark.parametrize("value, dtype, plan", [
    (2 ** 31 - 1, np.int64, "pi"), (-2 ** 31, np.int64, "pi"),
    (2 ** 31, np.int64, "pl"), (2 ** 31 + 5, np.int64, "pl"), (-2 ** 31 - 1, np.int64, "pl"),
    (2 ** 40 + 3, np.int64, "pl"), (2 ** 63 - 1, np.int64, "pl"), (-2 ** 63, np.int64, "pl"),
    (2 ** 63, np.uint64, "pl"), (2 ** 64 - 1, np.uint64, "pl"),
    (np.int64(2 ** 40 + 3), np.int64, "pl"), (np.uint64(2 ** 64 - 1), np.uint64, "pl"),
    (np.int32(-7), np.int64, "pi"), (1, np.int64, "px"),
])
def test_ints_get_a_wide_enough_specialisation(value, dtype, plan):
    out = np.full(1, SENTINEL, np.int64).astype(dtype)
    loaded = store_kernel[(1,)](out, value)
    assert loaded.plan == plan and int(out[0]) == int(value)


@pytest.mark.parametrize("value, dtype, plan, expected", [
    (True, np.bool_, "pb", True), (False, np.int8, "pb", 0), (np.bool_(True), np.bool_, "pb", True),
    (2.5, np.float32, "pf", 2.5), (np.float64(2.5), np.float32, "pf", 2.5),
    (np.float32(0.1), np.float32, "pf", np.float32(0.1)), (float("inf"), np.float32, "pf", np.inf),
    (-float("inf"), np.float32, "pf", -np.inf),
])
def test_bool_and_float_scalars(value, dtype, plan, expected):
    out = np.full(1, 7, dtype)
    loaded = store_kernel[(1,)](out, value)
    assert loaded.plan == plan and out[0] == expected


def test_nan_and_negative_zero_keep_their_bits():
    out = np.full(2, SENTINEL, np.float32)
    store_kernel[(1,)](out, float("nan"))
    store_kernel[(1,)](out[1:], -0.0)
    assert np.isnan(out[0]) and out[1] == 0 and np.signbit(out[1])


def test_none_is_folded():
    out = np.full(1, SENTINEL, np.int32)
    assert optional_kernel[(1,)](out, None).plan == "px" and out[0] == -1
    assert optional_kernel[(1,)](out, 9).plan == "pi" and out[0] == 9


def misaligned(dtype, offset=1, n=N):
    """A NumPy array of ``n`` ``dtype`` elements whose address is ``offset`` bytes past an
    aligned one, filled with the sentinel, and the byte buffer it views."""
    itemsize = np.dtype(dtype).itemsize
    buffer = np.zeros(n * itemsize + 128, np.uint8)
    start = -buffer.ctypes.data % 64 + offset
    array = buffer[start:start + n * itemsize].view(dtype)
    array[:] = SENTINEL
    return array, buffer


ALIGNMENT = r"argument '{}': its address 0x[0-9a-f]+ is not a multiple of {}, the size of its {} "


@pytest.mark.parametrize("dtype, offset, signature", [
    (np.float32, 1, "fp32"), (np.float32, 2, "fp32"), (np.float16, 1, "fp16"),
    (np.float64, 4, "fp64"), (np.int64, 6, "i64"),
])
def test_misaligned_host_arrays_are_refused(dtype, offset, signature):
    x, out = arrays(dtype)
    bad, buffer = misaligned(dtype, offset)
    itemsize = np.dtype(dtype).itemsize
    refused(ValueError, ALIGNMENT.format("X", itemsize, signature), lambda: copy_kernel[(1,)](
        bad, out, N, BLOCK=BLOCK), x, out, buffer)
    refused(ValueError, ALIGNMENT.format("OUT", itemsize, signature), lambda: copy_kernel[(1,)](
        x, bad, N, BLOCK=BLOCK), x, out, buffer)
    interface = HostArray(bad.ctypes.data, np.dtype(dtype).str)
    refused(ValueError, ALIGNMENT.format("OUT", itemsize, signature), lambda: copy_kernel[(1,)](
        x, interface, N, BLOCK=BLOCK), x, buffer)


def test_misaligned_torch_cpu_tensors_are_refused():
    torch = pytest.importorskip("torch")
    x, out = arrays()
    storage = bytearray(4 * N + 1)
    bad = torch.frombuffer(storage, dtype=torch.float32, offset=1, count=N)
    refused(ValueError, ALIGNMENT.format("OUT", 4, "fp32"), lambda: copy_kernel[(1,)](
        x, bad, N, BLOCK=BLOCK), x)
    assert storage == bytearray(4 * N + 1)


@pytest.mark.parametrize("pointer, typestr, itemsize, signature", [
    (0x7F0000001001, "<f4", 4, "fp32"), (0x7F0000001002, "<f4", 4, "fp32"),
    (0x7F0000001001, "<f2", 2, "fp16"), (0x7F0000001004, "<i8", 8, "i64"),
])
def test_misaligned_cuda_array_interfaces_are_refused(pointer, typestr, itemsize, signature):
    refused(ValueError, ALIGNMENT.format("X", itemsize, signature), lambda: copy_kernel[(1,)](
        CudaArray(pointer, typestr), CudaArray(0x7F0000002000, typestr), N, BLOCK=BLOCK))


@pytest.mark.parametrize("dtype, offset", [(np.float32, 4), (np.float32, 8), (np.float16, 2),
                                           (np.float64, 8), (np.int8, 3)])
def test_element_aligned_pointers_that_are_not_16_byte_aligned_run(dtype, offset):
    x, _ = arrays(dtype)
    src, _ = misaligned(dtype, offset)
    out, _ = misaligned(dtype, offset)
    src[:] = x
    loaded = copy_kernel[(1,)](src, out, N, BLOCK=BLOCK)
    np.testing.assert_array_equal(out, x)
    assert "tile.divisibility" not in loaded.tile_ir  # neither pointer is assumed 16-aligned
    aligned, aligned_out = misaligned(dtype, 0)[0], misaligned(dtype, 0)[0]
    assert "tile.divisibility = 16" in copy_kernel[(1,)](aligned, aligned_out, N,
                                                         BLOCK=BLOCK).tile_ir


# ==== launch options =============================================================================
@pytest.mark.parametrize("num_warps", [0, 3, 6, 64, -4, 4.5, "4", None, [4]])
def test_bad_num_warps_are_refused(num_warps):
    x, out = arrays()
    refused(ValueError, "copy_kernel: num_warps must be a power of two from 1 to 32, got",
            lambda: copy_kernel[(1,)](x, out, N, BLOCK=BLOCK, num_warps=num_warps), x, out)


@pytest.mark.parametrize("num_stages", [0, -1, 1.5, "3", None, 2 ** 31, float("nan")])
def test_bad_num_stages_are_refused(num_stages):
    x, out = arrays()
    refused(ValueError, r"copy_kernel: num_stages must be an int from 1 to 2\*\*31 - 1, got",
            lambda: copy_kernel[(1,)](x, out, N, BLOCK=BLOCK, num_stages=num_stages), x, out)


def test_extreme_valid_launch_options_run():
    x, out = arrays()
    copy_kernel[(1,)](x, out, N, BLOCK=BLOCK, num_warps=32, num_stages=1)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("option", ["num_ctas", "maxnreg", "stream", "warps", "num_warp"])
def test_unknown_launch_options_are_refused(option):
    x, out = arrays()
    refused(TypeError, f"copy_kernel\\(\\) got an unexpected keyword argument '{option}'",
            lambda: copy_kernel[(1,)](x, out, N, BLOCK=BLOCK, **{option: 1}), x, out)


@pytest.mark.parametrize("device", ["cuda", 0, "cpu:1"])
def test_devices_other_than_cpu_are_refused(device):
    x, out = arrays()
    refused(ValueError, "copy_kernel: device must be 'cpu'", lambda: copy_kernel[(1,)](
        x, out, N, BLOCK=BLOCK, device=device), x, out)
