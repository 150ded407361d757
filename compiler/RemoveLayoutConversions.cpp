#include "compiler/Passes.h"
#include "dialects/tilegpu/Layout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TILEGPUREMOVELAYOUTCONVERSIONS
#include "compiler/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// How deep a chain of producers is recomputed before a conversion is judged cheaper.
constexpr unsigned kMaxRematerialisationDepth = 8;

bool isElementwise(Operation *op) {
  return op->getNumResults() == 1 && op->getNumRegions() == 0 &&
         (isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
          isa<tile::AddPtrOp, tile::HintOp>(op));
}

// Whether `value` can be recomputed in any layout from ranges, splats, constants and
// element-wise arithmetic over them.
bool canRematerialise(Value value, unsigned depth) {
  if (!isa<RankedTensorType>(value.getType()))
    return true; // scalars are shared by all threads
  Operation *def = value.getDefiningOp();
  if (!def || depth > kMaxRematerialisationDepth)
    return false;
  if (isa<tile::MakeRangeOp, tile::SplatOp, arith::ConstantOp>(def))
    return true;
  if (auto expand = dyn_cast<tile::ExpandDimsOp>(def))
    return canRematerialise(expand.getSrc(), depth + 1);
  if (auto broadcast = dyn_cast<tile::BroadcastOp>(def))
    return canRematerialise(broadcast.getSrc(), depth + 1);
  if (auto convert = dyn_cast<ConvertLayoutOp>(def))
    return canRematerialise(convert.getSrc(), depth + 1);
  if (!isElementwise(def))
    return false;
  return llvm::all_of(def->getOperands(),
                      [&](Value operand) { return canRematerialise(operand, depth + 1); });
}

// The layout a producer's operand needs so that the producer yields `layout`.
Attribute operandLayout(Operation *def, Attribute layout) {
  if (auto expand = dyn_cast<tile::ExpandDimsOp>(def))
    return SliceAttr::get(def->getContext(), expand.getAxis(), layout);
  return layout;
}

Value rematerialise(OpBuilder &builder, Value value, Attribute layout) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getEncoding() == layout)
    return value;
  Operation *def = value.getDefiningOp();
  if (auto convert = dyn_cast<ConvertLayoutOp>(def))
    return rematerialise(builder, convert.getSrc(), layout);
  if (isa<tile::BroadcastOp>(def) && isa<SliceAttr>(layout))
    return {}; // a broadcast computes in a blocked layout
  IRMapping mapping;
  for (Value operand : def->getOperands()) {
    Value remade = rematerialise(builder, operand, operandLayout(def, layout));
    if (!remade)
      return {};
    mapping.map(operand, remade);
  }
  Operation *clone = builder.clone(*def, mapping);
  clone->getResult(0).setType(withLayout(type, layout));
  if (auto constant = dyn_cast<arith::ConstantOp>(clone))
    if (auto dense = dyn_cast<DenseElementsAttr>(constant.getValue()))
      constant.setValueAttr(dense.reshape(cast<ShapedType>(clone->getResult(0).getType())));
  return clone->getResult(0);
}

struct RemoveLayoutConversionsPass
    : public mlir::tessera::impl::TileGPURemoveLayoutConversionsBase<RemoveLayoutConversionsPass> {
  void runOnOperation() override {
    SmallVector<ConvertLayoutOp> converts;
    getOperation().walk([&](ConvertLayoutOp op) { converts.push_back(op); });
    for (ConvertLayoutOp convert : converts) {
      if (!canRematerialise(convert.getSrc(), 0))
        continue;
      OpBuilder builder(convert);
      Value remade = rematerialise(builder, convert.getSrc(), convert.getType().getEncoding());
      if (!remade)
        continue;
      convert.replaceAllUsesWith(remade);
      convert.erase();
    }
  }
};

} // namespace
