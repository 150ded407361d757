"""Ops follow their tensors: every op family of ``tessera.ops`` called on cuda:1 tensors while
cuda:0 is the current device runs on cuda:1 (its output lives there, nothing touches cuda:0)
and gives what the same call gives on cuda:0; tensors on two GPUs in one call are refused.
Needs two GPUs."""
import math

import pytest
from gpu_helpers import require_torch_gpu

torch = require_torch_gpu(min_devices=2)

import tessera.ops as ops  # noqa: E402
from tessera.ops import rwkv  # noqa: E402

CUDA0, CUDA1 = torch.device("cuda:0"), torch.device("cuda:1")


def _randn(*shape, dtype=torch.float32, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g) * scale).to(dtype)


def _rope_tables(seq, dim):
    angles = torch.arange(seq)[:, None] * 10000.0 ** (-torch.arange(dim // 2) / (dim // 2))
    return torch.sin(angles), torch.cos(angles)


def _wkv7_inputs():
    b, t, h, n = 2, 33, 2, 64
    r, k, v = (_randn(b, t, h, n, seed=s) for s in (1, 2, 3))
    w = -torch.exp(_randn(b, t, h, n, seed=4) * 0.5 - 0.5)
    kk = torch.nn.functional.normalize(_randn(b, t, h, n, seed=5), dim=-1)
    a, bb = -kk, kk * torch.sigmoid(_randn(b, t, h, n, seed=6))
    return (r, w, k, v, a, bb)


# (name, inputs on the CPU, the call): each call runs once on cuda:0 and once on cuda:1.
CASES = [
    ("add", lambda: (_randn(1000, 33), _randn(33, seed=1)), lambda x, y: ops.add(x, y, alpha=2)),
    ("gelu", lambda: (_randn(4097, dtype=torch.bfloat16),), lambda x: ops.gelu(x)),
    ("softmax", lambda: (_randn(64, 3000),), lambda x: ops.softmax(x, dim=-1)),
    ("layer_norm", lambda: (_randn(16, 1024, dtype=torch.bfloat16), _randn(1024, seed=1),
                            _randn(1024, seed=2)),
     lambda x, w, b: ops.layer_norm(x, (1024,), w, b)),
    ("rms_norm", lambda: (_randn(16, 1000), _randn(1000, seed=1)),
     lambda x, w: ops.rms_norm(x, (1000,), w)),
    ("matmul", lambda: (_randn(3, 200, 96, dtype=torch.float16),
                        _randn(96, 130, dtype=torch.float16, seed=1)),
     lambda a, b: ops.matmul(a, b)),
    ("dropout", lambda: (_randn(10000),),
     lambda x: (torch.manual_seed(3), ops.dropout(x, p=0.3))[1]),
    ("rope", lambda: (_randn(2, 16, 4, 64, dtype=torch.bfloat16), *_rope_tables(16, 64)),
     lambda x, s, c: ops.rotary_position_embedding(x, s, c)),
    ("sdpa", lambda: tuple(_randn(2, 4, 100, 64, dtype=torch.bfloat16, seed=s)
                           for s in range(3)),
     lambda q, k, v: ops.scaled_dot_product_attention(q, k, v, is_causal=True)),
    ("flash_attn_func", lambda: tuple(_randn(2, 77, 4, 128, dtype=torch.float16, seed=s)
                                      for s in range(3)),
     lambda q, k, v: ops.flash_attn_func(q, k, v, causal=True)),
    ("flash_attn_with_kvcache",
     lambda: (_randn(2, 1, 4, 64, dtype=torch.bfloat16), _randn(2, 256, 4, 64,
              dtype=torch.bfloat16, seed=1), _randn(2, 256, 4, 64, dtype=torch.bfloat16, seed=2),
              torch.tensor([200, 13], dtype=torch.int32)),
     lambda q, kc, vc, lens: ops.flash_attn_with_kvcache(q, kc, vc, cache_seqlens=lens)),
    ("wkv4", lambda: (-torch.exp(_randn(64, seed=1)), _randn(64, seed=2),
                      _randn(2, 50, 64, seed=3), _randn(2, 50, 64, seed=4)),
     lambda w, u, k, v: rwkv.wkv4(w, u, k, v)),
    ("wkv7", _wkv7_inputs, lambda *inputs: rwkv.wkv7(*inputs)),
]


def _on(device, inputs):
    return [x.to(device) for x in inputs]


def _run(call, inputs, device):
    """The call on ``device``'s copies of ``inputs``, with cuda:0 current, and its output."""
    with torch.cuda.device(CUDA0):
        out = call(*_on(device, inputs))
        assert torch.cuda.current_device() == 0
    torch.cuda.synchronize(device)
    return out


# Tests that each op on cuda:1 tensors runs on cuda:1 and matches its run on cuda:0.
@pytest.mark.parametrize("name, make_inputs, call", CASES, ids=[c[0] for c in CASES])
def test_op_runs_on_the_tensors_device(name, make_inputs, call):
    inputs = make_inputs()
    expected = _run(call, inputs, CUDA0)
    torch.cuda.synchronize(CUDA0)
    before = torch.cuda.memory_allocated(CUDA0)
    got = _run(call, inputs, CUDA1)
    assert got.device == CUDA1, name
    assert torch.cuda.memory_allocated(CUDA0) == before, f"{name} allocated on cuda:0"
    assert torch.isfinite(got.float()).all() and got.float().abs().sum() > 0
    torch.testing.assert_close(got.cpu(), expected.cpu(), rtol=1e-5, atol=1e-5)


# Tests that autograd's backward kernels follow the tensors too: attention, matmul and layer
# norm gradients on cuda:1 match cuda:0's.
def test_backward_runs_on_the_tensors_device():
    def loss_and_grads(device):
        x, w, b = (t.to(device).requires_grad_() for t in
                   (_randn(2, 64, 128), _randn(128, seed=1), _randn(128, seed=2)))
        proj = _randn(128, 3 * 128, seed=3, scale=1 / math.sqrt(128)).to(device).requires_grad_()
        with torch.cuda.device(CUDA0):
            h = ops.matmul(ops.layer_norm(x, (128,), w, b), proj)
            q, k, v = h.view(2, 64, 3, 4, 32).unbind(2)
            y = ops.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                 v.transpose(1, 2), is_causal=True)
            y.square().sum().backward()
        torch.cuda.synchronize(device)
        return [t.grad for t in (x, w, b, proj)]

    expected = loss_and_grads(CUDA0)
    got = loss_and_grads(CUDA1)
    for g, e in zip(got, expected):
        assert g.device == CUDA1
        torch.testing.assert_close(g.cpu(), e.cpu(), rtol=1e-5, atol=1e-5)


# Tests that tensors on two GPUs in one call are refused, naming the devices, with nothing run.
@pytest.mark.parametrize("call", [
    lambda a, b: ops.add(a, b),
    lambda a, b: ops.matmul(a, b),
    lambda a, b: ops.layer_norm(a, (64,), b[0]),
    lambda a, b: ops.scaled_dot_product_attention(a[None, None], b[None, None], b[None, None]),
], ids=["add", "matmul", "layer_norm", "sdpa"])
def test_tensors_on_two_gpus_are_refused(call):
    a, b = _randn(64, 64).to(CUDA0), _randn(64, 64).to(CUDA1)
    with pytest.raises((ValueError, RuntimeError), match="cuda:0|cuda:1"):
        call(a, b)
