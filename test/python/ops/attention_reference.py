"""The attention reference of specs/rwkv-and-attention.md C.7 over (B, S, H, D) tensors and the
checks the flash_attn_* tests share (tolerances as described in test_ops_flash_attn.py)."""
import math

import torch


def reference(q, k, v, causal=False, window=(-1, -1), softcap=0.0, alibi=None, scale=None,
              off=None, mask=None, upcast=True, keep=None, dropout=0.0, wide=torch.float32):
    """(out, lse) of C.7 over (B, S, H, D) tensors, in ``wide`` (upcast) or the inputs' dtype
    (softmax at least in fp32).
    off: the window's alignment, Sk - Sq (bottom-right) unless given; mask: (B, H, Sq, Sk)
    bool (True attends) or additive; keep: the (B, H, Sq, Sk) dropout mask of rate dropout."""
    dtype = wide if upcast else q.dtype
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    groups = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(groups, dim=2), v.repeat_interleave(groups, dim=2)
    sq, sk = q.shape[1], k.shape[1]
    s = torch.einsum("bihd,bjhd->bhij", q, k) * (scale or q.shape[-1] ** -0.5)
    if softcap:
        s = softcap * torch.tanh(s / softcap)
    i = torch.arange(sq, device=q.device)[:, None]
    j = torch.arange(sk, device=q.device)[None, :]
    off = sk - sq if off is None else off
    left, right = window
    right = 0 if causal else right
    visible = torch.ones(sq, sk, dtype=torch.bool, device=q.device)
    if right >= 0:
        visible = visible & (j <= i + off + right)
    if left >= 0:
        visible = visible & (j >= i + off - left)
    if alibi is not None:
        slopes = alibi if alibi.dim() == 2 else alibi[None].expand(q.shape[0], -1)
        s = s - slopes[:, :, None, None].to(dtype) * (i + off - j).abs().to(dtype)
    if mask is not None:
        if mask.dtype == torch.bool:
            visible = visible & mask
        else:
            s = s + mask.to(dtype)
    s = s.masked_fill(~visible, -math.inf)
    s = s.to(torch.promote_types(dtype, torch.float32))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.where(torch.isfinite(lse)[..., None], torch.exp(s - lse[..., None]), 0.0)
    if keep is not None:
        p = torch.where(keep, p / (1 - dropout), 0.0)
    return torch.einsum("bhij,bjhd->bihd", p.to(dtype), v), lse


def poison_allocator(device, *shapes, dtype):
    """On a GPU, frees NaN-filled blocks of these shapes: the next allocations of those sizes
    reuse them. (On the CPU the conftest makes every new tensor NaN already.)"""
    if torch.device(device).type != "cuda":
        return
    blocks = [torch.full(shape, float("nan"), dtype=dtype, device=device) for shape in shapes]
    del blocks


def bound(low, ref, factor, dtype, ulps=0.5):
    """factor x the low-precision reference's error, plus `ulps` ulps (half by default) at the
    largest |ref| (at least at 1: a gradient that is 0 exactly, as dq where each query sees one
    key, comes out of the kernels as rounding noise)."""
    low_err = (low.double() - ref).abs().max().item()
    ulp = ulps * torch.finfo(dtype).eps * max(ref.abs().max().item(), 1.0)
    return factor * low_err + ulp, low_err


def check_close(name, got, ref, low, factor, ulps=0.5):
    assert got.shape == ref.shape, f"{name}: shape {tuple(got.shape)}, not {tuple(ref.shape)}"
    finite = torch.isfinite(got)
    assert bool(finite.all()), f"{name}: {int((~finite).sum())} of {got.numel()} not finite"
    err = (got.double() - ref.double()).abs().max().item()
    limit, low_err = bound(low, ref.double(), factor, got.dtype, ulps)
    assert err <= limit, (f"{name}: max |got - ref| = {err:.3e} > {limit:.3e} ({factor} x the "
                          f"low-precision reference's {low_err:.3e})")


def check_lse(lse, ref_lse):
    assert lse.dtype == torch.float32 and lse.shape == ref_lse.shape
    dead = torch.isinf(ref_lse)
    assert bool((torch.isinf(lse) == dead).all()), "+inf LSE rows differ from the reference's"
    assert bool((lse[dead] > 0).all()), "a row without keys has LSE -inf, not +inf"
    live = ~dead
    if bool(live.any()):
        err = ((lse[live] - ref_lse[live]).abs() / ref_lse[live].abs().clamp(min=1.0)).max()
        assert err.item() <= 1e-3, f"LSE off by {err.item():.2e}"
