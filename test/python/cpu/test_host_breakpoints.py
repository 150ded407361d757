"""Python's breakpoint() in kernels run on the host: what a handler is given (every variable's
value, in each program, in loops and inlined functions), pdb on it, stopping the launch, a
handler's exception, PYTHONBREAKPOINT=0, and GPU compiles that drop breakpoints.
"""
import bdb
import inspect
import io
import os
import sys

import numpy as np
import pytest
import torch

from test_frontend_support import tessera

import tessera.language as tl

RNG = np.random.default_rng(20261124)


def line_of(kernel, text):
    """The file line of the first line of ``kernel`` that holds ``text``."""
    lines, first = inspect.getsourcelines(kernel.fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.fixture
def stops():
    """The breakpoints reached while the test runs, recorded by a handler that goes on."""
    recorded = []
    previous = tessera.set_breakpoint_handler(recorded.append)
    yield recorded
    tessera.set_breakpoint_handler(previous)


@tessera.jit
def inspect_kernel(X, Y16, OUT, AUX, n, scale, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask, other=0.0)
    y = tl.load(Y16 + offs, mask=mask, other=0.0)
    wide = offs.to(tl.uint32) * 3
    total = tl.sum(x, axis=0)
    breakpoint()
    tl.store(OUT + offs, x * scale, mask=mask)
    tl.store(AUX + offs, y.to(tl.float32) + wide.to(tl.float32) + total, mask=mask)


def inspect_inputs(n=40):
    """x, y (bf16) and the poisoned outputs out and aux."""
    x = RNG.standard_normal(n).astype(np.float32)
    y = torch.from_numpy(RNG.standard_normal(n).astype(np.float32)).to(torch.bfloat16)
    return x, y, np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)


def test_a_handler_gets_every_variable_of_each_program(stops):
    n, block, scale = 40, 16, 1.5
    x, y, out, aux = inspect_inputs(n)
    inspect_kernel[(3,)](x, y, out, aux, n, scale, BLOCK=block, device="cpu")
    np.testing.assert_array_equal(out, x * np.float32(scale))  # the kernel went on
    assert [stop.program_id for stop in stops] == [(0, 0, 0), (1, 0, 0), (2, 0, 0)]
    y_wide = y.float().numpy()
    for pid, stop in enumerate(stops):
        assert os.path.samefile(stop.file, __file__)
        assert stop.line == line_of(inspect_kernel, "breakpoint()")
        assert stop.function == "inspect_kernel"
        assert set(stop.values) == {"X", "Y16", "OUT", "AUX", "n", "scale", "BLOCK", "offs",
                                    "mask", "x", "y", "wide", "total"}
        v = stop.values
        offs = pid * block + np.arange(block, dtype=np.int32)
        mask = offs < n
        expected_x = np.where(mask, x[np.minimum(offs, n - 1)], 0).astype(np.float32)
        np.testing.assert_array_equal(v["offs"], offs)
        assert v["offs"].dtype == np.int32
        np.testing.assert_array_equal(v["mask"], mask)
        assert v["mask"].dtype == np.bool_
        np.testing.assert_array_equal(v["x"], expected_x)
        np.testing.assert_array_equal(v["y"],
                                      np.where(mask, y_wide[np.minimum(offs, n - 1)], 0))
        assert v["y"].dtype == np.float32  # bf16, widened exactly
        np.testing.assert_array_equal(v["wide"], offs.astype(np.uint32) * 3)
        assert v["wide"].dtype == np.uint32
        assert v["total"] == pytest.approx(float(expected_x.sum()), rel=1e-5)
        assert (v["n"], v["BLOCK"]) == (n, block)
        assert isinstance(v["n"], np.int32) and v["scale"] == np.float32(scale)
        assert v["X"] == x.__array_interface__["data"][0]
        assert v["Y16"] == y.data_ptr() and v["X"].dtype == np.uint64
        np.testing.assert_array_equal(
            aux[offs[mask]], (v["y"] + v["wide"].astype(np.float32) + v["total"])[mask])


@tessera.jit
def report(value):
    doubled = value * 2
    breakpoint()
    return doubled


@tessera.jit
def loop_kernel(OUT, steps):
    acc = 0
    for i in range(steps):
        acc += i
        breakpoint()
    tl.store(OUT + tl.program_id(0), report(acc))


def test_breakpoints_stop_in_loops_and_inlined_functions(stops):
    steps = 4
    out = np.full(2, -7, np.int32)
    loop_kernel[(2,)](out, steps, device="cpu")
    np.testing.assert_array_equal(out, [12, 12])
    in_loop, in_report = line_of(loop_kernel, "breakpoint()"), line_of(report, "breakpoint()")
    expected = []
    for pid in range(2):
        expected += [("loop_kernel", in_loop, pid, {"i": i, "acc": i * (i + 1) // 2})
                     for i in range(steps)]
        expected.append(("report", in_report, pid, {"value": 6, "doubled": 12}))
    assert len(stops) == len(expected)
    for stop, (function, line, pid, values) in zip(stops, expected):
        assert (stop.function, stop.line, stop.program_id) == (function, line, (pid, 0, 0))
        for name, value in values.items():
            assert stop.values[name] == value, (name, stop)
    assert set(stops[-1].values) == {"value", "doubled"}


def run_pdb(monkeypatch, commands, *launch):
    """Runs inspect_kernel's launch with pdb reading ``commands``; returns what it wrote (and
    the exception the launch raised, or None)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(c + "\n" for c in commands)))
    output = io.StringIO()
    monkeypatch.setattr(sys, "stdout", output)
    try:
        inspect_kernel[(2,)](*launch, device="cpu")
        raised = None
    except BaseException as error:  # noqa: B902 - BdbQuit is what quitting raises
        raised = error
    monkeypatch.undo()
    return output.getvalue(), raised


def test_pdb_opens_at_the_kernel_line_with_its_variables(monkeypatch):
    n = 24
    x, y, out, aux = inspect_inputs(n)
    text, raised = run_pdb(monkeypatch, ["p x[:3]", "p int(n * 2 + BLOCK)", "p np.__name__",
                                        "where", "n", "p int(offs[0])", "c"],
                           x, y, out, aux, n, 2.0, 16)
    assert raised is None, text
    line = line_of(inspect_kernel, "breakpoint()")
    assert f"{os.path.basename(__file__)}({line})inspect_kernel()" in text
    assert "-> breakpoint()" in text
    assert "tessera: inspect_kernel stopped in program (0, 0, 0)" in text
    assert "tessera: inspect_kernel stopped in program (1, 0, 0)" in text
    assert repr(x[:3]) in text
    assert "(Pdb) 64\n" in text  # n * 2 + BLOCK
    assert "(Pdb) 'numpy'\n" in text  # the kernel's globals
    assert "a kernel cannot be stepped: continuing to the next breakpoint" in text
    assert "(Pdb) 16\n" in text  # offs[0] in program 1
    np.testing.assert_array_equal(out, x * 2)


def test_quitting_pdb_stops_the_launch(monkeypatch):
    n = 40
    x, y, out, aux = inspect_inputs(n)
    text, raised = run_pdb(monkeypatch, ["q"], x, y, out, aux, n, 2.0, 16)
    assert isinstance(raised, bdb.BdbQuit), text
    line = line_of(inspect_kernel, "breakpoint()")
    assert f"stopped the launch at {__file__}:{line} in program (0, 0, 0)" in str(raised)
    # Program 0's store came after the breakpoint, and no other program ran.
    assert np.isnan(out).all()


def test_a_handler_that_returns_true_stops_after_its_program():
    n, block = 48, 16
    x, y, out, aux = inspect_inputs(n)
    previous = tessera.set_breakpoint_handler(lambda stop: stop.program_id[0] == 1)
    try:
        with pytest.raises(bdb.BdbQuit, match=r"in program \(1, 0, 0\)"):
            inspect_kernel[(3,)](x, y, out, aux, n, 1.0, BLOCK=block, device="cpu")
    finally:
        tessera.set_breakpoint_handler(previous)
    np.testing.assert_array_equal(out[:block], x[:block])
    assert np.isnan(out[block:]).all()


def test_a_handler_exception_is_raised_by_the_launch():
    x, y, out, aux = inspect_inputs()

    def broken(stop):
        raise ValueError(f"cannot handle {stop.function}")

    previous = tessera.set_breakpoint_handler(broken)
    try:
        with pytest.raises(ValueError, match="cannot handle inspect_kernel"):
            inspect_kernel[(3,)](x, y, out, aux, 40, 1.0, BLOCK=16, device="cpu")
    finally:
        tessera.set_breakpoint_handler(previous)
    assert np.isnan(out).all()


def test_pythonbreakpoint_0_turns_breakpoints_off(stops, monkeypatch):
    monkeypatch.setenv("PYTHONBREAKPOINT", "0")
    x, y, out, aux = inspect_inputs()
    inspect_kernel[(3,)](x, y, out, aux, 40, 3.0, BLOCK=16, device="cpu")
    assert stops == []
    np.testing.assert_array_equal(out, x * 3)


@tessera.jit
def breakpoint_with_argument(X):
    breakpoint(X)


def test_breakpoint_takes_no_arguments():
    with pytest.raises(tessera.CompilationError,
                       match="breakpoint\\(\\) in a kernel takes no arguments"):
        breakpoint_with_argument[(1,)](np.zeros(1, np.float32), device="cpu")


def test_gpu_compiles_drop_breakpoints():
    compiled = tessera.compile(
        inspect_kernel, signature={"X": "*fp32", "Y16": "*bf16", "OUT": "*fp32", "AUX": "*fp32",
                                   "n": "i32", "scale": "fp32"},
        constants={"BLOCK": 128}, target="sm_80")
    assert "tile.breakpoint" in compiled.asm["tile"]
    assert "tile.breakpoint" not in compiled.asm["tilegpu"]
    assert ".entry inspect_kernel" in compiled.asm["ptx"]
