"""The ops without a backward yet (pow, clamp) under torch.autograd
(tessera/ops/no_backward.py): with grad mode on and an input that requires grad, the forward
gives the values it gives without grad and a result that requires grad, whose backward raises
NotImplementedError naming the op instead of leaving the inputs silently without gradients;
``out=`` and ``inplace=True`` (of these and of the differentiable activations) are refused
before anything is written; bool results and calls without grad carry no autograd node.
"""
import op_helpers
import pytest

torch = op_helpers.require_torch()

import tessera.ops as ops  # noqa: E402

SENTINEL = -77.0


# name: (the call on x of shape (2, 4, 3, 8), the op its error names)
CALLS = {
    "pow": (lambda x: ops.pow(x.abs(), 2.0), "pow"),
    "clamp": (lambda x: ops.clamp(x, -0.5, 0.5), "clamp"),
    "clamp-min": (lambda x: ops.clamp(x, min=0.0), "clamp"),
}


@pytest.mark.parametrize("name", CALLS)
def test_backward_raises_naming_the_op(name, randn):
    call, op = CALLS[name]
    x = randn(2, 4, 3, 8, dtype=torch.float32)
    with torch.no_grad():
        plain = call(x)
    leaf = x.clone().requires_grad_()
    torch.manual_seed(0)
    y = call(leaf)
    assert y.requires_grad and y.grad_fn is not None
    assert torch.equal(y.detach(), plain), "the recorded call computed other values"
    assert plain.grad_fn is None and not plain.requires_grad
    with pytest.raises(NotImplementedError, match=rf"^{op} has no backward in tessera\.ops yet"):
        y.sum().backward()
    assert leaf.grad is None


@pytest.mark.parametrize("name", ["pow", "clamp"])
def test_inputs_without_grad_give_plain_results(name, randn):
    y = CALLS[name][0](randn(2, 4, 3, 8, dtype=torch.float32))
    assert y.grad_fn is None and not y.requires_grad


def test_bool_results_never_require_grad(randn):
    x = randn(2, 4, 3, 8, dtype=torch.float32).requires_grad_()
    for result in (ops.isnan(x), ops.gt(x, 0.0), ops.eq(x, x)):
        assert result.dtype == torch.bool and not result.requires_grad


@pytest.mark.parametrize("name, call, how", [
    ("add", lambda x, out: ops.add(x, 1.0, out=out), "out="),
    ("mul", lambda x, out: ops.mul(x, x, out=out), "out="),
    ("clamp", lambda x, out: ops.clamp(x, min=0.0, out=out), "out="),
])
def test_out_with_grad_is_refused_before_writing(name, call, how, randn, device):
    x = randn(2, 4, 3, 8, dtype=torch.float32).requires_grad_()
    out = torch.full(x.shape, SENTINEL, device=device)
    with pytest.raises(RuntimeError, match=rf"^{name}: {how} does not support autograd and an "
                       r"input requires grad; call it under torch\.no_grad\(\)"):
        call(x, out)
    assert bool((out == SENTINEL).all())
    with torch.no_grad():
        call(x, out)
    assert not bool((out == SENTINEL).any())


@pytest.mark.parametrize("name, call", [
    ("relu", lambda x: ops.relu(x, inplace=True)),
    ("silu", lambda x: ops.silu(x, inplace=True)),
    ("dropout", lambda x: ops.dropout(x, p=0.5, inplace=True)),
    ("rotary_position_embedding", lambda x: ops.rotary_position_embedding(
        x, torch.zeros(4, 4, device=x.device), torch.ones(4, 4, device=x.device), inplace=True)),
])
def test_inplace_with_grad_is_refused_before_writing(name, call, randn):
    leaf = randn(2, 4, 3, 8, dtype=torch.float32).requires_grad_()
    x = leaf * 1  # a non-leaf, which PyTorch's own in-place ops would accept
    before = x.detach().clone()
    with pytest.raises(RuntimeError, match=rf"^{name}: inplace=True does not support autograd"):
        call(x)
    assert torch.equal(x.detach(), before)
