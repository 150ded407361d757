"""examples/cpp's run_bundle.cpp and run_op.cpp on a GPU: built with g++ against the staged
libtessera.so and the headers of runtime/ (GPU hosts have no cmake), run on bundles from
make_bundle.py and make_op_bundle.py in a process with no Python, with an empty kernel cache.

run_bundle: for the GPU's own target the kernels come from the bundle (nothing compiled); for a
bundle of another target the runtime compiles their tile IR for the GPU (the JIT fallback).
run_op: the mm call its bundle lists runs the bundled kernel (nothing compiled) and the others (a
shape not listed, a transposed mat2) a generic kernel compiled in the process; with a bundle of
another target every call compiles. All must compute correct results."""
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

# run_op's calls, as it names them: the first is the case make_op_bundle.py bundles.
LISTED = "mm M=512 N=512 K=512 fp16"
OTHER_SHAPE = "mm M=300 N=200 K=100 fp16"
TRANSPOSED = "mm M=512 N=512 K=512 fp16, mat2 transposed"


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """{name: path} of the example programs, built as an installed package lays the headers out."""
    work = tmp_path_factory.mktemp("cpp-example")
    include = work / "include" / "tessera"
    include.mkdir(parents=True)
    for header in ("tessera.h", "tessera.hpp"):
        shutil.copy(REPO / "runtime" / header, include / header)
    assert (LIBRARY_DIR / "libtessera.so").is_file(), f"no libtessera.so in {LIBRARY_DIR}"
    programs = {}
    for name in ("run_bundle", "run_op"):
        program = work / name
        built = subprocess.run(["g++", "-std=c++17", "-O2", f"-I{work / 'include'}",
                                str(EXAMPLE / f"{name}.cpp"), f"-L{LIBRARY_DIR}", "-ltessera",
                                f"-Wl,-rpath,{LIBRARY_DIR}", "-o", str(program)],
                               capture_output=True, text=True)
        assert built.returncode == 0, f"g++ failed on {name}.cpp:\n{built.stderr}"
        dynamic = subprocess.run(["readelf", "-d", str(program)], capture_output=True,
                                 text=True).stdout
        needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
        assert needed and not any("libpython" in line for line in needed), dynamic
        programs[name] = program
    return programs


def make_bundle(script, path, target):
    """Runs examples/cpp/`script` (make_bundle.py, make_op_bundle.py) for `target`."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(LIBRARY_DIR.parent), os.environ.get("PYTHONPATH")) if p))
    made = subprocess.run([sys.executable, str(EXAMPLE / script), str(path), "--target", target],
                          capture_output=True, text=True, env=env, timeout=600)
    assert made.returncode == 0, f"{script} failed:\n{made.stdout}\n{made.stderr}"


def run(program, bundle, cache):
    """The program's output; asserts exit 0."""
    proc = subprocess.run([str(program), str(bundle)], capture_output=True, text=True,
                          env=dict(os.environ, TESSERA_CACHE_DIR=str(cache)), timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{program.name} exited with {proc.returncode}:\n{output}"
    return output


def parse_stats(text):
    """{"compiles": 0, ...} from "compiles=0 disk_hits=0 ..."."""
    return {k: int(v) for k, v in (item.split("=") for item in text.split())}


def run_bundle(program, bundle, cache):
    """run_bundle's output and its stats line as a dict; asserts RESULT: PASS."""
    output = run(program, bundle, cache)
    assert "RESULT: PASS (2 kernels)" in output, output
    assert re.search(r"^vector_add_fp32: .*: correct ", output, re.M), output
    assert re.search(r"^matmul_fp16: .*: correct ", output, re.M), output
    stats = re.search(r"^stats: (.*)$", output, re.M)
    assert stats, output
    return output, parse_stats(stats.group(1))


def run_op(program, bundle, cache):
    """run_op's output, its plans ({call: "bundled" or "jit"}) and the stats after each call
    ({call: stats}); asserts RESULT: PASS and a correct result per call."""
    output = run(program, bundle, cache)
    assert "RESULT: PASS (3 calls)" in output, output
    plans = dict(re.findall(r"^  (mm .*): path (\w+) kernel ", output, re.M))
    stats = {call: parse_stats(text) for call, text in
             re.findall(r"^(mm .*): correct \(.*\); stats: (.*)$", output, re.M)}
    assert list(plans) == list(stats) == [LISTED, OTHER_SHAPE, TRANSPOSED], output
    return output, plans, stats


def test_kernels_for_the_gpus_target_come_from_the_bundle(programs, tmp_path):
    bundle = tmp_path / "kernels.tbundle"
    make_bundle("make_bundle.py", bundle, device_target(0))
    output, stats = run_bundle(programs["run_bundle"], bundle, tmp_path / "empty-cache")
    assert stats["compiles"] == 0 and stats["disk_hits"] == 0, output
    assert stats["bundle_hits"] == 2, output


def test_kernels_for_another_target_are_compiled_in_the_process(programs, tmp_path):
    other = "sm_86" if device_target(0) == "sm_80" else "sm_80"
    bundle = tmp_path / f"kernels-{other}.tbundle"
    make_bundle("make_bundle.py", bundle, other)
    output, stats = run_bundle(programs["run_bundle"], bundle, tmp_path / "empty-cache")
    assert re.search(rf"^  matmul_fp16 +{other}$", output, re.M), output
    assert stats["compiles"] == 2 and stats["bundle_hits"] == 0, output


def test_op_call_the_bundle_lists_runs_bundled_and_others_compile(programs, tmp_path):
    bundle = tmp_path / "ops.tbundle"
    make_bundle("make_op_bundle.py", bundle, device_target(0))
    output, plans, stats = run_op(programs["run_op"], bundle, tmp_path / "empty-cache")
    assert plans == {LISTED: "bundled", OTHER_SHAPE: "jit", TRANSPOSED: "jit"}, output
    assert stats[LISTED]["compiles"] == 0 and stats[LISTED]["disk_hits"] == 0, output
    assert stats[LISTED]["bundle_hits"] == 1, output
    # Each other call is its own specialisation of the generic kernel: one compile each.
    assert stats[OTHER_SHAPE]["compiles"] == 1, output
    assert stats[TRANSPOSED]["compiles"] == 2, output
    assert stats[TRANSPOSED]["launches"] == 3, output


def test_op_calls_with_a_bundle_of_another_target_all_compile(programs, tmp_path):
    other = "sm_86" if device_target(0) == "sm_80" else "sm_80"
    bundle = tmp_path / f"ops-{other}.tbundle"
    make_bundle("make_op_bundle.py", bundle, other)
    output, plans, stats = run_op(programs["run_op"], bundle, tmp_path / "empty-cache")
    assert re.search(rf"^  matmul +case +fp16 +{other} ", output, re.M), output
    assert set(plans.values()) == {"jit"}, output
    assert [stats[call]["compiles"] for call in plans] == [1, 2, 3], output
    assert stats[TRANSPOSED]["bundle_hits"] == 0, output
