"""Vector add on the GPU against PyTorch: fp32 and bf16, 2^28 elements and tails."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import assert_guard_untouched, poisoned

torch = require_torch_gpu()

import vector_add  # noqa: E402

DTYPES = [torch.float32, torch.bfloat16]
SIZES = [1 << 28, (1 << 20) + 7, 1 << 20, 1, 17, 1000]


def check(out, x, y):
    if out.dtype == torch.float32:
        # one IEEE fp32 add per element, as torch.add does: bit-identical
        torch.testing.assert_close(out, x + y, rtol=0, atol=0)
    else:
        # one rounding of the exact sum to bf16: within half an ulp (2^-9 relative)
        torch.testing.assert_close(out.float(), x.float() + y.float(), rtol=2.0 ** -8, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("n", SIZES)
def test_vector_add(n, dtype, randn):
    x, y = randn(n, dtype=dtype), randn(n, dtype=dtype)
    out, buf = poisoned((n,), dtype, guard=64)
    result = vector_add.add(x, y, out=out)
    torch.cuda.synchronize()
    assert result.data_ptr() == out.data_ptr()
    check(out, x, y)
    assert_guard_untouched(buf, n)
    del x, y, out, buf, result
    torch.cuda.empty_cache()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("n", [1000, 4096, (1 << 16) + 3])
def test_vector_add_misaligned_pointers(n, dtype, randn):
    # views that start one element into their buffers: not 16-byte aligned
    x = randn(n + 1, dtype=dtype)[1:]
    y = randn(n + 1, dtype=dtype)[1:]
    out_full, buf = poisoned((n + 1,), dtype, guard=64)
    out = out_full[1:]
    vector_add.add(x, y, out=out)
    torch.cuda.synchronize()
    check(out, x, y)
    assert bool(torch.isnan(out_full[0])), "the kernel wrote before the start of its output"
    assert_guard_untouched(buf, n + 1)


def test_vector_add_allocates_output(randn):
    x, y = randn(12345, dtype=torch.float32), randn(12345, dtype=torch.float32)
    out = vector_add.add(x, y)
    torch.cuda.synchronize()
    check(out, x, y)
