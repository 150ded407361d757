"""Small matmuls through tl.dot on the GPU against float64: fp16/bf16/fp32 inputs, ieee and tf32,
odd shapes, transposed operands and strided outputs."""
import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import matmul  # noqa: E402

SHAPES = [(16, 16, 16), (64, 48, 80), (128, 128, 64), (1, 1, 1), (33, 65, 17)]  # M, N, K
KINDS = [(torch.float16, "ieee"), (torch.bfloat16, "ieee"), (torch.float32, "ieee"),
         (torch.float32, "tf32")]
# a rounding of the result to the output dtype (twice half an ulp, for slack)
OUT_ROUNDING = {torch.float32: 2.0 ** -23, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -8}


def check(out, a, b, precision):
    """|out - a@b| <= rel * (|a| @ |b|) + rounding of the output, in float64. rel: fp32 accumulation
    of K products, an ulp per step (tensor cores may truncate); tf32 inputs keep 10 mantissa bits."""
    k = a.shape[1]
    ad, bd = a.double(), b.double()
    ref = ad @ bd
    scale = ad.abs() @ bd.abs()
    rel = (k + 2) * 2.0 ** -23
    if a.dtype == torch.float32 and precision == "tf32":
        rel += 2 * 2.0 ** -10
    bound = rel * scale + OUT_ROUNDING[out.dtype] * ref.abs() + 1e-30
    err = (out.double() - ref).abs()
    bad = ~(err <= bound)  # NaN (an unwritten output) is bad
    assert not bool(bad.any()), (f"{int(bad.sum())} of {bad.numel()} outputs off; worst error "
                                 f"{err.max().item():.3e}, bound there {bound.flatten()[err.argmax()]:.3e}")


def ids(kind):
    return f"{str(kind[0]).replace('torch.', '')}-{kind[1]}"


@pytest.mark.parametrize("kind", KINDS, ids=ids)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul(shape, kind, randn):
    m, n, k = shape
    dtype, precision = kind
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
    out = torch.full((m, n), float("nan"), device="cuda", dtype=torch.float32)
    matmul.matmul(a, b, out=out, input_precision=precision)
    torch.cuda.synchronize()
    check(out, a, b, precision)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32],
                         ids=lambda d: str(d).replace("torch.", ""))
def test_matmul_output_in_input_dtype(dtype, randn):
    a, b = randn(64, 80, dtype=dtype), randn(80, 48, dtype=dtype)
    out = matmul.matmul(a, b)
    torch.cuda.synchronize()
    assert out.dtype == dtype
    check(out, a, b, "ieee")


@pytest.mark.parametrize("layout", ["tn", "nt", "tt"])
@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_matmul_strides(layout, kind, randn):
    m, n, k = 64, 48, 80
    dtype, precision = kind
    a = randn(k, m, dtype=dtype).t() if layout[0] == "t" else randn(m, k, dtype=dtype)
    b = randn(n, k, dtype=dtype).t() if layout[1] == "t" else randn(k, n, dtype=dtype)
    pad = 7  # an output whose rows are 55 wide in memory
    out_full = torch.full((m, n + pad), float("nan"), device="cuda", dtype=torch.float32)
    out = out_full[:, :n]
    matmul.matmul(a, b, out=out, input_precision=precision)
    torch.cuda.synchronize()
    check(out, a, b, precision)
    assert bool(torch.isnan(out_full[:, n:]).all()), "the kernel wrote outside its output"
