"""tl.randint4x / randint / rand / rand4x / randn / randn4x on the GPU.

Bit for bit against the pure-Python Philox4x32 reference of the CPU tier (which reproduces
Random123's known-answer vectors): int32, int64, negative and constant-1 seeds, 32-bit offsets
(wrapping past 2**31), 64-bit offsets crossing 2**32, 7 and 10 rounds. Then the distributions:
rand in [0, 1) with mean 1/2 and variance 1/12, randn with mean 0 and standard deviation 1, on
2**20 samples; the same seed reproduces, different seeds differ. Where Triton is installed,
randint4x also matches Triton's tl.randint4x (same key and counter layout).
"""
import math
import sys
from pathlib import Path

import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cpu"))  # the reference's home
from test_language_random import (four_kernel, normal_pair_reference,  # noqa: E402
                                  randint4x_kernel, randint4x_reference, single_kernel,
                                  uniform_reference)

MASK32 = 0xFFFFFFFF
BLOCK = 1024
N = 3000  # not a multiple of BLOCK: the last program is masked
SEEDS = [0, 1, 42, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40 + 12345, -(2 ** 45) - 3]
# |kernel - float64 reference| of a normal: fp32 rounding of the angle (<= 5e-7 rad, times a
# radius <= 5.8) and of log/sqrt/cos/sin (a few ulps)
NORMAL_ATOL = 2e-5
STAT_SAMPLES = 2 ** 20


def grid(n, block=BLOCK):
    return (tessera.cdiv(n, block),)


def words(out):
    """An (n, 4) int32 tensor as lists of uint32 words."""
    return [[w & MASK32 for w in row] for row in out.cpu().tolist()]


def run_randint4x(seed, base, n=N, rounds=10):
    out = torch.zeros((n, 4), dtype=torch.int32, device="cuda")
    randint4x_kernel[grid(n)](out, seed, base, n, BLOCK=BLOCK, N_ROUNDS=rounds)
    torch.cuda.synchronize()
    return out


def run_single(kind, seed, n):
    dtype = torch.int32 if kind == "randint" else torch.float32
    out = torch.full((n,), -7 if kind == "randint" else float("nan"), dtype=dtype,
                     device="cuda")
    single_kernel[grid(n)](out, seed, n, BLOCK=BLOCK, KIND=kind)
    torch.cuda.synchronize()
    return out


def run_four(normal, seed, n=N):
    out = torch.full((n, 4), float("nan"), dtype=torch.float32, device="cuda")
    four_kernel[grid(n, 512)](out, seed, n, BLOCK=512, NORMAL=normal)
    torch.cuda.synchronize()
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_randint4x_is_philox4x32_10(seed):
    got = words(run_randint4x(seed, 0))
    expected = [list(randint4x_reference(seed, i)) for i in range(N)]
    bad = [i for i in range(N) if got[i] != expected[i]]
    assert not bad, (f"seed {seed}: {len(bad)} of {N} offsets differ; offset {bad[0]}: got "
                     f"{[hex(w) for w in got[bad[0]]]}, expected "
                     f"{[hex(w) for w in expected[bad[0]]]}")


def test_randint4x_with_7_rounds():
    got = words(run_randint4x(2024, 0, rounds=7))
    assert got == [list(randint4x_reference(2024, i, rounds=7)) for i in range(N)]


@pytest.mark.parametrize("base,bits", [
    (2 ** 31 - 1000, 32),     # int32 offsets wrap past 2**31: their 32-bit pattern
    (2 ** 32 - 1000, 64),     # int64 offsets crossing 2**32: the high word enters the counter
    (2 ** 40 + 3, 64),
    (-(2 ** 33), 64),
])
def test_randint4x_offsets(base, bits):
    seed = 2 ** 33 + 77
    got = words(run_randint4x(seed, base))
    assert got == [list(randint4x_reference(seed, base + i, bits)) for i in range(N)]


def test_randint_is_the_first_word():
    got = [w & MASK32 for w in run_single("randint", 99, N).cpu().tolist()]
    assert got == [randint4x_reference(99, i)[0] for i in range(N)]


def test_rand_and_rand4x_are_the_words_top_bits():
    """The conversion is exact, so the uniforms match the reference bit for bit."""
    seed = 31337
    expected = [randint4x_reference(seed, i) for i in range(N)]
    assert run_single("rand", seed, N).cpu().tolist() == \
        [uniform_reference(e[0]) for e in expected]
    assert run_four(False, seed).cpu().tolist() == \
        [[uniform_reference(w) for w in e] for e in expected]


def test_randn_and_randn4x_are_box_muller():
    seed = -12345
    expected = []
    for i in range(N):
        r = randint4x_reference(seed, i)
        expected.append(normal_pair_reference(r[0], r[1]) + normal_pair_reference(r[2], r[3]))
    reference = torch.tensor(expected, dtype=torch.float64)
    four = run_four(True, seed).cpu().double()
    single = run_single("randn", seed, N).cpu().double()
    torch.testing.assert_close(four, reference, rtol=0, atol=NORMAL_ATOL)
    torch.testing.assert_close(single, reference[:, 0], rtol=0, atol=NORMAL_ATOL)


def test_rand_distribution():
    u = run_single("rand", 20240601, STAT_SAMPLES).double()
    assert bool(torch.isfinite(u).all())
    assert u.min().item() >= 0.0 and u.max().item() < 1.0
    # standard errors: mean sqrt(1/12/n) = 2.8e-4, variance sqrt(1/180/n) = 7.3e-5
    assert abs(u.mean().item() - 0.5) < 2e-3
    assert abs(u.var().item() - 1 / 12) < 5e-4
    # each tenth of [0, 1) holds a tenth of the samples (binomial sd 2.9e-4)
    counts = torch.histc(u.float(), bins=10, min=0.0, max=1.0) / STAT_SAMPLES
    assert bool(((counts - 0.1).abs() < 2e-3).all()), counts


def test_randn_distribution():
    z = run_single("randn", 7, STAT_SAMPLES).double()
    assert bool(torch.isfinite(z).all())
    # standard errors: mean 1/sqrt(n) = 1e-3, standard deviation 1/sqrt(2n) = 7e-4
    assert abs(z.mean().item()) < 5e-3
    assert abs(z.std().item() - 1.0) < 5e-3
    # P(|z| > 2) = 0.0455 (binomial sd 2e-4); no value beyond the largest radius, sqrt(48 ln 2)
    assert abs((z.abs() > 2).double().mean().item() - 0.0455) < 2e-3
    assert z.abs().max().item() <= math.sqrt(48 * math.log(2)) + 1e-4


@pytest.mark.parametrize("kind", ["randint", "rand", "randn"])
def test_same_seed_reproduces_different_seeds_differ(kind):
    n = 1 << 16
    first, again = run_single(kind, 5, n), run_single(kind, 5, n)
    other = run_single(kind, 6, n)
    assert torch.equal(first, again)
    assert (first == other).double().mean().item() < 1e-3


try:  # Triton's tl.randint4x, where Triton is installed
    import triton
    import triton.language as ttl
except ImportError:  # pragma: no cover - Triton is optional
    triton = None

if triton is not None:
    @triton.jit
    def triton_randint4x_kernel(out_ptr, seed, n, BLOCK: ttl.constexpr):
        i = ttl.program_id(0) * BLOCK + ttl.arange(0, BLOCK)
        mask = i < n
        r0, r1, r2, r3 = ttl.randint4x(seed, i)
        ttl.store(out_ptr + 4 * i, r0.to(ttl.int32, bitcast=True), mask=mask)
        ttl.store(out_ptr + 4 * i + 1, r1.to(ttl.int32, bitcast=True), mask=mask)
        ttl.store(out_ptr + 4 * i + 2, r2.to(ttl.int32, bitcast=True), mask=mask)
        ttl.store(out_ptr + 4 * i + 3, r3.to(ttl.int32, bitcast=True), mask=mask)


@pytest.mark.skipif(triton is None, reason="Triton is not installed")
@pytest.mark.parametrize("seed", [7, -5, 2 ** 40 + 1])
def test_randint4x_matches_triton(seed):
    theirs = torch.zeros((N, 4), dtype=torch.int32, device="cuda")
    triton_randint4x_kernel[grid(N)](theirs, seed, N, BLOCK=BLOCK)
    assert torch.equal(run_randint4x(seed, 0), theirs)
