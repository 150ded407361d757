"""Bundles from a spec without a GPU (tessera.aot, tessera-aot): the op library planned on
stand-in tensors, every case compiled, config choices recorded for the loading process; spec
mistakes named where they are; the whole op library for sm_90a."""
import json

import pytest

from test_frontend_support import tessera

from tessera.ops import aot as ops_aot  # noqa: E402
from tessera.ops import aot_elementwise  # noqa: E402
from tessera.runtime import precompile, tuning_cache  # noqa: E402

ADD = {"kernel": "vector_add:add_kernel", "name": "add",
       "signature": {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16",
                     "n_elements": "i32"},
       "constants": {"BLOCK": 1024}}


def bundle_contents(path):
    bundle = tessera._C.Bundle.read(str(path))
    return bundle.kernels, bundle.tuning


# Tests that a matmul call is planned as the op launches it: TMA descriptors for aligned
# row-major operands on sm_90a (none on sm_80, none for rows that are not 16-byte multiples),
# the first fitting config, and a tuning key naming the architecture.
def test_matmul_plan_matches_the_op():
    aligned = ops_aot.plan("matmul", [4096, 4096, 4096], "fp16", "sm_90a")[0]
    assert aligned.name == \
        "matmul_kernel/matmul/4096x4096x4096/fp16/ieee/128x256x64w8s4/sm_90a"
    assert "!tile.tensormap" in aligned.tile_ir
    assert aligned.chosen == aligned.configs[0]
    assert (aligned.num_warps, aligned.num_stages) == (aligned.chosen.num_warps,
                                                       aligned.chosen.num_stages)
    identity, key, config = aligned.choice_record()
    assert identity.startswith("matmul_kernel-")
    assert json.loads(key) == [4096, 4096, 4096, 4096, 1, 4096, 1, "ieee", "torch.float16",
                               "torch.float16", "torch.float16", {"target": "sm_90a"}]
    assert json.loads(config)["BLOCK_M"] == aligned.chosen.kwargs["BLOCK_M"]

    ampere = ops_aot.plan("matmul", [4096, 4096, 4096], "fp16", "sm_80")[0]
    assert "!tile.tensormap" not in ampere.tile_ir
    odd = ops_aot.plan("matmul", [4095, 4097, 1023], "bf16", "sm_90a")[0]
    assert "!tile.tensormap" not in odd.tile_ir
    skinny = ops_aot.plan("matmul", [16, 8192, 8192], "bf16", "sm_90a")[0]
    assert skinny.chosen.kwargs["BLOCK_M"] <= 64
    tf32 = ops_aot.plan("matmul", [1024, 1024, 1024], "fp32", "sm_90a", "tf32")[0]
    assert json.loads(tf32.choice_record()[1])[7] == "tf32"


# Tests that a planner refuses what the op cannot run, naming the problem.
@pytest.mark.parametrize("args, message", [
    (("conv", [1, 1, 1], "fp16", "sm_90a"), "unknown op 'conv'"),
    (("matmul", [1, 1], "fp16", "sm_90a"), "a shape is [M, N, K]"),
    (("matmul", [1, 1, 1], "fp8", "sm_90a"), "dtype must be one of"),
    (("matmul", [1, 1, 1], "fp16", "sm_70"), "unknown target 'sm_70'"),
    (("matmul", [1, 1, 1], "fp16", "sm_90a", "tf32"), "input_precision"),
])
def test_plan_errors(args, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ops_aot.plan(*args)


# Tests that aot compiles ops and kernels of a spec into one bundle: kernels under their names,
# one untimed choice per op call, identical specialisations stored once.
def test_aot_writes_ops_and_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    spec = {"description": "test", "targets": ["sm_90a"],
            "ops": [{"op": "matmul", "shapes": [[256, 256, 256], [512, 512, 512]],
                     "dtypes": ["fp16"]}],
            "kernels": [dict(ADD, targets=["sm_80", "sm_90a"])]}
    report = tessera.aot(spec, str(tmp_path / "b.tbundle"))
    assert report.tuned == 0
    kernels, tuning = bundle_contents(tmp_path / "b.tbundle")
    names = [k[0] for k in kernels]
    # Both matmul calls specialise alike (sizes multiples of 16, the same first config); the
    # generic kernels of that config and of the smallest one are for C/C++ calls no case lists.
    assert names == ["matmul_kernel/matmul/256x256x256/fp16/ieee/128x256x64w8s4/sm_90a",
                     "matmul_kernel/generic/fp16/ieee/128x256x64w8s4/sm_90a",
                     "matmul_kernel/generic/fp16/ieee/64x64x32w4s3/sm_90a", "add", "add"]
    assert report.kernels == 5 and report.tuning == 2 and report.op_records == 4
    assert [k[1] for k in kernels] == ["sm_90a"] * 3 + ["sm_80", "sm_90a"]
    assert len(tuning) == 2
    assert all(record[3] == tuning_cache.UNTIMED for record in tuning)
    assert {json.loads(record[1])[0] for record in tuning} == {256, 512}


# Tests that a loaded bundle's untimed choice is what the autotuner takes for its key.
def test_loaded_choices_reach_the_autotuner(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tuning_cache, "_choices", {})
    spec = {"ops": [{"op": "mm", "shapes": [[128, 128, 64]], "dtypes": ["bf16"]}]}
    tessera.aot(spec, str(tmp_path / "b.tbundle"))
    # the case's kernel and two generic ones
    assert tessera.load_bundle(str(tmp_path / "b.tbundle")) == {"kernels": 3, "tuning": 1}
    case = ops_aot.plan("mm", [128, 128, 64], "bf16", "sm_90a")[0]
    assert case.tuner._bundled_choice(case.tuning_key, case.configs) == case.chosen
    others = [c for c in case.configs if c != case.chosen]
    assert case.tuner._bundled_choice(case.tuning_key, others) is None


# Tests that a spec's mistakes are named with their place in the spec.
@pytest.mark.parametrize("spec, message", [
    ({"op": []}, r"unknown fields \['op'\]"),
    ({"ops": [{"op": "matmul", "shapes": [[1, 1, 1]]}]}, r"ops\[0\]: missing fields \['dtypes'\]"),
    ({"ops": [{"op": "matmul", "shapes": [[1, 1]], "dtypes": ["fp16"]}]},
     r"ops\[0\]: matmul: a shape"),
    ({"ops": 3}, "expected a list of op entries"),
    ({"targets": "sm_90a"}, "targets: expected a non-empty list of strings"),
    ({"kernels": [{"kernel": "vector_add", "signature": {}}]}, "must be 'module:attribute'"),
    ({"kernels": [{"kernel": "vector_add:nope", "signature": {}}]}, "has no attribute 'nope'"),
    ({"kernels": [dict(ADD, signature={"x_ptr": "*fp32"})]},
     r"kernels\[0\]: parameter y_ptr is missing"),
])
def test_spec_errors(tmp_path, spec, message):
    with pytest.raises(ValueError, match=message):
        tessera.aot(spec, str(tmp_path / "b.tbundle"))
    assert not (tmp_path / "b.tbundle").exists()


# Tests the command line: a spec file in, a bundle out, a summary line; errors exit with 2.
def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"kernels": [ADD]}))
    out = tmp_path / "add.tbundle"
    assert precompile.main([str(spec), "-o", str(out), "--target", "sm_80"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert [k[:2] for k in bundle_contents(out)[0]] == [("add", "sm_80")]
    spec.write_text("{not json")
    assert precompile.main([str(spec), "-o", str(out)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


# Tests that the whole op library builds for sm_90a without a GPU, every matmul call with a
# choice and every element-wise variant with its three kernels' records.
def test_library_bundle_for_sm_90a(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "ops.tbundle"
    assert precompile.main(["--library", "--target", "sm_90a", "-o", str(out)]) == 0
    kernels, tuning = bundle_contents(out)
    calls = sum(len(c["shapes"]) * (len(c["dtypes"]) + ("fp32" in c["dtypes"]))
                for op, c in ops_aot.LIBRARY_CASES.items() if op in ops_aot.LIBRARY)
    assert len(tuning) == calls
    assert all(k[1] == "sm_90a" for k in kernels) and kernels
    variants = sum(len(aot_elementwise.variants(op, dtype))
                   for op, c in ops_aot.LIBRARY_CASES.items() if op in aot_elementwise.OPS
                   for dtype in c["dtypes"])
    records = [json.loads(text) for family, text in tessera._C.Bundle.read(str(out)).ops
               if family == "elementwise"]
    assert len(records) == 3 * variants
    assert {record["kernel"] for record in records} <= {k[0] for k in kernels}
