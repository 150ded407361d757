"""CPU tier for tessera.ops' element-wise kernel: every scalar function (the unary functions'
backward included) compiles for every dtype family it serves, on sm_90a and sm_80, and ptxas
accepts it; contiguous aligned operands get 16-byte vector accesses; the strided, broadcast,
64-bit and scalar-operand variants compile; and the host's dimension merging and scalar
rounding (pure Python, no PyTorch needed).
"""
import re

import pytest

from test_frontend_support import tessera

import tessera.language as tl
from tessera.ops.elementwise import _merged_dims
from tessera.ops.kernels.elementwise import (ABSENT, DROPOUT_BLOCK, MAX_RANK, SCALAR, TENSOR,
                                             UNARY_BACKWARDS, dropout_kernel,
                                             elementwise_kernel)

FLOAT_UNARY = ["abs", "neg", "exp", "rsqrt", "sin", "cos", "tanh", "sigmoid", "silu", "gelu",
               "gelu_tanh", "relu", "isnan", "isinf"]
FLOAT_BINARY = ["add", "sub", "mul", "div", "div_trunc", "div_floor", "pow", "eq", "ne", "lt",
                "le", "gt", "ge", "clamp_min", "clamp_max"]
INTEGER_BINARY = ["add", "sub", "mul", "div_trunc", "div_floor", "pow", "eq", "lt",
                  "bitwise_and", "bitwise_or", "clamp_min"]
LANGUAGE = {"fp16": tl.float16, "bf16": tl.bfloat16, "fp32": tl.float32, "fp64": tl.float64,
            "i8": tl.int8, "i16": tl.int16, "i32": tl.int32, "i64": tl.int64, "u8": tl.uint8,
            "i1": tl.int1}
BOOL_RESULT = {"eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf"}
INT_NAMES = ["size0", "size1", "size2"] + [f"{p}_s{i}" for p in "abco" for i in range(MAX_RANK)]


def launch(op, dtype, kinds, rank=1, aligned=True, index_64=False, out=None, block=1024):
    """(signature, constants) as ops/elementwise.py launches the kernel: ``kinds`` per operand
    A, B, C; rank 1 means contiguous operands (every size and stride folded to 1)."""
    align = ":16" if aligned else ""
    index = "i64" if index_64 else "i32"
    out = out or ("i1" if op in BOOL_RESULT else dtype)
    signature = {"Out": f"*{out}{align}", "n": index + align}
    common = LANGUAGE[dtype]
    compute = tl.float32 if dtype in ("fp16", "bf16") else common
    constants = {"OP": op, "COMMON": common, "COMPUTE": compute, "RESULT": LANGUAGE[out],
                 "SCALAR_DTYPE": common if op in BOOL_RESULT else compute,
                 "RANK": rank, "INDEX_64": index_64, "BLOCK": block, "alpha": 1}
    for name, kind in zip("ABC", kinds):
        constants[f"{name}_KIND"] = kind
        if kind == TENSOR:
            signature[name] = f"*{dtype}{align}"
        elif kind == SCALAR:
            signature[name] = "fp32" if dtype.startswith(("fp", "bf")) else "i32"
        else:
            constants[name] = None
    for name in INT_NAMES:
        dim = int(name[-1])
        used = dim < rank - 1 if name.startswith("size") else dim < rank
        if used and rank > 1:
            signature[name] = index
        else:
            constants[name] = 1
    return signature, constants


def ptx_of(op, dtype, kinds, target="sm_90a", **options):
    signature, constants = launch(op, dtype, kinds, **options)
    return tessera.compile(elementwise_kernel, signature, constants, target=target,
                           num_warps=4).asm["ptx"]


@pytest.mark.parametrize("op", FLOAT_UNARY)
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_float_unary_ops_compile(op, dtype, run_ptxas):
    proc = run_ptxas(ptx_of(op, dtype, [TENSOR, ABSENT, ABSENT]), "sm_90a")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("op", sorted(UNARY_BACKWARDS.values()))
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_unary_backwards_compile(op, dtype, run_ptxas):
    """The unary functions' backward (the gradient and the input, as ops/elementwise.py launches
    it), contiguous and strided."""
    for rank in (1, 2):
        proc = run_ptxas(ptx_of(op, dtype, [TENSOR, TENSOR, ABSENT], rank=rank), "sm_90a")
        assert proc.returncode == 0, f"rank {rank}: {proc.stderr}"


@pytest.mark.parametrize("op", FLOAT_BINARY)
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_float_binary_ops_compile(op, dtype, run_ptxas):
    for kinds in ([TENSOR, TENSOR, ABSENT], [TENSOR, SCALAR, ABSENT]):
        proc = run_ptxas(ptx_of(op, dtype, kinds, rank=2), "sm_90a")
        assert proc.returncode == 0, f"{kinds}: {proc.stderr}"


@pytest.mark.parametrize("op", INTEGER_BINARY)
@pytest.mark.parametrize("dtype", ["i8", "i32", "i64", "u8"])
def test_integer_binary_ops_compile(op, dtype, run_ptxas):
    proc = run_ptxas(ptx_of(op, dtype, [TENSOR, TENSOR, ABSENT]), "sm_90a")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("op", ["bitwise_not", "bitwise_and", "bitwise_or", "eq"])
def test_bool_ops_compile(op, run_ptxas):
    kinds = [TENSOR, ABSENT, ABSENT] if op == "bitwise_not" else [TENSOR, TENSOR, ABSENT]
    ptx = ptx_of(op, "i1" if op != "eq" else "u8", kinds, out="i1")
    assert run_ptxas(ptx, "sm_90a").returncode == 0


@pytest.mark.parametrize("target", ["sm_80", "sm_90a"])
def test_clamp_of_three_strided_tensors_with_64_bit_offsets(target, run_ptxas):
    ptx = ptx_of("clamp", "fp16", [TENSOR, TENSOR, TENSOR], target=target, rank=MAX_RANK,
                 aligned=False, index_64=True)
    assert "div.s64" in ptx or "div.u64" in ptx, "rank-4 offsets should divide in 64 bits"
    assert run_ptxas(ptx, target).returncode == 0


@pytest.mark.parametrize("dtype,block", [("fp32", 1024), ("bf16", 2048)])
def test_contiguous_aligned_operands_use_16_byte_accesses(dtype, block):
    ptx = ptx_of("add", dtype, [TENSOR, TENSOR, ABSENT], block=block)
    assert len(re.findall(r"ld\.global(\.\w+)*\.v4\.b32", ptx)) == 4, ptx
    assert len(re.findall(r"st\.global(\.\w+)*\.v4\.b32", ptx)) == 2
    assert "div." not in ptx and "rem." not in ptx, "a contiguous launch computes no indices"


def test_unaligned_operands_still_compile_and_mask(run_ptxas):
    ptx = ptx_of("mul", "fp32", [TENSOR, SCALAR, ABSENT], aligned=False)
    assert "setp" in ptx
    assert run_ptxas(ptx, "sm_90a").returncode == 0


def test_merged_dims_of_contiguous_operands_is_one_dim():
    assert _merged_dims((2, 3, 4), [(12, 4, 1), (12, 4, 1)]) == [(24, [1, 1])]


def test_merged_dims_keep_broadcast_dims_apart():
    # x (4, 5) + bias (5,) expanded: the bias has stride 0 along dim 0.
    assert _merged_dims((4, 5), [(5, 1), (0, 1), (5, 1)]) == [(5, [1, 1, 1]), (4, [5, 0, 5])]


def test_merged_dims_drop_unit_dims_and_handle_scalars():
    assert _merged_dims((1, 7, 1), [(7, 1, 1)]) == [(7, [1])]
    assert _merged_dims((), [()]) == [(1, [1])]
    # A transposed operand stops every merge across its dims.
    assert _merged_dims((3, 4), [(1, 3), (4, 1)]) == [(4, [3, 1]), (3, [1, 4])]


@pytest.mark.parametrize("target", ["sm_80", "sm_90a"])
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_dropout_kernel_compiles_with_one_philox_per_four_elements(target, dtype, run_ptxas):
    signature = {"X": f"*{dtype}:16", "Out": f"*{dtype}:16", "n": "i32:16", "p": "fp32",
                 "scale": "fp32", "seed": "i64"}
    constants = {name: 1 for name in ["size0", "size1", "size2"] +
                 [f"{p}_s{i}" for p in "xo" for i in range(MAX_RANK)]}
    constants.update(RANK=1, INDEX_64=False, BLOCK=DROPOUT_BLOCK)
    ptx = tessera.compile(dropout_kernel, signature, constants, target=target,
                          num_warps=4).asm["ptx"]
    assert run_ptxas(ptx, target).returncode == 0
    # Ten rounds of two 32x32 multiplies per Philox evaluation, which serves four elements.
    evaluations = DROPOUT_BLOCK // (4 * 32) // 4
    multiplies = len(re.findall(r"mul\.(hi|wide)\.u32", ptx))
    assert 0 < multiplies <= evaluations * 10 * 2, multiplies
    assert "st.shared" not in ptx, "the random words should not move between threads"
