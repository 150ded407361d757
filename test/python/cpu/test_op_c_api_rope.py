"""rotary_position_embedding through the C API without a GPU (tessera_op_describe,
tessera_op_precompile): which bundled kernel a call runs (the case of its tile as is, else a generic
twin specialised for the call), the constexprs and parameter values the C++ op plans (those of the
Python op's own ``rope._arguments``, run here on stand-ins of the same tensors), and its argument
errors. Each check runs in a fresh process that loads one bundle, as a C++ program would."""
import json

import pytest

from test_frontend_support import tessera
from test_op_c_api import run_actions

from tessera.ops import aot_rope, rope  # noqa: E402
from tessera.ops.kernels.rope import rope_kernel  # noqa: E402
from tessera.utils import cdiv  # noqa: E402

FP16, BF16, FP32, INT32 = 1, 2, 3, 8
TORCH_NAMES = {FP16: "float16", BF16: "bfloat16", FP32: "float32"}
BYTES = {FP16: 2, BF16: 2, FP32: 4}
OP = "rotary_position_embedding"
MB = 1 << 20
# The bundle's shapes [B, S, H, D]: head dims 128 (BLOCK_H 32) and 64 (BLOCK_H 4).
BIG, SMALL = [2, 64, 32, 128], [1, 16, 4, 64]
ARG_NAMES = rope_kernel.arg_names[:18]  # the run-time arguments, X .. stride_cos_d


def contiguous(sizes):
    strides, step = [], 1
    for size in reversed(sizes):
        strides.insert(0, step)
        step *= max(size, 1)
    return strides


def tensor(address, dtype, sizes, strides=None):
    """A C API tensor tuple; row-major unless strides are given."""
    return (address, dtype, list(sizes), list(contiguous(sizes) if strides is None else strides))


def rope_call(shape=BIG, dtype=BF16, table=FP32, x_strides=None, x_offset=0, table_strides=None):
    """[input, sin_table, cos_table, out] at distinct aligned addresses (input moved by
    ``x_offset`` elements); out is contiguous."""
    half = shape[3] // 2
    return [tensor(64 * MB + x_offset * BYTES[dtype], dtype, shape, x_strides),
            tensor(128 * MB, table, [shape[1], half], table_strides),
            tensor(136 * MB, table, [shape[1], half], table_strides),
            tensor(192 * MB, dtype, shape)]


def in_place(call):
    return call[:3] + [call[0]]


@pytest.fixture(scope="module")
def rope_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("ops") / "rope.tbundle"
    report = tessera.aot({"targets": ["sm_90a"],
                          "ops": [{"op": OP, "dtypes": ["bf16", "fp32"],
                                   "shapes": [BIG, SMALL]}]},
                         str(path), tune=False)
    # per shape: bf16 (fp32 and bf16 tables) and fp32, each interleaved and halves; 3 kernels each
    assert report.op_records == 2 * (4 + 2) * 3
    return path


def describe(bundle, tmp_path, calls):
    """The descriptions (or {"error": message}) of calls [tensors, attributes]."""
    return run_actions(bundle, [["describe", OP, "sm_90a", tensors, None, attributes]
                                for tensors, attributes in calls], tmp_path)


def python_launch(tensors, interleaved):
    """The values (by argument name) and constexprs of the Python op's launch for the same
    tensors: ``rope._arguments`` on stand-ins of their shapes, strides and offsets (a tensor's
    address past a 256-byte boundary), pointers as the C tensors' addresses."""
    with aot_rope._torch_dtypes() as torch:
        def stand_in(t):
            address, dtype, sizes, strides = t
            return aot_rope._StandIn(sizes, strides, getattr(torch, TORCH_NAMES[dtype]),
                                     (address % 256) // BYTES[dtype])
        x, sin, cos = (stand_in(t) for t in tensors[:3])
        out = x if tensors[3] == tensors[0] else stand_in(tensors[3])
        args, meta = rope._arguments(x, out, sin, cos, interleaved)
    values = dict(zip(ARG_NAMES, args))
    values.update(X=tensors[0][0], SIN=tensors[1][0], COS=tensors[2][0], Y=tensors[3][0])
    return values, meta


def check_against_python(described, tensors, interleaved=True):
    """The C++ op plans the call as the Python op does; the kernel it picks computes it: a case
    with the very constexprs and values of Python's launch and its assumptions holding, or a
    generic twin of the same HALF (no words, any BLOCK_H) whose grid covers the heads."""
    values, meta = python_launch(tensors, interleaved)
    assert described["planned"] == meta
    assert dict(described["planned_values"]) == values
    kernel = described["constexprs"]
    batch, seq, heads, _ = tensors[0][2]
    assert described["grid"] == [batch * seq * cdiv(heads, kernel["BLOCK_H"])
                                 * cdiv(kernel["HALF"], kernel["BLOCK_HALF"]), 1, 1]
    params = dict(described["params"])
    if described["path"] == "bundled":
        assert described["kind"] == "case" and kernel == meta
        assert params == {name: values[name] for name in params}
        assert all(values[name] == 1 for name in described["ones"])
        assert all(params[name] % divisibility == 0
                   for (name, _), divisibility in zip(described["params"],
                                                      described["divisibility"]))
    else:
        assert described["kind"] == "generic" and described["path"] == "jit"
        for name in ("HALF", "BLOCK_HALF", "INTERLEAVED", "ELEMENT"):
            assert kernel[name] == meta[name], name
        assert not kernel["EVEN_H"] and not kernel["PAIRED"]
        assert kernel["INDEX_64"] or not meta["INDEX_64"]
        element_values, _ = python_launch(tensors, interleaved=False)  # no word view
        assert params == {name: element_values[name] for name in ARG_NAMES}
        assert sorted(described["ones"]) == sorted(n for n in ARG_NAMES if params[n] == 1)
    return described


def case_name(shape, dtype, table, layout, what=""):
    return (f"rope_kernel/{dtype}-{table}/{layout}/{'x'.join(map(str, shape))}{what}/sm_90a")


# Tests that contiguous calls of a bundled head dim run its cases as they are, at any B and S
# whose assumptions hold: interleaved pairs as words, halves, fp32 and input-dtype tables, fp32
# input (64-bit words), in place (Y = X), and strided heads that keep every stride a multiple of
# 16 words (heads transposed, a slice of a fused QKV tensor, a table broadcast over S).
def test_cases_run_as_bundled_with_the_python_values(rope_bundle, tmp_path):
    transposed = [32 * 64 * 128, 128, 64 * 128, 1]  # (B, H, S, D) viewed as (B, S, H, D)
    qkv = [64 * 96 * 128, 96 * 128, 128, 1]  # q of a fused (B, S, 3H, D) projection
    calls = [
        ("bf16-fp32/interleaved", rope_call(), True),
        ("bf16-bf16/interleaved", rope_call(table=BF16), True),
        ("bf16-fp32/halves", rope_call(), False),
        ("bf16-bf16/halves", rope_call(table=BF16), False),
        ("fp32-fp32/interleaved", rope_call(dtype=FP32), True),
        ("fp32-fp32/halves", rope_call(dtype=FP32), False),
        ("bf16-fp32/interleaved", rope_call([3, 32, 32, 128]), True),
        ("bf16-fp32/interleaved", in_place(rope_call()), True),
        ("bf16-fp32/halves", in_place(rope_call()), False),
        ("bf16-fp32/interleaved", rope_call(x_strides=transposed), True),
        ("bf16-bf16/halves", rope_call(table=BF16, x_strides=qkv), False),
        ("bf16-fp32/interleaved", rope_call(table_strides=[0, 1]), True),
        ("bf16-fp32/interleaved", rope_call(SMALL), True),
    ]
    described = describe(rope_bundle, tmp_path, [[tensors, {"interleaved": interleaved}]
                                                 for _, tensors, interleaved in calls])
    for (variant, tensors, interleaved), result in zip(calls, described):
        check_against_python(result, tensors, interleaved)
        assert result["path"] == "bundled", (variant, result)
        shape = BIG if tensors[0][2][3] == 128 else SMALL
        dtypes, layout = variant.split("/")
        assert result["kernel"] == case_name(shape, *dtypes.split("-"), layout)
        assert result["constexprs"]["PAIRED"] == interleaved
    plain, *_, transposed_heads, _, broadcast, _ = described
    assert plain["grid"] == [2 * 64, 1, 1]
    assert dict(plain["params"])["stride_xs"] == 32 * 64  # in 32-bit words
    assert dict(plain["params"])["stride_xb"] == 32 * 64 * 64
    assert dict(transposed_heads["params"])["stride_xh"] == 64 * 64
    assert dict(broadcast["params"])["stride_sin_s"] == 0
    inplace = described[7]
    assert dict(inplace["params"])["X"] == dict(inplace["params"])["Y"] == 64 * MB


# Tests the calls that no case serves, which take a generic twin specialised for the call: pairs
# that cannot be words (an odd head stride, an input one element off), words whose strides are not
# multiples of 16 (padded heads), H not a multiple of the tile (the planned BLOCK_H's twin), a
# planned BLOCK_H that no record has (the twin masking the fewest heads), an S the case does not
# divide, and offsets past 2^31 (the 64-bit twin).
def test_other_calls_take_a_generic_twin(rope_bundle, tmp_path):
    odd = [64 * 32 * 129, 32 * 129, 129, 1]
    padded = [64 * 32 * 130, 32 * 130, 130, 1]
    wide = [2 ** 31, 32 * 128, 128, 1]
    calls = [
        (rope_call(x_strides=odd), True, 32),
        (rope_call(x_offset=1), True, 32),
        (rope_call(x_strides=padded), True, 32),
        (rope_call([2, 64, 40, 128]), True, 32),
        (rope_call([2, 64, 40, 128], table=BF16), False, 32),
        (rope_call([1, 16, 3, 64]), True, 4),
        (rope_call([1, 16, 8, 64]), True, 4),
        (rope_call([2, 7, 32, 128], dtype=FP32), True, 32),
        (rope_call(x_strides=wide), True, 32),
    ]
    described = describe(rope_bundle, tmp_path, [[tensors, {"interleaved": interleaved}]
                                                 for tensors, interleaved, _ in calls])
    for (tensors, interleaved, block_h), result in zip(calls, described):
        check_against_python(result, tensors, interleaved)
        assert result["path"] == "jit", result
        assert result["constexprs"]["BLOCK_H"] == block_h, result
    odd_stride, misaligned, padded_heads, ragged, *_, planned_8, odd_s, wide_offsets = described
    assert not odd_stride["planned"]["PAIRED"] and not misaligned["planned"]["PAIRED"]
    assert padded_heads["planned"]["PAIRED"]  # words, but of stride 65: the case assumes 16
    assert not ragged["planned"]["EVEN_H"] and ragged["grid"] == [2 * 64 * 2, 1, 1]
    assert planned_8["planned"]["BLOCK_H"] == 8 and planned_8["grid"] == [16 * 2, 1, 1]
    assert odd_s["kernel"] == case_name(BIG, "fp32", "fp32", "interleaved", "-generic")
    assert dict(odd_s["params"])["S"] == 7
    assert wide_offsets["planned"]["INDEX_64"]
    assert wide_offsets["kernel"] == case_name(BIG, "bf16", "fp32", "interleaved", "-generic64")
    assert dict(wide_offsets["params"])["stride_xb"] == 2 ** 31
    unaligned = {"H", "stride_xd", "stride_yd", "stride_sin_d", "stride_cos_d"}  # 40 and ones
    for name, divisibility in zip((n for n, _ in ragged["params"]), ragged["divisibility"]):
        assert divisibility == (1 if name in unaligned else 16), name


# Tests that a head dim no bundle holds is NOT_FOUND, naming the head dim, the dtypes and the spec
# entry that bundles it; that an empty input launches nothing (and needs no kernel).
def test_missing_head_dims_and_empty_calls(rope_bundle, tmp_path):
    missing, empty, empty_missing = describe(rope_bundle, tmp_path, [
        [rope_call([1, 64, 8, 96], dtype=FP16), {}],
        [rope_call([0, 64, 32, 128]), {}],
        [rope_call([2, 0, 32, 96]), {"interleaved": False}]])
    assert missing["error"].startswith(
        "rotary_position_embedding: no loaded bundle holds a rope kernel for head dim D = 96 "
        "with input TESSERA_FLOAT16 and tables TESSERA_FLOAT32 (interleaved pairs) for sm_90a: "
        'build a bundle (tessera-aot) with the spec entry {"op": "rotary_position_embedding", '
        '"dtypes": ["fp16"], "shapes": [[1, 64, 8, 96]]}'), missing
    assert empty == {"launches": 0} and empty_missing == {"launches": 0}


# Tests that tessera_op_precompile compiles a generic twin's specialisation once (a second process
# with the same cache compiles nothing) and that bundled cases and empty calls compile nothing.
def test_precompile(rope_bundle, tmp_path):
    def action(tensors):
        return ["precompile", OP, "sm_90a", tensors, None, {}]
    ragged = action(rope_call([1, 16, 3, 64]))
    first, again = run_actions(rope_bundle, [ragged, ragged], tmp_path)
    assert first == {"compiled": True} and again == {"compiled": False}
    assert run_actions(rope_bundle, [ragged], tmp_path) == [{"compiled": False}]
    other_target = ["precompile", OP, "sm_80", rope_call([1, 16, 3, 64]), None, {}]
    assert run_actions(rope_bundle, [other_target], tmp_path) == [{"compiled": True}]
    bundled, empty = run_actions(rope_bundle, [action(rope_call()),
                                               action(rope_call([0, 64, 32, 128]))], tmp_path)
    assert bundled == {"compiled": False} and empty == {"compiled": False}


def with_tensor(call, index, replacement):
    return call[:index] + [replacement] + call[index + 1:]


BAD_CALLS = [
    (rope_call()[:3], {}, "rotary_position_embedding: expected 4 tensors (input, sin_table, "
     "cos_table, out), got 3"),
    (with_tensor(rope_call(), 0, tensor(64 * MB, INT32, BIG)), {},
     "rotary_position_embedding: input has dtype TESSERA_INT32; expected one of "
     "TESSERA_FLOAT16, TESSERA_BFLOAT16, TESSERA_FLOAT32"),
    (with_tensor(rope_call(), 0, tensor(64 * MB, 12, BIG)), {},
     "rotary_position_embedding: input has dtype 12 (expected a tessera_dtype"),
    (with_tensor(rope_call(), 0, tensor(0, BF16, BIG)), {},
     "rotary_position_embedding: input has a NULL data pointer but is not empty"),
    (with_tensor(rope_call(), 0, tensor(64 * MB, BF16, [64, 32, 128])), {},
     "rotary_position_embedding: input must have 4 dimensions (B, S, H, D), got shape "
     "(64, 32, 128)"),
    (rope_call([2, 64, 32, 127]), {},
     "rotary_position_embedding: the last dimension of input (D = 127) must be even: the "
     "rotation acts on pairs of channels"),
    (rope_call(table=FP16), {},
     "rotary_position_embedding: sin_table has dtype TESSERA_FLOAT16; expected one of "
     "TESSERA_FLOAT32, TESSERA_BFLOAT16"),
    (rope_call(dtype=FP32, table=BF16), {},
     "rotary_position_embedding: sin_table has dtype TESSERA_BFLOAT16; expected one of "
     "TESSERA_FLOAT32"),
    (with_tensor(rope_call(), 1, tensor(128 * MB, FP32, [64, 128])), {},
     "rotary_position_embedding: sin_table has shape (64, 128); expected (S, D/2) = (64, 64) for "
     "input of shape (2, 64, 32, 128)"),
    (with_tensor(rope_call(), 2, tensor(136 * MB, FP32, [64])), {},
     "rotary_position_embedding: cos_table has shape (64,); expected (S, D/2) = (64, 64)"),
    (with_tensor(rope_call(), 2, tensor(136 * MB, BF16, [64, 64])), {},
     "rotary_position_embedding: sin_table has dtype TESSERA_FLOAT32 but cos_table has "
     "TESSERA_BFLOAT16; expected the same dtype"),
    (with_tensor(rope_call(), 3, tensor(192 * MB, FP32, BIG)), {},
     "rotary_position_embedding: out has dtype TESSERA_FLOAT32; expected TESSERA_BFLOAT16 "
     "(input's dtype)"),
    (with_tensor(rope_call(), 3, tensor(192 * MB, BF16, [2, 64, 32, 64])), {},
     "rotary_position_embedding: out has shape (2, 64, 32, 64); expected (2, 64, 32, 128) "
     "(input's shape)"),
    (in_place(rope_call(x_strides=[0, 32 * 128, 128, 1])), {},
     "rotary_position_embedding: input has elements that share memory (a 0 stride); out = input "
     "(in place) needs distinct elements"),
    (with_tensor(rope_call(), 3, tensor(192 * MB, BF16, BIG, [0, 32 * 128, 128, 1])), {},
     "rotary_position_embedding: out has elements that share memory (a 0 stride); expected a "
     "tensor whose elements are distinct"),
    (with_tensor(rope_call(), 3, tensor(64 * MB + 256, BF16, BIG)), {},
     "rotary_position_embedding: out overlaps input in memory; expected input itself or "
     "separate from it"),
    (with_tensor(rope_call(), 3, tensor(136 * MB, BF16, BIG)), {},
     "rotary_position_embedding: out overlaps cos_table in memory; expected a separate output"),
    (rope_call(), {"beta": 1},
     "rotary_position_embedding: takes no attribute 'beta' (it takes interleaved)"),
    (rope_call(), {"interleaved": 0.5},
     "rotary_position_embedding: interleaved must be an int attribute (0 or 1)"),
    (rope_call(), {"interleaved": 2},
     "rotary_position_embedding: interleaved must be 0 or 1, got 2"),
    (with_tensor(rope_call([2 ** 20, 2 ** 12, 1, 2]), 3,
                 tensor(1 << 40, BF16, [2 ** 20, 2 ** 12, 1, 2])), {},
     "rotary_position_embedding: input of shape (1048576, 4096, 1, 2) needs 4294967296 "
     "programs, more than a launch's 2**31 - 1"),
]


@pytest.mark.parametrize("tensors,attributes,message", BAD_CALLS)
def test_bad_calls_are_named(rope_bundle, tmp_path, tensors, attributes, message):
    (result,) = describe(rope_bundle, tmp_path, [[tensors, attributes]])
    assert message in result.get("error", ""), result


# Tests the options a rope call refuses: an input precision other than "ieee", an unknown target.
def test_bad_options_are_named(rope_bundle, tmp_path):
    precision, target = run_actions(rope_bundle, [
        ["describe", OP, "sm_90a", rope_call(), "tf32", {}],
        ["describe", OP, "sm_70", rope_call(), None, {}]], tmp_path)
    assert 'rotary_position_embedding: options.input_precision must be NULL or "ieee", got ' \
        '"tf32"' in precision["error"]
    assert "target 'sm_70' is not one of" in target["error"]


# Tests that rope records are checked where they enter a process: a malformed one is refused when
# added to a bundle, saying what is wrong.
def test_malformed_rope_records_are_refused(rope_bundle):
    records = [json.loads(text) for op, text in tessera._C.Bundle.read(str(rope_bundle)).ops
               if op == "rope"]
    case = next(r for r in records if r["kind"] == "case" and r["paired"])
    bundle = tessera._C.Bundle.create("bad records")
    for change, message in [({"interleaved": False}, "'paired' is true but 'interleaved' is false"),
                            ({"block_h": 24}, "'block_h' is not a power of two from 1 to 2048"),
                            ({"table": "fp64"}, "'table' is not fp16, bf16 or fp32"),
                            ({"ones": ["stride_xd"]}, "argument 'stride_yd' is neither in "
                             "'params' nor in 'ones'"),
                            ({"ones": case["ones"] + ["S"]}, "parameter 'S' is listed twice")]:
        with pytest.raises(tessera.TesseraError, match="op record for 'rope': " + message):
            bundle.add_op("rope", json.dumps(dict(case, **change)))
    bundle.add_op("rope", json.dumps(case))
