"""Ops through the C API on a GPU (tessera_op_launch), as a C++ program calls them: a fresh process
loads the op library's bundle and runs mm on PyTorch's memory through the C API. Calls the bundle
lists run its kernels (no compile); others (odd shapes, transposed and misaligned operands, bf16 and
fp32 at shapes it lacks) are compiled in the process from the bundled generic kernels. Every result
is checked against float64."""
import json
import subprocess
import sys

from gpu_helpers import require_torch_gpu
from test_gpu_aot import _bundle, _package_env, _require_sm_90a

torch = require_torch_gpu()

# Loads the bundle argv[1] and runs argv[2]'s calls ([m, n, k, dtype, precision, layout]) with
# tessera._C.op_launch on the current stream, each into a NaN-filled output, reporting per call the
# path the C++ op took, the compiles it made and its error against float64.
CHILD = r"""
import json, sys
import torch
from tessera import _C
_C.Bundle.read(sys.argv[1]).load()
dtypes = {"fp16": (torch.float16, 1), "bf16": (torch.bfloat16, 2), "fp32": (torch.float32, 3)}
torch.manual_seed(0)
report = []
for m, n, k, dtype, precision, layout in json.loads(sys.argv[2]):
    torch_dtype, code = dtypes[dtype]
    a = torch.randn(m, k + 1, device="cuda", dtype=torch_dtype)[:, 1:] if layout == "misaligned" \
        else torch.randn(m, k, device="cuda", dtype=torch_dtype)  # misaligned: 2 or 4 bytes off
    b = torch.randn(n, k, device="cuda", dtype=torch_dtype).t() if layout == "transposed" else \
        torch.randn(k, n, device="cuda", dtype=torch_dtype)
    c = torch.full((m, n), float("nan"), device="cuda", dtype=torch_dtype)
    tensors = [(t.data_ptr(), code, list(t.shape), list(t.stride())) for t in (a, b, c)]
    path = json.loads(_C.op_describe("mm", "sm_90a", tensors, precision))["path"]
    before = _C.stats()
    _C.op_launch("mm", 0, torch.cuda.current_stream().cuda_stream, tensors, precision)
    torch.cuda.synchronize()
    after = _C.stats()
    want = a.double() @ b.double()
    # relative to the largest value; K = 0 (an exact zero product): absolute. NaN: not written.
    scale = max(want.abs().max().item(), 1.0 if k == 0 else 0.0)
    error = (c.double() - want).abs().max().item() / scale
    report.append({"call": [m, n, k, dtype, precision, layout], "path": path, "error": error,
                   "compiles": after["compiles"] - before["compiles"],
                   "bundle_hits": after["bundle_hits"] - before["bundle_hits"]})
print("CHILD " + json.dumps(report))
"""

CALLS = [
    # listed by the library bundle
    [1024, 1024, 1024, "fp16", None, "contiguous"],
    [2048, 2048, 2048, "bf16", None, "contiguous"],
    [1024, 1024, 1024, "fp32", "ieee", "contiguous"],
    [1024, 1024, 1024, "fp32", "tf32", "contiguous"],
    # not listed: the JIT fallback
    [300, 200, 100, "fp16", None, "contiguous"],
    [1000, 1000, 1000, "bf16", None, "contiguous"],
    [1024, 1024, 1024, "bf16", None, "transposed"],
    [1024, 1024, 1024, "fp16", None, "misaligned"],
    [333, 517, 129, "fp32", "tf32", "contiguous"],
    [77, 65, 1, "fp32", "ieee", "contiguous"],
    [5, 7, 0, "fp16", None, "contiguous"],
]


def run_child(child, calls, tmp_path):
    """The report of ``child`` (a script printing "CHILD <json>") run on the op library's bundle
    and ``calls`` in a fresh process with an empty cache."""
    _require_sm_90a()
    proc = subprocess.run([sys.executable, "-c", child, str(_bundle(tmp_path)),
                           json.dumps(calls)],
                          env=_package_env(TESSERA_CACHE_DIR=str(tmp_path / "empty-cache")),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads([s for s in proc.stdout.splitlines() if s.startswith("CHILD ")][-1][6:])


def test_mm_through_the_c_api(tmp_path):
    report = run_child(CHILD, CALLS, tmp_path)
    for entry in report:
        print(json.dumps(entry))
    for entry in report[:4]:
        assert entry["path"] == "bundled" and entry["compiles"] == 0, entry
        assert entry["bundle_hits"] == 1, entry
    for entry in report[4:]:
        assert entry["path"] == "jit" and entry["compiles"] == 1, entry
    for entry in report:
        dtype, precision = entry["call"][3], entry["call"][4]
        tolerance = {"fp16": 2e-3, "bf16": 1e-2}.get(dtype, 5e-3 if precision == "tf32" else 1e-5)
        assert entry["error"] < tolerance, entry
