"""Shared set-up for the pytest tiers.

test/python/cpu: needs no GPU (compiles to PTX, checks it with ptxas).
test/python/gpu: skipped, with the reason, where PyTorch or a CUDA GPU is missing.
"""
import glob
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
    """run_ptxas(ptx_text, target, *options) -> CompletedProcess of
    `ptxas -arch=target *options`."""

    def run(ptx, target, *options):
        if isinstance(ptx, (bytes, bytearray)):
            ptx = ptx.decode()
        with tempfile.TemporaryDirectory(prefix="tessera-ptxas-") as tmp:
            src = Path(tmp) / "kernel.ptx"
            src.write_text(ptx)
            return subprocess.run([ptxas, f"-arch={target}", *options, str(src), "-o",
                                   str(Path(tmp) / "kernel.cubin")],
                                  capture_output=True, text=True)

    return run


def _executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def _wheel_binaries(name):
    """``name`` in the bin/ of NVIDIA's PyPI wheels (nvidia-cuda-cuobjdump, -nvdisasm), which
    install under the ``nvidia`` namespace package (nvidia/cu13/bin/...)."""
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations \
        else []
    return [path for root in roots
            for path in sorted(glob.glob(os.path.join(root, "*", "bin", name)))]


def find_tool(name, variable):
    """``$variable``, PATH, /usr/local/cuda/bin, or the PyPI wheel's bin/ directory."""
    for candidate in [os.environ.get(variable), shutil.which(name),
                      f"/usr/local/cuda/bin/{name}"] + _wheel_binaries(name):
        if _executable(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def cuobjdump():
    """Runs ``cuobjdump --dump-sass`` on a cubin; cuobjdump needs nvdisasm, looked up the same way.
    Missing tools fail the test under CI (scripts/setup.sh installs them) and skip it elsewhere."""
    tools = {name: find_tool(name, variable) for name, variable in
             [("cuobjdump", "CUOBJDUMP"), ("nvdisasm", "NVDISASM")]}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        message = (f"{' and '.join(missing)} not found (pip install nvidia-cuda-cuobjdump "
                   "nvidia-cuda-nvdisasm, or set CUOBJDUMP / NVDISASM)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(tools["nvdisasm"]),
                                                 os.environ.get("PATH", "")]))

    def dump(cubin):
        with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
            f.write(cubin)
            f.flush()
            return subprocess.run([tools["cuobjdump"], "--dump-sass", f.name], check=True,
                                  capture_output=True, text=True, env=env).stdout
    return dump
