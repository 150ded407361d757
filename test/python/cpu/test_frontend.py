"""Front end -> tile IR: every language feature generates IR that parses, with Triton's
typing, and with a source location on every op."""
from __future__ import annotations

import re

import pytest

from test_frontend_support import (full_ops, line_of, ops, parse, parser_command, tessera,
                                   tile_ir)

import tessera.language as tl

F32 = "!tile.ptr<f32>"
GROUP = tl.constexpr(4)
WIDTH = 8
HALF = 0.5


@tessera.jit
def add_kernel(X, Y, Z, n, BLOCK: tl.constexpr):
    pid = tl.program_id(axis=0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(X + offs, mask=mask)
    y = tl.load(Y + offs, mask=mask, other=0.0)
    tl.store(Z + offs, x + y, mask=mask)


def test_vector_add_ir_matches_the_contract():
    ir = tile_ir(add_kernel, {"X": "*fp32:16", "Y": "*fp32", "Z": "*fp32", "n": "i32"},
                 {"BLOCK": 1024})
    assert parse(ir).returncode == 0, parse(ir).stderr
    assert ir.startswith('"builtin.module"() ({')
    assert (f"function_type = ({F32}, {F32}, {F32}, i32) -> (), arg_attrs = "
            "[{tile.divisibility = 16 : i32}, {}, {}, {}], tile.kernel}") in ir
    assert 'sym_name = "add_kernel"' in ir
    assert ops(ir, "tile.make_range")[0].count("{start = 0 : i32, end = 1024 : i32}") == 1
    loads = ops(ir, "tile.load")
    assert "array<i32: 1, 1, 0, 0, 0>" in loads[0] and "array<i32: 1, 1, 1, 0, 0>" in loads[1]
    assert "-> tensor<1024xf32>" in loads[0]
    (store,) = ops(ir, "tile.store")
    assert "array<i32: 1, 1, 1>" in store
    assert "predicate = 2 : i64" in ops(ir, "arith.cmpi")[0]  # signed less-than
    assert len(ops(ir, "func.return")) == 1


def test_every_op_carries_its_source_line():
    ir = tile_ir(add_kernel, {"X": "*fp32", "Y": "*fp32", "Z": "*fp32", "n": "i32"},
                 {"BLOCK": 128})
    file = add_kernel.source.file
    # Each op ends with its loc: on its own line, or on the line closing its regions.
    op_count = len(re.findall(r'"[a-z_]+\.[a-z_.]+"\(', ir))
    locations = re.findall(r'loc\("([^"]+)":(\d+):\d+\)$', ir, re.M)
    assert len(locations) == op_count > 10
    lines = range(line_of(add_kernel, "def add_kernel"), line_of(add_kernel, "tl.store") + 1)
    assert all(f == file and int(line) in lines for f, line in locations)
    (pid,) = ops(ir, "tile.program_id")
    assert f'loc("{file}":{line_of(add_kernel, "tl.program_id")}:10)' in pid
    (store,) = ops(ir, "tile.store")
    assert f'loc("{file}":{line_of(add_kernel, "tl.store")}:4)' in store


@tessera.jit
def combine(x, y, FACTOR: tl.constexpr):
    return x * FACTOR + y


@tessera.jit
def clamp_sign(x, flag):
    if flag > 0:
        return x + 1.0
    return x - 1.0


@tessera.jit
def everything_kernel(X, Y, I, B, n, m, f, BLOCK: tl.constexpr, ACT: tl.constexpr,
                      OUT_DTYPE: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = (offs < n) & (offs >= 0)
    x = tl.load(X + offs, mask=mask, other=0.0)
    y = tl.load(Y + offs, mask=mask, other=1)
    i = tl.load(I + offs, mask=mask, other=0)
    b = tl.load(B + offs)
    z = tl.where(b, x, y)
    z = tl.minimum(z, 3.0) + tl.maximum(x, y)
    z = tl.exp(z) + tl.exp2(z) + tl.log(z) + tl.log2(z) + tl.sqrt(z) + tl.rsqrt(z)
    z = z + tl.sin(z) + tl.cos(z) + tl.erf(z) + tl.abs(z) + tl.sigmoid(z) + tl.fma(z, z, x)
    z = z.exp() + z.abs() + tl.floor(z) + tl.ceil(z)
    h = z.to(tl.float16)
    h = tl.exp(h) + h
    g = tl.maximum(z.to(tl.bfloat16), 0.0)
    j = (i + 3) * 2 - i // 3 + i % 5
    j = ((j << 2) >> 1) ^ ~i | (i & 7)
    k = -j
    fl = x / y + i / 2 + x % y
    u = i.to(tl.uint32) >> 1
    u = u // 3 + (u < 5)
    c = (x > y) | (x <= y) & (x != y) | (x == y) | (x >= 0.5)
    s = tl.sum(x, axis=0) + tl.max(x, axis=0) + tl.min(x)
    si = tl.sum(i.to(tl.int8), axis=0)
    am = tl.argmax(x, axis=0) + tl.argmin(x, axis=0)
    x2 = tl.reshape(x, (BLOCK // 16, 16))
    r = tl.sum(x2, axis=1, keep_dims=True)
    am2 = tl.argmax(x2, axis=1, keep_dims=True)
    t = tl.trans(x2) + x2.T.to(tl.float32)
    e = x[:, None] + x[None, :]
    bc = tl.broadcast_to(tl.expand_dims(x, 0), (4, BLOCK))
    a = tl.zeros((16, 16), dtype=tl.float16)
    acc = tl.dot(a, a)
    acc = tl.dot(a, a, acc)
    acc32 = tl.full((16, 16), 1.0, tl.float32)
    acc32 = tl.dot(acc32, acc32, acc32, input_precision="ieee")
    acc32 = tl.dot(acc32, acc32, acc32)
    acc16 = tl.dot(a, a, out_dtype=tl.float16)
    cd = tl.cdiv(n, BLOCK) + tl.cdiv(BLOCK, 16) + tl.num_programs(1)
    loop = tl.zeros((BLOCK,), dtype=tl.float32)
    for it in range(0, n, 2):
        loop += x * it
        if it > 4:
            loop = loop * 2.0
    for it in range(m):
        for jt in range(it):
            loop = loop + jt
    for it in range(10, 0, -1):
        loop += it
    for step in tl.static_range(3):
        loop += step * GROUP
    if ACT == "relu":
        loop = tl.maximum(loop, 0.0)
    elif ACT is None:
        loop = loop
    else:
        loop = tl.sigmoid(loop)
    if pid == 0:
        w = 1.0
    else:
        w = 2.0
    q = w if pid > 2 else 3.0
    hp = combine(x, y, FACTOR=WIDTH)
    ep = clamp_sign(x, n)
    mx = min(BLOCK, 64) + max(WIDTH, 2)
    mm = min(x, y)
    DOUBLE: tl.constexpr = BLOCK * 2
    w2 = tl.arange(0, DOUBLE)
    ff = f * HALF
    a1, a2 = x, y
    lb = (x > 0) and (y > 0)
    tl.static_assert(BLOCK % 16 == 0, f"BLOCK={BLOCK}")
    total = z + h + g + j + k + fl + u + c + s + si + am + loop + w + q + hp + ep + mx + mm
    total = total + ff + a1 + a2 + (not b) + lb + x.to(OUT_DTYPE) + cd
    tl.store(Y + offs, total, mask=mask)
    tl.store(Y, s)
    tl.store(B + offs, c)
    tl.store(I + offs, 1)
    tl.store(Y + offs[:, None] + offs[None, :], e)
    tile = tl.arange(0, 16)[:, None] * 16 + tl.arange(0, 16)[None, :]
    tl.store(Y + tile, acc32 + acc + acc16 + t.sum() + r.sum() + am2.sum())
    tl.store(Y + tl.arange(0, BLOCK * 4), tl.reshape(bc, (BLOCK * 4,)) + w2.sum())
    tl.store(Y + offs, tl.full((BLOCK,), 2, tl.int32) + tl.zeros_like(x))


EVERYTHING_SIGNATURE = {"X": "*fp32:16", "Y": "*fp32", "I": "*i32", "B": "*i1", "n": "i32",
                        "m": "i64", "f": "fp32"}


@pytest.mark.parametrize("act", ["relu", None, "sigmoid"])
def test_every_language_feature_parses(act):
    ir = tile_ir(everything_kernel, EVERYTHING_SIGNATURE,
                 {"BLOCK": 64, "ACT": act, "OUT_DTYPE": tl.float16})
    result = parse(ir)
    assert result.returncode == 0, result.stderr
    assert len(ops(ir, "scf.for")) == 4
    assert len(ops(ir, "tile.dot")) == 5
    assert "!tile.ptr<i8>" in ir  # *i1 is addressed as bytes


def test_parser_is_available():
    assert parser_command() is not None


# ---- typing ----------------------------------------------------------------------------
@tessera.jit
def unary_kernel(X, Y, OP: tl.constexpr):
    x = tl.load(X + tl.arange(0, 16))
    if OP == "exp":
        y = tl.exp(x)
    elif OP == "sigmoid":
        y = tl.sigmoid(x)
    elif OP == "scale":
        y = x * 2.5
    elif OP == "max":
        y = tl.max(x, axis=0)
    elif OP == "sum":
        y = tl.sum(x, axis=0)
    elif OP == "neg":
        y = -x
    else:
        y = ~x
    tl.store(Y, tl.sum(y.to(tl.float32)) if y.shape else y.to(tl.float32))


def _unary(dtype: str, op: str) -> str:
    return tile_ir(unary_kernel, {"X": f"*{dtype}", "Y": "*fp32"}, {"OP": op})


def test_fp16_math_computes_in_fp32_and_returns_fp16():
    ir = _unary("fp16", "exp")
    (exp,) = ops(ir, "math.exp")
    assert "(tensor<16xf32>) -> tensor<16xf32>" in exp
    assert "(tensor<16xf16>) -> tensor<16xf32>" in ops(ir, "arith.extf")[0]
    assert "(tensor<16xf32>) -> tensor<16xf16>" in ops(ir, "arith.truncf")[0]


def test_sigmoid_of_fp16_follows_triton_promotion():
    ir = _unary("fp16", "sigmoid")
    # 1 / (1 + exp(-x)): the division of fp16 by a Python number computes in fp32.
    (divf,) = ops(ir, "arith.divf")
    assert "-> tensor<16xf32>" in divf
    assert "(tensor<16xf16>) -> tensor<16xf16>" in ops(ir, "arith.negf")[0]


def test_python_scalar_does_not_promote_a_tensor():
    ir = _unary("fp16", "scale")
    assert "{value = 2.5 : f16}" in ir
    assert "(tensor<16xf16>, tensor<16xf16>) -> tensor<16xf16>" in ops(ir, "arith.mulf")[0]


def test_max_of_bf16_and_int8_widens_like_triton():
    bf16 = _unary("bf16", "max")
    assert "(tensor<16xbf16>) -> tensor<16xf32>" in ops(bf16, "arith.extf")[0]
    assert '"arith.maxnumf"' in bf16
    i8 = _unary("i8", "max")
    assert "(tensor<16xi8>) -> tensor<16xi32>" in ops(i8, "arith.extsi")[0]
    assert '"arith.maxsi"(' in i8
    u8 = _unary("u8", "max")
    assert '"arith.extui"(' in u8 and '"arith.maxsi"(' in u8


def test_sum_accumulates_small_integers_in_32_bits():
    ir = _unary("i16", "sum")
    assert "(tensor<16xi16>) -> tensor<16xi32>" in ops(ir, "arith.extsi")[0]
    (reduce,) = full_ops(ir, "tile.reduce")
    assert "}) {axis = 0 : i32} : (tensor<16xi32>) -> i32 loc(" in reduce
    assert '"arith.addi"(' in reduce


def test_negation_and_invert():
    assert '"arith.negf"' in _unary("fp32", "neg")
    ir = _unary("i32", "invert")
    assert '"arith.xori"' in ir and "{value = -1 : i32}" in ir
    with pytest.raises(tessera.CompilationError, match="wrong type argument to unary invert"):
        _unary("fp32", "invert")


@tessera.jit
def int_ops_kernel(A, B, O):
    a = tl.load(A + tl.arange(0, 16))
    b = tl.load(B + tl.arange(0, 16))
    tl.store(O + tl.arange(0, 16), (a // b + a % b + (a >> 2)).to(tl.float32) + a / b)


def test_integer_division_shift_and_true_division():
    signed = tile_ir(int_ops_kernel, {"A": "*i32", "B": "*i32", "O": "*fp32"})
    assert ops(signed, "arith.divsi") and ops(signed, "arith.remsi") and ops(signed, "arith.shrsi")
    assert len(ops(signed, "arith.sitofp")) == 3  # the sum, and both sides of a / b
    assert "-> tensor<16xf32>" in ops(signed, "arith.divf")[0]
    unsigned = tile_ir(int_ops_kernel, {"A": "*u32", "B": "*u32", "O": "*fp32"})
    assert ops(unsigned, "arith.divui") and ops(unsigned, "arith.remui")
    assert ops(unsigned, "arith.shrui") and ops(unsigned, "arith.uitofp")
    mixed = tile_ir(int_ops_kernel, {"A": "*i8", "B": "*i64", "O": "*fp32"})
    assert "(tensor<16xi8>) -> tensor<16xi64>" in ops(mixed, "arith.extsi")[0]


@tessera.jit
def broadcast_kernel(X, Y, O, BM: tl.constexpr, BN: tl.constexpr):
    x = tl.load(X + tl.arange(0, BM))
    y = tl.load(Y + tl.arange(0, BN))
    tl.store(O + tl.arange(0, BM)[:, None] * BN + tl.arange(0, BN)[None, :], x[:, None] * y[None, :])


def test_broadcasting_inserts_expand_dims_and_broadcast():
    ir = tile_ir(broadcast_kernel, {"X": "*fp32", "Y": "*fp32", "O": "*fp32"}, {"BM": 32, "BN": 64})
    assert parse(ir).returncode == 0
    expands = ops(ir, "tile.expand_dims")
    assert any("{axis = 1 : i32} : (tensor<32xf32>) -> tensor<32x1xf32>" in e for e in expands)
    assert any("{axis = 0 : i32} : (tensor<64xf32>) -> tensor<1x64xf32>" in e for e in expands)
    broadcasts = ops(ir, "tile.broadcast")
    assert any("(tensor<32x1xf32>) -> tensor<32x64xf32>" in b for b in broadcasts)
    assert any("(tensor<1x64xf32>) -> tensor<32x64xf32>" in b for b in broadcasts)
    assert "-> tensor<32x64xf32>" in ops(ir, "arith.mulf")[0]


# ---- reductions and dot ----------------------------------------------------------------
@tessera.jit
def reduce_kernel(X, O, KIND: tl.constexpr):
    x = tl.load(X + tl.arange(0, 8)[:, None] * 32 + tl.arange(0, 32)[None, :])
    if KIND == "max":
        r = tl.max(x, axis=1)
    elif KIND == "min":
        r = tl.min(x, axis=0)
    elif KIND == "argmax":
        r = tl.argmax(x, axis=1)
    else:
        r = tl.argmin(x, axis=-1, keep_dims=True)
    tl.store(O + tl.arange(0, r.shape[0]), r.to(tl.float32).reshape(r.shape[0]))


def test_min_max_reduce_with_arith_combiners():
    for kind, dtype, op in [("max", "fp32", "arith.maxnumf"), ("min", "fp32", "arith.minnumf"),
                            ("max", "i32", "arith.maxsi"), ("min", "u32", "arith.minui")]:
        ir = tile_ir(reduce_kernel, {"X": f"*{dtype}", "O": "*fp32"}, {"KIND": kind})
        (reduce,) = full_ops(ir, "tile.reduce")
        axis = 1 if kind == "max" else 0
        assert f"}}) {{axis = {axis} : i32}}" in reduce
        assert f'"{op}"(' in reduce, (kind, dtype)


def test_argmax_is_a_two_operand_reduce_breaking_ties_to_the_smaller_index():
    ir = tile_ir(reduce_kernel, {"X": "*fp32", "O": "*fp32"}, {"KIND": "argmax"})
    assert parse(ir).returncode == 0
    (region,) = full_ops(ir, "tile.reduce")
    assert region.startswith("%") and ":2 = " in region.splitlines()[0]
    assert ": (tensor<8x32xf32>, tensor<8x32xi32>) -> (tensor<8xf32>, tensor<8xi32>)" in region
    assert re.search(r"\^bb0\(%\d+: f32, %\d+: i32, %\d+: f32, %\d+: i32\):", region)
    assert "predicate = 2 : i64" in region  # value1 > value2 (ogt)
    assert "predicate = 1 : i64" in region  # value1 == value2 (oeq)
    assert '"arith.cmpi"' in region  # index1 < index2
    assert len(re.findall(r'"arith.select"', region)) == 2
    argmin = tile_ir(reduce_kernel, {"X": "*fp32", "O": "*fp32"}, {"KIND": "argmin"})
    assert "predicate = 4 : i64" in argmin  # olt
    assert "-> tensor<8x1xi32>" in argmin  # keep_dims


@tessera.jit
def dot_kernel(A, B, C, PRECISION: tl.constexpr, WITH_ACC: tl.constexpr):
    rows = tl.arange(0, 32)[:, None] * 16 + tl.arange(0, 16)[None, :]
    a = tl.load(A + rows)
    b = tl.load(B + tl.arange(0, 16)[:, None] * 64 + tl.arange(0, 64)[None, :])
    if WITH_ACC:
        acc = tl.dot(a, b, tl.zeros((32, 64), dtype=tl.float32), input_precision=PRECISION)
    else:
        acc = tl.dot(a, b, input_precision=PRECISION)
    tl.store(C + tl.arange(0, 32)[:, None] * 64 + tl.arange(0, 64)[None, :], acc)


def test_dot_precision_and_accumulator():
    ir = tile_ir(dot_kernel, {"A": "*fp32", "B": "*fp32", "C": "*fp32"},
                 {"PRECISION": None, "WITH_ACC": False})
    (dot,) = ops(ir, "tile.dot")
    assert '{input_precision = "tf32"}' in dot
    assert "(tensor<32x16xf32>, tensor<16x64xf32>, tensor<32x64xf32>) -> tensor<32x64xf32>" in dot
    acc_name = dot.split("(")[1].split(")")[0].split(", ")[2]
    assert '"tile.splat"' in next(l for l in ir.splitlines() if l.strip().startswith(acc_name + " "))
    ieee = tile_ir(dot_kernel, {"A": "*fp32", "B": "*fp32", "C": "*fp32"},
                   {"PRECISION": "ieee", "WITH_ACC": True})
    assert '{input_precision = "ieee"}' in ops(ieee, "tile.dot")[0]
    with pytest.raises(tessera.CompilationError, match="input_precision must be"):
        tile_ir(dot_kernel, {"A": "*fp32", "B": "*fp32", "C": "*fp32"},
                {"PRECISION": "fast", "WITH_ACC": True})
    with pytest.raises(tessera.CompilationError, match="same dtype"):
        tile_ir(dot_kernel, {"A": "*fp16", "B": "*fp32", "C": "*fp32"},
                {"PRECISION": None, "WITH_ACC": False})


# ---- control flow, calls and compile-time evaluation ------------------------------------
@tessera.jit
def control_kernel(X, n, BLOCK: tl.constexpr, UNROLL: tl.constexpr):
    pid = tl.program_id(0)
    if pid >= n:
        return
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    count = 0
    for k in range(0, n, BLOCK):
        acc += tl.load(X + k + tl.arange(0, BLOCK))
        count += 1
        scratch = acc * 2
    for u in tl.static_range(UNROLL):
        acc = acc + u * 10
    if pid % 2 == 0:
        acc = acc * 3.0
        extra = 1
    else:
        extra = 2
    tl.store(X + tl.arange(0, BLOCK), acc + count + extra)


def test_control_flow_lowers_to_scf():
    ir = tile_ir(control_kernel, {"X": "*fp32", "n": "i32"}, {"BLOCK": 64, "UNROLL": 3})
    assert parse(ir).returncode == 0, parse(ir).stderr
    early = f'loc("{control_kernel.source.file}":{line_of(control_kernel, "pid >= n")}:4)'
    (outer,) = [op for op in full_ops(ir, "scf.if") if op.endswith(early)]
    # The early return puts the rest of the kernel into the else region of the outer if.
    assert outer.startswith('"scf.if"(') and outer.endswith(": (i1) -> () " + early)
    then_region, else_region = outer.split("\n}, {\n", 1)
    assert '"tile.store"' not in then_region and '"tile.store"' in else_region
    (loop,) = full_ops(ir, "scf.for")
    # acc (tensor) and count (i32) are carried; scratch is not (not live before the loop).
    assert loop.startswith("%") and ":2 = " in loop.splitlines()[0]
    assert ": (i32, i32, i32, tensor<64xf32>, i32) -> (tensor<64xf32>, i32)" in loop
    # static_range(3) unrolls: u * 10 folds to 0, 10 and 20, added to acc as fp32 constants.
    for value in ("0.0", "10.0", "20.0"):
        assert f"{{value = {value} : f32}}" in else_region
    # The inner if yields acc (tensor) and extra (a constant tensor in each branch).
    (inner,) = [op for op in full_ops(ir, "scf.if") if op != outer]
    assert inner.count('"scf.yield"(') == 2 and ": (i1) -> (tensor<64xf32>, i32)" in inner


@tessera.jit
def tuple_carry_kernel(X, Y, n, BLOCK: tl.constexpr, AHEAD: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    ahead = ()
    for s in tl.static_range(AHEAD):
        ahead = ahead + (tl.load(X + s * BLOCK + offs),)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for t0 in range(AHEAD, n, AHEAD):
        now = ahead
        ahead = ()
        for s in tl.static_range(AHEAD):
            ahead = ahead + (tl.load(X + (t0 + s) * BLOCK + offs),)
        for s in tl.static_range(AHEAD):
            acc = acc * 0.5 + now[s].to(tl.float32)
    if n > 100:
        ahead = (ahead[1], ahead[0]) + ahead[2:]
    tl.store(Y + offs, acc + ahead[0].to(tl.float32))


# Tests that a loop carries a tuple of tensors as its elements (the loads of the next steps,
# issued a group ahead) and that a run-time `if` yields one; `now`, not live before the loop,
# is not carried.
def test_loops_and_ifs_carry_tuples_of_tensors():
    ir = tile_ir(tuple_carry_kernel, {"X": "*fp16", "Y": "*fp32", "n": "i32"},
                 {"BLOCK": 32, "AHEAD": 3})
    assert parse(ir).returncode == 0, parse(ir).stderr
    (loop,) = full_ops(ir, "scf.for")
    carried = ", ".join(["tensor<32xf16>"] * 3)
    assert f": (i32, i32, i32, {carried}, tensor<32xf32>) -> ({carried}, tensor<32xf32>)" in loop
    assert loop.count('"tile.load"') == 3
    (branch,) = full_ops(ir, "scf.if")
    assert f": (i1) -> ({carried})" in branch



@tessera.jit
def folding_kernel(X, stride, BLOCK: tl.constexpr):
    SIZE: tl.constexpr = min(BLOCK * GROUP, 512) // 2
    r = tl.arange(0, SIZE)
    tl.store(X + r * stride, r.to(tl.float32) * HALF + WIDTH)


def test_constexpr_folding_globals_and_python_min():
    ir = tile_ir(folding_kernel, {"X": "*fp32", "stride": "i32"}, {"BLOCK": 64})
    assert "{start = 0 : i32, end = 128 : i32}" in ir  # min(64 * 4, 512) // 2
    assert "{value = 5.0e-01 : f32}" in ir or "{value = 0.5 : f32}" in ir
    assert "{value = 8.0 : f32}" in ir
    # An integer equal to 1 is folded: it is no longer a parameter.
    folded = tile_ir(folding_kernel, {"X": "*fp32"}, {"BLOCK": 64, "stride": 1})
    assert f"function_type = ({F32}) -> ()" in folded
    assert "{value = 1 : i32}" in folded


@tessera.jit
def uses_forbidden_global(X):
    tl.store(X, len(FORBIDDEN))


FORBIDDEN = [1, 2, 3]


def test_non_constant_globals_are_rejected():
    with pytest.raises(tessera.CompilationError, match="cannot access global variable FORBIDDEN"):
        tile_ir(uses_forbidden_global, {"X": "*fp32"})


def test_inlined_call_has_no_call_op():
    ir = tile_ir(everything_kernel, EVERYTHING_SIGNATURE,
                 {"BLOCK": 64, "ACT": "relu", "OUT_DTYPE": tl.float16})
    assert "call" not in ir
    line = line_of(combine, "x * FACTOR")
    assert any(f'{combine.source.file}":{line}:' in l for l in ops(ir, "arith.mulf"))
