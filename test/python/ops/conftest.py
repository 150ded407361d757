"""The op library's numerics tests, run on every device there is.

Each test takes the ``device`` fixture and runs once per device: ``"cpu"`` always (the ops'
kernels compiled for the host, as ``device="cpu"`` launches are: this is how CI checks the
numerics of every op without a GPU), and ``"cuda"`` where PyTorch sees a GPU.
``TESSERA_TEST_DEVICES`` (comma-separated, e.g. ``cuda``) narrows the list.

Cases too large or too GPU-specific for the host carry ``@pytest.mark.cuda_only``, on the test or
on one parameter value (``pytest.param(70000, marks=pytest.mark.cuda_only)``); they are not
collected for the CPU (deselected, not skipped).

On the CPU, memory that PyTorch allocates and does not initialise is filled with NaN (or the
largest integer), so an output element the kernel does not write fails the comparison, as the
GPU tests get by poisoning the caching allocator (``op_helpers.poisoned_call``).
"""
import os
import zlib

import pytest

DEVICES_VARIABLE = "TESSERA_TEST_DEVICES"


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda_only: the case runs on CUDA devices only")


def available_devices():
    """The devices the op tests run on here: the CPU, and CUDA where PyTorch sees a GPU."""
    try:
        import torch
    except ImportError:
        return []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    wanted = os.environ.get(DEVICES_VARIABLE)
    if wanted:
        devices = [d for d in devices if d in wanted.split(",")]
    return devices


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", available_devices())


def pytest_collection_modifyitems(config, items):
    kept, cuda_only_on_cpu = [], []
    for item in items:
        device = getattr(item, "callspec", None) and item.callspec.params.get("device")
        if device == "cpu" and item.get_closest_marker("cuda_only") is not None:
            cuda_only_on_cpu.append(item)
        else:
            kept.append(item)
    if cuda_only_on_cpu:
        config.hook.pytest_deselected(items=cuda_only_on_cpu)
        items[:] = kept


@pytest.fixture(autouse=True)
def host_test_settings(request):
    """PyTorch computes the references on one thread: its intra-op threads only slow down the
    many small tensor ops of the float64 references (ten times and more where the cores are
    shared, as by the GPU tier's parallel pytest processes, whose CUDA tests step some
    references on the CPU). On the CPU, ``torch.empty`` and friends also give NaN (integers:
    their largest value) for the duration of the test."""
    import torch
    import torch.utils.deterministic

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    device = getattr(request.node, "callspec", None) and request.node.callspec.params.get("device")
    on_cpu = device == "cpu"
    if on_cpu:
        saved = (torch.are_deterministic_algorithms_enabled(),
                 torch.is_deterministic_algorithms_warn_only_enabled(),
                 torch.utils.deterministic.fill_uninitialized_memory)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = True
    yield
    if on_cpu:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.utils.deterministic.fill_uninitialized_memory = saved[2]
    torch.set_num_threads(threads)


@pytest.fixture
def gen(request, device):
    """A generator on ``device`` seeded from the test's id: random inputs, reproducible per
    test."""
    import torch

    return torch.Generator(device=device).manual_seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def randn(gen, device):
    """randn(*shape, dtype=..., scale=1.0, shift=0.0, device=<the test's>): normal samples, never
    all zero; drawn in fp32 then rounded to dtype."""
    import torch

    def make(*shape, dtype, scale=1.0, shift=0.0, device=device):
        g = gen if torch.device(device).type == gen.device.type else \
            torch.Generator(device=device).manual_seed(gen.initial_seed())
        x = torch.randn(tuple(shape), device=device, dtype=torch.float32, generator=g)
        return (x * scale + shift).to(dtype)

    return make


@pytest.fixture
def exact_fp32_matmul():
    """fp32 products in IEEE fp32, not TF32, whatever an earlier test set (for fp32 references);
    a module opts in with ``pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")``."""
    import torch

    saved = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(saved)
