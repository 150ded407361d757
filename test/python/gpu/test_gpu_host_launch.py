"""Kernels on the host CPU where PyTorch and a GPU are present: PyTorch CPU tensors, and CUDA
tensors with device="cpu" (copied to the host and back, views of one storage kept as views)
give what the GPU launch gives."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import poisoned

torch = require_torch_gpu()

import tessera  # noqa: E402
import tessera.language as tl  # noqa: E402


@tessera.jit
def scale_add_kernel(X, Y, OUT, alpha, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask)
    y = tl.load(Y + offs, mask=mask)
    tl.store(OUT + offs, (alpha * x.to(tl.float32) + y.to(tl.float32)).to(OUT.dtype.element_ty),
             mask=mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_cpu_tensors_match_the_gpu(dtype, randn):
    n = 3000
    x, y = randn(n, dtype=dtype), randn(n, dtype=dtype)
    on_gpu, _ = poisoned((n,), dtype)
    scale_add_kernel[(tessera.cdiv(n, 256),)](x, y, on_gpu, 0.5, n, BLOCK=256)
    on_host = torch.full((n,), float("nan"), dtype=dtype)
    kernel = scale_add_kernel[(tessera.cdiv(n, 256),)](x.cpu(), y.cpu(), on_host, 0.5, n,
                                                       BLOCK=256)
    assert kernel.device == "cpu"
    torch.testing.assert_close(on_host, on_gpu.cpu(), rtol=0, atol=0)


def test_device_cpu_copies_cuda_tensors_and_writes_them_back(randn):
    n = 1000
    storage = randn(2 * n, dtype=torch.float32)
    x, out = storage[:n], storage[n:]  # one storage: the copy keeps them views of one buffer
    expected = 2.0 * x + 1.0
    y = torch.ones(n, device="cuda")
    kernel = scale_add_kernel[(4,)](x, y, out, 2.0, n, BLOCK=256, device="cpu")
    assert kernel.device == "cpu"
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_mixed_devices_are_refused(randn):
    x = randn(64, dtype=torch.float32)
    with pytest.raises(ValueError, match="argument 'Y' is on the host"):
        scale_add_kernel[(1,)](x, x.cpu(), x, 1.0, 64, BLOCK=64)
