"""Kernels run on the host CPU (convert-tile-to-host and LLVM's JIT) on NumPy arrays: masks,
reductions, dots, loops that carry blocks, branches, math, shape ops, random numbers, every
element type; the report of an out-of-bounds access; device="cpu" and TESSERA_INTERPRET=1.
Outputs are poisoned (NaN or a sentinel) before each launch and compared with NumPy.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from test_frontend_support import tessera
from print_cases import expected_lines, print_kernel
from test_language_random import randint4x_reference, uniform_reference

import tessera.language as tl

RNG = np.random.default_rng(20261123)


def poisoned(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return np.full(shape, np.nan, dtype)
    return np.full(shape, -7, dtype)


@tessera.jit
def axpy_kernel(X, Y, OUT, alpha, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask, other=0.0)
    y = tl.load(Y + offs, mask=mask, other=0.0)
    tl.store(OUT + offs, alpha * x + y, mask=mask)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_masked_elementwise(dtype):
    n = 1000
    x = RNG.standard_normal(n).astype(dtype)
    y = RNG.standard_normal(n).astype(dtype)
    out = poisoned(n, dtype)
    kernel = axpy_kernel[(tessera.cdiv(n, 128),)](x, y, out, 1.5, n, BLOCK=128)
    assert kernel.device == "cpu"
    tolerance = 2e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(out.astype(np.float64),
                               (1.5 * x.astype(np.float64) + y), rtol=tolerance, atol=tolerance)


@tessera.jit
def row_stats_kernel(X, SUM, MAX, ARGMAX, n_cols, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))
    tl.store(MAX + row, tl.max(x, axis=0))
    tl.store(ARGMAX + row, tl.argmax(x, axis=0))
    tl.store(SUM + row, tl.sum(tl.where(cols < n_cols, x, 0.0), axis=0))


def test_reductions_over_rows():
    rows, cols = 7, 50
    x = RNG.standard_normal((rows, cols)).astype(np.float32)
    total, largest = poisoned(rows, np.float32), poisoned(rows, np.float32)
    where = poisoned(rows, np.int32)
    row_stats_kernel[(rows,)](x, total, largest, where, cols, x.strides[0] // 4, BLOCK=64)
    np.testing.assert_allclose(total, x.sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(largest, x.max(axis=1))
    np.testing.assert_array_equal(where, x.argmax(axis=1))


@tessera.jit
def matmul_kernel(A, B, C, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  BLOCK_K: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        ks = k + tl.arange(0, BLOCK_K)
        a = tl.load(A + rows[:, None] * K + ks[None, :],
                    mask=(rows[:, None] < M) & (ks[None, :] < K), other=0.0)
        b = tl.load(B + ks[:, None] * N + cols[None, :],
                    mask=(ks[:, None] < K) & (cols[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(C + rows[:, None] * N + cols[None, :], acc.to(C.dtype.element_ty),
             mask=(rows[:, None] < M) & (cols[None, :] < N))


def tf32(x):
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_matmul_loop_carries_the_accumulator(dtype):
    m, n, k = 37, 45, 70
    a = RNG.standard_normal((m, k)).astype(dtype)
    b = RNG.standard_normal((k, n)).astype(dtype)
    c = poisoned((m, n), dtype)
    matmul_kernel[(tessera.cdiv(m, 16), tessera.cdiv(n, 32))](
        a, b, c, m, n, k, BLOCK_M=16, BLOCK_N=32, BLOCK_K=16)
    if dtype == np.float32:  # tl.dot's default input precision: TF32, rounded to nearest
        a, b = tf32(a), tf32(b)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tolerance = 2e-2 if dtype == np.float16 else 1e-4
    np.testing.assert_allclose(c.astype(np.float64), expected, rtol=tolerance, atol=tolerance)


@tessera.jit
def decay_kernel(X, Y, n_steps, n_cols, AHEAD: tl.constexpr, BLOCK: tl.constexpr):
    # y[t] = 0.5 y[t - 1] + x[t] down each column, reading x a group of AHEAD steps ahead (a
    # loop-carried tuple) and the last n_steps % AHEAD steps one at a time.
    cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n_cols
    full = n_steps - n_steps % AHEAD
    ahead = ()
    for s in tl.static_range(AHEAD):
        ahead = ahead + (tl.load(X + s * n_cols + cols, mask=mask & (s < full), other=0.0),)
    y = tl.zeros((BLOCK,), dtype=tl.float32)
    for t0 in range(0, full, AHEAD):
        now = ahead
        ahead = ()
        for s in tl.static_range(AHEAD):
            t = t0 + AHEAD + s
            ahead = ahead + (tl.load(X + t * n_cols + cols, mask=mask & (t < full), other=0.0),)
        for s in tl.static_range(AHEAD):
            y = 0.5 * y + now[s]
            tl.store(Y + (t0 + s) * n_cols + cols, y, mask=mask)
    for t in range(full, n_steps):
        y = 0.5 * y + tl.load(X + t * n_cols + cols, mask=mask, other=0.0)
        tl.store(Y + t * n_cols + cols, y, mask=mask)


# Tests that a loop carrying a tuple of blocks (each group's loads, one group ahead) computes
# the recurrence it is meant to, with and without a partial last group.
@pytest.mark.parametrize("n_steps", [3, 12, 14])
def test_loops_carry_tuples_of_blocks(n_steps):
    n_cols = 40
    x = RNG.standard_normal((n_steps, n_cols)).astype(np.float32)
    y = poisoned((n_steps, n_cols), np.float32)
    decay_kernel[(tessera.cdiv(n_cols, 16),)](x, y, n_steps, n_cols, AHEAD=4, BLOCK=16)
    expected = np.zeros((n_steps, n_cols))
    previous = np.zeros(n_cols)
    for t in range(n_steps):
        previous = expected[t] = 0.5 * previous + x[t]
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


@tessera.jit
def math_kernel(X, OUT, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(X + offs, mask=offs < n)
    y = tl.exp(x) + tl.erf(x) * tl.sqrt(tl.abs(x)) - tl.sigmoid(x) + tl.log(1.0 + x * x)
    if n > 64:
        y = y + tl.maximum(x, 0.25)
    else:
        y = y - 1.0
    tl.store(OUT + offs, y, mask=offs < n)


@pytest.mark.parametrize("n", [60, 100])
def test_math_and_branches(n):
    import math
    x = RNG.standard_normal(n).astype(np.float32)
    out = poisoned(n, np.float32)
    math_kernel[(tessera.cdiv(n, 32),)](x, out, n, BLOCK=32)
    d = x.astype(np.float64)
    erf = np.vectorize(math.erf)(d)
    expected = np.exp(d) + erf * np.sqrt(np.abs(d)) - 1 / (1 + np.exp(-d)) + np.log(1 + d * d)
    expected = expected + np.maximum(d, 0.25) if n > 64 else expected - 1.0
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=2e-5)


@tessera.jit
def shapes_kernel(X, OUT_T, OUT_R, OUT_B, R: tl.constexpr, C: tl.constexpr):
    rows = tl.arange(0, R)
    cols = tl.arange(0, C)
    x = tl.load(X + rows[:, None] * C + cols[None, :])
    t = tl.trans(x)
    tl.store(OUT_T + cols[:, None] * R + rows[None, :], t)
    flat = tl.reshape(x, (R * C,))
    tl.store(OUT_R + tl.arange(0, R * C), flat * 2)
    first = tl.expand_dims(tl.load(X + cols), 0)
    tl.store(OUT_B + rows[:, None] * C + cols[None, :], tl.broadcast_to(first, (R, C)) + x)


def test_shape_ops():
    r, c = 8, 16
    x = RNG.standard_normal((r, c)).astype(np.float32)
    out_t, out_r, out_b = poisoned((c, r), np.float32), poisoned(r * c, np.float32), \
        poisoned((r, c), np.float32)
    shapes_kernel[(1,)](x, out_t, out_r, out_b, R=r, C=c)
    np.testing.assert_array_equal(out_t, x.T)
    np.testing.assert_array_equal(out_r, 2 * x.reshape(-1))
    np.testing.assert_array_equal(out_b, x[0][None, :] + x)


@tessera.jit
def integer_kernel(X, Y, FLAGS, OUT, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask)
    y = tl.load(Y + offs, mask=mask)
    flag = tl.load(FLAGS + offs, mask=mask)
    out = tl.where(flag, (x * 3) // 2 + (y % 7), x ^ y)
    tl.store(OUT + offs, out, mask=mask)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
def test_integers_and_bool_arrays(dtype):
    n = 300
    info = np.iinfo(dtype)
    bound = min(info.max // 4, 1000)
    x = RNG.integers(-bound, bound, n).astype(dtype)
    y = RNG.integers(1, bound, n).astype(dtype)
    flags = RNG.random(n) < 0.5
    out = poisoned(n, dtype)
    integer_kernel[(tessera.cdiv(n, 64),)](x, y, flags, out, n, BLOCK=64)
    wide_x, wide_y = x.astype(np.int64), y.astype(np.int64)
    # C semantics: division truncates toward zero, the remainder takes the dividend's sign.
    product = wide_x * 3
    quotient = np.trunc(product / 2).astype(np.int64)
    remainder = np.fmod(wide_y, 7)
    expected = np.where(flags, quotient + remainder, wide_x ^ wide_y).astype(dtype)
    np.testing.assert_array_equal(out, expected)


@tessera.jit
def divide_kernel(X, Y, Q, R, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask)
    y = tl.load(Y + offs, mask=mask)
    tl.store(Q + offs, x // y, mask=mask)
    tl.store(R + offs, x % y, mask=mask)


def test_integer_division_does_not_trap():
    # The masked-off lanes divide by the zero their loads give, and INT_MIN // -1 overflows:
    # both trap on x86, never on a GPU.
    x = np.array([-2 ** 31, 7, -7, 9, 3], np.int32)
    y = np.array([-1, -1, 2, -2, 1], np.int32)
    q, r = poisoned(5, np.int32), poisoned(5, np.int32)
    divide_kernel[(1,)](x, y, q, r, 5, BLOCK=8)
    np.testing.assert_array_equal(q, [-2 ** 31, -7, -3, -4, 3])
    np.testing.assert_array_equal(r, [0, 0, -1, 1, 0])


@tessera.jit
def to_bf16_kernel(X, Y, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(Y + offs, tl.load(X + offs, mask=mask).to(tl.bfloat16), mask=mask)


def test_float64_to_bfloat16_rounds_once():
    torch = pytest.importorskip("torch")
    # Between bf16's 1.0 and 1.0078125 the midpoint is 1.00390625: just above it rounds up, though
    # rounding to fp32 first would land on the midpoint and then round to even (down).
    x = torch.tensor([1.00390625 + 2 ** -30, 1.00390625 - 2 ** -30, 1.00390625, -3.0e38,
                      1e-41, -0.0, float("inf"), float("nan")], dtype=torch.float64)
    y = torch.full((8,), -7.0, dtype=torch.bfloat16)
    to_bf16_kernel[(1,)](x, y, 8, BLOCK=8)
    bits = [int(b) & 0xFFFF for b in y.view(torch.int16)]
    assert bits[:7] == [0x3F81, 0x3F80, 0x3F80, 0xFF62, 0x0000, 0x8000, 0x7F80], \
        [hex(b) for b in bits]
    assert bits[7] & 0x7F80 == 0x7F80 and bits[7] & 0x7F


def test_device_print_prints_every_element_in_order(capfd):
    x = (np.arange(6, dtype=np.float32) - 2) / 3
    print_kernel[(2,)](x, 3, BLOCK=4, device="cpu")
    lines = capfd.readouterr().out.splitlines()
    expected = expected_lines(x, 2, 3, 4)
    # Program after program, each print's lines in index order.
    assert lines == expected[:4] + [expected[4]] + expected[5:9] + [expected[9]]


@tessera.jit
def print_with_prefix(X, PREFIX: tl.constexpr):
    tl.device_print(PREFIX, tl.load(X))


def test_device_print_needs_a_string_prefix():
    with pytest.raises(tessera.CompilationError, match="tl.device_print: prefix must be a "
                                                       "string, got int"):
        print_with_prefix[(1,)](np.zeros(1, np.float32), 5, device="cpu")


@tessera.jit
def rand_kernel(OUT, seed, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(OUT + offs, tl.rand(seed, offs), mask=offs < n)


def test_random_numbers_match_the_philox_reference():
    n, seed = 200, 1234
    out = poisoned(n, np.float32)
    rand_kernel[(tessera.cdiv(n, 64),)](out, seed, n, BLOCK=64)
    expected = [uniform_reference(randint4x_reference(seed, i)[0]) for i in range(n)]
    np.testing.assert_array_equal(out, np.array(expected, np.float32))


@tessera.jit
def scalar_kernel(X, OUT, index):
    value = tl.load(X + index)
    tl.store(OUT + tl.program_id(0), value * 2 + tl.program_id(0) + tl.num_programs(0))


def test_scalar_loads_and_program_ids():
    x = RNG.standard_normal(10).astype(np.float32)
    out = poisoned(4, np.float32)
    scalar_kernel[(4,)](x, out, 3)
    np.testing.assert_allclose(out, 2 * x[3] + np.arange(4) + 4, rtol=1e-6)


@tessera.jit
def grid_kernel(OUT, COLS: tl.constexpr):
    x, y, z = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    tl.store(OUT + (z * tl.num_programs(1) + y) * COLS + x, x + 10 * y + 100 * z)


def test_three_dimensional_grid():
    out = poisoned((3, 2, 5), np.int32)
    grid_kernel[(5, 2, 3)](out, COLS=5)
    z, y, x = np.meshgrid(range(3), range(2), range(5), indexing="ij")
    np.testing.assert_array_equal(out, x + 10 * y + 100 * z)


def test_out_of_bounds_access_reports_program_and_source_line():
    n = 100
    x, y = np.ones(n, np.float32), np.ones(n, np.float32)
    out = poisoned(n, np.float32)
    with pytest.raises(IndexError) as raised:
        axpy_kernel[(2,)](x, y, out, 1.0, 2 * n, BLOCK=64)  # n too large: the mask lets 128..199
    message = str(raised.value)
    assert f"out-of-bounds load at {__file__}:" in message
    assert "in program (1, 0, 0)" in message
    assert "lies 4 bytes past the end of 'X'" in message
    assert "x = tl.load(X + offs, mask=mask, other=0.0)" in message
    # Program 0 ran whole; program 1 stopped storing nothing out of bounds.
    np.testing.assert_array_equal(out[:64], 2.0)


@tessera.jit
def unmasked_store_kernel(OUT, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(OUT + offs, offs)


def test_out_of_bounds_store_names_the_buffer_and_skips_the_write():
    guard = np.full(80, -1, np.int32)
    out = guard[8:72]  # a view: the kernel may touch its 64 elements only
    with pytest.raises(IndexError, match=r"out-of-bounds store at .* in program \(2, 0, 0\): "
                                         r"address 0x[0-9a-f]+ \(4 bytes\) lies 4 bytes past "
                                         r"the end of 'OUT'"):
        unmasked_store_kernel[(3,)](out, BLOCK=32)
    assert (guard[:8] == -1).all() and (guard[72:] == -1).all()
    np.testing.assert_array_equal(out, np.arange(64))


def test_device_keyword_and_mixed_devices():
    n = 64
    x, y = np.ones(n, np.float32), np.ones(n, np.float32)
    out = poisoned(n, np.float32)
    axpy_kernel[(1,)](x, y, out, 2.0, n, BLOCK=64, device="cpu")
    np.testing.assert_array_equal(out, 3.0)
    with pytest.raises(ValueError, match="device must be 'cpu'"):
        axpy_kernel[(1,)](x, y, out, 2.0, n, BLOCK=64, device="cuda")


def test_host_stages_are_readable():
    n = 64
    x = np.ones(n, np.float32)
    kernel = axpy_kernel[(1,)](x, x, np.empty_like(x), 2.0, n, BLOCK=64)
    asm = kernel.asm
    assert "tile.load" in asm["tile"]
    assert "memref.alloca" in asm["host"] and "tessera_host_check_access" in asm["host"]
    assert "llvm.func @axpy_kernel" in asm["host-llvm"]
    assert "define void @axpy_kernel" in asm["host-llir"]


def test_interpret_mode_runs_every_launch_on_the_host(tmp_path):
    script = tmp_path / "interpret.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import tessera
        import tessera.language as tl

        @tessera.jit
        def double(X, n, BLOCK: tl.constexpr):
            offs = tl.arange(0, BLOCK)
            tl.store(X + offs, tl.load(X + offs, mask=offs < n) * 2, mask=offs < n)

        x = np.arange(10, dtype=np.float32)
        kernel = double[(1,)](x, 10, BLOCK=16)
        print(kernel.device, x.tolist())
    """))
    env = dict(os.environ, TESSERA_INTERPRET="1", PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu " + str([2.0 * i for i in range(10)])
