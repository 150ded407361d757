"""The element-wise ops through the C API without a GPU (tessera_op_describe, tessera_op_precompile):
which bundled kernel a call runs (the contiguous case as is, else a generic kernel specialised for
the call), the parameter values the C++ op computes (PyTorch's broadcasting and type promotion, the
dims merged and placed in the kernel's four slots), its slicing past four dims, and its argument
errors. Each check runs in a fresh process that loads one bundle, as a C++ program would."""
import json

import pytest

from test_frontend_support import tessera
from test_op_c_api import run_actions

FP16, BF16, FP32, BOOL, UINT8, INT8, INT16, INT32, INT64 = range(1, 10)
MB = 1 << 20


def tensor(address, dtype, sizes, strides=None):
    """A C API tensor tuple; row-major unless strides are given."""
    if strides is None:
        strides, step = [], 1
        for size in reversed(sizes):
            strides.insert(0, step)
            step *= size
    return (address, dtype, list(sizes), list(strides))


@pytest.fixture(scope="module")
def ew_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("ops") / "elementwise.tbundle"
    tessera.aot({"targets": ["sm_90a"],
                 "ops": [{"op": "add", "dtypes": ["bf16", "int32"]},
                         {"op": "clamp", "dtypes": ["fp32"]},
                         {"op": "dropout", "dtypes": ["fp16"]},
                         {"op": "eq", "dtypes": ["bool"]}]},
                str(path), tune=False)
    return path


def describe(bundle, tmp_path, calls):
    """The descriptions (or {"error": message}) of calls [op, tensors, attributes]."""
    runner_actions = [["describe", op, "sm_90a", tensors, None, attributes]
                      for op, tensors, attributes in calls]
    return run_actions(bundle, runner_actions, tmp_path)


def binary(dtype, sizes, other_sizes=None, out_sizes=None):
    return [tensor(64 * MB, dtype, sizes), tensor(128 * MB, dtype, other_sizes or sizes),
            tensor(192 * MB, dtype, out_sizes or sizes)]


# Tests that a contiguous, aligned call whose length is a multiple of 16 runs the bundled
# contiguous kernel as it is, with every size and stride taken to be 1; that the same call with
# alpha != 1 or an odd length takes the generic kernel specialised for the call.
def test_contiguous_calls_run_the_bundled_case(ew_bundle, tmp_path):
    plain, alpha, odd = describe(ew_bundle, tmp_path, [
        ["add", binary(BF16, [1024, 1024]), {}],
        ["add", binary(BF16, [1024, 1024]), {"alpha": 0.5}],
        ["add", binary(BF16, [37, 3]), {}]])
    assert plain["path"] == "bundled"
    assert plain["kernel"] == "elementwise_kernel/add/bf16-bf16-none/bf16/contiguous/sm_90a"
    assert dict(plain["params"]) == {"A": 64 * MB, "B": 128 * MB, "Out": 192 * MB, "n": 2 ** 20}
    assert plain["grid"] == [2 ** 20 // plain["config"]["BLOCK"], 1, 1]
    assert {"a_s0", "o_s3", "size2", "alpha"} <= set(plain["ones"])
    assert alpha["path"] == "jit" and alpha["kernel"].endswith("/generic/sm_90a")
    assert dict(alpha["params"])["alpha"] == 0.5
    assert odd["path"] == "jit" and dict(odd["params"])["n"] == 111


# Tests broadcasting and the slot placement: (4, 1024, 3) + (1024, 1) keeps three dims (the
# broadcast operand's strides stop every merge): the outermost goes to slot 3, the other two to
# slots 0 and 1 (innermost first), and slot 2 is unused (size 1).
def test_broadcast_dims_fill_the_kernel_slots(ew_bundle, tmp_path):
    (described,) = describe(ew_bundle, tmp_path, [
        ["add", [tensor(64 * MB, BF16, [4, 1024, 3]), tensor(128 * MB, BF16, [1024, 1]),
                 tensor(192 * MB, BF16, [4, 1024, 3])], {}]])
    values = dict(described["params"])
    assert values["n"] == 4 * 1024 * 3
    assert (values["size0"], values["size1"], values["size2"]) == (3, 1024, 1)
    assert [values[f"a_s{i}"] for i in (0, 1, 3)] == [1, 3, 3 * 1024]
    assert [values[f"b_s{i}"] for i in (0, 1, 3)] == [0, 1, 0]
    assert [values[f"o_s{i}"] for i in (0, 1, 3)] == [1, 3, 3 * 1024]


# Tests that past four merged dims the call is sliced along its outermost dim, as the Python op
# slices it; a 0-d operand broadcasts (stride 0) like a Python scalar's tensor.
def test_more_than_four_dims_are_sliced(ew_bundle, tmp_path):
    shape = [2, 3, 2, 3, 2, 3]
    transposed = tensor(192 * MB, BF16, shape[::-1])
    transposed = (transposed[0], BF16, shape, transposed[3][::-1])
    (described,) = describe(ew_bundle, tmp_path, [
        ["add", [tensor(64 * MB, BF16, shape), tensor(128 * MB, BF16, []), transposed], {}]])
    assert described["launches"] == 2 * 3
    assert dict(described["params"])["n"] == 2 * 3 * 2 * 3


# Tests the variants the C++ op picks: bool add is logical or, a clamp with one bound passes the
# other as TESSERA_NONE, dropout without training copies, bool eq compares as u8.
def test_variants_follow_the_python_ops(ew_bundle, tmp_path):
    calls = [["add", binary(BOOL, [64]), {}],
             ["clamp", [tensor(64 * MB, FP32, [64]), None, tensor(128 * MB, FP32, []),
                        tensor(192 * MB, FP32, [64])], {}],
             ["dropout", [tensor(64 * MB, FP16, [4096]), tensor(128 * MB, FP16, [4096])],
              {"p": 0.25, "seed": 5}],
             ["dropout", [tensor(64 * MB, FP16, [4096]), tensor(128 * MB, FP16, [4096])],
              {"training": False}],
             ["eq", binary(BOOL, [64]), {}],
             ["add", binary(INT32, [64]), {"alpha": 3}]]
    logical_or, clamp_max, dropout, copy, eq, int_add = describe(ew_bundle, tmp_path, calls)
    assert "no loaded bundle holds an element-wise kernel 'bitwise_or'" in logical_or["error"]
    assert clamp_max["function"] == "clamp_max" and dict(clamp_max["params"])["b_s3"] == 0
    assert dropout["function"] == "dropout" and dropout["path"] == "bundled"
    values = dict(dropout["params"])
    assert (values["p"], values["seed"]) == (0.25, 5) and values["scale"] == pytest.approx(4 / 3)
    assert copy["function"] == "identity"
    assert eq["function"] == "eq" and eq["kernel"].startswith("elementwise_kernel/eq/i1-i1")
    assert int_add["path"] == "jit" and dict(int_add["params"])["alpha"] == 3


@pytest.mark.parametrize("op,tensors,attributes,message", [
    ("add", binary(BF16, [32], [33], [32]), {},
     "add: the shapes of input (32,), other (33,) do not broadcast together"),
    ("add", binary(BF16, [32], [32], [16]), {}, "add: out has shape (16,); expected (32,)"),
    ("add", [tensor(64 * MB, FP32, [32]), tensor(128 * MB, BF16, [32]),
             tensor(192 * MB, INT32, [32])], {},
     "add: out has dtype TESSERA_INT32, but the result has dtype TESSERA_FLOAT32, which does "
     "not cast to it"),
    ("add", [tensor(64 * MB, FP32, [32]), tensor(128 * MB, BF16, [32]),
             tensor(192 * MB, FP32, [32])], {},
     "add: no loaded bundle holds an element-wise kernel 'add' for operands TESSERA_FLOAT32, "
     "TESSERA_BFLOAT16"),
    ("add", [tensor(64 * MB, BF16, [64]), tensor(64 * MB + 2, BF16, [64]),
             tensor(64 * MB, BF16, [64])], {},
     "add: out overlaps other in memory; expected other itself or separate from it"),
    ("add", binary(BF16, [32]), {"beta": 1}, "add: takes no attribute 'beta' (it takes alpha)"),
    ("add", binary(INT32, [32]), {"alpha": 0.5},
     "add: alpha is a float but the result has the integral dtype TESSERA_INT32"),
    ("sub", binary(BOOL, [32]), {}, "sub: subtracting bools is not supported"),
    ("gelu", binary(BF16, [32])[::2], {"approximate": "fast"},
     'gelu: approximate must be one of "none", "tanh", got "fast"'),
    ("gelu", [tensor(64 * MB, INT32, [32]), tensor(128 * MB, INT32, [32])], {},
     "gelu: input has dtype TESSERA_INT32; expected a floating-point dtype"),
    ("dropout", binary(FP16, [32])[::2], {"p": 0.5},
     "dropout: dropping needs an int attribute 'seed'"),
    ("dropout", binary(FP16, [32])[::2], {"p": 1.5, "seed": 1},
     "dropout: p must be a number in [0, 1]"),
    ("clamp", [tensor(64 * MB, FP32, [32]), None, None, tensor(192 * MB, FP32, [32])], {},
     "clamp: min and max are both TESSERA_NONE; expected at least one bound"),
    ("add", binary(BF16, [32])[:2], {}, "add: expected 3 tensors (input, other, out), got 2"),
    ("add", binary(BF16, [32], [32], [32])[:2] + [tensor(192 * MB, BF16, [32], [0])], {},
     "add: out has elements that share memory (a 0 stride)"),
    ("exp", [tensor(0, FP32, [32]), tensor(192 * MB, FP32, [32])], {},
     "exp: input has a NULL data pointer but is not empty"),
    ("exp", [tensor(64 * MB, 12, [32]), tensor(192 * MB, FP32, [32])], {},
     "exp: input has dtype 12 (expected a tessera_dtype"),
])
def test_bad_calls_are_named(ew_bundle, tmp_path, op, tensors, attributes, message):
    (result,) = describe(ew_bundle, tmp_path, [[op, tensors, attributes]])
    assert message in result.get("error", ""), result


# Tests that an empty call launches nothing and that tessera_op_precompile compiles a specialised
# generic kernel once (a second process with the same cache compiles nothing).
def test_empty_calls_and_precompile(ew_bundle, tmp_path):
    (empty,) = describe(ew_bundle, tmp_path, [["add", binary(BF16, [0, 5]), {}]])
    assert empty == {"launches": 0}
    call = ["precompile", "add", "sm_90a", binary(BF16, [37, 3]), None, {}]
    first, again = run_actions(ew_bundle, [call, call], tmp_path)
    assert first == {"compiled": True} and again == {"compiled": False}
    (later,) = run_actions(ew_bundle, [call], tmp_path)
    assert later == {"compiled": False}
    bundled = ["precompile", "add", "sm_90a", binary(BF16, [1024]), None, {}]
    assert run_actions(ew_bundle, [bundled], tmp_path) == [{"compiled": False}]


def test_op_names_include_the_element_wise_ops(ew_bundle, tmp_path):
    (result,) = describe(ew_bundle, tmp_path, [["conv2d", binary(BF16, [32]), {}]])
    assert "matmul, mm, abs, neg" in result["error"] and "clamp" in result["error"]
    assert json.dumps(result)  # the runner reports, never crashes
