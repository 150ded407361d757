"""scripts/sanitize_gpu.sh against a stand-in compute-sanitizer: the verdict it gives each
process's log, and the unfinished.txt it leaves for a rerun, also when a timeout stops it."""
import os
import re
import stat
import subprocess
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "sanitize_gpu.sh"

# Prints the log compute-sanitizer and pytest would print for the test ids it is given, chosen
# by a word in the first id; "slow" sleeps until a timeout stops it.
FAKE_SANITIZER = textwrap.dedent("""\
    #!/usr/bin/env bash
    echo "$*" >> "$OUT/sanitizer-arguments.txt"
    while [ "$1" != "-p" ]; do shift; done
    shift 2
    banner="========="
    summary() { echo "$banner RACECHECK SUMMARY: $1 hazards displayed ($1 errors, 0 warnings)"; }
    race() {
      echo "$banner Error: Race reported between Write access at $1+0x10"
      echo "$banner     and Write access at $1+0x40 [8 hazards]"
    }
    case "$1" in
      *slow*) sleep 60 ;;
      *race_ours*) race attention_fwd_kernel; echo "$# passed in 1.0s"; summary 1 ;;
      *race_vendor*) race nvjet_sm90_tst_96x64_64x8_1x4_h_bz_NNN; echo "$# passed"; summary 1 ;;
      *lost*)
        echo "$banner Internal Sanitizer Error: Detected a failure to track a kernel launch."
        echo "$# passed in 2.0s"; summary 1 ;;
      *fails*) echo "1 failed, $(( $# - 1 )) passed in 1.0s"; summary 0 ;;
      *) echo "$# passed in 1.0s"; summary 0 ;;
    esac
    """)


def run_script(tmp_path: Path, ids: list[str], timeout_s: float | None = None,
               chunk: int = 1, **env_vars: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Runs sanitize_gpu.sh racecheck on `ids` (an @FILE) with the stand-in on PATH and
    `env_vars` in its environment; returns the process and the log directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "compute-sanitizer"
    fake.write_text(FAKE_SANITIZER)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    id_file = tmp_path / "ids.txt"
    id_file.write_text("\n".join(ids) + "\n")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               OUT=str(tmp_path / "out"), CHUNK=str(chunk), JOBS="4", **env_vars)
    command = ["bash", str(SCRIPT), "racecheck", f"@{id_file}"]
    if timeout_s is not None:
        command = ["timeout", str(timeout_s)] + command
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    return result, tmp_path / "out" / "sanitize-racecheck"


def verdicts(log_dir: Path) -> dict[str, str]:
    """The verdict of each process in summary.txt, by the first test id of its job."""
    first_id = {}
    for line in (log_dir / "jobs.txt").read_text().splitlines():
        name, *ids = line.split("\t")
        first_id[name] = ids[0]
    found = {}
    for line in (log_dir / "summary.txt").read_text().splitlines():
        name, verdict = line.split(": ", 1)
        found[first_id[name]] = verdict.split(" |")[0]
    return found


def test_each_log_gets_its_verdict(tmp_path):
    ids = ["t.py::test_a[clean]", "t.py::test_b[race_ours]", "t.py::test_c[race_vendor]",
           "t.py::test_d[lost]", "t.py::test_e[fails]"]
    result, log_dir = run_script(tmp_path, ids)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(log_dir) == {
        "t.py::test_a[clean]": "clean",
        "t.py::test_b[race_ours]": "FAILED",
        "t.py::test_c[race_vendor]": "clean (1 racecheck reports in NVIDIA's kernels)",
        "t.py::test_d[lost]": "INCOMPLETE (1 launches the sanitizer lost track of)",
        "t.py::test_e[fails]": "FAILED",
    }
    assert "2 with failures or sanitizer errors, 1 incomplete" in result.stdout
    unfinished = (log_dir / "unfinished.txt").read_text().split()
    assert sorted(unfinished) == sorted(ids[1:2] + ids[3:])


def test_a_clean_run_leaves_nothing_unfinished(tmp_path):
    result, log_dir = run_script(tmp_path, [f"t.py::test_{k}" for k in range(5)], chunk=2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(verdicts(log_dir).values()) == {"clean"}
    assert (log_dir / "unfinished.txt").read_text() == ""


def test_a_timeout_leaves_the_stopped_tests_unfinished(tmp_path):
    ids = ["t.py::test_a[clean]", "t.py::test_b[slow]", "t.py::test_c[clean]"]
    result, log_dir = run_script(tmp_path, ids, timeout_s=5)
    assert result.returncode == 124, result.stdout + result.stderr
    assert "stopped; the tests left are in" in result.stdout
    assert (log_dir / "unfinished.txt").read_text().split() == ["t.py::test_b[slow]"]
    assert verdicts(log_dir) == {"t.py::test_a[clean]": "clean", "t.py::test_c[clean]": "clean"}


def test_unfinished_txt_reruns_as_an_at_file(tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "rerun").mkdir()
    _, log_dir = run_script(tmp_path / "first", ["t.py::test_a[clean]", "t.py::test_b[fails]"])
    unfinished = (log_dir / "unfinished.txt").read_text().split()
    rerun, rerun_dir = run_script(tmp_path / "rerun", unfinished)
    assert rerun.returncode == 1
    assert verdicts(rerun_dir) == {"t.py::test_b[fails]": "FAILED"}


def test_an_at_file_may_name_whole_modules(tmp_path):
    result, log_dir = run_script(tmp_path, ["test/python/ops/test_ops_softmax.py"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(log_dir) == {"test/python/ops/test_ops_softmax.py": "clean"}


def test_kernels_limits_the_check_and_says_so(tmp_path):
    """KERNELS=s becomes --kernel-name kns=s, and the verdict names it; every verdict line ends
    with the process's wall time."""
    result, log_dir = run_script(tmp_path, ["t.py::test_a[clean]"], KERNELS="wkv7")
    assert result.returncode == 0, result.stdout + result.stderr
    arguments = (tmp_path / "out" / "sanitizer-arguments.txt").read_text()
    assert "--kernel-name kns=wkv7 python3 -m pytest" in arguments
    assert verdicts(log_dir) == {"t.py::test_a[clean]": "clean (only kernels named *wkv7*)"}
    assert re.search(r" \| \d+ s$", (log_dir / "summary.txt").read_text().strip())
    (tmp_path / "plain").mkdir()
    run_script(tmp_path / "plain", ["t.py::test_a[clean]"])
    assert "--kernel-name" not in (tmp_path / "plain" / "out" /
                                   "sanitizer-arguments.txt").read_text()
