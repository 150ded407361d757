#ifndef TESSERA_DIALECTS_TILE_TILEDIALECT_H
#define TESSERA_DIALECTS_TILE_TILEDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::tile {
// How tile.print shows one value's elements: their kind, and their width in bits (pointers: 64),
// which hexadecimal output pads to.
struct PrintFormat {
  enum Kind : int32_t { Signed = 0, Unsigned = 1, Float = 2, Hex = 3 } kind;
  unsigned width;
};
} // namespace mlir::tile

#include "dialects/tile/TileDialect.h.inc"
#define GET_TYPEDEF_CLASSES
#include "dialects/tile/TileTypes.h.inc"
#define GET_OP_CLASSES
#include "dialects/tile/TileOps.h.inc"

namespace mlir::tile {
// The unit attribute marking a func.func as a kernel, and the argument attribute carrying
// divisibility facts from specialisation.
constexpr llvm::StringLiteral kKernelAttr = "tile.kernel";
constexpr llvm::StringLiteral kDivisibilityAttr = "tile.divisibility";
} // namespace mlir::tile

#endif
