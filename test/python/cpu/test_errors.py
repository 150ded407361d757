"""A kernel with a type error or a shape mismatch raises tessera.CompilationError naming the kernel's
file and line (and showing the source line), never a C++ abort. Needs no GPU."""
import os
import re
from pathlib import Path

import pytest

import tessera
import tessera.language as tl
from tessera import errors

THIS_FILE = Path(__file__)


def marked_line(marker):
    """1-based line number of the source line carrying `marker` in this file."""
    for number, line in enumerate(THIS_FILE.read_text().splitlines(), start=1):
        if line.rstrip().endswith(f"# {marker}") and "marked_line" not in line:
            return number, line.split("#")[0].strip()
    raise AssertionError(f"marker {marker!r} not found")


@tessera.jit
def float_bitwise_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = x & 1  # ERROR: type
    tl.store(out_ptr + offs, y)


@tessera.jit
def add_shape_mismatch_kernel(out_ptr, BLOCK: tl.constexpr):
    a = tl.arange(0, BLOCK)
    b = tl.arange(0, 2 * BLOCK)
    c = a + b  # ERROR: shape-add
    tl.store(out_ptr + a, c)


@tessera.jit
def dot_shape_mismatch_kernel(a_ptr, b_ptr, c_ptr, BLOCK: tl.constexpr):
    rows = tl.expand_dims(tl.arange(0, BLOCK), 1)
    cols = tl.expand_dims(tl.arange(0, BLOCK), 0)
    wide = tl.expand_dims(tl.arange(0, 2 * BLOCK), 0)
    a = tl.load(a_ptr + rows * (2 * BLOCK) + wide)  # BLOCK x 2*BLOCK
    b = tl.load(b_ptr + rows * BLOCK + cols)  # BLOCK x BLOCK
    c = tl.dot(a, b)  # ERROR: shape-dot
    tl.store(c_ptr + rows * BLOCK + cols, c)


CASES = {
    "type": (float_bitwise_kernel, {"x_ptr": "*fp32", "out_ptr": "*fp32"}, {"BLOCK": 128}),
    "shape-add": (add_shape_mismatch_kernel, {"out_ptr": "*i32"}, {"BLOCK": 64}),
    "shape-dot": (dot_shape_mismatch_kernel, {"a_ptr": "*fp16", "b_ptr": "*fp16", "c_ptr": "*fp32"},
                  {"BLOCK": 32}),
}


@pytest.mark.parametrize("target", ["sm_80", "sm_90a"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_error_names_file_and_line(case, target):
    fn, signature, constants = CASES[case]
    line, source = marked_line(f"ERROR: {case}")
    with pytest.raises(tessera.CompilationError) as info:
        tessera.compile(fn, signature=signature, constants=constants, target=target, num_warps=4,
                        num_stages=1)
    message = str(info.value)
    assert f"{os.path.basename(__file__)}:{line}" in message, message
    assert source in message, f"the source line {source!r} is not shown:\n{message}"


def test_status_codes_are_the_c_apis():
    """tessera.errors' status codes are runtime/tessera.h's tessera_status_code values."""
    header = (THIS_FILE.parents[3] / "runtime" / "tessera.h").read_text()
    codes = {name: int(value) for name, value in re.findall(r"TESSERA_([A-Z_]+) = (\d+)", header)}
    for name in ("INVALID_ARGUMENT", "COMPILE_ERROR", "UNAVAILABLE", "CANCELLED"):
        assert getattr(errors, name) == codes[name], name
