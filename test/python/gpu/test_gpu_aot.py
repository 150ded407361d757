"""The op library's bundle on a GPU: built without a GPU (by scripts/stage_gpu.sh on the build
machine, or here with the GPU hidden), loaded by a fresh process with empty caches, which then
runs every library call of the bundle with zero compiles and zero tuning runs and the right
results."""
import json
import os
import subprocess
import sys
from pathlib import Path

from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402
from tessera.ops.aot import LIBRARY, LIBRARY_CASES  # noqa: E402
from tessera.runtime.jit_function import device_target  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
STAGED = REPO / ".stage" / "ops-sm_90a.tbundle"

# Loads the bundle argv[1] and makes the calls argv[2] (JSON: [op, [m, n, k], dtype, torch's
# float32 matmul precision]...), each checked against float64.
CHILD = r"""
import json, sys
import torch
import tessera, tessera.ops
loaded = tessera.load_bundle(sys.argv[1])
dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
worst, calls = 0.0, []
torch.manual_seed(0)
for op, (m, n, k), dtype, precision in json.loads(sys.argv[2]):
    torch.set_float32_matmul_precision(precision)
    a = torch.randn(m, k, device="cuda", dtype=dtypes[dtype])
    b = torch.randn(k, n, device="cuda", dtype=dtypes[dtype])
    c = getattr(tessera.ops, op)(a, b)
    # against float64 at the spot-checked rows (the product is exact there)
    rows = torch.arange(0, m, max(1, m // 8), device="cuda")
    want = a[rows].double() @ b.double()
    error = ((c[rows].double() - want).abs().max() / (want.abs().max() + 1e-9)).item()
    worst = max(worst, error)
    calls.append([op, m, n, k, dtype, precision, error])
torch.cuda.synchronize()
print("CHILD " + json.dumps({"loaded": loaded, "stats": tessera.stats(), "worst": worst,
                             "calls": calls}))
"""
# The matmul cases (the element-wise ops' kernels serve every shape: test_gpu_op_c_api_elementwise)
LIBRARY_CALLS = [[op, shape, dtype, precision]
                 for op, cases in LIBRARY_CASES.items() if op in LIBRARY
                 for shape in cases["shapes"]
                 for dtype in cases["dtypes"]
                 for precision in (["highest", "high"] if dtype == "fp32" else ["highest"])]


def _bundle(tmp_path):
    """The staged bundle, or one built here by a process that sees no GPU."""
    if STAGED.is_file():
        return STAGED
    path = tmp_path / "ops.tbundle"
    env = _package_env(CUDA_VISIBLE_DEVICES="", TESSERA_CACHE_DIR=str(tmp_path / "build"))
    subprocess.run([sys.executable, "-c", "import sys; from tessera.runtime.precompile import "
                    "main; sys.exit(main(sys.argv[1:]))", "--library", "--target", "sm_90a",
                    "-o", str(path)], env=env, check=True, timeout=900)
    return path


def _package_env(**variables):
    env = dict(os.environ, **variables)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(tessera.__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p)
    return env


def _run_child(bundle, calls, cache):
    """The child's report, after checking its results and that it compiled and tuned nothing."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(bundle), json.dumps(calls)],
                          env=_package_env(TESSERA_CACHE_DIR=str(cache), TESSERA_QUIET="1"),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    child = json.loads([s for s in proc.stdout.splitlines() if s.startswith("CHILD ")][-1][6:])
    print(json.dumps({"bundle": str(bundle), "loaded": child["loaded"],
                      "stats": child["stats"], "worst relative error": child["worst"]}))
    stats = child["stats"]
    assert stats["compiles"] == 0, stats
    assert stats["tuning_runs"] == 0, stats
    # every matmul case's kernel; the generic kernels are for C and C++ calls that no case lists
    assert stats["bundle_hits"] == len(_case_kernels(bundle)), stats
    for op, m, n, k, dtype, precision, error in child["calls"]:
        tolerance = {"fp16": 2e-3, "bf16": 1e-2}.get(dtype, 5e-3 if precision == "high" else 1e-5)
        assert error < tolerance, (op, m, n, k, dtype, precision, error)
    return child


def _case_kernels(bundle):
    """The bundle's matmul case kernels (the library calls' kernels)."""
    return [name for name, _ in tessera._C.Bundle.read(str(bundle)).kernels
            if name.startswith("matmul_kernel/matmul/")]


def _require_sm_90a():
    if device_target(0) != "sm_90a":
        import pytest
        pytest.skip(f"the bundles here are for sm_90a; this GPU is {device_target(0)}")


def test_library_bundle_runs_with_no_compile_and_no_tuning(tmp_path):
    _require_sm_90a()
    child = _run_child(_bundle(tmp_path), LIBRARY_CALLS, tmp_path / "empty-cache")
    assert child["loaded"]["tuning"] == len(LIBRARY_CALLS)


# Builds a bundle where the GPU is present (tessera.aot tunes the op first): every candidate
# config's time travels in the bundle (none untimed), and a fresh process tunes nothing.
def test_bundle_tuned_on_the_gpu(tmp_path):
    _require_sm_90a()
    path = tmp_path / "tuned.tbundle"
    spec = {"ops": [{"op": "matmul", "shapes": [[512, 384, 256]], "dtypes": ["bf16"]}]}
    build = ("import json, sys, tessera; r = tessera.aot(json.loads(sys.argv[1]), sys.argv[2], "
             "tune=True); print('REPORT ' + json.dumps(r._asdict()))")
    proc = subprocess.run([sys.executable, "-c", build, json.dumps(spec), str(path)],
                          env=_package_env(TESSERA_CACHE_DIR=str(tmp_path / "build"),
                                           TESSERA_QUIET="1"),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"build failed:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads([s for s in proc.stdout.splitlines() if s.startswith("REPORT ")][-1][7:])
    assert report["tuned"] == 1 and report["tuning"] > 1, report
    assert len(_case_kernels(path)) == 1
    records = tessera._C.Bundle.read(str(path)).tuning
    assert all(0 < ms < float("inf") for *_, ms in records), records
    child = _run_child(path, [["matmul", [512, 384, 256], "bf16", "highest"]],
                       tmp_path / "empty-cache")
    assert child["stats"]["tuning_cache_hits"] == len(records)
