// Facts about integer and pointer values that decide how wide memory accesses can be: per
// dimension, the length of runs of consecutive values (contiguity), the largest power of two
// dividing the first value of each run (divisibility; in bytes for pointers) and the length of
// runs of equal values (constancy). Seeded by specialisation (`tile.divisibility` on arguments).
#ifndef TESSERA_COMPILER_AXISINFO_H
#define TESSERA_COMPILER_AXISINFO_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::tessera {

struct AxisInfo {
  // One entry per dimension; scalars have one entry.
  llvm::SmallVector<int64_t> contiguity, divisibility, constancy;
};

class AxisInfoAnalysis {
public:
  explicit AxisInfoAnalysis(Operation *root);

  AxisInfo get(Value value) const;

  // How many consecutive elements along the last dimension of a block of pointers can move as
  // one access: limited by contiguity, by alignment and by 16 bytes.
  unsigned getVectorWidth(Value pointers) const;

  // Length of runs of equal mask values along the last dimension.
  unsigned getMaskConstancy(Value mask) const;

private:
  void visitBlock(Block &block);
  void visitLoop(scf::ForOp loop);
  void visit(Operation *op);
  llvm::DenseMap<Value, AxisInfo> facts;
};

} // namespace mlir::tessera

#endif
