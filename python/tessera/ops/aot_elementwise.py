"""The element-wise ops ahead of time: the kernels and op records (docs/op-records.md, "The
element-wise family") that let C and C++ programs call ``add``, ``exp``, ``clamp``... by name.

An op at one input dtype means one or more *variants*: a scalar function of the element-wise
kernel (``OP``) with the element types of its operands, of the output and of the op's common
and result dtypes, as ``ops/elementwise.py`` launches it for inputs of that dtype. The C++ op
lays every call out in four dimension slots (rank 4), its operands all tensors (a C caller's
scalars are 0-d tensors), so each variant is bundled as three kernels: one for contiguous,
aligned calls of 32-bit indices (every size and stride folded to 1: 16-byte vector accesses),
and two for any call (32-bit and 64-bit indices) that the C++ op specialises for the call.

    >>> [k.name.split("/")[4] for k in kernels("add", "bf16", "sm_90a")]
    ['contiguous', 'generic', 'generic64']
    >>> kernels("add", "bf16", "sm_90a")[0].name
    'elementwise_kernel/add/bf16-bf16-none/bf16/contiguous/sm_90a'
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..compiler.specialization import generate_tile_ir
from ..language.dtypes import str_to_ty
from .aot import SHARED_MEMORY_BYTES, _parameters
from .elementwise import _BYTES_PER_THREAD, _DEFAULT_NUM_WARPS
from .kernels.elementwise import (ABSENT, DROPOUT_BLOCK, MAX_RANK, TENSOR, dropout_kernel,
                                  elementwise_kernel)

__all__ = ["DTYPES", "OPS", "BundledKernel", "Variant", "kernels", "variants"]

# Spec dtype names (the float names of the matmul entries, PyTorch's for the others) -> the
# signature names that records use.
DTYPES = {"fp16": "fp16", "bf16": "bf16", "fp32": "fp32", "bool": "i1", "uint8": "u8",
          "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64"}
_FLOATS = ("fp16", "bf16", "fp32")
_NUM_STAGES = 3  # the launcher's default, which the element-wise ops launch with
_FAMILY = "elementwise"


class Variant(NamedTuple):
    """One scalar function at one set of element types (signature names; None: no operand)."""

    function: str  # elementwise_kernel's OP, or "dropout" for dropout_kernel
    operands: Tuple[Optional[str], ...]  # A, B, C
    out: str
    common: str
    result: str


class BundledKernel(NamedTuple):
    """A kernel to bundle with its op record (without "kernel", which the writer sets)."""

    name: str
    tile_ir: str
    target: str
    num_warps: int
    num_stages: int
    op_family: str
    op_record: Dict[str, Any]


def _operands(dtype: str, arity: int) -> Tuple[Optional[str], ...]:
    return (dtype,) * arity + (None,) * (3 - arity)


def _same(function: str, arity: int, dtype: str) -> Variant:
    """A function whose operands, common, result and output dtypes are all ``dtype``."""
    return Variant(function, _operands(dtype, arity), dtype, dtype, dtype)


def _float_result(function: str, arity: int, dtype: str) -> Variant:
    """A floating-point function: integers and bools compute and give fp32 (the default)."""
    result = dtype if dtype in _FLOATS else "fp32"
    return Variant(function, _operands(dtype, arity), result, result, result)


def _classification(function: str, dtype: str) -> Variant:
    """isnan, isinf: bools, computed in the input's float dtype (fp32 for integers)."""
    common = dtype if dtype in _FLOATS else "fp32"
    return Variant(function, (dtype, None, None), "i1", common, "i1")


def _comparison(function: str, dtype: str) -> Variant:
    # Bools compare as u8 (an i1 compares as signed: True would be -1).
    return Variant(function, (dtype, dtype, None), "i1", "u8" if dtype == "i1" else dtype, "i1")


def _require(allowed: bool, op: str, dtype: str, expected: str) -> None:
    """Refuses ``dtype`` (a signature name) for ``op`` unless ``allowed``, as the op does."""
    if not allowed:
        spec_name = next(name for name, signature in DTYPES.items() if signature == dtype)
        raise ValueError(f"{op}: dtype {spec_name} is not supported; expected {expected}")


def _unary(op: str, d: str) -> List[Variant]:
    if op in ("exp", "rsqrt", "sin", "cos", "sigmoid", "tanh"):
        return [_float_result(op, 1, d)]
    if op in ("isnan", "isinf"):
        return [_classification(op, d)]
    if op in ("abs", "neg", "relu"):
        _require(d != "i1", op, d, "a number type (not bool)")
    elif op == "bitwise_not":
        _require(d not in _FLOATS, op, d, "an integer or bool dtype")
    else:  # silu, gelu, dropout
        _require(d in _FLOATS, op, d, "a floating-point dtype (fp16, bf16, fp32)")
    if op == "gelu":
        return [_same("gelu", 1, d), _same("gelu_tanh", 1, d)]
    if op == "dropout":  # training, or not (or p == 0): a copy
        return [_same("dropout", 1, d), _same("identity", 1, d)]
    return [_same(op, 1, d)]


def _binary(op: str, d: str) -> List[Variant]:
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        return [_comparison(op, d)]
    if op == "add":  # bools: logical or
        return [_same("bitwise_or" if d == "i1" else "add", 2, d)]
    if op == "mul":  # bools: logical and
        return [_same("bitwise_and" if d == "i1" else "mul", 2, d)]
    if op == "div":  # true division, and the rounding modes (numbers only)
        true_division = [_float_result("div", 2, d)]
        if d == "i1":
            return true_division
        return true_division + [_same("div_trunc", 2, d), _same("div_floor", 2, d)]
    if op in ("bitwise_and", "bitwise_or"):
        _require(d not in _FLOATS, op, d, "integer or bool operands")
        return [_same(op, 2, d)]
    _require(d != "i1", op, d, "a number type (not bool)")
    if op == "clamp":  # both bounds, or one of them
        return [_same("clamp", 3, d), _same("clamp_min", 2, d), _same("clamp_max", 2, d)]
    return [_same(op, 2, d)]  # sub, pow


_UNARY = {"abs", "bitwise_not", "cos", "dropout", "exp", "gelu", "isinf", "isnan", "neg", "relu",
          "rsqrt", "sigmoid", "silu", "sin", "tanh"}
_BINARY = {"add", "bitwise_and", "bitwise_or", "clamp", "div", "eq", "ge", "gt", "le", "lt",
           "mul", "ne", "pow", "sub"}
OPS = frozenset(_UNARY | _BINARY)


def variants(op: str, dtype: str) -> List[Variant]:
    """The variants that ``op`` launches for inputs of ``dtype`` (a spec name: ``"bf16"``,
    ``"bool"``, ``"int32"``...); ValueError for a dtype the op refuses.

    >>> [v.function for v in variants("clamp", "int32")]
    ['clamp', 'clamp_min', 'clamp_max']
    """
    if op not in OPS:
        raise ValueError(f"{op!r} is not an element-wise op: one of {sorted(OPS)}")
    if dtype not in DTYPES:
        raise ValueError(f"{op}: dtype must be one of {list(DTYPES)}, got {dtype!r}")
    planner = _unary if op in _UNARY else _binary
    return planner(op, DTYPES[dtype])


def _element_bytes(signature: str) -> int:
    return max(1, str_to_ty(signature).primitive_bitwidth // 8)  # bools take a byte


def _block(variant: Variant) -> int:
    """BLOCK as the ops launch it: two 16-byte accesses per thread of the widest element."""
    if variant.function == "dropout":
        return DROPOUT_BLOCK  # part of the random stream's definition
    widest = max(_element_bytes(t) for t in variant.operands + (variant.out,) if t)
    return _DEFAULT_NUM_WARPS * 32 * max(1, _BYTES_PER_THREAD // widest)


def _alpha_signature(common: str) -> str:
    """The type of add's and sub's ``alpha`` (a float for floats, else as wide as COMMON)."""
    if common in _FLOATS:
        return "fp32"
    return "i64" if common == "i64" else "i32"


def _arguments(variant: Variant, contiguous: bool, index: str) -> Dict[str, Any]:
    """The specialisation key part of each run-time argument by name: ``("c", value)`` when
    folded, else ``(signature, divisible by 16)``. Contiguous kernels assume aligned
    pointers, a multiple-of-16 ``n`` and unit sizes and strides; generic ones nothing."""
    one = ("c", 1)
    size_or_stride = one if contiguous else (index, False)
    pointers = dict(zip("ABC", variant.operands)) if variant.function != "dropout" \
        else {"X": variant.operands[0]}
    pointers["Out"] = variant.out
    arguments: Dict[str, Any] = {"n": (index, contiguous)}
    for name, element in pointers.items():
        arguments[name] = (f"*{element}", contiguous) if element else ("c", None)
        stride_prefix = "o" if name == "Out" else name.lower()
        for dim in range(MAX_RANK):
            arguments[f"{stride_prefix}_s{dim}"] = size_or_stride if element else one
    for dim in range(MAX_RANK - 1):
        arguments[f"size{dim}"] = size_or_stride
    if variant.function == "dropout":
        arguments.update(p=("fp32", False), scale=("fp32", False), seed=("i64", False))
    elif variant.function in ("add", "sub") and not contiguous:
        arguments["alpha"] = (_alpha_signature(variant.common), False)
    else:  # the multiplier 1, which the Python launcher folds too
        arguments["alpha"] = one
    return arguments


def _constexprs(variant: Variant, contiguous: bool, index_64: bool) -> Dict[str, Any]:
    # A contiguous kernel (every size and stride 1) is the same function at rank 1 as at rank 4;
    # at rank 1 it is also the kernel that a Python call on contiguous operands compiles, so a
    # Python process that loads the bundle finds those launches there too.
    rank = 1 if contiguous else MAX_RANK
    constexprs: Dict[str, Any] = {"RANK": rank, "INDEX_64": index_64, "BLOCK": _block(variant)}
    if variant.function == "dropout":
        return constexprs
    common = str_to_ty(variant.common)
    compute = str_to_ty("fp32") if variant.common in ("fp16", "bf16") else common
    kinds = [TENSOR if operand else ABSENT for operand in variant.operands]
    constexprs.update(OP=variant.function, A_KIND=kinds[0], B_KIND=kinds[1], C_KIND=kinds[2],
                      COMMON=common, COMPUTE=compute, RESULT=str_to_ty(variant.result),
                      SCALAR_DTYPE=compute)  # unused: no scalar operands
    return constexprs


# The three kernels of every variant: (role, as kernel names end, index_64, contiguous).
_ROLES = (("contiguous", False, True), ("generic", False, False), ("generic64", True, False))


def _kernel(variant: Variant, target: str, role: str, index_64: bool, contiguous: bool
            ) -> BundledKernel:
    kernel = dropout_kernel if variant.function == "dropout" else elementwise_kernel
    arguments = _arguments(variant, contiguous, "i64" if index_64 else "i32")
    constexprs = _constexprs(variant, contiguous, index_64)
    key = [constexprs[name] if name in constexprs else arguments[name]
           for name in kernel.arg_names]
    specs = kernel.specialization(key)
    operand_names = "-".join(operand or "none" for operand in variant.operands)
    name = (f"{kernel.__name__}/{variant.function}/{operand_names}/{variant.out}/{role}/"
            f"{target}")
    record = {"kind": "case" if contiguous else "generic", "function": variant.function,
              "operands": list(variant.operands), "out": variant.out, "common": variant.common,
              "result": variant.result, "index_64": index_64, "block": constexprs["BLOCK"],
              "num_warps": _DEFAULT_NUM_WARPS, "target": target,
              "params": _parameters(kernel, specs),
              "ones": [n for n in kernel.arg_names if arguments.get(n) == ("c", 1)]}
    return BundledKernel(name, generate_tile_ir(kernel, specs), target, _DEFAULT_NUM_WARPS,
                         _NUM_STAGES, _FAMILY, record)


def kernels(op: str, dtype: str, target: str) -> List[BundledKernel]:
    """The kernels (three per variant: contiguous, generic, generic64) and op records that
    let C and C++ programs call ``op`` on inputs of ``dtype`` on GPUs of ``target``.

    >>> record = kernels("exp", "int32", "sm_90a")[0].op_record
    >>> record["operands"], record["out"], record["kind"]
    (['i32', None, None], 'fp32', 'case')
    """
    if target not in SHARED_MEMORY_BYTES:
        raise ValueError(f"unknown target {target!r}: one of {sorted(SHARED_MEMORY_BYTES)}")
    return [_kernel(variant, target, *role) for variant in variants(op, dtype) for role in _ROLES]

