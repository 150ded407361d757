"""tl.dot on the tensor cores, per code path, against float64: wgmma (BLOCK_M a multiple of 64 and
num_warps a multiple of 4 on sm_90a) with the loop pipelined through cp.async rings, synchronous
(num_stages 2) and not pipelined (num_stages 1); mma.sync (smaller BLOCK_M); operands transposed
(no async copies then) and edges masked."""
import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import matmul  # noqa: E402
from test_gpu_matmul import check  # noqa: E402

# (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages)
WGMMA_CONFIGS = [(128, 128, 64, 4, 4), (128, 256, 64, 8, 4), (64, 64, 32, 4, 3),
                 (256, 128, 64, 8, 3), (64, 128, 64, 4, 2), (128, 64, 64, 4, 1),
                 (64, 64, 16, 8, 3)]
MMA_SYNC_CONFIGS = [(16, 64, 64, 4, 3), (32, 32, 32, 4, 2), (32, 128, 32, 8, 3)]
KINDS = [(torch.bfloat16, "ieee"), (torch.float16, "ieee"), (torch.float32, "tf32")]
SHAPES = [(512, 384, 320), (257, 129, 200)]  # aligned, and odd edges with K % 16 != 0


def run(shape, kind, config, randn, layout="nn"):
    m, n, k = shape
    dtype, precision = kind
    block_m, block_n, block_k, warps, stages = config
    a = randn(k, m, dtype=dtype).t() if layout[0] == "t" else randn(m, k, dtype=dtype)
    b = randn(n, k, dtype=dtype).t() if layout[1] == "t" else randn(k, n, dtype=dtype)
    out = torch.full((m, n), float("nan"), device="cuda", dtype=torch.float32)
    matmul.matmul(a, b, out=out, input_precision=precision, num_warps=warps, num_stages=stages,
                  BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k)
    torch.cuda.synchronize()
    check(out, a, b, precision)


def ids(value):
    if isinstance(value, tuple) and isinstance(value[0], torch.dtype):
        return f"{str(value[0]).replace('torch.', '')}-{value[1]}"
    return "x".join(map(str, value))


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
@pytest.mark.parametrize("kind", KINDS, ids=ids)
@pytest.mark.parametrize("config", WGMMA_CONFIGS + MMA_SYNC_CONFIGS, ids=ids)
def test_tensor_core_dot(shape, kind, config, randn):
    run(shape, kind, config, randn)


@pytest.mark.parametrize("layout", ["tn", "nt", "tt"])
@pytest.mark.parametrize("kind", KINDS, ids=ids)
@pytest.mark.parametrize("config", [(128, 128, 64, 4, 3), (32, 32, 32, 4, 2)], ids=ids)
def test_tensor_core_dot_transposed(layout, kind, config, randn):
    run((256, 192, 128), kind, config, randn, layout)
