"""breakpoint() on the GPU: compiles drop it, so a kernel holding one runs as it would without,
and the breakpoint handler is never called."""
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import tessera  # noqa: E402
import tessera.language as tl  # noqa: E402


@tessera.jit
def scale_kernel(X, OUT, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(X + offs, mask=offs < n)
    breakpoint()
    tl.store(OUT + offs, x * 3, mask=offs < n)


def test_a_gpu_launch_skips_breakpoints():
    stops = []
    previous = tessera.set_breakpoint_handler(stops.append)
    try:
        x = torch.randn(1000, device="cuda")
        out = torch.full_like(x, float("nan"))
        scale_kernel[(8,)](x, out, 1000, BLOCK=128)
        torch.cuda.synchronize()
    finally:
        tessera.set_breakpoint_handler(previous)
    torch.testing.assert_close(out, x * 3)
    assert stops == []
