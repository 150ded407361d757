"""Launch grids with one program per (batch, head) pair beyond CUDA's 65535 limit of grid axis 1.

The attention and RWKV-7 kernels number their (batch, head) pairs ``b * heads + h`` along grid
axis 1. Up to 65535 pairs that is the whole axis; past that, ``batch_head_grid`` splits the
pairs over axes 1 and 2 (``Y * Z`` of them, both at most 65535) and ``batch_head_id`` puts the
number back together, so the kernels see the same index either way. The kernels take
``PAIRS_ON_Z`` (``grid[2] > 1``) as a constexpr, so that the usual launch reads axis 1 alone:
the extra index arithmetic cost the fp32 backward kernels at D = 256 a spill on sm_80.

    grid = batch_head_grid(cdiv(lq, BLOCK_M), batch, heads)      # on the host
    kernel[grid](..., PAIRS_ON_Z=grid[2] > 1)
    bh = batch_head_id(PAIRS_ON_Z)                                # in the kernel
"""
from typing import Tuple

import tessera
import tessera.language as tl

__all__ = ["MAX_GRID_YZ", "batch_head_grid", "batch_head_id"]

MAX_GRID_YZ = 65535  # CUDA's limit of grid axes 1 and 2, on every architecture


@tessera.jit
def batch_head_id(PAIRS_ON_Z: tl.constexpr):
    """This program's ``b * heads + h`` in a launch over ``batch_head_grid`` (int32)."""
    if PAIRS_ON_Z:
        return tl.program_id(1) + tl.program_id(2) * tl.num_programs(1)
    return tl.program_id(1)


def batch_head_grid(programs: int, batch: int, heads: int) -> Tuple[int, int, int]:
    """The grid ``(programs, Y, Z)`` with ``Y * Z == batch * heads``: ``Z == 1`` while the
    pairs fit axis 1, then ``(heads, batch)`` when both fit, else another factorisation of the
    count into two factors of at most 65535. Raises ValueError when there is none."""
    pairs = batch * heads
    if pairs <= MAX_GRID_YZ:
        return programs, pairs, 1
    if heads <= MAX_GRID_YZ and batch <= MAX_GRID_YZ and pairs < 2 ** 31:
        return programs, heads, batch
    if pairs < 2 ** 31:
        for y in range(MAX_GRID_YZ, -(-pairs // MAX_GRID_YZ) - 1, -1):
            if pairs % y == 0:
                return programs, y, pairs // y
    raise ValueError(f"batch {batch} x heads {heads} = {pairs} (batch, head) pairs: a launch "
                     f"takes one program per pair on grid axes 1 and 2, at most {MAX_GRID_YZ} "
                     f"each, and {pairs} is not such a product below 2**31; split the batch")
