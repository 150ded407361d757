"""softmax, layer_norm and rms_norm ahead of time: the kernels and op records
(docs/op-records.md, "The normalization family") that let C and C++ programs call them by name.

An op at one input dtype means a few *variants*: the dtypes of its input, output, weight and
bias (None: absent), as ``ops/normalization.py`` launches them. Each variant is bundled as two
fallbacks (multi-pass, one row per program, 32- and 64-bit offsets) that serve every call, and,
per shape of a spec entry, the kernel that the Python op compiles for a contiguous input of
that shape (its *case*) with a *generic* twin of the same block that assumes nothing.

The cases are planned by the op's own code (``_softmax_plan``, ``_norm_plan``) on stand-ins of
the tensors, and specialised by the kernel's own ``argument_key``, so a case is the very kernel
(same tile IR) that the Python op JIT-compiles for that call at a 256-byte aligned address.

    >>> [k.name.split("/")[3] for k in kernels("rms_norm", "bf16", [[4096, 4096]], "sm_90a")][:4]
    ['fallback', 'fallback64', '4096x4096', '4096x4096-generic']
    >>> kernels("layer_norm", "fp16", [], "sm_90a")[0].name
    'norm_kernel/layer_norm/fp16-fp16-fp16-fp16/fallback/sm_90a'
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..compiler.specialization import generate_tile_ir
from . import normalization
from .aot import SHARED_MEMORY_BYTES, PlannedTensor, _parameters
from .aot_elementwise import BundledKernel
from .kernels.normalization import Block, norm_kernel, softmax_kernel

__all__ = ["DTYPES", "FALLBACK", "OPS", "Variant", "check_shape", "kernels", "variants"]

DTYPES = ("fp16", "bf16", "fp32")
OPS = frozenset({"softmax", "layer_norm", "rms_norm"})
# The block of the fallbacks: multi-pass, one row per program (so EVEN_M holds for every call),
# 2048 columns at a time whatever the row length.
FALLBACK = Block(one_pass=False, rows=1, block_n=2048, num_warps=4)
# The kernels' loops stream each element once and are not pipelined: the ops launch them with
# one stage (``normalization._num_stages`` without a user's default).
_NUM_STAGES = 1
_FAMILY = "normalization"
_EPS = 1e-5  # any float: eps is a run-time fp32 argument, never folded


class Variant(NamedTuple):
    """The dtypes (signature names) of an op's tensors; None: an absent weight or bias."""

    input: str
    output: str
    weight: Optional[str]
    bias: Optional[str]


def variants(op: str, dtype: str) -> List[Variant]:
    """The variants that ``op`` launches for inputs of ``dtype``: softmax also to fp32 (its
    ``dtype=torch.float32``) for 16-bit inputs; the norms with and without weight (and bias).

    >>> [v.output for v in variants("softmax", "bf16")]
    ['bf16', 'fp32']
    >>> [(v.weight, v.bias) for v in variants("layer_norm", "fp32")]
    [('fp32', 'fp32'), (None, None), ('fp32', None)]
    """
    if op not in OPS:
        raise ValueError(f"{op!r} is not a normalization op: one of {sorted(OPS)}")
    if dtype not in DTYPES:
        raise ValueError(f"{op}: dtype must be one of {list(DTYPES)}, got {dtype!r}")
    d = dtype
    if op == "softmax":
        return [Variant(d, d, None, None)] + ([Variant(d, "fp32", None, None)]
                                              if d != "fp32" else [])
    if op == "layer_norm":
        return [Variant(d, d, d, d), Variant(d, d, None, None), Variant(d, d, d, None)]
    return [Variant(d, d, d, None), Variant(d, d, None, None)]


def check_shape(op: str, shape: Any) -> Tuple[int, ...]:
    """``shape`` (a contiguous input's) as a tuple, or ValueError naming the op.

    >>> check_shape("softmax", [8, 512, 1024])
    (8, 512, 1024)
    """
    if not isinstance(shape, (list, tuple)) or not shape or \
            any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
        raise ValueError(f"{op}: a shape is a list of one or more positive ints, got {shape!r}")
    return tuple(shape)


class _Launch(NamedTuple):
    """One planned launch: its block, its constexprs and the kernel's specialisation key."""

    block: Block
    constexprs: Dict[str, Any]
    key: List[Any]


def _kernel(op: str) -> Any:
    return softmax_kernel if op == "softmax" else norm_kernel


def _op_constexprs(op: str) -> Dict[str, Any]:
    return {} if op == "softmax" else {"RMS": op == "rms_norm"}


def _case_launch(op: str, variant: Variant, shape: Tuple[int, ...], target: str) -> _Launch:
    """The launch of ``op`` on a contiguous input of ``shape`` at an aligned address, planned
    and specialised by the op's own code (``softmax(x, -1, dtype)``, ``layer_norm(x,
    shape[-1:], w, b)``, ``rms_norm(x, shape[-1:], w)``)."""
    strides = normalization.contiguous_strides(shape)
    if op == "softmax":
        block, steps = normalization._softmax_plan(shape, (strides,), len(shape) - 1, None)
    else:  # weight and bias: contiguous, of normalized_shape shape[-1:]
        block, steps = normalization._norm_plan(
            op, shape, strides, None if variant.weight is None else (1,),
            None if variant.bias is None else (1,), 1, None)
    # A contiguous input's rows merge into one group: one launch, at offset 0 (several only
    # past 2**31 programs of up to 2**31 rows each: never for a tensor that fits in memory).
    if len(steps) != 1:
        raise ValueError(f"{op}: an input of shape {list(shape)} takes {len(steps)} launches; "
                         "bundles hold single-launch calls")
    _, args, row_dims, index_64, even_m, _ = steps[0]

    def tensor(signature: Optional[str], tensor_shape: Tuple[int, ...]) -> Any:
        return None if signature is None else PlannedTensor(tensor_shape, signature, target)

    pointers = [tensor(variant.input, shape), tensor(variant.output, shape)]
    if op != "softmax":
        pointers += [tensor(variant.weight, shape[-1:]), tensor(variant.bias, shape[-1:])]
    trailing = [] if op == "softmax" else [_EPS]
    kernel = _kernel(op)
    constexprs = dict(_op_constexprs(op), ROW_DIMS=row_dims, ROWS=block.rows,
                      BLOCK_N=block.block_n, ONE_PASS=block.one_pass, EVEN_M=even_m,
                      EVEN_N=args[1] % block.block_n == 0, INDEX_64=index_64)
    named = dict(zip(kernel.arg_names, [*pointers, *args, *trailing]), **constexprs)
    return _Launch(block, constexprs, kernel.argument_key(named))


def _generic_launch(op: str, variant: Variant, block: Block, index_64: bool,
                    even_m: bool) -> _Launch:
    """A launch of ``block`` that assumes nothing of any value: pointers of divisibility 1,
    every integer a run-time ``i32`` (``i64`` with ``index_64``), absent tensors None, one
    column group (``n_inner`` None), ``ROW_DIMS`` 3 and no ``EVEN_N``."""
    kernel = _kernel(op)
    index = "i64" if index_64 else "i32"
    pointers = {"x_ptr": variant.input, "y_ptr": variant.output, "w_ptr": variant.weight,
                "b_ptr": variant.bias}
    constexprs = dict(_op_constexprs(op), ROW_DIMS=3, ROWS=block.rows, BLOCK_N=block.block_n,
                      ONE_PASS=block.one_pass, EVEN_M=even_m, EVEN_N=False, INDEX_64=index_64)
    key: List[Any] = []
    for name in kernel.arg_names:
        if name in constexprs:
            key.append(constexprs[name])
        elif name in pointers:
            element = pointers[name]
            key.append((f"*{element}", False) if element else ("c", None))
        elif name == "n_inner":
            key.append(("c", None))
        elif name == "eps":
            key.append(("fp32", False))
        else:
            key.append((index, False))
    return _Launch(block, constexprs, key)


def _bundled(op: str, variant: Variant, launch: _Launch, what: str, kind: str,
             target: str) -> BundledKernel:
    kernel = _kernel(op)
    specs = kernel.specialization(launch.key)
    tensors = "-".join(t or "none" for t in variant)
    name = f"{kernel.__name__}/{op}/{tensors}/{what}/{target}"
    c = launch.constexprs
    record = {"kind": kind, "op": op, "input": variant.input, "output": variant.output,
              "weight": variant.weight, "bias": variant.bias, "one_pass": c["ONE_PASS"],
              "rows": c["ROWS"], "block_n": c["BLOCK_N"], "row_dims": c["ROW_DIMS"],
              "even_m": c["EVEN_M"], "even_n": c["EVEN_N"], "index_64": c["INDEX_64"],
              "num_warps": launch.block.num_warps, "num_stages": _NUM_STAGES, "target": target,
              "params": _parameters(kernel, specs),
              "ones": [n for n, part in zip(kernel.arg_names, launch.key) if part == ("c", 1)]}
    return BundledKernel(name, generate_tile_ir(kernel, specs), target, launch.block.num_warps,
                         _NUM_STAGES, _FAMILY, record)


def kernels(op: str, dtype: str, shapes: Optional[Sequence[Sequence[int]]], target: str
            ) -> List[BundledKernel]:
    """The kernels and op records that let C and C++ programs call ``op`` on inputs of
    ``dtype`` on GPUs of ``target``: per variant, the two fallbacks, then per shape of
    ``shapes`` (None: none) the case and its generic twin. Kernels of equal tile IR (the
    generic twins of shapes that plan one block) are listed per shape; the bundle's writer
    stores them once.

    >>> case = kernels("softmax", "fp32", [[4096, 1024]], "sm_90a")[2].op_record
    >>> case["kind"], case["rows"], case["block_n"], case["num_warps"], case["ones"][:3]
    ('case', 4, 1024, 8, ['M1', 'M2', 'x_stride1'])
    """
    if target not in SHARED_MEMORY_BYTES:
        raise ValueError(f"unknown target {target!r}: one of {sorted(SHARED_MEMORY_BYTES)}")
    op_variants = variants(op, dtype)
    checked = [check_shape(op, shape) for shape in shapes or []]
    bundled = []
    for variant in op_variants:
        for what, index_64 in (("fallback", False), ("fallback64", True)):
            launch = _generic_launch(op, variant, FALLBACK, index_64, even_m=True)
            bundled.append(_bundled(op, variant, launch, what, "generic", target))
        for shape in checked:
            case = _case_launch(op, variant, shape, target)
            what = "x".join(map(str, shape))
            bundled.append(_bundled(op, variant, case, what, "case", target))
            twin = _generic_launch(op, variant, case.block, case.constexprs["INDEX_64"],
                                   even_m=False)
            bundled.append(_bundled(op, variant, twin, f"{what}-generic", "generic", target))
    return bundled
