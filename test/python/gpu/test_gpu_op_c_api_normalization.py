"""softmax, layer_norm and rms_norm through the C API on a GPU (tessera_op_launch), as a C++ program
calls them: a fresh process loads the op library's bundle and runs each call on PyTorch's memory
through tessera._C.op_launch, the output poisoned first and compared with PyTorch's op. Calls of a
shape the library bundles run its case as is (no compile) and give tessera.ops' result bit for bit;
other row lengths and layouts specialise a generic kernel in the process."""
import json

from gpu_helpers import require_torch_gpu
from test_gpu_op_c_api import run_child

torch = require_torch_gpu()

# Runs argv[2]'s calls ([op, dtype, shape, layout, attributes]) through the C API after loading
# bundle argv[1], reporting per call the path, compiles, and how the output compares.
CHILD = r"""
import json, sys
import torch
import torch.nn.functional as F
import tessera, tessera.ops
from tessera import _C
_C.Bundle.read(sys.argv[1]).load()
CODES = {torch.float16: 1, torch.bfloat16: 2, torch.float32: 3}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def c_tensor(t):
    return None if t is None else (t.data_ptr(), CODES[t.dtype], list(t.shape), list(t.stride()))


report = []
g = torch.Generator(device="cuda").manual_seed(0)
for op, dtype_name, shape, layout, attributes in json.loads(sys.argv[2]):
    dtype = DTYPES[dtype_name]
    x = (torch.randn(shape, device="cuda", generator=g) * 3 + 1).to(dtype)
    if layout == "transposed":  # the same values, rows one element apart
        x = x.t().contiguous().t()
    n = shape[-1]
    w = (torch.randn(n, device="cuda", generator=g) + 1).to(dtype)
    b = torch.randn(n, device="cuda", generator=g).to(dtype)
    attributes = dict(attributes)
    if op == "softmax":
        out_dtype = DTYPES[attributes.pop("out", dtype_name)]
        want = torch.softmax(x.float(), attributes["dim"]).to(out_dtype)
        mine = tessera.ops.softmax(x, attributes["dim"], dtype=out_dtype)
        tensors = [x]
    else:
        weight = w if layout != "plain" else None
        bias = b if layout == "affine" and op == "layer_norm" else None
        eps = attributes.get("eps", 1e-5 if op == "layer_norm" else None)
        if op == "layer_norm":
            want = F.layer_norm(x.float(), (n,), None if weight is None else weight.float(),
                                None if bias is None else bias.float(), eps).to(dtype)
            mine = tessera.ops.layer_norm(x, (n,), weight, bias, eps)
            tensors = [x, weight, bias]
        else:
            want = F.rms_norm(x.float(), (n,), None if weight is None else weight.float(),
                              eps or torch.finfo(dtype).eps).to(dtype)
            mine = tessera.ops.rms_norm(x, (n,), weight, eps)
            tensors = [x, weight]
        attributes["normalized_shape"] = [n]
        out_dtype = dtype
    out = torch.full(x.shape, float("nan"), device="cuda", dtype=out_dtype)
    tensors = [c_tensor(t) for t in tensors] + [c_tensor(out)]
    path = json.loads(_C.op_describe(op, "sm_90a", tensors, None, attributes))["path"]
    before = _C.stats()["compiles"]
    _C.op_launch(op, 0, torch.cuda.current_stream().cuda_stream, tensors, None, attributes)
    torch.cuda.synchronize()
    compiles = _C.stats()["compiles"] - before
    tolerance = {"rtol": 1.6e-2, "atol": 1e-2} if out_dtype != torch.float32 else \
        {"rtol": 1e-4, "atol": 1e-5}
    try:
        torch.testing.assert_close(out, want, **tolerance)
        ok = True
    except AssertionError as error:
        ok = str(error)[:300]
    report.append({"call": [op, dtype_name, shape, layout, attributes], "path": path, "ok": ok,
                   "compiles": compiles, "same_as_python": bool(torch.equal(out, mine))})
print("CHILD " + json.dumps(report))
"""

FLOATS = ["fp16", "bf16", "fp32"]
BUNDLED = [4096, 4096]  # a shape of the library's normalization entries
CALLS = (
    [["softmax", d, BUNDLED, "contiguous", {"dim": -1}] for d in FLOATS]
    + [["softmax", d, BUNDLED, "contiguous", {"dim": 1, "out": "fp32"}] for d in ("fp16", "bf16")]
    + [["layer_norm", d, BUNDLED, layout, {}] for d in FLOATS for layout in ("affine", "plain")]
    + [["rms_norm", d, BUNDLED, layout, {"eps": 1e-6}] for d in FLOATS
       for layout in ("weight", "plain")]
    # generic kernels specialised in the process: other row lengths, strided rows, other dims
    + [["softmax", "bf16", [100, 1000], "contiguous", {"dim": 1}],
       ["softmax", "fp32", [512, 256], "contiguous", {"dim": 0}],
       ["softmax", "bf16", [4, 33, 250], "contiguous", {"dim": 1}],
       ["softmax", "fp16", [300, 40000], "contiguous", {"dim": -1}],
       ["softmax", "bf16", [256, 4096], "transposed", {"dim": 1}],
       ["layer_norm", "fp32", [7, 3, 500], "affine", {"eps": 1e-3}],
       ["layer_norm", "bf16", [64, 20000], "weight", {}],
       ["rms_norm", "fp16", [33, 777], "weight", {}],
       ["rms_norm", "bf16", [512, 4096], "transposed", {}]]
)


def test_norms_through_the_c_api(tmp_path):
    report = run_child(CHILD, CALLS, tmp_path)
    wrong = []
    for entry in report:
        bundled = entry["call"][2] == BUNDLED and entry["call"][3] != "transposed"
        if entry["ok"] is not True or entry["path"] != ("bundled" if bundled else "jit") or \
                (bundled and (entry["compiles"] != 0 or not entry["same_as_python"])):
            wrong.append(entry)
    print(json.dumps({"calls": len(report),
                      "bundled": sum(e["path"] == "bundled" for e in report)}))
    assert not wrong, "\n".join(json.dumps(entry) for entry in wrong)
