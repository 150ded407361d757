"""``tessera.ops``: PyTorch-style ops computed by Tessera kernels (``specs/ops.md``).

    import tessera.ops

    c = tessera.ops.matmul(a, b)                 # torch.matmul semantics, autotuned
    o = tessera.ops.flash_attn_func(q, k, v, causal=True)  # FlashAttention-2's API
    y = tessera.ops.addmm(bias, x, w.t())        # beta * input + alpha * (mat1 @ mat2)
    z = tessera.ops.gelu(tessera.ops.add(x, b))  # element-wise, broadcasting as in PyTorch
    tessera.ops.set_default_max_num_configs(1)   # no tuning: each op's first fitting config
    y = tessera.ops.rwkv.wkv4(w, u, k, v)        # the RWKV kernels, in their own namespace

The ops take PyTorch tensors (or objects exposing ``__dlpack__`` / ``__cuda_array_interface__``)
and return PyTorch tensors; PyTorch allocates outputs but never computes a result. Importing
this package works without PyTorch (the kernels compile anywhere); calling an op needs it.
"""
from . import rwkv
from .attention import CausalVariant, scaled_dot_product_attention
from .blas import addmm, bmm, matmul, mm
from .elementwise import (abs, add, bitwise_and, bitwise_not, bitwise_or, clamp, cos, div,
                          dropout, eq, exp, ge, gelu, gt, isinf, isnan, le, lt, mul, ne, neg, pow,
                          relu, rsqrt, sigmoid, silu, sin, sub, tanh)
from .flash_attention import flash_attn_func, flash_attn_varlen_func, flash_attn_with_kvcache
from .normalization import layer_norm, rms_norm, softmax
from .rope import rotary_position_embedding
from .settings import (get_default_max_num_configs, get_default_num_stages,
                       get_default_num_warps, set_default_max_num_configs,
                       set_default_num_stages, set_default_num_warps)

__all__ = [
    "CausalVariant", "abs", "add", "addmm", "bitwise_and", "bitwise_not", "bitwise_or", "bmm",
    "clamp", "cos",
    "div", "dropout", "eq", "exp", "flash_attn_func", "flash_attn_varlen_func",
    "flash_attn_with_kvcache", "ge", "gelu",
    "get_default_max_num_configs",
    "get_default_num_stages", "get_default_num_warps", "gt", "isinf", "isnan", "layer_norm",
    "le", "lt", "matmul", "mm", "mul", "ne", "neg", "pow", "relu", "rms_norm",
    "rotary_position_embedding", "rsqrt", "rwkv", "scaled_dot_product_attention",
    "set_default_max_num_configs",
    "set_default_num_stages", "set_default_num_warps", "sigmoid", "silu", "sin", "softmax",
    "sub", "tanh",
]
