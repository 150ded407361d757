"""Launches past CUDA's limit of 65535 programs on grid axes 1 and 2.

``MAX_GRID_YZ`` is that limit for every op that puts a count on axis 1 (wkv4's channel blocks,
sum_rows' outputs too); the tests lower it here.

The attention and RWKV-7 kernels number their (batch, head) pairs ``b * heads + h`` along grid
axis 1. Up to 65535 pairs that is the whole axis; past that, ``batch_head_grid`` splits the
pairs over axes 1 and 2 (``Y * Z`` of them, both at most 65535) and ``batch_head_id`` puts the
number back together, so the kernels see the same index either way. The kernels take
``PAIRS_ON_Z`` (whether axis 2 is used) as a constexpr, so that the usual launch reads axis 1
alone: the extra index arithmetic cost the fp32 backward kernels at D = 256 a spill on sm_80.

    grid, pairs = batch_head_grid(cdiv(lq, BLOCK_M), batch, heads)   # on the host
    kernel[grid](..., **pairs)
    bh = batch_head_id(PAIRS_ON_Z)                                    # in the kernel
"""
import functools
from typing import Dict, Tuple

import tessera
import tessera.language as tl
from tessera.runtime.jit_function import CUDA_MAX_GRID

__all__ = ["MAX_GRID_YZ", "batch_head_grid", "batch_head_id"]

MAX_GRID_YZ = CUDA_MAX_GRID[1]  # grid axes 1 and 2 (the tests lower it)


@tessera.jit
def batch_head_id(PAIRS_ON_Z: tl.constexpr):
    """This program's ``b * heads + h`` in a launch over ``batch_head_grid`` (int32)."""
    if PAIRS_ON_Z:
        return tl.program_id(1) + tl.program_id(2) * tl.num_programs(1)
    return tl.program_id(1)


def batch_head_grid(programs: int, batch: int, heads: int
                    ) -> Tuple[Tuple[int, int, int], Dict[str, bool]]:
    """The grid ``(programs, Y, Z)`` with ``Y * Z == batch * heads`` and the kernel's
    ``PAIRS_ON_Z``: ``Z == 1`` while the pairs fit axis 1, then ``(heads, batch)`` when both
    fit, else another factorisation of the count into two factors of at most 65535. Raises
    ValueError when there is none."""
    pairs = batch * heads
    if pairs <= MAX_GRID_YZ:
        return (programs, pairs, 1), {"PAIRS_ON_Z": False}
    if heads <= MAX_GRID_YZ and batch <= MAX_GRID_YZ and pairs < 2 ** 31:
        return (programs, heads, batch), {"PAIRS_ON_Z": True}
    y = _factor_within(pairs, MAX_GRID_YZ) if pairs < 2 ** 31 else None
    if y is None:
        raise ValueError(f"batch {batch} x heads {heads} = {pairs} (batch, head) pairs: a "
                         f"launch takes one program per pair on grid axes 1 and 2, at most "
                         f"{MAX_GRID_YZ} each, and {pairs} is not such a product below 2**31; "
                         "split the batch")
    return (programs, y, pairs // y), {"PAIRS_ON_Z": True}


@functools.lru_cache(maxsize=64)
def _factor_within(count: int, limit: int) -> "int | None":
    """The largest divisor of ``count`` of at most ``limit`` whose cofactor is at most
    ``limit`` too, or None (a search of up to ``limit`` steps, so each count is searched once)."""
    for y in range(limit, -(-count // limit) - 1, -1):
        if count % y == 0:
            return y
    return None
