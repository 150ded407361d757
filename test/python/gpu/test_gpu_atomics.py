"""Atomics on the GPU: the cases of atomic_cases.py on CUDA tensors, including blocks whose
layout holds copies of elements in several warps (each element must apply once) and scalar
atomics whose old value every thread of the program sees."""
import numpy as np
import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu()

from atomic_cases import CASES  # noqa: E402


class CudaArrays:
    launch = {}

    @staticmethod
    def array(values):
        return torch.from_numpy(np.array(values, copy=True)).cuda()

    @staticmethod
    def numpy(tensor):
        torch.cuda.synchronize()
        return tensor.cpu().numpy()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__[5:])
def test_atomics_on_the_gpu(case):
    case(CudaArrays(), np.random.default_rng(8))
