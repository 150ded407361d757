"""Errors in kernels: CompilationError messages start with ``file:line:`` and show the
offending source line, whether the front end or the C++ compiler found the error."""
from __future__ import annotations

import pytest

from test_frontend_support import line_of, tessera, tile_ir

import tessera.language as tl
from tessera.compiler.aot import compile_tile_ir


def _expect_error(kernel, snippet: str, message: str, signature=None, constants=None) -> str:
    """Generates ``kernel``'s IR and checks the error's location, message and source line."""
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(kernel, signature or {"X": "*fp32", "n": "i32"}, constants or {"BLOCK": 128})
    error = info.value
    line = line_of(kernel, snippet)
    text = str(error)
    assert text.startswith(f"{kernel.source.file}:{line}: "), text
    assert message in text.splitlines()[0], text
    assert text.splitlines()[1].strip() == snippet.strip()
    assert error.lineno == line and error.filename == kernel.source.file
    return text


@tessera.jit
def shape_mismatch(X, n, BLOCK: tl.constexpr):
    x = tl.load(X + tl.arange(0, BLOCK))
    y = tl.load(X + tl.arange(0, 64))
    z = x + y
    tl.store(X + tl.arange(0, BLOCK), z)


def test_shape_mismatch_names_the_line_and_shapes():
    text = _expect_error(shape_mismatch, "    z = x + y", "incompatible shapes [128] and [64]")
    caret = text.splitlines()[2]
    assert caret == " " * text.splitlines()[1].index("x + y") + "^"


@tessera.jit
def pointer_plus_float(X, n, BLOCK: tl.constexpr):
    tl.store(X + 1.5, 0.0)


def test_type_error_names_the_line():
    _expect_error(pointer_plus_float, "    tl.store(X + 1.5, 0.0)",
                  "invalid operands of type pointer<fp32> and fp32")


@tessera.jit
def float_mask(X, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(X + offs, mask=offs * 1.0)
    tl.store(X + offs, x)


def test_non_boolean_mask_is_a_type_error():
    _expect_error(float_mask, "    x = tl.load(X + offs, mask=offs * 1.0)",
                  "mask must have boolean scalar type, got fp32")


@tessera.jit
def runtime_arange(X, n, BLOCK: tl.constexpr):
    tl.store(X + tl.arange(0, n), 0.0)


def test_arange_needs_constexpr_bounds():
    _expect_error(runtime_arange, "    tl.store(X + tl.arange(0, n), 0.0)",
                  "arange's arguments must be tl.constexpr ints")


@tessera.jit
def loop_changes_type(X, n, BLOCK: tl.constexpr):
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for i in range(n):
        acc = acc.to(tl.float16)
    tl.store(X + tl.arange(0, BLOCK), acc)


def test_loop_carried_type_change_is_rejected():
    _expect_error(loop_changes_type, "    for i in range(n):",
                  "loop-carried variable acc has initial type <[128], fp32>")


@tessera.jit
def loop_changes_tuple(X, n, BLOCK: tl.constexpr):
    pair = (tl.zeros((BLOCK,), dtype=tl.float32), tl.zeros((BLOCK,), dtype=tl.float32))
    for i in range(n):
        pair = (pair[0], pair[1].to(tl.float16))
    tl.store(X + tl.arange(0, BLOCK), pair[0])


# Tests that a loop-carried tuple must keep its elements' types, and that the error names both.
def test_loop_carried_tuple_type_change_is_rejected():
    _expect_error(loop_changes_tuple, "    for i in range(n):",
                  "loop-carried variable pair has initial type (<[128], fp32>, <[128], fp32>) but "
                  "is re-assigned to (<[128], fp32>, <[128], fp16>)")


@tessera.jit
def branches_disagree(X, n, BLOCK: tl.constexpr):
    if n > 0:
        v = 1
    else:
        v = 1.0
    tl.store(X, v)


def test_if_branches_must_agree_on_types():
    _expect_error(branches_disagree, "    if n > 0:", "mismatched type for v")


@tessera.jit
def bad_helper(x):
    return x + tl.arange(0, 64)


@tessera.jit
def calls_bad_helper(X, n, BLOCK: tl.constexpr):
    tl.store(X + tl.arange(0, BLOCK), bad_helper(tl.load(X + tl.arange(0, BLOCK))))


def test_errors_in_inlined_functions_point_into_the_callee():
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(calls_bad_helper, {"X": "*fp32", "n": "i32"}, {"BLOCK": 128})
    assert str(info.value).startswith(
        f"{bad_helper.source.file}:{line_of(bad_helper, 'return x + tl.arange')}: "
        "incompatible shapes [128] and [64]")


@tessera.jit
def undefined_name(X, n, BLOCK: tl.constexpr):
    tl.store(X, not_defined_anywhere)  # noqa: F821


def test_undefined_name():
    _expect_error(undefined_name, "    tl.store(X, not_defined_anywhere)  # noqa: F821",
                  "name 'not_defined_anywhere' is not defined")


@tessera.jit
def static_assert_fails(X, n, BLOCK: tl.constexpr):
    tl.static_assert(BLOCK < 64, f"BLOCK={BLOCK} too large")


def test_static_assert_message():
    _expect_error(static_assert_fails, '    tl.static_assert(BLOCK < 64, f"BLOCK={BLOCK} too large")',
                  "static_assert failed: BLOCK=128 too large")


@tessera.jit
def returns_in_loop(X, n, BLOCK: tl.constexpr):
    for i in range(n):
        return


def test_return_inside_a_loop_is_rejected():
    _expect_error(returns_in_loop, "        return", "`return` is only supported outside loops")


@tessera.jit
def returns_sometimes(x):
    if x > 0:
        return x


@tessera.jit
def calls_returns_sometimes(X, n, BLOCK: tl.constexpr):
    tl.store(X, returns_sometimes(n))


def test_a_value_returned_on_one_path_only_is_rejected():
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(calls_returns_sometimes, {"X": "*fp32", "n": "i32"}, {"BLOCK": 128})
    assert str(info.value).startswith(
        f"{returns_sometimes.source.file}:{line_of(returns_sometimes, 'if x > 0')}: "
        "returns_sometimes returns a value on only one path of a run-time `if`")


def test_compiler_diagnostics_are_re_raised_at_the_python_line(monkeypatch):
    line = line_of(shape_mismatch, "z = x + y")
    file = shape_mismatch.source.file
    diagnostics = (f"{file}:{line}:8: error: 'arith.addf' op something is wrong\n"
                   f"{file}:{line}:8: note: see current operation\n")

    def failing_compile(*args):
        raise tessera.CompilationError(diagnostics)

    monkeypatch.setattr(tessera._C, "compile", failing_compile)
    with pytest.raises(tessera.CompilationError) as info:
        tessera.compile(add_one, signature={"X": "*fp32"})
    text = str(info.value)
    assert text.startswith(f"{file}:{line}: 'arith.addf' op something is wrong\n")
    assert text.splitlines()[1].strip() == "z = x + y"
    assert text.splitlines()[2] == " " * 8 + "^"
    assert "note: see current operation" in text and info.value.col == 8


@tessera.jit
def add_one(X):
    tl.store(X, tl.load(X) + 1)


def test_real_compiler_diagnostic_shows_the_source_line():
    line = line_of(add_one, "tl.store(X, tl.load(X) + 1)")
    file = add_one.source.file
    bad_ir = (
        '"builtin.module"() ({\n'
        '  "func.func"() ({\n'
        '    %0 = "tile.make_range"() {start = 0 : i32, end = 3 : i32} : () -> tensor<3xi32> '
        f'loc("{file}":{line}:4)\n'
        f'    "func.return"() : () -> () loc("{file}":{line}:4)\n'
        '  }) {sym_name = "k", function_type = () -> (), tile.kernel} : () -> () '
        f'loc("{file}":{line}:4)\n'
        f'}}) : () -> () loc("{file}":{line}:4)\n')
    with pytest.raises(tessera.CompilationError) as info:
        compile_tile_ir(bad_ir, "sm_90a", 4, 3)
    text = str(info.value)
    assert text.startswith(f"{file}:{line}: "), text
    assert "make_range" in text.splitlines()[0]
    assert text.splitlines()[1].strip() == "tl.store(X, tl.load(X) + 1)"


def test_compilation_error_is_a_tessera_error():
    assert issubclass(tessera.CompilationError, tessera.TesseraError)
    error = tessera.CompilationError("plain")
    assert str(error) == "plain" and error.lineno is None
