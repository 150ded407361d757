"""CUDA C++ kernels compiled by NVRTC and launched on PyTorch tensors (tessera.runtime.cuda_source):
results on random inputs of odd sizes with poisoned outputs, bf16 through <cuda_bf16.h>, dynamic
shared memory, the current PyTorch stream (a CUDA graph captures the launch), the caches, the
autotuner, and argument errors."""
import uuid

import pytest
from gpu_helpers import require_torch_gpu
from poison import assert_guard_untouched, poisoned

torch = require_torch_gpu()

import tessera  # noqa: E402
from tessera.errors import CompilationError  # noqa: E402
from tessera.runtime.autotuner import do_bench  # noqa: E402
from tessera.runtime.cuda_source import CudaConfig, CudaKernel  # noqa: E402

AXPB = r"""
extern "C" __global__ void axpb(const float* x, float* y, float a, float b, int n) {
    extern __shared__ float staged[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    staged[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
#ifdef BROKEN
    this does not compile;
#endif
    if (i < n) y[i] = a * staged[threadIdx.x] + b * SCALE;
}
"""
NAMES = ["x", "y", "a", "b", "n"]


def config(threads=256, scale=2, **defines):
    return CudaConfig(defines={"SCALE": scale, **defines}, num_threads=threads,
                      shared_bytes=4 * threads)


def blocks(n, threads=256):
    return ((n + threads - 1) // threads,)


def unique(source):
    """The source with a comment of its own: a kernel no earlier launch or run has cached."""
    return source + f"// {uuid.uuid4()}\n"


def expected(x, a, b, scale):
    return (a * x.double() + b * scale).float()


@pytest.mark.parametrize("n", [1, 255, 257, 1000, (1 << 20) + 3])
def test_axpb_random_odd_sizes(n, randn):
    kernel = CudaKernel(AXPB, "axpb", "ppffi", arg_names=NAMES)
    x = randn(n, dtype=torch.float32)
    y, buf = poisoned((n,), torch.float32, guard=64)
    kernel[blocks(n)](x, y, 1.75, -0.5, n, config=config())
    torch.cuda.synchronize()
    torch.testing.assert_close(y, expected(x, 1.75, -0.5, 2), rtol=1e-6, atol=1e-6)
    assert_guard_untouched(buf, n)


def test_bf16_through_the_cuda_headers(randn):
    source = r"""
    #include <cuda_bf16.h>
    extern "C" __global__ void scale_bf16(const __nv_bfloat16* x, __nv_bfloat16* y,
                                          float factor, long long n) {
        long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) y[i] = __float2bfloat16(__bfloat162float(x[i]) * factor);
    }
    """
    kernel = CudaKernel(source, "scale_bf16", "ppfl")
    n = 4099
    x = randn(n, dtype=torch.bfloat16)
    y, buf = poisoned((n,), torch.bfloat16, guard=16)
    kernel[blocks(n, 128)](x, y, 0.75, n, config=CudaConfig(num_threads=128))
    torch.cuda.synchronize()
    torch.testing.assert_close(y, (x.float() * 0.75).to(torch.bfloat16), rtol=0, atol=0)
    assert_guard_untouched(buf, n)


def test_grid_from_the_config_and_empty_grids(randn):
    kernel = CudaKernel(AXPB, "axpb", "ppffi", configs=[config(64)])
    n = 3000
    x = randn(n, dtype=torch.float32)
    y, _ = poisoned((n,), torch.float32)
    kernel[lambda c: blocks(n, c.num_threads)](x, y, 2.0, 1.0, n)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, expected(x, 2.0, 1.0, 2), rtol=1e-6, atol=1e-6)
    kernel[(0,)](x, y, 5.0, 5.0, n)  # nothing to launch
    torch.cuda.synchronize()
    torch.testing.assert_close(y, expected(x, 2.0, 1.0, 2), rtol=1e-6, atol=1e-6)


def test_defines_make_distinct_kernels(randn):
    kernel = CudaKernel(AXPB, "axpb", "ppffi")
    n = 1000
    x = randn(n, dtype=torch.float32)
    for scale in (1, 3):
        y, _ = poisoned((n,), torch.float32)
        kernel[blocks(n)](x, y, 1.0, 1.0, n, config=config(scale=scale))
        torch.cuda.synchronize()
        torch.testing.assert_close(y, expected(x, 1.0, 1.0, scale), rtol=1e-6, atol=1e-6)
    assert len(kernel.cache) == 2


def test_second_launch_is_a_cache_hit(randn):
    source = unique(AXPB)
    kernel = CudaKernel(source, "axpb", "ppffi")
    n = 777
    x = randn(n, dtype=torch.float32)
    y = torch.empty_like(x)
    before = tessera.stats()
    kernel[blocks(n)](x, y, 1.0, 0.0, n, config=config())
    first = tessera.stats()
    assert first["compiles"] == before["compiles"] + 1
    kernel[blocks(n)](x, y, 1.0, 0.0, n, config=config())  # found in kernel.cache
    second = tessera.stats()
    assert (second["compiles"], second["memory_hits"]) == (first["compiles"],
                                                          first["memory_hits"])
    assert second["launches"] == first["launches"] + 1
    # Another kernel object of the same source: the runtime's memory cache.
    CudaKernel(source, "axpb", "ppffi")[blocks(n)](x, y, 1.0, 0.0, n, config=config())
    third = tessera.stats()
    assert third["compiles"] == first["compiles"]
    assert third["memory_hits"] == second["memory_hits"] + 1


def test_launches_on_the_current_torch_stream(randn):
    # A launch on any other stream than the capturing one breaks the capture.
    kernel = CudaKernel(AXPB, "axpb", "ppffi")
    n = 5000
    x = randn(n, dtype=torch.float32)
    y = torch.full_like(x, float("nan"))
    kernel[blocks(n)](x, y, 3.0, 0.25, n, config=config())  # load outside the capture
    y.fill_(float("nan"))
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        kernel[blocks(n)](x, y, 3.0, 0.25, n, config=config())
    torch.testing.assert_close(y.isnan().all(), torch.tensor(True, device="cuda"))
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(y, expected(x, 3.0, 0.25, 2), rtol=1e-6, atol=1e-6)


def test_autotuner_picks_among_configs_and_remembers(randn):
    calls = []

    def bench(fn):
        calls.append(fn)
        return do_bench(fn, warmup=1, rep=5)

    good = [config(64), config(128), config(512)]
    broken = config(256, BROKEN=1)
    kernel = CudaKernel(unique(AXPB), "axpb", "ppffi", arg_names=NAMES,
                        configs=good + [broken], key=lambda args: args[4], do_bench=bench)
    n = 10007
    x = randn(n, dtype=torch.float32)
    y, buf = poisoned((n,), torch.float32, guard=64)
    grid = lambda c: blocks(n, c.num_threads)  # noqa: E731
    kernel[grid](x, y, -1.25, 0.5, n)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, expected(x, -1.25, 0.5, 2), rtol=1e-6, atol=1e-6)
    assert_guard_untouched(buf, n)
    assert kernel.best_config in good
    assert set(kernel.configs_timings) == set(good)  # the broken config was skipped
    assert len(calls) == 4

    kernel[grid](x, y, -1.25, 0.5, n)  # the same key: no tuning
    assert len(calls) == 4
    m = 2000
    kernel[lambda c: blocks(m, c.num_threads)](x, y, 1.0, 0.0, m)  # a new key: tuned
    assert len(calls) == 8
    assert set(kernel.tuned) == {(n, 0), (m, 0)}

    # A new kernel object of the same source reads the results from the tuning cache.
    hits = tessera.stats()["tuning_cache_hits"]
    again = CudaKernel(kernel.source, "axpb", "ppffi", configs=good + [broken],
                       key=lambda args: args[4], do_bench=bench)
    again[grid](x, y, -1.25, 0.5, n)
    assert len(calls) == 8
    assert tessera.stats()["tuning_cache_hits"] == hits + 4
    assert again.best_config == kernel.tuned[(n, 0)]


def test_autotuner_restores_in_place_arguments(randn):
    source = r"""
    extern "C" __global__ void add_one(float* x, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) x[i] += 1.0f;
    }
    """
    kernel = CudaKernel(source, "add_one", "pi", arg_names=["x", "n"],
                        configs=[CudaConfig(num_threads=t) for t in (64, 256)],
                        restore_value=["x"], cache_results=False,
                        do_bench=lambda fn: do_bench(fn, warmup=1, rep=5))
    n = 1001
    x = randn(n, dtype=torch.float32)
    reference = x + 1
    kernel[lambda c: blocks(n, c.num_threads)](x, n)
    torch.cuda.synchronize()
    torch.testing.assert_close(x, reference, rtol=0, atol=0)  # one increment, not hundreds


def test_every_config_failing_raises():
    kernel = CudaKernel(unique(AXPB), "axpb", "ppffi",
                        configs=[config(64, BROKEN=1), config(128, BROKEN=1)])
    x = torch.ones(10, device="cuda")
    with pytest.raises(RuntimeError, match="no config could run") as info:
        kernel[(1,)](x, x, 1.0, 1.0, 10)
    assert str(info.value).count("does not compile") == 2


def test_compile_error_at_launch_carries_the_log():
    kernel = CudaKernel(AXPB, "axpb", "ppffi")
    x = torch.ones(10, device="cuda")
    with pytest.raises(CompilationError, match='identifier "SCALE" is undefined'):
        kernel[(1,)](x, x, 1.0, 1.0, 10, config=CudaConfig())


def test_wrong_arguments():
    kernel = CudaKernel(AXPB, "axpb", "ppffi", arg_names=NAMES, configs=[config()])
    x = torch.ones(10, device="cuda")
    with pytest.raises(ValueError, match="axpb: y is a tensor on cpu; CUDA kernels need CUDA"):
        kernel[(1,)](x, torch.ones(10), 1.0, 1.0, 10)
    with pytest.raises(TypeError, match="axpb: x must be a CUDA tensor \\(a pointer\\), got "
                                        "float"):
        kernel[(1,)](1.0, x, 1.0, 1.0, 10)
    with pytest.raises(TypeError, match="axpb: b must be a float, got Tensor"):
        kernel[(1,)](x, x, 1.0, x, 10)
    with pytest.raises(TypeError, match="takes 5 arguments"):
        kernel[(1,)](x, x, 1.0, 1.0)
    wrong = CudaKernel(AXPB, "axpb", "ppff", configs=[config()])
    with pytest.raises(ValueError, match="signature 'ppff'.*4 parameters but the kernel has 5"):
        wrong[(1,)](x, x, 1.0, 1.0)
    if torch.cuda.device_count() > 1:
        other = torch.ones(10, device="cuda:1")
        with pytest.raises(ValueError, match="y is on cuda:1 but x is on cuda:0"):
            kernel[(1,)](x, other, 1.0, 1.0, 10)
