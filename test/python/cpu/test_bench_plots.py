"""bench/plots.py and run_all's Markdown on a report shaped like run_all's results.json: the
plots are PNG files, and the Markdown states the measured ceilings and every measured ratio."""
import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench")
sys.path.insert(0, os.path.abspath(BENCH))

import plots  # noqa: E402
import run_all  # noqa: E402

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report():
    rows = [
        {"benchmark": "vector_add", "case": "fp32 n=2^28", "metric": "GB/s", "tessera": 4300.0,
         "baseline": "torch.add", "baseline_value": 4350.0, "ratio": 0.989, "target": 0.9,
         "meets_target": True},
        {"benchmark": "matmul", "case": "bf16 4096^3", "metric": "TFLOP/s", "tessera": 760.0,
         "baseline": "torch.matmul", "baseline_value": 790.0, "ratio": 0.962},
        {"benchmark": "matmul", "case": "bf16 4096^3", "metric": "TFLOP/s", "tessera": 760.0,
         "baseline": "triton", "baseline_value": 700.0, "ratio": 1.086},
        {"benchmark": "rwkv", "case": "wkv7 forward", "metric": "ms", "tessera": 1.4,
         "backend": "tile", "baseline": "fla", "baseline_value": 3.2, "ratio": 2.29,
         "target": 1.0, "meets_target": True, "note": "goal <= 1.5 ms: met"},
        {"benchmark": "rwkv", "case": "wkv7 forward", "metric": "ms", "tessera": 3.4,
         "backend": "cuda", "baseline": "fla", "baseline_value": 3.2, "ratio": 0.94,
         "target": 1.0, "meets_target": False},
        {"benchmark": "attention", "case": "fp8", "metric": "TFLOP/s", "tessera": None,
         "baseline": "sdpa", "note": "not run"},
    ]
    return {"date": "2026-11-23T00:00:00+00:00", "commit": "abc1234",
            "environment": {"gpu": "NVIDIA H200", "sms": 132},
            "ceilings": {"copy_gbps": 4800.0, "matmul_bf16_tflops": 800.0},
            "throughput": rows, "first_launch": [], "launch": [], "errors": {}}


def test_plots_are_png_files(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(report()))
    paths = plots.write_plots(json.loads(results.read_text()), str(tmp_path))
    assert [os.path.basename(p) for p in paths] == ["ratio.png", "ceilings.png"]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE
        assert os.path.getsize(path) > 10_000


def test_plots_without_ceilings_still_show_ratios(tmp_path):
    without = dict(report(), ceilings=None)
    for path in plots.write_plots(without, str(tmp_path)):
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE


def test_markdown_states_the_ceilings():
    text = run_all.markdown(report())
    assert "copy bandwidth 4,800.0 GB/s" in text
    assert "bf16 matmul peak 800.0 TFLOP/s" in text
    assert "| matmul | bf16 4096^3 | 760.0 TFLOP/s | triton | 700.0 TFLOP/s | 1.086 |" in text


# Tests that a row with a note keeps its baseline and ratio, that rows of one case timed on two
# backends say which is which, and that a baseline that did not run shows why.
def test_markdown_names_backends_and_keeps_ratios_beside_notes():
    text = run_all.markdown(report())
    assert ("| rwkv | wkv7 forward [tile] (goal <= 1.5 ms: met) | 1.400 ms | fla | 3.200 ms | "
            "2.290 | >= 1.0 | yes |") in text
    assert "| rwkv | wkv7 forward [cuda] | 3.400 ms | fla | 3.200 ms | 0.940 | >= 1.0 | **no** |" \
        in text
    assert "| attention | fp8 | - TFLOP/s | sdpa | not run | - | - | - |" in text
