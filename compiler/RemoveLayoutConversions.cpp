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

// The layout a producer's operand needs so that the producer yields `layout`.
Attribute operandLayout(Operation *def, Attribute layout) {
  if (auto expand = dyn_cast<tile::ExpandDimsOp>(def))
    return SliceAttr::get(def->getContext(), expand.getAxis(), layout);
  return layout;
}

// Whether `value` can be recomputed in `layout` (what `rematerialise` does): values already in
// it, and ranges, splats, constants, shape ops and element-wise arithmetic over such values.
// A chain may end in a value of another op (a reduction) that already has the layout it needs,
// and a broadcast of any value can be recomputed from its source converted: a row statistic
// broadcast over a tile is converted before the broadcast, a few elements instead of the tile.
bool canRematerialise(Value value, Attribute layout, unsigned depth) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getEncoding() == layout)
    return true; // scalars are shared by all threads
  Operation *def = value.getDefiningOp();
  if (!def || depth > kMaxRematerialisationDepth)
    return false;
  if (auto convert = dyn_cast<ConvertLayoutOp>(def))
    return canRematerialise(convert.getSrc(), layout, depth + 1);
  if (isa<tile::BroadcastOp>(def))
    return !isa<SliceAttr>(layout); // a broadcast computes in a blocked layout
  if (!isa<tile::MakeRangeOp, tile::SplatOp, arith::ConstantOp, tile::ExpandDimsOp,
           tile::BroadcastOp>(def) &&
      !isElementwise(def))
    return false;
  return llvm::all_of(def->getOperands(), [&](Value operand) {
    return canRematerialise(operand, operandLayout(def, layout), depth + 1);
  });
}

Value rematerialise(OpBuilder &builder, Value value, Attribute layout) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getEncoding() == layout)
    return value;
  Operation *def = value.getDefiningOp();
  if (auto convert = dyn_cast<ConvertLayoutOp>(def))
    return rematerialise(builder, convert.getSrc(), layout);
  if (auto broadcast = dyn_cast<tile::BroadcastOp>(def)) {
    if (isa<SliceAttr>(layout))
      return {}; // a broadcast computes in a blocked layout
    Value source = broadcast.getSrc();
    Value remade = canRematerialise(source, layout, 0)
                       ? rematerialise(builder, source, layout)
                       : builder.create<ConvertLayoutOp>(
                             source.getLoc(),
                             withLayout(cast<RankedTensorType>(source.getType()), layout), source);
    if (!remade)
      return {};
    Operation *clone = builder.clone(*def);
    clone->setOperand(0, remade);
    clone->getResult(0).setType(withLayout(type, layout));
    return clone->getResult(0);
  }
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
      if (!canRematerialise(convert.getSrc(), convert.getType().getEncoding(), 0))
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
