"""Bundles without a GPU: tessera.build_bundle compiles kernels (and takes the tuning cache's
results) into one file; a fresh process with an empty cache that loads it compiles nothing for
those kernels (they count as bundle hits) and finds the tuning results without timing; damaged
and missing bundles are refused with messages that say why."""
import json
import os
import subprocess
import sys

import pytest

from test_frontend_support import REPO, tessera

sys.path.insert(0, str(REPO / "examples"))
import softmax  # noqa: E402
import vector_add  # noqa: E402

from tessera.runtime import tuning_cache  # noqa: E402

ADD = {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16", "n_elements": "i32"}
ROWS = {"out_ptr": "*bf16:16", "in_ptr": "*bf16:16", "in_row_stride": "i32",
        "out_row_stride": "i32", "n_cols": "i32"}
CASES = [tessera.BundleCase("add", vector_add.add_kernel, ADD, {"BLOCK": 1024}, "sm_90a"),
         tessera.BundleCase("softmax", softmax.softmax_kernel, ROWS, {"BLOCK_N": 1024}, "sm_80")]
KEY = (1024, "torch.float32", "cuda:0")

CHILD = r"""
import json, sys
sys.path[:0] = [sys.argv[1] + "/python", sys.argv[1] + "/examples", sys.argv[1] + "/test/python/cpu"]
import tessera
import test_bundles
from tessera.compiler.aot import specs_from_signature
from tessera.compiler.specialization import generate_tile_ir
from tessera.runtime.tuning_cache import TuningCache
loaded = tessera.load_bundle(sys.argv[2])
compiled = []
for case in test_bundles.CASES:  # the tile IR a launch of this specialisation generates
    specs = specs_from_signature(case.kernel, case.signature, case.constants)
    compiled.append(tessera._C.precompile(generate_tile_ir(case.kernel, specs), case.target,
                                          case.num_warps, case.num_stages))
stored = TuningCache(test_bundles.vector_add.add_kernel).load(
    test_bundles.KEY, [tessera.Config({"BLOCK": 256}), tessera.Config({"BLOCK": 512})])
print("CHILD " + json.dumps({"loaded": loaded, "compiled": compiled, "stats": tessera.stats(),
                             "tuned": {str(c): r.milliseconds for c, r in stored.items()}}))
"""


def run_child(bundle, cache_dir):
    env = dict(os.environ, TESSERA_CACHE_DIR=str(cache_dir))
    env.pop("TESSERA_DUMP_DIR", None)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(REPO), str(bundle)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    line = [s for s in proc.stdout.splitlines() if s.startswith("CHILD ")][-1]
    return json.loads(line.split(" ", 1)[1])


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    """A bundle of CASES and one tuning result, built from a tuning cache of its own."""
    monkeypatch.setattr(tuning_cache, "cache_root", lambda: str(tmp_path / "tuning-root"))
    cache = tuning_cache.TuningCache(vector_add.add_kernel)
    cache.store(KEY, tessera.Config({"BLOCK": 256}), tuning_cache.TunedResult(milliseconds=0.5))
    path = tmp_path / "kernels.tbundle"
    counts = tessera.build_bundle(str(path), CASES, description="test bundle")
    assert counts == {"kernels": 2, "tuning": 1}
    return path


def test_a_loaded_bundle_compiles_nothing_and_times_nothing(bundle, tmp_path):
    child = run_child(bundle, tmp_path / "empty-cache")
    assert child["loaded"] == {"kernels": 2, "tuning": 1}
    assert child["compiled"] == [False, False]
    stats = child["stats"]
    assert stats["compiles"] == 0 and stats["disk_hits"] == 0 and stats["bundle_hits"] == 2
    assert child["tuned"] == {"BLOCK: 256, num_warps: 4, num_stages: 3": 0.5}
    assert not list((tmp_path / "empty-cache").glob("*.kernel"))  # nothing was compiled there


def test_bundle_contents(bundle):
    read = tessera._C.Bundle.read(str(bundle))
    assert read.kernels == [("add", "sm_90a"), ("softmax", "sm_80")]
    ((kernel, key, config, milliseconds),) = read.tuning
    assert kernel == tuning_cache.kernel_identity(vector_add.add_kernel)
    assert json.loads(key) == list(KEY) and json.loads(config)["BLOCK"] == 256
    assert milliseconds == 0.5


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated bundle"),
    (lambda b: b[:-10] + bytes([b[-10] ^ 1]) + b[-9:], "checksum mismatch"),
    (lambda b: b"\x89PNG" + b[4:], "not a tessera bundle"),
])
def test_damaged_bundles_are_refused(bundle, damage, message):
    bundle.write_bytes(damage(bundle.read_bytes()))
    with pytest.raises(tessera.TesseraError, match=message):
        tessera.load_bundle(str(bundle))


def test_a_missing_bundle_is_named(tmp_path):
    with pytest.raises(tessera.TesseraError, match="no bundle at .*missing.tbundle"):
        tessera.load_bundle(str(tmp_path / "missing.tbundle"))
