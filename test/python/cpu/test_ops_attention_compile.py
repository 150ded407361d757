"""CPU tier for tessera.ops' attention: the forward and backward kernels compile for sm_80 and
sm_90a in each variant the ops launch (head dims padded or not, causal, windows, boolean and
additive masks, softcap, ALiBi, packed sequences, dropout, a log-sum-exp output, fp32 inputs) and
ptxas accepts it (fp32: FMA dots, not tf32, and no spills);
and the machine code the sm_90a fast paths rely on (read with cuobjdump): every product on
wgmma, P @ V (and the backward's P^T @ dO, dS @ Q, dS @ K) with the left operand from
registers, K and V streamed by cp.async, no spills in the forward and dq kernels and no
shared-memory round trip for the softmax's row statistics.
"""
import re

import pytest

from test_frontend_support import tessera

from tessera.ops.kernels.attention import (attention_bwd_dkdv_kernel, attention_bwd_dq_kernel,
                                          attention_fwd_kernel, choose_bwd_config,
                                          choose_config, head_dim_block)

TARGETS = ("sm_80", "sm_90a")
KERNELS = {"fwd": attention_fwd_kernel, "dq": attention_bwd_dq_kernel,
           "dkdv": attention_bwd_dkdv_kernel}
POINTERS = ("Q", "K", "V", "O", "DO", "DQ", "DK", "DV")
FP32_POINTERS = ("LSE", "DELTA")
SCALARS = {"scale": "fp32", "softcap": "fp32", "seed": "i64", "dropout": "fp32",
           "drop_scale": "fp32"}


def compiled(target, kernel="fwd", d=128, causal=False, left=False, mask_kind=0, lse=False,
             softcap=False, alibi=False, varlen=False, dropout=False, ty="bf16"):
    """One of the kernels as the ops specialise it for contiguous inputs."""
    fn = KERNELS[kernel]
    if kernel == "fwd":
        config = choose_config(d, causal or left, ty == "fp32")
    else:
        config = choose_bwd_config(d, ty == "fp32")[kernel]
    constants = {"BLOCK_M": config["BLOCK_M"], "BLOCK_N": config["BLOCK_N"],
                 "HEAD_DIM": head_dim_block(d), "EVEN_D": head_dim_block(d) == d, "D": d,
                 "HAS_LEFT": left, "HAS_RIGHT": causal, "MASK_KIND": mask_kind,
                 "SOFTCAP": softcap, "ALIBI": alibi, "VARLEN": varlen, "DROPOUT": dropout,
                 "PAIRS_ON_Z": False}
    if kernel == "fwd":
        constants["POSITIVE_SCALE"] = True
        if not lse:
            constants["LSE"] = None
    if not mask_kind:
        constants["MASK"] = None
    if not alibi:
        constants.update(ALIBI_SLOPES=None, stride_ab=0)
    if not varlen:
        constants.update(CU_Q=None, CU_K=None)
    signature = {}
    for name in fn.arg_names:
        if name in constants:
            continue
        if name in POINTERS:
            signature[name] = f"*{ty}:16"
        elif name == "MASK":
            signature[name] = "*u8" if mask_kind == 1 else f"*{ty}"
        elif name in FP32_POINTERS or name == "ALIBI_SLOPES":
            signature[name] = "*fp32:16"
        elif name in ("CU_Q", "CU_K"):
            signature[name] = "*i32:16"
        elif name.startswith("stride_m") or name in ("stride_ab", "stride_lb"):
            signature[name] = "i32"
        elif name.startswith("stride"):
            signature[name] = "i32:16"
        else:
            signature[name] = SCALARS.get(name, "i32")
    if not mask_kind:
        constants.update({name: 0 for name in signature if name.startswith("stride_m")})
        signature = {k: v for k, v in signature.items() if not k.startswith("stride_m")}
    return tessera.compile(fn, signature=signature, constants=constants, target=target,
                           num_warps=config["num_warps"], num_stages=config["num_stages"])


VARIANTS = {"d128": {}, "d64-causal": {"d": 64, "causal": True}, "d80": {"d": 80},
            "d256-causal": {"d": 256, "causal": True}, "bool-mask": {"mask_kind": 1},
            "additive-mask-lse": {"mask_kind": 2, "lse": True}, "fp16": {"ty": "fp16"},
            "window": {"d": 64, "left": True, "causal": True},
            "softcap-alibi": {"d": 96, "softcap": True, "alibi": True},
            "varlen-causal": {"d": 64, "causal": True, "varlen": True, "lse": True},
            "dq-d128-causal": {"kernel": "dq", "causal": True},
            "dq-d59-window": {"kernel": "dq", "d": 59, "left": True},
            "dq-d256-mask": {"kernel": "dq", "d": 256, "mask_kind": 2},
            "dq-varlen-window": {"kernel": "dq", "left": True, "varlen": True},
            "dkdv-d128": {"kernel": "dkdv"},
            "dkdv-varlen-causal": {"kernel": "dkdv", "d": 96, "causal": True, "varlen": True},
            "dkdv-d64-causal-softcap": {"kernel": "dkdv", "d": 64, "causal": True,
                                        "softcap": True},
            "dkdv-d160-alibi-bool-mask": {"kernel": "dkdv", "d": 160, "alibi": True,
                                          "mask_kind": 1},
            "dkdv-d256-window-fp16": {"kernel": "dkdv", "d": 256, "left": True,
                                      "ty": "fp16"},
            "dropout-causal": {"causal": True, "dropout": True, "lse": True},
            "dq-dropout-d64": {"kernel": "dq", "d": 64, "dropout": True},
            "dkdv-dropout-varlen": {"kernel": "dkdv", "causal": True, "varlen": True,
                                    "dropout": True}}
# fp32 inputs (scaled_dot_product_attention only): FMA dots in fp32, not tf32 tensor cores
FP32_VARIANTS = {"fp32-d128": {"lse": True}, "fp32-d256-causal": {"d": 256, "causal": True},
                 "fp32-d59-bool-mask": {"d": 59, "mask_kind": 1},
                 "fp32-dropout": {"d": 64, "dropout": True, "lse": True},
                 "fp32-dq-d128-causal": {"kernel": "dq", "causal": True},
                 "fp32-dq-d256-mask": {"kernel": "dq", "d": 256, "mask_kind": 2},
                 "fp32-dkdv-d128-causal": {"kernel": "dkdv", "causal": True},
                 "fp32-dkdv-d256": {"kernel": "dkdv", "d": 256}}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiles(variant, target, run_ptxas):
    kernel = compiled(target, **VARIANTS[variant])
    proc = run_ptxas(kernel.asm["ptx"], target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    expected = "wgmma.mma_async" if target == "sm_90a" else "mma.sync.aligned"
    assert expected in kernel.asm["ptx"]


def check_fp32_kernel(kernel, target, run_ptxas):
    """An fp32 attention kernel: ptxas accepts it, its products are fp32 FMAs (no tensor-core
    instruction, so no tf32) and it does not spill."""
    proc = run_ptxas(kernel.asm["ptx"], target, "-v")
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    ptx = kernel.asm["ptx"]
    assert "mma" not in ptx and "tf32" not in ptx, "an fp32 product runs on tensor cores"
    assert "fma.rn.f32" in ptx
    assert " 0 bytes spill stores" in proc.stderr, f"the kernel spills:\n{proc.stderr}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(FP32_VARIANTS))
def test_fp32_compiles_to_fma_without_spills(variant, target, run_ptxas):
    check_fp32_kernel(compiled(target, ty="fp32", **FP32_VARIANTS[variant]), target, run_ptxas)


def test_head_dim_blocks():
    assert [head_dim_block(d) for d in (1, 16, 40, 59, 64, 80, 128, 129, 256)] == \
        [16, 16, 64, 64, 64, 128, 128, 256, 256]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_sass_sm90a_fast_path(causal, cuobjdump):
    kernel = compiled("sm_90a", causal=causal)
    assert "cubin" in kernel.asm, "no cubin: ptxas was not found"
    code = cuobjdump(kernel.asm["cubin"])
    # S = Q K^T: 128 x BLOCK_N over two warpgroups, K-major K read in place
    assert re.search(r"\bHGMMA\.64x(64|128)x16\.F32\.BF16 R\d+, gdesc", code), \
        "no Q @ K^T wgmma"
    # O += P V with P in registers (no shared-memory store of the probabilities)
    assert re.search(r"\bHGMMA\.64x128x16\.F32\.BF16 R\d+, R\d+, gdesc", code), \
        "P @ V does not take P from registers"
    assert re.search(r"\bLDGSTS\.E\.BYPASS\.128\b", code), "K and V are not streamed by cp.async"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"
    # row max and row sum: two butterfly steps each over a quad, per masked/unmasked loop
    loops = 2
    shuffles = re.findall(r"\bSHFL\.BFLY\b", code)
    assert len(shuffles) == loops * 2 * 2 * 2, f"{len(shuffles)} shuffles"


@pytest.mark.parametrize("kernel", ["dq", "dkdv"])
def test_sass_sm90a_backward(kernel, cuobjdump):
    code = cuobjdump(compiled("sm_90a", kernel=kernel, causal=True).asm["cubin"])
    # the probabilities (dkdv: P^T for dV) and dS go to wgmma from registers
    assert len(re.findall(r"\bHGMMA\.64x128x16\.F32\.BF16 R\d+, R\d+, gdesc", code)) >= 2, \
        "dS (and P^T) are not wgmma register operands"
    # S and dP (dkdv: their transposes) from shared memory only: the streamed block K-major
    assert re.search(r"\bHGMMA\.64x(32|64)x16\.F32\.BF16 R\d+, gdesc\[UR\d+\], (R\d+|RZ)\b",
                     code), "no S = Q K^T wgmma"
    assert re.search(r"\bLDGSTS\.E\.BYPASS\.128\b", code), "the stream is not cp.async"
    if kernel == "dq":
        assert not re.search(r"\b(LDL|STL)\b", code), "the dq kernel spills"
