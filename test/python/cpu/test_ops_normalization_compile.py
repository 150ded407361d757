"""CPU tier for tessera.ops' softmax (and its backward), layer_norm and rms_norm: every kernel
variant (dtypes, one-pass and multi-pass, with and without weight and bias, aligned and
unaligned, strided and 2-level rows, 64-bit offsets) compiles for sm_80 and sm_90a exactly as
the ops would specialise it and ptxas accepts it; aligned rows move 16 bytes per access; and the
pure-Python planning (dim merging, block choice by row length, launch splitting, the int64
test, the plans of the ops) gives what the kernels expect.
"""
import re

import pytest

from test_frontend_support import tessera

from tessera.ops import normalization as ops_norm
from tessera.ops.kernels.normalization import (MAX_ONE_PASS, Block, Launch, choose_block,
                                               merge_dims, needs_int64, norm_kernel,
                                               softmax_bwd_kernel, softmax_kernel, split_rows)
from tessera.runtime.arguments import classify

TARGETS = ("sm_80", "sm_90a")
SOFTMAX_ARGS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2",
                "x_stride_col", "y_stride0", "y_stride1", "y_stride2", "y_stride_col"]
SOFTMAX_BWD_ARGS = ["n_rows", "N", "M1", "M2"] + [
    f"{t}_stride{s}" for t in ("y", "dy", "dx") for s in ("0", "1", "2", "_col")]
NORM_ARGS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2", "y_stride0",
             "y_stride1", "y_stride2", "n_inner", "x_stride_outer", "x_stride_col",
             "w_stride_outer", "w_stride_col", "b_stride_outer", "b_stride_col"]
VEC16 = r"\.v4\.(?:b32|f32|u32|s32)|\.v2\.(?:b64|f64|u64|s64)"


def contiguous(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def specialise(names, values):
    """(signature, constants) of run-time arguments as the JIT specialises them: an int
    equal to 1 and None become constants, an int divisible by 16 gets ``:16``."""
    signature, constants = {}, {}
    for name, value in zip(names, values):
        if value is None:
            constants[name] = None
            continue
        (kind, divisible), _, _ = classify(value, True)
        if kind == "c":
            constants[name] = divisible
        else:
            signature[name] = kind + (":16" if divisible else "")
    return signature, constants


def launch_constants(block, step):
    _, args, row_dims, index_64, even_m, _ = step
    return {"ROW_DIMS": row_dims, "ROWS": block.rows, "BLOCK_N": block.block_n,
            "ONE_PASS": block.one_pass, "EVEN_M": even_m, "EVEN_N": args[1] % block.block_n == 0,
            "INDEX_64": index_64}


def pointer(ty, aligned):
    return f"*{ty}:16" if aligned else f"*{ty}"


# Softmax variants: (id, shape, strides or None for contiguous, dim, input dtype, output dtype,
# pointers aligned)
SOFTMAX_CASES = [
    ("bf16-4096", (4096, 4096), None, 1, "bf16", "bf16", True),
    ("fp16-16384", (64, 16384), None, -1, "fp16", "fp16", True),
    ("fp32-1000-packed", (300, 1000), None, 1, "fp32", "fp32", False),
    ("bf16-17-unaligned", (33, 17), None, 1, "bf16", "bf16", False),
    ("bf16-70000-multipass", (3, 70000), None, 1, "bf16", "bf16", True),
    ("fp32-70000-multipass", (3, 70000), None, 1, "fp32", "fp32", False),
    ("fp16-dim0-strided-rows", (1000, 64), None, 0, "fp16", "fp16", True),
    ("bf16-dim0-multipass", (70000, 64), None, 0, "bf16", "bf16", True),
    ("fp32-middle-dim", (5, 17, 33), None, 1, "fp32", "fp32", True),
    ("bf16-3-row-dims", (3, 5, 7, 40), (4000, 400, 50, 1), 3, "bf16", "bf16", True),
    ("fp16-transposed", (64, 96), (1, 64), 1, "fp16", "fp16", True),
    ("bf16-to-fp32", (64, 4096), None, 1, "bf16", "fp32", True),
    ("fp32-to-bf16", (64, 1000), None, 1, "fp32", "bf16", False),
    ("fp32-one-element", (1,), None, 0, "fp32", "fp32", False),
    ("bf16-int64", (2 ** 17 + 1, 2 ** 14), None, 1, "bf16", "bf16", True),
    ("bf16-int64-multipass", (2 ** 14, 2 ** 17 + 3), None, 1, "bf16", "bf16", True),
]

# Norm variants: (id, rms, shape, strides, normalized dims, weight?, bias?, input dtype,
# weight dtype, aligned)
NORM_CASES = [
    ("ln-bf16-4096", False, (4096, 4096), None, 1, True, True, "bf16", "bf16", True),
    ("ln-fp16-nowb", False, (64, 1000), None, 1, False, False, "fp16", "fp16", False),
    ("ln-fp32-weight-only", False, (64, 1024), None, 1, True, False, "fp32", "fp32", True),
    ("ln-fp32-bias-only", False, (64, 1023), None, 1, False, True, "fp32", "fp32", False),
    ("ln-bf16-fp32-params", False, (64, 4096), None, 1, True, True, "bf16", "fp32", True),
    ("ln-bf16-multipass", False, (8, 70000), None, 1, True, True, "bf16", "bf16", True),
    ("ln-fp32-multipass-nowb", False, (8, 70001), None, 1, False, False, "fp32", "fp32",
     False),
    ("ln-fp16-2-level", False, (4, 6, 10), (200, 20, 1), 2, True, True, "fp16", "fp16", False),
    ("ln-bf16-2-level-multipass", False, (2, 300, 300), (180000, 600, 1), 2, True, True,
     "bf16", "bf16", True),
    ("ln-bf16-rows-3-dims", False, (3, 4, 5, 256), (16384, 2048, 256, 1), 1, True, True,
     "bf16", "bf16", True),
    ("ln-bf16-int64", False, (2 ** 18 + 1, 2 ** 13), None, 1, True, True, "bf16", "bf16",
     True),
    ("rms-bf16-4096", True, (4096, 4096), None, 1, True, False, "bf16", "bf16", True),
    ("rms-bf16-rows-2-dims", True, (6, 5, 128), (2048, 256, 1), 1, True, False, "bf16",
     "bf16", True),
    ("rms-fp16-noweight", True, (17, 3), None, 1, False, False, "fp16", "fp16", False),
    ("rms-fp32-multipass", True, (8, 70000), None, 1, True, False, "fp32", "fp32", True),
    ("rms-bf16-fp32-weight", True, (64, 5000), None, 1, True, False, "bf16", "fp32", False),
    ("rms-fp32-2-level", True, (4, 6, 10), (200, 20, 1), 2, True, False, "fp32", "fp32",
     True),
]


def softmax_compiled(case, target):
    _, shape, strides, dim, ty, out_ty, aligned = case
    block, steps = ops_norm._softmax_plan(shape, (strides or contiguous(shape),),
                                          dim % len(shape), None)
    signature, constants = specialise(SOFTMAX_ARGS, steps[0][1])
    signature.update(x_ptr=pointer(ty, aligned), y_ptr=pointer(out_ty, aligned))
    constants.update(launch_constants(block, steps[0]))
    return block, constants, tessera.compile(softmax_kernel, signature=signature,
                                             constants=constants, target=target,
                                             num_warps=block.num_warps, num_stages=1)


def norm_compiled(case, target):
    _, rms, shape, strides, k, weight, bias, ty, w_ty, aligned = case
    param = contiguous(shape[len(shape) - k:])
    op = "rms_norm" if rms else "layer_norm"
    block, steps = ops_norm._norm_plan(op, shape, strides or contiguous(shape),
                                       param if weight else None, param if bias else None, k,
                                       None)
    signature, constants = specialise(NORM_ARGS, steps[0][1])
    signature.update(x_ptr=pointer(ty, aligned), y_ptr=pointer(ty, aligned), eps="fp32")
    for name, present in (("w_ptr", weight), ("b_ptr", bias)):
        if present:
            signature[name] = pointer(w_ty, aligned)
        else:
            constants[name] = None
    constants.update(launch_constants(block, steps[0]), RMS=rms)
    return block, constants, tessera.compile(norm_kernel, signature=signature,
                                             constants=constants, target=target,
                                             num_warps=block.num_warps, num_stages=1)


_compiled = {}


def compiled(kind, case, target):
    key = (kind, case[0], target)
    if key not in _compiled:
        _compiled[key] = (softmax_compiled if kind == "softmax" else norm_compiled)(case,
                                                                                   target)
    return _compiled[key]


def check_kernel(kernel, name, target, run_ptxas):
    for stage in ("tile", "tilegpu", "llir", "ptx"):
        assert kernel.asm.get(stage, "").strip(), f"no {stage!r} stage"
    ptx = kernel.asm["ptx"]
    assert re.search(rf"^\s*\.target\s+{target}\b", ptx, re.M)
    assert f".visible .entry {name}(" in ptx
    proc = run_ptxas(ptx, target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_variants_compile(case, target, run_ptxas):
    _, _, kernel = compiled("softmax", case, target)
    check_kernel(kernel, "softmax_kernel", target, run_ptxas)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", NORM_CASES, ids=[c[0] for c in NORM_CASES])
def test_norm_variants_compile(case, target, run_ptxas):
    _, _, kernel = compiled("norm", case, target)
    check_kernel(kernel, "norm_kernel", target, run_ptxas)


def test_the_variants_cover_every_path():
    """One-pass and multi-pass, masked and unmasked, 1 to 3 row dims and int64 offsets are
    all among the compiled cases."""
    seen = set()
    for kind, cases in (("softmax", SOFTMAX_CASES), ("norm", NORM_CASES)):
        for case in cases:
            block, constants, _ = compiled(kind, case, "sm_90a")
            seen |= {(kind, "one_pass", block.one_pass), (kind, "even_n", constants["EVEN_N"]),
                     (kind, "even_m", constants["EVEN_M"]),
                     (kind, "int64", constants["INDEX_64"]),
                     (kind, "row_dims", constants["ROW_DIMS"])}
            if kind == "norm":
                seen.add((kind, "2-level", constants.get("n_inner", 0) is not None))
    for kind in ("softmax", "norm"):
        for flag in ("one_pass", "even_n", "even_m", "int64"):
            assert {(kind, flag, True), (kind, flag, False)} <= seen, (kind, flag)
        assert {(kind, "row_dims", d) for d in (1, 2, 3)} <= seen, kind
    assert ("norm", "2-level", True) in seen


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind,case", [("softmax", SOFTMAX_CASES[0]), ("softmax",
                                                                       SOFTMAX_CASES[4]),
                                       ("softmax", SOFTMAX_CASES[11]), ("norm", NORM_CASES[0]),
                                       ("norm", NORM_CASES[5]), ("norm", NORM_CASES[11])],
                         ids=lambda c: c if isinstance(c, str) else c[0])
def test_aligned_rows_move_16_bytes_per_access(kind, case, target):
    ptx = compiled(kind, case, target)[2].asm["ptx"]
    loads = re.findall(r"\bld\.global[^\s]*", ptx)
    stores = re.findall(r"\bst\.global[^\s]*", ptx)
    # layer norm also reads each row's first element alone (its shift)
    scalar = [ld for ld in loads if not re.search(VEC16, ld)]
    assert len(scalar) <= (1 if kind == "norm" and not case[1] else 0), loads
    assert len(loads) > len(scalar), loads
    assert stores and all(re.search(VEC16, st) for st in stores), stores


@pytest.mark.parametrize("kind,case", [("softmax", SOFTMAX_CASES[0]), ("norm", NORM_CASES[0])],
                         ids=["softmax", "layer_norm"])
def test_rows_reduce_with_warp_shuffles_and_no_spills(kind, case):
    ptx = compiled(kind, case, "sm_90a")[2].asm["ptx"]
    assert "shfl.sync" in ptx
    assert "st.local" not in ptx and "ld.local" not in ptx


@pytest.mark.parametrize("ty", ["bf16", "fp32"])
@pytest.mark.parametrize("kind,case", [
    ("softmax", ("softmax-max", (64, MAX_ONE_PASS), None, 1, None, None, True)),
    ("softmax", ("softmax-multipass", (64, 70000), None, 1, None, None, True)),
    ("norm", ("ln-max", False, (64, MAX_ONE_PASS), None, 1, True, True, None, None, True)),
    ("norm", ("ln-multipass", False, (64, 70000), None, 1, True, True, None, None, True)),
    ("norm", ("rms-max", True, (64, MAX_ONE_PASS), None, 1, True, False, None, None, True))],
    ids=lambda c: c if isinstance(c, str) else c[0])
def test_largest_blocks_do_not_spill(kind, case, ty, run_ptxas):
    """The longest one-pass rows and the multi-pass blocks fit in registers (ptxas -v)."""
    if kind == "softmax":
        case = case[:4] + (ty, ty, True)
        kernel = softmax_compiled(case, "sm_90a")[2]
    else:
        case = case[:7] + (ty, ty, True)
        kernel = norm_compiled(case, "sm_90a")[2]
    proc = run_ptxas(kernel.asm["ptx"], "sm_90a", "-v")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\b0 bytes spill stores, 0 bytes spill loads", proc.stderr), proc.stderr


# Softmax backward variants: (id, shape, dy strides or None for contiguous, dim, dtype); y and
# dx are contiguous, as the backward allocates them.
SOFTMAX_BWD_CASES = [
    ("bf16-4096", (4096, 4096), None, 1, "bf16"),
    ("fp32-longest-one-pass", (64, MAX_ONE_PASS), None, 1, "fp32"),
    ("bf16-70000-multipass", (3, 70000), None, 1, "bf16"),
    ("fp16-dim0-strided-rows", (1000, 64), None, 0, "fp16"),
    ("fp32-expanded-dy", (300, 1000), (0, 0), 1, "fp32"),
]


@pytest.mark.parametrize("case", SOFTMAX_BWD_CASES, ids=lambda c: c[0])
def test_softmax_backward_compiles_without_spills(case, run_ptxas):
    """softmax_bwd_kernel as the backward specialises it: ptxas accepts it for sm_90a and the
    one-pass tiles of y and dy (the longest rows included) fit in registers."""
    _, shape, dy_strides, dim, ty = case
    block, steps = ops_norm._softmax_plan(shape, (contiguous(shape), dy_strides or
                                                  contiguous(shape)), dim, None)
    signature, constants = specialise(SOFTMAX_BWD_ARGS, steps[0][1])
    signature.update(y_ptr=pointer(ty, True), dy_ptr=pointer(ty, dy_strides is None),
                     dx_ptr=pointer(ty, True))
    constants.update(launch_constants(block, steps[0]))
    kernel = tessera.compile(softmax_bwd_kernel, signature=signature, constants=constants,
                             target="sm_90a", num_warps=block.num_warps, num_stages=1)
    proc = run_ptxas(kernel.asm["ptx"], "sm_90a", "-v")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\b0 bytes spill stores, 0 bytes spill loads", proc.stderr), proc.stderr


def test_one_pass_tiles_are_unmasked_when_even():
    tile_ir = compiled("softmax", SOFTMAX_CASES[0], "sm_90a")[2].asm["tile"]
    assert re.findall(r"tile\.load %\w+ :", tile_ir)
    assert not re.search(r"tile\.load %\w+, %\w+", tile_ir), "the aligned loads are masked"
    assert "scf.for" not in tile_ir
    multi = compiled("softmax", SOFTMAX_CASES[4], "sm_90a")[2].asm["tile"]
    assert len(re.findall(r"scf\.for", multi)) == 2


# ---- planning ------------------------------------------------------------------------------

def test_merge_dims():
    # contiguous dims merge into one; unit dims vanish whatever their stride
    assert merge_dims([4, 5, 6], [[30, 6, 1]]) == [(120, (1,))]
    assert merge_dims([4, 1, 6], [[6, 99, 1], [6, 6, 1]]) == [(24, (1, 1))]
    # a transposed matrix does not merge; a slice with steps keeps its stride
    assert merge_dims([6, 4], [[1, 6]]) == [(6, (1,)), (4, (6,))]
    assert merge_dims([4, 5], [[10, 2]]) == [(20, (2,))]
    assert merge_dims([4, 5], [[10, 2], [8, 1]]) == [(4, (10, 8)), (5, (2, 1))]
    # a column slice x[:, :8] of a (4, 16) matrix: rows 16 apart
    assert merge_dims([4, 8], [[16, 1]]) == [(4, (16,)), (8, (1,))]
    assert merge_dims([], []) == []
    assert merge_dims([1, 1], [[3, 1]]) == []


def test_block_by_row_length():
    # one pass up to MAX_ONE_PASS elements, warps growing with the row
    assert choose_block("layer_norm", 1, 1, False) == Block(True, 1, 1, 1)
    assert choose_block("layer_norm", 1000, 1, False) == Block(True, 1, 1024, 2)
    assert choose_block("layer_norm", 4096, 4096, False) == Block(True, 1, 4096, 8)
    assert choose_block("layer_norm", 16384, 4096, False) == Block(True, 1, 16384, 16)
    assert choose_block("softmax", 16384, 4096, False) == Block(True, 1, 16384, 8)
    assert choose_block("rms_norm", 16384, 4096, False) == Block(True, 1, 16384, 8)
    assert choose_block("rms_norm", 70000, 4096, False) == Block(False, 1, 8192, 16)
    assert choose_block("layer_norm", MAX_ONE_PASS, 10, False) == Block(True, 1, MAX_ONE_PASS, 16)
    assert choose_block("layer_norm", MAX_ONE_PASS + 1, 10, False) == Block(False, 1, 8192, 16)
    assert choose_block("layer_norm", 70000, 10, False).one_pass is False
    # short rows are packed, up to about 4096 elements a program, never beyond the rows
    assert choose_block("layer_norm", 17, 1000, False) == Block(True, 128, 32, 8)
    assert choose_block("layer_norm", 3, 5, False) == Block(True, 8, 4, 1)
    assert choose_block("layer_norm", 1000, 300, False) == Block(True, 4, 1024, 8)
    # rows adjacent in memory: at least 64 per program, multi-pass once that is too large
    assert choose_block("layer_norm", 100, 4096, True) == Block(True, 64, 128, 16)
    assert choose_block("layer_norm", 1000, 64, True) == Block(False, 64, 128, 16)
    assert choose_block("layer_norm", 1000, 8, True) == Block(True, 8, 1024, 16)
    # the tessera.ops num_warps setting overrides the heuristic's warps only
    assert choose_block("layer_norm", 4096, 4096, False, num_warps=4) == Block(True, 1, 4096, 4)


def test_split_rows():
    groups = [(2, (100, 1000)), (3, (10, 100)), (4, (5, 50)), (5, (1, 10))]
    launches = split_rows(groups, 1)
    assert len(launches) == 2
    assert launches[0] == Launch((0, 0), tuple(groups[1:]))
    assert launches[1] == Launch((100, 1000), tuple(groups[1:]))
    assert split_rows([], 4) == [Launch((0, 0), ())]  # one row: offsets of x and y
    assert split_rows([], 4, tensors=3) == [Launch((0, 0, 0), ())]
    # the kernel's outermost dim is cut where a launch would need too many programs
    cut = split_rows([(10, (7,)), (3, (1,))], 2, max_programs=4)
    assert [launch.dims[0][0] for launch in cut] == [2, 2, 2, 2, 2]
    assert [launch.offsets for launch in cut] == [(0,), (14,), (28,), (42,), (56,)]
    # inner dims that alone need too many programs move outside
    moved = split_rows([(2, (100,)), (50, (1,))], 1, max_programs=10)
    assert len(moved) == 10 and moved[1] == Launch((10,), ((10, (1,)),))
    assert sum(launch.dims[0][0] for launch in moved) == 100


def test_needs_int64():
    assert not needs_int64([(4096, (4096, 4096))], [(4096, (1, 1))], 1, 4096)
    # the largest offset, (2**17 - 1) * 2**14 + 2**14 - 1, just fits; one row more does not
    assert not needs_int64([(2 ** 17, (2 ** 14, 2 ** 14))], [(2 ** 14, (1, 1))], 1, 2 ** 14)
    assert needs_int64([(2 ** 17 + 1, (2 ** 14, 2 ** 14))], [(2 ** 14, (1, 1))], 1, 2 ** 14)
    # the padding rows of the last program count
    assert needs_int64([(2 ** 17 - 1, (2 ** 14, 2 ** 14))], [(2 ** 14, (1, 1))], 4, 2 ** 14)
    # a row longer than 2**31 elements, and far-apart columns
    assert needs_int64([], [(2 ** 31, (1, 1))], 1, 8192)
    assert needs_int64([(4, (1, 1))], [(2 ** 20, (4096, 4))], 4, 128)
    # a weight's far-apart columns count too
    assert needs_int64([(4, (8, 8))], [(8, (1, 1, 2 ** 29))], 4, 8)
    # many rows of one element: the row index itself
    assert needs_int64([(2 ** 31 - 1, (1, 1))], [(1, (1, 1))], 4096, 1)


def test_softmax_plan():
    block, steps = ops_norm._softmax_plan((4096, 4096), ((4096, 1),), 1, None)
    assert block == Block(True, 1, 4096, 8)
    assert steps == [((0, 0), (4096, 4096, 1, 1, 4096, 1, 1, 1, 4096, 1, 1, 1), 1, False, True,
                      4096)]
    # dim 0 of a contiguous matrix: strided rows, 64 a program, columns 64 apart
    block, steps = ops_norm._softmax_plan((1000, 64), ((64, 1),), 0, None)
    assert block.rows == 64 and not block.one_pass
    (_, args, row_dims, _, even_m, programs), = steps
    assert args[:2] == (64, 1000) and args[4] == 1 and args[7] == 64 and args[11] == 64
    assert row_dims == 1 and even_m and programs == 1
    # the middle dim of a 3-D tensor: two row dims that do not merge
    block, steps = ops_norm._softmax_plan((5, 17, 33), ((561, 33, 1),), 1, None)
    (_, args, row_dims, _, _, _), = steps
    assert row_dims == 2 and args[:4] == (165, 17, 33, 1) and args[4:6] == (561, 1)
    # a transposed, step-sliced input: rows 2 apart, columns 128 apart
    _, steps = ops_norm._softmax_plan((64, 32), ((2, 128),), 1, 4)
    assert steps[0][1][4] == 2 and steps[0][1][7] == 128
    # one row (a 1-D input, or a 0-d one as softmax passes it): offsets for x and y still
    for shape in ((5,), (1,), (1, 1, 7)):
        _, steps = ops_norm._softmax_plan(shape, (contiguous(shape),), len(shape) - 1, None)
        (offsets, args, row_dims, _, _, programs), = steps
        assert offsets == (0, 0) and args[0] == 1 and row_dims == 1 and programs == 1


def test_norm_plan():
    block, steps = ops_norm._norm_plan("layer_norm", (4096, 4096), (4096, 1), (1,), (1,), 1,
                                       None)
    assert block == Block(True, 1, 4096, 8)
    (_, args, row_dims, index_64, even_m, programs), = steps
    assert args == (4096, 4096, 1, 1, 4096, 1, 1, 4096, 1, 1, None, 1, 1, 1, 1, 1, 1)
    assert (row_dims, index_64, even_m, programs) == (1, False, True, 4096)
    # normalized dims (6, 10) of x[:, :, :10] of a (4, 6, 20) tensor: a 2-level index
    _, steps = ops_norm._norm_plan("layer_norm", (4, 6, 10), (120, 20, 1), (10, 1), None, 2,
                                   None)
    args = steps[0][1]
    assert args[:2] == (4, 60) and args[10:13] == (10, 20, 1) and args[13:15] == (10, 1)
    assert args[15:] == (1, 1)
    # a weight that merges where x does not still splits the columns
    _, steps = ops_norm._norm_plan("rms_norm", (8, 4, 16), (64, 16, 1), (1, 4), None, 2, None)
    assert steps[0][1][10:15] == (16, 16, 1, 1, 4)
    # every dim normalised, or a 1-D input: one row, offsets for x and y still
    for shape in ((2, 3, 4, 5), (3000,)):
        param = contiguous(shape)
        _, steps = ops_norm._norm_plan("layer_norm", shape, param, param, param, len(shape),
                                       None)
        (offsets, args, row_dims, _, _, programs), = steps
        assert offsets == (0, 0) and args[0] == 1 and row_dims == 1 and programs == 1
    with pytest.raises(ValueError, match="layer_norm: the normalized dims of input"):
        ops_norm._norm_plan("layer_norm", (2, 3, 4, 5), (240, 80, 10, 1), None, None, 3, None)


def test_zero_d_and_dim_checks():
    assert ops_norm._check_dim("softmax", -1, 0) == 0
    assert ops_norm._check_dim("softmax", -3, 3) == 0
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for input with 2 "
                                         r"dimensions; expected -2 <= dim < 2"):
        ops_norm._check_dim("softmax", 2, 2)
    with pytest.raises(TypeError, match="softmax: dim must be an int"):
        ops_norm._check_dim("softmax", 1.0, 2)
