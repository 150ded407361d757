"""Block pointers (tl.make_block_ptr, tl.advance, tl.load/tl.store with boundary_check and
padding_option): lowered by the front end to blocks of pointers and masks, carried through loops
and ifs, compiled to PTX, and rejected with the source line when misused."""
from __future__ import annotations

import pytest

from test_frontend_support import full_ops, line_of, ops, parse, tessera, tile_ir

import tessera.language as tl
from matmul import matmul_block_ptr_kernel

TARGETS = ("sm_80", "sm_90a")


@tessera.jit
def copy_kernel(X, Y, M, N, stride_xm, stride_xn, stride_ym, stride_yn, BM: tl.constexpr,
                BN: tl.constexpr, CHECK: tl.constexpr, PADDING: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    x_bp = tl.make_block_ptr(X, shape=(M, N), strides=(stride_xm, stride_xn),
                             offsets=(pid_m * BM, pid_n * BN), block_shape=(BM, BN), order=(1, 0))
    y_bp = tl.make_block_ptr(Y, shape=(M, N), strides=(stride_ym, stride_yn),
                             offsets=(pid_m * BM, pid_n * BN), block_shape=(BM, BN), order=(1, 0))
    tile = tl.load(x_bp, boundary_check=CHECK, padding_option=PADDING)
    tl.store(y_bp, tile, boundary_check=CHECK)


COPY_SIGNATURE = {"X": "*fp32:16", "Y": "*fp32:16", "M": "i32", "N": "i32:16",
                  "stride_xm": "i32:16", "stride_ym": "i32:16"}
UNIT_STRIDES = {"stride_xn": 1, "stride_yn": 1}


def copy_ir(check, padding="zero", signature=COPY_SIGNATURE, constants=UNIT_STRIDES):
    return tile_ir(copy_kernel, signature,
                   {"BM": 64, "BN": 32, "CHECK": check, "PADDING": padding, **constants})


def defining(ir: str, name: str) -> str:
    """The line that defines SSA value ``name``."""
    return next(line for line in ir.splitlines() if line.strip().startswith(name + " = "))


def test_pointers_are_base_plus_64_bit_offsets_times_strides():
    ir = copy_ir((0, 1))
    assert parse(ir).returncode == 0, parse(ir).stderr
    # offsets + arange per dimension, widened to i64 and scaled by the i64 stride
    assert len(ops(ir, "tile.make_range")) == 4
    assert any("(tensor<64xi32>) -> tensor<64xi64>" in op for op in ops(ir, "arith.extsi"))
    muls = [op for op in ops(ir, "arith.muli") if "tensor<" in op]
    assert "(tensor<64xi64>, tensor<64xi64>) -> tensor<64xi64>" in muls[0]
    assert "(tensor<32xi64>, tensor<32xi64>) -> tensor<32xi64>" in muls[1]
    assert "{value = 1 : i64}" in ir  # the stride specialised to 1 stays a constant
    addptrs = ops(ir, "tile.addptr")
    assert "(tensor<64x1x!tile.ptr<f32>>, tensor<64x1xi64>)" in addptrs[0]
    assert "(tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi64>)" in addptrs[1]
    (load,) = ops(ir, "tile.load")
    assert "array<i32: 1, 1, 1, 0, 0>" in load
    assert "(tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi1>, tensor<64x32xf32>)" in load
    (store,) = ops(ir, "tile.store")
    assert "(tensor<64x32x!tile.ptr<f32>>, tensor<64x32xf32>, tensor<64x32xi1>)" in store
    # 0 <= index (sge) and index < shape (slt, in i64 against the widened shape)
    compares = ops(ir, "arith.cmpi")
    assert sum("predicate = 5 : i64" in op for op in compares) == 4
    assert sum("predicate = 2 : i64" in op and "tensor<64xi64>" in op for op in compares) == 2
    file = copy_kernel.source.file
    assert f'loc("{file}":{line_of(copy_kernel, "tile = tl.load")}:11)' in load


def test_boundary_check_masks_only_the_checked_dimensions():
    rows = copy_ir((0,))
    assert parse(rows).returncode == 0, parse(rows).stderr
    # one dimension: two comparisons, a 64x1 mask broadcast to the block
    assert len(ops(rows, "arith.cmpi")) == 4  # load and store each
    (load,) = ops(rows, "tile.load")
    mask = load.split("(")[1].split(", ")[1]
    assert "(tensor<64x1xi1>) -> tensor<64x32xi1>" in defining(rows, mask)
    unchecked = copy_ir(())
    assert not ops(unchecked, "arith.cmpi")
    assert "array<i32: 1, 0, 0, 0, 0>" in ops(unchecked, "tile.load")[0]
    (store,) = ops(unchecked, "tile.store")
    assert ": (tensor<64x32x!tile.ptr<f32>>, tensor<64x32xf32>) -> ()" in store  # no mask


def test_padding_options():
    zero = ops(copy_ir((1,), "zero"), "tile.load")[0]
    assert "array<i32: 1, 1, 1, 0, 0>" in zero
    nan = copy_ir((1,), "nan")
    assert "array<i32: 1, 1, 1, 0, 0>" in ops(nan, "tile.load")[0]
    assert "0x7FC00000 : f32" in nan
    undefined = ops(copy_ir((1,), ""), "tile.load")[0]
    assert "array<i32: 1, 1, 0, 0, 0>" in undefined


def test_compile_time_shapes_and_strides_fold():
    signature = {"X": "*fp32", "Y": "*fp32", "M": "i32", "stride_xm": "i64", "stride_ym": "i64"}
    ir = copy_ir((0, 1), constants={"N": 1, **UNIT_STRIDES}, signature=signature)
    assert parse(ir).returncode == 0, parse(ir).stderr
    assert "function_type = (!tile.ptr<f32>, !tile.ptr<f32>, i32, i64, i64) -> ()" in ir
    # N == 1 is compared as an i32 constant; the i64 strides need no widening
    assert any("(tensor<32xi32>, tensor<32xi32>) -> tensor<32xi1>" in op and
               "predicate = 2 : i64" in op for op in ops(ir, "arith.cmpi"))
    assert not any("(i64) -> i64" in op for op in ops(ir, "arith.extsi"))


@pytest.mark.parametrize("target", TARGETS)
def test_copy_compiles_with_16_byte_predicated_accesses(target, run_ptxas):
    kernel = tessera.compile(copy_kernel, COPY_SIGNATURE,
                             {"BM": 64, "BN": 32, "CHECK": (0, 1), "PADDING": "zero",
                              **UNIT_STRIDES}, target=target)
    # the unit stride makes rows contiguous: 4 fp32 per thread, even under the boundary mask
    assert "sizePerThread = [1, 4]" in kernel.asm["tilegpu"]
    ptx = kernel.asm["ptx"]
    assert "@p ld.global.v4.b32" in ptx and "@p st.global.v4.b32" in ptx
    result = run_ptxas(ptx, target)
    assert result.returncode == 0, result.stderr


MATMUL_SIGNATURE = {"A": "*fp16:16", "B": "*fp16:16", "C": "*fp32:16", "M": "i32", "N": "i32",
                    "K": "i32", "stride_am": "i32", "stride_bk": "i32", "stride_cm": "i32"}
MATMUL_CONSTANTS = {"stride_ak": 1, "stride_bn": 1, "stride_cn": 1, "BM": 64, "BN": 64,
                    "BK": 32}


def test_loops_carry_block_pointers_as_their_scalars():
    ir = tile_ir(matmul_block_ptr_kernel, MATMUL_SIGNATURE, MATMUL_CONSTANTS)
    assert parse(ir).returncode == 0, parse(ir).stderr
    (loop,) = full_ops(ir, "scf.for")
    # acc, then per block pointer: base, run-time shape and stride (i64), offsets (i32)
    a_bp = "!tile.ptr<f16>, i64, i64, i64, i32, i32"
    carried = f"tensor<64x64xf32>, {a_bp}, {a_bp}"
    assert loop.endswith(f": (i32, i32, i32, {carried}) -> ({carried}) "
                         f'loc("{matmul_block_ptr_kernel.source.file}":{line_of(matmul_block_ptr_kernel, "for k")}:4)')
    assert len(ops(ir, "tile.dot")) == 1 and len(ops(ir, "tile.load")) == 2
    # advancing by (0, BK) or (BK, 0) adds to one offset
    file = matmul_block_ptr_kernel.source.file
    for snippet in ("a_bp = tl.advance", "b_bp = tl.advance"):
        at = f'loc("{file}":{line_of(matmul_block_ptr_kernel, snippet)}:'
        (advance,) = [op for op in ops(ir, "arith.addi") if at in op]
        assert "(i32, i32) -> i32" in advance


@pytest.mark.parametrize("target", TARGETS)
def test_matmul_loop_compiles(target, run_ptxas):
    kernel = tessera.compile(matmul_block_ptr_kernel, MATMUL_SIGNATURE, MATMUL_CONSTANTS, target=target,
                             num_warps=4)
    assert ".visible .entry matmul_block_ptr_kernel(" in kernel.asm["ptx"]
    result = run_ptxas(kernel.asm["ptx"], target)
    assert result.returncode == 0, result.stderr


@tessera.jit
def branch_kernel(X, Y, n, BLOCK: tl.constexpr):
    bp = tl.make_block_ptr(X, shape=(n,), strides=(1,), offsets=(0,), block_shape=(BLOCK,),
                           order=(0,))
    if tl.program_id(0) > 0:
        bp = tl.advance(bp, (BLOCK,))
    tl.store(Y + tl.arange(0, BLOCK), tl.load(bp, boundary_check=0))


def test_ifs_yield_block_pointers():
    ir = tile_ir(branch_kernel, {"X": "*fp32", "Y": "*fp32", "n": "i32"}, {"BLOCK": 128})
    assert parse(ir).returncode == 0, parse(ir).stderr
    (branch,) = full_ops(ir, "scf.if")
    assert ": (i1) -> (!tile.ptr<f32>, i64, i32)" in branch
    assert branch.count('"scf.yield"(') == 2


@tessera.jit
def transposed_kernel(X, Y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    # X is column-major: element (i, j) at i + j * M
    x_bp = tl.make_block_ptr(X, shape=(M, N), strides=(1, M), offsets=(0, 0),
                             block_shape=(BM, BN), order=(0, 1))
    y_bp = tl.make_block_ptr(Y, shape=(N, M), strides=(M, 1), offsets=(0, 0),
                             block_shape=(BN, BM), order=(1, 0))
    tl.store(y_bp, tl.trans(tl.load(x_bp, boundary_check=(0, 1))), boundary_check=(0, 1))


@pytest.mark.parametrize("target", TARGETS)
def test_column_major_block_pointer_compiles(target, run_ptxas):
    kernel = tessera.compile(transposed_kernel, {"X": "*bf16", "Y": "*bf16", "M": "i32",
                                                 "N": "i32"}, {"BM": 32, "BN": 16}, target=target)
    result = run_ptxas(kernel.asm["ptx"], target)
    assert result.returncode == 0, result.stderr


# ---- errors --------------------------------------------------------------------------------
@tessera.jit
def misuse_kernel(X, I, n, KIND: tl.constexpr):
    bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))
    if KIND == "rank":
        bp = tl.make_block_ptr(X, (n,), (n, 1), (0, 0), (16, 16), (1, 0))
    elif KIND == "power_of_two":
        bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, 0), (16, 24), (1, 0))
    elif KIND == "runtime_block_shape":
        bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, 0), (16, n), (1, 0))
    elif KIND == "runtime_order":
        bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, 0), (16, 16), (1, n))
    elif KIND == "order":
        bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, 0), (16, 16), (1, 1))
    elif KIND == "base":
        bp = tl.make_block_ptr(n, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))
    elif KIND == "offset_type":
        bp = tl.make_block_ptr(X, (n, n), (n, 1), (0, n.to(tl.int64)), (16, 16), (1, 0))
    elif KIND == "boundary":
        tl.store(X, tl.sum(tl.load(bp, boundary_check=(0, 2)), axis=None))
    elif KIND == "mask":
        tl.store(X, tl.sum(tl.load(bp, mask=n > 0), axis=None))
    elif KIND == "padding":
        tl.store(X, tl.sum(tl.load(bp, boundary_check=(0,), padding_option="one"), axis=None))
    elif KIND == "nan_int":
        ip = tl.make_block_ptr(I, shape=(n,), strides=(1,), offsets=(0,), block_shape=(16,),
                               order=(0,))
        tl.store(I, tl.sum(tl.load(ip, boundary_check=(0,), padding_option="nan"), axis=0))
    elif KIND == "advance":
        bp = tl.advance(bp, (16,))
    elif KIND == "store_shape":
        tl.store(bp, tl.zeros((16, 32), dtype=tl.float32))
    elif KIND == "plain_boundary":
        tl.store(X + tl.arange(0, 16), 0.0, boundary_check=(0,))
    elif KIND == "loop":
        for i in range(n):
            bp = tl.make_block_ptr(X, shape=(n, n), strides=(n, 1), offsets=(0, 0),
                                   block_shape=(16, 32), order=(1, 0))
    tl.store(bp, 1.0)


@pytest.mark.parametrize("kind, snippet, message", [
    ("rank", "(n,), (n, 1)",
     "make_block_ptr: shape has 1 entries but block_shape (16, 16) has 2"),
    ("power_of_two", "(16, 24)",
     "block_shape [16, 24]: dimension 24 is not a power of 2"),
    ("runtime_block_shape", "(16, n)",
     "block_shape dimensions must be tl.constexpr ints, got a tensor"),
    ("runtime_order", "(1, n))", "make_block_ptr: order must hold tl.constexpr ints"),
    ("order", "(1, 1))", "make_block_ptr: order must be a permutation of 0..1, got (1, 1)"),
    ("base", "make_block_ptr(n,", "make_block_ptr: base must be a scalar pointer, got int32"),
    ("offset_type", "n.to(tl.int64)",
     "block pointer offsets must be int32 scalars, got int64; convert with .to(tl.int32)"),
    ("boundary", "boundary_check=(0, 2)",
     "boundary_check dimension 2 is out of range for a block pointer of rank 2"),
    ("mask", "mask=n > 0", "`mask` and `other` cannot be given for a block pointer"),
    ("padding", 'padding_option="one"', "padding_option must be '', 'zero' or 'nan', got 'one'"),
    ("nan_int", 'padding_option="nan"',
     "padding_option='nan' needs a floating-point block pointer, got int32"),
    ("advance", "tl.advance(bp, (16,))", "tl.advance: 1 offsets for a block pointer of rank 2"),
    ("store_shape", "tl.zeros((16, 32)",
     "cannot store a block of shape [16, 32] through a block pointer of block shape [16, 16]"),
    ("plain_boundary", "0.0, boundary_check=(0,)", "boundary_check applies to block pointers"),
    ("loop", "for i in range(n)", "loop-carried variable bp has initial type block_pointer<fp32, "
                                  "[16, 16], shape=(?, ?), strides=(?, 1), order=(1, 0)>"),
])
def test_misuse_is_reported_at_the_line(kind, snippet, message):
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(misuse_kernel, {"X": "*fp32", "I": "*i32", "n": "i32"}, {"KIND": kind})
    text = str(info.value)
    line = line_of(misuse_kernel, snippet)
    assert text.startswith(f"{misuse_kernel.source.file}:{line}: "), text
    assert message in text.splitlines()[0], text
