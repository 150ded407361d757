"""examples/distributed/train_block.py over NCCL on two GPUs: a data-parallel training run of a
transformer block whose attention, matmuls and layer norms are Tessera's matches the same model
built from PyTorch's ops, step by step. Needs two GPUs."""
from gpu_helpers import require_torch_gpu
from train_block_runs import run_train_block

require_torch_gpu(min_devices=2)


# Tests that 20 DDP steps on two GPUs give PyTorch's losses and that the loss falls.
def test_two_gpu_ddp_matches_pytorch(tmp_path):
    report = run_train_block(tmp_path, ["--world-size", "2", "--device", "cuda", "--steps", "20"],
                             timeout=600)
    assert report["mismatches"] == [] and report["max_relative_difference"] <= 1e-3
    losses = report["losses"]["tessera"]
    assert len(losses) == 20 and losses[-1] < losses[0] - 0.5
