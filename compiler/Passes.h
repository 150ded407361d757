#ifndef TESSERA_COMPILER_PASSES_H
#define TESSERA_COMPILER_PASSES_H

#include "dialects/tile/TileDialect.h"
#include "dialects/tilegpu/TileGPUDialect.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tessera {

#define GEN_PASS_DECL
#include "compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/Passes.h.inc"

// The module attribute where convert-tile-to-tilegpu records the warps per program and
// convert-tilegpu-to-llvm the dynamic shared memory the kernel needs, in bytes.
constexpr llvm::StringLiteral kNumWarpsAttr = "tilegpu.num_warps";
constexpr llvm::StringLiteral kSharedBytesAttr = "tilegpu.shared";

} // namespace mlir::tessera

#endif
