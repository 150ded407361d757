#include "compiler/AxisInfo.h"
#include "compiler/Passes.h"
#include "dialects/tilegpu/Layout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"
#include <map>

namespace mlir::tessera {
#define GEN_PASS_DEF_CONVERTTILETOTILEGPU
#include "compiler/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// Gives every tensor value a layout in one forward walk. Values keep the layout their producer
// naturally has; an operand whose layout differs from what its user needs goes through a
// tilegpu.convert_layout, which tilegpu-remove-layout-conversions later removes where it can.
class LayoutAssigner {
public:
  LayoutAssigner(MLIRContext *context, unsigned numWarps,
                 std::map<SmallVector<int64_t>, unsigned> vectorWidths)
      : context(context), numWarps(numWarps), vectorWidths(std::move(vectorWidths)) {}

  void assignBlock(Block &block) {
    for (Operation &op : llvm::make_early_inc_range(block))
      assign(&op);
  }

private:
  Attribute defaultLayout(RankedTensorType type) {
    auto it = vectorWidths.find(SmallVector<int64_t>(type.getShape()));
    unsigned vector = it == vectorWidths.end() ? 1 : it->second;
    return getDefaultBlocked(context, type.getShape(), numWarps, vector);
  }

  static Attribute layoutOf(Value value) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    return type ? type.getEncoding() : Attribute();
  }

  static void setLayout(Value value, Attribute layout) {
    value.setType(withLayout(cast<RankedTensorType>(value.getType()), layout));
  }

  // Makes `operand` (a tensor) arrive in `layout`, converting in front of its user if needed.
  void require(OpOperand &operand, Attribute layout) {
    auto type = dyn_cast<RankedTensorType>(operand.get().getType());
    if (!type || type.getEncoding() == layout)
      return;
    OpBuilder builder(operand.getOwner());
    auto convert = builder.create<ConvertLayoutOp>(operand.getOwner()->getLoc(),
                                                   withLayout(type, layout), operand.get());
    operand.set(convert);
  }

  void requireAllTensors(Operation *op, Attribute layout) {
    for (OpOperand &operand : op->getOpOperands())
      if (auto type = dyn_cast<RankedTensorType>(operand.get().getType()))
        require(operand, layout);
  }

  // The layout an element-wise op computes in: its operands' common one, else the default.
  Attribute elementwiseLayout(Operation *op, RankedTensorType resultType) {
    Attribute common;
    for (Value operand : op->getOperands()) {
      auto type = dyn_cast<RankedTensorType>(operand.getType());
      if (!type)
        continue;
      if (!common)
        common = type.getEncoding();
      else if (common != type.getEncoding())
        return defaultLayout(resultType);
    }
    return common ? common : defaultLayout(resultType);
  }

  void assignFor(scf::ForOp loop) {
    for (auto [init, arg, result] :
         llvm::zip(loop.getInitArgs(), loop.getRegionIterArgs(), loop.getResults()))
      if (Attribute layout = layoutOf(init)) {
        setLayout(arg, layout);
        setLayout(result, layout);
      }
    assignBlock(*loop.getBody());
    Operation *yield = loop.getBody()->getTerminator();
    for (auto [operand, arg] : llvm::zip(yield->getOpOperands(), loop.getRegionIterArgs()))
      if (Attribute layout = layoutOf(arg))
        require(operand, layout);
  }

  void assignIf(scf::IfOp branch) {
    assignBlock(branch.getThenRegion().front());
    if (!branch.getElseRegion().empty())
      assignBlock(branch.getElseRegion().front());
    Operation *thenYield = branch.thenYield();
    for (auto [i, result] : llvm::enumerate(branch.getResults())) {
      Attribute layout = layoutOf(thenYield->getOperand(i));
      if (!layout)
        continue;
      setLayout(result, layout);
      require(branch.elseYield()->getOpOperand(i), layout);
    }
  }

  void assign(Operation *op) {
    if (auto loop = dyn_cast<scf::ForOp>(op))
      return assignFor(loop);
    if (auto branch = dyn_cast<scf::IfOp>(op))
      return assignIf(branch);
    if (auto store = dyn_cast<tile::StoreOp>(op)) {
      if (Attribute layout = layoutOf(store.getPtr()))
        requireAllTensors(op, layout);
      return;
    }
    if (auto reduce = dyn_cast<tile::ReduceOp>(op)) {
      Attribute layout = layoutOf(reduce.getSrcs().front());
      requireAllTensors(op, layout);
      for (Value result : reduce.getResults())
        if (isa<RankedTensorType>(result.getType()))
          setLayout(result, SliceAttr::get(context, reduce.getAxis(), layout));
      return;
    }
    if (op->getNumResults() != 1)
      return;
    auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!resultType || resultType.getEncoding())
      return;
    Value result = op->getResult(0);

    Attribute layout =
        llvm::TypeSwitch<Operation *, Attribute>(op)
            .Case([&](tile::LoadOp load) {
              Attribute ptrLayout = layoutOf(load.getPtr());
              requireAllTensors(op, ptrLayout);
              return ptrLayout;
            })
            .Case([&](tile::ExpandDimsOp expand) {
              auto slice = dyn_cast<SliceAttr>(layoutOf(expand.getSrc()));
              if (slice && slice.getDim() == expand.getAxis())
                return slice.getParent();
              Attribute parent = defaultLayout(resultType);
              require(expand.getSrcMutable(),
                      SliceAttr::get(context, expand.getAxis(), parent));
              return parent;
            })
            .Case([&](tile::BroadcastOp broadcast) {
              Attribute layout = layoutOf(broadcast.getSrc());
              if (isa<BlockedAttr>(layout))
                return layout;
              Attribute blocked = defaultLayout(resultType);
              require(broadcast.getSrcMutable(), blocked);
              return blocked;
            })
            .Case([&](tile::DotOp dot) { return layoutOf(dot.getAcc()); })
            .Case<tile::TransOp, tile::ReshapeOp, tile::SplatOp, tile::MakeRangeOp>(
                [&](Operation *) { return defaultLayout(resultType); })
            .Default([&](Operation *) {
              Attribute layout = elementwiseLayout(op, resultType);
              requireAllTensors(op, layout);
              return layout;
            });
    setLayout(result, layout);
    // A constant's value carries its type, which must now match the result's.
    if (auto constant = dyn_cast<arith::ConstantOp>(op))
      if (auto dense = dyn_cast<DenseElementsAttr>(constant.getValue()))
        constant.setValueAttr(dense.reshape(cast<ShapedType>(result.getType())));
  }

  MLIRContext *context;
  unsigned numWarps;
  std::map<SmallVector<int64_t>, unsigned> vectorWidths;
};

struct ConvertTileToTileGPUPass
    : public mlir::tessera::impl::ConvertTileToTileGPUBase<ConvertTileToTileGPUPass> {
  using ConvertTileToTileGPUBase::ConvertTileToTileGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (numWarps < 1 || numWarps > 32 || !llvm::isPowerOf2_32(numWarps)) {
      module.emitError("num-warps must be a power of two in [1, 32], got ") << numWarps;
      return signalPassFailure();
    }
    // Per block shape, the widest access any load or store of that shape can make.
    AxisInfoAnalysis axisInfo(module);
    std::map<SmallVector<int64_t>, unsigned> vectorWidths;
    module.walk([&](Operation *op) {
      Value ptr;
      if (auto load = dyn_cast<tile::LoadOp>(op))
        ptr = load.getPtr();
      else if (auto store = dyn_cast<tile::StoreOp>(op))
        ptr = store.getPtr();
      auto type = ptr ? dyn_cast<RankedTensorType>(ptr.getType()) : RankedTensorType();
      if (!type)
        return;
      int64_t perThread = std::max<int64_t>(1, type.getNumElements() / (32 * numWarps));
      unsigned width = std::min<int64_t>(axisInfo.getVectorWidth(ptr), perThread);
      unsigned &best = vectorWidths[SmallVector<int64_t>(type.getShape())];
      best = std::max(best, width);
    });

    LayoutAssigner assigner(&getContext(), numWarps, std::move(vectorWidths));
    for (auto func : module.getOps<func::FuncOp>())
      for (Block &block : func.getBody())
        assigner.assignBlock(block);
    module->setAttr(kNumWarpsAttr,
                    IntegerAttr::get(IntegerType::get(&getContext(), 32), numWarps));
  }
};

} // namespace
