"""Launching kernels: ``jit`` (specialisation, cache, launch), argument classification, a
minimal device buffer, and CUDA C++ kernels compiled by NVRTC (``CudaKernel``)."""
from .buffer import DeviceBuffer, empty, from_numpy
from .cuda_source import CudaConfig, CudaKernel
from .jit_function import JITFunction, LoadedKernel, jit

__all__ = ["CudaConfig", "CudaKernel", "DeviceBuffer", "JITFunction", "LoadedKernel", "empty",
           "from_numpy", "jit"]
