"""The element-wise ops through the C API on a GPU (tessera_op_launch), as a C++ program calls them:
a fresh process loads the op library's bundle and runs every element-wise op on PyTorch's memory
through tessera._C.op_launch, each output poisoned first and compared with PyTorch's own op.
Contiguous calls run the bundle's kernels as they are (no compile); strided, broadcast, unaligned
and 64-bit calls specialise the bundled generic kernels in the process (one compile each). Dropout
with a given seed is bit for bit tessera.ops.dropout's under the seed torch would have drawn."""
import json

from gpu_helpers import require_torch_gpu
from test_gpu_op_c_api import run_child

torch = require_torch_gpu()

# Runs argv[2]'s calls ([op, dtype, layout, attributes]) through the C API after loading bundle
# argv[1], reporting per call the path, compiles, and whether the output matched PyTorch's.
CHILD = r"""
import json, sys
import torch
import torch.nn.functional as F
import tessera, tessera.ops
from tessera import _C
_C.Bundle.read(sys.argv[1]).load()
CODES = {torch.float16: 1, torch.bfloat16: 2, torch.float32: 3, torch.bool: 4, torch.uint8: 5,
         torch.int8: 6, torch.int16: 7, torch.int32: 8, torch.int64: 9}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32,
          "bool": torch.bool, "uint8": torch.uint8, "int32": torch.int32, "int64": torch.int64}
UNARY = {"abs", "neg", "exp", "rsqrt", "sin", "cos", "sigmoid", "tanh", "relu", "silu", "gelu",
         "isnan", "isinf", "bitwise_not", "dropout"}


def c_tensor(t):
    return None if t is None else (t.data_ptr(), CODES[t.dtype], list(t.shape), list(t.stride()))


def random(shape, dtype, g):
    if dtype == torch.bool:
        return torch.rand(shape, device="cuda", generator=g) < 0.5
    if not dtype.is_floating_point:
        return torch.randint(-50 if dtype != torch.uint8 else 0, 50, shape, device="cuda",
                             generator=g, dtype=dtype)
    x = torch.randn(shape, device="cuda", generator=g) * 3
    x.view(-1)[::7] = float("nan")  # NaN and infinities propagate as in PyTorch
    x.view(-1)[3::11] = float("inf")
    x.view(-1)[5::13] = -float("inf")
    return x.to(dtype)


def operands(op, dtype, layout, g):
    # (inputs, shape): contiguous aligned; odd (n not a multiple of 16); strided (a transposed
    # input); broadcast (rank 3 against rank 2 and a 0-d tensor); big (2^31 + 48 elements).
    arity = 1 if op in UNARY else 3 if op.startswith("clamp") else 2
    if layout == "contiguous":
        shapes = [(64, 1000)] * arity
    elif layout == "odd":
        shapes = [(37, 3)] * arity
    elif layout == "strided":
        shapes = [(1000, 64)] * arity
    elif layout == "broadcast":
        shapes = [(8, 1, 33), (17, 33), ()][:arity]
    else:
        shapes = [(2 ** 31 + 48,)] * arity
    inputs = [random(s, dtype, g) for s in shapes]
    if layout == "strided":
        inputs[0] = inputs[0].t()
        inputs[1:] = [x.t().contiguous() for x in inputs[1:]]
    if op == "pow" and not dtype.is_floating_point:
        inputs[1] = inputs[1].abs() % 5  # integer powers: small exponents
    if op in ("div", "div_trunc", "div_floor") and not dtype.is_floating_point:
        inputs[1] = torch.where(inputs[1] == 0, torch.ones_like(inputs[1]), inputs[1])
    return inputs


def reference(op, inputs, attributes):
    x = inputs[0]
    if op == "gelu":
        return F.gelu(x, approximate=attributes.get("approximate", "none"))
    if op in ("relu", "silu"):
        return getattr(F, op)(x)
    if op == "clamp":
        return torch.clamp(x, inputs[1], inputs[2])
    if op == "clamp_min":
        return torch.clamp(x, min=inputs[1])
    if op == "clamp_max":
        return torch.clamp(x, max=inputs[1])
    if op == "div":
        return torch.div(x, inputs[1], rounding_mode=attributes.get("rounding_mode"))
    if op in ("add", "sub"):
        return getattr(torch, op)(x, inputs[1], alpha=attributes.get("alpha", 1))
    return getattr(torch, op)(*inputs)


def c_arguments(op, inputs):
    # clamp with one bound passes the other as TESSERA_NONE
    if op == "clamp_min":
        return "clamp", [inputs[0], inputs[1], None]
    if op == "clamp_max":
        return "clamp", [inputs[0], None, inputs[1]]
    return op, list(inputs)


def poison(want):
    if want.dtype == torch.bool:
        return ~want
    if want.dtype.is_floating_point:
        return torch.full_like(want, float("nan"))
    return want + 1


report = []
g = torch.Generator(device="cuda").manual_seed(0)
for op, dtype_name, layout, attributes in json.loads(sys.argv[2]):
    dtype = DTYPES[dtype_name]
    inputs = operands(op, dtype, layout, g)
    if op == "dropout":
        torch.manual_seed(11)
        want = tessera.ops.dropout(inputs[0], p=attributes["p"])
        torch.manual_seed(11)  # the seed tessera.ops.dropout drew
        attributes = dict(attributes, seed=int(torch.randint(0, 2 ** 62, (), dtype=torch.int64)))
    else:
        want = reference(op, inputs, attributes)
    out = poison(want)
    name, tensors = c_arguments(op, inputs)
    tensors = [c_tensor(t) for t in tensors] + [c_tensor(out)]
    path = json.loads(_C.op_describe(name, "sm_90a", tensors, None, attributes))["path"]
    before = _C.stats()["compiles"]
    _C.op_launch(name, 0, torch.cuda.current_stream().cuda_stream, tensors, None, attributes)
    torch.cuda.synchronize()
    compiles = _C.stats()["compiles"] - before
    # bit for bit (NaN where PyTorch has NaN) where PyTorch computes the same fp32 operations
    exact = op in ("dropout", "abs", "neg", "relu", "add", "sub", "mul", "clamp", "clamp_min",
                   "clamp_max") and "alpha" not in attributes
    tolerance = {"rtol": 0, "atol": 0} if exact or not want.dtype.is_floating_point else \
        {"rtol": 2e-3 if dtype == torch.float32 else 1.6e-2, "atol": 1e-5}
    try:
        torch.testing.assert_close(out, want, equal_nan=True, **tolerance)
        ok = True
    except AssertionError as error:
        ok = str(error)[:300]
    report.append({"call": [op, dtype_name, layout, attributes], "path": path, "ok": ok,
                   "compiles": compiles})
    del inputs, want, out
print("CHILD " + json.dumps(report))
"""

FLOATS = ["fp16", "bf16", "fp32"]
FLOAT_UNARY = ["abs", "neg", "exp", "rsqrt", "sin", "cos", "sigmoid", "tanh", "relu", "silu",
               "isnan", "isinf"]
FLOAT_BINARY = ["add", "sub", "mul", "div", "pow", "eq", "ne", "lt", "le", "gt", "ge"]
CALLS = (
    [[op, d, "contiguous", {}] for op in FLOAT_UNARY + FLOAT_BINARY for d in FLOATS]
    + [["gelu", d, "contiguous", {"approximate": a}] for d in FLOATS for a in ("none", "tanh")]
    + [["div", d, "contiguous", {"rounding_mode": m}] for d in FLOATS for m in ("trunc", "floor")]
    + [[op, d, "contiguous", {}] for op in ("clamp", "clamp_min", "clamp_max") for d in FLOATS]
    + [[op, d, "contiguous", {}] for op in ("eq", "lt", "ge") for d in ("bool", "int32", "int64")]
    + [[op, d, "contiguous", {}] for op in ("bitwise_and", "bitwise_or", "bitwise_not")
       for d in ("bool", "uint8", "int32", "int64")]
    + [["dropout", d, "contiguous", {"p": 0.25}] for d in FLOATS]
    # the JIT fallback: the bundle's generic kernels specialised for the call
    + [["add", "bf16", "contiguous", {"alpha": 0.5}], ["sub", "fp32", "contiguous", {"alpha": 2}]]
    + [[op, "bf16", layout, {}] for op in ("add", "mul", "gelu", "clamp", "lt")
       for layout in ("odd", "strided", "broadcast")]
    + [["dropout", "fp16", "strided", {"p": 0.5}], ["bitwise_not", "uint8", "big", {}]]
)
JIT_LAYOUTS = ("odd", "strided", "broadcast", "big")


def test_elementwise_ops_through_the_c_api(tmp_path):
    report = run_child(CHILD, CALLS, tmp_path)
    paths = {"bundled": 0, "jit": 0}
    wrong = []
    for entry in report:
        paths[entry["path"]] += 1
        op, _, layout, attributes = entry["call"]
        jit = layout in JIT_LAYOUTS or "alpha" in attributes
        if entry["ok"] is not True or entry["path"] != ("jit" if jit else "bundled") or \
                (not jit and entry["compiles"] != 0):
            wrong.append(entry)
    print(json.dumps({"calls": len(report), **paths}))
    assert not wrong, "\n".join(json.dumps(entry) for entry in wrong)
