#!/usr/bin/env python3
"""PNG plots of a run_all report (results.json), written next to it or to --out:

- ratio.png: tessera's ratio to each baseline, per benchmark case (above 1: tessera is faster);
- ceilings.png: achieved bandwidth (GB/s cases) and FLOP/s (TFLOP/s cases) of tessera and of the
  baselines, as fractions of the device's measured copy bandwidth and bf16 matmul peak.

Needs matplotlib; usage: python3 bench/plots.py results.json [--out DIR]
"""
import argparse
import json
import os
from typing import Any, Dict, List

BENCHMARK_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860",
                     "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]


def _pyplot() -> Any:
    """matplotlib.pyplot, drawing to files (no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def case_label(row: Dict) -> str:
    """A throughput row's case, with the tessera backend it timed where the benchmark runs
    several (bench_rwkv's tile and cuda)."""
    return f"{row['case']} [{row['backend']}]" if row.get("backend") else row["case"]


def _measured_rows(report: Dict) -> List[Dict]:
    return [row for row in report["throughput"] if row.get("ratio") is not None]


def _title(report: Dict) -> str:
    env = report["environment"]
    return f"{env.get('gpu')}, tessera commit {report.get('commit') or 'unknown'}"


def plot_ratios(report: Dict, path: str) -> None:
    """One horizontal bar per (case, baseline), on a log scale, with a line at 1."""
    plt = _pyplot()
    rows = _measured_rows(report)
    benchmarks = list(dict.fromkeys(row["benchmark"] for row in rows))
    colours = {b: BENCHMARK_COLOURS[i % len(BENCHMARK_COLOURS)] for i, b in enumerate(benchmarks)}
    figure, axes = plt.subplots(figsize=(10, 0.22 * len(rows) + 1.5))
    positions = range(len(rows))[::-1]
    axes.barh(list(positions), [row["ratio"] for row in rows],
              color=[colours[row["benchmark"]] for row in rows])
    axes.set_yticks(list(positions))
    axes.set_yticklabels([f"{row['benchmark']} {case_label(row)} vs {row['baseline']}"
                          for row in rows], fontsize=6)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("tessera / baseline throughput (above 1: tessera faster)")
    axes.set_ylim(-0.6, len(rows) - 0.4)
    axes.set_title(f"Ratio to the strongest references: {_title(report)}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(figure)


def plot_ceilings(report: Dict, path: str) -> None:
    """Per case, tessera's and each baseline's throughput as a fraction of the ceiling."""
    plt = _pyplot()
    ceilings = report.get("ceilings") or {}
    panels = [("GB/s", ceilings.get("copy_gbps"), "measured copy bandwidth"),
              ("TFLOP/s", ceilings.get("matmul_bf16_tflops"), "measured bf16 matmul peak")]
    panels = [p for p in panels if p[1]]
    rows_of = {metric: [row for row in _measured_rows(report) if row["metric"] == metric]
               for metric, _, _ in panels}
    most = max([len({(r["benchmark"], r["case"]) for r in rows}) for rows in rows_of.values()],
               default=1)
    figure, all_axes = plt.subplots(1, max(1, len(panels)), figsize=(14, 0.2 * most + 2),
                                    squeeze=False)
    for axes, (metric, ceiling, label) in zip(all_axes[0], panels):
        rows = rows_of[metric]
        cases = list(dict.fromkeys((row["benchmark"], row["case"]) for row in rows))
        tessera = {(row["benchmark"], row["case"]): row["tessera"] for row in rows}
        positions = list(range(len(cases)))[::-1]
        axes.scatter([tessera[c] / ceiling for c in cases], positions, marker="o",
                     color="#c44e52", label="tessera", zorder=3)
        baselines = list(dict.fromkeys(row["baseline"] for row in rows))
        for i, baseline in enumerate(baselines):
            points = [(row["baseline_value"] / ceiling, positions[cases.index(
                (row["benchmark"], row["case"]))]) for row in rows if row["baseline"] == baseline]
            axes.scatter([x for x, _ in points], [y for _, y in points], marker="x", s=18,
                         color=BENCHMARK_COLOURS[i % len(BENCHMARK_COLOURS)], label=baseline)
        axes.axvline(1.0, color="black", linewidth=0.8)
        highest = max([row[key] for row in rows for key in ("tessera", "baseline_value")],
                      default=ceiling)
        axes.set_xlim(0, 1.05 * max(1.0, highest / ceiling))
        axes.set_ylim(-0.6, len(cases) - 0.4)
        axes.set_yticks(positions)
        axes.set_yticklabels([f"{b} {c}" for b, c in cases], fontsize=6)
        axes.set_xlabel(f"fraction of the {label} ({ceiling:,.0f} {metric})")
        axes.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.suptitle(f"Achieved throughput against the device's ceilings: {_title(report)}",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(figure)


def write_plots(report: Dict, out_dir: str) -> List[str]:
    """Writes ratio.png and ceilings.png to ``out_dir``; returns their paths."""
    paths = [os.path.join(out_dir, "ratio.png"), os.path.join(out_dir, "ceilings.png")]
    plot_ratios(report, paths[0])
    plot_ceilings(report, paths[1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a results.json written by run_all.py")
    parser.add_argument("--out", help="directory for the PNGs (default: the results' directory)")
    args = parser.parse_args()
    with open(args.results) as f:
        report = json.load(f)
    for path in write_plots(report, args.out or os.path.dirname(os.path.abspath(args.results))):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
