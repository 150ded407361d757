// Loop unrolling for the passes. It lives in a file of its own because MLIR's SCF utilities
// declare a function mlir::tile, whose name clashes with the tile dialect's namespace.
#ifndef TESSERA_COMPILER_LOOPUNROLL_H
#define TESSERA_COMPILER_LOOPUNROLL_H

#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::tessera {

// Unrolls `loop` by `factor`, with a remainder loop after it for trip counts that `factor` does
// not divide; the remainder's results replace the loop's. Fails where the loop cannot be
// unrolled (MLIR's loopUnrollByFactor).
LogicalResult unrollLoop(scf::ForOp loop, unsigned factor);

} // namespace mlir::tessera

#endif // TESSERA_COMPILER_LOOPUNROLL_H
