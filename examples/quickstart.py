#!/usr/bin/env python3
"""Tessera quickstart.

1. JIT-compiles every example kernel (vector add, row softmax, layer norm, matmul) with
   `tessera.compile` for sm_80 and sm_90a - no GPU needed - and checks that ptxas accepts the PTX.
2. Where a CUDA GPU and PyTorch are present, runs each example on random inputs and compares it
   with PyTorch (computed in float64).

Prints a table for each part; exits non-zero if anything failed.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tessera  # noqa: E402

import layer_norm  # noqa: E402
import matmul  # noqa: E402
import softmax  # noqa: E402
import vector_add  # noqa: E402

EXAMPLES = (vector_add, softmax, layer_norm, matmul)
TARGETS = ("sm_80", "sm_90a")


def find_ptxas():
    for candidate in (os.environ.get("PTXAS"), "/usr/local/cuda/bin/ptxas", shutil.which("ptxas")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def as_text(data):
    return data.decode() if isinstance(data, (bytes, bytearray)) else data


def ptxas_accepts(ptxas, ptx, target):
    """(ok, message): assembles the PTX for `target` with ptxas."""
    with tempfile.TemporaryDirectory(prefix="tessera-ptxas-") as tmp:
        src = os.path.join(tmp, "kernel.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        proc = subprocess.run([ptxas, f"-arch={target}", src, "-o", os.path.join(tmp, "k.cubin")],
                              capture_output=True, text=True)
    return proc.returncode == 0, (proc.stderr or proc.stdout).strip()


def compile_spec(spec, target):
    return tessera.compile(spec["fn"], signature=spec["signature"], constants=spec["constants"],
                           target=target, num_warps=spec.get("num_warps", 4),
                           num_stages=spec.get("num_stages", 3))


def print_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths))  # noqa: E731
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def compile_all():
    ptxas = find_ptxas()
    rows, failures = [], []
    for module in EXAMPLES:
        for spec in module.COMPILE_SPECS:
            for target in TARGETS:
                t0 = time.perf_counter()
                try:
                    compiled = compile_spec(spec, target)
                except Exception as e:  # report every kernel, then fail
                    rows.append((spec["name"], target, "-", "-", "COMPILE ERROR"))
                    failures.append(f"{spec['name']} [{target}]: {type(e).__name__}: {e}")
                    continue
                ms = (time.perf_counter() - t0) * 1e3
                ptx = as_text(compiled.asm["ptx"])
                if ptxas is None:
                    verdict = "ptxas not found"
                else:
                    ok, msg = ptxas_accepts(ptxas, ptx, target)
                    verdict = "accepted" if ok else "REJECTED"
                    if not ok:
                        failures.append(f"{spec['name']} [{target}]: ptxas: {msg}")
                rows.append((spec["name"], target, f"{ms:.0f}", len(ptx.encode()), verdict))
    print(f"Compiling the example kernels (ptxas: {ptxas or 'not found'})")
    print_table(("kernel", "target", "compile ms", "PTX bytes", "ptxas"), rows)
    return failures


# ---- GPU checks ---------------------------------------------------------------------------------
def gpu_available():
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU"
    return True, torch.cuda.get_device_name()


def gpu_cases(torch):
    """(example, shape, dtype, run) with run() -> (out, float64 reference, rtol, atol)."""
    gen = torch.Generator(device="cuda").manual_seed(0)
    randn = lambda *shape, dtype, scale=1.0: (  # noqa: E731
        torch.randn(*shape, device="cuda", dtype=torch.float32, generator=gen) * scale).to(dtype)
    nan_like = lambda t, dtype=None: torch.full_like(t, float("nan"), dtype=dtype)  # noqa: E731
    cases = []

    def vadd(n, dtype):
        def run():
            x, y = randn(n, dtype=dtype), randn(n, dtype=dtype)
            out = vector_add.add(x, y, out=nan_like(x))
            # one rounding of the exact sum: half an ulp of the output dtype
            rtol = 2.0 ** -24 if dtype == torch.float32 else 2.0 ** -8
            return out, x.double() + y.double(), rtol, 0.0
        cases.append(("vector_add", f"{n}", dtype, run))

    def smax(m, n, dtype):
        def run():
            x = randn(m, n, dtype=dtype, scale=3.0)
            out = softmax.softmax(x, out=nan_like(x))
            low = dtype != torch.float32
            return out, torch.softmax(x.double(), -1), 1e-2 if low else 1e-4, 1e-6
        cases.append(("softmax", f"{m}x{n}", dtype, run))

    def lnorm(m, n, dtype):
        def run():
            x = randn(m, n, dtype=dtype, scale=2.0)
            w, b = randn(n, dtype=dtype), randn(n, dtype=dtype)
            out = layer_norm.layer_norm(x, w, b, 1e-5, out=nan_like(x))
            ref = torch.nn.functional.layer_norm(x.double(), (n,), w.double(), b.double(), 1e-5)
            low = dtype != torch.float32
            return out, ref, 2e-2 if low else 1e-4, 2e-2 if low else 1e-4
        cases.append(("layer_norm", f"{m}x{n}", dtype, run))

    def mm(m, n, k, dtype, precision):
        def run():
            a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
            out = torch.full((m, n), float("nan"), device="cuda")
            matmul.matmul(a, b, out=out, input_precision=precision)
            tf32 = dtype == torch.float32 and precision == "tf32"
            exact = dtype == torch.float32 and not tf32
            return out, a.double() @ b.double(), 1e-4 if exact else 1e-2, 1e-3 if exact else 5e-2
        cases.append((f"matmul[{precision}]", f"{m}x{n}x{k}", dtype, run))

    for dtype in (torch.float32, torch.bfloat16):
        vadd(1 << 24, dtype)
        vadd((1 << 20) + 7, dtype)
    smax(4096, 4096, torch.bfloat16)
    smax(3, 1000, torch.float32)
    smax(257, 4097, torch.float16)
    lnorm(64, 1000, torch.float32)
    lnorm(128, 4096, torch.bfloat16)
    mm(16, 16, 16, torch.float16, "ieee")
    mm(64, 48, 80, torch.bfloat16, "ieee")
    mm(64, 48, 80, torch.float32, "ieee")
    mm(128, 128, 64, torch.float32, "tf32")
    return cases


def run_all_on_gpu():
    import torch

    rows, failures = [], []
    for name, shape, dtype, run in gpu_cases(torch):
        dt = str(dtype).replace("torch.", "")
        try:
            out, ref, rtol, atol = run()
            torch.cuda.synchronize()
        except Exception as e:
            rows.append((name, shape, dt, "-", "ERROR"))
            failures.append(f"{name} {shape} {dt}: {type(e).__name__}: {e}")
            continue
        got = out.double()
        err = (got - ref).abs().max().item() if got.numel() else 0.0
        ok = bool(torch.allclose(got, ref, rtol=rtol, atol=atol))  # NaN (unwritten output) fails
        rows.append((name, shape, dt, f"{err:.2e}", "ok" if ok else "MISMATCH"))
        if not ok:
            failures.append(f"{name} {shape} {dt}: max abs error {err:.3e} (rtol {rtol}, "
                            f"atol {atol})")
    print_table(("example", "shape", "dtype", "max abs err", "vs torch"), rows)
    return failures


def main():
    print(f"tessera {getattr(tessera, '__version__', '')}".rstrip())
    failures = compile_all()
    print()
    has_gpu, what = gpu_available()
    if has_gpu:
        print(f"Running the examples on {what} against PyTorch (float64 references)")
        failures += run_all_on_gpu()
    else:
        print(f"Skipping the GPU run: {what}.")
    print()
    if failures:
        print(f"{len(failures)} failure(s):")
        for failure in failures:
            print("  " + failure)
        return 1
    print("quickstart: all good")
    return 0


if __name__ == "__main__":
    sys.exit(main())
