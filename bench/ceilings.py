#!/usr/bin/env python3
"""The device's measured ceilings, which the plots compare achieved throughput with: copy
bandwidth (a 1 GiB device-to-device copy, counting the bytes read and written) and the matmul
peak (torch.matmul of 8192^3 bf16 random matrices, cuBLAS).
"""
import json

import harness


def copy_gbps(torch, reps):
    """Bandwidth of a 1 GiB device-to-device copy, counting the bytes read and written."""
    source = torch.randint(0, 256, (1 << 30,), dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    times = harness.measure({"copy": lambda i: target.copy_(source)}, reps=reps)
    return harness.gbps(2 * source.numel(), times["copy"]["median_ms"])


def matmul_tflops(torch, reps, size=8192):
    """FLOP/s of torch.matmul on size^3 bf16 random matrices."""
    g = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16, generator=g)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16, generator=g)
    times = harness.measure({"matmul": lambda i: torch.matmul(a, b)}, reps=reps)
    return 2 * size ** 3 / (times["matmul"]["median_ms"] * 1e-3) / 1e12


def run(reps=25):
    """{"copy_gbps": ..., "matmul_bf16_tflops": ...}, measured here."""
    torch = harness.gpu_or_exit()
    ceilings = {"copy_gbps": round(copy_gbps(torch, reps), 1),
                "matmul_bf16_tflops": round(matmul_tflops(torch, reps), 1)}
    torch.cuda.empty_cache()
    return ceilings


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
