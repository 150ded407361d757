"""Shared set-up for the pytest tiers.

test/python/cpu: needs no GPU (compiles to PTX, checks it with ptxas).
test/python/gpu: skipped, with the reason, where PyTorch or a CUDA GPU is missing.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

# Use the in-tree package when tessera is not installed (e.g. on a GPU host with PYTHONPATH unset).
if importlib.util.find_spec("tessera") is None:
    sys.path.insert(0, str(REPO / "python"))
# The example kernels are imported by name: `import vector_add`, `import softmax`, ...
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


def find_ptxas():
    for candidate in (os.environ.get("PTXAS"), "/usr/local/cuda/bin/ptxas", shutil.which("ptxas")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def ptxas():
    """Path of ptxas. Missing ptxas fails the test under CI and skips it elsewhere."""
    path = find_ptxas()
    if path is None:
        message = "ptxas not found (expected /usr/local/cuda/bin/ptxas; set PTXAS to override)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def run_ptxas(ptxas):
    """run_ptxas(ptx_text, target) -> CompletedProcess of `ptxas -arch=target`."""

    def run(ptx, target):
        if isinstance(ptx, (bytes, bytearray)):
            ptx = ptx.decode()
        with tempfile.TemporaryDirectory(prefix="tessera-ptxas-") as tmp:
            src = Path(tmp) / "kernel.ptx"
            src.write_text(ptx)
            return subprocess.run([ptxas, f"-arch={target}", str(src), "-o",
                                   str(Path(tmp) / "kernel.cubin")],
                                  capture_output=True, text=True)

    return run
