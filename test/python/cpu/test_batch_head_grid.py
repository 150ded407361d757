"""kernels/grid.py's batch_head_grid: (batch, head) pairs on grid axis 1 up to CUDA's 65535,
then over axes 1 and 2 with the same count (and PAIRS_ON_Z set for the kernel), or a clear error
when no such grid exists."""
import pytest

from tessera.ops.kernels.grid import MAX_GRID_YZ, batch_head_grid


# Tests that the pairs stay on axis 1 while they fit, as every launch had them before.
@pytest.mark.parametrize("batch,heads", [(1, 1), (2, 3), (1, MAX_GRID_YZ), (MAX_GRID_YZ, 1),
                                         (4095, 16)])
def test_pairs_that_fit_axis_1(batch, heads):
    assert batch_head_grid(7, batch, heads) == ((7, batch * heads, 1), {"PAIRS_ON_Z": False})


# Tests that past the limit the heads go on axis 1 and the batches on axis 2.
@pytest.mark.parametrize("batch,heads", [(1025, 64), (4096, 32), (32768, MAX_GRID_YZ)])
def test_heads_by_batch(batch, heads):
    assert batch_head_grid(3, batch, heads) == ((3, heads, batch), {"PAIRS_ON_Z": True})


# Tests that a count whose heads (or batch) alone exceed the limit is factorised, both factors
# within it and their product the count.
@pytest.mark.parametrize("batch,heads", [(1, 70000), (70000, 1), (2, 65536), (65536 * 2, 1)])
def test_factorised(batch, heads):
    (programs, y, z), pairs = batch_head_grid(1, batch, heads)
    assert programs == 1 and y * z == batch * heads and pairs == {"PAIRS_ON_Z": True}
    assert 1 <= y <= MAX_GRID_YZ and 1 <= z <= MAX_GRID_YZ


# Tests that a count with no such factorisation (a prime past the limit, or 2**31 and over) is
# refused with the sizes and the way out in the message.
@pytest.mark.parametrize("batch,heads", [(65537, 1), (1, 65537 * 3), (65536, 32768)])
def test_no_grid(batch, heads):
    with pytest.raises(ValueError, match=rf"batch {batch} x heads {heads} = {batch * heads} "
                                         r"\(batch, head\) pairs: .* split the batch"):
        batch_head_grid(1, batch, heads)
