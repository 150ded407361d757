"""examples/distributed/train_block.py on GPUs: a data-parallel training run of a transformer
block whose attention, matmuls and layer norms are Tessera's matches the same model built from
PyTorch's ops, step by step: over NCCL on two GPUs, and with two processes sharing one GPU (gloo,
as NCCL refuses two ranks on one device)."""
import pytest
from gpu_helpers import require_torch_gpu
from train_block_runs import run_train_block

torch = require_torch_gpu()


def _check_report(report, steps):
    assert report["mismatches"] == [] and report["max_relative_difference"] <= 1e-3
    losses = report["losses"]["tessera"]
    assert len(losses) == steps and losses[-1] < losses[0] - 0.5


# Tests that 20 DDP steps on two GPUs give PyTorch's losses and that the loss falls.
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_two_gpu_ddp_matches_pytorch(tmp_path):
    report = run_train_block(tmp_path, ["--world-size", "2", "--device", "cuda", "--steps", "20"],
                             timeout=600)
    assert report["world_size"] == 2 and report["placement"].endswith("NCCL")
    _check_report(report, 20)


# Tests that two processes sharing one GPU train the Tessera model to PyTorch's losses, their
# gradients averaged by DDP over gloo.
def test_two_processes_on_one_gpu_match_pytorch(tmp_path):
    report = run_train_block(tmp_path, ["--world-size", "2", "--device", "cuda", "--one-gpu",
                                        "--steps", "20"], timeout=600)
    assert report["world_size"] == 2 and report["placement"].endswith("gloo")
    _check_report(report, 20)
