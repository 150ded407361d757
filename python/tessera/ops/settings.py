"""Library-wide defaults for the op library's kernels (``specs/ops.md``, "Configuration").

None (the default) lets the autotuner decide. A number overrides the ``num_warps`` /
``num_stages`` of every config an op tunes over, and ``max_num_configs`` keeps only the first
that many of the configs that fit the problem (1: no tuning at all, the op's first choice).

    >>> tessera.ops.set_default_max_num_configs(1)   # no tuning: launch the first config
    >>> tessera.ops.get_default_max_num_configs()
    1
    >>> tessera.ops.set_default_max_num_configs(None)
"""
from __future__ import annotations

from typing import Optional

__all__ = ["get_default_max_num_configs", "get_default_num_stages", "get_default_num_warps",
           "set_default_max_num_configs", "set_default_num_stages", "set_default_num_warps"]

_num_warps: Optional[int] = None
_num_stages: Optional[int] = None
_max_num_configs: Optional[int] = None


def _positive_int(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 or None, got {value}")
    return value


def set_default_num_warps(num_warps: Optional[int]) -> None:
    """Sets the warps per program of every op kernel: a power of two from 1 to 32, or None."""
    num_warps = _positive_int("num_warps", num_warps)
    if num_warps is not None and (num_warps > 32 or num_warps & (num_warps - 1)):
        raise ValueError(f"num_warps must be a power of two from 1 to 32, got {num_warps}")
    global _num_warps
    _num_warps = num_warps


def get_default_num_warps() -> Optional[int]:
    """The warps per program set by ``set_default_num_warps`` (None: the autotuner's choice)."""
    return _num_warps


def set_default_num_stages(num_stages: Optional[int]) -> None:
    """Sets the software-pipelining depth of every op kernel: an int >= 1, or None."""
    global _num_stages
    _num_stages = _positive_int("num_stages", num_stages)


def get_default_num_stages() -> Optional[int]:
    """The pipelining depth set by ``set_default_num_stages`` (None: the autotuner's choice)."""
    return _num_stages


def set_default_max_num_configs(n: Optional[int]) -> None:
    """Sets how many configs an op times at most when it meets a new problem: >= 1, or None
    (every config that fits)."""
    global _max_num_configs
    _max_num_configs = _positive_int("n", n)


def launch_options(config: dict) -> dict:
    """``num_warps`` and ``num_stages`` to launch an op's ``config`` with: the library-wide
    defaults where they are set, else the config's own (for ops that pick a config without
    tuning)."""
    return {"num_warps": _num_warps or config["num_warps"],
            "num_stages": _num_stages or config["num_stages"]}


def get_default_max_num_configs() -> Optional[int]:
    """The limit set by ``set_default_max_num_configs`` (None: no limit)."""
    return _max_num_configs
