"""``tessera.language``: the kernel language, imported as ``tl``.

Names and semantics follow Triton's ``triton.language`` so kernels port by changing imports::

    import tessera
    import tessera.language as tl

    @tessera.jit
    def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(X + offs, mask=mask)
        y = tl.load(Y + offs, mask=mask)
        tl.store(Z + offs, x + y, mask=mask)
"""
from . import math
from .atomics import (atomic_add, atomic_and, atomic_cas, atomic_max, atomic_min, atomic_or,
                      atomic_xchg, atomic_xor)
from .block_pointer import advance, make_block_ptr
from .compile_time import range, static_assert, static_range
from .core import constexpr, tensor
from .creation import arange, full, num_programs, program_id, zeros, zeros_like
from .debugging import device_print
from .dtypes import (bfloat16, block_type, dtype, float16, float32, float64, int1, int8, int16,
                     int32, int64, pointer_type, uint8, uint16, uint32, uint64)
from .hints import max_contiguous, multiple_of
from .linalg import dot
from .math import (PropagateNan, abs, cdiv, ceil, cos, erf, exp, exp2, floor, fma, log, log2,
                   maximum, minimum, rsqrt, sigmoid, sin, sqrt, tanh, where)
from .memory import load, store
from .random import rand, rand4x, randint, randint4x, randn, randn4x
from .reductions import argmax, argmin, max, min, sum
from .shapes import broadcast_to, expand_dims, permute, reshape, trans
from .tensor_descriptor import tensor_descriptor

__all__ = [
    "PropagateNan", "abs", "advance", "arange", "argmax", "argmin", "atomic_add", "atomic_and",
    "atomic_cas", "atomic_max", "atomic_min", "atomic_or", "atomic_xchg", "atomic_xor",
    "bfloat16", "block_type", "device_print",
    "broadcast_to", "cdiv", "ceil", "constexpr", "cos", "dot", "dtype", "erf", "exp", "exp2",
    "expand_dims", "float16", "float32", "float64", "floor", "fma", "full", "int1", "int8",
    "int16", "int32", "int64", "load", "log", "log2", "make_block_ptr", "math", "max",
    "max_contiguous", "maximum", "min", "minimum", "multiple_of", "num_programs", "permute",
    "pointer_type", "program_id", "rand", "rand4x", "randint", "randint4x",
    "randn", "randn4x", "range", "reshape", "rsqrt", "sigmoid", "sin", "sqrt",
    "static_assert", "static_range", "store", "sum", "tanh", "tensor", "tensor_descriptor", "trans",
    "uint8", "uint16", "uint32", "uint64", "where", "zeros", "zeros_like",
]
