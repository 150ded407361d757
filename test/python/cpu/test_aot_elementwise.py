"""The element-wise ops ahead of time, without a GPU (tessera.ops.aot_elementwise, tessera.aot):
the variants an op entry means (as tessera.ops.elementwise launches them), the three kernels of
a variant and their op records, the contiguous kernel's 16-byte accesses, the 64-bit kernel
through ptxas, refused dtypes and spec fields, and a bundle holding the kernels and records."""
import json
import re

import pytest

from test_frontend_support import tessera

from tessera.compiler.aot import compile_tile_ir, specs_from_signature  # noqa: E402
from tessera.compiler.specialization import generate_tile_ir  # noqa: E402
from tessera.ops import aot as ops_aot  # noqa: E402
from tessera.ops import aot_elementwise  # noqa: E402
from tessera.ops.kernels.elementwise import ABSENT, TENSOR, elementwise_kernel  # noqa: E402

SIZES_AND_STRIDES = ["size0", "size1", "size2"] + [f"{p}_s{i}" for p in "abco" for i in range(4)]


def records(op, dtype, target="sm_90a"):
    return [kernel.op_record for kernel in aot_elementwise.kernels(op, dtype, target)]


def functions(op, dtype):
    return [v.function for v in aot_elementwise.variants(op, dtype)]


# Tests that an op entry means the variants the Python op launches: one per function it can
# run, with the dtypes of PyTorch's rules.
def test_variants_follow_the_python_ops():
    assert functions("gelu", "bf16") == ["gelu", "gelu_tanh"]
    assert functions("dropout", "fp16") == ["dropout", "identity"]
    assert functions("div", "int32") == ["div", "div_trunc", "div_floor"]
    assert functions("div", "bool") == ["div"]
    assert functions("clamp", "fp32") == ["clamp", "clamp_min", "clamp_max"]
    assert functions("add", "bool") == ["bitwise_or"]
    assert functions("mul", "bool") == ["bitwise_and"]
    div, trunc, _ = aot_elementwise.variants("div", "int32")
    assert (div.operands, div.out, div.common, div.result) == (("i32", "i32", None), "fp32",
                                                               "fp32", "fp32")
    assert (trunc.out, trunc.common) == ("i32", "i32")
    (exp,) = aot_elementwise.variants("exp", "int64")
    assert (exp.operands, exp.out, exp.common) == (("i64", None, None), "fp32", "fp32")
    (isnan,) = aot_elementwise.variants("isnan", "bf16")
    assert (isnan.out, isnan.common, isnan.result) == ("i1", "bf16", "i1")
    (eq,) = aot_elementwise.variants("eq", "bool")
    assert (eq.operands, eq.out, eq.common, eq.result) == (("i1", "i1", None), "i1", "u8", "i1")
    clamp = aot_elementwise.variants("clamp", "int8")
    assert [v.operands for v in clamp] == [("i8",) * 3, ("i8", "i8", None), ("i8", "i8", None)]


# Tests the records of add bf16: a contiguous case with every size and stride folded, and two
# generic kernels (32- and 64-bit indices) whose parameters assume nothing.
def test_add_records():
    contiguous, generic, generic64 = records("add", "bf16")
    common = {"function": "add", "operands": ["bf16", "bf16", None], "out": "bf16",
              "common": "bf16", "result": "bf16", "block": 2048, "num_warps": 4,
              "target": "sm_90a"}
    for record, kind, index_64 in [(contiguous, "case", False), (generic, "generic", False),
                                   (generic64, "generic", True)]:
        assert record == dict(record, **common, kind=kind, index_64=index_64)
        assert "kernel" not in record  # the bundle's writer names it
    assert contiguous["params"] == [["A", "*bf16", 16], ["B", "*bf16", 16],
                                    ["Out", "*bf16", 16], ["n", "i32", 16]]
    assert contiguous["ones"] == ["alpha"] + SIZES_AND_STRIDES
    c_strides = [f"c_s{i}" for i in range(4)]
    for record, index in [(generic, "i32"), (generic64, "i64")]:
        present = [name for name in SIZES_AND_STRIDES if name not in c_strides]
        assert record["params"] == (
            [["A", "*bf16", 1], ["B", "*bf16", 1], ["Out", "*bf16", 1], ["n", index, 1],
             ["alpha", "fp32", 1]] + [[name, index, 1] for name in present])
        assert record["ones"] == c_strides


# Tests the parameters that differ by function: alpha is a parameter of add and sub only (as
# wide as an integer common dtype), and dropout_kernel takes p, scale and a 64-bit seed.
def test_alpha_and_dropout_parameters():
    def param_types(record):
        return {name: ty for name, ty, _ in record["params"]}
    assert param_types(records("sub", "int64")[1])["alpha"] == "i64"
    assert param_types(records("sub", "int16")[2])["alpha"] == "i32"
    for op in ("mul", "clamp"):
        generic = records(op, "fp32")[1]
        assert "alpha" not in param_types(generic) and "alpha" in generic["ones"]
    training, _, _, identity = records("dropout", "fp16")[:4]
    assert training["block"] == 4096 and identity["function"] == "identity"
    assert training["params"] == [["X", "*fp16", 16], ["Out", "*fp16", 16], ["n", "i32", 16],
                                  ["p", "fp32", 1], ["scale", "fp32", 1], ["seed", "i64", 1]]
    assert training["ones"] == ["size0", "size1", "size2"] + \
        [f"{p}_s{i}" for p in "xo" for i in range(4)]
    generic64 = records("dropout", "fp16")[2]
    assert generic64["ones"] == [] and ["x_s3", "i64", 1] in generic64["params"]


# Tests that BLOCK is what the Python launcher takes: two 16-byte accesses per thread of the
# widest element (a bool takes a byte).
@pytest.mark.parametrize("op, dtype, block", [("add", "fp32", 1024), ("add", "int64", 512),
                                              ("eq", "bool", 4096), ("exp", "int32", 1024),
                                              ("isinf", "fp16", 2048)])
def test_block(op, dtype, block):
    assert records(op, dtype)[0]["block"] == block


# Tests that the contiguous kernel is the one the Python op compiles for a contiguous aligned
# call (rank 1, every size and stride 1), so the two share their binaries.
def test_contiguous_kernel_is_the_python_launch():
    signature = {"A": "*fp32:16", "B": "*fp32:16", "Out": "*fp32:16", "n": "i32:16"}
    constants = {name: 1 for name in ["alpha"] + SIZES_AND_STRIDES}
    constants.update(C=None, OP="add", A_KIND=TENSOR, B_KIND=TENSOR, C_KIND=ABSENT,
                     COMMON=tessera.language.float32, COMPUTE=tessera.language.float32,
                     RESULT=tessera.language.float32, SCALAR_DTYPE=tessera.language.float32,
                     RANK=1, INDEX_64=False, BLOCK=1024)
    specs = specs_from_signature(elementwise_kernel, signature, constants)
    python_launch = generate_tile_ir(elementwise_kernel, specs)
    assert aot_elementwise.kernels("add", "fp32", "sm_90a")[0].tile_ir == python_launch


# Tests that the contiguous kernel of add loads and stores in 16-byte vectors and computes no
# index (as test_ops_elementwise_compile checks for the Python op's launch).
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_contiguous_kernel_uses_16_byte_accesses(dtype):
    contiguous = aot_elementwise.kernels("add", dtype, "sm_90a")[0]
    ptx = compile_tile_ir(contiguous.tile_ir, "sm_90a", contiguous.num_warps,
                          contiguous.num_stages).asm["ptx"]
    assert len(re.findall(r"ld\.global(\.\w+)*\.v4\.b32", ptx)) == 4, ptx
    assert len(re.findall(r"st\.global(\.\w+)*\.v4\.b32", ptx)) == 2
    assert "div." not in ptx and "rem." not in ptx


# Tests that a generic kernel with 64-bit indices compiles and ptxas accepts it.
def test_generic64_kernel_compiles(run_ptxas):
    generic64 = aot_elementwise.kernels("clamp", "bf16", "sm_90a")[2]
    assert generic64.name == "elementwise_kernel/clamp/bf16-bf16-bf16/bf16/generic64/sm_90a"
    ptx = compile_tile_ir(generic64.tile_ir, "sm_90a", generic64.num_warps,
                          generic64.num_stages).asm["ptx"]
    assert "div.s64" in ptx or "div.u64" in ptx, "rank-4 indices divide in 64 bits"
    proc = run_ptxas(ptx, "sm_90a")
    assert proc.returncode == 0, proc.stderr


# Tests that dtypes an op refuses, unknown dtypes, ops and targets are errors naming them.
@pytest.mark.parametrize("args, message", [
    (("silu", "int32"), "silu: dtype int32 is not supported; expected a floating-point dtype"),
    (("bitwise_and", "fp16"), "bitwise_and: dtype fp16 is not supported; expected integer"),
    (("bitwise_not", "bf16"), "bitwise_not: dtype bf16 is not supported"),
    (("sub", "bool"), "sub: dtype bool is not supported; expected a number type"),
    (("clamp", "bool"), "clamp: dtype bool is not supported"),
    (("add", "float16"), "add: dtype must be one of"),
    (("softmax", "fp16"), "'softmax' is not an element-wise op"),
])
def test_refused_dtypes(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        aot_elementwise.kernels(*args, "sm_90a")
    with pytest.raises(ValueError, match="unknown target 'sm_70'"):
        aot_elementwise.kernels("add", "fp16", "sm_70")


# Tests that every element-wise entry of the library plans (its dtypes are the ops' own) and that
# the library holds every element-wise op.
def test_library_entries_plan():
    entries = {op: case for op, case in ops_aot.LIBRARY_CASES.items()
               if op in aot_elementwise.OPS}
    assert set(entries) == aot_elementwise.OPS
    for op, case in entries.items():
        assert set(case) == {"dtypes"}
        for dtype in case["dtypes"]:
            assert aot_elementwise.variants(op, dtype), (op, dtype)


# Tests that tessera.aot bundles an element-wise entry: three kernels, each with its record
# under "elementwise" naming it; identical kernels (add of bools is bitwise_or) stored once.
def test_aot_bundles_elementwise_kernels_and_records(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "add.tbundle"
    report = tessera.aot({"ops": [{"op": "add", "dtypes": ["bf16"]}]}, str(path))
    assert (report.kernels, report.op_records, report.tuning) == (3, 3, 0)
    bundle = tessera._C.Bundle.read(str(path))
    names = [name for name, _ in bundle.kernels]
    assert names == [kernel.name for kernel in aot_elementwise.kernels("add", "bf16", "sm_90a")]
    written = [(family, json.loads(text)) for family, text in bundle.ops]
    assert [family for family, _ in written] == ["elementwise"] * 3
    assert [record["kernel"] for _, record in written] == names
    assert [record["kind"] for _, record in written] == ["case", "generic", "generic"]
    assert written[0][1] == dict(records("add", "bf16")[0], kernel=names[0])

    both = tessera.aot({"ops": [{"op": "bitwise_or", "dtypes": ["bool"]},
                                {"op": "add", "dtypes": ["bool"], "targets": ["sm_90a"]}]},
                       str(tmp_path / "or.tbundle"))
    assert (both.kernels, both.op_records) == (3, 3)


# Tests that an element-wise entry's mistakes are named with their place in the spec.
@pytest.mark.parametrize("entry, message", [
    ({"op": "add", "dtypes": ["bf16"], "shapes": [[16]]},
     "ops[0]: add is element-wise: its kernels serve every shape and take no shapes"),
    ({"op": "exp", "dtypes": ["fp16"], "input_precision": "ieee"}, "take no input_precision"),
    ({"op": "gelu", "dtypes": ["int8"]}, "ops[0]: gelu: dtype int8 is not supported"),
    ({"op": "relu"}, "ops[0]: missing fields ['dtypes']"),
    ({"op": "conv2d", "dtypes": ["fp16"]}, "ops[0]: unknown op 'conv2d'"),
])
def test_spec_errors(tmp_path, entry, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tessera.aot({"ops": [entry]}, str(tmp_path / "b.tbundle"))
    assert not (tmp_path / "b.tbundle").exists()
