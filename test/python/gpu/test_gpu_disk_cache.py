"""The on-disk kernel cache across processes: a fresh process with an empty TESSERA_CACHE_DIR
compiles; a second fresh process with the same directory loads the kernel from disk without
compiling; a corrupted entry is discarded and rebuilt."""
import json
import os
import subprocess
import sys
from pathlib import Path

from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
import tessera
import vector_add

g = torch.Generator(device="cuda").manual_seed(0)
x = torch.randn(1000, device="cuda", generator=g)
y = torch.randn(1000, device="cuda", generator=g)
out = torch.full_like(x, float("nan"))
vector_add.add(x, y, out=out)
torch.cuda.synchronize()
stats = tessera.stats()
if not isinstance(stats, dict):
    stats = {k: getattr(stats, k) for k in ("compiles", "disk_hits", "memory_hits", "launches")}
stats["correct"] = bool(torch.equal(out, x + y))
print("TESSERA_STATS " + json.dumps(stats))
"""


def run_child(cache_dir):
    env = dict(os.environ, TESSERA_CACHE_DIR=str(cache_dir))
    package_root = str(Path(tessera.__file__).resolve().parents[1])  # the child imports this tessera
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.pop("TESSERA_DUMP_DIR", None)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(EXAMPLES)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TESSERA_STATS ")]
    assert lines, f"child printed no stats:\n{proc.stdout}\n{proc.stderr}"
    stats = json.loads(lines[-1].split(" ", 1)[1])
    assert stats["correct"], "the child's vector add was wrong"
    return stats


def cache_files(cache_dir):
    return [p for p in Path(cache_dir).rglob("*") if p.is_file()]


def test_second_process_loads_from_disk(tmp_path):
    cache = tmp_path / "cache"
    cold = run_child(cache)
    assert cold["compiles"] == 1, cold
    assert cold["disk_hits"] == 0, cold
    assert cache_files(cache), "nothing was written to TESSERA_CACHE_DIR"

    warm = run_child(cache)
    assert warm["compiles"] == 0, warm
    assert warm["disk_hits"] >= 1, warm


def test_corrupt_entry_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    run_child(cache)
    files = cache_files(cache)
    assert files
    for path in files:  # flip bytes in the middle of every file
        data = bytearray(path.read_bytes())
        if data:
            mid = len(data) // 2
            data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
        path.write_bytes(bytes(data))

    rebuilt = run_child(cache)
    assert rebuilt["compiles"] == 1, rebuilt
    again = run_child(cache)
    assert again["compiles"] == 0 and again["disk_hits"] >= 1, again
