"""CPU tier for tessera.ops.rotary_position_embedding: its kernel compiles through
tessera.compile for sm_80 and sm_90a in every dtype, layout and variant the op launches (pairs
as words or as strided elements, fp32 or 16-bit tables, ragged head and pair blocks, 64-bit
offsets) and ptxas accepts it; the aligned contiguous variants move 16 bytes per global access;
the tile sizes the op picks. (The op itself needs PyTorch and a GPU: the GPU tier runs it.)
"""
import re

import pytest

import tessera
from tessera.ops.kernels.rope import rope_kernel
from tessera.ops.rope import launch_config

TARGETS = ("sm_80", "sm_90a")
WORD = {"fp32": "i64", "bf16": "i32", "fp16": "i32"}  # the op views pairs as torch int words
VEC16 = r"\.v4\.(?:b32|f32|u32|s32)|\.v2\.(?:b64|f64|u64|s64)"


def launch_arguments(element, layout, table=None, variant="aligned", dim=128, heads=32):
    """(signature, constants) of one launch, as the op would specialise it:
    - layout "pairs": interleaved, read as words; "interleaved": interleaved, strided elements;
      "halves": interleaved=False;
    - variant "aligned": contiguous (B, S, H, D), strides divisible by 16; "ragged": odd
      strides (a slice of a fused QKV tensor with odd head counts), D/2 and H not powers of two,
      a broadcast table (stride 0 along S); "int64": 64-bit offsets."""
    half = dim // 2
    meta = launch_config(heads, half)
    paired = layout == "pairs"
    pointer = f"*{WORD[element]}" if paired else f"*{element}"
    table = table or "fp32"
    aligned = variant != "ragged"
    div = ":16" if aligned else ""
    signature = {"X": pointer + div, "Y": pointer + ":16", "SIN": f"*{table}:16",
                 "COS": f"*{table}:16", "S": "i32:16", "H": "i32",
                 "stride_xb": "i32" + div, "stride_xs": "i32" + div, "stride_xh": "i32" + div,
                 "stride_yb": "i32:16", "stride_ys": "i32:16", "stride_yh": "i32:16",
                 "stride_cos_s": "i32:16"}
    constants = {"stride_xd": 1, "stride_yd": 1, "stride_sin_d": 1, "stride_cos_d": 1,
                 "HALF": half, "EVEN_H": heads % meta["BLOCK_H"] == 0,
                 "INTERLEAVED": layout != "halves", "PAIRED": paired, "ELEMENT": element,
                 "INDEX_64": variant == "int64", **meta}
    if aligned:
        signature["stride_sin_s"] = "i32:16"
    else:
        constants["stride_sin_s"] = 0  # one row for every position
    if layout == "interleaved" and not aligned:
        del constants["stride_xd"]
        signature["stride_xd"] = "i32"  # elements not adjacent: no word view
    return signature, constants


CASES = [(element, layout, table, variant, dim, heads)
         for element in ("bf16", "fp16", "fp32")
         for layout in ("pairs", "interleaved", "halves")
         for table, variant, dim, heads in [
             (None, "aligned", 128, 32),
             (element, "ragged", 130, 3),
             (None, "int64", 64, 8),
             (None, "aligned", 2, 1),
             (None, "aligned", 2048, 4)]
         if not (layout == "interleaved" and variant == "aligned" and dim > 2)]


def case_id(case):
    element, layout, table, variant, dim, heads = case
    return f"{element}-{layout}-{table or 'fp32'}tab-{variant}-D{dim}-H{heads}"


_compiled = {}


def compiled(case, target):
    if (case, target) not in _compiled:
        signature, constants = launch_arguments(*case)
        _compiled[case, target] = tessera.compile(rope_kernel, signature, constants,
                                                  target=target, num_warps=4)
    return _compiled[case, target]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_compiles_and_ptxas_accepts(case, target, run_ptxas):
    ptx = compiled(case, target).asm["ptx"]
    assert ".visible .entry rope_kernel(" in ptx
    assert re.search(rf"^\s*\.target\s+{target}\b", ptx, re.M)
    proc = run_ptxas(ptx, target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected {case_id(case)}:\n{proc.stderr}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("element", ["bf16", "fp16", "fp32"])
@pytest.mark.parametrize("layout", ["pairs", "halves"])
def test_aligned_heads_move_16_bytes_per_access(element, layout, target):
    """Contiguous, aligned heads: every access to the input and output is 16 bytes (pairs
    read as words; halves as two contiguous runs)."""
    ptx = compiled((element, layout, None, "aligned", 128, 32), target).asm["ptx"]
    loads = re.findall(r"\bld\.global[^\s]*", ptx)
    stores = re.findall(r"\bst\.global[^\s]*", ptx)
    assert stores and all(re.search(VEC16, st) for st in stores), stores
    vector_loads = [ld for ld in loads if re.search(VEC16, ld)]
    # the table entries are the only narrower loads: 2 tables x 64 pairs over 128 threads
    assert len(vector_loads) >= len(loads) - 2, loads


def test_launch_config():
    assert launch_config(32, 64) == {"BLOCK_HALF": 64, "BLOCK_H": 32}
    assert launch_config(3, 65) == {"BLOCK_HALF": 128, "BLOCK_H": 4}
    assert launch_config(128, 64) == {"BLOCK_HALF": 64, "BLOCK_H": 32}
    assert launch_config(1, 1) == {"BLOCK_HALF": 1, "BLOCK_H": 1}
    assert launch_config(4, 4096) == {"BLOCK_HALF": 512, "BLOCK_H": 4}
