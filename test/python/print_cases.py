"""A tl.device_print kernel and the lines it must print, shared by the host tier
(test_host_kernels.py) and the GPU tier (test_gpu_device_print.py)."""
import tessera
import tessera.language as tl


@tessera.jit
def print_kernel(X, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(X + tl.program_id(0) * n + offs, mask=offs < n, other=-1.0)
    tl.device_print("x, offs:", x, offs)
    tl.device_print("100% of n", n.to(tl.int64) - 100, hex=True)


def expected_lines(x, programs, n, block):
    """The lines print_kernel prints for ``x`` (programs x n float32 values) in any order."""
    lines = []
    for pid in range(programs):
        for i in range(block):
            value = float(x[pid * n + i]) if i < n else -1.0
            lines.append(f"pid ({pid}, 0, 0) idx ({i}) x, offs: {value:.9g}, {i}")
        lines.append(f"pid ({pid}, 0, 0) 100% of n 0x{(n - 100) % 2 ** 64:016x}")
    return lines
