"""The matmul kernel of ``tessera.ops``: ``C[b] = alpha * A[b] @ B[b] + beta * bias[b]``.

One program computes one ``BLOCK_M x BLOCK_N`` tile of one batch's C, accumulating in fp32 over K
in ``BLOCK_K`` steps with ``tl.dot``, and writes it in C's dtype. Every operand has its own
(batch, row, column) strides, so transposed, sliced and broadcast (0-stride) views need no
copies. Programs are numbered batch by batch and, within a batch, in groups of ``GROUP_M`` tile
rows that walk down their columns together, so that programs running at the same time share A
and B tiles in L2 (the grouped order of Triton's matmul tutorial).

The main loop has the form that the compiler's software pipeliner recognises: ``a_ptrs`` and
``b_ptrs`` are carried through the loop and advanced by ``BLOCK_K * stride``, and the loads feed
only ``tl.dot``. Where the caller passes tensor descriptors (``a_desc``, ``b_desc``: one batch,
rows contiguous, TMA-ready on sm_90a), the tiles are read through them instead, and the
pipeliner has the Tensor Memory Accelerator copy them (``descriptor_pre_hook`` sizes their
blocks for each config). A descriptor may also describe an operand's transpose: ``A^T``
stored row by row when A is column-major (``stride_am == 1``), ``B^T`` when B is
(``stride_bk == 1``: the weight of ``x @ w.t()``, or either operand of a backward product). The
kernel then loads tiles of the stored matrix and takes their ``tl.trans``, which the compiler
turns into a transposed view of the same shared-memory tile (wgmma reads it M/N-major for A,
K-major for B), so transposed operands get the same TMA pipeline. ``A_TRANSPOSED`` and
``B_TRANSPOSED`` say which descriptors are of a transpose.

``EVEN_K`` (K a multiple of ``BLOCK_K``) drops the K mask, ``EVEN_M`` / ``EVEN_N`` the M / N
masks, so an aligned problem loads unmasked tiles; the ``HEURISTICS`` set them and the
transposition flags.

``CONFIGS`` is the autotuning space, ``KEY`` the autotuning key and ``prune_configs`` the shape
and shared-memory pruning; ``tessera.ops.blas`` puts them together.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import tessera
import tessera.language as tl
from tessera.runtime.autotuner import Config

from .masks import both, masked_load

__all__ = ["CONFIGS", "GROUP_M", "HEURISTICS", "KEY", "a_transposed", "b_transposed",
           "descriptor_pre_hook", "matmul_kernel", "prune_configs", "shared_memory_bytes"]


@tessera.jit
def _to_int64(value):
    """``value`` as an int64 scalar (it may be a folded constant, such as a stride of 1)."""
    return value + tl.zeros((), dtype=tl.int64)


@tessera.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, bias_ptr, a_desc, b_desc, M, N, K,
                  stride_ab, stride_am, stride_ak, stride_bb, stride_bk, stride_bn,
                  stride_cb, stride_cm, stride_cn, stride_biasb, stride_biasm, stride_biasn,
                  alpha, beta,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                  GROUP_M: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
                  EVEN_K: tl.constexpr, INDEX_64: tl.constexpr, INPUT_PRECISION: tl.constexpr,
                  A_TRANSPOSED: tl.constexpr = False, B_TRANSPOSED: tl.constexpr = False):
    # program -> (batch, tile row, tile column), grouped for L2 reuse
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_tiles = num_pid_m * num_pid_n
    batch = (pid // num_tiles).to(tl.int64)
    pid = pid % num_tiles
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    if INDEX_64:  # an operand spans 2**31 elements or more: 64-bit offsets and K steps
        offs_m = offs_m.to(tl.int64)
        offs_n = offs_n.to(tl.int64)
        offs_k = offs_k.to(tl.int64)
        stride_ak = _to_int64(stride_ak)
        stride_bk = _to_int64(stride_bk)
    rows = offs_m[:, None]
    cols = offs_n[None, :]
    mask_m = None if EVEN_M else rows < M
    mask_n = None if EVEN_N else cols < N

    a_ptrs = None
    b_ptrs = None
    if a_desc is None:
        a_ptrs = a_ptr + batch * stride_ab + rows * stride_am + offs_k[None, :] * stride_ak
    if b_desc is None:
        b_ptrs = b_ptr + batch * stride_bb + offs_k[:, None] * stride_bk + cols * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        if a_desc is not None and A_TRANSPOSED:
            a = tl.trans(a_desc.load([k * BLOCK_K, pid_m * BLOCK_M]))
        elif a_desc is not None:
            a = a_desc.load([pid_m * BLOCK_M, k * BLOCK_K])
        elif EVEN_K:
            a = masked_load(a_ptrs, mask_m)
        else:
            a = masked_load(a_ptrs, both(mask_m, offs_k[None, :] < K - k * BLOCK_K))
        if b_desc is not None and B_TRANSPOSED:
            b = tl.trans(b_desc.load([pid_n * BLOCK_N, k * BLOCK_K]))
        elif b_desc is not None:
            b = b_desc.load([k * BLOCK_K, pid_n * BLOCK_N])
        elif EVEN_K:
            b = masked_load(b_ptrs, mask_n)
        else:
            b = masked_load(b_ptrs, both(mask_n, offs_k[:, None] < K - k * BLOCK_K))
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)
        if a_desc is None:
            a_ptrs += BLOCK_K * stride_ak
        if b_desc is None:
            b_ptrs += BLOCK_K * stride_bk

    acc = acc * alpha
    mask_c = both(mask_m, mask_n)
    if bias_ptr is not None:
        bias_ptrs = (bias_ptr + batch * stride_biasb + rows * stride_biasm
                     + cols * stride_biasn)
        acc += masked_load(bias_ptrs, mask_c).to(tl.float32) * beta
    c_ptrs = c_ptr + batch * stride_cb + rows * stride_cm + cols * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=mask_c)


def _reach(size: int, block: int) -> int:
    """The indices a blocked walk over ``size`` elements computes offsets for."""
    return -(-size // block) * block


def _needs_int64(args: Mapping[str, Any]) -> bool:
    """Whether some operand's offsets (up to the last block's end) reach 2**31 elements."""
    m = _reach(args["M"], args["BLOCK_M"])
    n = _reach(args["N"], args["BLOCK_N"])
    k = _reach(args["K"], args["BLOCK_K"])
    extents = [m * abs(args["stride_am"]) + k * abs(args["stride_ak"]),
               k * abs(args["stride_bk"]) + n * abs(args["stride_bn"]),
               m * abs(args["stride_cm"]) + n * abs(args["stride_cn"])]
    if args["bias_ptr"] is not None:
        extents.append(m * abs(args["stride_biasm"]) + n * abs(args["stride_biasn"]))
    return max(extents) >= 2 ** 31


def a_transposed(args: Mapping[str, Any]) -> bool:
    """Whether ``a_desc`` describes A^T (K x M, rows contiguous) rather than A. A descriptor of
    A has K contiguous, so ``stride_ak`` is 1 (TMA needs rows of 16 bytes: K > 1, so the stride
    is not dropped to 0); one of A^T has M contiguous and K strided."""
    return args["a_desc"] is not None and args["stride_ak"] != 1


def b_transposed(args: Mapping[str, Any]) -> bool:
    """Whether ``b_desc`` describes B^T (N x K, rows contiguous) rather than B (``stride_bn``
    1), as ``a_transposed`` for A."""
    return args["b_desc"] is not None and args["stride_bn"] != 1


HEURISTICS: Dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "EVEN_M": lambda args: args["M"] % args["BLOCK_M"] == 0,
    "EVEN_N": lambda args: args["N"] % args["BLOCK_N"] == 0,
    "EVEN_K": lambda args: args["K"] % args["BLOCK_K"] == 0,
    "INDEX_64": _needs_int64,
    "A_TRANSPOSED": a_transposed,
    "B_TRANSPOSED": b_transposed,
}

GROUP_M = 8


def descriptor_pre_hook(args: Dict[str, Any]) -> None:
    """Sizes the blocks of the A and B descriptors (when given) for the config in ``args``:
    the tiles the kernel loads, of the operand or of its transpose."""
    bm, bn, bk = args["BLOCK_M"], args["BLOCK_N"], args["BLOCK_K"]
    if args["a_desc"] is not None:
        args["a_desc"].block_shape = [bk, bm] if a_transposed(args) else [bm, bk]
    if args["b_desc"] is not None:
        args["b_desc"].block_shape = [bn, bk] if b_transposed(args) else [bk, bn]

# (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages), best first (a truncated list keeps the
# head). BLOCK_M multiple of 64 with num_warps multiple of 4: wgmma on sm_90a; the large tiles
# with 32-wide K steps are for fp32 (tf32), whose 64-wide steps do not fit in shared memory
# (128x128x32 with 3 stages leaves room for two programs per SM);
# BLOCK_M 16/32: mma.sync, for skinny problems.
CONFIGS: List[Config] = [
    Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": GROUP_M},
           num_warps=warps, num_stages=stages, pre_hook=descriptor_pre_hook)
    for bm, bn, bk, warps, stages in [
        (128, 256, 64, 8, 4), (128, 128, 64, 4, 4), (128, 128, 64, 8, 4), (256, 128, 64, 8, 4),
        (64, 256, 64, 4, 4), (128, 64, 64, 4, 4), (64, 128, 64, 4, 4), (64, 64, 64, 4, 4),
        (256, 128, 32, 8, 4), (128, 128, 32, 4, 4), (128, 128, 32, 4, 3), (64, 64, 32, 4, 3),
        (128, 256, 32, 8, 3), (256, 128, 32, 8, 3), (64, 32, 64, 4, 4), (32, 64, 128, 4, 4),
        (32, 128, 64, 4, 4), (16, 64, 128, 4, 4), (16, 128, 128, 4, 4),
    ]
]

# Sizes and stride classes select the tuned config; the tensor arguments add their dtypes and the
# device. Exact sizes, as in PyTorch's own tuning caches: every new (M, N, K) is tuned once.
KEY = ["M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn", "INPUT_PRECISION"]

_SKINNY = 32  # configs with a block dimension of at most this are for problems that small


# Bytes per warp that the epilogue's exchange of tensor-core results takes (16 rows x 128 bytes).
_EPILOGUE_BYTES_PER_WARP = 2048


def shared_memory_bytes(config: Config, element_size: int) -> int:
    """The shared memory that ``config`` takes: ``num_stages`` buffers of the A and B tiles, and
    the epilogue's staging area, where each warp turns its part of C into 16-byte rows."""
    kw = config.kwargs
    tile = (kw["BLOCK_M"] + kw["BLOCK_N"]) * kw["BLOCK_K"] * element_size
    return config.num_stages * tile + config.num_warps * _EPILOGUE_BYTES_PER_WARP


def prune_configs(configs: Sequence[Config], named_args: Mapping[str, Any],
                  max_shared_memory: Optional[int] = None, max_num_configs: Optional[int] = None,
                  **kwargs: Any) -> List[Config]:
    """The configs worth timing for this problem, in their order, at most ``max_num_configs``:

    - blocks no larger than the problem needs: ``BLOCK_M <= max(64, next_power_of_2(M))``, the
      same for N; the skinny configs (a block of 16 or 32) only for M or N of at most 128;
    - no more shared memory than the device has (``max_shared_memory`` bytes, when given).

    Falls back to the configs that fit in memory, then to all of them, rather than to none.
    (``early_config_prune`` of ``tessera.autotune``; ``kwargs`` are the launch's others.)
    """
    m, n = named_args["M"], named_args["N"]
    element_size = named_args["a_ptr"].element_size()

    def fits_memory(c: Config) -> bool:
        return max_shared_memory is None or \
            shared_memory_bytes(c, element_size) <= max_shared_memory

    def fits_shape(c: Config) -> bool:
        bm, bn = c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]
        return (bm <= max(64, tessera.next_power_of_2(m))
                and bn <= max(64, tessera.next_power_of_2(n))
                and (bm > _SKINNY or m <= 128) and (bn > _SKINNY or n <= 128))

    in_memory = [c for c in configs if fits_memory(c)]
    chosen = [c for c in in_memory if fits_shape(c)] or in_memory or list(configs)
    return chosen[:max_num_configs] if max_num_configs else chosen
