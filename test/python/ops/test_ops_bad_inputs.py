"""A bad-input sweep of the public op API (``specs/ops.md``, "Errors"): every public function of
``tessera.ops`` and ``tessera.ops.rwkv`` called with arguments it must refuse, each case checking
that the op raises a ValueError / TypeError / NotImplementedError whose message names the op,
the argument and what was expected.

Covered, op by op where it applies:
- element-wise ops (unary, binary, comparisons, bitwise, clamp, activations, dropout),
  ``softmax``, ``layer_norm``, ``rms_norm``, ``matmul`` / ``mm`` / ``bmm`` / ``addmm``,
  ``rotary_position_embedding``, ``scaled_dot_product_attention`` (with the ``present_*`` slot
  write), ``flash_attn_func``, ``flash_attn_varlen_func``, ``flash_attn_with_kvcache``,
  ``rwkv.wkv4`` (with a state), ``rwkv.wkv7``, ``rwkv.wkv7s``, ``rwkv.set_backend`` and the
  ``set_default_*`` settings;
- wrong dtypes, wrong ranks, shapes that do not match or broadcast, a last dimension (or an
  in-place buffer) that is not contiguous where the op needs it, stride-0 (expanded) outputs and
  in-place buffers, outputs overlapping an input (and KV caches overlapping each other or the
  rows appended to them), tensors on the ``meta`` device (and, on CUDA
  hosts only, tensors on the CPU beside CUDA tensors), non-tensor arguments, attributes of the
  wrong type (eps, normalized_shape, dim, dtype, scale, causal flags, window sizes, backends,
  decays...), empty tensors where a size must be positive (head dims, head sizes, cu_seqlens),
  sizes of 2**31 and more expressed without memory (expanded stride-0 views, an overlapping
  ``as_strided`` view, huge Python ints), and NaN, negative or out-of-range attributes.

Every tensor that the op could write (``out=``, in-place inputs, KV caches, recurrent states) is
filled with a sentinel or random values first and must be unchanged after the error.

Bad input must be refused before any kernel is compiled or launched: for the duration of each
case every kernel launch (JIT, autotuned, heuristics and NVRTC kernels) raises
``KernelLaunched``, so an op that accepts bad input fails its case at once, without compiling or
running anything (which also keeps the sweep fast and never lets a kernel run on bad input).

A case that an op does not handle yet can be written with the error it should give and
``xfail=`` the reason (what happens instead): it is then marked ``xfail(strict=True)``, so that
it fails once the op is fixed and the mark must go. No case is marked today.
"""
import functools

import op_helpers
import pytest

torch = op_helpers.require_torch()

import tessera.ops as ops  # noqa: E402
import tessera.ops.rwkv as rwkv  # noqa: E402
from tessera.runtime.autotuner import Autotuner, Heuristics  # noqa: E402
from tessera.runtime.cuda_source import CudaKernel  # noqa: E402
from tessera.runtime.jit_function import JITFunction  # noqa: E402

CUDA_ONLY = pytest.mark.cuda_only
BF16, F32 = torch.bfloat16, torch.float32
I32, I64 = torch.int32, torch.int64
NAN = float("nan")
BIG = 2 ** 31  # the first size that a 32-bit signed index cannot hold
TENSOR = r"must be a tensor \(a torch\.Tensor, or an object with __dlpack__"


# ==== the harness ================================================================================
class KernelLaunched(AssertionError):
    """An op launched a kernel on input it should have refused."""


@pytest.fixture(autouse=True)
def no_kernel_launches(monkeypatch):
    """Every kernel launch raises KernelLaunched for the duration of the case."""
    def refuse(self, *args, **kwargs):
        raise KernelLaunched(f"kernel {getattr(self, '__name__', self)!s} launched: the op "
                             "accepted the input")
    monkeypatch.setattr(JITFunction, "__getitem__", refuse)
    monkeypatch.setattr(Autotuner, "run", refuse)
    monkeypatch.setattr(Heuristics, "run", refuse)
    monkeypatch.setattr(CudaKernel, "__getitem__", refuse)
    monkeypatch.setattr(CudaKernel, "run", refuse)


class Inputs:
    """Tensors for one case on the test's device, and the ones the op must leave unchanged."""

    def __init__(self, device):
        self.device = torch.device(device)
        self._gen = torch.Generator().manual_seed(0x7E55E7A)
        self._watched = []

    def randn(self, *shape, dtype=F32, device=None):
        x = torch.randn(shape, generator=self._gen).to(dtype)
        return x.to(device or self.device)

    def f32(self, *shape, device=None):
        return self.randn(*shape, device=device)

    def bf16(self, *shape, device=None):
        return self.randn(*shape, dtype=BF16, device=device)

    def ints(self, *shape, dtype=I32, device=None):
        x = torch.randint(-5, 6, shape, generator=self._gen).to(dtype)
        return x.to(device or self.device)

    def bools(self, *shape):
        return self.ints(*shape) > 0

    def tensor(self, values, dtype=I32, device=None):
        return torch.tensor(values, dtype=dtype, device=device or self.device)

    def meta(self, *shape, dtype=F32):
        return torch.empty(shape, dtype=dtype, device="meta")

    def expanded(self, base, shape, dtype=F32):
        """A stride-0 view of ``shape`` over a tensor of shape ``base`` (no memory of its own)."""
        return torch.zeros(base, dtype=dtype, device=self.device).expand(*shape)

    def watch(self, tensor):
        """``tensor`` must hold the same values after the call."""
        self._watched.append((tensor, tensor.clone()))
        return tensor

    def sentinel(self, *shape, dtype=F32, device=None):
        """A watched output buffer filled with a sentinel value."""
        value = True if dtype == torch.bool else -768.0 if dtype.is_floating_point else 77
        return self.watch(torch.full(shape, value, dtype=dtype, device=device or self.device))

    def check_untouched(self):
        for tensor, before in self._watched:
            assert torch.equal(tensor, before), "a tensor was written although the op failed"


def call(fn, *args, **kwargs):
    return functools.partial(fn, *args, **kwargs)


def case(name, make, error, match, xfail=None, cuda_only=False):
    """A parameter: ``make(inputs)`` builds the arguments and returns the call, which must raise
    ``error`` with a message matching ``match``. ``xfail``: why the op does not, today."""
    marks = [CUDA_ONLY] if cuda_only else []
    if xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=xfail))
    return pytest.param(make, error, match, id=name, marks=marks)


def attribute_cases(op, make, rows):
    """A case per row ``(name, kwargs, error, match)``: ``make(t, **kwargs)`` builds the call,
    which must raise ``error`` with a message matching ``f"{op}: {match}"``."""
    return [case(name, lambda t, kwargs=kwargs: make(t, **kwargs), error, rf"{op}: {match}")
            for name, kwargs, error, match in rows]


def run_case(make, error, match, device):
    t = Inputs(device)
    fn = make(t)
    with pytest.raises(error, match=match):
        fn()
        op_helpers.synchronize(device)
    t.check_untouched()


# ==== element-wise ===============================================================================
UNARY = ["exp", "rsqrt", "sin", "cos", "sigmoid", "tanh", "abs", "neg"]
BINARY = ["add", "sub", "mul", "div", "pow", "eq", "ne", "lt", "le", "gt", "ge", "bitwise_and",
          "bitwise_or"]
COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
BITWISE = {"bitwise_and", "bitwise_or"}


def _binary_operands(t, name):
    if name in BITWISE:
        return t.ints(4, 8), t.ints(3), I32
    return t.f32(4, 8), t.f32(3), torch.bool if name in COMPARISONS else F32


def _unary_cases():
    """Half the unary ops get a list for input, the other half an out= of the wrong shape."""
    cases = []
    for i, name in enumerate(UNARY):
        op = getattr(ops, name)
        if i % 2 == 0:
            cases.append(case(f"{name}-input_list", lambda t, op=op: call(op, [1.0, 2.0]),
                              TypeError, rf"{name}: input {TENSOR}.*got list"))
        else:
            cases.append(case(f"{name}-out_wrong_shape", lambda t, op=op: call(
                op, t.f32(4, 8), out=t.sentinel(8, 4)), ValueError,
                rf"{name}: out has shape \(8, 4\); expected \(4, 8\)"))
    return cases


def _binary_cases():
    cases = []
    for name in BINARY:
        if name in ("ne", "le", "ge", "bitwise_or"):  # like eq, lt, gt and bitwise_and
            continue
        op = getattr(ops, name)
        second = "exponent" if name == "pow" else "other"

        def no_broadcast(t, op=op, name=name):
            x, y, result = _binary_operands(t, name)
            return call(op, x, y, out=t.sentinel(4, 8, dtype=result))

        cases.append(case(f"{name}-shapes_do_not_broadcast", no_broadcast, ValueError,
                          rf"{name}: the shapes of input \(4, 8\), {second} \(3,\) do not "
                          "broadcast together"))
    for name in ("add", "mul", "eq", "bitwise_and"):
        op = getattr(ops, name)
        cases.append(case(f"{name}-other_str", lambda t, op=op, name=name: call(
            op, _binary_operands(t, name)[0], "1"), TypeError,
            rf"{name}: other {TENSOR}.*got str"))
    for name in ("add", "mul"):
        op = getattr(ops, name)
        cases.append(case(f"{name}-other_on_meta", lambda t, op=op: call(
            op, t.f32(4, 8), t.meta(4, 8)), ValueError,
            rf"{name}: other is on meta; expected a CUDA or CPU tensor"))
    return cases


ELEMENTWISE = _unary_cases() + _binary_cases() + [
    # dtypes
    case("exp-complex64", lambda t: call(ops.exp, t.f32(3).to(torch.complex64)), TypeError,
         r"exp: input has dtype complex64; expected one of float16, bfloat16, float32"),
    case("abs-uint16", lambda t: call(ops.abs, t.ints(3, dtype=torch.uint16)), TypeError,
         r"abs: input has dtype uint16; expected one of"),
    case("add-float8_other", lambda t: call(ops.add, t.f32(3), t.f32(3).to(
        torch.float8_e4m3fn)), TypeError, r"add: other has dtype float8_e4m3fn; expected one of"),
    case("abs-bool", lambda t: call(ops.abs, t.bools(3)), TypeError,
         r"abs: input has dtype bool; expected a number type"),
    case("bitwise_not-float", lambda t: call(ops.bitwise_not, t.f32(3), out=t.sentinel(3)),
         TypeError, r"bitwise_not: input has dtype float32; expected an integer or bool dtype"),
    case("bitwise_and-float_input", lambda t: call(ops.bitwise_and, t.f32(3), t.ints(3)),
         TypeError, r"bitwise_and: input has dtype float32; expected integer or bool operands"),
    case("bitwise_or-float_other", lambda t: call(ops.bitwise_or, t.ints(3), t.f32(3)),
         TypeError, r"bitwise_or: other has dtype float32; expected integer or bool"),
    case("bitwise_and-float_scalar", lambda t: call(ops.bitwise_and, t.ints(3), 0.5), TypeError,
         r"bitwise_and: other is the float 0\.5; expected integer or bool operands"),
    case("sub-bools", lambda t: call(ops.sub, t.bools(3), t.bools(3)), TypeError,
         r"sub: subtracting bools is not supported"),
    case("pow-bools", lambda t: call(ops.pow, t.bools(3), t.bools(3)), TypeError,
         r"pow: input has dtype bool; expected numbers"),
    case("div-bools_floor", lambda t: call(ops.div, t.bools(3), t.bools(3),
                                           rounding_mode="floor"), TypeError,
         r"div: input has dtype bool; expected numbers for rounding_mode='floor'"),
    case("gelu-int32", lambda t: call(ops.gelu, t.ints(3)), TypeError,
         r"gelu: input has dtype int32; expected a floating-point dtype"),
    # non-tensor operands and devices
    case("add-number_input", lambda t: call(ops.add, 1, t.f32(3)), TypeError,
         r"add: input must be a tensor, got int"),
    case("isnan-list", lambda t: call(ops.isnan, [1.0]), TypeError,
         rf"isnan: input {TENSOR}.*got list"),
    case("isinf-meta", lambda t: call(ops.isinf, t.meta(4)), ValueError,
         r"isinf: input is on meta; expected a CUDA or CPU tensor"),
    case("sigmoid-meta_2**40", lambda t: call(ops.sigmoid, t.meta(2 ** 40)), ValueError,
         r"sigmoid: input is on meta; expected a CUDA or CPU tensor"),
    case("add-other_on_cpu", lambda t: call(ops.add, t.f32(4, 8), t.f32(8, device="cpu"),
                                            out=t.sentinel(4, 8)), ValueError,
         r"add: other is on cpu but input is on cuda", cuda_only=True),
    # out=
    case("exp-out_int32", lambda t: call(ops.exp, t.f32(4), out=t.sentinel(4, dtype=I32)),
         TypeError, r"exp: out has dtype torch\.int32, but the result has dtype torch\.float32, "
                    "which cannot be cast to it"),
    case("exp-out_meta", lambda t: call(ops.exp, t.f32(4), out=t.meta(4)), ValueError,
         r"exp: out is on meta; expected (cpu|cuda)"),
    case("mul-out_expanded", lambda t: call(ops.mul, t.f32(4, 8), 2.0, out=t.sentinel(
        1, 8).expand(4, 8)), ValueError,
         r"mul: out has elements that share memory \(a 0 stride\)"),
    case("exp-out_overlaps_input", lambda t: (lambda buf: call(
        ops.exp, buf[:8], out=buf[4:12]))(t.sentinel(16)), ValueError,
         r"exp: out overlaps input in memory; expected input itself or separate from it"),
    case("add-out_on_cpu", lambda t: call(ops.add, t.f32(4), 1.0, out=t.sentinel(
        4, device="cpu")), ValueError, r"add: out is on cpu; expected cuda", cuda_only=True),
    # attributes
    case("add-alpha_str", lambda t: call(ops.add, t.f32(3), t.f32(3), alpha="2"), TypeError,
         r"add: alpha must be a real number, got str"),
    case("sub-alpha_float_for_ints", lambda t: call(ops.sub, t.ints(3), t.ints(3), alpha=0.5),
         TypeError, r"sub: alpha is a float but the result has the integral dtype int32"),
    case("pow-negative_int_exponent", lambda t: call(ops.pow, t.ints(3), -1), ValueError,
         r"pow: exponent is -1; integers to negative integer powers are not allowed"),
    case("div-rounding_mode_round", lambda t: call(ops.div, t.f32(3), 2.0,
                                                   rounding_mode="round"), ValueError,
         r"div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"),
    case("clamp-no_bounds", lambda t: call(ops.clamp, t.f32(3), out=t.sentinel(3)), ValueError,
         r"clamp: at least one of min and max must not be None"),
    case("clamp-min_str", lambda t: call(ops.clamp, t.f32(3), min="0"), TypeError,
         rf"clamp: min {TENSOR}.*got str"),
    case("clamp-max_does_not_broadcast", lambda t: call(ops.clamp, t.f32(4, 8), max=t.f32(3),
                                                        out=t.sentinel(4, 8)), ValueError,
         r"clamp: the shapes of input \(4, 8\), max \(3,\) do not broadcast together"),
    case("gelu-approximate_erf", lambda t: call(ops.gelu, t.f32(3), approximate="erf"),
         ValueError, r"gelu: approximate must be 'none' or 'tanh', got 'erf'"),
    case("dropout-p_1.5", lambda t: call(ops.dropout, t.f32(3), p=1.5), ValueError,
         r"dropout: p must be a number in \[0, 1\], got 1\.5"),
    case("dropout-p_nan", lambda t: call(ops.dropout, t.f32(3), p=NAN), ValueError,
         r"dropout: p must be a number in \[0, 1\], got nan"),
    case("dropout-p_str", lambda t: call(ops.dropout, t.f32(3), p="0.5"), TypeError,
         r"dropout: p must be a number in \[0, 1\], got '0\.5'"),
    case("dropout-training_str", lambda t: call(ops.dropout, t.watch(t.f32(8)),
                                                training="False", inplace=True), TypeError,
         r"dropout: training must be a bool"),
    case("relu-inplace_str", lambda t: call(ops.relu, t.watch(t.f32(8)), inplace="no"),
         TypeError, r"relu: inplace must be a bool"),
    case("silu-inplace_int", lambda t: call(ops.silu, t.watch(t.f32(8)), inplace=1),
         TypeError, r"silu: inplace must be a bool, got int"),
    case("relu-inplace_expanded", lambda t: call(ops.relu, t.sentinel(1).expand(8),
                                                 inplace=True), ValueError,
         r"relu: input has elements that share memory"),
    case("silu-inplace_expanded", lambda t: call(ops.silu, t.sentinel(1).expand(8),
                                                 inplace=True), ValueError,
         r"silu: input has elements that share memory"),
    case("dropout-inplace_expanded", lambda t: call(ops.dropout, t.sentinel(1).expand(8),
                                                    inplace=True), ValueError,
         r"dropout: input has elements that share memory"),
    # sizes past 2**31, without memory
    case("add-2**33_does_not_broadcast", lambda t: call(
        ops.add, t.expanded((1,), (2 ** 33,)), t.f32(3), out=t.sentinel(3)), ValueError,
        r"add: the shapes of input \(8589934592,\), other \(3,\) do not broadcast"),
    case("add-2**33_out_wrong_shape", lambda t: call(
        ops.add, t.expanded((1,), (2 ** 33,)), 1.0, out=t.sentinel(3)), ValueError,
        r"add: out has shape \(3,\); expected \(8589934592,\)"),
]


@pytest.mark.parametrize("make,error,match", ELEMENTWISE)
def test_elementwise(make, error, match, device):
    run_case(make, error, match, device)


# ==== softmax and the norms ======================================================================
FLOATS_ONLY = r"expected one of float16, bfloat16, float32"


def _bad_eps_cases(name):
    """A NaN and a negative eps for the norm ``name``, both refused (PyTorch takes them)."""
    op = getattr(ops, name)
    return [case(f"{name}-eps_{label}", lambda t, eps=eps: call(op, t.f32(4, 8), (8,), eps=eps),
                 ValueError, rf"{name}: eps is {shown}; expected a finite number >= 0")
            for label, eps, shown in (("nan", NAN, "nan"), ("negative", -1.0, r"-1\.0"))]


def _strided_rows(t):
    """(2, 3, 4, 5) whose normalized dims (3, 4, 5) merge into three strided groups."""
    return t.f32(2, 6, 8, 10)[:, ::2, ::2, ::2]


NORMALIZATION = [
    # softmax
    case("softmax-input_list", lambda t: call(ops.softmax, [1.0, 2.0], 0), TypeError,
         rf"softmax: input {TENSOR}.*got list"),
    case("softmax-input_meta", lambda t: call(ops.softmax, t.meta(4, 8), -1), ValueError,
         r"softmax: input is on meta; expected a CUDA or CPU tensor"),
    case("softmax-float64", lambda t: call(ops.softmax, t.f32(4).double(), 0), TypeError,
         rf"softmax: input has dtype float64; {FLOATS_ONLY}"),
    case("softmax-int32", lambda t: call(ops.softmax, t.ints(4), 0), TypeError,
         rf"softmax: input has dtype int32; {FLOATS_ONLY}"),
    case("softmax-dim_str", lambda t: call(ops.softmax, t.f32(4, 8), "1"), TypeError,
         r"softmax: dim must be an int, got str"),
    case("softmax-dim_float", lambda t: call(ops.softmax, t.f32(4, 8), 1.0), TypeError,
         r"softmax: dim must be an int, got float"),
    case("softmax-dim_2_of_2d", lambda t: call(ops.softmax, t.f32(4, 8), 2), ValueError,
         r"softmax: dim 2 is out of range for input with 2 dimensions; expected -2 <= dim < 2"),
    case("softmax-dim_1_of_0d", lambda t: call(ops.softmax, t.f32(), 1), ValueError,
         r"softmax: dim 1 is out of range for input with 0 dimensions"),
    case("softmax-dtype_int32", lambda t: call(ops.softmax, t.f32(4), 0, dtype=I32), TypeError,
         r"softmax: dtype is torch\.int32; expected one of torch\.float16"),
    case("softmax-dtype_str", lambda t: call(ops.softmax, t.f32(4), 0, dtype="float32"),
         TypeError, r"softmax: dtype must be a torch\.dtype.*got str"),
    case("softmax-2**33_dim_out_of_range", lambda t: call(
        ops.softmax, t.expanded((1,), (2 ** 33,)), 1), ValueError,
        r"softmax: dim 1 is out of range for input with 1 dimensions"),
    # layer_norm
    case("layer_norm-input_meta", lambda t: call(ops.layer_norm, t.meta(4, 8), (8,)),
         ValueError, r"layer_norm: input is on meta; expected a CUDA or CPU tensor"),
    case("layer_norm-float64", lambda t: call(ops.layer_norm, t.f32(4, 8).double(), (8,)),
         TypeError, rf"layer_norm: input has dtype float64; {FLOATS_ONLY}"),
    case("layer_norm-0d_input", lambda t: call(ops.layer_norm, t.f32(), (1,)), ValueError,
         r"layer_norm: normalized_shape \(1,\) does not match the trailing dims of input of "
         r"shape \(\)"),
    case("layer_norm-weight_list", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,), [1.0] * 8),
         TypeError, rf"layer_norm: weight {TENSOR}.*got list"),
    case("layer_norm-weight_meta", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,),
                                                  t.meta(8)), ValueError,
         r"layer_norm: weight is on meta; expected a CUDA or CPU tensor"),
    case("layer_norm-bias_meta", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,), None,
                                                t.meta(8)), ValueError,
         r"layer_norm: bias is on meta; expected a CUDA or CPU tensor"),
    case("layer_norm-weight_on_cpu", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,),
                                                    t.f32(8, device="cpu")), ValueError,
         r"layer_norm: weight is on cpu but input is on cuda", cuda_only=True),
    case("layer_norm-weight_int32", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,),
                                                   t.ints(8)), TypeError,
         rf"layer_norm: weight has dtype int32; {FLOATS_ONLY}"),
    case("layer_norm-weight_wrong_shape", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,),
                                                         t.f32(4)), ValueError,
         r"layer_norm: weight has shape \(4,\); expected normalized_shape \(8,\)"),
    case("layer_norm-bias_2d", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,), None,
                                              t.f32(1, 8)), ValueError,
         r"layer_norm: bias has shape \(1, 8\); expected normalized_shape \(8,\)"),
    case("layer_norm-shape_mismatch", lambda t: call(ops.layer_norm, t.f32(4, 8), (4,)),
         ValueError, r"layer_norm: normalized_shape \(4,\) does not match the trailing dims of "
                     r"input of shape \(4, 8\); expected input of shape \(\*, 4\)"),
    case("layer_norm-shape_negative", lambda t: call(ops.layer_norm, t.f32(4, 8), -1),
         ValueError, r"layer_norm: normalized_shape \(-1,\) does not match"),
    case("layer_norm-shape_empty", lambda t: call(ops.layer_norm, t.f32(4, 8), ()), ValueError,
         r"layer_norm: normalized_shape is empty; expected at least one dim"),
    case("layer_norm-shape_float", lambda t: call(ops.layer_norm, t.f32(4, 8), 8.0), TypeError,
         r"layer_norm: normalized_shape must be an int or a sequence of ints, got float"),
    case("layer_norm-shape_str", lambda t: call(ops.layer_norm, t.f32(4, 8), "8"), TypeError,
         r"layer_norm: normalized_shape must be an int or a sequence of ints, got '8'"),
    case("layer_norm-shape_bools", lambda t: call(ops.layer_norm, t.f32(4, 8), (True,)),
         TypeError, r"layer_norm: normalized_shape must be an int or a sequence of ints, got "
                    r"\(True,\)"),
    case("layer_norm-eps_str", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,), eps="1e-5"),
         TypeError, r"layer_norm: eps must be a real number, got str"),
    case("layer_norm-eps_None", lambda t: call(ops.layer_norm, t.f32(4, 8), (8,), eps=None),
         TypeError, r"layer_norm: eps must be a real number, got NoneType"),
    *_bad_eps_cases("layer_norm"),
    case("layer_norm-three_strided_groups", lambda t: call(ops.layer_norm, _strided_rows(t),
                                                           (3, 4, 5)), ValueError,
         r"layer_norm: the normalized dims of input \(strides \(160, 20, 2\)\) and of "
         r"weight/bias merge into more than two strided groups"),
    case("layer_norm-2**31_rows_weight_mismatch", lambda t: call(
        ops.layer_norm, t.expanded((1, 8), (BIG, 8)), (8,), t.f32(4)), ValueError,
        r"layer_norm: weight has shape \(4,\); expected normalized_shape \(8,\)"),
    # rms_norm
    case("rms_norm-int64", lambda t: call(ops.rms_norm, t.ints(4, 8, dtype=I64), (8,)),
         TypeError, rf"rms_norm: input has dtype int64; {FLOATS_ONLY}"),
    case("rms_norm-weight_meta", lambda t: call(ops.rms_norm, t.f32(4, 8), (8,), t.meta(8)),
         ValueError, r"rms_norm: weight is on meta; expected a CUDA or CPU tensor"),
    case("rms_norm-weight_wrong_shape", lambda t: call(ops.rms_norm, t.f32(4, 8), (8,),
                                                       t.f32(2, 4)), ValueError,
         r"rms_norm: weight has shape \(2, 4\); expected normalized_shape \(8,\)"),
    case("rms_norm-shape_mismatch", lambda t: call(ops.rms_norm, t.f32(4, 8), (4, 8, 1)),
         ValueError, r"rms_norm: normalized_shape \(4, 8, 1\) does not match"),
    *_bad_eps_cases("rms_norm"),
]


@pytest.mark.parametrize("make,error,match", NORMALIZATION)
def test_normalization(make, error, match, device):
    run_case(make, error, match, device)


# ==== matmul, mm, bmm, addmm =====================================================================
def _overlapping_mm(t):
    buf = t.sentinel(64)
    return call(ops.mm, buf[:32].view(4, 8), t.f32(8, 6), out=buf[8:32].view(4, 6))


def _strided_out_inside_mm_input(t):
    """out, a strided (4, 4) view, within the dense memory of input (4, 8): columns 0-3."""
    a = t.sentinel(4, 8)
    return call(ops.mm, a, t.f32(8, 4), out=a[:, :4])


def _aliased_addmm(t):
    buf = t.sentinel(32)
    mat1 = buf[:16].view(4, 4)
    return call(ops.addmm, t.f32(4, 4), mat1, buf[16:].view(4, 4), out=mat1)


MATMUL = [
    case("matmul-input_meta", lambda t: call(ops.matmul, t.meta(4, 8), t.f32(8, 6)), ValueError,
         r"matmul: input is on meta; expected a CUDA or CPU tensor"),
    case("matmul-int32", lambda t: call(ops.matmul, t.ints(4, 8), t.ints(8, 6)), TypeError,
         rf"matmul: input has dtype int32; {FLOATS_ONLY}"),
    case("matmul-mixed_dtypes", lambda t: call(ops.matmul, t.f32(4, 8), t.bf16(8, 6)), TypeError,
         r"matmul: other has dtype torch\.bfloat16 but input has torch\.float32; expected the "
         "same dtype"),
    case("matmul-0d_input", lambda t: call(ops.matmul, t.f32(), t.f32(8, 6)), ValueError,
         r"matmul: both arguments need at least 1 dimension, got input of shape \(\)"),
    case("matmul-vectors_of_different_length", lambda t: call(ops.matmul, t.f32(8), t.f32(7)),
         ValueError, r"matmul: input of shape \(8,\) and other of shape \(7,\) cannot be "
                     r"multiplied \(8 columns against 7 rows\)"),
    case("matmul-batch_does_not_broadcast", lambda t: call(ops.matmul, t.f32(2, 4, 8),
                                                           t.f32(3, 8, 6)), ValueError,
         r"matmul: the batch dimensions of input \(2, 4, 8\) and other \(3, 8, 6\) do not "
         "broadcast"),
    case("matmul-out_wrong_shape", lambda t: call(ops.matmul, t.f32(4, 8), t.f32(8, 6),
                                                  out=t.sentinel(6, 4)), ValueError,
         r"matmul: out has shape \(6, 4\); expected \(4, 6\)"),
    case("matmul-2**31_rows_out_wrong_shape", lambda t: call(
        ops.matmul, t.expanded((1, 1), (BIG, 8)), t.f32(8, 6), out=t.sentinel(4, 6)),
        ValueError, r"matmul: out has shape \(4, 6\); expected \(2147483648, 6\)"),
    case("mm-input_None", lambda t: call(ops.mm, None, t.f32(8, 6)), TypeError,
         rf"mm: input {TENSOR}.*got NoneType"),
    case("mm-input_3d", lambda t: call(ops.mm, t.f32(1, 4, 8), t.f32(8, 6)), ValueError,
         r"mm: input must have 2 dimensions, got shape \(1, 4, 8\)"),
    case("mm-mat2_1d", lambda t: call(ops.mm, t.f32(4, 8), t.f32(8)), ValueError,
         r"mm: mat2 must have 2 dimensions, got shape \(8,\)"),
    case("mm-inner_mismatch", lambda t: call(ops.mm, t.f32(4, 8), t.f32(4, 6),
                                             out=t.sentinel(4, 6)), ValueError,
         r"mm: input of shape \(4, 8\) and mat2 of shape \(4, 6\) cannot be multiplied"),
    case("mm-empty_inner_mismatch", lambda t: call(ops.mm, t.f32(0, 3), t.f32(4, 2)),
         ValueError, r"mm: input of shape \(0, 3\) and mat2 of shape \(4, 2\) cannot be "
                     "multiplied"),
    case("mm-2**31_inner_mismatch", lambda t: call(
        ops.mm, t.expanded((1, 1), (4, BIG)), t.expanded((1, 1), (BIG + 1, 6)),
        out=t.sentinel(4, 6)), ValueError,
        r"mm: input of shape \(4, 2147483648\) and mat2 of shape \(2147483649, 6\) cannot be "
        "multiplied"),
    case("mm-out_meta", lambda t: call(ops.mm, t.f32(4, 8), t.f32(8, 6), out=t.meta(4, 6)),
         ValueError, r"mm: out is on meta; expected (cpu|cuda)"),
    case("mm-out_expanded", lambda t: call(ops.mm, t.f32(4, 8), t.f32(8, 6), out=t.sentinel(
        1, 6).expand(4, 6)), ValueError, r"mm: out has elements that share memory"),
    case("mm-out_overlaps_input", _overlapping_mm, ValueError,
         r"mm: out overlaps input in memory; expected a separate output"),
    case("mm-strided_out_inside_input", _strided_out_inside_mm_input, ValueError,
         r"mm: out overlaps input in memory; expected a separate output"),
    case("mm-mat2_on_cpu", lambda t: call(ops.mm, t.f32(4, 8), t.f32(8, 6, device="cpu")),
         ValueError, r"mm: mat2 is on cpu but input is on cuda", cuda_only=True),
    case("mm-out_on_cpu", lambda t: call(ops.mm, t.f32(4, 8), t.f32(8, 6), out=t.sentinel(
        4, 6, device="cpu")), ValueError, r"mm: out is on cpu; expected cuda", cuda_only=True),
    case("bmm-batch_mismatch", lambda t: call(ops.bmm, t.f32(2, 4, 8), t.f32(3, 8, 6),
                                              out=t.sentinel(2, 4, 6)), ValueError,
         r"bmm: input of shape \(2, 4, 8\) and mat2 of shape \(3, 8, 6\) cannot be multiplied "
         r"\(expected \(b, m, k\) and \(b, k, n\)\)"),
    case("bmm-input_2d", lambda t: call(ops.bmm, t.f32(4, 8), t.f32(8, 6)), ValueError,
         r"bmm: input must have 3 dimensions, got shape \(4, 8\)"),
    case("bmm-out_wrong_shape", lambda t: call(ops.bmm, t.f32(2, 4, 8), t.f32(2, 8, 6),
                                               out=t.sentinel(4, 6)), ValueError,
         r"bmm: out has shape \(4, 6\); expected \(2, 4, 6\)"),
    case("addmm-input_does_not_broadcast", lambda t: call(ops.addmm, t.f32(5), t.f32(4, 8),
                                                          t.f32(8, 6), out=t.sentinel(4, 6)),
         ValueError, r"addmm: input of shape \(5,\) does not broadcast to the product's shape "
                     r"\(4, 6\)"),
    case("addmm-input_float16", lambda t: call(ops.addmm, t.f32(6).half(), t.f32(4, 8),
                                               t.f32(8, 6)), TypeError,
         r"addmm: mat1 has dtype torch\.float32 but input has torch\.float16"),
    case("addmm-mat1_1d", lambda t: call(ops.addmm, t.f32(6), t.f32(8), t.f32(8, 6)),
         ValueError, r"addmm: mat1 must have 2 dimensions, got shape \(8,\)"),
    case("addmm-beta_str", lambda t: call(ops.addmm, t.f32(6), t.f32(4, 8), t.f32(8, 6),
                                          beta="1"), TypeError,
         r"addmm: beta must be a real number, got str"),
    case("addmm-alpha_None", lambda t: call(ops.addmm, t.f32(6), t.f32(4, 8), t.f32(8, 6),
                                            alpha=None), TypeError,
         r"addmm: alpha must be a real number, got NoneType"),
    case("addmm-out_is_mat1", _aliased_addmm, ValueError,
         r"addmm: out overlaps mat1 in memory; expected a separate output"),
]


@pytest.mark.parametrize("make,error,match", MATMUL)
def test_matmul(make, error, match, device):
    run_case(make, error, match, device)


# ==== rotary_position_embedding ==================================================================
ROPE_OP = "rotary_position_embedding"


def rope(t, x=None, sin=None, cos=None, **kwargs):
    """A call of the op on x (2, 5, 3, 8) fp32 with (5, 4) tables unless given."""
    x = t.f32(2, 5, 3, 8) if x is None else x
    sin = t.f32(5, 4) if sin is None else sin
    cos = t.f32(5, 4) if cos is None else cos
    return call(ops.rotary_position_embedding, x, sin, cos, **kwargs)


def _rope_too_many_programs(t):
    """An in-place input of (2**20, 2**12, 1, 2) over 8 MB (rows overlap): 2**32 programs."""
    buf = t.watch(t.f32(2 ** 21 + 8))
    x = buf.as_strided((2 ** 20, 2 ** 12, 1, 2), (1, 1, 2, 1))
    table = t.expanded((1, 1), (2 ** 12, 1))
    return call(ops.rotary_position_embedding, x, table, table, inplace=True)


ROPE = [
    case("input_3d", lambda t: rope(t, x=t.f32(5, 3, 8)), ValueError,
         rf"{ROPE_OP}: input must have 4 dimensions \(B, S, H, D\), got shape \(5, 3, 8\)"),
    case("input_odd_head_dim", lambda t: rope(t, x=t.f32(2, 5, 3, 7), sin=t.f32(5, 3),
                                              cos=t.f32(5, 3)), ValueError,
         rf"{ROPE_OP}: the last dimension of input \(D = 7\) must be even"),
    case("input_int32", lambda t: rope(t, x=t.ints(2, 5, 3, 8)), TypeError,
         rf"{ROPE_OP}: input has dtype int32; {FLOATS_ONLY}"),
    case("input_float64", lambda t: rope(t, x=t.f32(2, 5, 3, 8).double()), TypeError,
         rf"{ROPE_OP}: input has dtype float64; {FLOATS_ONLY}"),
    case("input_meta", lambda t: rope(t, x=t.meta(2, 5, 3, 8)), ValueError,
         rf"{ROPE_OP}: input is on meta; expected a CUDA or CPU tensor"),
    case("input_list", lambda t: rope(t, x=[[[[1.0, 2.0]]]]), TypeError,
         rf"{ROPE_OP}: input {TENSOR}.*got list"),
    case("sin_table_rows", lambda t: rope(t, sin=t.f32(4, 4)), ValueError,
         rf"{ROPE_OP}: sin_table has shape \(4, 4\); expected \(S, D/2\) = \(5, 4\)"),
    case("cos_table_columns", lambda t: rope(t, cos=t.f32(5, 3)), ValueError,
         rf"{ROPE_OP}: cos_table has shape \(5, 3\); expected \(S, D/2\) = \(5, 4\)"),
    case("sin_table_empty", lambda t: rope(t, sin=t.f32(0, 4)), ValueError,
         rf"{ROPE_OP}: sin_table has shape \(0, 4\); expected"),
    case("fp16_tables_for_fp32_input", lambda t: rope(t, sin=t.f32(5, 4).half(),
                                                      cos=t.f32(5, 4).half()), TypeError,
         rf"{ROPE_OP}: sin_table has dtype float16; expected one of float32"),
    case("table_dtypes_differ", lambda t: rope(t, x=t.bf16(2, 5, 3, 8), cos=t.bf16(5, 4)),
         TypeError, rf"{ROPE_OP}: sin_table has dtype torch\.float32 but cos_table has "
                    r"torch\.bfloat16; expected the same dtype"),
    case("cos_table_meta", lambda t: rope(t, cos=t.meta(5, 4)), ValueError,
         rf"{ROPE_OP}: cos_table is on meta; expected a CUDA or CPU tensor"),
    case("sin_table_list", lambda t: rope(t, sin=[[0.0] * 4] * 5), TypeError,
         rf"{ROPE_OP}: sin_table {TENSOR}.*got list"),
    case("sin_table_on_cpu", lambda t: rope(t, sin=t.f32(5, 4, device="cpu")), ValueError,
         rf"{ROPE_OP}: sin_table is on cpu but input is on cuda", cuda_only=True),
    case("inplace_expanded_input", lambda t: rope(t, x=t.sentinel(1, 5, 1, 8).expand(
        2, 5, 3, 8), inplace=True), ValueError,
        rf"{ROPE_OP}: input has elements that share memory \(a 0 stride\); inplace=True "
        "needs distinct elements"),
    case("inplace_2**32_programs", _rope_too_many_programs, ValueError,
         rf"{ROPE_OP}: input of shape \(1048576, 4096, 1, 2\) needs 4294967296 programs, more "
         r"than a launch's 2\*\*31 - 1"),
    case("interleaved_str", lambda t: rope(t, interleaved="False"), TypeError,
         rf"{ROPE_OP}: interleaved must be a bool"),
    case("inplace_str", lambda t: rope(t, x=t.watch(t.f32(2, 5, 3, 8)), inplace="False"),
         TypeError, rf"{ROPE_OP}: inplace must be a bool"),
]


@pytest.mark.parametrize("make,error,match", ROPE)
def test_rope(make, error, match, device):
    run_case(make, error, match, device)


# ==== scaled_dot_product_attention ===============================================================
SDPA_OP = "scaled_dot_product_attention"


def sdpa(t, q=None, k=None, v=None, **kwargs):
    """A call on bf16 (2, 4, 8, 16) query, key and value unless given; key and value are
    watched (the present_* slot write goes into them)."""
    q = t.bf16(2, 4, 8, 16) if q is None else q
    k = t.watch(t.bf16(2, 4, 8, 16)) if k is None else k
    v = t.watch(t.bf16(2, 4, 8, 16)) if v is None else v
    return call(ops.scaled_dot_product_attention, q, k, v, **kwargs)


def _present(t, change):
    """present_* arguments writing the last row of key / value, with ``change`` applied to the
    dict of the four."""
    k, v = t.watch(t.bf16(2, 4, 8, 16)), t.watch(t.bf16(2, 4, 8, 16))
    present = {"present_key": t.bf16(2, 4, 1, 16), "present_value": t.bf16(2, 4, 1, 16),
               "present_key_slot": k[:, :, -1:], "present_value_slot": v[:, :, -1:]}
    change(present, k, v)
    present = {name: value for name, value in present.items() if value is not None}
    return sdpa(t, k=k, v=v, **present)


def _expanded_value_slot(t):
    """present_value_slot in a value expanded over the batch (its batches share each row)."""
    k, v = t.watch(t.bf16(2, 4, 8, 16)), t.watch(t.bf16(1, 4, 8, 16))
    value = v.expand(2, 4, 8, 16)
    return sdpa(t, k=k, v=value, present_key=t.bf16(2, 4, 1, 16),
                present_value=t.bf16(2, 4, 1, 16), present_key_slot=k[:, :, -1:],
                present_value_slot=value[:, :, -1:])


def _kv_pair(t, *shape):
    return t.bf16(*shape), t.bf16(*shape)


PROBABILITY = r"expected a probability in \[0, 1\]"
DROPOUT_P = [  # the dropout_p of scaled_dot_product_attention and of the flash_attn_* functions
    ("dropout_p_1.5", {"dropout_p": 1.5}, ValueError, rf"dropout_p is 1\.5; {PROBABILITY}"),
    ("dropout_p_nan", {"dropout_p": NAN}, ValueError, rf"dropout_p is nan; {PROBABILITY}"),
    ("dropout_p_None", {"dropout_p": None}, TypeError, r"dropout_p must be a real number"),
    ("dropout_p_str", {"dropout_p": "0.1"}, TypeError, r"dropout_p must be a real number"),
]
SDPA_ATTRIBUTES = DROPOUT_P + [
    ("is_causal_str", {"is_causal": "False"}, TypeError, r"is_causal must be a bool"),
    ("scale_nan", {"scale": NAN}, ValueError, r"scale is nan; expected a finite number"),
    ("scale_inf", {"scale": float("inf")}, ValueError, r"scale is inf; expected a finite"),
    ("scale_str", {"scale": "abc"}, TypeError, r"scale must be a real number, got str"),
]

SDPA = attribute_cases(SDPA_OP, sdpa, SDPA_ATTRIBUTES) + [
    case("query_list", lambda t: sdpa(t, q=[1.0]), TypeError,
         rf"{SDPA_OP}: query {TENSOR}.*got list"),
    case("query_meta", lambda t: sdpa(t, q=t.meta(2, 4, 8, 16, dtype=BF16)), ValueError,
         rf"{SDPA_OP}: query is on meta; expected a CUDA or CPU tensor"),
    case("key_on_cpu", lambda t: sdpa(t, k=t.bf16(2, 4, 8, 16, device="cpu")), ValueError,
         rf"{SDPA_OP}: key is on cpu but query is on cuda", cuda_only=True),
    case("query_3d", lambda t: sdpa(t, q=t.bf16(4, 8, 16)), ValueError,
         rf"{SDPA_OP}: query has 3 dimensions; expected 4, \(B, H, L, D\)"),
    case("query_int32", lambda t: sdpa(t, q=t.ints(2, 4, 8, 16)), TypeError,
         rf"{SDPA_OP}: query has dtype int32; {FLOATS_ONLY}"),
    case("key_float16", lambda t: sdpa(t, k=t.bf16(2, 4, 8, 16).half()), TypeError,
         rf"{SDPA_OP}: key has dtype torch\.float16 but query has torch\.bfloat16; expected "
         "the same dtype"),
    case("query_last_dim_strided", lambda t: sdpa(t, q=t.bf16(2, 4, 16, 8).transpose(2, 3)),
         ValueError, rf"{SDPA_OP}: query's last dimension has stride 8; expected it contiguous"),
    case("head_dim_0", lambda t: sdpa(t, *(t.bf16(2, 4, 8, 0) for _ in range(3))), ValueError,
         rf"{SDPA_OP}: query has head dimension 0; expected 1 to 256"),
    case("key_head_dim", lambda t: sdpa(t, k=t.bf16(2, 4, 8, 8)), ValueError,
         rf"{SDPA_OP}: key has head dimension 8 but query has 16; expected them equal"),
    case("value_head_dim", lambda t: sdpa(t, v=t.bf16(2, 4, 8, 8)), NotImplementedError,
         rf"{SDPA_OP}: value's head dimension 8 differs from query's 16"),
    case("key_batch", lambda t: sdpa(t, None, *_kv_pair(t, 1, 4, 8, 16)), ValueError,
         rf"{SDPA_OP}: key has batch 1 but query has 2; expected them equal"),
    case("value_length", lambda t: sdpa(t, v=t.bf16(2, 4, 5, 16)), ValueError,
         rf"{SDPA_OP}: value has shape \(2, 4, 5, 16\) but key has \(2, 4, 8, 16\); expected "
         "the same batch, heads and length"),
    case("heads_without_gqa", lambda t: sdpa(t, None, *_kv_pair(t, 2, 2, 8, 16)), ValueError,
         rf"{SDPA_OP}: query has 4 heads and key 2; expected them equal \(or enable_gqa=True\)"),
    case("gqa_heads_not_dividing", lambda t: sdpa(t, None, *_kv_pair(t, 2, 3, 8, 16),
                                                  enable_gqa=True), ValueError,
         rf"{SDPA_OP}: query has 4 heads and key 3; with enable_gqa the query heads must be a "
         "multiple"),
    case("enable_gqa_str", lambda t: sdpa(t, None, *_kv_pair(t, 2, 2, 8, 16),
                                          enable_gqa="False"), TypeError,
         rf"{SDPA_OP}: enable_gqa must be a bool"),
    # attn_mask
    case("mask_int32", lambda t: sdpa(t, attn_mask=t.ints(8, 8)), TypeError,
         rf"{SDPA_OP}: attn_mask has dtype torch\.int32; expected torch\.bool or a "
         "floating-point dtype"),
    case("mask_does_not_broadcast", lambda t: sdpa(t, attn_mask=t.bools(7, 8)), ValueError,
         rf"{SDPA_OP}: attn_mask of shape \(7, 8\) does not broadcast to \(B, Hq, Lq, Lk\) = "
         r"\(2, 4, 8, 8\)"),
    case("mask_5d", lambda t: sdpa(t, attn_mask=t.bools(1, 1, 1, 8, 8)), ValueError,
         rf"{SDPA_OP}: attn_mask has 5 dimensions; expected at most 4"),
    case("mask_meta", lambda t: sdpa(t, attn_mask=t.meta(8, 8, dtype=torch.bool)), ValueError,
         rf"{SDPA_OP}: attn_mask is on meta; expected a CUDA or CPU tensor"),
    case("mask_on_cpu", lambda t: sdpa(t, attn_mask=t.bools(8, 8).cpu()), ValueError,
         rf"{SDPA_OP}: attn_mask is on cpu but query is on cuda", cuda_only=True),
    case("mask_and_is_causal", lambda t: sdpa(t, attn_mask=t.bools(8, 8), is_causal=True),
         ValueError, rf"{SDPA_OP}: attn_mask and is_causal are mutually exclusive"),
    case("2**31_keys_mask_does_not_broadcast", lambda t: sdpa(
        t, None, *(t.expanded((1, 1, 1, 16), (2, 4, BIG, 16), dtype=BF16) for _ in range(2)),
        attn_mask=t.bools(8, 8)), ValueError,
        rf"{SDPA_OP}: attn_mask of shape \(8, 8\) does not broadcast to \(B, Hq, Lq, Lk\) = "
        r"\(2, 4, 8, 2147483648\)"),
    # attributes
    case("causal_variant_True", lambda t: sdpa(t, is_causal=True, causal_variant=True),
         ValueError, rf"{SDPA_OP}: causal_variant is True; expected CausalVariant\.UPPER_LEFT"),
    case("causal_variant_float", lambda t: sdpa(t, is_causal=True, causal_variant=2.0),
         ValueError, rf"{SDPA_OP}: causal_variant is 2\.0; expected CausalVariant\.UPPER_LEFT"),
    case("causal_variant_3", lambda t: sdpa(t, is_causal=True, causal_variant=3), ValueError,
         rf"{SDPA_OP}: causal_variant is 3; expected CausalVariant\.UPPER_LEFT or "
         r"CausalVariant\.LOWER_RIGHT"),
    # present_* slot writes
    case("present_key_alone", lambda t: _present(t, lambda p, k, v: p.update(
        present_value=None, present_key_slot=None, present_value_slot=None)), ValueError,
        rf"{SDPA_OP}: present_value, present_key_slot, present_value_slot missing; expected "
        "all four present_\\* arguments together"),
    case("present_value_slot_not_a_view", lambda t: _present(t, lambda p, k, v: p.update(
        present_value_slot=v[:, :, -1:].clone())), ValueError,
        rf"{SDPA_OP}: present_value_slot is not a view into value"),
    case("present_value_slot_expanded", _expanded_value_slot, ValueError,
         rf"{SDPA_OP}: present_value_slot has elements that share memory"),
    case("present_key_slot_shape", lambda t: _present(t, lambda p, k, v: p.update(
        present_key_slot=k[:, :, -2:])), ValueError,
        rf"{SDPA_OP}: present_key_slot has shape \(2, 4, 2, 16\) but present_key "
        r"\(2, 4, 1, 16\); expected them equal"),
    case("present_float16", lambda t: _present(t, lambda p, k, v: p.update(
        present_key=p["present_key"].half(), present_value=p["present_value"].half())),
        TypeError, rf"{SDPA_OP}: present_key_slot has dtype torch\.bfloat16 but present_key "
                   r"has torch\.float16"),
    case("present_key_3d", lambda t: _present(t, lambda p, k, v: p.update(
        present_key=p["present_key"][0])), ValueError,
        rf"{SDPA_OP}: present_key has 3 dimensions; expected 4, \(B, Hkv, L, D\)"),
]


@pytest.mark.parametrize("make,error,match", SDPA)
def test_scaled_dot_product_attention(make, error, match, device):
    run_case(make, error, match, device)


# ==== flash_attn_func ============================================================================
FLASH_OP = "flash_attn_func"
HALF_ONLY = r"expected one of float16, bfloat16"


def flash(t, q=None, k=None, v=None, **kwargs):
    """A call on bf16 q (2, 8, 4, 16), k and v (2, 8, 2, 16) unless given."""
    q = t.bf16(2, 8, 4, 16) if q is None else q
    k = t.bf16(2, 8, 2, 16) if k is None else k
    v = t.bf16(2, 8, 2, 16) if v is None else v
    return call(ops.flash_attn_func, q, k, v, **kwargs)


FLASH_ATTRIBUTES = [  # shared by the flash_attn_* functions
    ("window_int", {"window_size": 5}, TypeError,
     r"window_size is 5; expected a pair of ints \(left, right\)"),
    ("window_-2", {"window_size": (-2, 0)}, ValueError,
     r"window_size is \(-2, 0\); expected each side >= 0 or -1"),
    ("window_str_of_digits", {"window_size": "12"}, TypeError,
     r"window_size is '12'; expected a pair of ints"),
    ("window_float", {"window_size": (1.5, 0)}, TypeError,
     r"window_size is \(1\.5, 0\); expected a pair of ints"),
    ("window_bools", {"window_size": (True, 0)}, TypeError,
     r"window_size is \(True, 0\); expected a pair of ints"),
    ("softcap_nan", {"softcap": NAN}, ValueError, r"softcap is nan; expected >= 0"),
    ("softcap_negative", {"softcap": -1.0}, ValueError, r"softcap is -1\.0; expected >= 0"),
    ("softcap_inf", {"softcap": float("inf")}, ValueError, r"softcap is inf; expected >= 0"),
    ("softcap_str", {"softcap": "30"}, TypeError, r"softcap must be a real number"),
    ("softmax_scale_nan", {"softmax_scale": NAN}, ValueError,
     r"softmax_scale is nan; expected a finite number"),
    ("softmax_scale_str", {"softmax_scale": "x"}, TypeError,
     r"softmax_scale must be a real number"),
    ("causal_str", {"causal": "False"}, TypeError, r"causal must be a bool, got str"),
    ("causal_int", {"causal": 1}, TypeError, r"causal must be a bool, got int"),
]
FLAGS = [  # flash_attn_func's and flash_attn_varlen_func's
    ("deterministic_str", {"deterministic": "True"}, TypeError,
     r"deterministic must be a bool"),
    ("return_attn_probs_str", {"return_attn_probs": "False"}, TypeError,
     r"return_attn_probs must be a bool"),
]

FLASH = attribute_cases(FLASH_OP, flash, FLASH_ATTRIBUTES + DROPOUT_P + FLAGS) + [
    case("q_None", lambda t: call(ops.flash_attn_func, None, t.bf16(2, 8, 2, 16),
                                  t.bf16(2, 8, 2, 16)), TypeError,
         rf"{FLASH_OP}: q {TENSOR}.*got NoneType"),
    case("k_on_cpu", lambda t: flash(t, k=t.bf16(2, 8, 2, 16, device="cpu")), ValueError,
         rf"{FLASH_OP}: k is on cpu but q is on cuda", cuda_only=True),
    case("q_float32", lambda t: flash(t, *(t.f32(2, 8, 2, 16) for _ in range(3))), TypeError,
         rf"{FLASH_OP}: q has dtype float32; {HALF_ONLY}"),
    case("k_float16", lambda t: flash(t, k=t.bf16(2, 8, 2, 16).half(),
                                      v=t.bf16(2, 8, 2, 16).half()), TypeError,
         rf"{FLASH_OP}: k has dtype torch\.float16 but q has torch\.bfloat16"),
    case("q_3d", lambda t: flash(t, q=t.bf16(8, 4, 16)), ValueError,
         rf"{FLASH_OP}: q has 3 dimensions; expected 4, \(batch, seqlen, nheads, headdim\)"),
    case("head_dim_0", lambda t: flash(t, *(t.bf16(2, 8, 2, 0) for _ in range(3))), ValueError,
         rf"{FLASH_OP}: q has head dimension 0; expected 1 to 256"),
    case("head_dim_512", lambda t: flash(t, *(t.bf16(1, 2, 1, 512) for _ in range(3))),
         ValueError, rf"{FLASH_OP}: q has head dimension 512; expected 1 to 256"),
    case("kv_heads_not_dividing", lambda t: flash(t, None, *_kv_pair(t, 2, 8, 3, 16)),
         ValueError, rf"{FLASH_OP}: q has 4 heads and k 3; expected the query heads to be a "
                     "multiple of the key/value heads"),
    case("kv_heads_0", lambda t: flash(t, None, *_kv_pair(t, 2, 8, 0, 16)), ValueError,
         rf"{FLASH_OP}: q has 4 heads and k 0"),
    case("k_batch", lambda t: flash(t, None, *_kv_pair(t, 1, 8, 2, 16)), ValueError,
         rf"{FLASH_OP}: k has batch 1 but q has 2; expected them equal"),
    case("v_length", lambda t: flash(t, v=t.bf16(2, 4, 2, 16)), ValueError,
         rf"{FLASH_OP}: v has shape \(2, 4, 2, 16\) but k has \(2, 8, 2, 16\); expected them "
         "equal"),
    case("q_last_dim_strided", lambda t: flash(t, q=t.bf16(2, 8, 16, 4).transpose(2, 3)),
         ValueError, rf"{FLASH_OP}: q's last dimension has stride 4; expected it contiguous"),
    case("alibi_shape", lambda t: flash(t, alibi_slopes=t.f32(3)), ValueError,
         rf"{FLASH_OP}: alibi_slopes has shape \(3,\); expected \(4,\) or \(2, 4\)"),
    case("alibi_empty", lambda t: flash(t, alibi_slopes=t.f32(0)), ValueError,
         rf"{FLASH_OP}: alibi_slopes has shape \(0,\); expected \(4,\) or \(2, 4\)"),
    case("alibi_bfloat16", lambda t: flash(t, alibi_slopes=t.bf16(4)), TypeError,
         rf"{FLASH_OP}: alibi_slopes has dtype torch\.bfloat16; expected torch\.float32"),
    case("alibi_on_cpu", lambda t: flash(t, alibi_slopes=t.f32(4, device="cpu")), ValueError,
         rf"{FLASH_OP}: alibi_slopes is on cpu but q is on cuda", cuda_only=True),
]


@pytest.mark.parametrize("make,error,match", FLASH)
def test_flash_attn_func(make, error, match, device):
    run_case(make, error, match, device)


# ==== flash_attn_varlen_func =====================================================================
VARLEN_OP = "flash_attn_varlen_func"


def varlen(t, q=None, k=None, cu_q=None, cu_k=None, max_q=6, max_k=6, **kwargs):
    """A call on packed bf16 q (10, 4, 16), k = v (10, 2, 16) and sequences [4, 6]."""
    q = t.bf16(10, 4, 16) if q is None else q
    k = t.bf16(10, 2, 16) if k is None else k
    cu_q = t.tensor([0, 4, 10]) if cu_q is None else cu_q
    cu_k = t.tensor([0, 4, 10]) if cu_k is None else cu_k
    return call(ops.flash_attn_varlen_func, q, k, k, cu_q, cu_k, max_q, max_k, **kwargs)


VARLEN = attribute_cases(VARLEN_OP, varlen, FLASH_ATTRIBUTES + DROPOUT_P + FLAGS) + [
    case("q_4d", lambda t: varlen(t, q=t.bf16(1, 10, 4, 16)), ValueError,
         rf"{VARLEN_OP}: q has 4 dimensions; expected 3, \(total, nheads, headdim\)"),
    case("q_float32", lambda t: varlen(t, q=t.f32(10, 4, 16), k=t.f32(10, 2, 16)), TypeError,
         rf"{VARLEN_OP}: q has dtype float32; {HALF_ONLY}"),
    case("kv_heads_not_dividing", lambda t: varlen(t, k=t.bf16(10, 3, 16)), ValueError,
         rf"{VARLEN_OP}: q has 4 heads and k 3"),
    case("k_last_dim_strided", lambda t: varlen(t, k=t.bf16(10, 2, 32)[..., ::2]), ValueError,
         rf"{VARLEN_OP}: k's last dimension has stride 2; expected it contiguous"),
    case("cu_seqlens_q_int64", lambda t: varlen(t, cu_q=t.tensor([0, 4, 10], dtype=I64)),
         TypeError, rf"{VARLEN_OP}: cu_seqlens_q has dtype torch\.int64; expected torch\.int32"),
    case("cu_seqlens_k_2d", lambda t: varlen(t, cu_k=t.tensor([[0, 4, 10]])), ValueError,
         rf"{VARLEN_OP}: cu_seqlens_k has shape \(1, 3\); expected \(batch \+ 1,\) with "
         "batch >= 1"),
    case("cu_seqlens_q_one_entry", lambda t: varlen(t, cu_q=t.tensor([0])), ValueError,
         rf"{VARLEN_OP}: cu_seqlens_q has shape \(1,\); expected \(batch \+ 1,\)"),
    case("cu_seqlens_q_empty", lambda t: varlen(t, cu_q=t.tensor([])), ValueError,
         rf"{VARLEN_OP}: cu_seqlens_q has shape \(0,\); expected \(batch \+ 1,\)"),
    case("cu_seqlens_q_not_from_0", lambda t: varlen(t, cu_q=t.tensor([1, 4, 10])), ValueError,
         rf"{VARLEN_OP}: cu_seqlens_q is \[1, 4, 10\]; expected non-decreasing prefix sums "
         r"from 0 to at most 10 \(the packed length\)"),
    case("cu_seqlens_q_past_total", lambda t: varlen(t, cu_q=t.tensor([0, 4, 11]), max_q=7),
         ValueError, rf"{VARLEN_OP}: cu_seqlens_q is \[0, 4, 11\]; expected non-decreasing"),
    case("cu_seqlens_q_list", lambda t: varlen(t, cu_q=[0, 4, 10]), TypeError,
         rf"{VARLEN_OP}: cu_seqlens_q {TENSOR}.*got list"),
    case("cu_seqlens_q_meta", lambda t: varlen(t, cu_q=t.meta(3, dtype=I32)), ValueError,
         rf"{VARLEN_OP}: cu_seqlens_q is on meta; expected a CUDA or CPU tensor"),
    case("cu_seqlens_q_on_cpu", lambda t: varlen(t, cu_q=t.tensor([0, 4, 10], device="cpu")),
         ValueError, rf"{VARLEN_OP}: cu_seqlens_q is on cpu but q is on cuda", cuda_only=True),
    case("cu_seqlens_batches_differ", lambda t: varlen(t, cu_k=t.tensor([0, 10]), max_k=10),
         ValueError, rf"{VARLEN_OP}: cu_seqlens_q has 3 entries and cu_seqlens_k 2; expected "
                     r"the same batch \+ 1"),
    case("max_seqlen_q_float", lambda t: varlen(t, max_q=6.0), TypeError,
         rf"{VARLEN_OP}: max_seqlen_q is 6\.0; expected an int >= 0"),
    case("max_seqlen_q_negative", lambda t: varlen(t, max_q=-1), TypeError,
         rf"{VARLEN_OP}: max_seqlen_q is -1; expected an int >= 0"),
    case("max_seqlen_q_too_short", lambda t: varlen(t, max_q=5), ValueError,
         rf"{VARLEN_OP}: max_seqlen_q is 5 but cu_seqlens_q has a sequence of 6; expected it "
         "at least the longest"),
    case("max_seqlen_q_2**31", lambda t: varlen(t, max_q=BIG), ValueError,
         rf"{VARLEN_OP}: max_seqlen_q is 2147483648; expected"),
    case("max_seqlen_q_2**40", lambda t: varlen(t, max_q=2 ** 40), ValueError,
         rf"{VARLEN_OP}: max_seqlen_q is 1099511627776; expected"),
    case("max_seqlen_k_2**31", lambda t: varlen(t, max_k=BIG), ValueError,
         rf"{VARLEN_OP}: max_seqlen_k is 2147483648; expected an int below 2\*\*31"),
    case("block_table", lambda t: varlen(t, block_table=t.tensor([[0], [1]])),
         NotImplementedError, rf"{VARLEN_OP}: block_table is not supported"),
]


@pytest.mark.parametrize("make,error,match", VARLEN)
def test_flash_attn_varlen_func(make, error, match, device):
    run_case(make, error, match, device)


# ==== flash_attn_with_kvcache ====================================================================
KV_OP = "flash_attn_with_kvcache"


def kvcache(t, q=None, k_cache=None, v_cache=None, k=None, v=None, new=True, **kwargs):
    """A call on bf16 q (2, 1, 4, 16), watched caches (2, 32, 2, 16), new rows (2, 1, 2, 16)
    (unless ``new`` is False) and cache_seqlens [3, 5] (unless given)."""
    q = t.bf16(2, 1, 4, 16) if q is None else q
    k_cache = t.watch(t.bf16(2, 32, 2, 16)) if k_cache is None else k_cache
    v_cache = t.watch(t.bf16(2, 32, 2, 16)) if v_cache is None else v_cache
    if new:
        k = t.bf16(2, 1, 2, 16) if k is None else k
        v = t.bf16(2, 1, 2, 16) if v is None else v
    kwargs.setdefault("cache_seqlens", t.tensor([3, 5]))
    return call(ops.flash_attn_with_kvcache, q, k_cache, v_cache, k, v, **kwargs)


def paged(t, page=16, table=None, **kwargs):
    """kvcache() over watched caches of 4 pages of ``page`` rows and a (2, 2) block table."""
    caches = [t.watch(t.bf16(4, page, 2, 16)) for _ in range(2)]
    table = t.tensor([[0, 1], [2, 3]]) if table is None else table
    return kvcache(t, k_cache=caches[0], v_cache=caches[1], block_table=table, **kwargs)


def rotary(t, cos, sin, **kwargs):
    return kvcache(t, rotary_cos=cos, rotary_sin=sin, **kwargs)


def _expanded_caches(t):
    base_k, base_v = t.watch(t.bf16(1, 32, 2, 16)), t.watch(t.bf16(1, 32, 2, 16))
    return kvcache(t, k_cache=base_k.expand(2, 32, 2, 16), v_cache=base_v.expand(2, 32, 2, 16))


def _one_cache(t):
    cache = t.watch(t.bf16(2, 32, 2, 16))
    return kvcache(t, k_cache=cache, v_cache=cache)


def _overlapping_caches(t):
    memory = t.watch(t.bf16(2 * 32 * 2 * 16 + 16))
    return kvcache(t, k_cache=memory[:2 * 32 * 2 * 16].view(2, 32, 2, 16),
                   v_cache=memory[16:].view(2, 32, 2, 16))


def _new_rows_in_cache(t, new, index):
    """New rows ``new`` ("k" or "v") that are rows of the k (0) or v (1) cache."""
    caches = [t.watch(t.bf16(2, 32, 2, 16)) for _ in range(2)]
    rows = {"k": t.bf16(2, 1, 2, 16), "v": t.bf16(2, 1, 2, 16)}
    rows[new] = caches[index][:, 8:9]
    return kvcache(t, k_cache=caches[0], v_cache=caches[1], **rows)


KVCACHE_ATTRIBUTES = FLASH_ATTRIBUTES + [
    ("num_splits_negative", {"num_splits": -1}, ValueError,
     r"num_splits is -1; expected an int >= 0 \(0 chooses\)"),
    ("rotary_interleaved_str", {"rotary_interleaved": "False"}, TypeError,
     r"rotary_interleaved must be a bool"),
    ("return_softmax_lse_str", {"return_softmax_lse": "False"}, TypeError,
     r"return_softmax_lse must be a bool"),
]

KVCACHE = attribute_cases(KV_OP, kvcache, KVCACHE_ATTRIBUTES) + [
    case("q_3d", lambda t: kvcache(t, q=t.bf16(1, 4, 16)), ValueError,
         rf"{KV_OP}: q has 3 dimensions; expected 4, \(batch, seqlen, nheads, headdim\)"),
    case("q_float32", lambda t: kvcache(t, q=t.f32(2, 1, 4, 16), new=False), TypeError,
         rf"{KV_OP}: q has dtype float32; {HALF_ONLY}"),
    case("q_head_dim_0", lambda t: kvcache(t, q=t.bf16(2, 1, 4, 0), k_cache=t.bf16(2, 32, 2, 0),
                                           v_cache=t.bf16(2, 32, 2, 0), new=False), ValueError,
         rf"{KV_OP}: q has head dimension 0; expected 1 to 256"),
    case("q_heads_not_multiple", lambda t: kvcache(t, q=t.bf16(2, 1, 3, 16)), ValueError,
         rf"{KV_OP}: q has 3 heads and k_cache 2; expected the query heads to be a multiple"),
    case("k_cache_float16", lambda t: kvcache(t, k_cache=t.watch(t.bf16(2, 32, 2, 16).half())),
         TypeError, rf"{KV_OP}: k_cache has dtype torch\.float16 but q has torch\.bfloat16"),
    case("k_cache_meta", lambda t: kvcache(t, k_cache=t.meta(2, 32, 2, 16, dtype=BF16)),
         ValueError, rf"{KV_OP}: k_cache is on meta; expected a CUDA or CPU tensor"),
    case("caches_batch_1", lambda t: kvcache(t, k_cache=t.watch(t.bf16(1, 32, 2, 16)),
                                             v_cache=t.watch(t.bf16(1, 32, 2, 16))), ValueError,
         rf"{KV_OP}: k_cache has batch 1 but q has 2; expected them equal \(or "
         r"cache_batch_idx\)"),
    case("k_cache_last_dim_strided", lambda t: kvcache(t, k_cache=t.watch(t.bf16(
        2, 32, 2, 32))[..., ::2]), ValueError,
        rf"{KV_OP}: k_cache's last dimension has stride 2; expected it contiguous"),
    case("caches_expanded", _expanded_caches, ValueError,
         rf"{KV_OP}: k_cache has elements that share memory"),
    case("2**31_rows_cache_seqlens_2**31", lambda t: kvcache(
        t, k_cache=t.expanded((1, 1, 1, 16), (2, BIG, 2, 16), dtype=BF16),
        v_cache=t.expanded((1, 1, 1, 16), (2, BIG, 2, 16), dtype=BF16), cache_seqlens=BIG),
        ValueError, rf"{KV_OP}: (cache_seqlens is 2147483648; expected 0 to 2147483647 \(the "
                    r"cache holds 2147483648 rows, 1 new\)|k_cache has elements that share)"),
    # cache_seqlens
    case("cache_seqlens_int_full", lambda t: kvcache(t, cache_seqlens=32), ValueError,
         rf"{KV_OP}: cache_seqlens is 32; expected 0 to 31 \(the cache holds 32 rows, 1 new\)"),
    case("cache_seqlens_float", lambda t: kvcache(t, cache_seqlens=1.5), TypeError,
         rf"{KV_OP}: cache_seqlens {TENSOR}.*got float"),
    case("cache_seqlens_int64", lambda t: kvcache(t, cache_seqlens=t.tensor([3, 5], dtype=I64)),
         TypeError, rf"{KV_OP}: cache_seqlens has dtype torch\.int64; expected torch\.int32"),
    case("cache_seqlens_shape", lambda t: kvcache(t, cache_seqlens=t.tensor([3])), ValueError,
         rf"{KV_OP}: cache_seqlens has shape \(1,\); expected \(2,\)"),
    case("cache_seqlens_empty", lambda t: kvcache(t, cache_seqlens=t.tensor([])), ValueError,
         rf"{KV_OP}: cache_seqlens has shape \(0,\); expected \(2,\)"),
    case("cache_seqlens_on_cpu", lambda t: kvcache(t, cache_seqlens=t.tensor([3, 5], device="cpu")),
         ValueError, rf"{KV_OP}: cache_seqlens is on cpu but q is on cuda", cuda_only=True),
    case("cache_seqlens_None_with_k", lambda t: kvcache(t, cache_seqlens=None), ValueError,
         rf"{KV_OP}: k and v need cache_seqlens \(where to append them\)"),
    # new rows
    case("k_without_v", lambda t: kvcache(t, v=None, new=False, k=t.bf16(2, 1, 2, 16)),
         ValueError, rf"{KV_OP}: got only one of k and v; expected both or neither"),
    case("k_heads", lambda t: kvcache(t, k=t.bf16(2, 1, 1, 16), v=t.bf16(2, 1, 1, 16)),
         ValueError, rf"{KV_OP}: k has shape \(2, 1, 1, 16\) and v \(2, 1, 1, 16\); expected "
                     r"both \(2, seqlen_new, 2, 16\)"),
    # cache_batch_idx, cache_leftpad, block_table
    case("cache_batch_idx_int64", lambda t: kvcache(t, cache_batch_idx=t.tensor([0, 1],
                                                                                 dtype=I64)),
         TypeError, rf"{KV_OP}: cache_batch_idx has dtype torch\.int64; expected torch\.int32"),
    case("block_table_int64", lambda t: paged(t, table=t.tensor([[0, 1], [2, 3]], dtype=I64)),
         TypeError, rf"{KV_OP}: block_table has dtype torch\.int64; expected torch\.int32"),
    case("block_table_rows", lambda t: paged(t, table=t.tensor([[0, 1]])), ValueError,
         rf"{KV_OP}: block_table has shape \(1, 2\); expected \(2, max_num_blocks_per_seq\)"),
    case("block_table_no_columns", lambda t: paged(t, table=t.tensor([[], []]),
                                                   cache_seqlens=0), ValueError,
         rf"{KV_OP}: cache_seqlens is 0; expected 0 to -1 \(the cache holds 0 rows, 1 new\)"),
    case("pages_of_8_rows", lambda t: paged(t, page=8), ValueError,
         rf"{KV_OP}: k_cache has pages of 8 rows; expected a multiple of 16"),
    case("block_table_and_leftpad", lambda t: paged(t, cache_leftpad=t.tensor([0, 0])),
         NotImplementedError, rf"{KV_OP}: cache_leftpad with block_table is not supported"),
    # caches and new rows in one memory
    case("one_tensor_for_both_caches", lambda t: _one_cache(t), ValueError,
         rf"{KV_OP}: v_cache overlaps k_cache in memory; expected separate tensors \(k and v "
         r"are appended to the caches in place\)"),
    case("caches_overlapping", lambda t: _overlapping_caches(t), ValueError,
         rf"{KV_OP}: v_cache overlaps k_cache in memory"),
    case("k_inside_k_cache", lambda t: _new_rows_in_cache(t, "k", 0), ValueError,
         rf"{KV_OP}: k overlaps k_cache in memory"),
    case("v_inside_k_cache", lambda t: _new_rows_in_cache(t, "v", 0), ValueError,
         rf"{KV_OP}: v overlaps k_cache in memory"),
    case("k_inside_v_cache", lambda t: _new_rows_in_cache(t, "k", 1), ValueError,
         rf"{KV_OP}: k overlaps v_cache in memory"),
    # rotary
    case("rotary_cos_alone", lambda t: kvcache(t, rotary_cos=t.f32(64, 4)), ValueError,
         rf"{KV_OP}: got only one of rotary_cos and rotary_sin; expected both or neither"),
    case("rotary_without_new_rows", lambda t: rotary(t, t.f32(64, 4), t.f32(64, 4), new=False),
         ValueError, rf"{KV_OP}: rotary_cos/rotary_sin rotate the new k; expected k and v"),
    case("rotary_too_wide", lambda t: rotary(t, t.f32(64, 9), t.f32(64, 9)), ValueError,
         rf"{KV_OP}: rotary_cos has 9 columns, a rotary dimension of 18; expected 1 to headdim "
         "/ 2 = 8"),
    case("rotary_int32", lambda t: rotary(t, t.ints(64, 4), t.ints(64, 4)), TypeError,
         rf"{KV_OP}: rotary_cos has dtype int32; expected one of float16, bfloat16, float32"),
]


@pytest.mark.parametrize("make,error,match", KVCACHE)
def test_flash_attn_with_kvcache(make, error, match, device):
    run_case(make, error, match, device)


# ==== RWKV: wkv4 =================================================================================
def wkv4(t, w=None, u=None, k=None, v=None, **kwargs):
    """A call on fp32 w, u (8,) and k, v (2, 3, 8) unless given."""
    w = -t.f32(8).abs() if w is None else w
    u = t.f32(8) if u is None else u
    k = t.f32(2, 3, 8) if k is None else k
    v = t.f32(2, 3, 8) if v is None else v
    return call(rwkv.wkv4, w, u, k, v, **kwargs)


def state4(t, aa=None, bb=None, pp=None):
    """A watched (aa, bb, pp) state of (2, 8) fp32 tensors unless given."""
    return tuple(t.watch(t.f32(2, 8)) if s is None else s for s in (aa, bb, pp))


BACKENDS = r"expected one of 'tile', 'cuda', 'reference'"
WKV4 = [
    case("k_2d", lambda t: wkv4(t, k=t.f32(3, 8), v=t.f32(3, 8)), ValueError,
         r"wkv4: k has 2 dimensions; expected 3, \(B, T, C\)"),
    case("k_int32", lambda t: wkv4(t, k=t.ints(2, 3, 8), v=t.ints(2, 3, 8)), TypeError,
         r"wkv4: k has dtype int32; expected one of float32, bfloat16, float16"),
    case("v_float16", lambda t: wkv4(t, v=t.f32(2, 3, 8).half()), TypeError,
         r"wkv4: v has dtype torch\.float16 but k has torch\.float32; expected the same dtype"),
    case("v_shape", lambda t: wkv4(t, v=t.f32(2, 2, 8)), ValueError,
         r"wkv4: v has shape \(2, 2, 8\) but k \(2, 3, 8\); expected them equal"),
    case("w_float16", lambda t: wkv4(t, w=t.f32(8).half()), TypeError,
         r"wkv4: w has dtype float16; expected one of float32"),
    case("w_channels", lambda t: wkv4(t, w=t.f32(4)), ValueError,
         r"wkv4: w has shape \(4,\); expected \(8,\), one value per channel of k"),
    case("u_bfloat16_for_fp32_k", lambda t: wkv4(t, u=t.bf16(8)), TypeError,
         r"wkv4: u has dtype bfloat16; expected one of float32"),
    case("u_meta", lambda t: wkv4(t, u=t.meta(8)), ValueError,
         r"wkv4: u is on meta; expected a CUDA or CPU tensor"),
    case("w_list", lambda t: wkv4(t, w=[-1.0] * 8), TypeError,
         rf"wkv4: w {TENSOR}.*got list"),
    case("w_on_cpu", lambda t: wkv4(t, w=-t.f32(8, device="cpu").abs()), ValueError,
         r"wkv4: w is on cpu but k is on cuda", cuda_only=True),
    case("2**31_steps_v_shape", lambda t: wkv4(t, k=t.expanded((1, 1, 8), (2, BIG, 8))),
         ValueError, r"wkv4: v has shape \(2, 3, 8\) but k \(2, 2147483648, 8\)"),
    # state
    case("state_of_two", lambda t: wkv4(t, state=state4(t)[:2]), TypeError,
         r"wkv4: state must be a tuple \(aa, bb, pp\) of three fp32 \(B, C\) tensors"),
    case("state_tensor", lambda t: wkv4(t, state=t.watch(t.f32(3, 2, 8))), TypeError,
         r"wkv4: state must be a tuple \(aa, bb, pp\)"),
    case("state_float16", lambda t: wkv4(t, state=state4(t, bb=t.watch(t.f32(2, 8).half()))),
         TypeError, r"wkv4: state bb has dtype float16; expected one of float32"),
    case("state_shape", lambda t: wkv4(t, state=state4(t, pp=t.watch(t.f32(1, 8)))), ValueError,
         r"wkv4: state pp has shape \(1, 8\); expected \(B, C\) = \(2, 8\)"),
    case("state_transposed", lambda t: wkv4(t, state=state4(t, aa=t.watch(t.f32(8, 2)).t())),
         ValueError, r"wkv4: state aa is not contiguous; expected a contiguous \(B, C\) tensor "
                     r"\(it is updated in place\)"),
    case("state_expanded", lambda t: wkv4(t, state=state4(t, aa=t.watch(t.f32(1, 8)).expand(
        2, 8))), ValueError, r"wkv4: state aa is not contiguous"),
    case("state_meta", lambda t: wkv4(t, state=state4(t, aa=t.meta(2, 8))), ValueError,
         r"wkv4: state aa is on meta but k is on (cpu|cuda)"),
    case("state_on_cpu", lambda t: wkv4(t, state=state4(t, pp=t.watch(t.f32(2, 8, device="cpu")))),
         ValueError, r"wkv4: state pp is on cpu but k is on cuda", cuda_only=True),
    # backends
    case("backend_gpu", lambda t: wkv4(t, backend="gpu"), ValueError,
         rf"wkv4: backend is 'gpu'; {BACKENDS}"),
    case("backend_cuda_on_cpu_tensors", lambda t: call(
        rwkv.wkv4, -t.f32(8, device="cpu").abs(), t.f32(8, device="cpu"),
        t.f32(2, 3, 8, device="cpu"), t.f32(2, 3, 8, device="cpu"), backend="cuda"), ValueError,
        r"wkv4: backend 'cuda' runs on CUDA tensors; k is on cpu"),
    case("set_backend_fast", lambda t: call(rwkv.set_backend, "fast"), ValueError,
         rf"set_backend: backend is 'fast'; {BACKENDS}"),
]


@pytest.mark.parametrize("make,error,match", WKV4)
def test_wkv4(make, error, match, device):
    run_case(make, error, match, device)


# ==== RWKV: wkv7 and wkv7s =======================================================================
def wkv7(t, shape=(2, 3, 2, 16), replace=None, **kwargs):
    """A call on fp32 r, w, k, v, a, b of ``shape``; ``replace`` maps names to other values."""
    inputs = {name: t.f32(*shape) for name in "rwkvab"}
    inputs.update(replace or {})
    return call(rwkv.wkv7, *inputs.values(), **kwargs)


def wkv7s(t, state=None, shape=(2, 3, 32), replace=None, **kwargs):
    """A call on a watched fp32 (2, 2, 16, 16) state and fp32 (B, T, C) inputs of ``shape``."""
    state = t.watch(t.f32(2, 2, 16, 16)) if state is None else state
    inputs = {name: t.f32(*shape) for name in "rwkvab"}
    inputs.update(replace or {})
    return call(rwkv.wkv7s, state, *inputs.values(), **kwargs)


def _huge_wkv7(t, head_size=16, w_steps=3):
    """wkv7 on 2**31 steps of stride-0 views (nothing allocated unless the op copies them)."""
    huge = t.expanded((1, 1, 1, head_size), (1, BIG, 2, head_size))
    w = huge if w_steps is None else t.f32(1, w_steps, 2, head_size)
    return call(rwkv.wkv7, huge, w, huge, huge, huge, huge)


WKV7 = [
    case("r_3d", lambda t: wkv7(t, shape=(2, 3, 32)), ValueError,
         r"wkv7: r has 3 dimensions; expected 4, \(B, T, H, N\)"),
    case("head_size_8", lambda t: wkv7(t, shape=(2, 3, 2, 8)), ValueError,
         r"wkv7: the head size N is 8; expected one of 16, 32, 64, 128"),
    case("head_size_0", lambda t: wkv7(t, shape=(2, 3, 2, 0)), ValueError,
         r"wkv7: the head size N is 0; expected one of 16, 32, 64, 128"),
    case("w_shape", lambda t: wkv7(t, replace={"w": t.f32(2, 2, 2, 16)}), ValueError,
         r"wkv7: w has shape \(2, 2, 2, 16\) but r \(2, 3, 2, 16\); expected every input of "
         r"shape \(B, T, H, N\)"),
    case("w_float16_for_bf16", lambda t: wkv7(t, replace={
        **{n: t.bf16(2, 3, 2, 16) for n in "rkvab"}, "w": t.f32(2, 3, 2, 16).half()}),
        TypeError, r"wkv7: w has dtype float16; expected one of bfloat16, float32"),
    case("k_bfloat16", lambda t: wkv7(t, replace={"k": t.bf16(2, 3, 2, 16)}), TypeError,
         r"wkv7: k has dtype torch\.bfloat16 but r has torch\.float32; expected the same dtype"),
    case("a_meta", lambda t: wkv7(t, replace={"a": t.meta(2, 3, 2, 16)}), ValueError,
         r"wkv7: a is on meta; expected a CUDA or CPU tensor"),
    case("a_on_cpu", lambda t: wkv7(t, replace={"a": t.f32(2, 3, 2, 16, device="cpu")}),
         ValueError, r"wkv7: a is on cpu but r is on cuda", cuda_only=True),
    case("b_list", lambda t: wkv7(t, replace={"b": [0.0]}), TypeError,
         rf"wkv7: b {TENSOR}.*got list"),
    case("2**31_steps_w_shape", _huge_wkv7, ValueError,
         r"wkv7: w has shape \(1, 3, 2, 16\) but r \(1, 2147483648, 2, 16\)"),
    # The head size is checked before the inputs are made contiguous (a 128 GB copy).
    case("2**31_steps_head_size_8", lambda t: _huge_wkv7(t, head_size=8, w_steps=None),
         ValueError, r"wkv7: the head size N is 8; expected one of 16, 32, 64, 128"),
    case("decay_exp", lambda t: wkv7(t, decay="exp"), ValueError,
         r"wkv7: decay is 'exp'; expected one of 'raw', 'clampw', 'log'"),
    case("decay_list", lambda t: wkv7(t, decay=["raw"]), ValueError,
         r"wkv7: decay is \['raw'\]; expected one of 'raw', 'clampw', 'log'"),
    case("output_final_state_str", lambda t: wkv7(t, output_final_state="yes"), TypeError,
         r"wkv7: output_final_state must be a bool, got str"),
    case("initial_state_shape", lambda t: wkv7(t, initial_state=t.f32(2, 2, 16, 8)),
         ValueError, r"wkv7: initial_state has shape \(2, 2, 16, 8\); expected "
                     r"\(2, 2, 16, 16\) or \(2, 16, 16\)"),
    case("initial_state_float16", lambda t: wkv7(t, initial_state=t.f32(2, 2, 16, 16).half()),
         TypeError, r"wkv7: initial_state has dtype float16; expected one of float32"),
    case("initial_state_meta", lambda t: wkv7(t, initial_state=t.meta(2, 2, 16, 16)),
         ValueError, r"wkv7: initial_state is on meta but r is on (cpu|cuda)"),
    case("backend_triton", lambda t: wkv7(t, backend="triton"), ValueError,
         rf"wkv7: backend is 'triton'; {BACKENDS}"),
    case("backend_cuda_on_cpu_tensors", lambda t: call(
        rwkv.wkv7, *(t.f32(2, 3, 2, 16, device="cpu") for _ in range(6)), backend="cuda"),
        ValueError, r"wkv7: backend 'cuda' runs on CUDA tensors; r is on cpu"),
    # wkv7s
    case("wkv7s-state_3d", lambda t: wkv7s(t, state=t.watch(t.f32(2, 16, 16))), ValueError,
         r"wkv7s: state has shape \(2, 16, 16\); expected \(B, H, N, N\)"),
    case("wkv7s-state_float16", lambda t: wkv7s(t, state=t.watch(t.f32(2, 2, 16, 16).half())),
         TypeError, r"wkv7s: state has dtype float16; expected one of float32"),
    case("wkv7s-state_transposed", lambda t: wkv7s(t, state=t.watch(t.f32(
        2, 2, 16, 16)).transpose(2, 3)), ValueError,
        r"wkv7s: state is not contiguous; expected a contiguous \(B, H, N, N\) tensor \(it is "
        r"updated in place\)"),
    case("wkv7s-state_expanded", lambda t: wkv7s(t, state=t.watch(t.f32(1, 2, 16, 16)).expand(
        2, 2, 16, 16)), ValueError, r"wkv7s: state is not contiguous"),
    case("wkv7s-head_size_8", lambda t: wkv7s(t, state=t.watch(t.f32(2, 4, 8, 8))), ValueError,
         r"wkv7s: the head size N is 8; expected one of 16, 32, 64, 128"),
    case("wkv7s-batch_mismatch", lambda t: wkv7s(t, state=t.watch(t.f32(1, 2, 16, 16))),
         ValueError, r"wkv7s: r has shape \(2, 3, 32\); expected \(B, T, C\) = \(1, T, 32\) or "
                     r"\(B, T, H, N\) to match state \(1, 2, 16, 16\)"),
    case("wkv7s-channels_mismatch", lambda t: wkv7s(t, state=t.watch(t.f32(2, 1, 16, 16))),
         ValueError, r"wkv7s: r has shape \(2, 3, 32\); expected \(B, T, C\) = \(2, T, 16\)"),
    case("wkv7s-w_float64", lambda t: wkv7s(t, replace={"w": t.f32(2, 3, 32).double()}),
         TypeError, r"wkv7s: w has dtype float64; expected one of float32"),
    case("wkv7s-state_list", lambda t: wkv7s(t, state=[0.0]), TypeError,
         rf"wkv7s: state {TENSOR}.*got list"),
    case("wkv7s-state_on_cpu", lambda t: wkv7s(t, state=t.watch(t.f32(2, 2, 16, 16,
                                                                      device="cpu"))),
         ValueError, r"wkv7s: state is on cpu but r is on cuda", cuda_only=True),
    case("wkv7s-backend_empty", lambda t: wkv7s(t, backend=""), ValueError,
         rf"wkv7s: backend is ''; {BACKENDS}"),
]


@pytest.mark.parametrize("make,error,match", WKV7)
def test_wkv7(make, error, match, device):
    run_case(make, error, match, device)


# ==== settings ===================================================================================
SETTINGS = [
    case("num_warps_3", lambda t: call(ops.set_default_num_warps, 3), ValueError,
         r"num_warps must be a power of two from 1 to 32, got 3"),
    case("num_warps_64", lambda t: call(ops.set_default_num_warps, 64), ValueError,
         r"num_warps must be a power of two from 1 to 32, got 64"),
    case("num_warps_str", lambda t: call(ops.set_default_num_warps, "4"), TypeError,
         r"num_warps must be an int or None, got str"),
    case("num_stages_0", lambda t: call(ops.set_default_num_stages, 0), ValueError,
         r"num_stages must be >= 1 or None, got 0"),
    case("num_stages_bool", lambda t: call(ops.set_default_num_stages, True), TypeError,
         r"num_stages must be an int or None, got bool"),
    case("max_num_configs_0", lambda t: call(ops.set_default_max_num_configs, 0), ValueError,
         r"n must be >= 1 or None, got 0"),
    case("max_num_configs_nan", lambda t: call(ops.set_default_max_num_configs, NAN), TypeError,
         r"n must be an int or None, got float"),
]


@pytest.fixture
def saved_settings():
    saved = (ops.get_default_num_warps(), ops.get_default_num_stages(),
             ops.get_default_max_num_configs(), rwkv.get_backend())
    yield
    ops.set_default_num_warps(saved[0])
    ops.set_default_num_stages(saved[1])
    ops.set_default_max_num_configs(saved[2])
    rwkv.set_backend(saved[3])


@pytest.mark.parametrize("make,error,match", SETTINGS)
def test_settings(make, error, match, device, saved_settings):
    before = (ops.get_default_num_warps(), ops.get_default_num_stages(),
              ops.get_default_max_num_configs())
    run_case(make, error, match, device)
    assert (ops.get_default_num_warps(), ops.get_default_num_stages(),
            ops.get_default_max_num_configs()) == before


def test_every_public_op_is_swept():
    """Each public function of tessera.ops and tessera.ops.rwkv is called by some case (by
    name, in the case ids and the op prefixes of the patterns)."""
    swept = " ".join(p.id + " " + p.values[2] for table in (
        ELEMENTWISE, NORMALIZATION, MATMUL, ROPE, SDPA, FLASH, VARLEN, KVCACHE, WKV4, WKV7,
        SETTINGS) for p in table)
    public = [name for name in ops.__all__ if callable(getattr(ops, name)) and
              not name.startswith("get_") and name != "CausalVariant"]
    public += ["wkv4", "wkv7", "wkv7s", "set_backend"]
    names = {"set_default_num_warps": "num_warps", "set_default_num_stages": "num_stages",
             "set_default_max_num_configs": "max_num_configs"}
    missing = [name for name in public if names.get(name, name) not in swept]
    assert not missing, missing

