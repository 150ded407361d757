#ifndef TESSERA_DIALECTS_TILEGPU_TILEGPUDIALECT_H
#define TESSERA_DIALECTS_TILEGPU_TILEGPUDIALECT_H

#include "dialects/tile/TileDialect.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/tilegpu/TileGPUDialect.h.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/tilegpu/TileGPUAttrs.h.inc"
#define GET_TYPEDEF_CLASSES
#include "dialects/tilegpu/TileGPUTypes.h.inc"
#define GET_OP_CLASSES
#include "dialects/tilegpu/TileGPUOps.h.inc"

namespace mlir::tilegpu {
// TMA boxes have at most this many elements along each dimension (tilegpu.async_tma_load).
constexpr int64_t kMaxTMABoxExtent = 256;
} // namespace mlir::tilegpu

#endif
