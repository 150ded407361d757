"""rotary_position_embedding ahead of time, without a GPU (tessera.ops.aot_rope, tessera.aot): the
variants an entry means, the three kernels of a shape and variant and their op records
(docs/op-records.md, "The rope family"), each case being the kernel the Python op JIT-compiles
for the same call (pairs as words where interleaved), generic twins assuming nothing, ptxas
accepting them, a bundle holding them, and spec mistakes named where they are."""
import json
import re

import pytest

from test_frontend_support import tessera

from tessera.compiler.aot import compile_tile_ir, specs_from_signature  # noqa: E402
from tessera.compiler.specialization import generate_tile_ir  # noqa: E402
from tessera.ops import aot_rope, rope  # noqa: E402
from tessera.ops.kernels.rope import rope_kernel  # noqa: E402

OP = "rotary_position_embedding"
INTS = ["S", "H", "stride_xb", "stride_xs", "stride_xh", "stride_xd", "stride_yb", "stride_ys",
        "stride_yh", "stride_yd", "stride_sin_s", "stride_sin_d", "stride_cos_s", "stride_cos_d"]


def kernels(dtype, shapes, target="sm_90a"):
    return aot_rope.kernels(OP, dtype, shapes, target)


def by_name(bundled):
    """{(dtypes, layout, what): kernel} of a kernels() list."""
    return {tuple(k.name.split("/")[1:4]): k for k in bundled}


# Tests that an entry means the variants the op launches: fp32 tables, and for 16-bit inputs
# tables of the input's dtype, each with interleaved pairs and with halves.
def test_variants():
    assert [tuple(v) for v in aot_rope.variants(OP, "fp16")] == [
        ("fp16", "fp32", True), ("fp16", "fp32", False), ("fp16", "fp16", True),
        ("fp16", "fp16", False)]
    assert [tuple(v) for v in aot_rope.variants(OP, "fp32")] == [
        ("fp32", "fp32", True), ("fp32", "fp32", False)]


# Tests the kernels' names and order, and the fields every record has.
def test_names_and_records():
    bundled = kernels("bf16", [[1, 4096, 32, 128], [1, 4096, 32, 64]])
    assert len(bundled) == 2 * 4 * 3
    prefix = "rope_kernel/bf16-fp32/interleaved/1x4096x32x128"
    assert [k.name for k in bundled[:4]] == [
        f"{prefix}/sm_90a", f"{prefix}-generic/sm_90a", f"{prefix}-generic64/sm_90a",
        "rope_kernel/bf16-fp32/halves/1x4096x32x128/sm_90a"]
    fields = {"kind", "input", "table", "half", "block_h", "block_half", "even_h",
              "interleaved", "paired", "index_64", "num_warps", "num_stages", "target",
              "params", "ones"}
    for k in bundled:
        assert set(k.op_record) == fields, k.name
        assert (k.op_family, k.num_warps, k.num_stages) == ("rope", 4, 3)
        assert (k.op_record["num_warps"], k.op_record["num_stages"]) == (4, 3)
    half = by_name(bundled)["bf16-bf16", "halves", "1x4096x32x64"].op_record
    assert (half["input"], half["table"], half["half"], half["block_half"], half["block_h"],
            half["interleaved"], half["paired"]) == ("bf16", "bf16", 32, 32, 32, False, False)


def signature_of(values, pointers):
    """(signature, constants) as the JIT launcher specialises: ``values`` of the integer
    arguments by name, ``pointers`` {name: element} at aligned addresses."""
    signature = {name: f"*{element}:16" for name, element in pointers.items()}
    constants = {}
    for name, value in values.items():
        if value == 1:
            constants[name] = 1
        else:
            signature[name] = "i32" + (":16" if value % 16 == 0 else "")
    return signature, constants


# (shape, input, table, interleaved, the integer arguments of the op's launch, PAIRED,
# BLOCK_H, BLOCK_HALF, EVEN_H), written out from rope.py's rules: interleaved pairs of a
# contiguous input are words (strides in words; a dim of size 1 has stride 0).
HAND_CASES = [
    ((1, 4096, 32, 128), "bf16", "fp32", True,
     dict(S=4096, H=32, stride_xb=0, stride_xs=2048, stride_xh=64, stride_xd=1, stride_yb=0,
          stride_ys=2048, stride_yh=64, stride_yd=1, stride_sin_s=64, stride_sin_d=1,
          stride_cos_s=64, stride_cos_d=1), True, 32, 64, True),
    ((1, 4096, 8, 128), "fp16", "fp16", False,
     dict(S=4096, H=8, stride_xb=4096 * 8 * 128, stride_xs=1024, stride_xh=128, stride_xd=1,
          stride_yb=4096 * 8 * 128, stride_ys=1024, stride_yh=128, stride_yd=1,
          stride_sin_s=64, stride_sin_d=1, stride_cos_s=64, stride_cos_d=1), False, 8, 64, True),
    ((2, 5, 3, 130), "fp32", "fp32", True,  # ragged: 3 heads of a 4-head tile, 65 pairs
     dict(S=5, H=3, stride_xb=975, stride_xs=195, stride_xh=65, stride_xd=1, stride_yb=975,
          stride_ys=195, stride_yh=65, stride_yd=1, stride_sin_s=65, stride_sin_d=1,
          stride_cos_s=65, stride_cos_d=1), True, 4, 128, False),
]


# Tests that a case is the kernel the op compiles for the same contiguous call (same tile IR:
# a Python process that loads the bundle finds its launch there), against arguments written
# out by hand; and that planning leaves rope.torch as it was.
@pytest.mark.parametrize("case", HAND_CASES, ids=lambda c: "x".join(map(str, c[0])))
def test_case_is_the_python_launch(case):
    shape, element, table, interleaved, values, paired, block_h, block_half, even_h = case
    word = {"fp16": "i32", "bf16": "i32", "fp32": "i64"}[element] if paired else element
    signature, constants = signature_of(values, {"X": word, "Y": word, "SIN": table,
                                                 "COS": table})
    constants.update(HALF=shape[3] // 2, BLOCK_H=block_h, BLOCK_HALF=block_half, EVEN_H=even_h,
                     INTERLEAVED=interleaved, PAIRED=paired, ELEMENT=element, INDEX_64=False)
    tile_ir = generate_tile_ir(rope_kernel, specs_from_signature(rope_kernel, signature,
                                                                 constants))
    torch_before = rope.torch
    layout = "interleaved" if interleaved else "halves"
    what = "x".join(map(str, shape))
    bundled = by_name(kernels(element, [list(shape)]))
    assert rope.torch is torch_before
    kernel = bundled[f"{element}-{table}", layout, what]
    assert kernel.tile_ir == tile_ir
    record = kernel.op_record
    assert (record["kind"], record["half"], record["block_h"], record["block_half"],
            record["even_h"], record["interleaved"], record["paired"], record["index_64"]) == \
        ("case", shape[3] // 2, block_h, block_half, even_h, interleaved, paired, False)
    assert record["ones"] == [name for name in INTS if values[name] == 1]
    assert record["params"][:4] == [[name, f"*{ty}", 16] for name, ty in
                                    [("X", word), ("Y", word), ("SIN", table), ("COS", table)]]


# Tests the generic twins: the case's tile (HALF, BLOCK_H, BLOCK_HALF, INTERLEAVED), EVEN_H and
# PAIRED false, element pointers, every integer a parameter (i32, i64), nothing assumed.
def test_generic_twins_assume_nothing():
    bundled = by_name(kernels("fp16", [[1, 4096, 32, 128]]))
    case = bundled["fp16-fp32", "interleaved", "1x4096x32x128"].op_record
    for suffix, index in [("generic", "i32"), ("generic64", "i64")]:
        kernel = bundled["fp16-fp32", "interleaved", f"1x4096x32x128-{suffix}"]
        record = kernel.op_record
        assert {k: record[k] for k in ["half", "block_h", "block_half", "interleaved"]} == \
            {k: case[k] for k in ["half", "block_h", "block_half", "interleaved"]}
        assert (record["kind"], record["even_h"], record["paired"], record["index_64"]) == \
            ("generic", False, False, index == "i64")
        assert record["params"] == [["X", "*fp16", 1], ["Y", "*fp16", 1], ["SIN", "*fp32", 1],
                                    ["COS", "*fp32", 1]] + [[n, index, 1] for n in INTS]
        assert record["ones"] == []
        assert "tile.divisibility" not in kernel.tile_ir


# Tests that a call whose offsets reach 2**31 elements plans 64-bit offsets, as the op does.
def test_large_case_takes_64_bit_offsets():
    case = kernels("bf16", [[1, 2 ** 17, 32, 512]])[0].op_record
    assert case["index_64"] and case["paired"]
    assert ["S", "i32", 16] in case["params"]


# Tests that generic twins and a paired case compile and ptxas accepts them.
def test_kernels_compile(run_ptxas):
    bundled = by_name(kernels("bf16", [[1, 4096, 8, 128]]))
    for key in [("bf16-bf16", "halves", "1x4096x8x128-generic64"),
                ("bf16-fp32", "interleaved", "1x4096x8x128")]:
        kernel = bundled[key]
        ptx = compile_tile_ir(kernel.tile_ir, "sm_90a", kernel.num_warps,
                              kernel.num_stages).asm["ptx"]
        proc = run_ptxas(ptx, "sm_90a")
        assert proc.returncode == 0, (key, proc.stderr)


# Tests what kernels() refuses, naming the op and the problem.
@pytest.mark.parametrize("args, message", [
    (("fp8", [[1, 1, 1, 2]]), "rotary_position_embedding: dtype must be one of"),
    (("bf16", [[1, 16, 4]]), "a shape is [B, S, H, D] of positive ints with D even"),
    (("bf16", [[1, 16, 4, 63]]), "with D even"),
    (("bf16", [[1, 0, 4, 64]]), "with D even"),
    (("bf16", []), "shapes [[B, S, H, D], ...] are needed"),
    (("bf16", [[1, 2 ** 31, 1, 2]]), "needs 2147483648 programs, more than a launch's"),
])
def test_refused(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kernels(*args)
    with pytest.raises(ValueError, match="unknown target 'sm_70'"):
        kernels("bf16", [[1, 1, 1, 2]], "sm_70")
    with pytest.raises(ValueError, match="'softmax' is not a rope op"):
        aot_rope.kernels("softmax", "bf16", [[1, 1, 1, 2]], "sm_90a")


# Tests that tessera.aot bundles a rope entry under "rope": three kernels per variant, each
# record naming its kernel.
def test_aot_bundles_rope_kernels_and_records(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "rope.tbundle"
    spec = {"ops": [{"op": OP, "dtypes": ["fp32"], "shapes": [[1, 16, 4, 64]]}]}
    report = tessera.aot(spec, str(path))
    assert (report.kernels, report.op_records, report.tuning) == (6, 6, 0)
    bundle = tessera._C.Bundle.read(str(path))
    names = [name for name, _ in bundle.kernels]
    assert names == [k.name for k in kernels("fp32", [[1, 16, 4, 64]])]
    written = [(family, json.loads(text)) for family, text in bundle.ops]
    assert [family for family, _ in written] == ["rope"] * 6
    assert [record["kernel"] for _, record in written] == names


# Tests that a rope entry's mistakes are named with their place in the spec.
@pytest.mark.parametrize("entry, message", [
    ({"op": OP, "dtypes": ["bf16"]}, "ops[0]: missing fields ['shapes']"),
    ({"op": OP, "dtypes": ["bf16"], "shapes": [[1, 16, 4, 63]]},
     "ops[0]: rotary_position_embedding: a shape is [B, S, H, D] of positive ints with D even"),
    ({"op": OP, "dtypes": ["int32"], "shapes": [[1, 16, 4, 64]]},
     "ops[0]: rotary_position_embedding: dtype must be one of"),
    ({"op": OP, "dtypes": ["bf16"], "shapes": [1, 16, 4, 64]},
     "ops[0]: rotary_position_embedding: a shape is [B, S, H, D]"),
    ({"op": OP, "dtypes": ["bf16"], "shapes": "1x16x4x64"},
     "ops[0]: shapes must be a non-empty list"),
    ({"op": OP, "dtypes": ["bf16"], "shapes": [[1, 16, 4, 64]], "interleaved": True},
     "ops[0]: unknown fields ['interleaved']"),
])
def test_spec_errors(tmp_path, entry, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tessera.aot({"ops": [entry]}, str(tmp_path / "b.tbundle"))
    assert not (tmp_path / "b.tbundle").exists()
