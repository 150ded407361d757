"""tl.multiple_of and tl.max_contiguous: tile.hint in the IR, 16-byte accesses in the PTX where
the hints supply what the axis analysis cannot prove, and errors at the source line."""
from __future__ import annotations

import pytest

from test_frontend_support import line_of, ops, parse, tessera, tile_ir

import tessera.language as tl

TARGETS = ("sm_80", "sm_90a")


@tessera.jit
def hinted_kernel(X, Y, n, BLOCK: tl.constexpr, HINT: tl.constexpr):
    X = tl.multiple_of(X, 16)
    offs = (tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)) % n
    if HINT:
        offs = tl.max_contiguous(tl.multiple_of(offs, BLOCK), BLOCK)
    tl.store(Y + offs, tl.load(X + offs))


def test_hints_emit_tile_hint_with_one_fact_each():
    ir = tile_ir(hinted_kernel, {"X": "*fp32", "Y": "*fp32:16", "n": "i32"},
                 {"BLOCK": 256, "HINT": True})
    assert parse(ir).returncode == 0, parse(ir).stderr
    pointer, multiple, contiguous = ops(ir, "tile.hint")
    assert ("{divisibility = array<i64: 16>} : (!tile.ptr<f32>) -> !tile.ptr<f32>"
            in pointer)
    assert "{divisibility = array<i64: 256>} : (tensor<256xi32>) -> tensor<256xi32>" in multiple
    assert "{contiguity = array<i64: 256>} : (tensor<256xi32>) -> tensor<256xi32>" in contiguous
    # The contiguity hint applies to the multiple_of result, and the accesses use it.
    assert contiguous.split('"tile.hint"(')[1].startswith(multiple.split(" = ")[0].strip() + ")")
    result = contiguous.split(" = ")[0].strip()
    assert all(f", {result})" in op for op in ops(ir, "tile.addptr"))
    file = hinted_kernel.source.file
    assert f'loc("{file}":{line_of(hinted_kernel, "tl.max_contiguous")}:' in contiguous


@pytest.mark.parametrize("target", TARGETS)
def test_hints_give_16_byte_accesses(target, run_ptxas):
    signature = {"X": "*fp32", "Y": "*fp32:16", "n": "i32"}
    hinted = tessera.compile(hinted_kernel, signature, {"BLOCK": 1024, "HINT": True},
                             target=target)
    plain = tessera.compile(hinted_kernel, signature, {"BLOCK": 1024, "HINT": False},
                            target=target)
    assert "tile.hint" not in hinted.asm["llir"]
    for access in ("ld.global", "st.global"):
        assert f"{access}.v4.b32" in hinted.asm["ptx"]
        assert f"{access}.v" not in plain.asm["ptx"]  # `% n` hides runs and alignment
    result = run_ptxas(hinted.asm["ptx"], target)
    assert result.returncode == 0, result.stderr


@tessera.jit
def shapes_kernel(X, n, KIND: tl.constexpr):
    rows = tl.arange(0, 16)[:, None] * n + tl.arange(0, 64)[None, :]
    if KIND == "per_dimension":
        rows = tl.max_contiguous(tl.multiple_of(rows, (1, 24)), [1, 128])
    elif KIND == "scalar":
        n = tl.max_contiguous(tl.multiple_of(n, 8), 4)
    tl.store(X + rows + n, 0.0)


def test_values_per_dimension_reduce_to_powers_of_two_and_clamp_to_the_shape():
    ir = tile_ir(shapes_kernel, {"X": "*fp32", "n": "i32"}, {"KIND": "per_dimension"})
    assert parse(ir).returncode == 0, parse(ir).stderr
    multiple, contiguous = ops(ir, "tile.hint")
    assert "{divisibility = array<i64: 1, 8>} : (tensor<16x64xi32>)" in multiple  # 24 -> 8
    assert "{contiguity = array<i64: 1, 64>} : (tensor<16x64xi32>)" in contiguous  # 128 -> 64


def test_scalar_hints_have_one_value():
    ir = tile_ir(shapes_kernel, {"X": "*fp32", "n": "i32"}, {"KIND": "scalar"})
    assert parse(ir).returncode == 0, parse(ir).stderr
    multiple, contiguous = ops(ir, "tile.hint")
    assert "{divisibility = array<i64: 8>} : (i32) -> i32" in multiple
    assert "{contiguity = array<i64: 1>} : (i32) -> i32" in contiguous  # a scalar has no runs


@tessera.jit
def bad_hint_kernel(X, n, f, KIND: tl.constexpr):
    offs = tl.arange(0, 64)
    if KIND == "rank":
        offs = tl.multiple_of(offs, (16, 16))
    elif KIND == "float":
        f = tl.multiple_of(f, 16)
    elif KIND == "runtime":
        offs = tl.max_contiguous(offs, n)
    elif KIND == "zero":
        offs = tl.multiple_of(offs, 0)
    tl.store(X + offs, f)


@pytest.mark.parametrize("kind, snippet, message", [
    ("rank", "tl.multiple_of(offs, (16, 16))",
     "tl.multiple_of: 2 values for a tensor of rank 1; give one per dimension"),
    ("float", "tl.multiple_of(f, 16)",
     "tl.multiple_of expects an integer or pointer tensor, got fp32"),
    ("runtime", "tl.max_contiguous(offs, n)",
     "tl.max_contiguous: values element 0 must be a tl.constexpr int"),
    ("zero", "tl.multiple_of(offs, 0)", "tl.multiple_of: values must be positive, got 0"),
])
def test_hint_errors_name_the_line(kind, snippet, message):
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(bad_hint_kernel, {"X": "*fp32", "n": "i32", "f": "fp32"}, {"KIND": kind})
    text = str(info.value)
    assert text.startswith(f"{bad_hint_kernel.source.file}:{line_of(bad_hint_kernel, snippet)}: ")
    assert message in text.splitlines()[0], text
