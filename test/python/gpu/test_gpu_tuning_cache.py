"""Autotuning results kept on disk across processes: tessera.ops.matmul tunes in a fresh process
with an empty TESSERA_CACHE_DIR; a second process with the same directory times no config and
compiles nothing, and launches the same config with a correct result."""
import json
import os
import subprocess
import sys
from pathlib import Path

from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402

CHILD = r"""
import json
import torch
import tessera
import tessera.ops
from tessera.ops import blas

g = torch.Generator(device="cuda").manual_seed(0)
a = torch.randn(1024, 768, device="cuda", generator=g).to(torch.bfloat16)
b = torch.randn(768, 512, device="cuda", generator=g).to(torch.bfloat16)
out = torch.full((1024, 512), float("nan"), device="cuda", dtype=torch.bfloat16)
tessera.ops.matmul(a, b, out=out)
torch.cuda.synchronize()
ref = a.double() @ b.double()
stats = tessera.stats()
stats["error"] = ((out.double() - ref).norm() / ref.norm()).item()
stats["config"] = str(blas.tuned_kernel().best_config)
print("TESSERA_STATS " + json.dumps(stats))
"""


def run_child(cache_dir):
    env = dict(os.environ, TESSERA_CACHE_DIR=str(cache_dir), TESSERA_QUIET="1")
    package_root = str(Path(tessera.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TESSERA_STATS ")]
    assert lines, f"child printed no stats:\n{proc.stdout}\n{proc.stderr}"
    stats = json.loads(lines[-1].split(" ", 1)[1])
    assert stats["error"] < 1e-2, f"the child's matmul is off: {stats}"
    return stats


def test_a_second_process_reuses_the_tuning(tmp_path):
    cache = tmp_path / "cache"
    first = run_child(cache)
    assert first["tuning_runs"] > 1 and first["tuning_cache_hits"] == 0
    entries = list(cache.glob("tuning/matmul_kernel-*/*/*.json"))
    assert len(entries) == first["tuning_runs"]

    second = run_child(cache)
    assert second["tuning_runs"] == 0
    assert second["tuning_cache_hits"] == first["tuning_runs"]
    assert second["compiles"] == 0 and second["disk_hits"] >= 1
    assert second["config"] == first["config"]
