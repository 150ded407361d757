"""A bundle on the GPU: built here without launching anything, loaded by a fresh process with an
empty kernel cache, whose launch of the same specialisation compiles nothing (a bundle hit) and
computes the right result."""
import json
import os
import subprocess
import sys
from pathlib import Path

from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402
from tessera.runtime.jit_function import device_target  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "examples"))
import vector_add  # noqa: E402

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
import tessera
import vector_add
loaded = tessera.load_bundle(sys.argv[2])
x = torch.randn(1000, device="cuda")
y = torch.randn(1000, device="cuda")
out = torch.full_like(x, float("nan"))
vector_add.add_kernel[(1,)](x, y, out, 1000, BLOCK=1024)
torch.cuda.synchronize()
print("CHILD " + json.dumps({"loaded": loaded, "stats": tessera.stats(),
                             "correct": bool(torch.equal(out, x + y))}))
"""


def test_a_launch_takes_its_kernel_from_the_bundle(tmp_path):
    case = tessera.BundleCase(
        "add", vector_add.add_kernel,
        {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16", "n_elements": "i32"},
        {"BLOCK": 1024}, target=device_target(0), num_warps=4, num_stages=3)
    path = tmp_path / "add.tbundle"
    assert tessera.build_bundle(str(path), [case], include_tuning=False)["kernels"] == 1

    env = dict(os.environ, TESSERA_CACHE_DIR=str(tmp_path / "empty-cache"))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(tessera.__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "examples"), str(path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    child = json.loads([s for s in proc.stdout.splitlines() if s.startswith("CHILD ")][-1][6:])
    assert child["correct"]
    assert child["stats"]["compiles"] == 0 and child["stats"]["disk_hits"] == 0
    assert child["stats"]["bundle_hits"] == 1
