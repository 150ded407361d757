"""Row softmax on the GPU against torch.softmax in float64."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import poisoned

torch = require_torch_gpu()

import softmax  # noqa: E402

# Relative tolerance: the output's rounding (half an ulp) plus fp32 math; fp32 allows for exp's error.
RTOL = {torch.float32: 1e-5, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}
ATOL = 1e-7

CASES = [
    ((4096, 4096), torch.bfloat16),
    ((1, 1), torch.float32),
    ((1, 1), torch.bfloat16),
    ((3, 1000), torch.float32),
    ((257, 4097), torch.bfloat16),
    ((257, 4097), torch.float32),
    ((17, 128), torch.float16),
    ((64, 1), torch.bfloat16),
    ((5, 16384), torch.float32),
    ((2, 32768), torch.bfloat16),
]


def expected(x):
    return torch.softmax(x.double(), dim=-1)


def check(out, x):
    ref = expected(x)
    torch.testing.assert_close(out.double(), ref, rtol=RTOL[out.dtype], atol=ATOL)
    torch.testing.assert_close(out.double().sum(-1), torch.ones_like(ref[:, 0]),
                               rtol=0, atol=2 * RTOL[out.dtype] + 1e-6)


@pytest.mark.parametrize("shape,dtype", CASES,
                         ids=[f"{m}x{n}-{str(d)[6:]}" for (m, n), d in CASES])
def test_softmax(shape, dtype, randn):
    x = randn(*shape, dtype=dtype, scale=3.0)
    out, _ = poisoned(shape, dtype)
    softmax.softmax(x, out=out)
    torch.cuda.synchronize()
    check(out, x)


def test_softmax_strided_rows(randn):
    # rows of 1000 inside rows of 1013: row strides that are not multiples of 16
    m, n, pitch = 33, 1000, 1013
    x = randn(m, pitch, dtype=torch.bfloat16, scale=3.0)[:, :n]
    out_full, _ = poisoned((m, pitch), torch.bfloat16)
    out = out_full[:, :n]
    softmax.softmax(x, out=out)
    torch.cuda.synchronize()
    check(out, x)
    assert bool(torch.isnan(out_full[:, n:]).all()), "the kernel wrote outside its rows"


def test_softmax_bf16_in_fp32_out(randn):
    x = randn(64, 4096, dtype=torch.bfloat16, scale=3.0)
    out, _ = poisoned((64, 4096), torch.float32)
    softmax.softmax(x, out=out)
    torch.cuda.synchronize()
    check(out, x)


def test_softmax_large_values(randn):
    # max-subtraction keeps exp finite where a naive softmax overflows
    x = randn(8, 2048, dtype=torch.float32, scale=30.0, shift=500.0)
    out, _ = poisoned((8, 2048), torch.float32)
    softmax.softmax(x, out=out)
    torch.cuda.synchronize()
    check(out, x)
