"""CPU tier for tessera.ops' matmul: the kernel compiles through tessera.compile for sm_80 and
sm_90a in every dtype and variant and ptxas accepts it; its configs, heuristics, pruning and the
ops' settings; and the machine code that the tensor-core compiler must produce (wgmma with
cp.async on sm_90a, mma.sync on sm_80, read with cuobjdump).

The tensor-core checks (test_*tensor_core*, test_sass_*) describe the finished tl.dot lowering;
they fail while tl.dot still lowers to FMAs.
"""
import os
import re
import subprocess
import sys

import pytest

from test_frontend_support import REPO, tessera

import tessera.ops
from tessera.ops import blas
from tessera.ops.kernels.matmul import (CONFIGS, GROUP_M, HEURISTICS, KEY, matmul_kernel,
                                        prune_configs, shared_memory_bytes)

TARGETS = ("sm_80", "sm_90a")
KINDS = [("bf16", "ieee"), ("fp16", "ieee"), ("fp32", "tf32"), ("fp32", "ieee")]
BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def config(bm, bn, bk, warps, stages):
    return tessera.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": GROUP_M},
                          num_warps=warps, num_stages=stages)


HOPPER_BF16 = config(128, 256, 64, 8, 4)  # wgmma + cp.async pipeline on sm_90a
AMPERE_SMALL = config(64, 64, 32, 4, 3)  # mma.sync on sm_80


def launch_arguments(variant, ty):
    """(signature, constants) of one launch of matmul_kernel, as the ops would specialise it:
    - "aligned": row-major A, B, C with sizes and strides divisible by 16, no bias;
    - "edges": sizes not multiples of the blocks, A transposed (stride_am == 1), odd strides,
      a bias broadcast along M (0 stride), alpha and beta run-time floats;
    - "batched": batch strides, alpha folded (== 1);
    - "int64": a bias and 64-bit offsets (INDEX_64);
    - "tma": "aligned" with A and B read through TMA-ready tensor descriptors (sm_90a);
    - "tma_tn", "tma_nt", "tma_tt": "tma" with A (t first), B (t second) or both column-major,
      read through descriptors of their transposes."""
    ptr = f"*{ty}"
    if variant.startswith("tma"):
        signature, constants = launch_arguments("aligned", ty)
        del constants["a_desc"], constants["b_desc"]
        layout = variant[4:] or "nn"
        if layout[0] == "t":  # A^T stored row by row: M contiguous
            del signature["stride_am"]
            constants.update(stride_am=1, A_TRANSPOSED=True)
            signature["stride_ak"] = "i32:16"
            del constants["stride_ak"]
        if layout[1] == "t":  # B^T stored row by row: K contiguous
            del signature["stride_bk"]
            constants.update(stride_bk=1, B_TRANSPOSED=True)
            signature["stride_bn"] = "i32:16"
            del constants["stride_bn"]
        return signature, constants
    if variant == "aligned":
        signature = {"a_ptr": ptr + ":16", "b_ptr": ptr + ":16", "c_ptr": ptr + ":16",
                     "M": "i32:16", "N": "i32:16", "K": "i32:16", "stride_am": "i32:16",
                     "stride_bk": "i32:16", "stride_cm": "i32:16"}
        constants = {"bias_ptr": None, "stride_ab": 0, "stride_ak": 1, "stride_bb": 0,
                     "stride_bn": 1, "stride_cb": 0, "stride_cn": 1, "stride_biasb": 0,
                     "stride_biasm": 0, "stride_biasn": 0, "alpha": 1, "beta": 1}
    elif variant in ("edges", "int64"):
        signature = {"a_ptr": ptr, "b_ptr": ptr + ":16", "c_ptr": ptr, "bias_ptr": ptr,
                     "M": "i32", "N": "i32", "K": "i32", "stride_ak": "i32",
                     "stride_bk": "i32", "stride_cm": "i32", "alpha": "fp32", "beta": "fp32"}
        constants = {"stride_ab": 0, "stride_am": 1, "stride_bb": 0, "stride_bn": 1,
                     "stride_cb": 0, "stride_cn": 1, "stride_biasb": 0, "stride_biasn": 1}
        if variant == "edges":  # a row of biases, broadcast along M
            constants["stride_biasm"] = 0
        else:
            signature["stride_biasm"] = "i32"
    else:  # batched
        signature = {"a_ptr": ptr + ":16", "b_ptr": ptr + ":16", "c_ptr": ptr + ":16",
                     "M": "i32:16", "N": "i32:16", "K": "i32", "stride_ab": "i32",
                     "stride_am": "i32", "stride_bb": "i32:16", "stride_bk": "i32:16",
                     "stride_cb": "i32:16", "stride_cm": "i32:16", "beta": "fp32"}
        constants = {"bias_ptr": None, "stride_ak": 1, "stride_bn": 1, "stride_cn": 1,
                     "stride_biasb": 0, "stride_biasm": 0, "stride_biasn": 0, "alpha": 1}
    constants.update(a_desc=None, b_desc=None)
    flags = {"aligned": (True, True, True, False), "edges": (False, False, False, False),
             "batched": (True, True, False, False), "int64": (False, False, True, True)}[variant]
    constants.update(zip(("EVEN_M", "EVEN_N", "EVEN_K", "INDEX_64"), flags))
    return signature, constants


_compiled = {}


def compiled(ty, precision, cfg, target, variant="aligned"):
    """The compiled kernel (memoised: several tests read one specialisation)."""
    key = (ty, precision, cfg, target, variant)
    if key not in _compiled:
        signature, constants = launch_arguments(variant, ty)
        if variant.startswith("tma"):
            bm, bn, bk = (cfg.kwargs[name] for name in ("BLOCK_M", "BLOCK_N", "BLOCK_K"))
            a_block = [bk, bm] if constants.get("A_TRANSPOSED") else [bm, bk]
            b_block = [bn, bk] if constants.get("B_TRANSPOSED") else [bk, bn]
            signature["a_desc"] = f"tensordesc<{ty}[{a_block[0]},{a_block[1]}]>:16"
            signature["b_desc"] = f"tensordesc<{ty}[{b_block[0]},{b_block[1]}]>:16"
        _compiled[key] = tessera.compile(
            matmul_kernel, signature=signature,
            constants={**constants, **cfg.kwargs, "INPUT_PRECISION": precision},
            target=target, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    return _compiled[key]


def representative(ty):
    """A config of the list for each element size (16-bit: 64-wide K steps; fp32: 32-wide)."""
    return config(128, 128, 64, 4, 4) if BYTES[ty] == 2 else config(128, 128, 32, 4, 4)


def ptx_of(kernel):
    return kernel.asm["ptx"]


def check_stages(kernel, target):
    for stage in ("tile", "tilegpu", "llir", "ptx"):
        assert kernel.asm.get(stage, "").strip(), f"no {stage!r} stage"
    assert re.search(rf"^\s*\.target\s+{target}\b", kernel.asm["ptx"], re.M)
    assert ".visible .entry matmul_kernel(" in kernel.asm["ptx"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", KINDS, ids="-".join)
def test_compiles_for_every_dtype(kind, target, run_ptxas):
    ty, precision = kind
    kernel = compiled(ty, precision, representative(ty), target)
    check_stages(kernel, target)
    proc = run_ptxas(kernel.asm["ptx"], target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("variant", ["edges", "batched", "int64", "tma", "tma_tn", "tma_nt",
                                     "tma_tt"])
def test_compiles_every_variant(variant, target, run_ptxas):
    kernel = compiled("bf16", "ieee", representative("bf16"), target, variant)
    check_stages(kernel, target)
    proc = run_ptxas(kernel.asm["ptx"], target)
    assert proc.returncode == 0, f"ptxas -arch={target} rejected the kernel:\n{proc.stderr}"


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "{BLOCK_M}x{BLOCK_N}x{BLOCK_K}".format(
    **c.kwargs) + f"-w{c.num_warps}-s{c.num_stages}")
def test_every_config_compiles_for_sm90a(cfg, ptxas):
    kernel = compiled("bf16", "ieee", cfg, "sm_90a")
    check_stages(kernel, "sm_90a")
    assert kernel.asm["cubin"][:4] == b"\x7fELF"


def test_the_loop_has_the_pipelinable_form():
    """One scf.for carrying the accumulator and the two pointer blocks, unmasked loads in the
    aligned case, masked loads on the edges."""
    aligned = compiled("bf16", "ieee", representative("bf16"), "sm_90a").asm["tile"]
    edges = compiled("bf16", "ieee", representative("bf16"), "sm_90a", "edges").asm["tile"]
    for tile_ir in (aligned, edges):
        loops = re.findall(r"scf\.for .*-> \((.*)\)", tile_ir)
        assert len(loops) == 1, loops
        carried = loops[0]
        assert "tensor<128x128xf32>" in carried
        assert "tensor<128x64x!tile.ptr<bf16>>" in carried
        assert "tensor<64x128x!tile.ptr<bf16>>" in carried
    assert re.findall(r"tile\.load (%\w+) :", aligned) and "tile.load %arg" in aligned
    assert not re.search(r"tile\.load %\w+, %\w+", aligned), "the aligned loads are masked"
    assert len(re.findall(r"tile\.load %\w+, %\w+, %\w+", edges)) == 3  # A, B and the bias


# ---- configs, heuristics, pruning --------------------------------------------------------------

def test_configs():
    table = [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.kwargs["BLOCK_K"], c.num_warps,
              c.num_stages) for c in CONFIGS]
    for entry in [(128, 256, 64, 8, 4), (128, 128, 64, 4, 4), (128, 128, 64, 8, 4),
                  (256, 128, 64, 8, 4), (64, 256, 64, 4, 4), (128, 64, 64, 4, 4),
                  (64, 128, 64, 4, 4), (64, 64, 64, 4, 4), (128, 128, 32, 4, 4),
                  (64, 64, 32, 4, 3)]:
        assert entry in table
    assert table[0] == (128, 256, 64, 8, 4)
    assert len(set(table)) == len(table)
    assert any(bm in (16, 32) and warps == 4 for bm, _, _, warps, _ in table)
    assert all(c.kwargs["GROUP_M"] == 8 for c in CONFIGS)
    assert KEY[:3] == ["M", "N", "K"] and set(KEY) <= set(matmul_kernel.arg_names)


def heuristic_args(m=4096, n=4096, k=4096, block=(128, 128, 64), bias=False,
                   descriptors=False, **strides):
    args = {"M": m, "N": n, "K": k, "BLOCK_M": block[0], "BLOCK_N": block[1],
            "BLOCK_K": block[2], "stride_am": k, "stride_ak": 1, "stride_bk": n, "stride_bn": 1,
            "stride_cm": n, "stride_cn": 1, "bias_ptr": object() if bias else None,
            "stride_biasm": 0, "stride_biasn": 1, "a_desc": object() if descriptors else None,
            "b_desc": object() if descriptors else None}
    args.update(strides)
    return {name: f(args) for name, f in HEURISTICS.items()}


def test_heuristics():
    assert heuristic_args() == {"EVEN_M": True, "EVEN_N": True, "EVEN_K": True,
                                "INDEX_64": False, "A_TRANSPOSED": False,
                                "B_TRANSPOSED": False}
    assert heuristic_args(4095, 4097, 1023) == {"EVEN_M": False, "EVEN_N": False,
                                                "EVEN_K": False, "INDEX_64": False,
                                                "A_TRANSPOSED": False, "B_TRANSPOSED": False}
    # descriptors of row-major operands, and of the transposes of column-major ones; a
    # column-major operand read through pointers is not "transposed"
    flags = ("A_TRANSPOSED", "B_TRANSPOSED")

    def transposed(**kwargs):
        return tuple(heuristic_args(**kwargs)[f] for f in flags)

    assert transposed(descriptors=True) == (False, False)
    assert transposed(descriptors=True, stride_am=1, stride_ak=4096) == (True, False)
    assert transposed(descriptors=True, stride_bk=1, stride_bn=4096) == (False, True)
    assert transposed(stride_am=1, stride_ak=4096, stride_bk=1, stride_bn=4096) == \
        (False, False)
    # 2**31 elements reached only through the padded last block of A (rows up to 2**17 + 127)
    assert heuristic_args(2 ** 17 + 1, 64, 2 ** 14, stride_am=2 ** 14)["INDEX_64"]
    assert not heuristic_args(2 ** 16, 64, 2 ** 14, stride_am=2 ** 14)["INDEX_64"]
    # a transposed B whose columns are 2**31 apart; a bias counted only when present
    assert heuristic_args(64, 64, 64, stride_bn=2 ** 25, stride_bk=1)["INDEX_64"]
    assert not heuristic_args(64, 64, 64, stride_biasm=2 ** 26)["INDEX_64"]
    assert heuristic_args(64, 64, 64, bias=True, stride_biasm=2 ** 26)["INDEX_64"]


class FakeOperand:
    def __init__(self, element_size):
        self.size = element_size

    def element_size(self):
        return self.size


def pruned(m, n, element_size=2, **options):
    named = {"a_ptr": FakeOperand(element_size), "M": m, "N": n, "K": 4096}
    return [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]) for c in
            prune_configs(CONFIGS, named, **options)]


@pytest.mark.parametrize("kind", [("bf16", "ieee"), ("fp32", "tf32")], ids="-".join)
def test_shared_memory_estimate_covers_the_kernel(kind):
    # The pruning's estimate bounds what the sm_90a kernel takes (rings and epilogue staging),
    # exactly where both operands are pipelined (tf32's row-major B is not: it has one buffer).
    ty, precision = kind
    cfg = HOPPER_BF16 if ty == "bf16" else config(128, 256, 32, 8, 3)
    kernel = compiled(ty, precision, cfg, "sm_90a")
    assert kernel.shared <= shared_memory_bytes(cfg, BYTES[ty])
    if ty == "bf16":
        assert kernel.shared == shared_memory_bytes(cfg, BYTES[ty])


def test_prune_by_shape():
    assert pruned(4096, 4096) == [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]) for c in CONFIGS
                                  if min(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"]) > 32]
    skinny = pruned(16, 8192)
    assert skinny and all(bm <= 64 for bm, _ in skinny) and (16, 64) in skinny
    assert all(bn <= 64 for _, bn in pruned(4096, 1)) and (64, 32) in pruned(4096, 1)
    assert pruned(1, 1) == [(64, 64), (64, 64), (64, 32), (32, 64), (16, 64)]


def test_prune_by_shared_memory_and_count():
    limit = 227 * 1024
    named = {"a_ptr": FakeOperand(4), "M": 4096, "N": 4096, "K": 4096}
    fp32 = prune_configs(CONFIGS, named, max_shared_memory=limit)
    assert fp32 and CONFIGS[0] not in fp32
    assert all(shared_memory_bytes(c, 4) <= limit for c in fp32)
    assert shared_memory_bytes(CONFIGS[0], 2) == 4 * (128 + 256) * 64 * 2 + 8 * 2048
    assert pruned(4096, 4096, max_shared_memory=limit)[0] == (128, 256)
    assert pruned(4096, 4096, max_shared_memory=limit, max_num_configs=2) == [(128, 256),
                                                                              (128, 128)]
    # nothing fits: every config is kept (the runtime then names the limit)
    assert len(pruned(4096, 4096, max_shared_memory=1024)) == len(CONFIGS)


# ---- the ops' settings -------------------------------------------------------------------------

@pytest.fixture
def restore_settings():
    yield
    tessera.ops.set_default_num_warps(None)
    tessera.ops.set_default_num_stages(None)
    tessera.ops.set_default_max_num_configs(None)


def test_settings(restore_settings):
    assert tessera.ops.get_default_num_warps() is None
    assert tessera.ops.get_default_num_stages() is None
    assert tessera.ops.get_default_max_num_configs() is None
    tessera.ops.set_default_num_warps(8)
    tessera.ops.set_default_num_stages(2)
    tessera.ops.set_default_max_num_configs(3)
    assert (tessera.ops.get_default_num_warps(), tessera.ops.get_default_num_stages(),
            tessera.ops.get_default_max_num_configs()) == (8, 2, 3)
    tuner = blas.tuned_kernel()
    assert {(c.num_warps, c.num_stages) for c in tuner.configs} == {(8, 2)}
    assert len(tuner.configs) == len({tuple(c.kwargs.items()) for c in CONFIGS})
    assert blas.tuned_kernel() is tuner
    tessera.ops.set_default_num_warps(None)
    tessera.ops.set_default_num_stages(None)
    assert blas.tuned_kernel().configs == CONFIGS


@pytest.mark.parametrize("setter, value, error, match", [
    ("set_default_num_warps", 3, ValueError, "num_warps must be a power of two"),
    ("set_default_num_warps", 64, ValueError, "num_warps must be a power of two"),
    ("set_default_num_warps", "4", TypeError, "num_warps must be an int or None"),
    ("set_default_num_stages", 0, ValueError, "num_stages must be >= 1"),
    ("set_default_max_num_configs", 1.5, TypeError, "n must be an int or None"),
    ("set_default_max_num_configs", -1, ValueError, "n must be >= 1"),
])
def test_setting_errors(setter, value, error, match, restore_settings):
    with pytest.raises(error, match=match):
        getattr(tessera.ops, setter)(value)


def test_ops_need_pytorch():
    """In a process where ``import torch`` fails, tessera.ops imports and each op says that it
    needs PyTorch."""
    script = (
        "import sys\n"
        "sys.modules['torch'] = None  # import torch raises ImportError\n"
        "import tessera.ops\n"
        "try:\n"
        "    tessera.ops.matmul(1, 2)\n"
        "except RuntimeError as error:\n"
        "    print(error)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tessera.ops.matmul needs PyTorch, which is not installed"


# ---- machine code from the tensor-core compiler ------------------------------------------------

def sass(cuobjdump, cfg, target, ty="bf16", precision="ieee", variant="aligned"):
    kernel = compiled(ty, precision, cfg, target, variant)
    assert "cubin" in kernel.asm, "no cubin: ptxas was not found"
    return cuobjdump(kernel.asm["cubin"])


def test_tensor_core_ptx_on_sm90a():
    ptx = ptx_of(compiled("bf16", "ieee", HOPPER_BF16, "sm_90a"))
    assert "wgmma.mma_async" in ptx, "tl.dot did not become wgmma"
    assert "cp.async" in ptx, "the K loop is not pipelined with cp.async"


def test_tensor_core_ptx_on_sm80():
    assert "mma.sync.aligned" in ptx_of(compiled("bf16", "ieee", AMPERE_SMALL, "sm_80"))


def test_sass_sm90a_uses_wgmma_and_async_copies(cuobjdump):
    code = sass(cuobjdump, HOPPER_BF16, "sm_90a")
    assert re.search(r"\bHGMMA\b", code), "no HGMMA in the sm_90a SASS"
    assert re.search(r"\bLDGSTS\b", code), "no LDGSTS (cp.async) in the sm_90a SASS"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"
    # the main loop's barriers: the async-copy wait's and the one before refilling a buffer;
    # no MEMBAR (an async-proxy fence would cost one per iteration)
    assert not re.search(r"\bMEMBAR\b", code), "a memory barrier in the sm_90a SASS"
    assert "WARPGROUP.DEPBAR.LE gsb0, 0x1" in code, "the wgmmas do not stay in flight"
    # the epilogue stores C in 16-byte runs: 128x256 bf16 over 256 threads
    stores = re.findall(r"\bSTG\S*", code)
    assert stores == ["STG.E.128"] * 16, f"expected 16 STG.E.128, found {stores}"


def test_sass_sm90a_tf32_takes_b_from_registers(cuobjdump):
    # tf32 wgmma reads shared memory K-major only: a row-major B is pipelined through cp.async
    # like A and goes to the register operand of wgmmas computing C^T = B^T A^T, which stay in
    # flight across iterations
    code = sass(cuobjdump, config(256, 128, 32, 8, 4), "sm_90a", "fp32", "tf32")
    assert re.search(r"\bHGMMA\.64x256x8\.F32\.TF32 R\d+, R\d+, gdesc", code), \
        "no tf32 HGMMA with a register operand"
    assert "WARPGROUP.DEPBAR.LE gsb0, 0x1" in code, "the wgmmas do not stay in flight"
    assert re.search(r"\bLDGSTS\.E\.BYPASS\.128\b", code), "no 16-byte cp.async"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"


@pytest.mark.parametrize("kind", [("bf16", "ieee", HOPPER_BF16),
                                  ("fp32", "tf32", config(256, 128, 32, 8, 4)),
                                  ("fp32", "tf32", config(128, 128, 32, 4, 3))],
                         ids=lambda kind: f"{kind[0]}-{kind[2].kwargs['BLOCK_M']}")
def test_ptxas_keeps_wgmmas_asynchronous(kind, run_ptxas):
    # ptxas serialises every wgmma of a kernel (C7515) when it finds non-wgmma code defining
    # accumulator registers while wgmmas are in flight: the tuned kernels must not trip it
    ty, precision, cfg = kind
    proc = run_ptxas(ptx_of(compiled(ty, precision, cfg, "sm_90a")), "sm_90a", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "C7515" not in proc.stderr, proc.stderr


def test_sass_sm90a_tuned_kernel_copies_tiles_with_tma(cuobjdump):
    # the tuned bf16 kernel as the ops launch it for row-major operands: TMA copies (UTMALDG)
    # completing on mbarriers (SYNCS) feed HGMMAs, which stay in flight; no thread copies tiles
    code = sass(cuobjdump, HOPPER_BF16, "sm_90a", variant="tma")
    assert re.search(r"\bHGMMA\b", code), "no HGMMA in the sm_90a SASS"
    assert re.search(r"\bUTMALDG\.2D\b", code), "no TMA copy (UTMALDG) in the sm_90a SASS"
    assert re.search(r"\bSYNCS\.PHASECHK\b", code), "no mbarrier wait in the sm_90a SASS"
    assert not re.search(r"\bLDGSTS\b", code), "tiles still copied with cp.async"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"
    assert not re.search(r"\bMEMBAR\b", code), "a memory barrier in the sm_90a SASS"
    assert "WARPGROUP.DEPBAR.LE gsb0, 0x1" in code, "the wgmmas do not stay in flight"


@pytest.mark.parametrize("layout", ["tn", "nt", "tt"])
def test_sass_sm90a_copies_transposed_operands_with_tma(layout, cuobjdump):
    # column-major operands (a linear layer's x @ w.t(), the backward's products) read through
    # descriptors of their transposes: the same TMA-fed, in-flight HGMMA loop as row-major ones
    # (the tiles are transposed views in shared memory, which wgmma reads M/N- or K-major)
    kernel = compiled("bf16", "ieee", HOPPER_BF16, "sm_90a", "tma_" + layout)
    ptx = ptx_of(kernel)
    # imm-trans-a/b: 1 for an M/N-major operand (A^T's tiles; a row-major B's)
    trans_a, trans_b = ("1" if layout[0] == "t" else "0"), ("1" if layout[1] == "n" else "0")
    assert re.search(rf"wgmma\.mma_async[^;]*, {trans_a}, {trans_b};", ptx), \
        "the wgmma's transpose flags do not match the operands' layouts"
    code = cuobjdump(kernel.asm["cubin"])
    assert re.search(r"\bHGMMA\b", code) and re.search(r"\bUTMALDG\.2D\b", code)
    assert not re.search(r"\b(LDGSTS|LDL|STL|MEMBAR)\b", code)
    assert "WARPGROUP.DEPBAR.LE gsb0, 0x1" in code, "the wgmmas do not stay in flight"


@pytest.mark.parametrize("kind", [("bf16", "ieee", HOPPER_BF16),
                                  ("fp32", "tf32", config(256, 128, 32, 8, 4))],
                         ids=lambda kind: kind[0])
def test_tma_kernels_keep_wgmmas_asynchronous(kind, run_ptxas):
    ty, precision, cfg = kind
    ptx = ptx_of(compiled(ty, precision, cfg, "sm_90a", "tma"))
    assert "cp.async.bulk.tensor.2d" in ptx and "mbarrier.try_wait.parity" in ptx
    proc = run_ptxas(ptx, "sm_90a", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "C7515" not in proc.stderr, proc.stderr


def test_descriptors_fall_back_to_ordinary_loads_on_sm80(run_ptxas):
    ptx = ptx_of(compiled("bf16", "ieee", AMPERE_SMALL, "sm_80", "tma"))
    assert "cp.async.bulk" not in ptx and "mma.sync.aligned" in ptx
    assert run_ptxas(ptx, "sm_80").returncode == 0


def test_sass_sm80_uses_mma(cuobjdump):
    code = sass(cuobjdump, AMPERE_SMALL, "sm_80")
    assert re.search(r"\bHMMA\b", code), "no HMMA in the sm_80 SASS"
    assert not re.search(r"\b(LDL|STL)\b", code), "the kernel spills to local memory"
