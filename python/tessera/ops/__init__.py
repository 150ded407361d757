"""``tessera.ops``: PyTorch-style ops computed by Tessera kernels (``specs/ops.md``).

    import tessera.ops

    c = tessera.ops.matmul(a, b)                 # torch.matmul semantics, autotuned
    y = tessera.ops.addmm(bias, x, w.t())        # beta * input + alpha * (mat1 @ mat2)
    tessera.ops.set_default_max_num_configs(1)   # no tuning: each op's first fitting config

The ops take PyTorch tensors (or objects exposing ``__dlpack__`` / ``__cuda_array_interface__``)
and return PyTorch tensors; PyTorch allocates outputs but never computes a result. Importing
this package works without PyTorch (the kernels compile anywhere); calling an op needs it.
"""
from .blas import addmm, bmm, matmul, mm
from .settings import (get_default_max_num_configs, get_default_num_stages,
                       get_default_num_warps, set_default_max_num_configs,
                       set_default_num_stages, set_default_num_warps)

__all__ = [
    "addmm", "bmm", "get_default_max_num_configs", "get_default_num_stages",
    "get_default_num_warps", "matmul", "mm", "set_default_max_num_configs",
    "set_default_num_stages", "set_default_num_warps",
]
