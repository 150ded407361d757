"""tessera's own device buffers, for users without PyTorch: from_numpy -> launch -> .numpy()."""
import numpy as np
import pytest
from gpu_helpers import cuda_device_count

if cuda_device_count() == 0:
    pytest.skip("no CUDA driver or GPU", allow_module_level=True)

import tessera  # noqa: E402

import vector_add  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int32, np.uint8])
def test_round_trip(dtype):
    rng = np.random.default_rng(1)
    if np.issubdtype(dtype, np.integer):
        x = rng.integers(0, 128, size=(37, 129)).astype(dtype)
    else:
        x = (rng.standard_normal((37, 129)) * 100).astype(dtype)
    buf = tessera.from_numpy(x)
    back = buf.numpy()
    assert back.dtype == x.dtype and back.shape == x.shape
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("n", [1, 1000, (1 << 20) + 7])
def test_launch_on_tessera_buffers(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    dx, dy = tessera.from_numpy(x), tessera.from_numpy(y)
    dout = tessera.from_numpy(np.full(n, np.nan, dtype=np.float32))  # poisoned
    block = vector_add.DEFAULT_BLOCK
    vector_add.add_kernel[(tessera.cdiv(n, block),)](dx, dy, dout, n, BLOCK=block)
    got = dout.numpy()
    np.testing.assert_array_equal(got, x + y)  # fp32 adds, bit-identical to NumPy's
