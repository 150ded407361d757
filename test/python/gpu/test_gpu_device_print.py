"""tl.device_print on the GPU: every thread prints the elements it holds through vprintf; the
lines (copies from replicated layouts removed) are the host's."""
import numpy as np
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

from print_cases import expected_lines, print_kernel  # noqa: E402


def test_device_print_prints_every_element(capfd):
    x = (torch.arange(6, dtype=torch.float32, device="cuda") - 2) / 3
    print_kernel[(2,)](x, 3, BLOCK=4, num_warps=1)
    torch.cuda.synchronize()
    lines = capfd.readouterr().out.splitlines()
    assert sorted(set(lines)) == sorted(expected_lines(x.cpu().numpy(), 2, 3, 4))
    assert len(lines) >= len(set(lines)) and np.all([line.startswith("pid (") for line in lines])
