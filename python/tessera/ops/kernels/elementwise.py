"""The element-wise kernel of the op library: one kernel for every arity and every scalar function.

``elementwise_kernel`` reads up to three operands A, B, C (each a tensor of any strides or a
scalar argument), applies the scalar function named by the constexpr ``OP`` and stores into
``Out``. As in PyTorch, tensor operands are first converted to the operands' promoted dtype
``COMMON``, the function computes in ``COMPUTE`` (fp32 for fp16 and bf16) and its result is
rounded to the op's dtype ``RESULT`` before ``tl.store`` converts it to the output's dtype (an
``out=`` may have another); scalars are rounded to ``SCALAR_DTYPE`` (``COMMON`` for the
comparisons, ``COMPUTE`` for arithmetic). The
host (``ops/elementwise.py``) broadcasts the operands to the output's shape and collapses
dimensions, so the kernel sees at most ``MAX_RANK`` dimensions, innermost first: program
``pid`` covers linear indices ``[pid * BLOCK, (pid + 1) * BLOCK)`` of the output in row-major
order, which ``_unravel`` splits into per-dimension indices.

Unused sizes and strides are passed as 1, which the JIT folds into the kernel: a contiguous
operand's offset is then the linear index itself, and the loads and stores become 16-byte
vector accesses. With ``INDEX_64`` the linear index and offsets are 64-bit (tensors of 2^31
elements or more, or offsets that reach that far).

    >>> tessera.compile(elementwise_kernel, signature, {"OP": "add", ...})  # doctest: +SKIP
"""
import tessera
import tessera.language as tl

__all__ = ["ABSENT", "DROPOUT_BLOCK", "MAX_RANK", "SCALAR", "TENSOR", "UNARY_BACKWARDS",
           "dropout_kernel", "elementwise_kernel"]

MAX_RANK = 4
# How an operand reaches the kernel.
ABSENT = 0
TENSOR = 1
SCALAR = 2
# dropout_kernel's elements per program: part of its random stream's definition, never tuned.
DROPOUT_BLOCK = 4096
# The OP of each differentiable unary function's backward (binary: A the gradient, B the
# input).
UNARY_BACKWARDS = {name: name + "_backward" for name in (
    "relu", "sigmoid", "tanh", "silu", "gelu", "gelu_tanh", "abs", "neg", "exp", "sin", "cos",
    "rsqrt")}
_BACKWARD_OPS = tl.constexpr(tuple(UNARY_BACKWARDS.values()))


@tessera.jit
def _unravel(lin, size0, size1, size2, RANK: tl.constexpr):
    """The index along each of the RANK dims (innermost first) of linear index ``lin``."""
    if RANK == 1:
        return lin, lin, lin, lin
    i0 = lin % size0
    rest = lin // size0
    if RANK == 2:
        return i0, rest, rest, rest
    i1 = rest % size1
    rest = rest // size1
    if RANK == 3:
        return i0, i1, rest, rest
    return i0, i1, rest % size2, rest // size2


@tessera.jit
def _offset(i0, i1, i2, i3, s0, s1, s2, s3, RANK: tl.constexpr):
    """The offset of the element at indices i0..i3 (innermost first) of strides s0..s3."""
    offset = i0 * s0
    if RANK > 1:
        offset += i1 * s1
    if RANK > 2:
        offset += i2 * s2
    if RANK > 3:
        offset += i3 * s3
    return offset


@tessera.jit
def _operand(P, KIND: tl.constexpr, i0, i1, i2, i3, s0, s1, s2, s3, mask, RANK: tl.constexpr,
             COMMON: tl.constexpr, COMPUTE: tl.constexpr, SCALAR_DTYPE: tl.constexpr,
             BLOCK: tl.constexpr):
    """Operand P as a block of COMPUTE values (None when absent); a scalar is first rounded to
    SCALAR_DTYPE."""
    if KIND == SCALAR:
        return tl.full([BLOCK], P, SCALAR_DTYPE).to(COMPUTE)
    if KIND == ABSENT:
        return None
    value = tl.load(P + _offset(i0, i1, i2, i3, s0, s1, s2, s3, RANK), mask=mask)
    return value.to(COMMON).to(COMPUTE)


@tessera.jit
def _floor_divide(x, y):
    """Division rounded toward negative infinity, as PyTorch's ``rounding_mode="floor"``: for
    floats, the quotient of ``x - fmod(x, y)`` corrected by one where fmod's sign differs from
    ``y``'s (exact where ``floor(x / y)`` would round the wrong way); for integers, C's
    quotient corrected likewise."""
    if x.dtype.is_floating():
        mod = tl.math.fmod(x, y)
        quotient = (x - mod) / y
        quotient = tl.where((mod != 0) & ((y < 0) != (mod < 0)), quotient - 1, quotient)
        floored = tl.floor(quotient)
        floored = tl.where(quotient - floored > 0.5, floored + 1, floored)
        # A zero quotient takes the sign of the true quotient; a zero divisor gives x / y.
        signed_zero = (x / y) * 0.0
        result = tl.where(quotient == 0, signed_zero, floored)
        return tl.where(y == 0, x / y, result)
    quotient = x // y
    remainder = x % y
    return tl.where((remainder != 0) & ((remainder < 0) != (y < 0)), quotient - 1, quotient)


@tessera.jit
def _integer_pow(base, exponent):
    """``base ** exponent`` on integers, exact (wrapping as C does) by repeated squaring over
    the exponent's bits; a negative exponent gives 1, -1 or 0, as in PyTorch."""
    result = base * 0 + 1
    square = base
    bits = exponent
    for _ in tl.static_range(exponent.dtype.primitive_bitwidth):
        result = tl.where((bits & 1) != 0, result * square, result)
        square = square * square
        bits = bits >> 1
    if exponent.dtype.is_int_signed():
        odd = (exponent & 1) != 0
        reciprocal = tl.where(base == 1, 1, tl.where(base == -1, tl.where(odd, -1, 1), 0))
        result = tl.where(exponent < 0, reciprocal, result)
    return result


@tessera.jit
def _gelu(x, APPROXIMATE: tl.constexpr):
    if APPROXIMATE:
        inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)  # sqrt(2 / pi)
        return 0.5 * x * (1.0 + tl.tanh(inner))
    return 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))  # 1 / sqrt(2)


@tessera.jit
def _gelu_slope(x, APPROXIMATE: tl.constexpr):
    """d gelu(x) / dx: ``Phi(x) + x phi(x)``, or the derivative of the tanh approximation."""
    if APPROXIMATE:
        k = 0.7978845608028654  # sqrt(2 / pi)
        t = tl.tanh(k * (x + 0.044715 * x * x * x))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 0.134145 * x * x)
    cdf = 0.5 * (1.0 + tl.erf(x * 0.7071067811865476))
    return cdf + x * 0.3989422804014327 * tl.exp(-0.5 * x * x)  # 1 / sqrt(2 pi)


@tessera.jit
def _unary_backward(OP: tl.constexpr, grad, x):
    """The derivative of unary function OP (``relu_backward``...) at ``x`` times ``grad``."""
    if OP == "relu_backward":
        return tl.where(x > 0, grad, 0.0)  # as PyTorch: 0 at 0 and at NaN
    if OP == "sigmoid_backward":
        s = 1.0 / (1.0 + tl.exp(-x))
        return grad * s * (1.0 - s)
    if OP == "tanh_backward":
        t = tl.tanh(x)
        return grad * (1.0 - t * t)
    if OP == "silu_backward":
        s = 1.0 / (1.0 + tl.exp(-x))
        return grad * s * (1.0 + x * (1.0 - s))
    if OP == "gelu_backward":
        return grad * _gelu_slope(x, False)
    if OP == "abs_backward":
        return tl.where(x > 0, grad, tl.where(x < 0, -grad, 0.0))  # as PyTorch: 0 at 0
    if OP == "neg_backward":
        return -grad
    if OP == "exp_backward":
        return grad * tl.exp(x)
    if OP == "sin_backward":
        return grad * tl.cos(x)
    if OP == "cos_backward":
        return -grad * tl.sin(x)
    if OP == "rsqrt_backward":
        r = tl.rsqrt(x)
        return -0.5 * grad * r * r * r
    tl.static_assert(OP == "gelu_tanh_backward", "unknown unary backward")
    return grad * _gelu_slope(x, True)


@tessera.jit
def _apply(OP: tl.constexpr, a, b, c, alpha, COMMON: tl.constexpr):
    """The scalar function OP of the operands (blocks of the compute dtype); ``alpha`` is the
    op's scalar parameter (add's and sub's multiplier)."""
    if OP == "identity":
        return a
    if OP == "abs":
        return tl.abs(a)
    if OP == "neg":
        return -a
    if OP == "exp":
        return tl.exp(a)
    if OP == "rsqrt":
        return tl.rsqrt(a)
    if OP == "sin":
        return tl.sin(a)
    if OP == "cos":
        return tl.cos(a)
    if OP == "tanh":
        return tl.tanh(a)
    if OP == "sigmoid":
        return 1.0 / (1.0 + tl.exp(-a))
    if OP == "silu":
        return a / (1.0 + tl.exp(-a))
    if OP == "gelu":
        return _gelu(a, False)
    if OP == "gelu_tanh":
        return _gelu(a, True)
    if OP == "relu":
        return tl.where(a < 0, 0, a)  # NaN stays NaN, as in PyTorch
    if OP in _BACKWARD_OPS:
        return _unary_backward(OP, a, b)
    if OP == "bitwise_not":
        return ~a
    if OP == "isnan":
        return a != a
    if OP == "isinf":
        return tl.abs(a) == float("inf")
    if OP == "add":
        return a + b * alpha
    if OP == "sub":
        return a - b * alpha
    if OP == "mul":
        return a * b
    if OP == "div":
        return a / b
    if OP == "div_trunc":
        if a.dtype.is_floating():
            # PyTorch truncates the quotient rounded to the operands' dtype (fp16 and bf16).
            return tl.math.trunc((a / b).to(COMMON).to(a.dtype))
        return a // b
    if OP == "div_floor":
        return _floor_divide(a, b)
    if OP == "pow":
        if a.dtype.is_floating():
            return tl.math.pow(a, b)
        return _integer_pow(a, b)
    if OP == "eq":
        return a == b
    if OP == "ne":
        return a != b
    if OP == "lt":
        return a < b
    if OP == "le":
        return a <= b
    if OP == "gt":
        return a > b
    if OP == "ge":
        return a >= b
    if OP == "bitwise_and":
        return a & b
    if OP == "bitwise_or":
        return a | b
    if OP == "clamp_min":
        return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)
    if OP == "clamp_max":
        return tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)
    if OP == "clamp":
        low = tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)
        return tl.minimum(low, c, propagate_nan=tl.PropagateNan.ALL)
    tl.static_assert(False, "unknown element-wise op")


@tessera.jit
def elementwise_kernel(A, B, C, Out, n, alpha, size0, size1, size2,
                       a_s0, a_s1, a_s2, a_s3, b_s0, b_s1, b_s2, b_s3,
                       c_s0, c_s1, c_s2, c_s3, o_s0, o_s1, o_s2, o_s3,
                       OP: tl.constexpr, A_KIND: tl.constexpr, B_KIND: tl.constexpr,
                       C_KIND: tl.constexpr, COMMON: tl.constexpr, COMPUTE: tl.constexpr,
                       RESULT: tl.constexpr, SCALAR_DTYPE: tl.constexpr, RANK: tl.constexpr,
                       INDEX_64: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    if INDEX_64:
        lin = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        lin = pid * BLOCK + tl.arange(0, BLOCK)
    mask = lin < n
    i0, i1, i2, i3 = _unravel(lin, size0, size1, size2, RANK)
    a = _operand(A, A_KIND, i0, i1, i2, i3, a_s0, a_s1, a_s2, a_s3, mask, RANK, COMMON,
                 COMPUTE, SCALAR_DTYPE, BLOCK)
    b = _operand(B, B_KIND, i0, i1, i2, i3, b_s0, b_s1, b_s2, b_s3, mask, RANK, COMMON,
                 COMPUTE, SCALAR_DTYPE, BLOCK)
    c = _operand(C, C_KIND, i0, i1, i2, i3, c_s0, c_s1, c_s2, c_s3, mask, RANK, COMMON,
                 COMPUTE, SCALAR_DTYPE, BLOCK)
    result = _apply(OP, a, b, c, alpha, COMMON).to(RESULT)
    tl.store(Out + _offset(i0, i1, i2, i3, o_s0, o_s1, o_s2, o_s3, RANK), result, mask=mask)


@tessera.jit
def _dropout_part(X, Out, lin, uniform, n, p, scale, size0, size1, size2,
                  x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3, RANK: tl.constexpr):
    mask = lin < n
    i0, i1, i2, i3 = _unravel(lin, size0, size1, size2, RANK)
    x = tl.load(X + _offset(i0, i1, i2, i3, x_s0, x_s1, x_s2, x_s3, RANK), mask=mask)
    y = tl.where(uniform >= p, x.to(tl.float32) * scale, 0.0)
    tl.store(Out + _offset(i0, i1, i2, i3, o_s0, o_s1, o_s2, o_s3, RANK), y, mask=mask)


@tessera.jit
def dropout_kernel(X, Out, n, p, scale, seed, size0, size1, size2,
                   x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3,
                   RANK: tl.constexpr, INDEX_64: tl.constexpr, BLOCK: tl.constexpr):
    """Dropout of X into Out (laid out as for elementwise_kernel): each element is kept with
    probability ``1 - p`` and scaled by ``scale``, else zeroed.

    The program's BLOCK elements are four consecutive parts of BLOCK // 4, and part q takes
    word q of Philox at counter ``pid * BLOCK // 4 + column``: one Philox evaluation serves
    four elements (ten rounds per element would make the kernel compute-bound), and each part
    is an ordinary 1-D block, so no data moves between threads. The stream is a function of the
    linear index and BLOCK, which the host keeps fixed."""
    PART: tl.constexpr = BLOCK // 4
    pid = tl.program_id(0)
    if INDEX_64:
        pid = pid.to(tl.int64)
    columns = tl.arange(0, PART)
    r0, r1, r2, r3 = tl.rand4x(seed, pid * PART + columns)
    start = pid * BLOCK + columns
    _dropout_part(X, Out, start, r0, n, p, scale, size0, size1, size2,
                  x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3, RANK)
    _dropout_part(X, Out, start + PART, r1, n, p, scale, size0, size1, size2,
                  x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3, RANK)
    _dropout_part(X, Out, start + 2 * PART, r2, n, p, scale, size0, size1, size2,
                  x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3, RANK)
    _dropout_part(X, Out, start + 3 * PART, r3, n, p, scale, size0, size1, size2,
                  x_s0, x_s1, x_s2, x_s3, o_s0, o_s1, o_s2, o_s3, RANK)
