#ifndef TESSERA_COMPILER_PASSES_TD
#define TESSERA_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTileToTileGPU : Pass<"convert-tile-to-tilegpu", "mlir::ModuleOp"> {
  let summary = "Give every block a distributed layout";
  let description = [{
    Assigns each tensor a `#tilegpu.blocked` layout for `num-warps` warps. Blocks that memory
    operations touch get a layout whose threads hold 16 bytes of consecutive elements where the
    axis analysis proves contiguity and alignment, so that accesses coalesce and vectorise.
    Reductions produce `#tilegpu.slice` layouts; where an operand's layout differs from what its
    user needs, a `tilegpu.convert_layout` is inserted.
  }];
  let options = [
    Option<"numWarps", "num-warps", "int", "4", "Warps per program">,
  ];
  let dependentDialects = ["mlir::tilegpu::TileGPUDialect"];
}

def TileGPURemoveLayoutConversions
    : Pass<"tilegpu-remove-layout-conversions", "mlir::ModuleOp"> {
  let summary = "Rematerialise cheap values in the layout their users need";
  let description = [{
    A `tilegpu.convert_layout` of a value computed only from ranges, splats, constants and
    element-wise arithmetic is replaced by recomputing that value in the target layout, which
    costs a few instructions instead of a round trip through shared memory.
  }];
}

def ConvertTileGPUToLLVM : Pass<"convert-tilegpu-to-llvm", "mlir::ModuleOp"> {
  let summary = "Lower distributed tile programs to the LLVM and NVVM dialects";
  let description = [{
    Each block becomes, per thread, an LLVM struct of the elements its layout gives the thread.
    Loads and stores vectorise up to 16 bytes; reductions combine in registers, then across
    lanes with shuffles, then across warps through shared memory; layout changes go through
    shared memory. Math becomes libdevice calls, except fp32 `exp`, `exp2` and division,
    which use the approximate PTX instructions Triton uses (`ex2.approx.f32`, `div.full.f32`). The kernel gets `nvvm.kernel` and its module
    records the shared memory it needs in `tilegpu.shared`.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::scf::SCFDialect", "mlir::cf::ControlFlowDialect"];
}

#endif
