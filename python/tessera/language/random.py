"""Counter-based random numbers: Philox4x32 with Triton's ``randint``/``rand``/``randn`` API.

Philox4x32-R (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011) maps a 128-bit counter and a 64-bit key to 128 random bits through R rounds of two
32x32->64-bit multiplies and xors. There is no state: the same (seed, offset) gives the same
numbers in any program, any launch, any order, which makes it the generator for dropout masks
that a backward pass must recompute::

    @tessera.jit
    def dropout_kernel(X, Y, n, p, seed, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        x = tl.load(X + offs, mask=offs < n)
        keep = tl.rand(seed, offs) >= p
        tl.store(Y + offs, tl.where(keep, x / (1 - p), 0.0), mask=offs < n)

How the arguments become Philox's key and counter (as Triton lays them out):

- the key is ``seed`` as a 64-bit integer, low word first: an int32 seed is sign-extended, so
  a seed value gives the same numbers whether the JIT passes it as int32 or int64;
- the counter is ``(offset, 0, 0, 0)`` for offsets of 32 bits or fewer (their 32-bit pattern)
  and ``(low word, high word, 0, 0)`` for 64-bit offsets, so that an offset below 2**32 gives
  the same numbers at either width (a negative int32 offset is its 32-bit pattern, which
  differs from the same negative int64 offset).

Distinct offsets give independent numbers; ``randint4x`` returns the four 32-bit words of one
counter, the cheapest way to get several numbers per offset.
"""
from __future__ import annotations

import math
from typing import Any, Tuple

from . import semantic
from .core import builtin, tensor, unwrap
from .dtypes import float32, uint32, uint64

__all__ = ["randint", "randint4x", "rand", "rand4x", "randn", "randn4x"]

N_ROUNDS_DEFAULT = 10  # Philox4x32-10, the variant with Random123's published test vectors
PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)  # round multipliers of counter words 0 and 2
PHILOX_KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)  # Weyl sequence added to the key each round

_UNIFORM_BITS = 24  # an fp32 holds every multiple of 2**-24 in [0, 1) exactly
_TWO_PI = 2 * math.pi

Words = Tuple[tensor, tensor, tensor, tensor]


def _integer(value: Any, name: str, function: str) -> tensor:
    value = semantic.to_tensor(value)
    if not value.dtype.is_int() or value.dtype.is_bool():
        raise TypeError(f"tl.{function}: {name} must be an integer, got {value.type}")
    return value


def _rounds(n_rounds: Any, function: str) -> int:
    n_rounds = unwrap(n_rounds)
    if not isinstance(n_rounds, int) or isinstance(n_rounds, bool) or n_rounds < 1:
        raise ValueError(f"tl.{function}: n_rounds must be a positive tl.constexpr int, got "
                         f"{n_rounds!r}")
    return n_rounds


def _low_high(value: tensor) -> Tuple[tensor, tensor]:
    """The low and high 32-bit words of a 64-bit integer (as uint32)."""
    value = semantic.bitcast(value, uint64)
    return semantic.cast(value, uint32), semantic.cast(semantic.shr(value, 32), uint32)


def _mul_hi_lo(multiplier: int, value: tensor) -> Tuple[tensor, tensor]:
    """The high and low words of ``multiplier * value`` (a 64-bit product of 32-bit words):
    the widened product shifted down, which NVPTX emits as one mul.hi.u32 (or mul.wide)."""
    wide = semantic.mul(semantic.cast(value, uint64), multiplier)
    return semantic.cast(semantic.shr(wide, 32), uint32), semantic.mul(value, multiplier)


def _philox(seed: Any, offset: Any, n_rounds: Any, function: str) -> Words:
    """The four uint32 output words of Philox4x32-``n_rounds`` for each element of ``offset``."""
    rounds = _rounds(n_rounds, function)
    seed = _integer(seed, "seed", function)
    offset = _integer(offset, "offset", function)
    if seed.type.is_block():
        raise ValueError(f"tl.{function}: seed must be a scalar, got a block of shape "
                         f"{list(seed.shape)}")
    k0, k1 = _low_high(semantic.cast(seed, uint64))
    zero = semantic.scalar_constant(0, uint32)
    if offset.dtype.int_bitwidth == 64:
        c0, c1 = _low_high(offset)
    else:
        c0, c1 = semantic.cast(offset, uint32), zero
    c2, c3 = zero, zero
    # Words still 0 stay scalars, and so does the key: the first round is partly uniform work.
    for round_index in range(rounds):
        if round_index:
            k0 = semantic.add(k0, PHILOX_KEY_INCREMENTS[0])
            k1 = semantic.add(k1, PHILOX_KEY_INCREMENTS[1])
        hi0, lo0 = _mul_hi_lo(PHILOX_MULTIPLIERS[0], c0)
        hi1, lo1 = _mul_hi_lo(PHILOX_MULTIPLIERS[1], c2)
        c0, c1, c2, c3 = (semantic.xor_(semantic.xor_(hi1, c1), k0), lo1,
                          semantic.xor_(semantic.xor_(hi0, c3), k1), lo0)
    words = tuple(semantic.broadcast_to_shape(word, offset.shape) for word in (c0, c1, c2, c3))
    return words  # type: ignore[return-value]


def _uniform(word: tensor) -> tensor:
    """A uint32 word as an fp32 in [0, 1): its top 24 bits times 2**-24 (exact, so never 1.0)."""
    top = semantic.shr(word, 32 - _UNIFORM_BITS)
    return semantic.mul(semantic.cast(top, float32), 2.0 ** -_UNIFORM_BITS)


def _normal_pair(radius_word: tensor, angle_word: tensor) -> Tuple[tensor, tensor]:
    """Two independent standard normals from two uint32 words (Box-Muller)."""
    # u in (0, 1], so that log(u) is finite; the angle's uniform is in [0, 1).
    top = semantic.add(semantic.shr(radius_word, 32 - _UNIFORM_BITS), 1)
    u = semantic.mul(semantic.cast(top, float32), 2.0 ** -_UNIFORM_BITS)
    log_u = semantic.float_math("math.log", u, "log")
    radius = semantic.float_math("math.sqrt", semantic.mul(log_u, -2.0), "sqrt")
    angle = semantic.mul(_uniform(angle_word), _TWO_PI)
    return (semantic.mul(radius, semantic.float_math("math.cos", angle, "cos")),
            semantic.mul(radius, semantic.float_math("math.sin", angle, "sin")))


@builtin
def randint4x(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> Words:
    """Four blocks of random uint32, the words of Philox4x32 at counter ``offset``.

    ``seed`` is an integer scalar (a run-time int32/int64 argument or a number), ``offset`` an
    integer block (or scalar); the results have ``offset``'s shape::

        r0, r1, r2, r3 = tl.randint4x(seed, tl.arange(0, 128))
    """
    return _philox(seed, offset, n_rounds, "randint4x")


@builtin
def randint(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> tensor:
    """A block of random uint32: the first word of ``randint4x(seed, offset)``.

    ``bits = tl.randint(seed, offs)``; for several numbers per offset, ``randint4x`` is four
    times cheaper than four calls.
    """
    return _philox(seed, offset, n_rounds, "randint")[0]


@builtin
def rand4x(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> Words:
    """Four blocks of fp32 uniform in [0, 1), one from each word of ``randint4x``.

    ``u0, u1, u2, u3 = tl.rand4x(seed, offs)``
    """
    words = _philox(seed, offset, n_rounds, "rand4x")
    return tuple(_uniform(word) for word in words)  # type: ignore[return-value]


@builtin
def rand(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> tensor:
    """A block of fp32 uniform in [0, 1): ``randint``'s top 24 bits times 2**-24.

    Every value is a multiple of 2**-24, each equally likely; never 1.0, never NaN::

        keep = tl.rand(seed, offs) >= p
    """
    return _uniform(_philox(seed, offset, n_rounds, "rand")[0])


@builtin
def randn4x(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> Words:
    """Four blocks of fp32 standard normals: Box-Muller on words (0, 1) and (2, 3) of
    ``randint4x``.

    ``z0, z1, z2, z3 = tl.randn4x(seed, offs)``
    """
    r0, r1, r2, r3 = _philox(seed, offset, n_rounds, "randn4x")
    return _normal_pair(r0, r1) + _normal_pair(r2, r3)  # type: ignore[return-value]


@builtin
def randn(seed: Any, offset: Any, n_rounds: int = N_ROUNDS_DEFAULT) -> tensor:
    """A block of fp32 standard normals: Box-Muller on words 0 and 1 of ``randint4x``.

    ``noise = tl.randn(seed, offs) * sigma``
    """
    r0, r1, _, _ = _philox(seed, offset, n_rounds, "randn")
    return _normal_pair(r0, r1)[0]
