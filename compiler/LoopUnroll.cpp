#include "compiler/LoopUnroll.h"

#include "mlir/Dialect/SCF/Utils/Utils.h"

mlir::LogicalResult mlir::tessera::unrollLoop(scf::ForOp loop, unsigned factor) {
  return failure(failed(loopUnrollByFactor(loop, factor)));
}
