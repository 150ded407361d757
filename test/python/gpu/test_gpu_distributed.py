"""examples/distributed/train_block.py over NCCL on two GPUs: a data-parallel training run of a
transformer block whose attention, matmuls and layer norms are Tessera's matches the same model
built from PyTorch's ops, step by step. Needs two GPUs."""
import json
import os
import subprocess
import sys

from gpu_helpers import require_torch_gpu

require_torch_gpu(min_devices=2)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "examples", "distributed", "train_block.py")


# Tests that 20 DDP steps on two GPUs give PyTorch's losses and that the loss falls.
def test_two_gpu_ddp_matches_pytorch(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, SCRIPT, "--world-size", "2", "--device", "cuda",
                           "--steps", "20", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "losses.json").read_text())
    assert report["mismatches"] == [] and report["max_relative_difference"] <= 1e-3
    losses = report["losses"]["tessera"]
    assert len(losses) == 20 and losses[-1] < losses[0] - 0.5
