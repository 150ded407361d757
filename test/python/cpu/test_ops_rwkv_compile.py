"""CPU tier for tessera.ops.rwkv's WKV (RWKV-4) kernels: the forward (with and without a state),
the backward and the batch sum compile for sm_80 and sm_90a in each variant the op launches
(fp32, bf16 and fp16 I/O; fp32 math for the tile backend, fp64 for the reference backend) and
ptxas accepts them without spills; the fp32 kernels compute in fp32 only, the fp64 ones in fp64.
"""
import pytest

from test_frontend_support import tessera

from tessera.ops.kernels.wkv4 import (AHEAD, REFERENCE_AHEAD, choose_block, wkv4_bwd_kernel,
                                      wkv4_fwd_kernel, wkv4_sum_rows_kernel)

TARGETS = ("sm_80", "sm_90a")
IO_POINTERS = ("U", "K", "V", "Y", "GY", "GK", "GV")


def compiled(kernel, target, io="fp32", f64=False, state=False, block=64):
    compute = "fp64" if f64 else "fp32"
    constants = {"BLOCK_C": block}
    if kernel is not wkv4_sum_rows_kernel:
        constants.update(F64=f64, AHEAD=REFERENCE_AHEAD if f64 else AHEAD)
    if kernel is wkv4_fwd_kernel:
        constants["STATE"] = state
        if not state:
            constants.update(AA=None, BB=None, PP=None)
    signature = {}
    for name in kernel.arg_names:
        if name in constants:
            continue
        if name in IO_POINTERS:
            signature[name] = f"*{io}:16"
        elif name in ("W", "AA", "BB", "PP", "OUT"):
            signature[name] = "*fp32:16"
        elif name in ("GW_ROWS", "GU_ROWS", "SAVED", "ROWS"):
            signature[name] = f"*{compute}:16"
        else:
            signature[name] = "i32"
    return tessera.compile(kernel, signature=signature, constants=constants, target=target,
                           num_warps=block // 32)


VARIANTS = {
    "fwd-fp32": (wkv4_fwd_kernel, {}),
    "fwd-bf16-state": (wkv4_fwd_kernel, {"io": "bf16", "state": True}),
    "fwd-fp16-state-128": (wkv4_fwd_kernel, {"io": "fp16", "state": True, "block": 128}),
    "fwd-reference-bf16": (wkv4_fwd_kernel, {"io": "bf16", "f64": True}),
    "fwd-reference-state": (wkv4_fwd_kernel, {"f64": True, "state": True}),
    "bwd-fp32": (wkv4_bwd_kernel, {}),
    "bwd-bf16-32": (wkv4_bwd_kernel, {"io": "bf16", "block": 32}),
    "bwd-reference": (wkv4_bwd_kernel, {"f64": True}),
    "sum-rows": (wkv4_sum_rows_kernel, {"block": 128}),
    "sum-rows-fp64": (wkv4_sum_rows_kernel, {"f64": True, "block": 128}),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiles(variant, target, run_ptxas):
    kernel, options = VARIANTS[variant]
    compiled_kernel = compiled(kernel, target, **options)
    proc = run_ptxas(compiled_kernel.asm["ptx"], target, "-v")
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    assert " 0 bytes spill stores" in proc.stderr, f"the kernel spills:\n{proc.stderr}"
    ptx = compiled_kernel.asm["ptx"]
    if kernel is wkv4_sum_rows_kernel:
        return
    if options.get("f64"):
        assert "fma.rn.f64" in ptx or "mul.rn.f64" in ptx or "mul.f64" in ptx
        assert "ex2.approx" not in ptx, "the reference backend takes approximate exponentials"
    else:
        assert ".f64" not in ptx, "the fp32 kernel computes in fp64"


def test_block_choice():
    assert choose_block(16, 4096, 132) == 128
    assert choose_block(8, 4096, 132) == 64
    assert choose_block(1, 768, 132) == 32
    assert choose_block(4, 768, 132) == 32
    assert choose_block(64, 2048, 132) == 128
