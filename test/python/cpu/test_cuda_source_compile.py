"""CUDA C++ kernels through NVRTC without a GPU (tessera.runtime.cuda_source): compiling to PTX and
cubin, compile errors with NVRTC's log, missing entries, signatures checked against the entry,
CudaConfig and CudaKernel validation, and launch-argument errors raised before any device is
touched. Skipped where no NVRTC is found."""
import uuid

import numpy as np
import pytest

from tessera import _C
from tessera.errors import CompilationError, TesseraError
from tessera.runtime.cuda_source import CudaConfig, CudaKernel

try:
    NVRTC = _C.nvrtc_version()
except TesseraError as error:
    pytest.skip(f"no NVRTC: {error}", allow_module_level=True)

INVALID_ARGUMENT, NOT_FOUND = 1, 5

AXPB = r"""
extern "C" __global__ void axpb(const float* x, float* y, float a, float b, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + b * SCALE;
}
"""
SCALED = CudaConfig(defines={"SCALE": 2}, num_threads=256)


def axpb(**kwargs):
    return CudaKernel(AXPB, "axpb", "ppffi", arg_names=["x", "y", "a", "b", "n"], **kwargs)


@pytest.mark.parametrize("target", ["sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"])
def test_compiles_ptx_and_cubin(target):
    compiled = axpb().compile(SCALED, target=target)
    assert compiled.name == "axpb"
    assert compiled.num_params == 5
    ptx = compiled.stage("ptx").decode()
    assert f".target {target}" in ptx
    assert ".visible .entry axpb(" in ptx
    assert compiled.stage("cubin")[:4] == b"\x7fELF"
    assert compiled.stage("cuda").decode() == AXPB
    assert compiled.stage("log") is None


def test_cubin_holds_the_entry(cuobjdump):
    sass = cuobjdump(axpb().compile(SCALED, target="sm_90a").stage("cubin"))
    assert "Function : axpb" in sass
    assert "FFMA" in sass or "FMUL" in sass


def test_bf16_and_fp16_headers_are_found():
    source = r"""
    #include <cuda_bf16.h>
    #include <cuda_fp16.h>
    extern "C" __global__ void to_half(const __nv_bfloat16* x, __half* y, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) y[i] = __float2half(__bfloat162float(x[i]));
    }
    """
    assert CudaKernel(source, "to_half", "ppi").compile().num_params == 3


def test_compile_error_carries_the_nvrtc_log():
    with pytest.raises(CompilationError) as info:
        axpb().compile(CudaConfig())  # SCALE is not defined
    message = str(info.value)
    assert "NVRTC could not compile 'axpb' for sm_90a" in message
    assert 'axpb.cu(4): error: identifier "SCALE" is undefined' in message


def test_missing_entry_is_not_found():
    kernel = CudaKernel(AXPB, "axpy", "ppffi")
    with pytest.raises(TesseraError) as info:
        kernel.compile(SCALED)
    assert info.value.code == NOT_FOUND
    assert "no kernel named 'axpy' (its kernels: axpb)" in str(info.value)


def test_signature_must_match_the_entry():
    with pytest.raises(ValueError, match=r"signature 'ppffii' has 6 parameters but the kernel "
                                         r"has 5"):
        CudaKernel(AXPB, "axpb", "ppffii").compile(SCALED)


def test_options_reach_nvrtc():
    config = CudaConfig(defines={"SCALE": 1.5}, options=("--use_fast_math", "-lineinfo"))
    assert config.nvrtc_options() == ["-DSCALE=1.5", "--use_fast_math", "-lineinfo"]
    assert axpb().compile(config).num_params == 5
    with pytest.raises(TesseraError) as info:
        axpb().compile(CudaConfig(defines={"SCALE": 1}, options=("--no-such-option",)))
    assert info.value.code == INVALID_ARGUMENT
    assert "--no-such-option" in str(info.value)


def test_c_api_names_bad_arguments():
    cases = [
        (dict(target="sm_75"), "options.target 'sm_75' is not a known target"),
        (dict(target=""), "options.target must be set"),
        (dict(num_warps=3), "options.num_warps must be a power of two from 1 to 32, got 3"),
        (dict(shared_bytes=-8), "options.shared_bytes must be >= 0, got -8"),
        (dict(entry="not valid"), "options.entry must name an extern \"C\" __global__"),
        (dict(options=["-arch=sm_80"]), "options.options[0] ('-arch=sm_80') sets the arch"),
        (dict(options=["-DSCALE=1", ""]), "options.options[1] must not be empty"),
        (dict(options=["-I/tmp"]), "('-I/tmp') adds headers that the kernel key cannot see"),
    ]
    for change, message in cases:
        arguments = dict(source=AXPB, entry="axpb", target="sm_90a", num_warps=4,
                         shared_bytes=0, options=["-DSCALE=1"])
        arguments.update(change)
        with pytest.raises(TesseraError) as info:
            _C.compile_cuda(**arguments)
        assert info.value.code == INVALID_ARGUMENT, change
        assert message in str(info.value)
    with pytest.raises(TesseraError, match="source must not be NULL|source_size must be > 0"):
        _C.compile_cuda("", "axpb", "sm_90a")


def test_precompile_fills_the_disk_cache():
    # A source of its own, so that no earlier run has cached it.
    kernel = CudaKernel(AXPB + f"// {uuid.uuid4()}\n", "axpb", "ppffi")
    before = _C.stats()
    assert kernel.precompile(SCALED, target="sm_90a") is True
    assert kernel.precompile(SCALED, target="sm_90a") is False
    assert kernel.precompile(SCALED, target="sm_80") is True  # another target, another kernel
    after = _C.stats()
    assert after["compiles"] - before["compiles"] == 2
    assert after["disk_hits"] - before["disk_hits"] == 1


def test_config_validation_and_identity():
    for bad in [dict(num_threads=48), dict(num_threads=16), dict(num_threads=2048),
                dict(num_threads=True), dict(shared_bytes=-1), dict(defines={"1X": 1}),
                dict(defines={"A B": 1})]:
        with pytest.raises(ValueError):
            CudaConfig(**bad)
    with pytest.raises(TypeError, match=r"defines\['X'\] must be a bool, int, float or str"):
        CudaConfig(defines={"X": [1]})
    with pytest.raises(TypeError, match="options must be a sequence of non-empty strings"):
        CudaConfig(options="--use_fast_math")
    config = CudaConfig(defines={"B": True, "A": "float"}, num_threads=64, shared_bytes=512)
    assert config.nvrtc_options() == ["-DA=float", "-DB=1"]
    assert config.num_warps == 2
    assert config == CudaConfig(defines={"A": "float", "B": True}, num_threads=64,
                                shared_bytes=512)
    assert hash(config) == hash(CudaConfig(defines={"A": "float", "B": True}, num_threads=64,
                                           shared_bytes=512))
    assert config != CudaConfig(defines={"A": "float", "B": 1}, num_threads=64, shared_bytes=512)
    assert str(config) == "A=float, B=True, num_threads=64, shared_bytes=512"
    assert config.all_kwargs() == {"defines": [["A", "float"], ["B", True]], "num_threads": 64,
                                   "shared_bytes": 512, "options": []}
    with pytest.raises(AttributeError, match="immutable"):
        config.num_threads = 128


def test_kernel_validation():
    with pytest.raises(ValueError, match="entry must be the name"):
        CudaKernel(AXPB, "axpb()", "ppffi")
    with pytest.raises(ValueError, match="signature must be a string of p, i, l, f, d, b"):
        CudaKernel(AXPB, "axpb", "ppffx")
    with pytest.raises(ValueError, match="non-empty string"):
        CudaKernel("  ", "axpb", "ppffi")
    with pytest.raises(ValueError, match="arg_names has 2 names for a signature of 5"):
        CudaKernel(AXPB, "axpb", "ppffi", arg_names=["x", "y"])
    with pytest.raises(TypeError, match="configs must be CudaConfig objects"):
        CudaKernel(AXPB, "axpb", "ppffi", configs=[{"num_threads": 64}])
    with pytest.raises(ValueError, match="'z' is not an argument of the kernel"):
        axpb(restore_value=["z"])
    with pytest.raises(RuntimeError, match=r"launch it with axpb\[grid\]"):
        axpb()(1, 2)


def test_wrong_launch_arguments_are_named():
    kernel = axpb(configs=[SCALED])
    launch = kernel[(1,)]
    with pytest.raises(TypeError, match=r"axpb takes 5 arguments \(signature 'ppffi'\), got 4"):
        launch(None, None, 1.0, 2.0)
    with pytest.raises(TypeError, match="axpb: x must be a CUDA tensor \\(a pointer\\), got int"):
        launch(12345, None, 1.0, 2.0, 8)
    with pytest.raises(ValueError, match="axpb: y is a host array; CUDA C\\+\\+ kernels need CUDA "
                                         "memory"):
        launch(None, np.zeros(4, np.float32), 1.0, 2.0, 8)
    with pytest.raises(TypeError, match="axpb: y must be a CUDA tensor \\(a pointer\\): "
                                        "unsupported kernel argument type str"):
        launch(None, "y", 1.0, 2.0, 8)
    with pytest.raises(TypeError, match="axpb: a must be a float, got str"):
        launch(None, None, "1.0", 2.0, 8)
    with pytest.raises(TypeError, match="axpb: n must be an int, got float"):
        launch(None, None, 1.0, 2.0, 8.0)
    with pytest.raises(ValueError, match="axpb: n = 4294967296 does not fit in 32 bits"):
        launch(None, None, 1.0, 2.0, 2 ** 32)
    with pytest.raises(TypeError, match="config must be a CudaConfig"):
        kernel.run(None, None, 1.0, 2.0, 8, grid=(1,), config={"num_threads": 64})
    # Default names when none are given.
    with pytest.raises(TypeError, match="axpb: argument 4 must be an int, got str"):
        CudaKernel(AXPB, "axpb", "ppffi")[(1,)](None, None, 1.0, 2.0, "8")
    # numpy scalars are numbers like any other: these reach the device (absent here).
    values, device, on_torch = kernel._bind((None, None, np.float32(1.5), 2, np.int64(8)))
    assert values == (0, 0, 1.5, 2.0, 8) and device == 0 and not on_torch
