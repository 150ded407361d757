"""A bad-input sweep of ``kernel[grid](...)`` with CUDA memory: PyTorch CUDA tensors (which the C++
fast launch path, tessera._C.Launcher, classifies itself) and ``__cuda_array_interface__``
objects over them (which the Python launcher classifies). The host backend's cases are in
test/python/cpu/test_launch_bad_inputs.py. Every case checks a clear exception (its type and a
message naming the argument, or the grid, and what was expected), never a crash, a hang, a
CUDA error or a write.

Covered:
- grids, as a tuple, from a grid callable and through ``kernel.run(grid=...)``: negative sizes,
  sizes that are not ints (float, str, None, bool, a list), no dimension or more than 3, grids
  that are no sequence, sizes of 2**32 and more; a 0 size launches nothing;
- CUDA's grid limits (x up to 2**31 - 1, y and z up to 65535): refused before the launch, with
  a message naming them, through the Python launcher (interface objects) and the fast path (torch
  tensors); y and z of 65535 run;
- arguments: too few, too many, repeated and unknown keywords, a missing constexpr or grid (the
  cases of launch_cases.py, which the host tier shares), a constexpr given a CUDA tensor,
  objects that are no tensor for a pointer, CPU tensors and NumPy arrays beside CUDA tensors, a
  tensor on the meta device, complex64 (float64 and bfloat16 run), ints outside
  -2**63..2**64 - 1, ints past int32 (an int64 specialisation storing the exact value, uint64
  beyond 2**63 - 1), pointers that are not a multiple of their element size (refused, naming the
  argument) and pointers that are element-aligned but not 16-byte aligned (run, results exact);
- launch options: num_warps not a power of two from 1 to 32, num_stages below 1, unknown
  options;
- ``__cuda_array_interface__`` objects with no ``__dlpack_device__`` (as Numba's arrays): run on
  the device the driver says holds their memory; over host memory, refused naming the argument;
- with two GPUs, tensors on cuda:0 and cuda:1 in one launch (the kernel touches no memory, so
  a launch that is not refused is harmless).

Every tensor given to a refused launch is filled first (a sentinel, or its input values) and
must be unchanged after the error, and the runtime's launch count must not move.
"""
import numpy as np
import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import launch_cases  # noqa: E402
import tessera  # noqa: E402
from launch_cases import copy_kernel, store_kernel  # noqa: E402

N = 1000
BLOCK = 256
SENTINEL = -77.0


class CudaArray:
    """A ``__cuda_array_interface__`` over a CUDA tensor's memory, ``offset`` bytes in; such
    arguments take the Python launcher."""

    def __init__(self, tensor, offset=0):
        self.tensor = tensor  # keeps the memory alive
        typestr = np.dtype(str(tensor.dtype).replace("torch.", "")).str
        self.interface = {"data": (tensor.data_ptr() + offset, False), "typestr": typestr,
                          "shape": tuple(tensor.shape), "version": 3}

    @property
    def __cuda_array_interface__(self):
        return self.interface

    def __dlpack_device__(self):
        return (2, self.tensor.get_device())


class InterfaceOnly:
    """Memory seen only through ``__cuda_array_interface__``, with no ``__dlpack_device__`` (as
    Numba's device arrays): the launcher asks the driver which device holds it."""

    def __init__(self, pointer, keep=None):
        self.keep = keep  # keeps the memory alive
        self.interface = {"data": (pointer, False), "typestr": "<f4", "shape": (N,),
                          "version": 3}

    @property
    def __cuda_array_interface__(self):
        return self.interface


def tensors(dtype=torch.float32, n=N, device="cuda"):
    """(x, out): an input counting up and an output full of the sentinel."""
    return (torch.arange(n, device=device).to(dtype),
            torch.full((n,), SENTINEL, dtype=dtype, device=device))


def launches():
    torch.cuda.synchronize()
    return tessera.stats()["launches"]


def refused(error, match, launch, *written):
    """Runs ``launch``, which must raise ``error`` matching ``match`` without launching
    anything, and checks that every tensor in ``written`` is unchanged."""
    before = [tensor.clone() for tensor in written]
    count = launches()
    with pytest.raises(error, match=match):
        launch()
    assert launches() == count, "a refused launch launched a kernel"
    for tensor, content in zip(written, before):
        assert torch.equal(tensor, content), "a refused launch changed an argument"


def launch_forms(kernel):
    """kernel[grid](...) and kernel.run(..., grid=grid), each with a tuple and with a grid
    callable returning it: functions (grid, *args, **kwargs)."""
    return {
        "tuple": lambda grid, *args, **kwargs: kernel[grid](*args, **kwargs),
        "callable": lambda grid, *args, **kwargs: kernel[lambda meta: grid](*args, **kwargs),
        "run": lambda grid, *args, **kwargs: kernel.run(*args, grid=grid, **kwargs),
    }


def as_arguments(kind, x, out):
    """The launch's pointer arguments: the tensors (the fast path) or interface objects over
    them (the Python launcher)."""
    return (x, out) if kind == "torch" else (CudaArray(x), CudaArray(out))


# ==== grids ======================================================================================
SIZES = r"grid dimensions must be ints from 0 to 2\*\*32 - 1"
AN_INT = "grid dimension {} must be an int"
BAD_GRIDS = {
    "negative": ((-1,), TypeError, SIZES),
    "negative-z": ((1, 1, -3), TypeError, SIZES),
    "float": ((4.0,), TypeError, AN_INT.format(0) + r".*tessera\.cdiv"),
    "fraction": ((N / BLOCK,), TypeError, AN_INT.format(0)),
    "str": (("4",), TypeError, AN_INT.format(0)),
    "none": ((1, None), TypeError, AN_INT.format(1)),
    "bool": ((True,), TypeError, AN_INT.format(0) + r", got True \(bool\)"),
    "list": (([4],), TypeError, AN_INT.format(0)),
    "no-dimension": ((), ValueError, "1 to 3 dimensions"),
    "four-dimensions": ((4, 1, 1, 1), ValueError, "1 to 3 dimensions"),
    "int": (4, TypeError, r"a grid must be a tuple of 1 to 3 ints.*got 4 \(int\)"),
    "none-grid": (None, TypeError, r"got None \(NoneType\)"),
    "2**32": ((2 ** 32,), TypeError, SIZES),
}


@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("form", ["tuple", "callable", "run"])
@pytest.mark.parametrize("case", BAD_GRIDS)
def test_bad_grids_are_refused(case, form, kind):
    grid, error, match = BAD_GRIDS[case]
    x, out = tensors()
    launch = launch_forms(copy_kernel)[form]
    refused(error, match, lambda: launch(grid, *as_arguments(kind, x, out), N, BLOCK=BLOCK),
            x, out)


@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("grid", [(0,), (0, 3), (4, 1, 0)])
def test_a_zero_grid_launches_nothing(grid, kind):
    x, out = tensors()
    copy_kernel[(1,)](*as_arguments(kind, x, out), 0, BLOCK=BLOCK)  # loaded before counting
    count = launches()
    copy_kernel[grid](*as_arguments(kind, x, out), N, BLOCK=BLOCK)
    assert launches() == count
    assert bool((out == SENTINEL).all())


BEYOND_CUDA = [(2 ** 31,), (2 ** 32 - 1,), (1, 65536), (1, 1, 65536)]
CUDA_LIMITS = r"is beyond CUDA's limits: x up to 2\*\*31 - 1, y and z up to 65535"


@pytest.mark.parametrize("grid", BEYOND_CUDA)
@pytest.mark.parametrize("form", ["tuple", "callable", "run"])
def test_grids_beyond_cuda_limits_are_refused_by_the_python_launcher(grid, form):
    x, out = tensors()
    refused(ValueError, CUDA_LIMITS, lambda: launch_forms(copy_kernel)[form](
        grid, CudaArray(x), CudaArray(out), N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("grid", BEYOND_CUDA)
@pytest.mark.parametrize("form", ["tuple", "callable", "run"])
def test_grids_beyond_cuda_limits_are_refused_by_the_fast_path(grid, form):
    x, out = tensors()
    refused(ValueError, CUDA_LIMITS, lambda: launch_forms(copy_kernel)[form](
        grid, x, out, N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("grid", [(1, 65535), (1, 1, 65535), (1, 255, 257)])
def test_grids_at_cuda_limits_run(grid, kind):
    x, out = tensors()
    copy_kernel[grid](*as_arguments(kind, x, out), BLOCK, BLOCK=BLOCK)  # every program: block 0
    torch.cuda.synchronize()
    assert torch.equal(out[:BLOCK], x[:BLOCK]) and bool((out[BLOCK:] == SENTINEL).all())


# ==== arguments ==================================================================================
BINDING = {
    **launch_cases.BINDING,
    "constexpr-tensor": (lambda x, out: copy_kernel[(4,)](x, out, N, BLOCK=torch.tensor(
        BLOCK, device="cuda")), "constexpr 'BLOCK' must be a compile-time value, got a Tensor"),
    "constexpr-array": (lambda x, out: copy_kernel[(4,)](x, out, N, BLOCK=np.array(BLOCK)),
                        "constexpr 'BLOCK' must be hashable"),
    "object-pointer": (lambda x, out: copy_kernel[(4,)](object(), out, N, BLOCK=BLOCK),
                       "argument 'X': unsupported kernel argument type object"),
    "list-pointer": (lambda x, out: copy_kernel[(4,)](x, [0.0] * N, N, BLOCK=BLOCK),
                     "argument 'OUT': unsupported kernel argument type list"),
    "num-ctas": (lambda x, out: copy_kernel[(4,)](x, out, N, BLOCK=BLOCK, num_ctas=1),
                 "unexpected keyword argument 'num_ctas'"),
}


@pytest.mark.parametrize("case", BINDING)
def test_bad_arguments_are_refused(case):
    launch, match = BINDING[case]
    x, out = tensors()
    refused(TypeError, match, lambda: launch(x, out), x, out)


HOST_AND_CUDA = r"a launch takes host arrays or CUDA memory, not both"


def test_host_memory_beside_cuda_tensors_is_refused():
    x, out = tensors()
    host_x, host_out = tensors(device="cpu")
    refused(ValueError, r"argument 'OUT' is on the host \(CPU\) but earlier arguments are on CUDA "
            "device 0; " + HOST_AND_CUDA, lambda: copy_kernel[(4,)](x, host_out, N, BLOCK=BLOCK),
            x, host_out)
    refused(ValueError, r"argument 'OUT' is on CUDA device 0 but earlier arguments are on the "
            r"host \(CPU\); " + HOST_AND_CUDA, lambda: copy_kernel[(4,)](host_x, out, N,
                                                                           BLOCK=BLOCK),
            host_x, out)
    array = np.full(N, SENTINEL, np.float32)
    refused(ValueError, "argument 'OUT' is on the host", lambda: copy_kernel[(4,)](
        x, array, N, BLOCK=BLOCK), x)
    assert bool((array == SENTINEL).all())


def test_meta_and_complex_tensors_are_refused():
    x, out = tensors()
    refused(ValueError, "argument 'X': a tensor on meta was passed", lambda: copy_kernel[(4,)](
        torch.empty(N, device="meta"), out, N, BLOCK=BLOCK), out)
    refused(TypeError, "argument 'X': unsupported tensor dtype torch.complex64",
            lambda: copy_kernel[(4,)](x.to(torch.complex64), out, N, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.int64])
def test_other_dtypes_run(dtype):
    x, out = tensors(dtype)
    copy_kernel[(4,)](x, out, N, BLOCK=BLOCK)
    torch.cuda.synchronize()
    assert torch.equal(out, x)


@pytest.mark.parametrize("value", [2 ** 64, -2 ** 63 - 1, 10 ** 30])
def test_ints_beyond_64_bits_are_refused(value):
    out = torch.full((1,), -77, dtype=torch.int64, device="cuda")
    refused(ValueError, r"argument 'value': integer -?\d+ does not fit in 64 bits",
            lambda: store_kernel[(1,)](out, value), out)


@pytest.mark.parametrize("value, plan", [
    (2 ** 31 - 1, "pi"), (-2 ** 31, "pi"), (2 ** 31, "pl"), (2 ** 31 + 5, "pl"),
    (-2 ** 31 - 1, "pl"), (2 ** 40 + 3, "pl"), (2 ** 63 - 1, "pl"), (-2 ** 63, "pl"),
])
def test_ints_past_int32_get_an_int64_specialisation(value, plan):
    out = torch.full((1,), -77, dtype=torch.int64, device="cuda")
    assert store_kernel[(1,)](out, value).plan == plan
    assert out.item() == value


def test_ints_past_int64_get_a_uint64_specialisation():
    out = torch.zeros(1, dtype=torch.int64, device="cuda")
    assert store_kernel[(1,)](out.view(torch.uint64), 2 ** 64 - 5).plan == "pl"
    assert out.item() == -5  # the same 64 bits


ALIGNMENT = r"argument '{}': its address 0x[0-9a-f]+ is not a multiple of {}, the size of its {} "


def test_interface_objects_without_a_device_run_where_their_memory_is():
    x, out = tensors()
    copy_kernel[(4,)](InterfaceOnly(x.data_ptr(), x), InterfaceOnly(out.data_ptr(), out), N,
                      BLOCK=BLOCK)
    torch.cuda.synchronize()
    assert torch.equal(out, x)


def test_interface_objects_over_host_memory_are_refused():
    x, out = tensors()
    host = np.zeros(N, dtype=np.float32)
    refused(ValueError, r"copy_kernel: argument 'X': its __cuda_array_interface__ data pointer "
            r"0x[0-9a-f]+ is not CUDA memory \(the driver does not know the address\)",
            lambda: copy_kernel[(4,)](InterfaceOnly(host.ctypes.data, host), out, N,
                                      BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("dtype, offset, signature", [
    (torch.float32, 1, "fp32"), (torch.float32, 2, "fp32"), (torch.float16, 1, "fp16"),
    (torch.float64, 4, "fp64"),
])
def test_misaligned_pointers_are_refused(dtype, offset, signature):
    x, out = tensors(dtype)
    size = x.element_size()
    refused(ValueError, ALIGNMENT.format("X", size, signature), lambda: copy_kernel[(4,)](
        CudaArray(x, offset), out, N - 1, BLOCK=BLOCK), x, out)
    refused(ValueError, ALIGNMENT.format("OUT", size, signature), lambda: copy_kernel[(4,)](
        x, CudaArray(out, offset), N - 1, BLOCK=BLOCK), x, out)


@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("dtype, offset", [(torch.float32, 1), (torch.float32, 2),
                                           (torch.float16, 1), (torch.float64, 1)])
def test_element_aligned_pointers_that_are_not_16_byte_aligned_run(dtype, offset, kind):
    x, out = tensors(dtype)
    n = N - offset
    loaded = copy_kernel[(4,)](*as_arguments(kind, x[offset:], out[offset:]), n, BLOCK=BLOCK)
    torch.cuda.synchronize()
    assert torch.equal(out[offset:], x[offset:]) and bool((out[:offset] == SENTINEL).all())
    assert "tile.divisibility" not in loaded.tile_ir  # no pointer assumed 16-byte aligned


# ==== launch options =============================================================================
@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("num_warps", [0, 3, 64, -4, 4.5, "4"])
def test_bad_num_warps_are_refused(num_warps, kind):
    x, out = tensors()
    refused(ValueError, "copy_kernel: num_warps must be a power of two from 1 to 32",
            lambda: copy_kernel[(4,)](*as_arguments(kind, x, out), N, BLOCK=BLOCK,
                                      num_warps=num_warps), x, out)


@pytest.mark.parametrize("kind", ["torch", "interface"])
@pytest.mark.parametrize("num_stages", [0, -1, 1.5, None])
def test_bad_num_stages_are_refused(num_stages, kind):
    x, out = tensors()
    refused(ValueError, r"copy_kernel: num_stages must be an int from 1 to 2\*\*31 - 1",
            lambda: copy_kernel[(4,)](*as_arguments(kind, x, out), N, BLOCK=BLOCK,
                                      num_stages=num_stages), x, out)


# ==== two GPUs ===================================================================================
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
@pytest.mark.parametrize("kind", ["torch", "interface"])
def test_tensors_on_two_gpus_are_refused(kind):
    x, _ = tensors()
    _, out = tensors(device="cuda:1")
    # n = 0: every access is masked off, so a launch that is not refused touches no memory.
    with pytest.raises(ValueError, match=r"argument 'OUT' is on CUDA device 1 but earlier "
                       "arguments are on CUDA device 0; a launch runs on one GPU"):
        copy_kernel[(4,)](*as_arguments(kind, x, out), 0, BLOCK=BLOCK)
    torch.cuda.synchronize(0)
    torch.cuda.synchronize(1)
    assert bool((out == SENTINEL).all())
