"""GPU tier helpers. Each test module skips itself (module level, with the reason) when PyTorch or a
CUDA GPU is missing; the fixtures here import torch only when a test asks for them."""
import zlib

import pytest


@pytest.fixture
def gen(request):
    """A CUDA generator seeded from the test's id: random inputs, reproducible per test."""
    import torch

    return torch.Generator(device="cuda").manual_seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def randn(gen):
    """randn(*shape, dtype=..., scale=1.0, shift=0.0, device="cuda"): normal samples, never all zero;
    drawn in fp32 then rounded to dtype."""
    import torch

    def make(*shape, dtype, scale=1.0, shift=0.0, device="cuda"):
        g = gen if torch.device(device) == torch.device("cuda") else \
            torch.Generator(device=device).manual_seed(gen.initial_seed())
        x = torch.randn(tuple(shape), device=device, dtype=torch.float32, generator=g)
        return (x * scale + shift).to(dtype)

    return make
