"""CPU tier for tessera.ops' split-KV attention (decode and flash_attn_with_kvcache): the
split-KV kernel, the merge of its partial results and the KV-cache row writer compile for sm_80
and sm_90a in each variant the ops launch (split or not, padded head dims, causal, windows,
masks, ALiBi, cache lengths, left padding, batch indices, paged caches, fp32 inputs; rotary
interleaved or not) and ptxas accepts them (fp32: FMA dots, not tf32, and no spills); and the
sm_90a decode kernel's machine code: products on wgmma, K and V streamed by cp.async, no spills.
"""
import re

import pytest

from test_frontend_support import tessera
from test_ops_attention_compile import check_fp32_kernel

from tessera.ops.kernels.attention import head_dim_block
from tessera.ops.kernels.attention_splitkv import (attention_combine_kernel,
                                                  attention_splitkv_kernel,
                                                  choose_splitkv_config, kv_write_kernel)

TARGETS = ("sm_80", "sm_90a")
INT_POINTERS = ("SEQLENS_K", "LEFTPAD", "BATCH_IDX", "BLOCK_TABLE", "SEQLENS")
FP32_POINTERS = ("LSE", "O_PART", "LSE_PART", "ALIBI_SLOPES")
UNALIGNED = ("stride_ab", "stride_tb", "stride_mb", "stride_mh", "stride_mm", "stride_mn")


def signature_of(fn, constants, ty, mask_kind=0):
    signature = {}
    for name in fn.arg_names:
        if name in constants:
            continue
        if name == "MASK":
            signature[name] = "*u8" if mask_kind == 1 else f"*{ty}"
        elif name in FP32_POINTERS:
            signature[name] = "*fp32:16"
        elif name in INT_POINTERS:
            signature[name] = "*i32:16"
        elif name in ("Q", "K", "V", "O", "X", "DST", "COS", "SIN"):
            signature[name] = f"*{ty}:16"
        elif name in UNALIGNED:
            signature[name] = "i32"
        elif name.startswith("stride"):
            signature[name] = "i32:16"
        elif name in ("scale", "softcap"):
            signature[name] = "fp32"
        else:
            signature[name] = "i32"
    return signature


def compiled_splitkv(target, d=128, causal=False, left=False, mask_kind=0, alibi=False,
                     split=True, cache=False, leftpad=False, batch_idx=False, page_size=0,
                     ty="bf16"):
    """The split-KV kernel as flash_attn_with_kvcache / decoding specialise it."""
    config = choose_splitkv_config(d, page_size, ty == "fp32")
    constants = {"BLOCK_M": config["BLOCK_M"], "BLOCK_N": config["BLOCK_N"],
                 "HEAD_DIM": head_dim_block(d), "EVEN_D": head_dim_block(d) == d,
                 "HAS_LEFT": left, "HAS_RIGHT": causal, "MASK_KIND": mask_kind,
                 "SOFTCAP": False, "ALIBI": alibi, "POSITIVE_SCALE": True, "CACHE": cache,
                 "HAS_LEFTPAD": leftpad, "HAS_BATCH_IDX": batch_idx, "PAGED": page_size > 0,
                 "SPLIT": split, "PAIRS_ON_Z": False}
    absent = {"MASK": mask_kind == 0, "ALIBI_SLOPES": not alibi, "SEQLENS_K": not cache,
              "LEFTPAD": not leftpad, "BATCH_IDX": not batch_idx, "BLOCK_TABLE": not page_size,
              "O_PART": not split, "LSE_PART": not split}
    constants.update({name: None for name, gone in absent.items() if gone})
    if not mask_kind:
        constants.update(stride_mb=0, stride_mh=0, stride_mm=0, stride_mn=0)
    signature = signature_of(attention_splitkv_kernel, constants, ty, mask_kind)
    return tessera.compile(attention_splitkv_kernel, signature=signature, constants=constants,
                           target=target, num_warps=config["num_warps"],
                           num_stages=config["num_stages"])


def compiled_write(target, rotary=False, interleaved=False, seqlens=True, paged=False,
                   batch_idx=False, d=128):
    constants = {"BLOCK_S": 16, "HEAD_DIM": head_dim_block(d), "ROTARY": rotary,
                 "INTERLEAVED": interleaved, "AT_POSITION": seqlens, "HAS_SEQLENS": seqlens,
                 "HAS_BATCH_IDX": batch_idx, "PAGED": paged, "PAIRS_ON_Z": False}
    absent = {"COS": not rotary, "SIN": not rotary, "SEQLENS": not seqlens,
              "BATCH_IDX": not batch_idx, "BLOCK_TABLE": not paged}
    constants.update({name: None for name, gone in absent.items() if gone})
    signature = signature_of(kv_write_kernel, constants, "bf16")
    return tessera.compile(kv_write_kernel, signature=signature, constants=constants,
                           target=target, num_warps=4)


def compiled_combine(target, splits=16, d=128):
    constants = {"SPLITS": splits, "HEAD_DIM": head_dim_block(d)}
    signature = signature_of(attention_combine_kernel, constants, "bf16")
    return tessera.compile(attention_combine_kernel, signature=signature, constants=constants,
                           target=target, num_warps=4)


VARIANTS = {
    "decode": lambda t: compiled_splitkv(t),
    "decode-one-split-d59": lambda t: compiled_splitkv(t, d=59, split=False),
    "decode-d256-causal": lambda t: compiled_splitkv(t, d=256, causal=True),
    "decode-bool-mask": lambda t: compiled_splitkv(t, mask_kind=1),
    "decode-additive-mask-fp16": lambda t: compiled_splitkv(t, d=80, mask_kind=2, ty="fp16"),
    "cache-paged-causal": lambda t: compiled_splitkv(t, causal=True, cache=True,
                                                     page_size=256),
    "cache-paged-16-window": lambda t: compiled_splitkv(t, d=64, causal=True, left=True,
                                                        cache=True, page_size=16),
    "cache-leftpad-batch-idx-alibi": lambda t: compiled_splitkv(
        t, d=96, alibi=True, cache=True, leftpad=True, batch_idx=True),
    "combine": lambda t: compiled_combine(t),
    "combine-d256-2-splits": lambda t: compiled_combine(t, splits=2, d=256),
    "write-rows": lambda t: compiled_write(t),
    "write-rotary-interleaved-paged": lambda t: compiled_write(t, rotary=True,
                                                               interleaved=True, paged=True),
    "write-rotary-halves-d80": lambda t: compiled_write(t, rotary=True, batch_idx=True, d=80),
    "write-slot": lambda t: compiled_write(t, seqlens=False),
}
# fp32 decoding (scaled_dot_product_attention only): FMA dots in fp32, not tf32 tensor cores
FP32_VARIANTS = {"decode-fp32": {}, "decode-fp32-d256-causal": {"d": 256, "causal": True},
                 "decode-fp32-d59-one-split-mask": {"d": 59, "split": False, "mask_kind": 2}}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiles(variant, target, run_ptxas):
    kernel = VARIANTS[variant](target)
    proc = run_ptxas(kernel.asm["ptx"], target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"
    if variant.startswith(("decode", "cache")):
        expected = "wgmma.mma_async" if target == "sm_90a" else "mma.sync.aligned"
        assert expected in kernel.asm["ptx"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", list(FP32_VARIANTS))
def test_fp32_compiles_to_fma_without_spills(variant, target, run_ptxas):
    check_fp32_kernel(compiled_splitkv(target, ty="fp32", **FP32_VARIANTS[variant]), target,
                      run_ptxas)


def test_paged_block_divides_the_page():
    assert choose_splitkv_config(128, 16)["BLOCK_N"] == 16
    assert choose_splitkv_config(128, 48)["BLOCK_N"] == 16
    assert choose_splitkv_config(128, 256)["BLOCK_N"] == 64
    assert choose_splitkv_config(256, 0)["BLOCK_N"] == 32


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_sass_sm90a_decode(causal, cuobjdump):
    code = cuobjdump(compiled_splitkv("sm_90a", causal=causal).asm["cubin"])
    assert re.search(r"\bHGMMA\.64x64x16\.F32\.BF16 R\d+, gdesc", code), "no Q @ K^T wgmma"
    assert re.search(r"\bHGMMA\.64x128x16\.F32\.BF16 R\d+, R\d+, gdesc", code), \
        "P @ V does not take P from registers"
    assert re.search(r"\bLDGSTS\.E\.BYPASS\.128\b", code), "K and V are not streamed by cp.async"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"


@pytest.mark.parametrize("page_size", [16, 256])
def test_sass_sm90a_paged_decode_is_pipelined(page_size, cuobjdump):
    """The page-table reads run ahead with the K/V copies, so a paged cache streams as a
    contiguous one does: cp.async, the table read under the copy's iteration bound."""
    kernel = compiled_splitkv("sm_90a", causal=True, cache=True, page_size=page_size)
    assert re.search(r"@p ld\.global\.b32 %r\d+, \[", kernel.asm["ptx"]), \
        "no predicated page-table read ahead of the copies"
    code = cuobjdump(kernel.asm["cubin"])
    assert re.search(r"\bLDGSTS\.E\.BYPASS\.128\b", code), "K and V are not streamed by cp.async"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"
