"""Atomic kernels and their checks, shared by the host tier (test_host_atomics.py: NumPy arrays,
``device="cpu"``) and the GPU tier (test_gpu_atomics.py: CUDA tensors). Each case takes the
tier's ``Arrays`` (how to make arrays, read them back and launch) and asserts on random inputs;
outputs start poisoned (-7) where the kernel must overwrite them."""
import numpy as np

import tessera
import tessera.language as tl


@tessera.jit
def histogram(X, H, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    bins = tl.load(X + offs, mask=mask, other=0)
    tl.atomic_add(H + bins, 1, mask=mask)


@tessera.jit
def tickets(Counter, Out):
    tl.store(Out + tl.program_id(0), tl.atomic_add(Counter, 1))


@tessera.jit
def block_sum(X, Total, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(X + offs, mask=offs < n, other=0.0)
    tl.atomic_add(Total, tl.sum(x, axis=0))


@tessera.jit
def rmw_each(P, V, Old, n, KIND: tl.constexpr, BLOCK: tl.constexpr):
    """Old[i] = atomic KIND of V[i] into P[i % 8]: 8 cells, each hit by many elements."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(V + offs, mask=mask)
    cells = P + offs % 8
    if KIND == "max":
        old = tl.atomic_max(cells, v, mask=mask, sem="relaxed")
    elif KIND == "min":
        old = tl.atomic_min(cells, v, mask=mask, sem="release", scope="cta")
    elif KIND == "and":
        old = tl.atomic_and(cells, v, mask=mask)
    elif KIND == "or":
        old = tl.atomic_or(cells, v, mask=mask)
    elif KIND == "xor":
        old = tl.atomic_xor(cells, v, mask=mask)
    else:
        old = tl.atomic_add(cells, v, mask=mask, sem="acquire", scope="sys")
    tl.store(Old + offs, old, mask=mask)


@tessera.jit
def exchange(P, V, Old, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(Old + offs, tl.atomic_xchg(P + offs, tl.load(V + offs, mask=mask), mask=mask),
             mask=mask)


@tessera.jit
def claim(Flags, Old, BLOCK: tl.constexpr):
    """Every program tries to claim every flag (0 -> its id + 1); one wins each."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    old = tl.atomic_cas(Flags + offs, 0, pid + 1)
    tl.store(Old + pid * BLOCK + offs, old)


def case_histogram(arrays, rng):
    n = 1000
    x = rng.integers(0, 37, n).astype(np.int32)
    h = arrays.array(np.zeros(37, np.int32))
    # 64 elements over 4 warps: two warps hold copies, which must not add twice on a GPU.
    histogram[(tessera.cdiv(n, 64),)](arrays.array(x), h, n, BLOCK=64, num_warps=4,
                                      **arrays.launch)
    np.testing.assert_array_equal(arrays.numpy(h), np.bincount(x, minlength=37))


def case_tickets(arrays, rng):
    programs = 300
    counter = arrays.array(np.zeros(1, np.int32))
    out = arrays.array(np.full(programs, -7, np.int32))
    tickets[(programs,)](counter, out, num_warps=4, **arrays.launch)
    assert arrays.numpy(counter)[0] == programs
    np.testing.assert_array_equal(np.sort(arrays.numpy(out)), np.arange(programs))


def case_float_add(arrays, rng):
    n = 5000
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12), (np.float16, 2e-2)):
        x = rng.standard_normal(n).astype(dtype)
        total = arrays.array(np.zeros(1, dtype))
        block_sum[(tessera.cdiv(n, 256),)](arrays.array(x), total, n, BLOCK=256,
                                           **arrays.launch)
        expected = x.astype(np.float64).sum()
        got = float(arrays.numpy(total)[0])
        assert abs(got - expected) <= rtol * np.abs(x.astype(np.float64)).sum(), \
            f"{dtype.__name__}: {got} against {expected}"


def _rmw_reference(kind, start, values, dtype):
    """The cells after applying ``values`` (element i to cell i % 8) in any order, and the set
    of old values each element may have seen is not unique, so only the final cells are
    compared; for add, the olds of one cell are its partial sums."""
    cells = start.copy()
    for i, v in enumerate(values):
        c = i % 8
        if kind == "max":
            cells[c] = max(cells[c], v)
        elif kind == "min":
            cells[c] = min(cells[c], v)
        elif kind == "and":
            cells[c] &= v
        elif kind == "or":
            cells[c] |= v
        elif kind == "xor":
            cells[c] ^= v
        else:
            cells[c] = dtype(cells[c] + v)
    return cells


def case_integer_rmw(arrays, rng):
    n = 700
    for dtype in (np.int32, np.int64, np.uint32):
        info = np.iinfo(dtype)
        for kind in ("max", "min", "and", "or", "xor", "add"):
            values = rng.integers(info.min // 2 if kind == "add" else info.min,
                                  info.max // 2 if kind == "add" else info.max, n,
                                  dtype=dtype, endpoint=True)
            start = rng.integers(info.min // 2, info.max // 2, 8, dtype=dtype, endpoint=True)
            cells = arrays.array(start)
            old = arrays.array(np.full(n, 7, dtype))
            rmw_each[(tessera.cdiv(n, 128),)](cells, arrays.array(values), old, n, KIND=kind,
                                              BLOCK=128, **arrays.launch)
            with np.errstate(over="ignore"):
                expected = _rmw_reference(kind, start, values, dtype)
            np.testing.assert_array_equal(arrays.numpy(cells), expected,
                                          err_msg=f"{kind} on {dtype.__name__}")
            olds = arrays.numpy(old)
            if kind == "add":  # each cell's olds are distinct partial sums, one of them start
                for c in range(8):
                    assert start[c] in olds[c::8] and len(set(olds[c::8])) == len(olds[c::8])


def case_exchange(arrays, rng):
    n = 300
    for dtype in (np.float32, np.int64, np.float64):
        start = rng.standard_normal(n).astype(dtype) * 100
        new = rng.standard_normal(n).astype(dtype) * 100
        cells = arrays.array(start)
        old = arrays.array(np.full(n, -7, dtype))
        exchange[(tessera.cdiv(n, 128),)](cells, arrays.array(new), old, n, BLOCK=128,
                                          **arrays.launch)
        np.testing.assert_array_equal(arrays.numpy(cells), new)
        np.testing.assert_array_equal(arrays.numpy(old), start)


def case_compare_and_swap(arrays, rng):
    programs, block = 50, 32
    flags = arrays.array(np.zeros(block, np.int32))
    old = arrays.array(np.full(programs * block, -7, np.int32))
    claim[(programs,)](flags, old, BLOCK=block, **arrays.launch)
    owners = arrays.numpy(flags)
    olds = arrays.numpy(old).reshape(programs, block)
    assert ((owners >= 1) & (owners <= programs)).all()
    for f in range(block):
        winners = np.flatnonzero(olds[:, f] == 0)
        assert list(winners) == [owners[f] - 1], f"flag {f}: winners {winners}"
        assert (olds[olds[:, f] != 0, f] == owners[f]).all()


CASES = [case_histogram, case_tickets, case_float_add, case_integer_rmw, case_exchange,
         case_compare_and_swap]
