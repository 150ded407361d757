"""CPU tier for tl.randint / randint4x / rand / rand4x / randn / randn4x (Philox4x32).

Here: the pure-Python reference of Philox4x32-R (which the GPU tier compares the kernels with,
bit for bit) reproduces Random123's published known-answer vectors; kernels using every
function, with int32 / int64 / constant seeds and 32- / 64-bit offsets, compile through
tessera.compile for sm_80 and sm_90a and ptxas accepts them; the 32x32->64-bit products become
mul.hi.u32 / mul.wide.u32; misuse is a compile error naming the function and the argument.
The GPU tier (test/python/gpu/test_gpu_language_random.py) runs the kernels.
"""
import importlib
import math
import re
from typing import Iterator, Sequence, Tuple

import pytest

import tessera
import tessera.language as tl

TARGETS = ("sm_80", "sm_90a")
MASK32 = 0xFFFFFFFF
MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)


# ---- the reference (imported by the GPU tier) ------------------------------------------------
def philox4x32(counter: Sequence[int], key: Sequence[int], rounds: int = 10
               ) -> Tuple[int, int, int, int]:
    """Philox4x32-``rounds`` of a counter of four 32-bit words under a key of two."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for index in range(rounds):
        if index:
            k0 = (k0 + KEY_INCREMENTS[0]) & MASK32
            k1 = (k1 + KEY_INCREMENTS[1]) & MASK32
        product0 = MULTIPLIERS[0] * c0
        product1 = MULTIPLIERS[1] * c2
        c0, c1, c2, c3 = ((product1 >> 32) ^ c1 ^ k0, product1 & MASK32,
                          (product0 >> 32) ^ c3 ^ k1, product0 & MASK32)
    return c0, c1, c2, c3


def randint4x_reference(seed: int, offset: int, offset_bits: int = 32, rounds: int = 10
                        ) -> Tuple[int, int, int, int]:
    """What tl.randint4x(seed, offset) returns: the key is the seed's 64-bit two's complement
    (low word first); the counter is (offset, 0, 0, 0) for 32-bit offsets and (low word, high
    word, 0, 0) for 64-bit ones."""
    seed &= (1 << 64) - 1
    offset &= (1 << offset_bits) - 1
    return philox4x32((offset & MASK32, offset >> 32, 0, 0), (seed & MASK32, seed >> 32),
                      rounds)


def uniform_reference(word: int) -> float:
    """tl.rand of a word: its top 24 bits times 2**-24."""
    return (word >> 8) * 2.0 ** -24


def normal_pair_reference(radius_word: int, angle_word: int) -> Tuple[float, float]:
    """tl.randn4x's Box-Muller of two words, in float64 (the kernel computes it in fp32)."""
    radius = math.sqrt(-2.0 * math.log(((radius_word >> 8) + 1) * 2.0 ** -24))
    angle = 2 * math.pi * uniform_reference(angle_word)
    return radius * math.cos(angle), radius * math.sin(angle)


# Random123's known-answer vectors for Philox4x32-10 (its tests/kat_vectors): counter, key,
# output.
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MASK32,) * 4, (MASK32, MASK32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_reference_reproduces_random123_known_answers(counter, key, expected):
    assert philox4x32(counter, key) == expected


def test_reference_key_and_counter_layout():
    # int32 seeds are sign-extended: -1 is the all-ones key, whatever the argument's width
    assert randint4x_reference(-1, 0) == philox4x32((0, 0, 0, 0), (MASK32, MASK32))
    assert randint4x_reference(2 ** 40 + 7, 5) == philox4x32((5, 0, 0, 0), (7, 2 ** 8))
    # a 64-bit offset fills counter words 0 and 1; below 2**32 it matches the 32-bit form
    assert randint4x_reference(3, 2 ** 33 + 9, 64) == philox4x32((9, 2, 0, 0), (3, 0))
    assert randint4x_reference(3, 12345, 64) == randint4x_reference(3, 12345, 32)
    # a negative int32 offset is its 32-bit pattern
    assert randint4x_reference(3, -1, 32) == philox4x32((MASK32, 0, 0, 0), (3, 0))
    assert uniform_reference(MASK32) == 1 - 2.0 ** -24


# ---- kernels ----------------------------------------------------------------------------------
@tessera.jit
def randint4x_kernel(out_ptr, seed, base, n, BLOCK: tl.constexpr, N_ROUNDS: tl.constexpr):
    """out[i, j] = word j of randint4x(seed, base + i) (out: (n, 4) int32, row-major)."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    r0, r1, r2, r3 = tl.randint4x(seed, base + i, N_ROUNDS)
    tl.store(out_ptr + 4 * i, r0, mask=mask)
    tl.store(out_ptr + 4 * i + 1, r1, mask=mask)
    tl.store(out_ptr + 4 * i + 2, r2, mask=mask)
    tl.store(out_ptr + 4 * i + 3, r3, mask=mask)


@tessera.jit
def single_kernel(out_ptr, seed, n, BLOCK: tl.constexpr, KIND: tl.constexpr):
    """out[i] = randint / rand / randn (KIND) of (seed, i)."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    if KIND == "randint":
        value = tl.randint(seed, i)
    elif KIND == "rand":
        value = tl.rand(seed, i)
    else:
        value = tl.randn(seed, i)
    tl.store(out_ptr + i, value, mask=i < n)


@tessera.jit
def four_kernel(out_ptr, seed, n, BLOCK: tl.constexpr, NORMAL: tl.constexpr):
    """out[i, j] = value j of rand4x (or randn4x with NORMAL) of (seed, i)."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    if NORMAL:
        v0, v1, v2, v3 = tl.randn4x(seed, i)
    else:
        v0, v1, v2, v3 = tl.rand4x(seed, i)
    tl.store(out_ptr + 4 * i, v0, mask=mask)
    tl.store(out_ptr + 4 * i + 1, v1, mask=mask)
    tl.store(out_ptr + 4 * i + 2, v2, mask=mask)
    tl.store(out_ptr + 4 * i + 3, v3, mask=mask)


@tessera.jit
def scalar_kernel(out_ptr, offset):
    """A constant seed and one scalar offset: the functions work on scalars too."""
    tl.store(out_ptr, tl.rand(1234, offset) + tl.randn(1234, offset))


# (name, kernel, signature, constants): the variants every target compiles
VARIANTS = [
    ("randint4x-seed32", randint4x_kernel,
     {"out_ptr": "*i32:16", "seed": "i32", "base": "i32", "n": "i32"},
     {"BLOCK": 1024, "N_ROUNDS": 10}),
    ("randint4x-seed64-offset64", randint4x_kernel,
     {"out_ptr": "*i32:16", "seed": "i64", "base": "i64", "n": "i32"},
     {"BLOCK": 1024, "N_ROUNDS": 10}),
    ("randint4x-7rounds", randint4x_kernel,
     {"out_ptr": "*i32:16", "seed": "i64", "base": "i32", "n": "i32"},
     {"BLOCK": 256, "N_ROUNDS": 7}),
    ("randint", single_kernel, {"out_ptr": "*i32:16", "seed": "i64", "n": "i32"},
     {"BLOCK": 1024, "KIND": "randint"}),
    ("rand", single_kernel, {"out_ptr": "*fp32:16", "seed": "i32", "n": "i32"},
     {"BLOCK": 1024, "KIND": "rand"}),
    ("randn", single_kernel, {"out_ptr": "*fp32:16", "seed": "i64", "n": "i32"},
     {"BLOCK": 1024, "KIND": "randn"}),
    ("rand4x", four_kernel, {"out_ptr": "*fp32:16", "seed": "i32", "n": "i32"},
     {"BLOCK": 512, "NORMAL": False}),
    ("randn4x", four_kernel, {"out_ptr": "*fp32:16", "seed": "i32", "n": "i32"},
     {"BLOCK": 512, "NORMAL": True}),
    ("scalar", scalar_kernel, {"out_ptr": "*fp32", "offset": "i32"}, {}),
]

_compiled = {}


def compiled(name: str, target: str):
    """The compiled variant (memoised: several tests read one)."""
    if (name, target) not in _compiled:
        _, kernel, signature, constants = next(v for v in VARIANTS if v[0] == name)
        _compiled[name, target] = tessera.compile(kernel, signature, constants, target=target,
                                                  num_warps=4)
    return _compiled[name, target]


def instructions(ptx: str) -> Iterator[str]:
    return iter(re.findall(r"^\s*(?:@!?%p\d+\s+)?([a-z][\w.]*)", ptx, re.M))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", [v[0] for v in VARIANTS])
def test_compiles_and_ptxas_accepts(name, target, run_ptxas):
    ptx = compiled(name, target).asm["ptx"]
    assert re.search(rf"^\s*\.target\s+{target}\b", ptx, re.M)
    proc = run_ptxas(ptx, target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected {name}:\n{proc.stderr}"


@pytest.mark.parametrize("target", TARGETS)
def test_high_products_are_32_bit_multiplies(target):
    """Each round's two 32x32->64 products of every element are 32-bit multiplies (mul.hi.u32,
    or mul.wide.u32 giving both halves), not emulated 64-bit ones: with 8 elements per thread
    and 10 rounds there are 8 * 18 of them (the first two rounds each multiply one word that
    is the same in every element: 0, then the key's low word)."""
    counts = {}
    for op in instructions(compiled("randint4x-seed32", target).asm["ptx"]):
        counts[op] = counts.get(op, 0) + 1
    high = counts.get("mul.hi.u32", 0) + counts.get("mul.wide.u32", 0)
    assert high >= 8 * 18, counts
    assert not any(op.startswith("mul") and op.endswith(("64", "u64")) for op in counts), counts


def test_offset64_products_are_one_instruction_each(cuobjdump):
    """With 64-bit offsets (and seed), LLVM turns some products of a truncated 64-bit value into
    PTX mul.lo.s64 of operands whose high halves are known 0; ptxas makes each one
    IMAD.WIDE.U32, so every one of the 8 * 19 products per thread is still one instruction
    (an emulated 64-bit multiply would add two IMADs each)."""
    kernel = compiled("randint4x-seed64-offset64", "sm_90a")
    sass = cuobjdump(kernel.asm["cubin"])
    ops = re.findall(r"^\s+/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][\w.]*)", sass, re.M)
    count = {op: ops.count(op) for op in set(ops)}
    products = 8 * 19  # the counter's high word is not 0: only round 0 skips a product
    assert count.get("IMAD.HI.U32", 0) + count.get("IMAD.WIDE.U32", 0) >= products, count
    assert count.get("IMAD", 0) <= products + 16, count


def test_rand_is_exact_top_bits():
    """rand converts 24 bits exactly: a shift by 8 and a conversion, no division."""
    ptx = compiled("rand", "sm_90a").asm["ptx"]
    assert "shr.u32" in ptx and "div" not in ptx


@pytest.mark.parametrize("source,message", [
    ("tl.rand(seed, offs.to(tl.float32))",
     r"tl\.rand: offset must be an integer, got <\[128\], fp32>"),
    ("tl.randint(1.5, offs)", r"tl\.randint: seed must be an integer, got fp32"),
    ("tl.randn(offs, offs)", r"tl\.randn: seed must be a scalar, got a block of shape \[128\]"),
    ("tl.randint4x(seed, offs, 0)[0]",
     r"tl\.randint4x: n_rounds must be a positive tl\.constexpr int, got 0"),
])
def test_misuse_is_a_compile_error(tmp_path, monkeypatch, source, message):
    name = f"random_misuse_{abs(hash(source))}"  # a module per case: imports are cached
    module = tmp_path / f"{name}.py"
    module.write_text(
        "import tessera\nimport tessera.language as tl\n\n\n@tessera.jit\n"
        "def kernel(out_ptr, seed):\n"
        "    offs = tl.arange(0, 128)\n"
        f"    tl.store(out_ptr + offs, {source})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kernel = importlib.import_module(name).kernel
    with pytest.raises(tessera.CompilationError, match=message) as info:
        tessera.compile(kernel, {"out_ptr": "*fp32", "seed": "i32"}, {}, target="sm_90a")
    assert f"{name}.py:8" in str(info.value)
