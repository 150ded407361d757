"""Tensor descriptors on the GPU: copies through desc.load / desc.store at odd shapes (elements
outside the tensor load as 0 and are never written), a pipelined matmul whose tiles TMA copies
(on sm_90a: its PTX holds cp.async.bulk.tensor) at shapes that are not multiples of the blocks,
a descriptor that is not TMA-ready (misaligned rows) falling back to ordinary loads, and the ops'
matmul taking the TMA path for row-major operands and, through descriptors of their transposes,
for column-major ones."""
import pytest
from gpu_helpers import require_torch_gpu
from poison import assert_guard_untouched, poisoned

torch = require_torch_gpu()

import tessera  # noqa: E402
import tessera.language as tl  # noqa: E402
import tessera.ops as ops  # noqa: E402
from tessera.ops import blas  # noqa: E402
from tessera.ops.kernels.matmul import CONFIGS, matmul_kernel  # noqa: E402

HOPPER = torch.cuda.get_device_capability() >= (9, 0)


@tessera.jit
def copy_kernel(x_desc, y_desc, BM: tl.constexpr, BN: tl.constexpr):
    row = tl.program_id(0) * BM
    col = tl.program_id(1) * BN
    y_desc.store([row, col], x_desc.load([row, col]) + 1)


@tessera.jit
def matmul_desc_kernel(a_desc, b_desc, c_ptr, M, N, K, stride_cm, BM: tl.constexpr,
                       BN: tl.constexpr, BK: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BK)):
        a = a_desc.load([pid_m * BM, k * BK])
        b = b_desc.load([k * BK, pid_n * BN])
        acc = tl.dot(a, b, acc)
    rows = pid_m * BM + tl.arange(0, BM)[:, None]
    cols = pid_n * BN + tl.arange(0, BN)[None, :]
    tl.store(c_ptr + rows * stride_cm + cols, acc, mask=(rows < M) & (cols < N))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16],
                         ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("shape", [(1000, 100), (64, 64), (1, 8), (65, 33)],
                         ids=lambda s: "x".join(map(str, s)))
def test_copy_through_descriptors(shape, dtype, randn):
    m, n = shape
    x = randn(m, n, dtype=dtype)
    guard = 4096
    y, buf = poisoned((m, n), dtype, guard=guard)
    bm, bn = 64, 32
    x_desc = tessera.TensorDescriptor.from_tensor(x, [bm, bn])
    y_desc = tessera.TensorDescriptor.from_tensor(y, [bm, bn])
    copy_kernel[(tessera.cdiv(m, bm), tessera.cdiv(n, bn))](x_desc, y_desc, BM=bm, BN=bn)
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
    assert_guard_untouched(buf, m * n)


@pytest.mark.parametrize("shape", [(512, 512, 512), (300, 200, 130), (1, 64, 8), (129, 257, 72)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_pipelined_matmul_through_descriptors(shape, dtype, randn):
    m, n, k = shape
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
    c, buf = poisoned((m, n), torch.float32, guard=1024)
    bm, bn, bk = 128, 128, 64
    a_desc = tessera.TensorDescriptor.from_tensor(a, [bm, bk])
    b_desc = tessera.TensorDescriptor.from_tensor(b, [bk, bn])
    assert a_desc.supports_tma() == (HOPPER and k % 8 == 0)
    kernel = matmul_desc_kernel[(tessera.cdiv(m, bm), tessera.cdiv(n, bn))](
        a_desc, b_desc, c, m, n, k, c.stride(0), BM=bm, BN=bn, BK=bk, num_warps=4, num_stages=3)
    torch.cuda.synchronize()
    reference = a.double() @ b.double()
    torch.testing.assert_close(c.double(), reference, rtol=2e-2, atol=2e-2 * k ** 0.5)
    assert_guard_untouched(buf, m * n)
    ptx = kernel.asm["ptx"]
    uses_tma = "cp.async.bulk.tensor" in ptx
    assert uses_tma == (kernel.target == "sm_90a" and a_desc.supports_tma()
                        and b_desc.supports_tma())


def test_misaligned_rows_fall_back_to_ordinary_loads(randn):
    m, n, k = 200, 96, 100  # rows of 100 bf16 = 200 bytes: not a multiple of 16
    a, b = randn(m, k, dtype=torch.bfloat16), randn(k, n, dtype=torch.bfloat16)
    c, _ = poisoned((m, n), torch.float32)
    a_desc = tessera.TensorDescriptor.from_tensor(a, [64, 64])
    b_desc = tessera.TensorDescriptor.from_tensor(b, [64, 64])
    assert not a_desc.supports_tma()
    kernel = matmul_desc_kernel[(tessera.cdiv(m, 64), tessera.cdiv(n, 64))](
        a_desc, b_desc, c, m, n, k, c.stride(0), BM=64, BN=64, BK=64)
    torch.cuda.synchronize()
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=2e-2, atol=0.3)
    assert "cp.async.bulk.tensor" not in kernel.asm["ptx"]


@pytest.mark.skipif(not HOPPER, reason="TMA needs sm_90a")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_ops_matmul_reads_row_major_operands_with_tma(dtype, randn):
    """mm of row-major operands launches a kernel specialised for TMA-ready descriptors, whose
    PTX copies tiles with cp.async.bulk.tensor (fp32 in tf32, whose dot uses tensor cores)."""
    matmul_kernel.cache.clear()  # specialisations do not depend on sizes: start afresh
    saved = torch.get_float32_matmul_precision()
    ops.set_default_max_num_configs(1)
    torch.set_float32_matmul_precision("high")
    try:
        a, b = randn(384, 320, dtype=dtype), randn(320, 256, dtype=dtype)
        c = ops.mm(a, b)
        torch.cuda.synchronize()
    finally:
        ops.set_default_max_num_configs(None)
        torch.set_float32_matmul_precision(saved)
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=2e-2, atol=0.5)
    assert len(matmul_kernel.cache) == 1
    ((key, launched),) = matmul_kernel.cache.items()
    assert any(isinstance(part, tuple) and str(part[0]).startswith("tensordesc<") and part[1]
               for part in key), "the op did not pass TMA-ready descriptors"
    assert "cp.async.bulk.tensor" in launched.asm["ptx"]


@pytest.mark.skipif(not HOPPER, reason="TMA needs sm_90a")
@pytest.mark.parametrize("layout", ["tn", "nt", "tt"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_ops_matmul_reads_transposed_operands_with_tma(layout, dtype, randn):
    """mm of column-major fp16/bf16 operands (``t``: a transposed view) passes TMA-ready
    descriptors of their transposes, and the kernel's PTX copies tiles with
    cp.async.bulk.tensor into shared memory that wgmma reads transposed; sizes that are not
    multiples of the blocks."""
    matmul_kernel.cache.clear()
    ops.set_default_max_num_configs(1)
    m, n, k = 392, 264, 328
    try:
        a = randn(k, m, dtype=dtype).t() if layout[0] == "t" else randn(m, k, dtype=dtype)
        b = randn(n, k, dtype=dtype).t() if layout[1] == "t" else randn(k, n, dtype=dtype)
        c = ops.mm(a, b)
        torch.cuda.synchronize()
    finally:
        ops.set_default_max_num_configs(None)
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=2e-2, atol=0.5)
    ((key, launched),) = matmul_kernel.cache.items()
    descriptors = [part for part in key
                   if isinstance(part, tuple) and str(part[0]).startswith("tensordesc<")]
    assert len(descriptors) == 2 and all(part[1] for part in descriptors), key
    ptx = launched.asm["ptx"]
    assert "cp.async.bulk.tensor" in ptx and "wgmma.mma_async" in ptx


def relative_error_of_config(config, a, b, precision):
    """Launches the ops' matmul kernel with ``config`` on ``a @ b`` (2048^3: a size where a race
    between TMA copies and the tensor cores' reads would show) through the descriptors the ops
    pass, checks that nothing past C was written, and returns the result's relative error."""
    m, k = a.shape
    n = b.shape[1]
    c, buf = poisoned((m, n), a.dtype, guard=1024)
    descriptors = {"a_desc": blas._descriptor(a), "b_desc": blas._descriptor(b)}
    assert None not in descriptors.values()
    strides = {"stride_am": a.stride(0), "stride_ak": a.stride(1), "stride_bk": b.stride(0),
               "stride_bn": b.stride(1)}
    config.run_pre_hook({**descriptors, **strides})

    def grid(meta):
        return (tessera.cdiv(m, meta["BLOCK_M"]) * tessera.cdiv(n, meta["BLOCK_N"]),)

    try:
        blas._kernel[grid](a, b, c, None, descriptors["a_desc"], descriptors["b_desc"], m, n, k,
                           0, strides["stride_am"], strides["stride_ak"], 0,
                           strides["stride_bk"], strides["stride_bn"], 0, n, 1, 0, 0, 0, 1, 0,
                           INPUT_PRECISION=precision, **config.all_kwargs())
    except tessera.TesseraError as error:  # more shared memory than this GPU has
        if error.code == 1:
            pytest.skip(str(error).splitlines()[0])
        raise
    torch.cuda.synchronize()
    assert_guard_untouched(buf, m * n)
    reference = a.double() @ b.double()
    return ((c.double() - reference).norm() / reference.norm()).item()


@pytest.mark.skipif(not HOPPER, reason="TMA needs sm_90a")
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "{BLOCK_M}x{BLOCK_N}x{BLOCK_K}".format(
    **c.kwargs) + f"-w{c.num_warps}-s{c.num_stages}")
def test_every_config_with_transposed_operands_through_descriptors(config, randn):
    """Every config's TMA pipeline with both operands column-major (A^T and B^T descriptors,
    tiles transposed in shared memory)."""
    a = randn(2048, 2048, dtype=torch.bfloat16).t()
    b = randn(2048, 2048, dtype=torch.bfloat16).t()
    error = relative_error_of_config(config, a, b, "ieee")
    assert error < 1e-2, f"relative error {error:.2e}"


@pytest.mark.skipif(not HOPPER, reason="TMA needs sm_90a")
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "{BLOCK_M}x{BLOCK_N}x{BLOCK_K}".format(
    **c.kwargs) + f"-w{c.num_warps}-s{c.num_stages}")
def test_every_config_in_tf32_through_descriptors(config, randn):
    """tf32 takes B from registers: every config's TMA pipeline (a 256-row box once raced, now
    and then)."""
    a = randn(2048, 2048, dtype=torch.float32)
    b = randn(2048, 2048, dtype=torch.float32)
    error = relative_error_of_config(config, a, b, "tf32")
    assert error < 2e-3, f"relative error {error:.2e}"
