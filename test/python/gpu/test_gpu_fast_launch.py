"""The C++ launch path of @tessera.jit kernels (tessera._C.Launcher, python/src/fast_launch.cpp) on
the GPU: launches through it with torch tensors, tessera.DeviceBuffers, ints (equal to 1,
divisible by 16 or not), floats, bools and None compute the right results with the
specialisation the Python launcher chooses; arguments it leaves to the Python launcher (CUDA
array interface, DLPack) mix with those it handles; a changed dtype or alignment is a new
specialisation; launches go on torch's current stream, read at each launch; threads launch
concurrently."""
import contextlib
import sys
import threading

import numpy as np
import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402
import tessera.language as tl  # noqa: E402


@tessera.jit
def axpby(X, Y, Out, n, alpha, beta, negate, bias, BLOCK: tl.constexpr):
    """Out = alpha * X + beta * Y (+ bias unless None), negated when `negate`; n elements."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    value = alpha * tl.load(X + offs, mask=mask) + beta * tl.load(Y + offs, mask=mask)
    if bias is not None:
        value = value + bias
    if negate:
        value = -value
    tl.store(Out + offs, value, mask=mask)


BLOCK = 256


@contextlib.contextmanager
def python_launcher_calls(kernel):
    """Counts the calls of the kernel's Python launcher (the C++ launcher's fallback): yields a
    list that holds one entry per call once the block ends."""
    calls, code, previous = [], kernel._python_launcher.__code__, sys.getprofile()

    def count(frame, event, arg):
        if event == "call" and frame.f_code is code:
            calls.append(frame)

    sys.setprofile(count)
    try:
        yield calls
    finally:
        sys.setprofile(previous)


def reference(x, y, alpha, beta, negate, bias):
    value = alpha * x.double() + beta * y.double() + (0 if bias is None else bias)
    return -value if negate else value


def launch_and_check(x, y, out, n, alpha, beta, negate, bias, *, fast=True, host=None):
    """Launches axpby (through the C++ launcher when `fast`), checks the specialisation against the
    Python launcher's and returns the LoadedKernel. `host` reads a DeviceBuffer back."""
    grid = (tessera.cdiv(n, BLOCK),)
    with python_launcher_calls(axpby) as calls:
        loaded = axpby[grid](x, y, out, n, alpha, beta, negate, bias, BLOCK=BLOCK)
    assert (calls == []) == fast, f"Python launcher calls: {len(calls)}"
    # The Python launcher's key finds the same specialisation (and launches it again).
    assert axpby._python_launcher(x, y, out, n, alpha, beta, negate, bias, BLOCK=BLOCK,
                                  grid=grid) is loaded
    classified = axpby.run.classify(x, y, out, n, alpha, beta, negate, bias, BLOCK=BLOCK)
    assert (classified is not None) == fast
    if classified is not None:
        assert axpby.cache[classified[0]] is loaded and classified[1] == loaded.plan
    torch.cuda.synchronize()
    return loaded


# (rtol, atol): a few roundings of terms up to |16 x| ~ 80 (fp16 products round to fp16).
TOLERANCES = {torch.float32: (1e-5, 5e-5), torch.float16: (2e-3, 5e-2)}


def check(out, x, y, n, alpha, beta, negate, bias):
    expected = reference(x[:n], y[:n], alpha, beta, negate, bias)
    rtol, atol = TOLERANCES[out.dtype]
    torch.testing.assert_close(out[:n].double(), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("n", [1, 1000, 1024])  # folded, not divisible by 16, divisible
@pytest.mark.parametrize("alpha, beta, negate, bias", [
    (1, 0.5, False, None), (16, -2.0, True, None), (3, 1.5, False, 0.25), (2.5, 1.0, True, 7),
    (-7, 0.0, False, 1),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_torch_tensors(n, alpha, beta, negate, bias, dtype, randn):
    x, y = randn(n, dtype=dtype), randn(n, dtype=dtype)
    out = torch.full((n,), float("nan"), dtype=dtype, device="cuda")
    launch_and_check(x, y, out, n, alpha, beta, negate, bias)
    check(out, x, y, n, alpha, beta, negate, bias)


@pytest.mark.parametrize("n", [1, 1000, 1024])
@pytest.mark.parametrize("alpha, bias", [(1, None), (16, 0.5), (3, 2)])
def test_device_buffers(n, alpha, bias):
    rng = np.random.default_rng(n + alpha)
    x_host = rng.standard_normal(n, dtype=np.float32)
    y_host = rng.standard_normal(n, dtype=np.float32)
    x, y = tessera.from_numpy(x_host), tessera.from_numpy(y_host)
    out = tessera.from_numpy(np.full(n, np.nan, dtype=np.float32))
    launch_and_check(x, y, out, n, alpha, 0.75, True, bias)
    got = torch.from_numpy(out.numpy())
    check(got, torch.from_numpy(x_host), torch.from_numpy(y_host), n, alpha, 0.75, True, bias)


def test_buffers_and_tensors_mixed(randn):
    n = 4096
    x = randn(n, dtype=torch.float32)
    y_host = np.random.default_rng(5).standard_normal(n, dtype=np.float32)
    y = tessera.from_numpy(y_host)
    out = torch.full((n,), float("nan"), device="cuda")
    launch_and_check(x, y, out, n, 2, 0.5, False, None)
    check(out, x, torch.from_numpy(y_host).cuda(), n, 2, 0.5, False, None)


class CudaArray:
    """A torch tensor seen only through __cuda_array_interface__ (left to the Python launcher)."""

    def __init__(self, tensor):
        self.tensor = tensor

    @property
    def __cuda_array_interface__(self):
        return self.tensor.__cuda_array_interface__


class DLPackArray:
    """A torch tensor seen only through DLPack (left to the Python launcher)."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __dlpack__(self, stream=None):
        return self.tensor.__dlpack__()

    def __dlpack_device__(self):
        return self.tensor.__dlpack_device__()


def test_arguments_left_to_python_mix_with_the_others(randn):
    n = 5000
    x, y = randn(n, dtype=torch.float32), randn(n, dtype=torch.float32)
    out = torch.full((n,), float("nan"), device="cuda")
    loaded = launch_and_check(CudaArray(x), DLPackArray(y), out, n, 3, 1.5, False, 0.5,
                              fast=False)
    check(out, x, y, n, 3, 1.5, False, 0.5)
    out.fill_(float("nan"))
    # The same specialisation from torch tensors: the C++ launcher finds it.
    assert launch_and_check(x, y, out, n, 3, 1.5, False, 0.5) is loaded
    check(out, x, y, n, 3, 1.5, False, 0.5)


def test_changed_dtype_or_alignment_is_a_new_specialisation(randn):
    n = 4096
    axpby.cache.clear()
    kernels = []
    for dtype, offset in [(torch.float32, 0), (torch.float16, 0), (torch.float32, 1),
                          (torch.float32, 0)]:
        # A view `offset` elements into its buffer: 4 bytes off for fp32, not 16-byte aligned.
        x = randn(n + offset, dtype=dtype)[offset:]
        y = randn(n + offset, dtype=dtype)[offset:]
        out = torch.full((n + offset,), float("nan"), dtype=dtype, device="cuda")[offset:]
        kernels.append(launch_and_check(x, y, out, n, 2, 0.5, False, None))
        check(out, x, y, n, 2, 0.5, False, None)
    assert len({id(k) for k in kernels}) == 3 and kernels[0] is kernels[3]
    assert len(axpby.cache) == 3
    key = axpby.run.classify(x[1:], y, out, n, 2, 0.5, False, None, BLOCK=BLOCK)[0]
    assert key[0] == ("*fp32", False) and key[1] == ("*fp32", True)


def test_launches_go_on_the_current_torch_stream(randn):
    n = 1 << 22
    grid = (tessera.cdiv(n, BLOCK),)
    sources = [randn(n, dtype=torch.float32) for _ in range(2)]
    y = randn(n, dtype=torch.float32)
    torch.cuda.synchronize()
    streams = [torch.cuda.Stream(), torch.cuda.Stream()]  # neither synchronised with the other
    results = []
    with python_launcher_calls(axpby) as calls:
        for round_ in range(2):
            for stream, source in zip(streams, sources):
                x = torch.zeros(n, device="cuda")
                out = torch.full((n,), float("nan"), device="cuda")
                torch.cuda.synchronize()
                with torch.cuda.stream(stream):
                    torch.cuda._sleep(20_000_000)  # spin before x gets its values
                    x.copy_(source)
                    axpby[grid](x, y, out, n, 1, 1.0, False, None, BLOCK=BLOCK)  # after the copy
                results.append((stream, x, out, source))
    assert calls == []
    for stream, _, out, source in results:
        stream.synchronize()
        torch.testing.assert_close(out, source + y, rtol=0, atol=0)


def test_threads_launch_concurrently(randn):
    n = 1 << 16
    grid = (tessera.cdiv(n, BLOCK),)
    x, y = randn(n, dtype=torch.float32), randn(n, dtype=torch.float32)
    outs = [torch.full((n,), float("nan"), device="cuda") for _ in range(4)]
    axpby[grid](x, y, outs[0], n, 1, 1.0, False, None, BLOCK=BLOCK)  # loaded before the threads
    errors = []

    def launch_many(index):
        try:
            for i in range(300):
                axpby[grid](x, y, outs[index], n, index + 2, 0.5, i % 2 == 1, None, BLOCK=BLOCK)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=launch_many, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    torch.cuda.synchronize()
    assert errors == []
    for index, out in enumerate(outs):
        check(out, x, y, n, index + 2, 0.5, True, None)  # the last launch of each thread negates


def test_each_call_is_one_runtime_launch(randn):
    n = 1024
    x, y = randn(n, dtype=torch.float32), randn(n, dtype=torch.float32)
    out = torch.empty_like(x)
    axpby[(4,)](x, y, out, n, 1, 1.0, False, None, BLOCK=BLOCK)
    before = tessera.stats()["launches"]
    for _ in range(100):
        axpby[(4,)](x, y, out, n, 1, 1.0, False, None, BLOCK=BLOCK)
    axpby[(0,)](x, y, out, n, 1, 1.0, False, None, BLOCK=BLOCK)  # an empty grid launches nothing
    assert tessera.stats()["launches"] - before == 100
