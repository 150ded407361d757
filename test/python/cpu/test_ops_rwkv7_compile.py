"""CPU tier for tessera.ops.rwkv's WKV7 kernels: the step-by-step forward (plain, with states,
saving for the backward) and backward (the reference backend's, with dsT and ds0), the chunked
forward (its prep kernel and its walk over chunks) and the chunked backward (its walk back over
chunks and its per-chunk gradients) compile for sm_80 and sm_90a at every head size, decay
convention and I/O dtype the op launches, with the block shapes it chooses, and ptxas accepts
them; the fp32 kernels compute in fp32 only, the fp64 ones in fp64, and the chunked ones with
bf16 or fp16 I/O run their products on tensor cores. The ones in SPILLING spill: the fp64
backward (S, G and S_{t-1} of a head in one program) and the chunked kernels whose 16 x N
blocks, at 2 warps, outgrow the registers.
"""
import pytest

from test_frontend_support import tessera

from tessera.ops.kernels.wkv7 import (CHUNK_BWD_WARPS, CHUNK_PREP_WARPS, choose_backward_warps,
                                      choose_chunk_block, choose_chunk_bwd_block,
                                      choose_forward_block, wkv7_bwd_kernel,
                                      wkv7_chunk_bwd_kernel, wkv7_chunk_bwd_walk_kernel,
                                      wkv7_chunk_fwd_kernel, wkv7_chunk_prep_kernel,
                                      wkv7_fwd_kernel)

TARGETS = ("sm_80", "sm_90a")
SPILLING = {"bwd-64-reference", "prep-128-fp16-clampw", "prep-128-bf16-backward",
            "grads-64-bf16", "grads-64-clampw", "grads-128-fp16-log"}
HALF_DOTS = {"fp32": 0, "bf16": 1, "fp16": 2}
IO_POINTERS = ("R", "K", "V", "A", "B", "Y", "DY", "DR", "DK", "DV", "DA", "DB")


def compiled(kernel, target, n=64, io="fp32", f64=False, decay=0, states=False, save=False,
             heads=256):
    compute = "fp64" if f64 else "fp32"
    constants = {"N": n, "DECAY": decay, "CHUNK": 16, "F64": f64}
    if kernel is wkv7_fwd_kernel:
        block_i, warps = choose_forward_block(heads, n, 132, f64)
        constants.update(BLOCK_I=block_i, HAS_S0=states, HAS_ST=states, SAVE=save)
        unused = ([] if states else ["S0", "ST"]) + ([] if save else ["SA", "CKPT"])
    elif kernel is wkv7_chunk_fwd_kernel:
        block_i, warps = choose_chunk_block(n)
        constants = {"N": n, "CHUNK": 16, "BLOCK_I": block_i, "HAS_S0": states,
                     "HAS_ST": states, "SAVE": save, "HALF": HALF_DOTS[io]}
        unused = ([] if states else ["S0", "ST"]) + ([] if save else ["SA", "CKPT"])
    elif kernel is wkv7_chunk_prep_kernel:
        warps = CHUNK_PREP_WARPS
        constants = {"N": n, "DECAY": decay, "CHUNK": 16, "EXACT": io == "fp32",
                     "BACKWARD": save}
        unused = ["LL"] if save else ["PT"]
    elif kernel is wkv7_chunk_bwd_walk_kernel:
        block_i, warps = choose_chunk_block(n)
        constants = {"N": n, "CHUNK": 16, "BLOCK_I": block_i, "HAS_DST": states,
                     "HAS_DS0": states, "HALF": HALF_DOTS[io]}
        unused = [] if states else ["DST", "DS0"]
    elif kernel is wkv7_chunk_bwd_kernel:
        warps = CHUNK_BWD_WARPS
        constants = {"N": n, "DECAY": decay, "CHUNK": 16, "BLOCK_I": choose_chunk_bwd_block(n),
                     "EXACT": io == "fp32", "HALF": HALF_DOTS[io]}
        unused = []
    else:
        warps = choose_backward_warps(n, f64)
        constants.update(HAS_DST=states, HAS_DS0=states)
        unused = [] if states else ["DST", "DS0"]
    constants.update({name: None for name in unused})
    if "PAIRS_ON_Z" in kernel.arg_names:  # (batch, head) pairs on grid axis 1 alone
        constants["PAIRS_ON_Z"] = False
    signature = {}
    for name in kernel.arg_names:
        if name in constants:
            continue
        if name in IO_POINTERS:
            signature[name] = f"*{io}:16"
        elif name in ("W", "DW"):
            signature[name] = "*fp32:16" if io == "fp32" else f"*{io}:16"
        elif name in ("S0", "ST", "DST"):
            signature[name] = "*fp32:16"
        elif name in ("SA", "CKPT", "DS0"):
            signature[name] = f"*{compute}:16"
        elif name in ("JV", "LL"):
            signature[name] = f"*{io}:16"
        elif name in ("DECAYS", "PT", "ENDS"):
            signature[name] = "*fp32:16"
        else:
            signature[name] = "i32"
    return tessera.compile(kernel, signature=signature, constants=constants, target=target,
                           num_warps=warps)


VARIANTS = {
    "fwd-16": (wkv7_fwd_kernel, {"n": 16}),
    "fwd-32-bf16-states": (wkv7_fwd_kernel, {"n": 32, "io": "bf16", "states": True}),
    "fwd-64-bf16-save": (wkv7_fwd_kernel, {"io": "bf16", "save": True}),
    "fwd-64-decode": (wkv7_fwd_kernel, {"io": "bf16", "states": True, "heads": 2048}),
    "fwd-128-fp16-clampw-save": (wkv7_fwd_kernel, {"n": 128, "io": "fp16", "decay": 1,
                                                   "save": True, "states": True}),
    "fwd-64-reference-log": (wkv7_fwd_kernel, {"f64": True, "decay": 2, "save": True}),
    "prep-16": (wkv7_chunk_prep_kernel, {"n": 16}),
    "prep-64-bf16": (wkv7_chunk_prep_kernel, {"io": "bf16"}),
    "prep-64-fp16-log": (wkv7_chunk_prep_kernel, {"io": "fp16", "decay": 2}),
    "prep-128-fp16-clampw": (wkv7_chunk_prep_kernel, {"n": 128, "io": "fp16", "decay": 1}),
    "chunks-16": (wkv7_chunk_fwd_kernel, {"n": 16}),
    "chunks-32-bf16-states": (wkv7_chunk_fwd_kernel, {"n": 32, "io": "bf16", "states": True}),
    "chunks-64-bf16-save": (wkv7_chunk_fwd_kernel, {"io": "bf16", "save": True}),
    "chunks-64-fp16-states-save": (wkv7_chunk_fwd_kernel, {"io": "fp16", "save": True,
                                                           "states": True}),
    "chunks-128-bf16-save": (wkv7_chunk_fwd_kernel, {"n": 128, "io": "bf16", "save": True}),
    "prep-64-bf16-backward": (wkv7_chunk_prep_kernel, {"io": "bf16", "save": True}),
    "prep-128-bf16-backward": (wkv7_chunk_prep_kernel, {"n": 128, "io": "bf16", "save": True}),
    "walk-16": (wkv7_chunk_bwd_walk_kernel, {"n": 16}),
    "walk-64-bf16-states": (wkv7_chunk_bwd_walk_kernel, {"io": "bf16", "states": True}),
    "walk-128-fp16": (wkv7_chunk_bwd_walk_kernel, {"n": 128, "io": "fp16"}),
    "grads-16": (wkv7_chunk_bwd_kernel, {"n": 16}),
    "grads-32-bf16": (wkv7_chunk_bwd_kernel, {"n": 32, "io": "bf16"}),
    "grads-64-bf16": (wkv7_chunk_bwd_kernel, {"io": "bf16"}),
    "grads-64-clampw": (wkv7_chunk_bwd_kernel, {"decay": 1}),
    "grads-128-fp16-log": (wkv7_chunk_bwd_kernel, {"n": 128, "io": "fp16", "decay": 2}),
    "bwd-16-reference": (wkv7_bwd_kernel, {"n": 16, "f64": True}),
    "bwd-64-reference": (wkv7_bwd_kernel, {"f64": True, "states": True}),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiles(variant, target, run_ptxas):
    kernel, options = VARIANTS[variant]
    compiled_kernel = compiled(kernel, target, **options)
    ptx = compiled_kernel.asm["ptx"]
    proc = run_ptxas(ptx, target, "-v")
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    if variant not in SPILLING:
        assert " 0 bytes spill stores" in proc.stderr, f"the kernel spills:\n{proc.stderr}"
    if options.get("f64"):
        assert "fma.rn.f64" in ptx or "mul.rn.f64" in ptx or "mul.f64" in ptx
    else:
        assert ".f64" not in ptx, "the fp32 kernel computes in fp64"
    if kernel is not wkv7_fwd_kernel and kernel is not wkv7_bwd_kernel:
        tensor_cores = "mma.sync" in ptx or "wgmma.mma_async" in ptx
        assert tensor_cores == (options.get("io", "fp32") != "fp32" or
                                kernel in (wkv7_chunk_prep_kernel, wkv7_chunk_bwd_kernel))


def test_block_choice():
    assert choose_forward_block(8 * 32, 64, 132) == (16, 2)
    assert choose_forward_block(64 * 32, 64, 132) == (64, 8)
    assert choose_forward_block(1, 128, 132) == (16, 4)
    assert choose_forward_block(4, 16, 132) == (16, 1)
    assert choose_backward_warps(16) == 1 and choose_backward_warps(64) == 8
    assert choose_backward_warps(128) == 16 and choose_backward_warps(64, f64=True) == 16
    assert choose_chunk_block(16) == (16, 1) and choose_chunk_block(64) == (64, 4)
    assert choose_chunk_block(128) == (64, 8)
    assert choose_chunk_bwd_block(16) == 16 and choose_chunk_bwd_block(128) == 64
