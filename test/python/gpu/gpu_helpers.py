"""Helpers shared by the GPU test modules (import as `gpu_helpers`; never import conftest)."""
import pytest


def require_torch_gpu(min_devices=1):
    """torch, or a module-level skip with the reason when PyTorch or enough CUDA GPUs are missing."""
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed (the GPU tier runs on GPU hosts)")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to PyTorch", allow_module_level=True)
    if torch.cuda.device_count() < min_devices:
        pytest.skip(f"needs {min_devices} CUDA GPUs, found {torch.cuda.device_count()}",
                    allow_module_level=True)
    return torch


def cuda_device_count():
    """CUDA devices seen by the driver (0 without a driver), asked through libcuda, not PyTorch."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value
