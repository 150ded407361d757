#include "compiler/AxisInfo.h"
#include "compiler/Passes.h"
#include "dialects/tilegpu/Layout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"
#include <functional>
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
  LayoutAssigner(MLIRContext *context, unsigned numWarps, bool hasWgmma,
                 std::map<SmallVector<int64_t>, unsigned> vectorWidths)
      : context(context), numWarps(numWarps), hasWgmma(hasWgmma),
        vectorWidths(std::move(vectorWidths)) {}

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

  // The layout an element-wise op computes in: its operands' common one; else the first mma
  // layout (or slice of one) among them: results of dots, and their row statistics, stay where
  // the tensor cores left them; else the default.
  Attribute elementwiseLayout(Operation *op, RankedTensorType resultType) {
    Attribute common, mma;
    bool mixed = false;
    for (Value operand : op->getOperands()) {
      auto type = dyn_cast<RankedTensorType>(operand.getType());
      if (!type)
        continue;
      if (!mma && isa<MmaAttr>(getRootLayout(type.getEncoding())))
        mma = type.getEncoding();
      if (!common)
        common = type.getEncoding();
      else if (common != type.getEncoding())
        mixed = true;
    }
    if (mma)
      return mma;
    return common && !mixed ? common : defaultLayout(resultType);
  }

  // How a dot runs: on wgmma (sm_90a), mma.sync or FMAs, and in which layouts.
  struct DotPlan {
    enum Kind { Fma, MmaSync, Wgmma } kind = Fma;
    MmaAttr mma;
    unsigned kWidth = 0;
    // wgmma: the shared layouts of the operands; no sharedB when B comes from registers (the
    // accumulator's layout is then transposed).
    Attribute sharedA, sharedB;
  };

  // The wgmma accumulator layout for a rows x cols product: warpgroups split the rows into
  // 64-row slabs first, then the columns; one instruction covers up to 256 columns.
  std::optional<MmaAttr> wgmmaLayout(int64_t rows, int64_t cols, bool transposed) {
    if (numWarps % 4 != 0 || rows % 64 != 0 || cols % 8 != 0)
      return std::nullopt;
    unsigned groups = numWarps / 4;
    unsigned groupsM = std::min<int64_t>(groups, rows / 64);
    unsigned groupsN = groups / groupsM;
    if (cols % (8 * groupsN) != 0)
      return std::nullopt;
    int64_t perGroupN = cols / groupsN;
    unsigned instrN = std::min<int64_t>(256, perGroupN);
    if (perGroupN % instrN != 0)
      return std::nullopt;
    return MmaAttr::get(context, 3, {4 * groupsM, groupsN}, instrN, transposed);
  }

  // The dimension along which a block's registers are contiguous (the last one by default).
  static unsigned contiguousDim(RankedTensorType type) {
    if (auto blocked = dyn_cast_or_null<BlockedAttr>(type.getEncoding()))
      return blocked.getOrder()[0];
    return type.getRank() - 1;
  }

  DotPlan planDot(tile::DotOp dot) {
    RankedTensorType aType = dot.getA().getType(), bType = dot.getB().getType();
    Type in = aType.getElementType(), acc = dot.getAcc().getType().getElementType();
    int64_t m = aType.getDimSize(0), k = aType.getDimSize(1), n = bType.getDimSize(1);
    bool halves = (in.isF16() || in.isBF16()) && acc.isF32();
    bool tf32 = in.isF32() && acc.isF32() && dot.getInputPrecision() == "tf32";
    if (!halves && !tf32)
      return {};
    unsigned kWidth = halves ? 2 : 1;
    int64_t instrK = 8 * kWidth;
    if (k % instrK != 0)
      return {};
    if (hasWgmma) {
      // tf32 wgmma reads shared memory only K-major: a B with N contiguous instead goes to the
      // register operand of a wgmma computing C^T = B^T A^T (a transposed accumulator).
      bool registerB = tf32 && contiguousDim(bType) == 1;
      if (std::optional<MmaAttr> mma = wgmmaLayout(registerB ? n : m, registerB ? m : n,
                                                   registerB)) {
        Attribute sharedA = wgmmaSharedLayout(aType, 0, 64, tf32);
        Attribute sharedB = registerB ? Attribute()
                                      : wgmmaSharedLayout(bType, 1, mma->getInstrN(), tf32);
        if (sharedA && (sharedB || registerB))
          return {DotPlan::Wgmma, *mma, kWidth, sharedA, sharedB};
      }
    }
    // mma.sync: split the warps so that each warp's share of the block is about square.
    if (m % 16 != 0 || n % 8 != 0)
      return {};
    unsigned warpsM = 1, warpsN = 1;
    while (warpsM * warpsN < numWarps) {
      bool mFits = 32 * warpsM <= m, nFits = 16 * warpsN <= n;
      if (mFits && (!nFits || m / warpsM >= n / warpsN))
        warpsM *= 2;
      else if (nFits)
        warpsN *= 2;
      else
        return {};
    }
    return {DotPlan::MmaSync, MmaAttr::get(context, 2, {warpsM, warpsN}, 8), kWidth};
  }

  // The layout a dot's result (and accumulator) gets.
  Attribute dotResultLayout(tile::DotOp dot) {
    DotPlan plan = planDot(dot);
    return plan.kind == DotPlan::Fma ? defaultLayout(dot.getType()) : Attribute(plan.mma);
  }

  // The shared layout for a wgmma operand held in `registerLayout`: contiguous along the
  // dimension the registers are (so stores and async copies move 16-byte runs), except that tf32
  // operands must be K-major. Null when no swizzle fits.
  Attribute wgmmaSharedLayout(RankedTensorType type, unsigned opIdx, unsigned instrExtent,
                              bool tf32) {
    unsigned kDim = opIdx == 0 ? 1 : 0;
    unsigned contiguous = contiguousDim(type);
    if (tf32)
      contiguous = kDim;
    int64_t bytes = std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    // A K-major row spans the block's K; an M/N-major one what one instruction reads.
    int64_t extent = type.getDimSize(contiguous);
    if (contiguous != kDim)
      extent = std::min<int64_t>(extent, instrExtent);
    int64_t swizzle = std::min<int64_t>(128, extent * bytes);
    if (swizzle < 32)
      return {};
    SmallVector<unsigned> order = {contiguous, 1 - contiguous};
    return SharedAttr::get(context, unsigned(swizzle), order);
  }

  // The shared layout that `trans`'s source is stored in so that its transposed view has
  // `shared`: the order swapped. Null unless the source is a 2-D block whose registers run along
  // the dimension the view needs contiguous (so that the stores stay wide).
  Attribute transposedShared(tile::TransOp trans, Attribute shared) {
    auto layout = dyn_cast_or_null<SharedAttr>(shared);
    RankedTensorType srcType = trans.getSrc().getType();
    if (!layout || srcType.getRank() != 2 || contiguousDim(srcType) != layout.getOrder()[1])
      return {};
    return SharedAttr::get(context, layout.getSwizzleBytes(),
                           {layout.getOrder()[1], layout.getOrder()[0]});
  }

  void assignDot(tile::DotOp dot) {
    DotPlan plan = planDot(dot);
    if (plan.kind == DotPlan::Fma) {
      Attribute layout = defaultLayout(dot.getType());
      require(dot.getAccMutable(), layout);
      setLayout(dot.getResult(), layout);
      return;
    }
    require(dot.getAccMutable(), plan.mma);
    if (plan.kind == DotPlan::MmaSync) {
      require(dot.getAMutable(), DotOperandAttr::get(context, 0, plan.mma, plan.kWidth));
      require(dot.getBMutable(), DotOperandAttr::get(context, 1, plan.mma, plan.kWidth));
      setLayout(dot.getResult(), plan.mma);
      return;
    }
    OpBuilder builder(dot);
    Location loc = dot.getLoc();
    // An operand is stored once, before the loops it does not change in, and read by every
    // dot its store dominates; the transpose of a block (a K-major wgmma operand read from a
    // row-major tile) is the transposed view of the block stored as it is.
    std::function<Value(Value, Attribute)> allocate = [&](Value operand,
                                                          Attribute shared) -> Value {
      OpBuilder::InsertionGuard guard(builder);
      if (auto trans = operand.getDefiningOp<tile::TransOp>())
        if (Attribute untransposed = transposedShared(trans, shared)) {
          Value stored = allocate(trans.getSrc(), untransposed);
          builder.setInsertionPointAfterValue(stored);
          auto viewType = MemDescType::get(context, cast<RankedTensorType>(operand.getType())
                                                        .getShape(),
                                           cast<MemDescType>(stored.getType()).getElementType(),
                                           shared);
          return MemDescTransOp::create(builder, loc, viewType, stored);
        }
      auto [stored, isNew] = storedOperands.try_emplace({operand, shared}, Value());
      if (!isNew) {
        Operation *alloc = stored->second.getDefiningOp();
        Operation *ancestor = alloc->getBlock()->findAncestorOpInBlock(*dot);
        if (ancestor && alloc->isBeforeInBlock(ancestor))
          return stored->second;
      }
      auto loop = dyn_cast<scf::ForOp>(builder.getInsertionBlock()->getParentOp());
      while (loop && loop.isDefinedOutsideOfLoop(operand)) {
        builder.setInsertionPoint(loop);
        loop = dyn_cast<scf::ForOp>(loop->getParentOp());
      }
      auto type = cast<RankedTensorType>(operand.getType());
      auto memType = MemDescType::get(context, type.getShape(), type.getElementType(), shared);
      stored->second = LocalAllocOp::create(builder, loc, memType, operand).getResult();
      return stored->second;
    };
    Value a, b;
    // A block computed in an mma layout (attention probabilities) is the wgmma's register
    // operand, in place.
    if (isa<MmaAttr>(getRootLayout(layoutOf(dot.getA()))) && plan.mma.getWarpsPerCTA()[1] == 1 &&
        plan.kWidth == 2) {
      require(dot.getAMutable(), DotOperandAttr::get(context, 0, plan.mma, plan.kWidth));
      a = dot.getA();
    } else {
      a = allocate(dot.getA(), plan.sharedA);
    }
    if (plan.sharedB) {
      b = allocate(dot.getB(), plan.sharedB);
    } else {
      require(dot.getBMutable(), DotOperandAttr::get(context, 1, plan.mma, plan.kWidth));
      b = dot.getB();
    }
    Type resultType = dot.getAcc().getType();
    auto issue = WarpGroupDotOp::create(builder, loc, resultType, a, b, dot.getAcc(),
                                        dot.getInputPrecisionAttr());
    auto wait = WarpGroupDotWaitOp::create(builder, loc, resultType, issue.getResult(),
                                           builder.getI32IntegerAttr(0), ValueRange());
    dot.getResult().replaceAllUsesWith(wait.getResult());
    dot.erase();
  }

  void assignFor(scf::ForOp loop) {
    Operation *terminator = loop.getBody()->getTerminator();
    for (auto [i, init, arg, result] : llvm::enumerate(
             loop.getInitArgs(), loop.getRegionIterArgs(), loop.getResults())) {
      Attribute layout = layoutOf(init);
      // An accumulator carried around a dot lives in the dot's layout for the whole loop.
      if (auto dot = terminator->getOperand(i).getDefiningOp<tile::DotOp>()) {
        layout = dotResultLayout(dot);
        require(loop.getInitArgsMutable()[i], layout);
      }
      if (layout) {
        setLayout(arg, layout);
        setLayout(result, layout);
      }
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
      // Values from the tensor cores are stored in 16-byte runs after a warp-local exchange
      // where the layout allows, otherwise from their registers; the pointers are recomputed
      // to match.
      Attribute layout = layoutOf(store.getValue());
      if (auto mma = dyn_cast_or_null<MmaAttr>(layout)) {
        auto type = cast<RankedTensorType>(store.getValue().getType());
        if (BlockedAttr wide = getWarpLocalStoreLayout(
                mma, type.getShape(), std::max(1u, type.getElementTypeBitWidth() / 8)))
          layout = wide;
      } else {
        layout = layoutOf(store.getPtr());
      }
      if (layout)
        requireAllTensors(op, layout);
      return;
    }
    if (auto dot = dyn_cast<tile::DotOp>(op))
      return assignDot(dot);
    if (auto reduce = dyn_cast<tile::ReduceOp>(op)) {
      Attribute layout = layoutOf(reduce.getSrcs().front());
      auto srcType = cast<RankedTensorType>(reduce.getSrcs().front().getType());
      // Dot results reduce where the tensor cores left them (a row's lanes are a quad).
      Attribute root = getRootLayout(layout);
      if (!getAxisThreads(root, getRootShape(layout, srcType.getShape()), 0))
        layout = defaultLayout(srcType);
      requireAllTensors(op, layout);
      for (Value result : reduce.getResults())
        if (isa<RankedTensorType>(result.getType()))
          setLayout(result, SliceAttr::get(context, reduce.getAxis(), layout));
      return;
    }
    if (isa<tile::PrintOp>(op)) {
      // One layout for every printed block: each thread prints the elements it holds of each.
      for (Value value : op->getOperands())
        if (Attribute layout = layoutOf(value))
          return requireAllTensors(op, layout);
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
            .Case<tile::AtomicRMWOp, tile::AtomicCASOp>([&](Operation *) {
              // The lowering applies each element from the first of its copies, which it
              // finds in blocked layouts and slices of them.
              Attribute layout = layoutOf(op->getOperand(0));
              if (!isa<BlockedAttr>(getRootLayout(layout)))
                layout = defaultLayout(resultType);
              requireAllTensors(op, layout);
              return layout;
            })
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
              if (isa<BlockedAttr, MmaAttr>(layout))
                return layout;
              Attribute blocked = defaultLayout(resultType);
              require(broadcast.getSrcMutable(), blocked);
              return blocked;
            })
            .Case([&](tile::TransOp trans) -> Attribute {
              // The source's threads keep their elements: the layout's dimensions permute.
              auto blocked = dyn_cast<BlockedAttr>(layoutOf(trans.getSrc()));
              if (!blocked)
                return defaultLayout(resultType);
              ArrayRef<int32_t> order = trans.getOrder();
              SmallVector<unsigned> spt, tpw, wpc, inverse(order.size()), fastest;
              for (auto [i, d] : llvm::enumerate(order)) {
                spt.push_back(blocked.getSizePerThread()[d]);
                tpw.push_back(blocked.getThreadsPerWarp()[d]);
                wpc.push_back(blocked.getWarpsPerCTA()[d]);
                inverse[d] = i;
              }
              for (unsigned d : blocked.getOrder())
                fastest.push_back(inverse[d]);
              return BlockedAttr::get(context, spt, tpw, wpc, fastest);
            })
            .Case<tile::ReshapeOp, tile::SplatOp, tile::MakeRangeOp>(
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
  // The shared-memory copy of each block a wgmma reads, by value and layout: one load feeding
  // two dots (dQ reads K as K^T and as K) stays one store, one stream for the pipeliner.
  DenseMap<std::pair<Value, Attribute>, Value> storedOperands;
  unsigned numWarps;
  bool hasWgmma;
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
    // There is no debugger on a GPU: breakpoints stop host programs only.
    module.walk([](tile::BreakpointOp breakpoint) { breakpoint.erase(); });
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

    bool hasWgmma = target == "sm_90a";
    LayoutAssigner assigner(&getContext(), numWarps, hasWgmma, std::move(vectorWidths));
    for (auto func : module.getOps<func::FuncOp>())
      for (Block &block : func.getBody())
        assigner.assignBlock(block);
    module->setAttr(kNumWarpsAttr,
                    IntegerAttr::get(IntegerType::get(&getContext(), 32), numWarps));
  }
};

} // namespace
