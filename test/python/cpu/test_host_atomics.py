"""Atomics on the host CPU (``device="cpu"``): the cases of atomic_cases.py on NumPy arrays,
the front end's type and ordering errors, and an out-of-bounds atomic's report."""
import numpy as np
import pytest

import tessera
import tessera.language as tl
from atomic_cases import CASES, claim, rmw_each


class HostArrays:
    launch = {"device": "cpu"}

    @staticmethod
    def array(values):
        return np.array(values, copy=True)

    @staticmethod
    def numpy(array):
        return array


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__[5:])
def test_atomics_on_the_host(case):
    case(HostArrays(), np.random.default_rng(8))


@tessera.jit
def add_at(P, V, i):
    tl.atomic_add(P + i, V)


@tessera.jit
def max_of_floats(P, V):
    tl.atomic_max(P, V)


@tessera.jit
def add_with(P, V, SEM: tl.constexpr, SCOPE: tl.constexpr):
    tl.atomic_add(P, V, sem=SEM, scope=SCOPE)


def test_an_out_of_bounds_atomic_is_reported():
    cells = np.zeros(4, np.int32)
    with pytest.raises(IndexError, match=r"out-of-bounds atomic at .*test_host_atomics.py:\d+ "
                                         r"in program \(0, 0, 0\)"):
        add_at[(1,)](cells, 1, 4, device="cpu")
    add_at[(1,)](cells, 5, 3, device="cpu")
    np.testing.assert_array_equal(cells, [0, 0, 0, 5])


def test_atomic_type_and_ordering_errors():
    with pytest.raises(tessera.CompilationError, match="tl.atomic_max: the pointers address "
                                                       "fp32; expected 32- or 64-bit integers"):
        max_of_floats[(1,)](np.zeros(1, np.float32), 1.0, device="cpu")
    with pytest.raises(tessera.CompilationError, match="tl.atomic_add: the pointers address "
                                                       "bf16"):
        tessera.compile(add_at, {"P": "*bf16", "V": "fp32", "i": "i32"}, target="sm_90a")
    with pytest.raises(tessera.CompilationError, match="tl.atomic_add: sem must be one of "
                                                       "relaxed, acquire, release, acq_rel, got "
                                                       "'seq_cst'"):
        add_with[(1,)](np.zeros(1, np.int32), 1, SEM="seq_cst", SCOPE="gpu", device="cpu")
    with pytest.raises(tessera.CompilationError, match="tl.atomic_add: scope must be one of "
                                                       "cta, gpu, sys, got 'warp'"):
        add_with[(1,)](np.zeros(1, np.int32), 1, SEM="relaxed", SCOPE="warp", device="cpu")


@pytest.mark.parametrize("target", ["sm_80", "sm_90a"])
def test_atomics_compile_for_the_gpu(target):
    kernel = tessera.compile(rmw_each, {"P": "*u32", "V": "*u32", "Old": "*u32", "n": "i32"},
                             constants={"KIND": "max", "BLOCK": 128}, target=target)
    assert "atom.relaxed.gpu.global.max.u32" in kernel.asm["ptx"]
    assert kernel.asm["cubin"]
    kernel = tessera.compile(claim, {"Flags": "*i64", "Old": "*i64"}, constants={"BLOCK": 32},
                             target=target)
    assert "atom.acq_rel.gpu.global.cas.b64" in kernel.asm["ptx"]
