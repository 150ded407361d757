"""tessera.compile: ahead-of-time compilation from a Triton-style signature, no GPU needed."""
from __future__ import annotations

import pytest

from test_frontend_support import tessera

import tessera.language as tl


@tessera.jit
def scale_kernel(X, Y, n, alpha, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(Y + offs, tl.load(X + offs, mask=mask) * alpha, mask=mask)


SIGNATURE = {"X": "*fp16:16", "Y": "*fp32", "n": "i32", "alpha": "fp32"}


def test_compile_produces_every_stage():
    kernel = tessera.compile(scale_kernel, signature=SIGNATURE, constants={"BLOCK": 256},
                             target="sm_90a", num_warps=4, num_stages=3)
    assert kernel.name == "scale_kernel" and kernel.num_params == 4
    assert isinstance(kernel.shared, int) and kernel.shared >= 0
    for stage in ("tile", "tilegpu", "llir", "ptx"):
        assert isinstance(kernel.asm[stage], str) and kernel.asm[stage]
    assert "tile.kernel" in kernel.asm["tile"]
    assert ".visible .entry scale_kernel(" in kernel.asm["ptx"]
    assert ".target sm_90a" in kernel.asm["ptx"]
    if "cubin" in kernel.asm:
        assert isinstance(kernel.asm["cubin"], bytes) and kernel.asm["cubin"][:4] == b"\x7fELF"


def test_compile_for_sm80_with_a_folded_parameter():
    kernel = tessera.compile(scale_kernel, signature={"X": "*fp16", "Y": "*fp32", "n": "i32"},
                             constants={"BLOCK": 128, "alpha": 1}, target="sm_80")
    assert kernel.num_params == 3
    assert ".target sm_80" in kernel.asm["ptx"]


@tessera.jit
def scale_kernel_with_default(X, Y, n, BLOCK: tl.constexpr, SCALE: tl.constexpr = 2):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(Y + offs, tl.load(X + offs, mask=mask) * SCALE, mask=mask)


def test_a_constexpr_default_applies_unless_given():
    signature = {"X": "*fp32", "Y": "*fp32", "n": "i32"}
    default = tessera.compile(scale_kernel_with_default, signature, {"BLOCK": 128})
    given = tessera.compile(scale_kernel_with_default, signature, {"BLOCK": 128, "SCALE": 3})
    assert "dense<2.000000e+00>" in default.asm["tile"]
    assert "dense<3.000000e+00>" in given.asm["tile"]


def test_signature_errors():
    with pytest.raises(ValueError, match="alpha is missing from the signature"):
        tessera.compile(scale_kernel, signature={"X": "*fp16", "Y": "*fp32", "n": "i32"},
                        constants={"BLOCK": 128})
    with pytest.raises(ValueError, match="constexpr parameter BLOCK needs a value"):
        tessera.compile(scale_kernel, signature=SIGNATURE)
    with pytest.raises(ValueError, match=r"no parameters \['Z'\]"):
        tessera.compile(scale_kernel, signature={**SIGNATURE, "Z": "i32"}, constants={"BLOCK": 128})
    with pytest.raises(ValueError, match="unknown signature type 'float'"):
        tessera.compile(scale_kernel, signature={**SIGNATURE, "alpha": "float"},
                        constants={"BLOCK": 128})
    with pytest.raises(TypeError, match="@tessera.jit"):
        tessera.compile(lambda x: x, signature={})
