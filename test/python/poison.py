"""Poisoned outputs, shared by the GPU and op test tiers (import as ``poison``)."""


def poisoned(shape, dtype, device="cuda", guard=0):
    """(view, buffer): a NaN-filled output of ``shape`` that is a view of a buffer with ``guard``
    more NaN elements after it (flat), so that writes past the end can be detected."""
    import torch

    n = 1
    for d in shape:
        n *= d
    buf = torch.full((n + guard,), float("nan"), dtype=dtype, device=device)
    return buf[:n].view(shape), buf


def assert_guard_untouched(buf, n):
    import torch

    assert bool(torch.isnan(buf[n:]).all()), "the kernel wrote past the end of its output"
