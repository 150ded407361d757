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
  if (!type || haveSameDistribution(type.getEncoding(), layout, type.getShape()))
    return true; // scalars are shared by all threads; the rest converts for free
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
  if (haveSameDistribution(type.getEncoding(), layout, type.getShape()))
    return ConvertLayoutOp::create(builder, value.getLoc(), withLayout(type, layout), value);
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

// A value carried around `loop` that the body reads only through conversions to one layout, and
// yields from a conversion out of that layout, is carried in that layout instead: the
// conversions move to the loop's entry and exit (a row statistic of a dot's result, initialised
// in a default layout, then stays in the dot's layout for the whole loop).
void carryInUsedLayouts(scf::ForOp loop) {
  Operation *yield = loop.getBody()->getTerminator();
  for (auto [i, arg] : llvm::enumerate(loop.getRegionIterArgs())) {
    auto yielded = yield->getOperand(i).getDefiningOp<ConvertLayoutOp>();
    if (!yielded || arg.use_empty())
      continue;
    RankedTensorType carried = yielded.getSrc().getType();
    bool onlyConverted = llvm::all_of(arg.getUsers(), [&](Operation *user) {
      auto convert = dyn_cast<ConvertLayoutOp>(user);
      return convert && convert.getType() == carried;
    });
    if (!onlyConverted)
      continue;
    auto original = cast<RankedTensorType>(arg.getType());
    Location loc = loop.getLoc();
    OpBuilder builder(loop);
    OpOperand &init = loop.getInitArgsMutable()[i];
    init.set(ConvertLayoutOp::create(builder, loc, carried, init.get()));
    arg.setType(carried);
    for (Operation *user : llvm::make_early_inc_range(arg.getUsers())) {
      user->getResult(0).replaceAllUsesWith(arg);
      user->erase();
    }
    yield->setOperand(i, yielded.getSrc());
    if (yielded->use_empty())
      yielded->erase();
    Value result = loop.getResult(i);
    result.setType(carried);
    builder.setInsertionPointAfter(loop);
    auto back = ConvertLayoutOp::create(builder, loc, original, result);
    result.replaceAllUsesExcept(back, back);
  }
}

struct RemoveLayoutConversionsPass
    : public mlir::tessera::impl::TileGPURemoveLayoutConversionsBase<RemoveLayoutConversionsPass> {
  void runOnOperation() override {
    getOperation().walk([](scf::ForOp loop) { carryInUsedLayouts(loop); });
    SmallVector<ConvertLayoutOp> converts;
    getOperation().walk([&](ConvertLayoutOp op) { converts.push_back(op); });
    for (ConvertLayoutOp convert : converts) {
      RankedTensorType srcType = convert.getSrc().getType();
      Attribute layout = convert.getType().getEncoding();
      if (haveSameDistribution(srcType.getEncoding(), layout, srcType.getShape()) ||
          !canRematerialise(convert.getSrc(), layout, 0))
        continue; // free already, or kept
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
