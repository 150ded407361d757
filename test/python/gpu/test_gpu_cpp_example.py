"""examples/cpp/run_bundle.cpp on a GPU: built with g++ against the staged libtessera.so and the
headers of runtime/ (GPU hosts have no cmake), run on a bundle from make_bundle.py in a process
with no Python, with an empty kernel cache. For the GPU's own target the kernels come from the
bundle (nothing compiled); for a bundle of another target the runtime compiles their tile IR for
the GPU (the JIT fallback). Both must compute correct results."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_helpers import cuda_device_count

if cuda_device_count() == 0:
    pytest.skip("no CUDA GPU visible to the driver", allow_module_level=True)
if shutil.which("g++") is None:
    pytest.skip("g++ is not installed", allow_module_level=True)

import tessera  # noqa: E402
from tessera.runtime.jit_function import device_target  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "cpp"
LIBRARY_DIR = Path(tessera.__file__).resolve().parent  # holds libtessera.so


@pytest.fixture(scope="module")
def run_bundle(tmp_path_factory):
    """Path of the example program, built as an installed package would lay the headers out."""
    work = tmp_path_factory.mktemp("cpp-example")
    include = work / "include" / "tessera"
    include.mkdir(parents=True)
    for header in ("tessera.h", "tessera.hpp"):
        shutil.copy(REPO / "runtime" / header, include / header)
    assert (LIBRARY_DIR / "libtessera.so").is_file(), f"no libtessera.so in {LIBRARY_DIR}"
    program = work / "run_bundle"
    built = subprocess.run(["g++", "-std=c++17", "-O2", f"-I{work / 'include'}",
                            str(EXAMPLE / "run_bundle.cpp"), f"-L{LIBRARY_DIR}", "-ltessera",
                            f"-Wl,-rpath,{LIBRARY_DIR}", "-o", str(program)],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"g++ failed:\n{built.stderr}"
    dynamic = subprocess.run(["readelf", "-d", str(program)], capture_output=True,
                             text=True).stdout
    needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed and not any("libpython" in line for line in needed), dynamic
    return program


def make_bundle(path, target):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(LIBRARY_DIR.parent), os.environ.get("PYTHONPATH")) if p))
    made = subprocess.run([sys.executable, str(EXAMPLE / "make_bundle.py"), str(path), "--target",
                           target], capture_output=True, text=True, env=env, timeout=600)
    assert made.returncode == 0, f"make_bundle.py failed:\n{made.stdout}\n{made.stderr}"


def run(program, bundle, cache):
    """The example's output and its stats line as a dict; asserts exit 0 and RESULT: PASS."""
    proc = subprocess.run([str(program), str(bundle)], capture_output=True, text=True,
                          env=dict(os.environ, TESSERA_CACHE_DIR=str(cache)), timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"run_bundle exited with {proc.returncode}:\n{output}"
    assert "RESULT: PASS (2 kernels)" in proc.stdout, output
    assert re.search(r"^vector_add_fp32: .*: correct ", proc.stdout, re.M), output
    assert re.search(r"^matmul_fp16: .*: correct ", proc.stdout, re.M), output
    stats = re.search(r"^stats: (.*)$", proc.stdout, re.M)
    assert stats, output
    return output, {k: int(v) for k, v in (item.split("=") for item in stats.group(1).split())}


def test_kernels_for_the_gpus_target_come_from_the_bundle(run_bundle, tmp_path):
    target = device_target(0)
    bundle = tmp_path / "kernels.tbundle"
    make_bundle(bundle, target)
    output, stats = run(run_bundle, bundle, tmp_path / "empty-cache")
    assert stats["compiles"] == 0 and stats["disk_hits"] == 0, output
    assert stats["bundle_hits"] == 2, output


def test_kernels_for_another_target_are_compiled_in_the_process(run_bundle, tmp_path):
    other = "sm_86" if device_target(0) == "sm_80" else "sm_80"
    bundle = tmp_path / f"kernels-{other}.tbundle"
    make_bundle(bundle, other)
    output, stats = run(run_bundle, bundle, tmp_path / "empty-cache")
    assert re.search(rf"^  matmul_fp16 +{other}$", output, re.M), output
    assert stats["compiles"] == 2 and stats["bundle_hits"] == 0, output
