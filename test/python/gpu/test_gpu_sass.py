"""The machine code of the example kernels, read with cuobjdump (the `cuobjdump` fixture): 16-byte
global accesses where the PTX promised them, shuffles for reductions, and no local-memory spills
anywhere."""
import re

import pytest

import tessera

import layer_norm
import matmul
import softmax
import vector_add

SPECS = {spec["name"]: spec
         for module in (vector_add, softmax, layer_norm, matmul)
         for spec in module.COMPILE_SPECS}


@pytest.fixture
def sass_of(cuobjdump):
    """sass_of(name, target="sm_90a"): the SASS of example kernel spec `name`."""

    def dump(name, target="sm_90a"):
        spec = dict(SPECS[name])
        spec.pop("name")
        fn = spec.pop("fn")
        kernel = tessera.compile(fn, target=target, **spec)
        assert "cubin" in kernel.asm, "no cubin: ptxas was not found"
        return cuobjdump(kernel.asm["cubin"])

    return dump


@pytest.mark.parametrize("name", sorted(SPECS))
def test_no_local_memory_spills(name, sass_of):
    sass = sass_of(name)
    assert not re.search(r"\b(LDL|STL)\b", sass), f"{name} spills to local memory"


@pytest.mark.parametrize("name", ["vector_add_fp32_aligned", "vector_add_bf16_aligned"])
def test_aligned_vector_add_uses_128_bit_accesses(name, sass_of):
    sass = sass_of(name)
    assert re.search(r"\bLDG\.E\.128\b", sass), sass
    assert re.search(r"\bSTG\.E\.128\b", sass), sass


def test_softmax_reduces_with_butterfly_shuffles(sass_of):
    sass = sass_of("softmax_bf16_4096")
    assert "SHFL.BFLY" in sass
    assert "MUFU.EX2" in sass  # tl.exp as ex2.approx, as Triton does
