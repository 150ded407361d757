"""CPU tier for tessera.ops' attention: the forward kernel compiles for sm_80 and sm_90a in each
variant the op launches (head dims padded or not, causal, boolean and additive masks, a
log-sum-exp output) and ptxas accepts it; and the machine code its sm_90a fast path relies on
(read with cuobjdump): both products on wgmma, P @ V with P from registers, K and V streamed by
cp.async, no spills and no shared-memory round trip for the softmax's row statistics.
"""
import re

import pytest

from test_frontend_support import tessera

from tessera.ops.kernels.attention import attention_fwd_kernel, choose_config, head_dim_block

TARGETS = ("sm_80", "sm_90a")
STRIDES = ("stride_qb", "stride_qh", "stride_qm", "stride_kb", "stride_kh", "stride_kn",
           "stride_vb", "stride_vh", "stride_vn", "stride_ob", "stride_oh", "stride_om")


def compiled(target, d=128, causal=False, mask_kind=0, lse=False, ty="bf16"):
    """The kernel as the op specialises it for contiguous (B, H, L, D) inputs."""
    ptr = f"*{ty}:16"
    signature = {"Q": ptr, "K": ptr, "V": ptr, "O": ptr, "H": "i32", "GROUP": "i32",
                 "Lq": "i32", "Lk": "i32", "scale": "fp32", "causal_offset": "i32"}
    signature.update({name: "i32:16" for name in STRIDES})
    config = choose_config(d, causal)
    constants = {"BLOCK_M": config["BLOCK_M"], "BLOCK_N": config["BLOCK_N"],
                 "HEAD_DIM": head_dim_block(d), "EVEN_D": head_dim_block(d) == d,
                 "IS_CAUSAL": causal, "MASK_KIND": mask_kind, "POSITIVE_SCALE": True, "D": d}
    if lse:
        signature["LSE"] = "*fp32:16"
    else:
        constants["LSE"] = None
    mask_strides = ("stride_mb", "stride_mh", "stride_mm", "stride_mn")
    if mask_kind == 0:
        constants.update({"MASK": None, **{name: 0 for name in mask_strides}})
    else:
        signature["MASK"] = "*u8" if mask_kind == 1 else ptr
        signature.update({name: "i32" for name in mask_strides})
    return tessera.compile(attention_fwd_kernel, signature=signature, constants=constants,
                           target=target, num_warps=config["num_warps"],
                           num_stages=config["num_stages"])


VARIANTS = {"d128": {}, "d64-causal": {"d": 64, "causal": True}, "d80": {"d": 80},
            "d256-causal": {"d": 256, "causal": True}, "bool-mask": {"mask_kind": 1},
            "additive-mask-lse": {"mask_kind": 2, "lse": True}, "fp16": {"ty": "fp16"}}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiles(variant, target, run_ptxas):
    kernel = compiled(target, **VARIANTS[variant])
    proc = run_ptxas(kernel.asm["ptx"], target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    expected = "wgmma.mma_async" if target == "sm_90a" else "mma.sync.aligned"
    assert expected in kernel.asm["ptx"]


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
