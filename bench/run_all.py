#!/usr/bin/env python3
"""Runs every benchmark and writes results.md (Markdown tables), results.json and the plots
ratio.png and ceilings.png (bench/plots.py, with matplotlib) to the output directories: --out DIR
if given, else bench/results/, and also $OUT when that is set. The device's copy bandwidth and
matmul peak, which ceilings.png compares with, are measured first (bench/ceilings.py).

Exit status: 0 when every benchmark ran (a missed target is reported, not an error; --strict makes
it one), 1 when one failed to run, 0 with a note where there is no GPU.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import harness
import plots


def git_commit():
    """The commit of the library measured: the staged build's (.stage/MANIFEST, written by
    scripts/stage_gpu.sh) where there is one, since a GPU host's checkout may be older; else HEAD."""
    manifest = Path(harness.REPO) / ".stage" / "MANIFEST"
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            if line.startswith("commit: "):
                return line[len("commit: "):].strip()
    try:
        return subprocess.run(["git", "-C", harness.REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def versions():
    out = {}
    for name in ("tessera", "triton"):
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", "unknown")
        except ImportError:
            out[name] = None
    return out


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def markdown(report):
    env = report["environment"]
    ceilings = report.get("ceilings") or {}
    lines = ["# Tessera benchmarks", "",
             f"{env.get('gpu')} ({env.get('sms')} SMs), PyTorch {env.get('torch')}, CUDA "
             f"{env.get('cuda')}, Triton {env.get('triton') or 'not installed'}, tessera "
             f"{env.get('tessera')}, commit {report.get('commit') or 'unknown'}, {report['date']}.",
             "", "Measured ceilings: copy bandwidth "
             f"{fmt(ceilings.get('copy_gbps'))} GB/s (a 1 GiB "
             "device-to-device copy, bytes read and written), bf16 matmul peak "
             f"{fmt(ceilings.get('matmul_bf16_tflops'))} TFLOP/s "
             "(torch.matmul, 8192^3).",
             "", "Bandwidth counts the bytes each kernel must move (inputs read once, outputs "
             "written once); times are medians of CUDA-event samples, contenders interleaved in one "
             "process.", "",
             "| benchmark | case | tessera | baseline | baseline value | ratio | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for row in report["throughput"]:
        case = plots.case_label(row)
        if row.get("baseline_value") is None:  # the baseline did not run: say why
            why = row.get("note") or row.get("baseline_error") or "-"
            lines.append(f"| {row['benchmark']} | {case} | {fmt(row.get('tessera'))} "
                         f"{row['metric']} | {row['baseline']} | {why} | - | - | - |")
            continue
        if "note" in row:  # beside a measured baseline, a goal of the op's own
            case += f" ({row['note']})"
        target = f">= {row['target']}" if row.get("target") else "-"
        lines.append(f"| {row['benchmark']} | {case} | {fmt(row['tessera'])} "
                     f"{row['metric']} | {row['baseline']} | {fmt(row['baseline_value'])} "
                     f"{row['metric']} | {fmt(row['ratio'])} | {target} | "
                     f"{fmt(row.get('meets_target'))} |")
    if report["first_launch"]:
        lines += ["", "Time to first launch in a fresh process (ms, median of "
                  f"{report['first_launch'][0]['repeats']} runs; the call up to its "
                  "synchronisation):", "",
                  "| kernel | empty cache | warm cache | steady state | compiles (cold / warm) "
                  "| disk hits (warm) | target (empty / warm) | met |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["first_launch"]:
            compiles = (f"{row['cold_compiles']} / {row['warm_compiles']}"
                        if "cold_compiles" in row else "-")
            lines.append(f"| {row['case']} | {fmt(row['cold_ms'])} | {fmt(row['warm_ms'])} | "
                         f"{fmt(row['steady_ms'])} | {compiles} | "
                         f"{fmt(row.get('warm_disk_hits'))} | {row.get('targets', '-')} | "
                         f"{fmt(row.get('meets_target'))} |")
    if report["launch"]:
        lines += ["", "Time per launch of a small cached kernel (us, medians over repeats that "
                  "interleave the Python contenders; host: calls enqueued in bursts of 256, the "
                  "enqueueing timed; one sync: thousands of calls and one synchronisation, which "
                  "the GPU's pace bounds):", "",
                  "| launch | host | one sync | target (host) | met |", "|---|---|---|---|---|"]
        for row in report["launch"]:
            if "note" in row:
                lines.append(f"| {row['case']} | {row['note']} | - | - | - |")
                continue
            target = f"<= {row['target_us']:g}" if row.get("target_us") else "-"
            lines.append(f"| {row['case']} | {fmt(row['host_us'])} | {fmt(row['one_sync_us'])} "
                         f"| {target} | {fmt(row.get('meets_target'))} |")
    if report["errors"]:
        lines += ["", "Errors (tracebacks in the run's log):", ""] + [
            f"- {name}: {err.splitlines()[0]}" for name, err in report["errors"].items()]
    return "\n".join(lines) + "\n"


def write_results(report, out_dirs):
    """Writes results.md and results.json to each of ``out_dirs``; returns the Markdown."""
    text = markdown(report)
    for out_dir in out_dirs:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "results.md"), "w") as f:
            f.write(text)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(report, f, indent=1)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", help="output directory (default: bench/results)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--strict", action="store_true", help="exit 2 if a target is missed")
    args = parser.parse_args()
    torch = harness.gpu_or_exit()

    import bench_attention
    import bench_first_launch
    import bench_launch
    import bench_matmul
    import bench_ops_backward
    import bench_ops_elementwise
    import bench_ops_normalization
    import bench_ops_rope
    import bench_rwkv
    import bench_softmax
    import bench_vector_add
    import ceilings

    reps = 9 if args.quick else 25
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": git_commit(), "environment": {**harness.device_summary(), **versions()},
              "ceilings": None, "throughput": [], "first_launch": [], "launch": [],
              "errors": {}}
    print("measuring the ceilings ...", flush=True)
    try:
        report["ceilings"] = ceilings.run(reps=reps)
    except Exception as e:  # the plots then show ratios only
        report["errors"]["ceilings"] = f"{type(e).__name__}: {e}".strip()
        traceback.print_exc()
    steps = [("vector_add", "throughput", lambda: bench_vector_add.run(reps=reps)),
             ("softmax", "throughput", lambda: bench_softmax.run(reps=reps)),
             ("normalization", "throughput", lambda: bench_ops_normalization.run(reps=reps)),
             ("ops_elementwise", "throughput", lambda: bench_ops_elementwise.run(reps=reps)),
             ("rope", "throughput", lambda: bench_ops_rope.run(reps=reps)),
             ("matmul", "throughput", lambda: bench_matmul.run(reps=reps)),
             ("backward", "throughput", lambda: bench_ops_backward.run(reps=reps)),
             ("attention", "throughput", lambda: bench_attention.run(reps=reps)),
             ("rwkv", "throughput", lambda: bench_rwkv.run(reps=max(5, reps // 2))),
             ("first_launch", "first_launch",
              lambda: bench_first_launch.run(repeats=2 if args.quick else 3)),
             ("launch", "launch", lambda: bench_launch.run(repeats=5 if args.quick else 15))]
    out_dirs = [args.out or os.path.join(harness.REPO, "bench", "results")]
    if os.environ.get("OUT"):
        out_dirs.append(os.environ["OUT"])
    out_dirs = list(dict.fromkeys(os.path.abspath(d) for d in out_dirs))
    for name, section, step in steps:
        print(f"running {name} ...", flush=True)
        try:
            report[section] += step()
        except Exception as e:  # report it and go on with the other benchmarks
            report["errors"][name] = f"{type(e).__name__}: {e}".strip()
            traceback.print_exc()
        torch.cuda.empty_cache()
        write_results(report, out_dirs)  # a run cut short keeps what it measured

    text = write_results(report, out_dirs)
    for out_dir in out_dirs:
        try:
            for path in plots.write_plots(report, out_dir):
                print(f"wrote {path}")
        except ImportError as e:
            print(f"no plots ({e}): run bench/plots.py on results.json where matplotlib is")
    print()
    print(text)
    if report["errors"]:
        return 1
    missed = [r for section in ("throughput", "first_launch", "launch")
              for r in report[section] if r.get("meets_target") is False]
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
