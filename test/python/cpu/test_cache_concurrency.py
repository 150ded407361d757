"""The kernel cache shared by processes, without a GPU: eight processes put the same kernels into
one TESSERA_CACHE_DIR at once (tessera._C.precompile, the C API's tessera_kernel_precompile); every
one succeeds, the directory holds exactly one valid entry per kernel and no temporary file, and a
later process finds them all without compiling. A truncated or bit-flipped entry is recompiled."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_frontend_support import REPO

CHILD = r"""
import json, sys
sys.path[:0] = [sys.argv[1] + "/python", sys.argv[1] + "/examples"]
import tessera
import matmul, softmax, vector_add

add = {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16", "n_elements": "i32"}
rows = {"out_ptr": "*bf16:16", "in_ptr": "*bf16:16", "in_row_stride": "i32",
        "out_row_stride": "i32", "n_cols": "i32"}
mm = {name: "*fp16:16" for name in ("a_ptr", "b_ptr", "c_ptr")}
mm.update({name: "i32" for name in ("M", "N", "K", "stride_am", "stride_bk", "stride_cm")})
kernels = [
    (vector_add.add_kernel, add, {"BLOCK": 1024}, "sm_80", 4, 3),
    (vector_add.add_kernel, add, {"BLOCK": 1024}, "sm_90a", 4, 3),
    (softmax.softmax_kernel, rows, {"BLOCK_N": 1024}, "sm_90a", 4, 3),
    (matmul.matmul_kernel, mm, {"stride_ak": 1, "stride_bn": 1, "stride_cn": 1, "BLOCK_M": 64,
                                "BLOCK_N": 64, "BLOCK_K": 32, "INPUT_PRECISION": "ieee"},
     "sm_80", 4, 3),
]
compiled = []
for kernel, signature, constants, target, warps, stages in kernels:
    tile_ir = tessera.compile(kernel, signature=signature, constants=constants, target=target,
                              num_warps=warps).asm["tile"]
    compiled.append(tessera._C.precompile(tile_ir, target, warps, stages))
print("CHILD " + json.dumps({"compiled": compiled, **tessera.stats()}))
"""
KERNELS = 4


def start_child(cache_dir):
    env = dict(os.environ, TESSERA_CACHE_DIR=str(cache_dir))
    env.pop("TESSERA_DUMP_DIR", None)
    return subprocess.Popen([sys.executable, "-c", CHILD, str(REPO)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(child):
    stdout, stderr = child.communicate(timeout=900)
    assert child.returncode == 0, f"child failed ({child.returncode}):\n{stdout}\n{stderr}"
    line = [s for s in stdout.splitlines() if s.startswith("CHILD ")][-1]
    return json.loads(line.split(" ", 1)[1])


def entries(cache_dir):
    return sorted(p for p in Path(cache_dir).iterdir() if p.is_file())


def test_eight_processes_fill_one_cache(tmp_path):
    cache = tmp_path / "cache"
    children = [start_child(cache) for _ in range(8)]
    results = [result_of(child) for child in children]
    assert all(r["compiles"] + r["disk_hits"] == KERNELS for r in results)
    assert sum(r["compiles"] for r in results) >= KERNELS  # each kernel compiled at least once
    files = entries(cache)
    assert [p.suffix for p in files] == [".kernel"] * KERNELS, files  # no temporary file left

    later = result_of(start_child(cache))
    assert later["compiles"] == 0 and later["disk_hits"] == KERNELS
    assert later["compiled"] == [False] * KERNELS


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_entry_is_recompiled(tmp_path, damage):
    cache = tmp_path / "cache"
    assert result_of(start_child(cache))["compiles"] == KERNELS
    victim = entries(cache)[0]
    data = bytearray(victim.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2:]
    else:
        data[len(data) // 3] ^= 0x10
    victim.write_bytes(bytes(data))

    again = result_of(start_child(cache))
    assert again["compiles"] == 1 and again["disk_hits"] == KERNELS - 1
    assert result_of(start_child(cache))["compiles"] == 0  # the rebuilt entry is valid
