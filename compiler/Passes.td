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
    Option<"target", "target", "std::string", "\"sm_80\"",
           "GPU architecture; sm_90a puts dots on wgmma, sm_80 and later on mma.sync">,
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

def TileGPUPipeline : Pass<"tilegpu-pipeline", "mlir::ModuleOp"> {
  let summary = "Software-pipeline loops that feed dots from global memory";
  let description = [{
    In an `scf.for`, a `tile.load` whose block goes only to a dot operand in shared memory
    (`tilegpu.local_alloc`, or a `convert_layout` to a `dot_op` layout) becomes a
    `tilegpu.async_copy` into a ring of `num-stages` buffers, issued num-stages - 1 iterations
    ahead: the pointers and masks of later iterations are recomputed from the induction variable
    and the loop-carried values that only feed them. An asynchronous wgmma stays in flight across
    one iteration (`warpgroup_dot_wait {pending = 1}`); the copies then follow that wait. Rings
    that would take more than `max-shared-bytes` get fewer buffers (at least 2), or the loop is
    left alone.

    With `tma`, a load that names a tensor map and whose ring's layout is the one TMA writes
    (contiguous along the last dimension, swizzled by min(128, row bytes)) is filled by
    `tilegpu.async_tma_load` instead: one thread issues it, and a ring of mbarriers, one per
    buffer, tells the others when its bytes have landed (`tilegpu.wait_barrier` on the phase
    the buffer is in).
  }];
  let options = [
    Option<"numStages", "num-stages", "int", "3", "Buffers per ring (1 disables pipelining)">,
    Option<"maxSharedBytes", "max-shared-bytes", "int64_t", "0",
           "Shared memory the rings may take (0: no limit)">,
    Option<"useTMA", "tma", "bool", "false",
           "Fill the rings of loads that name a tensor map with TMA copies (sm_90a)">,
  ];
  let dependentDialects = ["mlir::tilegpu::TileGPUDialect", "mlir::arith::ArithDialect",
                           "mlir::scf::SCFDialect"];
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

def ConvertTileToHost : Pass<"convert-tile-to-host", "mlir::ModuleOp"> {
  let summary = "Lower a tile program to loops over buffers for the host CPU";
  let description = [{
    The kernel becomes a function of its parameters (pointers as i64 addresses) and, after
    them, the program id and the number of programs along x, y and z (six i32), which runs one
    program. Each block is a stack buffer (`memref.alloca`) filled by a loop over its elements;
    reductions fold along their axis through the combiner region, dots multiply in the
    accumulator's type. Loop bodies and branches restore the stack pointer they saved on entry
    (`llvm.intr.stacksave`), so their buffers live for one iteration; the blocks a loop carries
    alternate between two buffers allocated before it.

    Every load, store and atomic first calls `tessera_host_check_access(address, bytes, kind,
    site)`, which returns 0 to refuse an access outside the launch's buffers; `site` names the
    op's source line. A refused load gives `other` (or zero) and a refused store does nothing.

    ```mlir
    // tile.load %p, %m, %o : (tensor<128x!tile.ptr<f32>>, ...) -> tensor<128xf32> becomes
    scf.for %i = %c0 to %c128 step %c1 {
      %mi = memref.load %m[%i] : memref<128xi1>
      %v = scf.if %mi -> (f32) {
        %ok = func.call @tessera_host_check_access(%addr, %c4, %c0_i32, %site) : ...
        ...
      }
      memref.store %v, %result[%i] : memref<128xf32>
    }
    ```
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::func::FuncDialect"];
}

#endif
