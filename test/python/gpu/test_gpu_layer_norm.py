"""Fused layer norm forward on the GPU against torch's layer_norm in float64."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import poisoned

torch = require_torch_gpu()

import layer_norm  # noqa: E402

WIDTHS = [1, 7, 128, 1000, 1024, 4096, 8192]
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
# y: fp32 math, then one rounding to the output dtype (|y| reaches ~15 with these inputs)
TOL = {torch.float32: (1e-4, 1e-4), torch.float16: (2.0 ** -10, 2e-3),
       torch.bfloat16: (2.0 ** -8, 1e-2)}
EPS = 1e-5


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("n", WIDTHS)
def test_layer_norm(n, dtype, randn):
    m = 37
    x = randn(m, n, dtype=dtype, scale=2.0, shift=0.5)  # a non-zero mean to subtract
    w, b = randn(n, dtype=dtype), randn(n, dtype=dtype)
    out, _ = poisoned((m, n), dtype)
    y, mean, rstd = layer_norm.layer_norm(x, w, b, EPS, out=out, return_stats=True)
    torch.cuda.synchronize()
    assert y.data_ptr() == out.data_ptr()

    xd = x.double()
    ref = torch.nn.functional.layer_norm(xd, (n,), w.double(), b.double(), EPS)
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(out.double(), ref, rtol=rtol, atol=atol)
    ref_mean = xd.mean(-1)
    ref_rstd = 1.0 / torch.sqrt(xd.var(-1, unbiased=False) + EPS)
    torch.testing.assert_close(mean.double(), ref_mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rstd.double(), ref_rstd, rtol=1e-4, atol=0)


def test_layer_norm_3d_input(randn):
    x = randn(4, 9, 768, dtype=torch.float32, scale=3.0, shift=-1.0)
    w, b = randn(768, dtype=torch.float32), randn(768, dtype=torch.float32)
    out, _ = poisoned(x.shape, torch.float32)
    layer_norm.layer_norm(x, w, b, EPS, out=out)
    torch.cuda.synchronize()
    ref = torch.nn.functional.layer_norm(x.double(), (768,), w.double(), b.double(), EPS)
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-4)
