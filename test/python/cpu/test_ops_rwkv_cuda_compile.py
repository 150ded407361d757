"""CPU tier for tessera.ops.rwkv's cuda backend: every CUDA C++ kernel variant the op launches
(kernels/cuda/wkv4.cu and wkv7.cu: each entry, I/O dtype, head size, decay convention, flag set
and, for the WKV7 backward, each L it tunes over) compiles with NVRTC for sm_80 and sm_90a and
its parameters match the launch signature.
"""
import pytest


from tessera.ops.kernels.rwkv_cuda import wkv4_kernel, wkv7_kernel

TARGETS = ("sm_80", "sm_90a")
TYPES = {"fp32": "float", "bf16": "__nv_bfloat16", "fp16": "__half"}

WKV7_VARIANTS = {
    "fwd-16-fp32": ("wkv7_forward", 16, "fp32", "fp32", 0, dict(HAS_S0=0, HAS_ST=0, SAVE=0)),
    "fwd-32-bf16-states": ("wkv7_forward", 32, "bf16", "fp32", 0,
                           dict(HAS_S0=1, HAS_ST=1, SAVE=0)),
    "fwd-64-bf16-save": ("wkv7_forward", 64, "bf16", "bf16", 1, dict(HAS_S0=1, HAS_ST=1, SAVE=1)),
    "fwd-128-fp16-log": ("wkv7_forward", 128, "fp16", "fp16", 2, dict(HAS_S0=0, HAS_ST=1, SAVE=1)),
    "bwd-16": ("wkv7_backward", 16, "fp32", "fp32", 0, dict(HAS_DST=0, HAS_DS0=0)),
    "bwd-64-bf16": ("wkv7_backward", 64, "bf16", "fp32", 1, dict(HAS_DST=1, HAS_DS0=1)),
    "bwd-128-log": ("wkv7_backward", 128, "fp32", "fp32", 2, dict(HAS_DST=1, HAS_DS0=0)),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(WKV7_VARIANTS))
def test_wkv7_compiles(variant, target):
    entry, n, io, w, decay, flags = WKV7_VARIANTS[variant]
    defines = {"IO_T": TYPES[io], "W_T": TYPES[w], "DECAY": decay, "CHUNK": 16, **flags}
    kernel = wkv7_kernel(entry, defines, n, tune=entry == "wkv7_backward")
    for config in kernel.configs:
        compiled = kernel.compile(config, target)
        assert compiled.num_params == len(kernel.signature)
        assert compiled.stage("cubin")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("entry,io,u,state", [("wkv4_forward", "fp32", "fp32", 0),
                                              ("wkv4_forward", "bf16", "bf16", 1),
                                              ("wkv4_forward", "fp16", "fp32", 1),
                                              ("wkv4_backward", "fp32", "fp32", 0),
                                              ("wkv4_backward", "bf16", "bf16", 0)])
def test_wkv4_compiles(entry, io, u, state, target):
    kernel = wkv4_kernel(entry, {"IO_T": TYPES[io], "U_T": TYPES[u], "STATE": state}, 64)
    compiled = kernel.compile(kernel.configs[0], target)
    assert compiled.num_params == len(kernel.signature)


def test_backward_tunes_over_the_block_sizes_it_can_have():
    defines = {"IO_T": "float", "W_T": "float", "DECAY": 0, "CHUNK": 16, "HAS_DST": 0,
               "HAS_DS0": 0}
    assert [c.num_threads for c in wkv7_kernel("wkv7_backward", defines, 16, True).configs] == \
        [32, 64]
    assert [c.num_threads for c in wkv7_kernel("wkv7_backward", defines, 64, True).configs] == \
        [64, 128, 256]
    forward = {**defines, "HAS_S0": 0, "HAS_ST": 0, "SAVE": 0}
    del forward["HAS_DST"], forward["HAS_DS0"]
    assert [c.num_threads for c in wkv7_kernel("wkv7_forward", forward, 64, False).configs] == \
        [128]
