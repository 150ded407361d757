"""Ops through the C API without a GPU (tessera_op_describe, tessera_op_precompile): the op records
that tessera.aot writes, the C++ op's choice between a bundled case and its JIT fallback, the
parameter values it computes (the same as the Python op's own launch), and its argument errors.

Each check runs in a fresh process that loads one bundle, as a C++ program would: op records, once
loaded, stay in the process's runtime and would steer the other tests' choices."""
import json
import os
import subprocess
import sys

import pytest

from test_frontend_support import tessera

from tessera.ops import aot as ops_aot  # noqa: E402

FP16, BF16, FP32 = 1, 2, 3
BUNDLED = [512, 512, 512]  # (M, N, K) of the bundle's fp16 case
MB = 1 << 20


def tensor(address, sizes, strides=None, dtype=FP16):
    """A (data, dtype, sizes, strides) tuple of the C API's tessera_tensor; row-major by
    default."""
    return (address, dtype, list(sizes), list(strides or [sizes[1], 1]))


def mm_call(m, n, k, dtype=FP16, b_strides=None, offset=0):
    """Tensors input (M, K), mat2 (K, N), out (M, N) at distinct aligned addresses (input's moved
    by ``offset`` bytes)."""
    return [tensor(1 * 64 * MB + offset, (m, k), dtype=dtype),
            tensor(2 * 64 * MB, (k, n), b_strides, dtype=dtype),
            tensor(3 * 64 * MB, (m, n), dtype=dtype)]


_RUNNER = r"""
import json, sys
from tessera import _C
bundle, actions = sys.argv[1], json.loads(sys.stdin.read())
for path in bundle.split(","):
    _C.Bundle.read(path).load()
results = []
for kind, name, target, tensors, precision, *attributes in actions:
    attributes = attributes[0] if attributes else {}
    try:
        if kind == "describe":
            results.append(json.loads(_C.op_describe(name, target, tensors, precision,
                                                     attributes)))
        else:
            results.append({"compiled": _C.op_precompile(name, target, tensors, precision,
                                                         attributes)})
    except Exception as error:
        results.append({"error": str(error)})
print(json.dumps(results))
"""


def run_actions(bundle, actions, cache_dir):
    """The results of ``actions`` ([kind, op, target, tensors, precision, optional attributes])
    in a fresh process that loaded ``bundle`` (paths separated by commas: loaded in that
    order)."""
    env = dict(os.environ, TESSERA_CACHE_DIR=str(cache_dir))
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(bundle)], input=json.dumps(actions),
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def op_bundle(tmp_path_factory):
    """A bundle with the fp16 mm case 512^3 for sm_90a, and its generic kernels."""
    path = tmp_path_factory.mktemp("ops") / "mm.tbundle"
    report = tessera.aot({"targets": ["sm_90a"],
                          "ops": [{"op": "mm", "shapes": [BUNDLED], "dtypes": ["fp16"]}]},
                         str(path), tune=False)
    assert report.op_records == 3
    return path


# Tests that tessera.aot stores one case record per call and one generic record per chosen config
# and for the smallest config, each naming a kernel of the bundle for its target.
def test_aot_writes_op_records(op_bundle):
    bundle = tessera._C.Bundle.read(str(op_bundle))
    kernels = {name for name, _ in bundle.kernels}
    records = [(op, json.loads(text)) for op, text in bundle.ops]
    assert [op for op, _ in records] == ["matmul"] * 3
    kinds = [record["kind"] for _, record in records]
    assert kinds == ["case", "generic", "generic"]
    case = records[0][1]
    planned = ops_aot.plan("mm", BUNDLED, "fp16", "sm_90a")[0]
    assert case["kernel"] == planned.name and case["kernel"] in kernels
    assert case["config"]["BLOCK_M"] == planned.chosen.kwargs["BLOCK_M"]
    assert case["timed"] is False
    assert case["call"]["M"] == 512 and case["call"]["stride_ak"] == 1
    assert ["a_desc.tensormap", "tensormap", [case["config"]["BLOCK_M"],
                                              case["config"]["BLOCK_K"]]] in case["params"]
    generic_configs = [record["config"] for _, record in records[1:]]
    assert generic_configs[0] == case["config"]
    assert generic_configs[1]["BLOCK_M"] == 64 and generic_configs[1]["BLOCK_K"] == 32
    for _, record in records[1:]:
        assert record["kernel"] in kernels
        assert all(param[2] == 1 for param in record["params"])  # assumes nothing


# Tests that the C++ op runs a call the bundle lists with the bundled kernel and config, and
# computes every parameter as the Python op's launch does (the values of the planned call).
def test_bundled_call_matches_the_python_plan(op_bundle, tmp_path):
    (described,) = run_actions(op_bundle, [["describe", "mm", "sm_90a", mm_call(*BUNDLED), None]],
                               tmp_path)
    planned = ops_aot.plan("mm", BUNDLED, "fp16", "sm_90a")[0]
    assert described["path"] == "bundled"
    assert described["kernel"] == planned.name
    assert described["grid"] == [(512 // planned.chosen.kwargs["BLOCK_M"])
                                 * (512 // planned.chosen.kwargs["BLOCK_N"]), 1, 1]
    case = json.loads(tessera._C.Bundle.read(str(op_bundle)).ops[0][1])
    values = dict(described["params"])
    assert [name for name, _ in described["params"]] == [p[0] for p in case["params"]]
    for name, value in case["call"].items():
        if name in values:
            assert values[name] == value, name
    assert values["a_ptr"] == 64 * MB and values["a_desc.base"] == 64 * MB
    assert (values["a_desc.shape0"], values["a_desc.shape1"], values["a_desc.stride0"]) == \
        (512, 512, 512)
    assert values["a_desc.tensormap"] is None and values["beta"] == 0.0
    assert described["divisibility"] == [p[2] if p[1] != "tensormap" else 1
                                         for p in case["params"]]


# Tests the JIT fallback's choices: a shape the bundle lacks, a transposed operand and a
# misaligned pointer (which the bundled case assumes away) take the generic kernel of the nearest
# case's config, specialised for the call's multiples of 16 and unit strides; a target whose
# shared memory that config exceeds takes the smallest config.
def test_unlisted_calls_take_the_jit_fallback(op_bundle, tmp_path):
    calls = [mm_call(300, 200, 100), mm_call(*BUNDLED, b_strides=[1, 512]),
             mm_call(*BUNDLED, offset=8)]
    actions = [["describe", "mm", "sm_90a", call, None] for call in calls]
    actions.append(["describe", "mm", "sm_80", mm_call(300, 200, 100), None])
    odd, transposed, misaligned, ampere = run_actions(op_bundle, actions, tmp_path)
    case_config = json.loads(tessera._C.Bundle.read(str(op_bundle)).ops[0][1])["config"]
    for described in (odd, transposed, misaligned):
        assert described["path"] == "jit"
        assert "/generic/fp16/ieee/" in described["kernel"]
        assert described["config"] == case_config
    names = [name for name, _ in odd["params"]]
    divisible = {name for name, d in zip(names, odd["divisibility"]) if d == 16}
    assert {"a_ptr", "b_ptr", "c_ptr", "stride_ab"} <= divisible
    assert not {"M", "N", "K", "stride_am"} & divisible  # 300, 200, 100
    assert odd["ones"] == ["stride_ak", "stride_bn", "stride_cn"]
    assert transposed["ones"] == ["stride_ak", "stride_bk", "stride_cn"]
    assert dict(zip(names, misaligned["divisibility"]))["a_ptr"] == 1
    assert odd["grid"] == [-(-300 // case_config["BLOCK_M"]) * -(-200 // case_config["BLOCK_N"]),
                           1, 1]
    assert ampere["path"] == "jit" and ampere["config"]["BLOCK_M"] == 64


# Tests that the JIT fallback's kernels compile without a GPU (tessera_op_precompile), once: the
# generic kernel specialised for the call, for the bundle's target and for another; a bundled
# call compiles nothing.
def test_precompile_compiles_the_fallback_once(op_bundle, tmp_path):
    odd = mm_call(300, 200, 100)
    actions = [["precompile", "mm", "sm_90a", odd, None],
               ["precompile", "mm", "sm_90a", odd, None],
               ["precompile", "mm", "sm_80", odd, None],
               ["precompile", "mm", "sm_90a", mm_call(*BUNDLED, b_strides=[1, 512]), None],
               ["precompile", "mm", "sm_90a", mm_call(*BUNDLED), None]]
    results = run_actions(op_bundle, actions, tmp_path)
    assert [r.get("compiled", r.get("error")) for r in results] == [True, False, True, True, False]


# Tests that bad calls are refused with the argument named and the expectation given.
@pytest.mark.parametrize("op, tensors, precision, message", [
    ("mm", mm_call(*BUNDLED)[:2], None, "mm: expected 3 tensors (input, mat2, out), got 2"),
    ("mm", [tensor(64 * MB, (512, 511))] + mm_call(*BUNDLED)[1:], None,
     "mm: input of shape (512, 511) and mat2 of shape (512, 512) cannot be multiplied"),
    ("matmul", mm_call(*BUNDLED)[:2] + [tensor(3 * 64 * MB, (512, 256))], None,
     "matmul: out has shape (512, 256), expected (512, 512)"),
    ("mm", [tensor(64 * MB, (512,), [1])] + mm_call(*BUNDLED)[1:], None,
     "mm: input must have 2 dimensions, got rank 1"),
    ("mm", mm_call(*BUNDLED)[:1] + [tensor(2 * 64 * MB, (512, 512), dtype=BF16)]
     + mm_call(*BUNDLED)[2:], None, "mm: mat2 is bf16 but input is fp16"),
    ("mm", mm_call(*BUNDLED)[:2] + [tensor(64 * MB + 1024, (512, 512))], None,
     "mm: out overlaps input"),
    ("mm", mm_call(*BUNDLED)[:2] + [tensor(3 * 64 * MB, (512, 512), [0, 1])], None,
     "mm: out has sizes (512, 512) and strides (0, 1), which give elements the same memory"),
    ("mm", mm_call(*BUNDLED)[:2] + [tensor(3 * 64 * MB, (512, 512), [256, 1])], None,
     "which give elements the same memory"),
    ("mm", [tensor(0, (512, 512))] + mm_call(*BUNDLED)[1:], None,
     "mm: input has a NULL data pointer"),
    ("mm", [tensor(64 * MB, (512, 512), [-512, 1])] + mm_call(*BUNDLED)[1:], None,
     "mm: input has size 512 and stride -512 in dimension 0"),
    ("mm", mm_call(*BUNDLED), "tf32", 'mm: options.input_precision "tf32" is for fp32'),
    ("mm", mm_call(*BUNDLED, dtype=FP32), "fast",
     'mm: options.input_precision must be "ieee" or "tf32", got "fast"'),
    ("mm", mm_call(*BUNDLED, dtype=BF16), None,
     "mm: the loaded bundles hold no generic matmul kernel for bf16"),
    ("mm", mm_call(*BUNDLED, dtype=7), None, "mm: input has dtype 7 (expected TESSERA_FLOAT16"),
    ("conv2d", mm_call(*BUNDLED), None,
     "no op named 'conv2d' (the ops callable from C and C++: matmul, mm, abs, "),
])
def test_bad_calls_are_named(op_bundle, tmp_path, op, tensors, precision, message):
    (result,) = run_actions(op_bundle, [["describe", op, "sm_90a", tensors, precision]],
                            tmp_path)
    assert message in result.get("error", ""), result


# Tests that op records are checked where they enter: a malformed record is refused when added to
# a bundle, and a bundle file holding one is refused when read, naming the record and the problem.
def test_malformed_op_records_are_refused(op_bundle, tmp_path):
    bundle = tessera._C.Bundle.create("bad records")
    with pytest.raises(tessera.TesseraError, match="op record for 'matmul': not JSON"):
        bundle.add_op("matmul", "{not json")
    with pytest.raises(tessera.TesseraError, match="no op records for 'conv'"):
        bundle.add_op("conv", "{}")
    case = json.loads(tessera._C.Bundle.read(str(op_bundle)).ops[0][1])
    with pytest.raises(tessera.TesseraError, match="'call' lacks 'stride_cn'"):
        del case["call"]["stride_cn"]
        bundle.add_op("matmul", json.dumps(case))

    # A bundle file written by a buggy writer: records are not checked by its format's reader.
    data = bytearray(open(op_bundle, "rb").read())
    good = data.find(b'"kind": "case"')
    data[good:good + len(b'"kind": "case"')] = b'"kind": "cake"'
    from hashlib import sha256
    data[24:56] = sha256(bytes(data[56:])).digest()
    damaged = tmp_path / "damaged.tbundle"
    damaged.write_bytes(bytes(data))
    with pytest.raises(tessera.TesseraError,
                       match=r"op record 0 \('matmul'\) is malformed: kind 'cake'"):
        tessera._C.Bundle.read(str(damaged))


# Tests that bundles whose records choose different configs for one call keep apart: each case
# names its own kernel (the config is in the name), the first-loaded record wins with its own
# kernel and grid, and a record whose kernel was replaced by one of other options is refused
# rather than launched with a grid for other blocks.
def test_bundles_with_other_configs_for_one_call(op_bundle, tmp_path):
    first = json.loads(tessera._C.Bundle.read(str(op_bundle)).ops[0][1])
    planned = ops_aot.plan("mm", BUNDLED, "fp16", "sm_90a")[0]
    other = next(c for c in planned.configs if c.num_warps != planned.chosen.num_warps)
    case = ops_aot.plan("mm", BUNDLED, "fp16", "sm_90a", config=other)[0]
    assert case.name != first["kernel"]
    second = tmp_path / "other.tbundle"
    bundle = tessera._C.Bundle.create("another tuning")
    bundle.add_kernel(case.name, case.tile_ir, "sm_90a", case.num_warps, case.num_stages)
    bundle.add_op("matmul", json.dumps(dict(case.op_record, kernel=case.name, timed=True)))
    bundle.write(str(second))

    action = ["describe", "mm", "sm_90a", mm_call(*BUNDLED), None]
    for order, expected in [((op_bundle, second), first["kernel"]), ((second, op_bundle),
                                                                     case.name)]:
        (described,) = run_actions(",".join(map(str, order)), [action], tmp_path)
        assert described["kernel"] == expected, described
        blocks = described["config"]["BLOCK_M"] * described["config"]["BLOCK_N"]
        assert described["grid"][0] * blocks == 512 * 512

    # the case's record under the other bundle's kernel name: its kernel has other warps
    clash = tmp_path / "clash.tbundle"
    bundle = tessera._C.Bundle.create("a clash")
    bundle.add_kernel(first["kernel"], case.tile_ir, "sm_90a", case.num_warps, case.num_stages)
    bundle.write(str(clash))
    (result,) = run_actions(f"{op_bundle},{clash}", [["precompile", "mm", "sm_90a",
                                                      mm_call(*BUNDLED), None]], tmp_path)
    assert "two loaded bundles disagree" in result.get("error", ""), result
