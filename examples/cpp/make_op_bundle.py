"""Builds the bundle that run_op.cpp runs: tessera.ops' mm in fp16 for M = N = K = 512, compiled
ahead of time with its op records. Needs the tessera package (PYTHONPATH=python in a source
tree), no GPU.

    python3 examples/cpp/make_op_bundle.py ops.tbundle                   # for sm_90a
    python3 examples/cpp/make_op_bundle.py ops.tbundle --target sm_80 --target sm_90a

The shape is run_op.cpp's first call, the one it expects the bundle to list: keep the two files
in step.
"""
import argparse

import tessera


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the bundle file to write")
    parser.add_argument("--target", action="append", dest="targets",
                        help="compile for this target (repeatable; default sm_90a)")
    args = parser.parse_args()
    targets = args.targets or ["sm_90a"]
    spec = {"description": "examples/cpp: mm", "targets": targets,
            "ops": [{"op": "mm", "shapes": [[512, 512, 512]], "dtypes": ["fp16"]}]}
    # Untuned: the bundle names the first config that fits, on any machine alike (tuning would
    # time every config on a GPU of the target, for a result run_op does not need).
    report = tessera.aot(spec, args.output, tune=False)
    print(f"wrote {report.path}: {report.kernels} kernels, {report.op_records} op records for "
          f"{', '.join(targets)}")


if __name__ == "__main__":
    main()
