"""Tensor descriptors in the front end: a descriptor argument becomes its kernel parameters (the
tensor map only when TMA-ready), desc.load a boundary-checked, zero-padded tile.load naming the
tensor map and the box coordinates, desc.store a masked store; the kernels compile for sm_90a
(TMA) and sm_80 (ordinary loads); misuse fails with the source line; and tessera.TensorDescriptor
checks its arguments on the host."""
from __future__ import annotations

import pytest

from test_frontend_support import line_of, ops, parse, tessera, tile_ir

import tessera.language as tl
from tessera.runtime.arguments import plan_kind


@tessera.jit
def copy_kernel(x_desc, y_desc, BM: tl.constexpr, BN: tl.constexpr):
    row = tl.program_id(0) * BM
    y_desc.store([row, 0], x_desc.load([row, 0]))


@tessera.jit
def wrong_rank_kernel(x_desc):
    x_desc.load([0])


SIGNATURE = {"x_desc": "tensordesc<bf16[64,32]>:16", "y_desc": "tensordesc<bf16[64,32]>"}


def test_parameters_and_load():
    ir = tile_ir(copy_kernel, SIGNATURE, {"BM": 64, "BN": 32})
    assert parse(ir).returncode == 0, parse(ir).stderr
    # x: tensor map, base, shape (2), row stride; y (not TMA-ready): base, shape, row stride
    assert ("function_type = (!tile.tensormap, !tile.ptr<bf16>, i64, i64, i64, !tile.ptr<bf16>, "
            "i64, i64, i64) -> ()") in ir
    # the TMA-ready base is 16-byte aligned, its row stride a multiple of 8 bf16 elements
    assert ("arg_attrs = [{}, {tile.divisibility = 16 : i32}, {}, {}, "
            "{tile.divisibility = 8 : i32}, {}, {}, {}, {}]") in ir
    (load,) = ops(ir, "tile.load")
    assert "array<i32: 1, 1, 1, 1, 2>" in load and "!tile.tensormap, i32, i32)" in load
    assert "-> tensor<64x32xbf16>" in load
    (store,) = ops(ir, "tile.store")
    assert "array<i32: 1, 1, 1>" in store


def test_descriptor_without_tensor_map_loads_through_pointers():
    ir = tile_ir(copy_kernel, {"x_desc": "tensordesc<bf16[64,32]>",
                               "y_desc": "tensordesc<bf16[64,32]>"}, {"BM": 64, "BN": 32})
    assert "!tile.tensormap" not in ir
    (load,) = ops(ir, "tile.load")
    assert "array<i32: 1, 1, 1, 0, 0>" in load


@pytest.mark.parametrize("target", ["sm_80", "sm_90a"])
def test_compiles(target, run_ptxas):
    kernel = tessera.compile(copy_kernel, SIGNATURE, constants={"BM": 64, "BN": 32},
                             target=target)
    assert ".param .align 64 .b8 copy_kernel_param_0[128]" in kernel.asm["ptx"]
    assert run_ptxas(kernel.asm["ptx"], target).returncode == 0


def test_wrong_number_of_offsets_names_the_line():
    with pytest.raises(tessera.CompilationError) as info:
        tile_ir(wrong_rank_kernel, {"x_desc": "tensordesc<fp32[16,16]>"})
    message = str(info.value)
    assert f":{line_of(wrong_rank_kernel, 'x_desc.load')}:" in message
    assert "needs 2 offsets" in message


def test_plan_groups_the_parameters():
    assert plan_kind("tensordesc<bf16[64,32]>", True) == "(mplll)"
    assert plan_kind("tensordesc<fp32[8,16,32]>", False) == "(plllll)"


class FakeTensor:
    """A CUDA array with only an address and a dtype, for the host-side checks."""

    def __init__(self, typestr="<f4", address=4096):
        self.typestr = typestr
        self.address = address

    @property
    def __cuda_array_interface__(self):
        return {"data": (self.address, False), "typestr": self.typestr, "shape": (64, 64),
                "version": 3}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"strides": (1, 64)}, ValueError, "last dimension must be contiguous"),
    ({"shape": (64,)}, ValueError, "differ in rank"),
    ({"block_shape": (64, 24)}, ValueError, "powers of two"),
    ({"block_shape": (64,)}, ValueError, "differ in rank"),
    ({"padding": "nan"}, ValueError, "padding must be 'zero'"),
    ({"base": FakeTensor("|b1")}, TypeError, "bool tensors"),
    ({"base": 7}, TypeError, "base must be a tensor"),
    ({"shape": (2, 3, 4, 5, 6, 7), "strides": (1,) * 6, "block_shape": (1,) * 6}, ValueError,
     "rank must be 1 to 5"),
])
def test_host_descriptor_errors(kwargs, error, match):
    arguments = {"base": FakeTensor(), "shape": (64, 64), "strides": (64, 1),
                 "block_shape": (32, 32), **kwargs}
    with pytest.raises(error, match=match):
        tessera.TensorDescriptor(**arguments)


def test_block_shape_is_settable():
    desc = tessera.TensorDescriptor(FakeTensor(), (64, 64), (64, 1), (32, 32))
    desc.block_shape = [16, 64]
    assert desc.block_shape == (16, 64)
    assert "block_shape=(16, 64)" in repr(desc)
