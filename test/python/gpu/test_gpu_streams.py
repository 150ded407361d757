"""Launches with torch tensors go on the current torch stream (ordered after work queued there)."""
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

import vector_add  # noqa: E402


def test_launch_on_current_torch_stream():
    n = 1 << 22
    g = torch.Generator(device="cuda").manual_seed(3)
    src_x = torch.randn(n, device="cuda", generator=g)
    y = torch.randn(n, device="cuda", generator=g)
    x = torch.zeros(n, device="cuda")
    out = torch.full_like(x, float("nan"))
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()  # not the legacy default stream, and not synchronised with it
    with torch.cuda.stream(stream):
        torch.cuda._sleep(50_000_000)  # ~tens of ms of spinning before x gets its values
        x.copy_(src_x)
        vector_add.add(x, y, out=out)  # must wait for the copy: same stream
    stream.synchronize()
    torch.testing.assert_close(out, src_x + y, rtol=0, atol=0)
