"""Launches follow the tensors: a kernel on cuda:1 tensors runs on device 1 (needs 2 GPUs), also
when it sees them only through ``__cuda_array_interface__``."""
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu(min_devices=2)

import softmax  # noqa: E402
import vector_add  # noqa: E402
from launch_cases import copy_kernel  # noqa: E402


def test_vector_add_on_cuda1_while_cuda0_is_current():
    dev = torch.device("cuda:1")
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randn((1 << 20) + 7, device=dev, generator=g)
    y = torch.randn((1 << 20) + 7, device=dev, generator=g)
    out = torch.full_like(x, float("nan"))
    with torch.cuda.device(0):
        vector_add.add(x, y, out=out)
        assert torch.cuda.current_device() == 0
    torch.cuda.synchronize(dev)
    torch.testing.assert_close(out, x + y, rtol=0, atol=0)


def test_softmax_on_cuda1():
    dev = torch.device("cuda:1")
    g = torch.Generator(device=dev).manual_seed(2)
    x = torch.randn(257, 4097, device=dev, generator=g).to(torch.bfloat16)
    out = torch.full_like(x, float("nan"))
    with torch.cuda.device(0):
        softmax.softmax(x, out=out)
    torch.cuda.synchronize(dev)
    torch.testing.assert_close(out.double(), torch.softmax(x.double(), -1), rtol=2.0 ** -7,
                               atol=1e-7)


class InterfaceOnly:
    """A tensor seen only through ``__cuda_array_interface__``, which names no device (no
    ``__dlpack_device__`` either, as Numba's device arrays): the driver says where it is."""

    def __init__(self, tensor):
        self.tensor = tensor

    @property
    def __cuda_array_interface__(self):
        return self.tensor.__cuda_array_interface__


def test_interface_objects_on_cuda1_run_there():
    dev = torch.device("cuda:1")
    x = torch.randn(5000, device=dev, generator=torch.Generator(device=dev).manual_seed(3))
    out = torch.full_like(x, float("nan"))
    with torch.cuda.device(0):
        copy_kernel[(20,)](InterfaceOnly(x), InterfaceOnly(out), 5000, BLOCK=256)
    torch.cuda.synchronize(dev)
    assert torch.equal(out, x)
