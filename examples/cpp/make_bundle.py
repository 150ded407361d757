"""Builds the bundle that run_bundle.cpp runs: two of the example kernels, specialised and compiled
ahead of time. Needs the tessera package (PYTHONPATH=python in a source tree), no GPU.

    python3 examples/cpp/make_bundle.py kernels.tbundle                  # for sm_90a
    python3 examples/cpp/make_bundle.py kernels.tbundle --target sm_80 --target sm_90a

The cases' names, signatures and constants are what run_bundle.cpp passes at launch (its comments
next to the names give the parameters and grids): keep the two files in step.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tessera  # noqa: E402
import matmul  # noqa: E402  (examples/matmul.py)
import vector_add  # noqa: E402  (examples/vector_add.py)


def cases(target):
    """The bundle's kernels for one target."""
    # out = x + y; ":16": cuMemAlloc's pointers are 16-byte aligned. n may be any length.
    add = tessera.BundleCase(
        "vector_add_fp32", vector_add.add_kernel,
        {"x_ptr": "*fp32:16", "y_ptr": "*fp32:16", "out_ptr": "*fp32:16", "n_elements": "i32"},
        {"BLOCK": 1024}, target=target, num_warps=4)
    # Row-major fp16 C = A @ B: the unit strides become constants (as the JIT folds integers
    # equal to 1), the sizes and row strides are multiples of 16.
    sizes = {name: "i32:16" for name in ("M", "N", "K", "stride_am", "stride_bk", "stride_cm")}
    mm = tessera.BundleCase(
        "matmul_fp16", matmul.matmul_kernel,
        dict({"a_ptr": "*fp16:16", "b_ptr": "*fp16:16", "c_ptr": "*fp16:16"}, **sizes),
        {"stride_ak": 1, "stride_bn": 1, "stride_cn": 1, "BLOCK_M": 128, "BLOCK_N": 128,
         "BLOCK_K": 64, "INPUT_PRECISION": "ieee"},
        target=target, num_warps=8, num_stages=3)
    return [add, mm]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the bundle file to write")
    parser.add_argument("--target", action="append", dest="targets",
                        help="compile for this target (repeatable; default sm_90a)")
    args = parser.parse_args()
    targets = args.targets or ["sm_90a"]
    written = tessera.build_bundle(
        args.output, [case for target in targets for case in cases(target)],
        description=f"examples/cpp: vector_add_fp32, matmul_fp16 for {', '.join(targets)}",
        include_tuning=False)
    print(f"wrote {args.output}: {written['kernels']} kernels for {', '.join(targets)}")


if __name__ == "__main__":
    main()
