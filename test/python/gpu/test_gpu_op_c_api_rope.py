"""rotary_position_embedding through the C API on a GPU (tessera_op_launch), as a C++ program calls
it: a fresh process loads the op library's bundle and runs each call on PyTorch's memory through
tessera._C.op_launch, the output poisoned first (NaN) and compared with a float64 reference and with
tessera.ops.rotary_position_embedding. Calls of a head dim and tile the library bundles run its
case as is (no compile) and give the Python op's result bit for bit; other head counts, strides,
offsets and 64-bit offsets specialise a generic twin in the process."""
import json

from gpu_helpers import require_torch_gpu
from test_gpu_op_c_api import run_child

torch = require_torch_gpu()

# Runs argv[2]'s calls ([dtype, table dtype, shape, layout, interleaved]) through the C API after
# loading bundle argv[1], reporting per call the path, compiles, whether the output is within the
# rounding of a float64 reference, and whether it equals the Python op's.
CHILD = r"""
import json, sys
import torch
import tessera, tessera.ops
from tessera import _C
_C.Bundle.read(sys.argv[1]).load()
CODES = {torch.float16: 1, torch.bfloat16: 2, torch.float32: 3}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
OUT_ULP = {torch.float32: 2.0 ** -23, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}
SUBNORMAL_ROUNDING = {torch.float16: 2.0 ** -25, torch.bfloat16: 2.0 ** -134,
                      torch.float32: 2.0 ** -150}


def c_tensor(t):
    return (t.data_ptr(), CODES[t.dtype], list(t.shape), list(t.stride()))


def random(shape, dtype, g):
    return torch.randn(shape, device="cuda", generator=g).to(dtype)


def make_input(shape, dtype, layout, g):
    # contiguous (in place too); qkv: the query of a fused (B, S, 3H, D) projection; transposed:
    # (B, H, S, D) viewed as (B, S, H, D); strided: every other channel (no words); offset: one
    # element into its buffer (words misaligned); wide: batches 2^31 elements apart (64-bit).
    b, s, h, d = shape
    if layout == "qkv":
        return random((b, s, 3 * h, d), dtype, g)[:, :, :h]
    if layout == "transposed":
        return random((b, h, s, d), dtype, g).transpose(1, 2)
    if layout == "strided":
        return random((b, s, h, 2 * d), dtype, g)[..., ::2]
    if layout == "offset":
        return random((b * s * h * d + 1,), dtype, g)[1:].view(shape)
    if layout == "wide":
        buffer = torch.empty(2 ** 31 * (b - 1) + s * h * d, device="cuda", dtype=dtype)
        x = buffer.as_strided(shape, (2 ** 31, h * d, d, 1))
        x.copy_(random(shape, dtype, g))
        return x
    return random(shape, dtype, g)


def within_rounding(out, x, sin, cos, interleaved):
    # |out - ref| <= ulp(out) |ref| + fp32 rounding of two products and a sum + subnormal spacing
    xd, half = x.double(), x.shape[-1] // 2
    s, c = sin.double()[None, :, None, :], cos.double()[None, :, None, :]
    x0, x1 = (xd[..., 0::2], xd[..., 1::2]) if interleaved else (xd[..., :half], xd[..., half:])
    o = out.double()
    o0, o1 = (o[..., 0::2], o[..., 1::2]) if interleaved else (o[..., :half], o[..., half:])
    for got, want, scale in [(o0, x0 * c - x1 * s, x0.abs() * c.abs() + x1.abs() * s.abs()),
                             (o1, x0 * s + x1 * c, x0.abs() * s.abs() + x1.abs() * c.abs())]:
        bound = OUT_ULP[out.dtype] * want.abs() + 2.0 ** -22 * scale + \
            SUBNORMAL_ROUNDING[out.dtype]
        bad = ~((got - want).abs() <= bound)  # NaN (not written) is bad
        if bool(bad.any()):
            return f"{int(bad.sum())} of {bad.numel()} outputs off"
    return True


report = []
g = torch.Generator(device="cuda").manual_seed(0)
for dtype_name, table_name, shape, layout, interleaved in json.loads(sys.argv[2]):
    dtype = DTYPES[dtype_name]
    x = make_input(shape, dtype, layout, g)
    angles = torch.rand(shape[1], shape[3] // 2, device="cuda", generator=g) * 20 - 10
    sin, cos = angles.sin().to(DTYPES[table_name]), angles.cos().to(DTYPES[table_name])
    original = x.clone()
    want = tessera.ops.rotary_position_embedding(original, sin, cos, interleaved=interleaved)
    inplace = layout == "inplace"
    out = x if inplace else torch.full(shape, float("nan"), device="cuda", dtype=dtype)
    tensors = [c_tensor(x), c_tensor(sin), c_tensor(cos), c_tensor(out)]
    attributes = {"interleaved": int(interleaved)}
    path = json.loads(_C.op_describe("rotary_position_embedding", "sm_90a", tensors, None,
                                     attributes))["path"]
    before = _C.stats()["compiles"]
    _C.op_launch("rotary_position_embedding", 0, torch.cuda.current_stream().cuda_stream,
                 tensors, None, attributes)
    torch.cuda.synchronize()
    compiles = _C.stats()["compiles"] - before
    report.append({"call": [dtype_name, table_name, shape, layout, interleaved], "path": path,
                   "ok": within_rounding(out, original, sin, cos, interleaved),
                   "same_as_python": bool(torch.equal(out, want)), "compiles": compiles})
    del x, out, original, want
print("CHILD " + json.dumps(report))
"""

FLOATS = ["fp16", "bf16", "fp32"]
BUNDLED = [2, 256, 32, 128]  # the library's head dim 128 in tiles of 32 heads, another B and S
BUNDLED_LAYOUTS = ("contiguous", "inplace", "transposed", "qkv")
CALLS = (
    [[d, t, BUNDLED, "contiguous", i] for d in FLOATS for t in sorted({"fp32", d})
     for i in (True, False)]
    + [["bf16", "fp32", BUNDLED, layout, i] for layout in BUNDLED_LAYOUTS[1:]
       for i in (True, False)]
    + [["bf16", "bf16", [1, 4096, 8, 128], "contiguous", True],
       ["fp16", "fp32", [4, 64, 32, 64], "contiguous", False]]
    # the generic twins, specialised in the process: H off the tile, S off 16, no words, 64-bit
    + [["bf16", "fp32", [2, 64, 40, 128], "contiguous", True],
       ["fp16", "fp16", [2, 16, 3, 128], "contiguous", False],
       ["bf16", "fp32", [2, 16, 5, 128], "inplace", False],
       ["fp32", "fp32", [3, 7, 32, 128], "contiguous", True],
       ["bf16", "fp32", [2, 16, 32, 128], "strided", True],
       ["fp16", "fp32", [2, 16, 32, 128], "offset", True],
       ["bf16", "bf16", [2, 16, 32, 64], "wide", True]]
)


def is_bundled(call):
    _, _, shape, layout, _ = call
    return shape[3] in (64, 128) and shape[1] % 16 == 0 and shape[2] in (8, 32) and \
        layout in BUNDLED_LAYOUTS


def test_rope_through_the_c_api(tmp_path):
    report = run_child(CHILD, CALLS, tmp_path)
    wrong = []
    for entry in report:
        bundled = is_bundled(entry["call"])
        if entry["ok"] is not True or entry["path"] != ("bundled" if bundled else "jit") or \
                (bundled and (entry["compiles"] != 0 or not entry["same_as_python"])):
            wrong.append(entry)
    print(json.dumps({"calls": len(report),
                      "bundled": sum(e["path"] == "bundled" for e in report)}))
    assert not wrong, "\n".join(json.dumps(entry) for entry in wrong)
