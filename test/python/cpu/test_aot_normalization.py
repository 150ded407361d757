"""softmax, layer_norm and rms_norm ahead of time, without a GPU (tessera.ops.aot_normalization,
tessera.aot): the variants an entry means, the kernels of a variant and their op records
(docs/op-records.md, "The normalization family"), each case being the kernel the Python op
JIT-compiles for the same call, fallbacks and generic twins assuming nothing, ptxas accepting
them, a bundle holding them, and spec mistakes named where they are."""
import json
import re

import pytest

from test_frontend_support import tessera
from test_ops_normalization_compile import specialise

from tessera.compiler.aot import compile_tile_ir, specs_from_signature  # noqa: E402
from tessera.compiler.specialization import generate_tile_ir  # noqa: E402
from tessera.ops import aot_normalization  # noqa: E402
from tessera.ops import normalization as ops_norm  # noqa: E402
from tessera.ops.kernels.normalization import norm_kernel, softmax_kernel  # noqa: E402

SOFTMAX_INTS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2",
                "x_stride_col", "y_stride0", "y_stride1", "y_stride2", "y_stride_col"]
NORM_INTS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2", "y_stride0",
             "y_stride1", "y_stride2", "x_stride_outer", "x_stride_col", "w_stride_outer",
             "w_stride_col", "b_stride_outer", "b_stride_col"]


def kernels(op, dtype, shapes=(), target="sm_90a"):
    return aot_normalization.kernels(op, dtype, list(shapes), target)


def by_what(bundled):
    """{(tensors, what): kernel} of a kernels() list, from the names."""
    return {tuple(k.name.split("/")[2:4]): k for k in bundled}


# Tests that an entry means the variants the Python ops launch (doc: "Variants").
def test_variants_follow_the_python_ops():
    def names(op, dtype):
        return ["-".join(t or "none" for t in v)
                for v in aot_normalization.variants(op, dtype)]
    assert names("softmax", "fp16") == ["fp16-fp16-none-none", "fp16-fp32-none-none"]
    assert names("softmax", "fp32") == ["fp32-fp32-none-none"]
    assert names("layer_norm", "bf16") == ["bf16-bf16-bf16-bf16", "bf16-bf16-none-none",
                                           "bf16-bf16-bf16-none"]
    assert names("rms_norm", "fp32") == ["fp32-fp32-fp32-none", "fp32-fp32-none-none"]


# Tests the names and order of a variant's kernels: two fallbacks, then per shape the case and
# its generic twin.
def test_kernel_names():
    bundled = kernels("layer_norm", "bf16", [[4096, 4096], [8, 512, 1024]])
    assert [k.name for k in bundled[:6]] == [
        f"norm_kernel/layer_norm/bf16-bf16-bf16-bf16/{what}/sm_90a"
        for what in ["fallback", "fallback64", "4096x4096", "4096x4096-generic", "8x512x1024",
                     "8x512x1024-generic"]]
    assert len(bundled) == 3 * 6
    assert bundled[6].name == "norm_kernel/layer_norm/bf16-bf16-none-none/fallback/sm_90a"
    assert [k.name for k in kernels("softmax", "fp16")] == [
        "softmax_kernel/softmax/fp16-fp16-none-none/fallback/sm_90a",
        "softmax_kernel/softmax/fp16-fp16-none-none/fallback64/sm_90a",
        "softmax_kernel/softmax/fp16-fp32-none-none/fallback/sm_90a",
        "softmax_kernel/softmax/fp16-fp32-none-none/fallback64/sm_90a"]
    assert all(k.op_family == "normalization" and k.num_stages == 1 for k in bundled)


# Tests the fallbacks' records: the multi-pass block of one row, no assumption on any value
# (every integer a parameter, i32 or i64; pointers of divisibility 1; absent weight and bias are
# not parameters), and no divisibility in their tile IR.
@pytest.mark.parametrize("op", ["softmax", "layer_norm", "rms_norm"])
def test_fallback_records(op):
    for k in kernels(op, "fp16"):
        record = k.op_record
        index_64 = k.name.split("/")[3] == "fallback64"
        assert {key: record[key] for key in ["kind", "op", "one_pass", "rows", "block_n",
                                            "row_dims", "even_m", "even_n", "index_64",
                                            "num_warps", "num_stages", "target"]} == {
            "kind": "generic", "op": op, "one_pass": False, "rows": 1, "block_n": 2048,
            "row_dims": 3, "even_m": True, "even_n": False, "index_64": index_64,
            "num_warps": 4, "num_stages": 1, "target": "sm_90a"}
        assert k.num_warps == 4 and "kernel" not in record
        index = "i64" if index_64 else "i32"
        pointers = [["x_ptr", f"*{record['input']}", 1], ["y_ptr", f"*{record['output']}", 1]]
        if op == "softmax":
            assert record["params"] == pointers + [[n, index, 1] for n in SOFTMAX_INTS]
        else:
            pointers += [[name, f"*{record[tensor]}", 1]
                         for name, tensor in [("w_ptr", "weight"), ("b_ptr", "bias")]
                         if record[tensor]]
            assert record["params"] == pointers + [[n, index, 1] for n in NORM_INTS] + \
                [["eps", "fp32", 1]]
        assert record["ones"] == []
        assert "tile.divisibility" not in k.tile_ir


def python_launch(op, shape, dtype, out_dtype, weight, bias):
    """The tile IR, warps and record fields of the Python op's launch for a contiguous input of
    ``shape`` at an aligned address, specialised as its JIT launcher does (the values of the
    op's plan; an int equal to 1 or None folded, multiples of 16 and aligned pointers marked)."""
    strides = ops_norm.contiguous_strides(shape)
    if op == "softmax":
        kernel, names = softmax_kernel, SOFTMAX_INTS
        block, steps = ops_norm._softmax_plan(shape, (strides,), len(shape) - 1, None)
    else:
        kernel, names = norm_kernel, NORM_INTS[:10] + ["n_inner"] + NORM_INTS[10:]
        block, steps = ops_norm._norm_plan(op, shape, strides, weight and (1,), bias and (1,), 1,
                                           None)
    (_, args, row_dims, index_64, even_m, _), = steps
    signature = {"x_ptr": f"*{dtype}:16", "y_ptr": f"*{out_dtype}:16"}
    constants = {"ROW_DIMS": row_dims, "ROWS": block.rows, "BLOCK_N": block.block_n,
                 "ONE_PASS": block.one_pass, "EVEN_M": even_m,
                 "EVEN_N": args[1] % block.block_n == 0, "INDEX_64": index_64}
    if op != "softmax":
        constants["RMS"] = op == "rms_norm"
        signature["eps"] = "fp32"
        for name, element in [("w_ptr", weight), ("b_ptr", bias)]:
            if element:
                signature[name] = f"*{element}:16"
            else:
                constants[name] = None
    call_signature, call_constants = specialise(names, args)
    signature.update(call_signature)
    constants.update(call_constants)
    tile_ir = generate_tile_ir(kernel, specs_from_signature(kernel, signature, constants))
    return tile_ir, block.num_warps, constants


CASES = [  # (op, shape, dtype, output, weight, bias)
    ("softmax", (4096, 4096), "bf16", "bf16", None, None),
    ("softmax", (64, 4096), "fp16", "fp32", None, None),
    ("softmax", (300, 1000), "fp32", "fp32", None, None),  # packed rows, a ragged last program
    ("softmax", (3, 70000), "bf16", "bf16", None, None),  # multi-pass
    ("softmax", (1000,), "fp16", "fp16", None, None),  # one row: no row dims
    ("layer_norm", (8, 512, 1024), "bf16", "bf16", "bf16", "bf16"),
    ("layer_norm", (17, 1023), "fp32", "fp32", None, None),
    ("layer_norm", (4, 50000), "fp16", "fp16", "fp16", None),
    ("rms_norm", (4096, 16384), "bf16", "bf16", "bf16", None),
    ("rms_norm", (5, 768), "fp16", "fp16", None, None),
]


# Tests that each case is the kernel the Python op compiles for the same contiguous call: the
# same tile IR (so a Python process that loads the bundle finds its launch there), warps and
# constexprs in the record, the folded integers in "ones".
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{'x'.join(map(str, c[1]))}")
def test_case_is_the_python_launch(case):
    op, shape, dtype, output, weight, bias = case
    tile_ir, num_warps, constants = python_launch(*case)
    tensors = "-".join(t or "none" for t in (dtype, output, weight, bias))
    what = "x".join(map(str, shape))
    bundled = by_what(kernels(op, dtype, [shape]))
    kernel = bundled[tensors, what]
    assert kernel.tile_ir == tile_ir
    assert kernel.num_warps == num_warps and kernel.num_stages == 1
    record = kernel.op_record
    assert record["kind"] == "case"
    assert (record["input"], record["output"], record["weight"], record["bias"]) == \
        (dtype, output, weight, bias)
    assert {name: record[name.lower()] for name in ["ONE_PASS", "ROWS", "BLOCK_N", "ROW_DIMS",
                                                      "EVEN_M", "EVEN_N", "INDEX_64"]} == \
        {name: constants[name] for name in ["ONE_PASS", "ROWS", "BLOCK_N", "ROW_DIMS",
                                            "EVEN_M", "EVEN_N", "INDEX_64"]}
    ints = SOFTMAX_INTS if op == "softmax" else NORM_INTS
    assert record["ones"] == [n for n in kernel_names(op) if n in ints and constants.get(n) == 1]
    twin = bundled[tensors, f"{what}-generic"].op_record
    assert {k: twin[k] for k in ["one_pass", "rows", "block_n", "index_64", "num_warps"]} == \
        {k: record[k] for k in ["one_pass", "rows", "block_n", "index_64", "num_warps"]}
    assert (twin["kind"], twin["row_dims"], twin["even_m"], twin["even_n"], twin["ones"]) == \
        ("generic", 3, False, False, [])
    assert all(divisibility == 1 for _, _, divisibility in twin["params"])


def kernel_names(op):
    return (softmax_kernel if op == "softmax" else norm_kernel).arg_names


# Tests one case against a signature written out by hand: layer_norm of bf16 rows of 4096 with
# weight and bias is one row per program, in one pass of 8 warps, every unit stride folded.
def test_layer_norm_4096_case_by_hand():
    signature = {name: "*bf16:16" for name in ["x_ptr", "y_ptr", "w_ptr", "b_ptr"]}
    signature.update({name: "i32:16" for name in ["n_rows", "N", "x_stride0", "y_stride0"]},
                     eps="fp32")
    ones = ["M1", "M2", "x_stride1", "x_stride2", "y_stride1", "y_stride2", "x_stride_outer",
            "x_stride_col", "w_stride_outer", "w_stride_col", "b_stride_outer", "b_stride_col"]
    constants = dict({name: 1 for name in ones}, n_inner=None, RMS=False, ROW_DIMS=1, ROWS=1,
                     BLOCK_N=4096, ONE_PASS=True, EVEN_M=True, EVEN_N=True, INDEX_64=False)
    tile_ir = generate_tile_ir(norm_kernel, specs_from_signature(norm_kernel, signature,
                                                                 constants))
    case = kernels("layer_norm", "bf16", [[4096, 4096]])[2]
    assert case.tile_ir == tile_ir and case.num_warps == 8
    assert case.op_record["ones"] == ones
    assert case.op_record["params"] == [[name, ty.split(":")[0], 16 if ":" in ty else 1]
                                        for name, ty in signature.items()]


# Tests that the fallbacks and generic twins compile and ptxas accepts them (64-bit offsets,
# no weight; a one-pass block of 16384 columns with weight).
def test_generic_kernels_compile(run_ptxas):
    bundled = by_what(kernels("rms_norm", "bf16", [[4096, 16384]]))
    for key in [("bf16-bf16-none-none", "fallback64"),
                ("bf16-bf16-bf16-none", "4096x16384-generic")]:
        kernel = bundled[key]
        ptx = compile_tile_ir(kernel.tile_ir, "sm_90a", kernel.num_warps,
                              kernel.num_stages).asm["ptx"]
        proc = run_ptxas(ptx, "sm_90a")
        assert proc.returncode == 0, (key, proc.stderr)


# Tests what kernels() refuses, naming the op and the problem.
@pytest.mark.parametrize("args, message", [
    (("softmax", "int8", []), "softmax: dtype must be one of ['fp16', 'bf16', 'fp32']"),
    (("add", "fp16", []), "'add' is not a normalization op"),
    (("layer_norm", "fp16", [[0, 4]]), "layer_norm: a shape is a list of one or more positive"),
    (("rms_norm", "fp16", [[]]), "rms_norm: a shape is a list"),
    (("rms_norm", "fp16", [[4, True]]), "rms_norm: a shape is a list"),
    (("rms_norm", "fp16", [4096]), "rms_norm: a shape is a list"),
])
def test_refused(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kernels(*args)
    with pytest.raises(ValueError, match="unknown target 'sm_70'"):
        kernels("softmax", "fp16", [], "sm_70")


# Tests that tessera.aot bundles norm entries under "normalization": shapes that plan alike
# (rows of 4096, row counts multiples of 16) share their kernels, records naming the first; an
# entry without shapes holds the fallbacks only.
def test_aot_bundles_norm_kernels_and_records(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "norm.tbundle"
    spec = {"ops": [{"op": "rms_norm", "dtypes": ["fp32"], "shapes": [[4096, 4096], [64, 4096]]},
                    {"op": "softmax", "dtypes": ["fp32"], "targets": ["sm_90a"]}]}
    report = tessera.aot(spec, str(path))
    # rms_norm: 2 variants x (2 fallbacks, a case and a twin); softmax: 2 fallbacks
    assert (report.kernels, report.op_records, report.tuning) == (10, 10, 0)
    bundle = tessera._C.Bundle.read(str(path))
    names = [name for name, _ in bundle.kernels]
    assert names[:4] == [f"norm_kernel/rms_norm/fp32-fp32-fp32-none/{what}/sm_90a" for what in
                         ["fallback", "fallback64", "4096x4096", "4096x4096-generic"]]
    written = [(family, json.loads(text)) for family, text in bundle.ops]
    assert {family for family, _ in written} == {"normalization"}
    assert [record["kernel"] for _, record in written] == names
    expected = kernels("rms_norm", "fp32", [[4096, 4096]])[2].op_record
    assert written[2][1] == dict(expected, kernel=names[2])


# Tests that a norm entry's mistakes are named with their place in the spec.
@pytest.mark.parametrize("entry, message", [
    ({"op": "softmax", "dtypes": ["int8"]}, "ops[0]: softmax: dtype must be one of"),
    ({"op": "layer_norm", "dtypes": ["bf16"], "shapes": [[4096, 0]]},
     "ops[0]: layer_norm: a shape is a list of one or more positive ints, got [4096, 0]"),
    ({"op": "layer_norm", "dtypes": ["bf16"], "shapes": []},
     "ops[0]: shapes must be a non-empty list"),
    ({"op": "rms_norm", "dtypes": ["bf16"], "input_precision": "ieee"},
     "ops[0]: unknown fields ['input_precision']"),
    ({"op": "rms_norm", "shapes": [[4, 4]]}, "ops[0]: missing fields ['dtypes']"),
    ({"op": "softmax", "dtypes": "fp16"}, "ops[0].dtypes: expected a non-empty list"),
])
def test_spec_errors(tmp_path, entry, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tessera.aot({"ops": [entry]}, str(tmp_path / "b.tbundle"))
    assert not (tmp_path / "b.tbundle").exists()
