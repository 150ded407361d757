"""Runs examples/distributed/train_block.py for the CPU tier (test_distributed_example.py: gloo)
and the GPU tier (test_gpu_distributed.py: NCCL, two GPUs)."""
import json
import os
import subprocess
import sys
from typing import Any, Dict, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "distributed", "train_block.py")


def run_train_block(out: "os.PathLike[str]", args: Sequence[str], timeout: float
                    ) -> Dict[str, Any]:
    """Runs the script with ``args`` and ``--out out`` (the in-tree package first on
    PYTHONPATH), asserts that it succeeded and returns its report (``losses.json``)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, SCRIPT, *args, "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(os.path.join(out, "losses.json")) as report:
        return json.load(report)
