"""softmax, layer_norm and rms_norm through the C API without a GPU (tessera_op_describe,
tessera_op_precompile): which bundled kernel a call runs (a shape's case as is, its generic twin or
a fallback specialised for the call), the parameter values and constexprs the C++ op plans (those of
the Python op's own plan, ``_softmax_plan`` / ``_norm_plan``), and its argument errors. Each check
runs in a fresh process that loads one bundle, as a C++ program would."""
import pytest

from test_frontend_support import tessera  # noqa: F401 (puts tessera on the path)
from test_op_c_api import run_actions

from tessera.ops.normalization import _norm_plan, _softmax_plan

FP16, BF16, FP32, INT32 = 1, 2, 3, 8
MB = 1 << 20
# The kernels' argument names after the pointers, in order (the plans' ``args``).
SOFTMAX_ARGS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2", "x_stride_col",
                "y_stride0", "y_stride1", "y_stride2", "y_stride_col"]
NORM_ARGS = ["n_rows", "N", "M1", "M2", "x_stride0", "x_stride1", "x_stride2", "y_stride0",
             "y_stride1", "y_stride2", "n_inner", "x_stride_outer", "x_stride_col",
             "w_stride_outer", "w_stride_col", "b_stride_outer", "b_stride_col"]


def contiguous(sizes):
    strides, step = [], 1
    for size in reversed(sizes):
        strides.insert(0, step)
        step *= max(size, 1)
    return strides


def tensor(address, dtype, sizes, strides=None):
    """A C API tensor tuple; row-major unless strides are given."""
    return (address, dtype, list(sizes), list(contiguous(sizes) if strides is None else strides))


@pytest.fixture(scope="module")
def norm_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("ops") / "norms.tbundle"
    tessera.aot({"targets": ["sm_90a"],
                 "ops": [{"op": "softmax", "dtypes": ["bf16"], "shapes": [[4096, 4096]]},
                         {"op": "layer_norm", "dtypes": ["bf16"], "shapes": [[64, 1024]]},
                         {"op": "rms_norm", "dtypes": ["fp16"]}]},
                str(path), tune=False)
    return path


def describe(bundle, tmp_path, calls):
    """The descriptions (or {"error": message}) of calls [op, tensors, attributes]."""
    return run_actions(bundle, [["describe", op, "sm_90a", tensors, None, attributes]
                                for op, tensors, attributes in calls], tmp_path)


def assert_matches_plan(described, block, steps, arg_names):
    """The C++ op's launches carry the Python plan's values and, where they run the planned block
    (not a fallback's), its grid and (for a case) constexprs."""
    assert described["launches"] == len(steps)
    for launch, (_, args, row_dims, index_64, even_m, programs) in zip(described["all"], steps):
        values = dict(zip(arg_names, args))
        if launch["config"]["ROWS"] == block.rows:
            assert launch["grid"] == [programs, 1, 1]
        for name, value in launch["params"]:
            if name in values:
                assert value == values[name], name
        for name in launch["ones"]:
            if name in values:
                assert values[name] == 1, name
        config = launch["config"]
        if launch["path"] == "bundled":
            assert (config["ONE_PASS"], config["ROWS"], config["BLOCK_N"],
                    config["num_warps"]) == tuple(block)
            assert (config["ROW_DIMS"], config["INDEX_64"], config["EVEN_M"]) == \
                (row_dims, index_64, even_m)


# Tests that a contiguous softmax of the bundled shape runs the bundled case as is, with the
# Python plan's block, values and grid; that another row count of the same length runs the case
# too, and that a transposed input (rows one element apart), whose planned block of 64 rows no
# entry bundled, takes the fallback with the Python plan's values.
def test_softmax_plans_as_python(norm_bundle, tmp_path):
    shape = [4096, 4096]
    transposed = tensor(64 * MB, BF16, shape, [1, 4096])
    calls = [["softmax", [tensor(64 * MB, BF16, shape), tensor(128 * MB, BF16, shape)],
              {"dim": -1}],
             ["softmax", [tensor(64 * MB, BF16, [512, 4096]),
                          tensor(128 * MB, BF16, [512, 4096])], {"dim": 1}],
             ["softmax", [transposed, tensor(128 * MB, BF16, shape)], {"dim": 1}]]
    plain, fewer, strided = describe(norm_bundle, tmp_path, calls)
    assert plain["path"] == "bundled" and plain["kernel"] == \
        "softmax_kernel/softmax/bf16-bf16-none-none/4096x4096/sm_90a"
    assert_matches_plan(plain, *_softmax_plan((4096, 4096), ((4096, 1),), 1, None),
                        SOFTMAX_ARGS)
    assert fewer["path"] == "bundled"
    assert_matches_plan(fewer, *_softmax_plan((512, 4096), ((4096, 1),), 1, None),
                        SOFTMAX_ARGS)
    assert_matches_plan(strided, *_softmax_plan((4096, 4096), ((1, 4096),), 1, None),
                        SOFTMAX_ARGS)
    assert strided["kernel"].endswith("/fallback/sm_90a") and strided["grid"] == [4096, 1, 1]


# Tests that a row length no shape bundled takes the multi-pass fallback (one row per program,
# 2048 columns per block), specialised for the call; a 0-d input is one row of one element.
def test_unbundled_rows_take_the_fallback(norm_bundle, tmp_path):
    odd, scalar = describe(norm_bundle, tmp_path, [
        ["softmax", [tensor(64 * MB, BF16, [100, 1000]), tensor(128 * MB, BF16, [100, 1000])],
         {"dim": 1}],
        ["softmax", [tensor(64 * MB, BF16, []), tensor(128 * MB, BF16, [])], {"dim": 0}]])
    assert odd["path"] == "jit" and odd["kernel"].endswith("/fallback/sm_90a")
    assert odd["config"]["ONE_PASS"] is False and odd["config"]["BLOCK_N"] == 2048
    assert odd["grid"] == [100, 1, 1]
    values = dict(odd["params"])
    assert values.get("N", 1000) == 1000 and values.get("n_rows", 100) == 100
    assert scalar["launches"] == 1 and scalar["grid"] == [1, 1, 1]


# Tests layer_norm over the bundled row length with leading dims merged into rows, its weight and
# bias strides, eps, and a weight-less call of another variant that no entry bundled for bf16.
def test_layer_norm_plans_as_python(norm_bundle, tmp_path):
    x = tensor(64 * MB, BF16, [8, 8, 1024])
    w, b = tensor(96 * MB, BF16, [1024]), tensor(100 * MB, BF16, [1024])
    out = tensor(128 * MB, BF16, [8, 8, 1024])
    affine, fp16_weightless = describe(norm_bundle, tmp_path, [
        ["layer_norm", [x, w, b, out], {"normalized_shape": [1024], "eps": 1e-3}],
        ["rms_norm", [tensor(64 * MB, FP16, [3, 5]), None, tensor(128 * MB, FP16, [3, 5])],
         {"normalized_shape": 5}]])
    assert affine["path"] == "bundled"
    assert affine["kernel"] == "norm_kernel/layer_norm/bf16-bf16-bf16-bf16/64x1024/sm_90a"
    block, steps = _norm_plan("layer_norm", (8, 8, 1024), (8192, 1024, 1), (1,), (1,), 1, None)
    assert_matches_plan(affine, block, steps, NORM_ARGS)
    assert dict(affine["params"])["eps"] == pytest.approx(1e-3)
    assert fp16_weightless["kernel"].endswith("/fallback/sm_90a")
    assert dict(fp16_weightless["params"])["eps"] == pytest.approx(2 ** -10)  # finfo eps


# Tests that tessera_op_precompile compiles a generic kernel's specialisation once, and that a
# bundled case compiles nothing.
def test_precompile(norm_bundle, tmp_path):
    odd = ["precompile", "softmax", "sm_90a",
           [tensor(64 * MB, BF16, [100, 1000]), tensor(128 * MB, BF16, [100, 1000])], None,
           {"dim": 1}]
    first, again = run_actions(norm_bundle, [odd, odd], tmp_path)
    assert first == {"compiled": True} and again == {"compiled": False}
    bundled = ["precompile", "softmax", "sm_90a",
               [tensor(64 * MB, BF16, [4096, 4096]), tensor(128 * MB, BF16, [4096, 4096])],
               None, {"dim": 1}]
    assert run_actions(norm_bundle, [bundled], tmp_path) == [{"compiled": False}]


X = tensor(64 * MB, BF16, [64, 1024])
OUT = tensor(128 * MB, BF16, [64, 1024])


@pytest.mark.parametrize("op,tensors,attributes,message", [
    ("softmax", [X, OUT], {}, "softmax: the attribute 'dim' (an int) is required"),
    ("softmax", [X, OUT], {"dim": 2},
     "softmax: dim 2 is out of range for input with 2 dimensions; expected -2 <= dim < 2"),
    ("softmax", [X, OUT], {"dim": 1.0}, "softmax: dim must be an int attribute"),
    ("softmax", [X, OUT], {"dim": 1, "dtype": 3}, "softmax: takes no attribute 'dtype'"),
    ("softmax", [X], {"dim": 1}, "softmax: expected 2 tensors (input, out), got 1"),
    ("softmax", [tensor(64 * MB, INT32, [64, 1024]), OUT], {"dim": 1},
     "softmax: input has dtype 8; expected TESSERA_FLOAT16, TESSERA_BFLOAT16 or TESSERA_FLOAT32"),
    ("softmax", [X, tensor(128 * MB, BF16, [64, 1024], [1, 64])], {"dim": 1},
     "softmax: out is not contiguous"),
    ("softmax", [X, tensor(64 * MB + 4096, BF16, [64, 1024])], {"dim": 1},
     "softmax: out overlaps input in memory"),
    ("softmax", [X, tensor(128 * MB, BF16, [64, 512])], {"dim": 1},
     "softmax: out has shape (64, 512); expected input's shape (64, 1024)"),
    ("softmax", [X, tensor(128 * MB, FP16, [64, 1024])], {"dim": 1},
     "softmax: no loaded bundle holds a softmax kernel for input TESSERA_BFLOAT16, out "
     "TESSERA_FLOAT16"),
    ("layer_norm", [X, None, None, OUT], {},
     "layer_norm: the attribute 'normalized_shape' (an int or a list of ints) is required"),
    ("layer_norm", [X, None, None, OUT], {"normalized_shape": [512]},
     "layer_norm: normalized_shape (512) does not match the trailing dims of input of shape "
     "(64, 1024); expected input of shape (*, 512)"),
    ("layer_norm", [X, tensor(96 * MB, BF16, [512]), None, OUT], {"normalized_shape": 1024},
     "layer_norm: weight has shape (512,); expected normalized_shape (1024,)"),
    ("layer_norm", [X, None, None, OUT], {"normalized_shape": 1024, "eps": "small"},
     "layer_norm: eps must be a real number"),
    ("layer_norm", [X, None, None, tensor(128 * MB, FP32, [64, 1024])],
     {"normalized_shape": 1024}, "layer_norm: out has dtype TESSERA_FLOAT32; expected input's"),
    ("layer_norm", [tensor(64 * MB, BF16, [8, 16, 32], [16, 1, 128]), None, None,
                    tensor(128 * MB, BF16, [8, 16, 32])], {"normalized_shape": [16, 32]},
     "layer_norm: the normalized dims of input (and of weight and bias) do not merge into one "
     "strided group"),
    ("rms_norm", [X, None, OUT], {"normalized_shape": []},
     "rms_norm: normalized_shape is empty; expected at least one dim"),
    ("rms_norm", [X, None, OUT], {"normalized_shape": 1024, "bias": 1},
     "rms_norm: takes no attribute 'bias' (it takes normalized_shape, eps)"),
])
def test_bad_calls_are_named(norm_bundle, tmp_path, op, tensors, attributes, message):
    (result,) = describe(norm_bundle, tmp_path, [[op, tensors, attributes]])
    assert message in result.get("error", ""), result
