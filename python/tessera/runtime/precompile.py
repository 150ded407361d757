"""Bundles from a spec: ``tessera.aot`` (Python) and ``tessera-aot`` (command line).

A spec lists kernels and ops, each at shapes x dtypes x targets; ``aot`` compiles every case
(PTX, and a cubin through ptxas: no GPU needed) and writes one bundle (``tessera.build_bundle``'s
format) with the tile IR, the binaries and the config table, so that a process that calls
``tessera.load_bundle`` runs those cases without compiling or tuning anything::

    {
      "description": "serving kernels",
      "targets": ["sm_90a"],
      "ops": [{"op": "matmul", "shapes": [[4096, 4096, 4096]], "dtypes": ["fp16", "bf16"]},
              {"op": "add", "dtypes": ["bf16", "bool"]}],
      "kernels": [{"kernel": "examples.vector_add:add_kernel", "name": "add",
                   "signature": {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16",
                                 "out_ptr": "*fp32:16", "n_elements": "i32"},
                   "constants": {"BLOCK": 1024}, "num_warps": 4, "num_stages": 3}]
    }

``"ops": "library"`` stands for every op of ``tessera.ops`` at its ``LIBRARY_CASES``. An
element-wise op's entry (``add``, ``exp``, ``clamp``...: ``ops.aot_elementwise``) has dtypes
(fp16, bf16, fp32, bool, uint8, int8, int16, int32, int64) but no shapes: its kernels serve every
shape (docs/op-records.md, "The element-wise family"). ``softmax``, ``layer_norm`` and
``rms_norm`` (``ops.aot_normalization``) take dtypes (fp16, bf16, fp32) and optional shapes of
the input (``[4096, 4096]``): fallback kernels serve every call, and each shape adds the
kernel the Python op compiles for it and a generic twin ("The normalization family").
``rotary_position_embedding`` (``ops.aot_rope``) needs shapes ``[B, S, H, D]`` (D even), its
kernels being specialised to the head dim ("The rope family"). These kernels are planned
without tuning. A matmul case's config is the
autotuner's: where a GPU of the case's target is present (and ``tune`` is not False) the op runs
once on random inputs, which tunes it, and the bundle carries every config's time; elsewhere
the bundle names the config chosen without timing (the first that fits, as with
``max_num_configs=1``) and the loading process takes it as is.

    >>> tessera.aot("spec.json", "serving.tbundle")          # doctest: +SKIP
    AotReport(kernels=9, tuning=6, compiled=9, tuned=0, path='serving.tbundle', op_records=10)

    $ tessera-aot spec.json -o serving.tbundle
    $ tessera-aot --library --target sm_90a -o ops-sm_90a.tbundle
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import (Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence,
                    Tuple, Union)

from .. import _C
from ..compiler.aot import specs_from_signature
from ..compiler.specialization import generate_tile_ir
from . import tuning_cache
from .tuning_cache import UNTIMED

__all__ = ["AotReport", "aot", "main"]

_SPEC_FIELDS = {"description", "targets", "ops", "kernels"}
_OP_FIELDS = {"op", "shapes", "dtypes", "input_precision", "targets"}
# The entries of ops whose kernels are planned without tuning, by the module that plans them:
# (allowed fields, required fields). Element-wise kernels serve every shape; norm entries may
# name shapes (each adds a case), rope entries must (its kernel is specialised to D).
_FAMILY_FIELDS = {
    "aot_elementwise": ({"op", "dtypes", "targets"}, ["op", "dtypes"]),
    "aot_normalization": ({"op", "dtypes", "shapes", "targets"}, ["op", "dtypes"]),
    "aot_rope": ({"op", "dtypes", "shapes", "targets"}, ["op", "dtypes", "shapes"]),
}
_KERNEL_FIELDS = {"kernel", "name", "signature", "constants", "num_warps", "num_stages", "targets"}


class AotReport(NamedTuple):
    """What ``aot`` wrote: kernels and tuning records in the bundle, the kernels it compiled
    (the others came from the kernel cache) and the op cases it tuned on a GPU."""

    kernels: int
    tuning: int
    compiled: int
    tuned: int
    path: str
    op_records: int = 0  # how C and C++ programs call the ops (docs/op-records.md)


class _SpecError(ValueError):
    pass


def _fail(where: str, message: str) -> _SpecError:
    return _SpecError(f"bundle spec: {where}: {message}")


def _check_fields(where: str, entry: Any, allowed: set, required: Sequence[str]) -> None:
    if not isinstance(entry, Mapping):
        raise _fail(where, f"expected an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise _fail(where, f"unknown fields {unknown} (allowed: {sorted(allowed)})")
    missing = [name for name in required if name not in entry]
    if missing:
        raise _fail(where, f"missing fields {missing}")


def _string_list(where: str, value: Any) -> List[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or \
            not all(isinstance(v, str) for v in value) or not value:
        raise _fail(where, f"expected a non-empty list of strings, got {value!r}")
    return list(value)


def _load_spec(spec: Union[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    if isinstance(spec, Mapping):
        return spec
    try:
        with open(spec, encoding="utf-8") as spec_file:
            return json.load(spec_file)
    except OSError as error:
        raise _SpecError(f"bundle spec {spec}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise _SpecError(f"bundle spec {spec}: not valid JSON ({error})") from None


def _resolve_kernel(where: str, reference: Any) -> Any:
    """A kernel given as itself or as ``"module:attribute"``."""
    if not isinstance(reference, str):
        return reference
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise _fail(where, f"kernel {reference!r} must be 'module:attribute'")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise _fail(where, f"cannot import {module_name!r} ({error})") from None
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise _fail(where, f"{module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    return value


def _gpu_target() -> Optional[str]:
    """The target of the current CUDA device when PyTorch sees one, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return None
    if not torch.cuda.is_available():
        return None
    return _C.device_target(torch.cuda.current_device())


def _op_entries(spec: Mapping[str, Any]) -> List[Tuple[str, Mapping[str, Any]]]:
    """``(where, entry)`` of each op entry of the spec (``"library"``: the library's), each an
    object naming an op that bundles can hold."""
    from ..ops import aot as ops_aot
    ops = spec.get("ops", [])
    if ops == "library":
        ops = [{"op": name, **cases} for name, cases in ops_aot.LIBRARY_CASES.items()]
    if not isinstance(ops, list):
        raise _fail("ops", f"expected a list of op entries or \"library\", got {ops!r}")
    known = sorted(set(ops_aot.LIBRARY).union(*(m.OPS for m in _family_modules())))
    entries = []
    for index, entry in enumerate(ops):
        where = f"ops[{index}]"
        if not isinstance(entry, Mapping) or "op" not in entry:
            _check_fields(where, entry, _OP_FIELDS, ["op"])  # raises, saying which
        if entry["op"] not in known:
            raise _fail(where, f"unknown op {entry['op']!r}: bundles can hold {known}")
        entries.append((where, entry))
    return entries


def _family_modules() -> List[Any]:
    """The modules that plan the kernels of op families without tuning (by op: ``OPS``)."""
    from ..ops import aot_elementwise, aot_normalization, aot_rope
    return [aot_elementwise, aot_normalization, aot_rope]


def _family_module(entry: Mapping[str, Any]) -> Optional[Any]:
    """The module of ``_family_modules`` that plans the entry's op; None for matmul and mm
    (planned per call, and tuned)."""
    return next((m for m in _family_modules() if entry["op"] in m.OPS), None)


def _op_cases(entries: Sequence[Tuple[str, Mapping[str, Any]]], targets: List[str]
              ) -> Iterator[Dict[str, Any]]:
    """Each op call of the entries that ``_family_kernels`` does not plan (matmul, mm):
    ``{"where", "op", "shape", "dtype", "precision", "target"}``."""
    for where, entry in entries:
        if _family_module(entry) is not None:
            continue
        _check_fields(where, entry, _OP_FIELDS, ["op", "shapes", "dtypes"])
        shapes = entry["shapes"]
        if not isinstance(shapes, list) or not shapes:
            raise _fail(where, f"shapes must be a non-empty list, got {shapes!r}")
        dtypes = _string_list(f"{where}.dtypes", entry["dtypes"])
        precisions = entry.get("input_precision")
        for target in _string_list(f"{where}.targets", entry.get("targets", targets)):
            for shape in shapes:
                for dtype in dtypes:
                    # fp32 products run in TF32 or exactly, as PyTorch's matmul precision says:
                    # both unless the spec picks one
                    for precision in precisions or (["ieee", "tf32"] if dtype == "fp32"
                                                    else ["ieee"]):
                        yield {"where": where, "op": entry["op"], "shape": shape, "dtype": dtype,
                               "precision": precision, "target": target}


def _family_kernels(entries: Sequence[Tuple[str, Mapping[str, Any]]], targets: List[str]
                    ) -> List[Any]:
    """The kernels (``aot_elementwise.BundledKernel``, with their op records) of the entries
    of the element-wise, normalization and rope ops, in entry order."""
    planned = []
    for where, entry in entries:
        module = _family_module(entry)
        if module is None:
            continue
        planner = module.__name__.rpartition(".")[2]
        allowed, required = _FAMILY_FIELDS[planner]
        per_shape = sorted({"shapes", "input_precision"} & set(entry))
        if planner == "aot_elementwise" and per_shape:
            raise _fail(where, f"{entry['op']} is element-wise: its kernels serve every shape "
                               f"and take no {' or '.join(per_shape)}")
        _check_fields(where, entry, allowed, required)
        dtypes = _string_list(f"{where}.dtypes", entry["dtypes"])
        shapes = entry.get("shapes")
        if "shapes" in entry and (not isinstance(shapes, list) or not shapes):
            raise _fail(where, f"shapes must be a non-empty list, got {shapes!r}")
        for target in _string_list(f"{where}.targets", entry.get("targets", targets)):
            for dtype in dtypes:
                try:
                    if planner == "aot_elementwise":
                        planned += module.kernels(entry["op"], dtype, target)
                    else:
                        planned += module.kernels(entry["op"], dtype, shapes, target)
                except ValueError as error:
                    raise _fail(where, str(error)) from None
    return planned


def _compile_in_parallel(planned: Sequence[Any]) -> None:
    """Compiles the planned kernels (anything with ``tile_ir``, ``target``, ``num_warps`` and
    ``num_stages``) into the disk cache on every core: compiling is most of a bundle's build
    time, and the bundle, which takes its kernels one at a time, then finds them there."""
    unique = list(dict.fromkeys((k.tile_ir, k.target, k.num_warps, k.num_stages)
                                for k in planned))
    if len(unique) < 2:
        return
    with ThreadPoolExecutor(min(len(unique), os.cpu_count() or 1)) as pool:
        list(pool.map(lambda kernel: _C.precompile(*kernel), unique))  # raises the first error


def _tune_on_gpu(op: str, shape: Sequence[int], dtype: str, precision: str) -> None:
    """Runs the op once on random inputs, which tunes it (the tuning cache keeps the times)."""
    import torch
    import tessera.ops
    torch_dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    m, n, k = shape
    a = torch.randn(m, k, device="cuda", dtype=torch_dtypes[dtype])
    b = torch.randn(k, n, device="cuda", dtype=torch_dtypes[dtype])
    saved = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    try:
        getattr(tessera.ops, op)(a, b)
        torch.cuda.synchronize()
    finally:
        torch.set_float32_matmul_precision(saved)


def aot(spec: Union[str, Mapping[str, Any]], output: str, *, tune: Optional[bool] = None,
        targets: Optional[Sequence[str]] = None) -> AotReport:
    """Builds the bundle ``output`` from ``spec`` (a dict or a JSON file; see the module
    docstring). ``tune``: None tunes op cases where a GPU of their target is present, False
    never, True requires one. ``targets`` replaces the spec's default targets."""
    spec = _load_spec(spec)
    _check_fields("the spec", spec, _SPEC_FIELDS, [])
    targets = _string_list("targets", list(targets) if targets else spec.get("targets",
                                                                               ["sm_90a"]))
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise _fail("description", f"expected a string, got {description!r}")
    gpu_target = _gpu_target() if tune is not False else None
    if tune and gpu_target is None:
        raise RuntimeError("tessera.aot: tune=True needs a CUDA GPU visible to PyTorch")

    compiles_before = _C.stats()["compiles"]
    bundle = _C.Bundle.create(description)
    kernels = tuned = 0
    records: Dict[tuple, float] = {}
    variants: Dict[tuple, str] = {}  # kernel variant -> its name in the bundle
    from ..ops import aot as ops_aot
    entries = _op_entries(spec)
    # planned before any tuning, which takes long: the spec's mistakes come first
    families = _family_kernels(entries, targets)
    calls = []
    for case in _op_cases(entries, targets):
        try:
            planned = ops_aot.plan(case["op"], case["shape"], case["dtype"], case["target"],
                                   case["precision"])
        except ValueError as error:
            raise _fail(case["where"], str(error)) from None
        if gpu_target == case["target"]:
            _tune_on_gpu(case["op"], case["shape"], case["dtype"], case["precision"])
            tuned += 1
        calls.append((case, planned))
    _compile_in_parallel([launch for _, planned in calls for launch in planned] + families)
    # The tuning cache's times, read once after all the tuning: {(kernel, key): {config: ms}}.
    times: Dict[tuple, Dict[str, float]] = {}
    for kernel, key, config, milliseconds in tuning_cache.stored_records() if tuned else []:
        times.setdefault((kernel, key), {})[config] = milliseconds

    def add_once(planned: Any) -> str:
        """The bundle's name for ``planned``'s kernel (a launch or a family's kernel), which
        is added the first time: launches that specialise alike (sizes all multiples of 16,
        say) share one kernel, under the first one's name."""
        nonlocal kernels
        variant = (planned.tile_ir, planned.target, planned.num_warps, planned.num_stages)
        if variant not in variants:
            variants[variant] = planned.name
            bundle.add_kernel(planned.name, planned.tile_ir, planned.target, planned.num_warps,
                              planned.num_stages)
            kernels += 1
        return variants[variant]

    op_records: Dict[str, str] = {}  # record JSON -> op family, in order, without repeats
    generic: Dict[tuple, Any] = {}  # (dtype, precision, target, config) of the chosen configs
    for case, planned in calls:
        for launch in planned:
            identity, key, chosen = launch.choice_record()
            timed = times.get((identity, key), {})
            configs = [tuning_cache.config_json(c) for c in launch.configs]
            was_timed = gpu_target == case["target"] and all(c in timed for c in configs)
            if was_timed:
                for config in configs:
                    records[(identity, key, config)] = timed[config]
                best = min(configs, key=timed.__getitem__)
                tuned_config = launch.configs[configs.index(best)]
                if tuned_config != launch.chosen:
                    launch = ops_aot.plan(case["op"], case["shape"], case["dtype"],
                                          case["target"], case["precision"], tuned_config)[0]
            else:
                records[(identity, key, chosen)] = UNTIMED
            record = dict(launch.op_record, kernel=add_once(launch), timed=was_timed)
            op_records.setdefault(json.dumps(record), launch.op_family)
            generic.setdefault((case["dtype"], case["precision"], case["target"],
                                tuning_cache.config_json(launch.chosen)),
                               (launch.op_family, launch.chosen))
    # C and C++ programs run calls that no case lists through the generic kernel of a bundled
    # config (docs/op-records.md), or of the smallest config, which fits every GPU.
    for (dtype, precision, target, _), (family, _) in list(generic.items()):
        smallest = ops_aot.smallest_config(family)
        generic.setdefault((dtype, precision, target, tuning_cache.config_json(smallest)),
                           (family, smallest))
    for (dtype, precision, target, _), (family, config) in generic.items():
        name, tile_ir, record = ops_aot.generic_kernel(dtype, precision, target, config)
        bundle.add_kernel(name, tile_ir, target, config.num_warps, config.num_stages)
        kernels += 1
        op_records.setdefault(json.dumps(dict(record, kernel=name)), family)
    for bundled in families:
        op_records.setdefault(json.dumps(dict(bundled.op_record, kernel=add_once(bundled))),
                              bundled.op_family)

    for index, entry in enumerate(spec.get("kernels", [])):
        where = f"kernels[{index}]"
        _check_fields(where, entry, _KERNEL_FIELDS, ["kernel", "signature"])
        kernel = _resolve_kernel(where, entry["kernel"])
        name = entry.get("name", getattr(kernel, "__name__", f"kernel{index}"))
        try:
            specs = specs_from_signature(kernel, entry["signature"],
                                         dict(entry.get("constants") or {}))
        except (TypeError, ValueError) as error:
            raise _fail(where, str(error)) from None
        tile_ir = generate_tile_ir(kernel, specs)
        for target in _string_list(f"{where}.targets", entry.get("targets", targets)):
            bundle.add_kernel(name, tile_ir, target, int(entry.get("num_warps", 4)),
                              int(entry.get("num_stages", 3)))
            kernels += 1

    for (identity, key, config), milliseconds in records.items():
        bundle.add_tuning(identity, key, config, milliseconds)
    for record, family in op_records.items():
        bundle.add_op(family, record)
    bundle.write(output)
    return AotReport(kernels, len(records), _C.stats()["compiles"] - compiles_before, tuned,
                     output, len(op_records))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``tessera-aot``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="tessera-aot",
        description="Compile (and, on a GPU, tune) the kernels and ops of a spec into a bundle "
                    "that tessera.load_bundle / tessera_runtime_load_bundle loads.")
    parser.add_argument("spec", nargs="?", help="the bundle spec (JSON)")
    parser.add_argument("-o", "--output", required=True, help="the bundle file to write")
    parser.add_argument("--library", action="store_true",
                        help="every op of tessera.ops at its library cases (no spec needed)")
    parser.add_argument("--target", action="append", dest="targets",
                        help="a compile target (repeatable; default: the spec's, or sm_90a)")
    parser.add_argument("--no-tune", action="store_true", help="never tune, even on a GPU")
    parser.add_argument("--description", help="what the bundle holds")
    options = parser.parse_args(argv)
    if options.library == bool(options.spec):
        parser.error("give a spec file or --library (not both)")
    try:
        spec: Dict[str, Any] = {"ops": "library", "description": "the tessera.ops library"} \
            if options.library else dict(_load_spec(options.spec))
        if options.description is not None:
            spec["description"] = options.description
        report = aot(spec, options.output, tune=False if options.no_tune else None,
                     targets=options.targets)
    except _SpecError as error:
        print(f"tessera-aot: {error}", file=sys.stderr)
        return 2
    print(f"tessera-aot: wrote {report.path}: {report.kernels} kernels ({report.compiled} "
          f"compiled), {report.tuning} tuning records, {report.op_records} op records, "
          f"{report.tuned} op cases tuned on a GPU")
    return 0

