"""Helpers shared by the op test modules (import as ``op_helpers``; never import conftest)."""
import os

import pytest


def require_torch():
    """torch, or a module-level skip with the reason where PyTorch is missing (a failure under
    CI, whose setup installs it)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            raise RuntimeError("PyTorch is not installed; scripts/setup.sh installs it for the "
                               "op tests") from None
        pytest.skip("PyTorch is not installed", allow_module_level=True)
    return torch


def synchronize(device):
    """Waits for the kernels launched on ``device`` (nothing to wait for on the CPU)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def poisoned_call(device, out_shape, out_dtype, fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the memory its output (``out_shape``, ``out_dtype``) will take
    filled with NaN first. On a GPU the caching allocator is emptied and a NaN tensor of the
    output's size allocated and freed, so that the op's output reuses its block; on the CPU the
    conftest already makes every new tensor NaN. (Its own parameters are positional-only, so that
    ``kwargs`` may hold the op's ``dtype=``.)"""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        numel = 1
        for size in out_shape:
            numel *= size
        torch.full((numel,), float("nan"), dtype=out_dtype, device=device)  # freed at once
    out = fn(*args, **kwargs)
    synchronize(device)
    return out
