"""The op library ahead of time: the kernel specialisations and config choices that op calls
make, planned without a GPU or PyTorch, for bundles (``tessera.aot``).

A case is an op, the shapes and dtype of its operands (contiguous, as PyTorch allocates them)
and a compile target. Planning runs the ops' own code on stand-ins of the tensors (shape,
strides, dtype, an aligned address) and of the device (its target): the argument list, the
autotuner's key and pruned configs, the heuristics and descriptor block shapes, and the JIT's
specialisation key, so that a process running the same call on a GPU derives the same kernel
key and tuning key and finds both in the bundle. The element-wise ops, whose kernels serve every
shape, are planned by ``aot_elementwise``; softmax and the norms by ``aot_normalization``, and
rotary embeddings by ``aot_rope`` (no tuning: their kernels' blocks follow from the shape).

    >>> [case.name for case in plan("matmul", [4096, 4096, 4096], "fp16", "sm_90a")]
    ['matmul_kernel/matmul/4096x4096x4096/fp16/ieee/128x256x64w8s4/sm_90a']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..compiler.specialization import ArgSpec, generate_tile_ir
from ..language.dtypes import str_to_ty, ty_to_str
from ..language.tensor_descriptor import tensor_descriptor_type
from ..runtime import arguments
from ..runtime.tensor_descriptor import TensorDescriptor
from ..runtime.tuning_cache import AotDevice, TuningCache, config_json, key_json
from . import blas
from .kernels.matmul import HEURISTICS, prune_configs, shared_memory_bytes

__all__ = ["LIBRARY", "OpCase", "generic_kernel", "plan", "smallest_config"]

# Shared memory per block (opt-in) of each target's GPUs, as the driver reports it: what the
# autotuner's pruning sees on the device.
SHARED_MEMORY_BYTES = {"sm_80": 166912, "sm_86": 101376, "sm_89": 101376, "sm_90": 232448,
                       "sm_90a": 232448}
_ALIGNMENT = 256  # bytes: every PyTorch CUDA allocation starts at such an address


@dataclass(frozen=True)
class OpCase:
    """One kernel launch of an op call, planned: its specialisation's tile IR and options, and
    the autotuner's key and candidate configs (``tuning_key``/``configs`` as JSON) with the one
    chosen without timing (the first that fits, as the op does with ``max_num_configs=1``)."""

    name: str
    tile_ir: str
    target: str
    num_warps: int
    num_stages: int
    tuner: Any  # the autotuner the op launches through
    tuning_key: Tuple[Any, ...]
    configs: Tuple[Any, ...]
    chosen: Any
    # The op record (docs/op-records.md) without its "kernel" and "timed", which the bundle's
    # writer knows: the op family it is stored under, and the record.
    op_family: str
    op_record: Dict[str, Any]

    @property
    def tuning_identity(self) -> str:
        return TuningCache(self.tuner.fn).identity

    def choice_record(self) -> Tuple[str, str, str]:
        """``(kernel identity, key JSON, config JSON)`` of the chosen config."""
        return self.tuning_identity, key_json(self.tuning_key), config_json(self.chosen)


class PlannedTensor:
    """A contiguous CUDA tensor that is not there: what the ops read of one (shape, strides,
    dtype, address, device)."""

    def __init__(self, shape: Sequence[int], signature: str, target: str,
                 strides: Optional[Sequence[int]] = None, pointer: int = _ALIGNMENT) -> None:
        self.shape = tuple(shape)
        if strides is None:
            strides, size = [], 1
            for extent in reversed(self.shape):
                strides.insert(0, size)
                size *= extent
        self._strides = tuple(strides)
        self.signature = signature
        self.dtype = _TORCH_DTYPE_NAMES[signature]  # str(dtype) of the PyTorch tensor
        self.device = AotDevice(target)
        self.pointer = pointer
        self._element_bytes = str_to_ty(signature).primitive_bitwidth // 8

    def stride(self, dim: Optional[int] = None) -> Any:
        return self._strides if dim is None else self._strides[dim]

    def element_size(self) -> int:
        return self._element_bytes

    def dim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: int) -> "PlannedTensor":
        if not isinstance(index, int) or not 0 <= index < self.shape[0]:
            raise IndexError(f"planned tensor index {index!r} out of range")
        return PlannedTensor(self.shape[1:], self.signature, self.device.target, self._strides[1:],
                             self.pointer + index * self._strides[0] * self._element_bytes)


_TORCH_DTYPE_NAMES = {"fp16": "torch.float16", "bf16": "torch.bfloat16", "fp32": "torch.float32"}


def _planned_argument(arg: PlannedTensor, specialize: bool
                      ) -> Tuple[Tuple[Any, Any], Any, Optional[int]]:
    return arguments.pointer_key(arg.signature, arg.pointer, specialize), arg.pointer, None


arguments.HANDLERS[PlannedTensor] = _planned_argument


class PlannedDescriptor(TensorDescriptor):
    """A tensor descriptor of a planned tensor, on a device of the planned tensor's target."""

    def _target(self) -> Optional[str]:
        return self.base.device.target


def _matmul_cases(shape: Sequence[int], dtype: str, target: str,
                  input_precision: Optional[str], config: Any = None) -> List[OpCase]:
    """``matmul(a, b)`` of a contiguous ``a (M, K)`` and ``b (K, N)`` (a 1-D launch: no batch)."""
    if len(shape) != 3 or any(not isinstance(v, int) or v < 1 for v in shape):
        raise ValueError(f"matmul: a shape is [M, N, K] of positive ints, got {shape!r}")
    if dtype not in _TORCH_DTYPE_NAMES:
        raise ValueError(f"matmul: dtype must be one of {sorted(_TORCH_DTYPE_NAMES)}, got "
                         f"{dtype!r}")
    m, n, k = shape
    precision = input_precision or "ieee"
    if precision not in ("ieee", "tf32") or (precision == "tf32" and dtype != "fp32"):
        raise ValueError(f"matmul: input_precision must be 'ieee', or 'tf32' for fp32, got "
                         f"{input_precision!r} for {dtype}")
    a = PlannedTensor((1, m, k), dtype, target)
    b = PlannedTensor((1, k, n), dtype, target)
    c = PlannedTensor((1, m, n), dtype, target)
    tuner = blas.tuned_kernel()
    kernel = tuner.fn.fn  # under the heuristics
    args = blas.kernel_arguments(a, b, c, None, 1, 0, descriptor_type=PlannedDescriptor)
    named = tuner.named_arguments(args, {"INPUT_PRECISION": precision})
    tuning_key = tuner.tuning_key(named)
    configs = prune_configs(tuner.configs, named, SHARED_MEMORY_BYTES[target],
                            blas.settings.get_default_max_num_configs())
    if config is not None and config not in configs:
        raise ValueError(f"matmul: config ({config}) is not among the candidates for {shape}")
    chosen = configs[0] if config is None else config
    named.update(chosen.all_kwargs())
    chosen.run_pre_hook(named)
    for heuristic_name, heuristic in HEURISTICS.items():
        named[heuristic_name] = heuristic(named)
    specs = kernel.specialization(kernel.argument_key(named))
    # The config is part of the name: bundles tuned apart can choose differently for one call,
    # and a runtime that loads both must not take one's kernel for the other's record.
    name = (f"{kernel.__name__}/matmul/{m}x{n}x{k}/{dtype}/{precision}/{_config_name(chosen)}/"
            f"{target}")
    record = {"kind": "case", "dtype": dtype, "input_precision": precision, "target": target,
              "config": _config_fields(chosen), "call": {v: named[v] for v in _CALL_VALUES},
              "params": _parameters(kernel, specs)}
    return [OpCase(name, generate_tile_ir(kernel, specs), target, chosen.num_warps,
                   chosen.num_stages, tuner, tuning_key, tuple(configs), chosen, "matmul",
                   record)]


# What a case record's "call" fixes (the C++ op matches calls on them).
_CALL_VALUES = ["M", "N", "K", "stride_ab", "stride_am", "stride_ak", "stride_bb", "stride_bk",
                "stride_bn", "stride_cb", "stride_cm", "stride_cn"]


def _config_name(config: Any) -> str:
    """``128x256x64w8s4``: a matmul config's blocks, warps and stages, for kernel names."""
    kw = config.kwargs
    return (f"{kw['BLOCK_M']}x{kw['BLOCK_N']}x{kw['BLOCK_K']}w{config.num_warps}"
            f"s{config.num_stages}")


def _config_fields(config: Any) -> Dict[str, int]:
    return {**config.kwargs, "num_warps": config.num_warps, "num_stages": config.num_stages}


def _parameters(kernel: Any, specs: Sequence[ArgSpec]) -> List[List[Any]]:
    """The kernel parameters of a specialisation as op records list them: ``[name, type,
    divisibility]``, and ``[name, "tensormap", block shape]`` for a descriptor's TMA map; a
    descriptor ``d`` is its parts ``d.tensormap``, ``d.base``, ``d.shape<i>``, ``d.stride<i>``."""
    params: List[List[Any]] = []
    for name, spec in zip(kernel.arg_names, specs):
        if spec.is_constant:
            continue
        ty = spec.runtime_type
        types = spec.parameter_types()
        divisibility = spec.parameter_divisibility()
        if not isinstance(ty, tensor_descriptor_type):
            params.append([name, ty_to_str(ty), divisibility[0]])
            continue
        parts = (["tensormap"] if spec.divisible_by_16 else []) + ["base"] + \
            [f"shape{i}" for i in range(ty.rank)] + [f"stride{i}" for i in range(ty.rank - 1)]
        for part, part_type, part_divisibility in zip(parts, types, divisibility):
            params.append([f"{name}.{part}", "tensormap", list(ty.block_shape)]
                          if part == "tensormap"
                          else [f"{name}.{part}", ty_to_str(part_type), part_divisibility])
    return params


def smallest_config(family: str) -> Any:
    """The config of ``family``'s kernel (``"matmul"``) that takes the least shared memory."""
    if family != "matmul":
        raise ValueError(f"unknown op family {family!r}")
    return min(blas.tuned_kernel().configs, key=lambda c: shared_memory_bytes(c, 4))


def generic_kernel(dtype: str, input_precision: str, target: str, config: Any
                   ) -> Tuple[str, str, Dict[str, Any]]:
    """The matmul kernel of ``config`` for any call (the C++ op's JIT fallback specialises it):
    pointer loads, every edge masked, 64-bit offsets, no assumption on any argument. Returns its
    bundle name, its tile IR and its op record (without "kernel")."""
    kernel = blas.tuned_kernel().fn.fn
    folded = {"bias_ptr": None, "a_desc": None, "b_desc": None, "alpha": 1}
    constexprs = {**config.kwargs, "EVEN_M": False, "EVEN_N": False, "EVEN_K": False,
                  "INDEX_64": True, "INPUT_PRECISION": input_precision}
    key: List[Any] = []
    for name in kernel.arg_names:
        if name in constexprs:
            key.append(constexprs[name])
        elif name in folded:
            key.append(("c", folded[name]))
        elif name.endswith("_ptr"):
            key.append((f"*{dtype}", False))
        else:
            key.append(("fp32" if name == "beta" else "i32", False))
    specs = kernel.specialization(key)
    name = f"{kernel.__name__}/generic/{dtype}/{input_precision}/{_config_name(config)}/{target}"
    record = {"kind": "generic", "dtype": dtype, "input_precision": input_precision,
              "target": target, "config": _config_fields(config),
              "params": _parameters(kernel, specs)}
    return name, generate_tile_ir(kernel, specs), record


# op name -> planner(shape, dtype, target, input_precision, config); mm is matmul of two
# matrices.
LIBRARY: Dict[str, Callable[..., List[OpCase]]] = {"matmul": _matmul_cases, "mm": _matmul_cases}

_FLOATS = ["fp16", "bf16", "fp32"]

# The cases of a bundle of the whole library (``tessera-aot --library``): matmul at the shapes
# of the benchmarks and of common transformer layers; the element-wise ops (``aot_elementwise``:
# kernels for every shape) at the float dtypes, and the comparisons and bitwise ops also at the
# dtypes of masks and indices; the norms and softmax (``aot_normalization``: fallbacks for every
# shape, and a case per shape) at rows of common hidden sizes, one per block the ops choose (the
# one-pass blocks of 1024, 4096 and 16384 columns); rotary embeddings (``aot_rope``) at the head
# counts and dims of common models (the tiles of 32 and 8 heads of 64 pairs, 32 of 32 pairs).
LIBRARY_CASES: Dict[str, Dict[str, Any]] = {
    "matmul": {"shapes": [[4096, 4096, 4096], [8192, 8192, 8192], [16, 8192, 8192],
                          [64, 8192, 8192], [128, 8192, 8192], [4095, 4097, 1023],
                          [2048, 2048, 2048], [1024, 1024, 1024]],
               "dtypes": _FLOATS},
    **{op: {"shapes": [[4096, 1024], [4096, 4096], [4096, 16384]], "dtypes": _FLOATS}
       for op in ["softmax", "layer_norm", "rms_norm"]},
    "rotary_position_embedding": {"shapes": [[1, 4096, 32, 128], [1, 4096, 8, 128],
                                             [1, 4096, 32, 64]],
                                  "dtypes": _FLOATS},
    **{op: {"dtypes": _FLOATS} for op in [
        "abs", "add", "clamp", "cos", "div", "dropout", "exp", "gelu", "isinf", "isnan", "mul",
        "neg", "pow", "relu", "rsqrt", "sigmoid", "silu", "sin", "sub", "tanh"]},
    **{op: {"dtypes": _FLOATS + ["bool", "int32", "int64"]}
       for op in ["eq", "ge", "gt", "le", "lt", "ne"]},
    **{op: {"dtypes": ["bool", "uint8", "int8", "int16", "int32", "int64"]}
       for op in ["bitwise_and", "bitwise_not", "bitwise_or"]},
}


def plan(op: str, shape: Sequence[int], dtype: str, target: str,
         input_precision: Optional[str] = None, config: Any = None) -> List[OpCase]:
    """The launches of one op call, planned for ``target`` (see the module docstring), with
    ``config`` (one of the candidates: a tuned choice) in place of the first that fits."""
    planner = LIBRARY.get(op)
    if planner is None:
        raise ValueError(f"unknown op {op!r}: bundles can hold {sorted(LIBRARY)}")
    if target not in SHARED_MEMORY_BYTES:
        raise ValueError(f"unknown target {target!r}: one of {sorted(SHARED_MEMORY_BYTES)}")
    return planner(shape, dtype, target, input_precision, config)
