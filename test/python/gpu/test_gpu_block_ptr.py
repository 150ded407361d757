"""Block pointers on the GPU: 2-D copies with boundary checks at odd shapes (row-major and
column-major sources) and a small fp16 matmul walking K with tl.advance, against PyTorch."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import poisoned

torch = require_torch_gpu()

import tessera  # noqa: E402
import tessera.language as tl  # noqa: E402
from matmul import matmul_block_ptr_kernel  # noqa: E402


@tessera.jit
def copy_kernel(X, Y, M, N, stride_xm, stride_xn, stride_ym, stride_yn, BM: tl.constexpr,
                BN: tl.constexpr, ORDER: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    x_bp = tl.make_block_ptr(X, shape=(M, N), strides=(stride_xm, stride_xn),
                             offsets=(pid_m * BM, pid_n * BN), block_shape=(BM, BN), order=ORDER)
    y_bp = tl.make_block_ptr(Y, shape=(M, N), strides=(stride_ym, stride_yn),
                             offsets=(pid_m * BM, pid_n * BN), block_shape=(BM, BN), order=(1, 0))
    tl.store(y_bp, tl.load(x_bp, boundary_check=(0, 1), padding_option="zero"),
             boundary_check=(0, 1))


def copy(x, y, BM=64, BN=32):
    """y[:] = x for 2-D tensors of any strides; ORDER follows x's memory order."""
    m, n = x.shape
    order = (1, 0) if x.stride(1) <= x.stride(0) else (0, 1)
    grid = (tessera.cdiv(m, BM), tessera.cdiv(n, BN))
    copy_kernel[grid](x, y, m, n, x.stride(0), x.stride(1), y.stride(0), y.stride(1), BM=BM,
                      BN=BN, ORDER=order)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16],
                         ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("shape", [(1000, 37), (64, 32), (1, 1), (65, 33)],
                         ids=lambda s: "x".join(map(str, s)))
def test_copy_with_boundary_checks(shape, dtype, randn):
    m, n = shape
    x = randn(m, n, dtype=dtype)
    guard = 64
    y, buf = poisoned((m, n), dtype, guard=guard)
    copy(x, y)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x, rtol=0, atol=0)
    assert bool(torch.isnan(buf[m * n:]).all()), "the kernel wrote past the end of its output"


def test_copy_of_a_padded_row_major_view(randn):
    m, n, pad = 300, 45, 11  # rows 56 wide in memory; the padding must stay untouched
    x = randn(m, n + pad, dtype=torch.float32)[:, :n]
    y_full = torch.full((m, n + pad), float("nan"), device="cuda", dtype=torch.float32)
    y = y_full[:, :n]
    copy(x, y)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x, rtol=0, atol=0)
    assert bool(torch.isnan(y_full[:, n:]).all()), "the kernel wrote outside its output"


@pytest.mark.parametrize("shape", [(1000, 37), (37, 1000), (129, 63)],
                         ids=lambda s: "x".join(map(str, s)))
def test_copy_from_column_major(shape, randn):
    m, n = shape
    x = randn(n, m, dtype=torch.float32).t()  # strides (1, m): order (0, 1)
    assert x.stride() == (1, m)
    y, _ = poisoned((m, n), torch.float32)
    copy(x, y)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x, rtol=0, atol=0)


def check_matmul(out, a, b):
    """|out - a@b| <= (K + 2) ulp(fp32) * (|a| @ |b|) + an fp32 rounding of the result, in float64:
    fp16 products are exact in fp32, each accumulation step rounds once."""
    ad, bd = a.double(), b.double()
    ref = ad @ bd
    bound = (a.shape[1] + 2) * 2.0 ** -23 * (ad.abs() @ bd.abs()) + 2.0 ** -23 * ref.abs() + 1e-30
    err = (out.double() - ref).abs()
    bad = ~(err <= bound)  # NaN (an unwritten output) is bad
    assert not bool(bad.any()), (f"{int(bad.sum())} of {bad.numel()} outputs off; worst error "
                                 f"{err.max().item():.3e}")


@pytest.mark.parametrize("shape", [(77, 45, 93), (64, 64, 32), (1, 1, 1), (130, 67, 200)],
                         ids=lambda s: "x".join(map(str, s)))
def test_matmul(shape, randn):
    m, n, k = shape
    a, b = randn(m, k, dtype=torch.float16), randn(k, n, dtype=torch.float16)
    out, _ = poisoned((m, n), torch.float32)
    grid = (tessera.cdiv(m, 32), tessera.cdiv(n, 32))
    matmul_block_ptr_kernel[grid](a, b, out, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        out.stride(0), out.stride(1), BM=32, BN=32, BK=32)
    torch.cuda.synchronize()
    check_matmul(out, a, b)


def test_matmul_with_transposed_operand(randn):
    m, n, k = 50, 70, 90
    a = randn(k, m, dtype=torch.float16).t()  # column-major A
    b = randn(k, n, dtype=torch.float16)
    out, _ = poisoned((m, n), torch.float32)
    grid = (tessera.cdiv(m, 32), tessera.cdiv(n, 32))
    matmul_block_ptr_kernel[grid](a, b, out, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        out.stride(0), out.stride(1), BM=32, BN=32, BK=16)
    torch.cuda.synchronize()
    check_matmul(out, a, b)
