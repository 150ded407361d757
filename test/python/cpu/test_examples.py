"""CPU tier: every example kernel compiles through tessera.compile for sm_80 and sm_90a, every stage is
present, and ptxas accepts the PTX. Also checks the code-generation claims the examples rely on:
16-byte global accesses for aligned element-wise kernels, warp shuffles for row reductions."""
import re

import pytest

import tessera

import layer_norm
import matmul
import softmax
import vector_add

TARGETS = ("sm_80", "sm_90a")
SPECS = {spec["name"]: spec for module in (vector_add, softmax, layer_norm, matmul)
         for spec in module.COMPILE_SPECS}
STAGES = ("tile", "tilegpu", "llir", "ptx")

_compiled = {}


def compiled(name, target):
    """The compiled spec (memoised: several tests read the same specialisation)."""
    key = (name, target)
    if key not in _compiled:
        spec = SPECS[name]
        _compiled[key] = tessera.compile(spec["fn"], signature=spec["signature"],
                                         constants=spec["constants"], target=target,
                                         num_warps=spec.get("num_warps", 4),
                                         num_stages=spec.get("num_stages", 3))
    return _compiled[key]


def text(data):
    return data.decode() if isinstance(data, (bytes, bytearray)) else data


def ptx_of(name, target):
    return text(compiled(name, target).asm["ptx"])


all_specs = pytest.mark.parametrize("name", sorted(SPECS))
all_targets = pytest.mark.parametrize("target", TARGETS)


@all_targets
@all_specs
def test_every_stage_is_produced(name, target):
    asm = compiled(name, target).asm
    for stage in STAGES:
        assert stage in asm, f"{name} [{target}]: no {stage!r} stage in .asm ({sorted(asm)})"
        assert text(asm[stage]).strip(), f"{name} [{target}]: empty {stage!r} stage"
    ptx = text(asm["ptx"])
    assert ".entry" in ptx
    assert re.search(rf"^\s*\.target\s+{target}\b", ptx, re.M), f"PTX is not for {target}"


@all_targets
@all_specs
def test_cubin_when_ptxas_present(name, target, ptxas):
    asm = compiled(name, target).asm
    assert "cubin" in asm, f"{name} [{target}]: ptxas is at {ptxas} but .asm has no cubin"
    cubin = asm["cubin"]
    assert isinstance(cubin, (bytes, bytearray)) and cubin[:4] == b"\x7fELF"


@all_targets
@all_specs
def test_ptxas_accepts_the_ptx(name, target, run_ptxas):
    proc = run_ptxas(ptx_of(name, target), target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected {name}:\n{proc.stderr}"


# A 16-byte global access: four 32-bit lanes (fp32, or eight packed bf16 as .b32) or two 64-bit.
VEC16 = r"\.v4\.(?:b32|f32|u32|s32)|\.v2\.(?:b64|f64|u64|s64)"
VEC_ANY = r"\.v[248]\."


def global_accesses(ptx, op):
    return re.findall(rf"\b{op}\.global[^\s]*", ptx)


@all_targets
@pytest.mark.parametrize("name", ["vector_add_fp32_aligned", "vector_add_bf16_aligned"])
def test_aligned_vector_add_moves_16_bytes_per_access(name, target):
    ptx = ptx_of(name, target)
    loads, stores = global_accesses(ptx, "ld"), global_accesses(ptx, "st")
    assert any(re.search(VEC16, ld) for ld in loads), f"no 16-byte global load: {loads}"
    assert any(re.search(VEC16, st) for st in stores), f"no 16-byte global store: {stores}"


@all_targets
def test_unaligned_vector_add_is_not_vectorised(target):
    # Nothing is known about the pointers' alignment, so a vector access could fault.
    ptx = ptx_of("vector_add_fp32", target)
    vector = [a for a in global_accesses(ptx, "ld") + global_accesses(ptx, "st")
              if re.search(VEC_ANY, a)]
    assert not vector, f"vector accesses without known alignment: {vector}"


@all_targets
@pytest.mark.parametrize("name", ["softmax_bf16_4096", "softmax_fp32_1024"])
def test_softmax_reduces_with_warp_shuffles(name, target):
    assert "shfl.sync" in ptx_of(name, target)
