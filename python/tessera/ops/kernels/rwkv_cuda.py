"""The ``cuda`` backend of ``tessera.ops.rwkv``: the CUDA C++ kernels of ``cuda/wkv4.cu`` and
``cuda/wkv7.cu`` as ``CudaKernel``s, compiled by NVRTC on first use and kept by the runtime's
caches. They take the tile kernels' arguments in the same order, with the same layouts and saved
tensors (fp32), so the op wrappers only choose which kernel to launch.

Each variant (entry, I/O dtypes, N, flags) is one ``CudaKernel``. The WKV7 backward autotunes
the threads per state line L among the block sizes it can have (timed once per variant and
device, results kept in the tuning cache); the forward keeps the L measured best
(``cuda/README.md``) so that every forward variant (with or without states, wkv7s) sums in
one order and chained calls agree bitwise; WKV4 uses ``choose_block``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Tuple

from ...runtime.cuda_source import CudaConfig, CudaKernel

__all__ = ["cuda_type", "wkv4_kernel", "wkv7_kernel"]

_SOURCES = Path(__file__).with_name("cuda")
_TYPES = {"torch.float32": "float", "torch.bfloat16": "__nv_bfloat16", "torch.float16": "__half"}
_SIGNATURES = {
    "wkv4_forward": ("ppppppppiill", "w u k v y aa bb pp T C stride_b stride_t"),
    "wkv4_backward": ("ppppppppppiill",
                      "w u k v gy gk gv gw_rows gu_rows saved T C stride_b stride_t"),
    "wkv7_forward": ("pppppppppppiil", "r w k v a b y s0 sT sa ckpt T H s0_stride_b"),
    "wkv7_backward": ("pppppppppppppppppii",
                      "r w k v a b dy dsT sa ckpt dr dw dk dv da db ds0 T H"),
}
# Threads per state line measured fastest per head size (cuda/README.md), at least 32 threads
# a block.
_FORWARD_L = {16: 2, 32: 4, 64: 2, 128: 2}
_BACKWARD_L = {16: 4, 32: 4, 64: 4, 128: 2}
_TUNING = {"warmup": 3, "rep": 10}  # milliseconds: the kernels run for long at real sizes


def cuda_type(dtype: Any) -> str:
    """The CUDA C++ type of a torch dtype (float32, bfloat16, float16)."""
    return _TYPES[str(dtype)]


@lru_cache(maxsize=None)
def _source(name: str) -> str:
    return (_SOURCES / name).read_text()


def _kernel(file: str, entry: str, configs) -> CudaKernel:
    """A CudaKernel of `file`; with several configs, tuned once per device."""
    signature, names = _SIGNATURES[entry]
    return CudaKernel(_source(file), entry, signature, arg_names=names.split(),
                      configs=configs, **_TUNING)


_wkv7_kernels: Dict[Tuple[Any, ...], CudaKernel] = {}
_wkv4_kernels: Dict[Tuple[Any, ...], CudaKernel] = {}


def wkv7_kernel(entry: str, defines: Dict[str, Any], n: int, tune: bool) -> CudaKernel:
    """The CudaKernel of ``wkv7_forward`` or ``wkv7_backward`` for these macros (IO_T, W_T,
    DECAY, CHUNK and the entry's flags) at head size n: one config per L in {1, 2, 4} giving
    32 to 1024 threads when `tune`, else the measured best L."""
    key = (entry, tuple(sorted(defines.items())), n, tune)
    kernel = _wkv7_kernels.get(key)
    if kernel is None:
        best = (_FORWARD_L if entry == "wkv7_forward" else _BACKWARD_L)[n]
        lines = [1, 2, 4] if tune else [best]
        configs = [CudaConfig(defines={**defines, "N": n, "L": per_line},
                              num_threads=n * per_line)
                   for per_line in lines if 32 <= n * per_line <= 1024]
        kernel = _wkv7_kernels[key] = _kernel("wkv7.cu", entry, configs)
    return kernel


def wkv4_kernel(entry: str, defines: Dict[str, Any], block: int) -> CudaKernel:
    """The CudaKernel of ``wkv4_forward`` or ``wkv4_backward`` for these macros (IO_T, U_T and,
    for the forward, STATE) with BLOCK_C = block channels a block."""
    key = (entry, tuple(sorted(defines.items())), block)
    kernel = _wkv4_kernels.get(key)
    if kernel is None:
        config = CudaConfig(defines={**defines, "BLOCK_C": block}, num_threads=block)
        kernel = _wkv4_kernels[key] = _kernel("wkv4.cu", entry, [config])
    return kernel
