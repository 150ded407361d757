"""Data-parallel training of a small transformer block with Tessera's attention, matmul, norms,
GELU and additions, checked step by step against the same model built from PyTorch's own ops.

Each of ``--world-size`` processes (one per GPU, NCCL; all on one GPU with ``--one-gpu``, gloo;
or CPU processes with gloo, where the Tessera kernels run compiled for the host) holds both
models, made from one seed, and wraps each in ``DistributedDataParallel``. Every step each rank
trains both on its own shard of a batch of token sequences (a fixed random Markov chain, so
that the loss has something to learn); DDP averages the gradients over the ranks. The ranks'
mean losses of the two models are recorded per step; at the end the script checks that they
agree to ``--rtol``, that every rank holds the same parameters, and writes ``losses.json`` and
``losses.png`` (both curves) into ``--out``.

The Tessera model computes its layer norms, every matrix product (the projections, the MLP and
the tied output head), the MLP's GELU, the bias and residual additions and causal attention
with ``tessera.ops``, forward and backward; the embedding lookup and the cross-entropy are the
PyTorch ops the reference uses too.

    # two GPUs:
    python examples/distributed/train_block.py --world-size 2 --device cuda --out /tmp/dp
    # or under torchrun (one process per GPU):
    torchrun --nproc_per_node 2 examples/distributed/train_block.py --device cuda
    # two processes sharing one GPU (gloo: NCCL refuses two ranks on one device):
    python examples/distributed/train_block.py --world-size 2 --device cuda --one-gpu
    # CPU processes (gloo):
    python examples/distributed/train_block.py --world-size 2 --device cpu --steps 3

Exit status 0 when the curves match, 1 when they do not.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Dict, List

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import tessera.ops


@dataclass
class Config:
    vocab: int = 256
    d_model: int = 256
    heads: int = 4
    d_ff: int = 1024
    seq_len: int = 128
    batch_per_rank: int = 8
    steps: int = 50
    lr: float = 3e-3
    seed: int = 0


# The ops each model computes with: PyTorch's, or Tessera's (which autograd differentiates
# through Tessera's backward kernels).
TORCH_OPS = SimpleNamespace(
    layer_norm=F.layer_norm, matmul=torch.matmul, gelu=F.gelu, add=torch.add,
    attention=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
TESSERA_OPS = SimpleNamespace(
    layer_norm=tessera.ops.layer_norm, matmul=tessera.ops.matmul, gelu=tessera.ops.gelu,
    add=tessera.ops.add,
    attention=lambda q, k, v: tessera.ops.scaled_dot_product_attention(q, k, v, is_causal=True))


class LayerNorm(nn.Module):
    def __init__(self, d: int, ops: SimpleNamespace):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.ops = ops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.layer_norm(x, x.shape[-1:], self.weight, self.bias, 1e-5)


class Linear(nn.Module):
    """``x @ weight + bias`` with the weight stored (in, out), as the matmul takes it."""

    def __init__(self, d_in: int, d_out: int, ops: SimpleNamespace):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_in, d_out) / math.sqrt(d_in))
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.ops = ops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops.add(self.ops.matmul(x, self.weight), self.bias)


class BlockLM(nn.Module):
    """A one-block pre-norm transformer language model with a tied output head."""

    def __init__(self, config: Config, ops: SimpleNamespace):
        super().__init__()
        c = config
        self.heads, self.ops = c.heads, ops
        self.embedding = nn.Parameter(torch.randn(c.vocab, c.d_model) * 0.02)
        self.position = nn.Parameter(torch.randn(c.seq_len, c.d_model) * 0.02)
        self.norm1, self.norm2, self.norm_out = (LayerNorm(c.d_model, ops) for _ in range(3))
        self.qkv = Linear(c.d_model, 3 * c.d_model, ops)
        self.proj = Linear(c.d_model, c.d_model, ops)
        self.up = Linear(c.d_model, c.d_ff, ops)
        self.down = Linear(c.d_ff, c.d_model, ops)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        x = self.ops.add(self.embedding[tokens], self.position[:length])
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, -1).unbind(2)
        attended = self.ops.attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = self.ops.add(x, self.proj(attended.transpose(1, 2).reshape(batch, length, -1)))
        x = self.ops.add(x, self.down(self.ops.gelu(self.up(self.norm2(x)))))
        return self.ops.matmul(self.norm_out(x), self.embedding.t())


def markov_batches(config: Config, rank: int, world_size: int, device: torch.device):
    """Per step, this rank's shard of a batch of sequences drawn from one random Markov chain
    (each token has 4 likely successors), the same chain and batches in every run."""
    g = torch.Generator().manual_seed(config.seed + 1)
    successors = torch.randint(0, config.vocab, (config.vocab, 4), generator=g)
    rows = config.batch_per_rank * world_size
    for _ in range(config.steps):
        tokens = torch.empty(rows, config.seq_len + 1, dtype=torch.long)
        tokens[:, 0] = torch.randint(0, config.vocab, (rows,), generator=g)
        for t in range(config.seq_len):
            pick = torch.randint(0, 4, (rows,), generator=g)
            tokens[:, t + 1] = successors[tokens[:, t], pick]
        shard = tokens[rank * config.batch_per_rank:(rank + 1) * config.batch_per_rank]
        yield shard.to(device)


def train(rank: int, world_size: int, config: Config, device: torch.device
          ) -> Dict[str, List[float]]:
    """Trains both models on this rank's ``device``; returns the mean losses over the ranks per
    step."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # fp32 products in IEEE fp32 on both sides (Tessera follows this setting as PyTorch does).
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    models = {}
    for name, ops in (("pytorch", TORCH_OPS), ("tessera", TESSERA_OPS)):
        torch.manual_seed(config.seed)
        model = BlockLM(config, ops).to(device)
        models[name] = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=config.lr)
                  for name, model in models.items()}
    losses: Dict[str, List[float]] = {name: [] for name in models}
    for tokens in markov_batches(config, rank, world_size, device):
        for name, model in models.items():
            logits = model(tokens[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, config.vocab), tokens[:, 1:].reshape(-1))
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            losses[name].append(mean.item() / world_size)
    for name, model in models.items():
        _check_replicas(name, model.module)
    return losses


def _check_replicas(name: str, model: nn.Module) -> None:
    """Raises unless every rank holds the same parameters (DDP kept the replicas in step)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    low, high = flat.clone(), flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    spread = (high - low).abs().max().item()
    if spread != 0:
        raise RuntimeError(f"{name}: the ranks' parameters differ by up to {spread}")


def compare(losses: Dict[str, List[float]], rtol: float) -> List[str]:
    """The steps whose losses differ by more than ``rtol``, as messages."""
    return [f"step {step}: tessera {t:.6f}, pytorch {p:.6f}"
            for step, (t, p) in enumerate(zip(losses["tessera"], losses["pytorch"]))
            if not math.isfinite(t) or abs(t - p) > rtol * abs(p)]


def write_report(out: str, config: Config, world_size: int, placement: str, device_name: str,
                 losses: Dict[str, List[float]], mismatches: List[str]) -> None:
    """``losses.json`` and ``losses.png``: ``placement`` says where the ranks ran (its title)."""
    os.makedirs(out, exist_ok=True)
    report = {"config": asdict(config), "world_size": world_size, "placement": placement,
              "device": device_name, "losses": losses, "mismatches": mismatches,
              "max_relative_difference": max(abs(t - p) / abs(p) for t, p in
                                             zip(losses["tessera"], losses["pytorch"]))}
    with open(os.path.join(out, "losses.json"), "w") as f:
        json.dump(report, f, indent=1)
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    steps = range(1, len(losses["pytorch"]) + 1)
    axes.plot(steps, losses["pytorch"], label="PyTorch ops", linewidth=3, alpha=0.5)
    axes.plot(steps, losses["tessera"], label="Tessera attention, matmul, layer norm, GELU",
              linestyle="--")
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (mean over ranks)")
    axes.set_title(f"DDP: {placement}")
    axes.legend()
    figure.savefig(os.path.join(out, "losses.png"), dpi=120, bbox_inches="tight")
    plt.close(figure)


def run(rank: int, world_size: int, config: Config, args: argparse.Namespace) -> bool:
    """One rank: joins the group, trains, and on rank 0 reports; True when the curves match."""
    nccl = args.device == "cuda" and not args.one_gpu
    if not dist.is_initialized():
        dist.init_process_group("nccl" if nccl else "gloo", init_method=args.init_method,
                                rank=rank, world_size=world_size)
    if args.device == "cuda":
        device = torch.device("cuda", 0 if args.one_gpu else rank)
        device_name = torch.cuda.get_device_name(device)
        placement = (f"{world_size} processes on one {device_name}, gloo" if args.one_gpu
                     else f"{world_size} x {device_name}, NCCL")
    else:
        device, device_name = torch.device("cpu"), "CPU"
        placement = f"{world_size} CPU processes, gloo"
    try:
        losses = train(rank, world_size, config, device)
        mismatches = compare(losses, args.rtol)
        if rank == 0:
            write_report(args.out, config, world_size, placement, device_name, losses,
                         mismatches)
            for step, (t, p) in enumerate(zip(losses["tessera"], losses["pytorch"])):
                print(f"step {step:3d}  pytorch {p:.6f}  tessera {t:.6f}")
            print("\n".join(mismatches) or f"losses match to rtol {args.rtol}")
        return not mismatches
    finally:
        dist.destroy_process_group()


def _leave(matched: bool) -> None:
    """Ends a rank that has finished (its process group destroyed) without the interpreter's
    teardown: in that teardown a static destructor of one of the loaded libraries aborts the
    process ("terminate called without an active exception") in one run in three to ten on
    the CPU (gloo), which would fail a run whose ranks all finished."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if matched else 1)


def _spawned(rank: int, world_size: int, config: Config, args: argparse.Namespace) -> None:
    _leave(run(rank, world_size, config, args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world-size", type=int, default=2,
                        help="processes to spawn (ignored under torchrun)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--one-gpu", action="store_true",
                        help="every rank on cuda:0, gradients averaged over gloo")
    parser.add_argument("--steps", type=int, default=Config.steps)
    parser.add_argument("--seq-len", type=int, default=Config.seq_len)
    parser.add_argument("--d-model", type=int, default=Config.d_model)
    parser.add_argument("--batch-per-rank", type=int, default=Config.batch_per_rank)
    parser.add_argument("--rtol", type=float, default=1e-3,
                        help="largest relative difference of a step's losses")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "tessera-dp"))
    args = parser.parse_args()
    config = Config(steps=args.steps, seq_len=args.seq_len, d_model=args.d_model,
                    d_ff=4 * args.d_model, batch_per_rank=args.batch_per_rank)
    if "RANK" in os.environ:  # under torchrun
        args.init_method = "env://"
        _leave(run(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), config, args))
    if args.one_gpu and args.device != "cuda":
        parser.error("--one-gpu needs --device cuda")
    gpus = 1 if args.one_gpu else args.world_size
    if args.device == "cuda" and torch.cuda.device_count() < gpus:
        print(f"needs {gpus} GPUs, found {torch.cuda.device_count()}", file=sys.stderr)
        return 2
    # The spawned ranks meet through a file: a TCP rendezvous would need a free port, which
    # another process may take between choosing it and binding it.
    with tempfile.TemporaryDirectory() as rendezvous:
        args.init_method = "file://" + os.path.join(rendezvous, "group")
        try:
            mp.spawn(_spawned, args=(args.world_size, config, args), nprocs=args.world_size)
        except mp.ProcessExitedException:  # a rank whose curves did not match exits 1
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
