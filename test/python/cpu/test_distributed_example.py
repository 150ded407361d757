"""examples/distributed/train_block.py on the CPU: two gloo processes train the Tessera model
(its kernels compiled for the host) and the PyTorch model under DistributedDataParallel, and the
losses of every step agree. (GPU hosts with two GPUs run it over NCCL:
test/python/gpu/test_gpu_distributed.py.)"""
import pytest
from train_block_runs import run_train_block

pytest.importorskip("torch")


# Tests that a small model's three DDP steps over two CPU processes match PyTorch's losses and
# that the script writes its report.
def test_two_process_ddp_matches_pytorch_on_the_cpu(tmp_path):
    report = run_train_block(tmp_path, ["--world-size", "2", "--device", "cpu", "--steps", "3",
                                        "--seq-len", "16", "--d-model", "32",
                                        "--batch-per-rank", "2"], timeout=900)
    assert report["world_size"] == 2 and report["mismatches"] == []
    tessera_losses, torch_losses = report["losses"]["tessera"], report["losses"]["pytorch"]
    assert len(tessera_losses) == len(torch_losses) == 3
    assert all(4.0 < loss < 7.0 for loss in tessera_losses)  # about log(256) at the start
    assert report["max_relative_difference"] <= 1e-3
