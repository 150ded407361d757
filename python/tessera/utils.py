"""Host-side integer helpers (Triton's ``triton.cdiv`` and ``triton.next_power_of_2``)."""
from __future__ import annotations

__all__ = ["cdiv", "next_power_of_2"]


def cdiv(x: int, y: int) -> int:
    """Ceiling division: ``cdiv(1000, 128) == 8``."""
    return (x + y - 1) // y


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= ``n`` (0 for 0, as Triton): ``next_power_of_2(100) == 128``."""
    if n < 0:
        raise ValueError(f"next_power_of_2 expects a non-negative int, got {n}")
    return 0 if n == 0 else 1 << (n - 1).bit_length()
