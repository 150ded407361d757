"""tessera.ops.matmul / mm / bmm / addmm against float64 references computed by PyTorch (inputs
cast to float64): every dtype, tf32 and ieee, degenerate and odd shapes, transposed and sliced
operands, batch broadcasting, 1-D operands, out= (poisoned with NaN first), 64-bit offsets, every
autotuning config, autotuning itself, and the errors of specs/ops.md.

Every test runs on each device (conftest's ``device``): on the CPU the kernels run through the
host back end, at smaller sizes where a GPU case is large. The host emulates TF32 (inputs
rounded to 10 mantissa bits) as the GPU's tensor cores compute it, so the tf32 bounds hold there
too.

Most tests run with set_default_max_num_configs(1) (each problem's first fitting config, no
timing) so that the module compiles few kernels; test_every_config_is_correct runs every config of
the list and test_autotuning times a few (on a GPU; host launches time nothing).
"""
import contextlib
import math

import pytest
from op_helpers import require_torch, synchronize
from poison import assert_guard_untouched, poisoned

torch = require_torch()

import tessera  # noqa: E402
import tessera.ops as ops  # noqa: E402
from tessera.ops import blas  # noqa: E402
from tessera.ops.kernels.matmul import CONFIGS, GROUP_M, matmul_kernel  # noqa: E402

# Relative rounding of one output element (an ulp of the output dtype, for slack).
OUT_ULP = {torch.float32: 2.0 ** -23, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}
# (dtype, torch.get_float32_matmul_precision): fp32 "highest" computes in ieee, "high" in tf32
KINDS = [(torch.float16, "highest"), (torch.bfloat16, "highest"), (torch.float32, "highest"),
         (torch.float32, "high")]


def kind_id(kind):
    return {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(kind[0]) or \
        ("fp32-ieee" if kind[1] == "highest" else "fp32-tf32")


@contextlib.contextmanager
def float32_precision(value):
    saved = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(value)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved)


@pytest.fixture(autouse=True)
def untuned():
    """One config per problem (its first fitting one): correctness, not speed, is tested here."""
    ops.set_default_max_num_configs(1)
    yield
    ops.set_default_max_num_configs(None)


def check(out, a, b, tf32=False, bias=None, alpha=1, beta=0):
    """|out - ref| <= ulp(out dtype) * |ref| + accumulation bound, element-wise, in float64, with
    ref = alpha * a @ b + beta * bias (torch.matmul semantics, batch broadcasting included).

    Inputs are exact in float64 and their products exact in fp32, so the error is the fp32
    accumulation of K terms (bounded here by 4 sqrt(K) units of fp32 relative to |a| @ |b|,
    generous for random inputs) plus, for tf32, the rounding of each input to 10 mantissa bits
    (2**-10 per product, with no cancellation assumed)."""
    ad, bd = a.double(), b.double()
    k = a.shape[-1]
    ref = alpha * torch.matmul(ad, bd)
    scale = abs(alpha) * torch.matmul(ad.abs(), bd.abs())
    if bias is not None and beta != 0:
        ref = ref + beta * bias.double()
        scale = scale + abs(beta) * bias.double().abs()
    assert out.shape == ref.shape, f"shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
    assert out.dtype == a.dtype
    accumulation = 4 * math.sqrt(max(k, 1)) * 2.0 ** -24 + (2.0 ** -9 if tf32 else 0.0)
    bound = OUT_ULP[out.dtype] * ref.abs() + accumulation * scale + 1e-30
    err = (out.double() - ref).abs()
    bad = ~(err <= bound)  # NaN (an unwritten element) is bad
    if bool(bad.any()):
        worst = (err - bound).argmax()
        raise AssertionError(f"{int(bad.sum())} of {bad.numel()} outputs off; worst: error "
                             f"{err.flatten()[worst].item():.3e}, bound "
                             f"{bound.flatten()[worst].item():.3e}, ref "
                             f"{ref.flatten()[worst].item():.3e}")


def run(fn, *args, precision="highest", **kwargs):
    with float32_precision(precision):
        out = fn(*args, **kwargs)
    synchronize(out.device)
    return out


# ---- shapes and dtypes --------------------------------------------------------------------

SHAPES = [(1, 1, 1), (64, 48, 80), (257, 129, 95), (1, 300, 200), (300, 1, 200),
          (128, 256, 512)]  # M, N, K: K not a multiple of a block, M = 1, N = 1, aligned


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_mm_shapes(shape, device, randn):
    m, n, k = shape
    a, b = randn(m, k, dtype=torch.bfloat16), randn(k, n, dtype=torch.bfloat16)
    check(run(ops.mm, a, b), a, b)


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
@pytest.mark.parametrize("shape", [(257, 129, 95), (128, 256, 512)],
                         ids=lambda s: "x".join(map(str, s)))
def test_mm_dtypes(shape, kind, device, randn):
    m, n, k = shape
    dtype, precision = kind
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
    check(run(ops.mm, a, b, precision=precision), a, b, tf32=precision == "high")


def test_ieee_is_exact_fp32_and_tf32_is_not_required_to_be(device, randn):
    """With "highest" the fp32 result meets the fp32 bound, far tighter than tf32's; "medium"
    computes in tf32 like "high". (The shape of test_mm_dtypes: its kernels are compiled.)"""
    a, b = randn(257, 95, dtype=torch.float32), randn(95, 129, dtype=torch.float32)
    check(run(ops.matmul, a, b, precision="highest"), a, b, tf32=False)
    check(run(ops.matmul, a, b, precision="medium"), a, b, tf32=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("shape", [(1023, 255, 1025),
                                   pytest.param((4095, 1023, 4097), marks=pytest.mark.cuda_only)],
                         ids=lambda s: "x".join(map(str, s)))  # the large one: 11 s on the host
def test_large_odd_shape(shape, dtype, device, randn):
    m, n, k = shape
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
    check(run(ops.matmul, a, b), a, b)


# ---- layouts ------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["tn", "nt", "tt"])
@pytest.mark.parametrize("shape", [(200, 150, 130), (200, 152, 136)],
                         ids=["pointers", "tma"])  # sm_90a: 16-byte rows take descriptors
def test_transposed_operands(layout, shape, device, randn):
    m, n, k = shape
    a = randn(k, m, dtype=torch.bfloat16).t() if layout[0] == "t" else \
        randn(m, k, dtype=torch.bfloat16)
    b = randn(n, k, dtype=torch.bfloat16).t() if layout[1] == "t" else \
        randn(k, n, dtype=torch.bfloat16)
    check(run(ops.mm, a, b), a, b)


def test_transposed_fp32(device, randn):
    a, b = randn(70, 90, dtype=torch.float32).t(), randn(50, 70, dtype=torch.float32).t()
    check(run(ops.matmul, a, b, precision="high"), a, b, tf32=True)


def test_sliced_operands(device, randn):
    big_a = randn(300, 400, dtype=torch.float16)
    big_b = randn(500, 300, dtype=torch.float16)
    a = big_a[7:207:2, 3:133]  # rows two apart, an odd start
    b = big_b[:390:3, 10:250:2]  # every third row, every other column
    assert not a.is_contiguous() and b.stride(1) == 2
    check(run(ops.mm, a, b), a, b)


# ---- 1-D operands, batches, broadcasting --------------------------------------------------

@pytest.mark.parametrize("shapes", [
    ((130,), (130,)), ((130,), (130, 70)), ((90, 130), (130,)), ((130,), (3, 130, 70)),
    ((3, 90, 130), (130,)), ((4, 90, 130), (4, 130, 70)), ((4, 90, 130), (130, 70)),
    ((2, 1, 90, 130), (3, 130, 70)), ((90, 130), (2, 3, 130, 70)),
], ids=lambda s: "@".join("x".join(map(str, p)) for p in s))
def test_matmul_semantics(shapes, device, randn):
    a, b = randn(*shapes[0], dtype=torch.bfloat16), randn(*shapes[1], dtype=torch.bfloat16)
    out = run(ops.matmul, a, b)
    assert out.shape == torch.matmul(a, b).shape
    check(out, a, b)


def test_bmm_with_transposed_batches(device, randn):
    a = randn(5, 60, 80, dtype=torch.float16)
    b = randn(5, 70, 80, dtype=torch.float16).transpose(1, 2)
    check(run(ops.bmm, a, b), a, b)


def test_broadcast_batch_is_not_copied(device, randn):
    """A broadcast batch (0 stride) goes to the kernel as it is: the result still matches."""
    a = randn(1, 64, 96, dtype=torch.bfloat16).expand(6, 64, 96)
    b = randn(6, 96, 40, dtype=torch.bfloat16)
    check(run(ops.bmm, a, b), a, b)


# ---- addmm --------------------------------------------------------------------------------

@pytest.mark.parametrize("bias_shape, beta, alpha", [
    ((60, 50), 1, 1), ((50,), 0.5, 2.0), ((1, 50), -1, 0.25), ((60, 1), 0.5, 2.0), ((), 2, 1),
], ids=["full", "row", "row-2d", "column", "scalar"])
def test_addmm(bias_shape, beta, alpha, device, randn):
    bias = randn(1, dtype=torch.bfloat16)[0] if bias_shape == () else \
        randn(*bias_shape, dtype=torch.bfloat16)
    a, b = randn(60, 130, dtype=torch.bfloat16), randn(130, 50, dtype=torch.bfloat16)
    out = run(ops.addmm, bias, a, b, beta=beta, alpha=alpha)
    check(out, a, b, bias=bias.expand(60, 50), alpha=alpha, beta=beta)


def test_addmm_beta_zero_ignores_nan_input(device, randn):
    bias = torch.full((90, 70), float("nan"), device=device, dtype=torch.float16)
    a, b = randn(90, 130, dtype=torch.float16), randn(130, 70, dtype=torch.float16)
    out = run(ops.addmm, bias, a, b, beta=0, alpha=1.5)
    check(out, a, b, alpha=1.5)


def test_addmm_into_its_input(device, randn):
    c = randn(64, 48, dtype=torch.float32)
    expected_bias = c.clone()
    a, b = randn(64, 32, dtype=torch.float32), randn(32, 48, dtype=torch.float32)
    out = run(ops.addmm, c, a, b, beta=0.5, out=c)
    assert out is c
    check(out, a, b, bias=expected_bias, beta=0.5)


def test_addmm_fp32_tf32(device, randn):
    bias = randn(70, dtype=torch.float32)
    a, b = randn(90, 130, dtype=torch.float32), randn(130, 70, dtype=torch.float32)
    out = run(ops.addmm, bias, a, b, precision="high")
    check(out, a, b, tf32=True, bias=bias.expand(90, 70), beta=1)


# ---- out=, empty and degenerate shapes ----------------------------------------------------

def test_out_is_written_exactly(device, randn):
    a, b = randn(100, 60, dtype=torch.bfloat16), randn(60, 80, dtype=torch.bfloat16)
    out, buf = poisoned((100, 80), torch.bfloat16, device, guard=1000)
    assert run(ops.matmul, a, b, out=out) is out
    check(out, a, b)
    assert_guard_untouched(buf, 100 * 80)


def test_out_with_a_padded_row_stride(device, randn):
    a, b = randn(100, 60, dtype=torch.float16), randn(60, 80, dtype=torch.float16)
    full = torch.full((100, 96), float("nan"), device=device, dtype=torch.float16)
    out = full[:, 5:85]
    run(ops.mm, a, b, out=out)
    check(out, a, b)
    assert bool(full[:, :5].isnan().all()) and bool(full[:, 85:].isnan().all())


def test_batched_out(device, randn):
    a, b = randn(3, 50, 40, dtype=torch.bfloat16), randn(3, 40, 30, dtype=torch.bfloat16)
    out, buf = poisoned((3, 50, 30), torch.bfloat16, device, guard=100)
    run(ops.bmm, a, b, out=out)
    check(out, a, b)
    assert_guard_untouched(buf, 3 * 50 * 30)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=["bf16", "fp32"])
def test_k_zero(dtype, device, randn):
    a, b = randn(70, 0, dtype=dtype), randn(0, 50, dtype=dtype)
    out, _ = poisoned((70, 50), dtype, device)
    run(ops.mm, a, b, out=out)
    assert bool((out == 0).all())
    bias = randn(50, dtype=dtype)
    out = run(ops.addmm, bias, a, b, beta=2.0, alpha=float("nan"))
    assert torch.equal(out, (2.0 * bias.double()).to(dtype).expand(70, 50))


@pytest.mark.parametrize("shapes", [((0, 30), (30, 20)), ((40, 30), (30, 0)),
                                    ((0, 5, 6), (0, 6, 7))], ids=["m0", "n0", "batch0"])
def test_empty_results(shapes, device, randn):
    a, b = randn(*shapes[0], dtype=torch.float16), randn(*shapes[1], dtype=torch.float16)
    out = run(ops.matmul, a, b)
    assert out.shape == torch.matmul(a, b).shape and out.numel() == 0


@pytest.mark.cuda_only  # 4 GiB of operand: the CPU tier forces INDEX_64 at a small size below
def test_offsets_beyond_2_to_the_31(device, randn):
    """A holds more than 2**31 elements: the last rows need 64-bit offsets (INDEX_64)."""
    free, _ = torch.cuda.mem_get_info()
    if free < 12 * 2 ** 30:
        pytest.skip("needs 12 GiB of free GPU memory")
    m, k, n = 2 ** 31 // 1024 + 300, 1024, 64
    a = torch.empty((m, k), device=device, dtype=torch.float16)
    a[:1000] = randn(1000, k, dtype=torch.float16)
    a[-1000:] = randn(1000, k, dtype=torch.float16)
    b = randn(k, n, dtype=torch.float16)
    out = run(ops.mm, a, b)
    check(out[:1000], a[:1000], b)
    check(out[-1000:], a[-1000:], b)


def test_64_bit_offsets_at_a_small_size(device, randn):
    """The INDEX_64 variant of the kernel (which only operands of 2**31 elements select),
    forced on a small problem with ragged M, N and K."""
    m, n, k = 100, 70, 90
    a, b = randn(m, k, dtype=torch.float16), randn(k, n, dtype=torch.float16)
    c, _ = poisoned((m, n), torch.float16, device)
    matmul_kernel[(2 * 2,)](a, b, c, None, None, None, m, n, k, 0, k, 1, 0, n, 1, 0, n, 1,
                            0, 0, 0, 1, 0, BLOCK_M=64, BLOCK_N=64, BLOCK_K=32, GROUP_M=GROUP_M,
                            EVEN_M=False, EVEN_N=False, EVEN_K=False, INDEX_64=True,
                            INPUT_PRECISION="ieee", num_warps=4)
    synchronize(device)
    check(c, a, b)


# ---- the autotuning space -----------------------------------------------------------------

@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "{BLOCK_M}x{BLOCK_N}x{BLOCK_K}".format(
    **c.kwargs) + f"-w{c.num_warps}-s{c.num_stages}")
@pytest.mark.parametrize("operands", ["pointers", "descriptors", "transposed_descriptors"])
def test_every_config_is_correct(config, operands, device, randn):
    """Each config of the list, launched directly, with A and B read through pointers, through
    tensor descriptors (TMA on sm_90a; rows of 176 elements are 16-byte multiples) or through
    descriptors of A^T and B^T (column-major operands, whose tiles the kernel transposes): a
    fast wrong config must never be tunable."""
    m, n, k = (300, 200, 170) if operands == "pointers" else (304, 200, 176)
    if operands == "transposed_descriptors":
        a = randn(k, m, dtype=torch.bfloat16).t()
        b = randn(n, k, dtype=torch.bfloat16).t()
    else:
        a, b = randn(m, k, dtype=torch.bfloat16), randn(k, n, dtype=torch.bfloat16)
    c, _ = poisoned((m, n), torch.bfloat16, device)
    descriptors = {"a_desc": None, "b_desc": None}
    if operands != "pointers":
        descriptors = {"a_desc": _descriptor_of(a), "b_desc": _descriptor_of(b)}
    strides = dict(stride_am=a.stride(0), stride_ak=a.stride(1), stride_bk=b.stride(0),
                   stride_bn=b.stride(1))
    config.run_pre_hook({**descriptors, **strides})

    def grid(meta):
        return (tessera.cdiv(m, meta["BLOCK_M"]) * tessera.cdiv(n, meta["BLOCK_N"]),)

    try:
        blas._kernel[grid](a, b, c, None, descriptors["a_desc"], descriptors["b_desc"], m, n, k,
                           0, strides["stride_am"], strides["stride_ak"], 0,
                           strides["stride_bk"], strides["stride_bn"], 0, n, 1, 0, 0, 0, 1, 0,
                           INPUT_PRECISION="ieee", **config.all_kwargs())
    except tessera.TesseraError as error:  # e.g. more shared memory than this GPU has
        if error.code == 1:
            pytest.skip(str(error).splitlines()[0])
        raise
    synchronize(device)
    check(c, a, b)


def _descriptor_of(matrix: "torch.Tensor") -> tessera.TensorDescriptor:
    """The descriptor ``blas._descriptor`` makes of ``matrix`` (of the matrix, or of its
    transpose when it is column-major), made whether or not this device's TMA can copy it."""
    if matrix.stride(1) == 1:
        return tessera.TensorDescriptor(matrix, matrix.shape, (matrix.stride(0), 1), [1, 1])
    return tessera.TensorDescriptor(matrix, matrix.shape[::-1], (matrix.stride(1), 1), [1, 1])


def test_autotuning(device, randn, capfd, monkeypatch):
    """Real timing of three configs on a GPU (a few compiles, not the whole list's); on the host
    nothing is timed: the first config that survives pruning runs."""
    monkeypatch.delenv("TESSERA_QUIET", raising=False)
    ops.set_default_max_num_configs(3)
    tuner = blas.tuned_kernel()
    timings = tuner.configs_timings
    a, b = randn(512, 512, dtype=torch.bfloat16), randn(512, 512, dtype=torch.bfloat16)
    check(run(ops.mm, a, b), a, b)
    assert tuner.best_config in CONFIGS
    if device == "cpu":
        assert tuner.configs_timings is timings, "a host launch was timed"
        assert tuner.best_config == CONFIGS[0]  # it fits 512 x 512 and no memory limit applies
        return
    assert 1 < len(tuner.configs_timings) <= 3
    assert all(t > 0 for t in tuner.configs_timings.values())
    keys = dict(tuner.cache)
    timings = tuner.configs_timings
    check(run(ops.mm, b, a), b, a)  # the same key: no new tuning
    assert tuner.cache == keys and tuner.configs_timings is timings
    assert "tessera.autotune: matmul_kernel" in capfd.readouterr().err


def test_settings_override_the_configs(device, randn):
    ops.set_default_num_warps(8)
    ops.set_default_num_stages(2)
    try:
        a, b = randn(96, 64, dtype=torch.float16), randn(64, 80, dtype=torch.float16)
        check(run(ops.mm, a, b), a, b)
        chosen = blas.tuned_kernel().best_config
        assert (chosen.num_warps, chosen.num_stages) == (8, 2)
    finally:
        ops.set_default_num_warps(None)
        ops.set_default_num_stages(None)


# ---- errors -------------------------------------------------------------------------------

def test_argument_errors(device, randn):
    a, b = randn(8, 4, dtype=torch.float16), randn(4, 6, dtype=torch.float16)
    with pytest.raises(ValueError, match="matmul: input is on meta; expected a CUDA or CPU "
                       "tensor"):
        ops.matmul(a.to("meta"), b)
    with pytest.raises(TypeError, match="mm: mat2 has dtype torch.float32 but input has "
                       "torch.float16"):
        ops.mm(a, b.float())
    with pytest.raises(TypeError, match="bmm: input has dtype float64; expected one of "
                       "float16, bfloat16, float32"):
        ops.bmm(a.double()[None], b.double()[None])
    with pytest.raises(TypeError, match="matmul: other must be a tensor"):
        ops.matmul(a, [[1.0]])
    with pytest.raises(ValueError, match=r"mm: input of shape \(8, 4\) and mat2 of shape "
                       r"\(8, 4\) cannot be multiplied"):
        ops.mm(a, a)
    with pytest.raises(ValueError, match=r"mm: mat2 must have 2 dimensions, got shape \(4,\)"):
        ops.mm(a, b[:, 0])
    with pytest.raises(ValueError, match="bmm: input of shape"):
        ops.bmm(a.expand(2, 8, 4), b.expand(3, 4, 6))
    with pytest.raises(ValueError, match="matmul: both arguments need at least 1 dimension"):
        ops.matmul(a[0, 0], b)
    with pytest.raises(ValueError, match=r"matmul: input of shape \(8, 4\) and other of shape "
                       r"\(6,\) cannot be multiplied"):
        ops.matmul(a, b[0])
    with pytest.raises(ValueError, match="the batch dimensions of input"):
        ops.matmul(a.expand(2, 8, 4), b.expand(3, 4, 6))
    with pytest.raises(ValueError, match=r"addmm: input of shape \(5,\) does not broadcast"):
        ops.addmm(randn(5, dtype=torch.float16), a, b)
    with pytest.raises(TypeError, match="addmm: beta must be a real number"):
        ops.addmm(randn(6, dtype=torch.float16), a, b, beta="1")


def test_out_errors(device, randn):
    a, b = randn(8, 4, dtype=torch.float16), randn(4, 6, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"mm: out has shape \(6, 8\); expected \(8, 6\)"):
        ops.mm(a, b, out=torch.empty(6, 8, device=device, dtype=torch.float16))
    with pytest.raises(TypeError, match="matmul: out has dtype torch.float32; expected "
                       "torch.float16"):
        ops.matmul(a, b, out=torch.empty(8, 6, device=device))
    with pytest.raises(ValueError, match=f"mm: out is on meta; expected {a.device}"):
        ops.mm(a, b, out=torch.empty(8, 6, dtype=torch.float16, device="meta"))
    with pytest.raises(ValueError, match="out has elements that share memory"):
        ops.mm(a, b, out=torch.empty(1, 6, device=device, dtype=torch.float16).expand(8, 6))
    with pytest.raises(ValueError, match="mm: out overlaps input"):
        ops.mm(a, torch.eye(4, device=device, dtype=torch.float16), out=a)
    buffer = torch.zeros(8, 6, device=device, dtype=torch.float16)
    with pytest.raises(ValueError, match="addmm: out overlaps input"):
        ops.addmm(buffer[0], a, b, out=buffer)  # a row of out, broadcast as the input


@pytest.mark.cuda_only
def test_cuda_and_cpu_tensors_do_not_mix(device, randn):
    a = randn(8, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match="mm: mat2 is on cpu but input is on cuda:0"):
        ops.mm(a, torch.ones(4, 6, dtype=torch.float16))
    with pytest.raises(ValueError, match="mm: out is on cpu; expected cuda:0"):
        ops.mm(a, a.t(), out=torch.empty(8, 8, dtype=torch.float16))


@pytest.mark.cuda_only
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_mixed_devices(device, randn):
    a = randn(8, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match="mm: mat2 is on cuda:1 but input is on cuda:0"):
        ops.mm(a, torch.ones(4, 6, device="cuda:1", dtype=torch.float16))
