"""Launching kernels: ``jit`` (specialisation, cache, launch), argument classification and a
minimal device buffer."""
from .buffer import DeviceBuffer, empty, from_numpy
from .jit_function import JITFunction, LoadedKernel, jit

__all__ = ["DeviceBuffer", "JITFunction", "LoadedKernel", "empty", "from_numpy", "jit"]
