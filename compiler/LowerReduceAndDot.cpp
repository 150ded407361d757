// tile.reduce (blocked layouts, and the mma layouts of dot results): combine in registers, then
// across lanes with butterfly shuffles, then across warps through shared memory.
// tile.dot (the portable path): operands staged in shared memory,
// each thread accumulating its own elements of the result with FMAs in a loop over K.
#include "compiler/LoweringUtils.h"

#include "dialects/tile/TileDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include <map>

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

struct ReduceLowering : public OpConversionPattern<tile::ReduceOp> {
  ReduceLowering(TileTypeConverter &converter, LoweringState &state)
      : OpConversionPattern(converter, &converter.getContext()), state(state) {}

  // Applies the combiner region to (lhs..., rhs...).
  static SmallVector<Value> combine(ConversionPatternRewriter &rewriter, tile::ReduceOp op,
                                    ArrayRef<Value> lhs, ArrayRef<Value> rhs) {
    Block &body = op.getCombiner().front();
    IRMapping mapping;
    for (auto [i, value] : llvm::enumerate(llvm::concat<const Value>(lhs, rhs)))
      mapping.map(body.getArgument(i), value);
    for (Operation &inner : body.without_terminator())
      rewriter.clone(inner, mapping);
    SmallVector<Value> results;
    for (Value result : body.getTerminator()->getOperands())
      results.push_back(mapping.lookupOrDefault(result));
    return results;
  }

  // Whether the combiner is one max or min. These are exact, so the order in which elements
  // combine does not change the result (beyond which of two equal zeros wins).
  static bool isExtremum(tile::ReduceOp op) {
    Block &body = op.getCombiner().front();
    if (!llvm::hasSingleElement(body.without_terminator()))
      return false;
    return isa<arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp, arith::MinNumFOp,
               arith::MaxSIOp, arith::MinSIOp, arith::MaxUIOp, arith::MinUIOp>(body.front());
  }

  // Combines `values` in order: a running accumulator, or, for an extremum, a balanced tree of
  // neighbours, whose dependent chain is log2 as deep. A sum keeps its running order, in which
  // LLVM contracts products into fused multiply-adds.
  static SmallVector<Value> combineAll(ConversionPatternRewriter &rewriter, tile::ReduceOp op,
                                       SmallVector<SmallVector<Value>> values) {
    if (!isExtremum(op)) {
      SmallVector<Value> accumulator = values.front();
      for (auto &value : llvm::drop_begin(values))
        accumulator = combine(rewriter, op, accumulator, value);
      return accumulator;
    }
    while (values.size() > 1) {
      SmallVector<SmallVector<Value>> next;
      for (size_t i = 0; i + 1 < values.size(); i += 2)
        next.push_back(combine(rewriter, op, values[i], values[i + 1]));
      if (values.size() % 2)
        next.push_back(values.back());
      values = std::move(next);
    }
    return values.front();
  }

  LogicalResult matchAndRewrite(tile::ReduceOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = cast<RankedTensorType>(op.getSrcs().front().getType());
    Attribute layout = srcType.getEncoding();
    unsigned axis = op.getAxis();
    unsigned numOperands = op.getSrcs().size();

    // Group this thread's elements by their coordinate off the axis.
    auto offsets = getElementOffsets(layout, srcType.getShape());
    SmallVector<SmallVector<Value>> operandElements;
    for (Value packed : adaptor.getSrcs())
      operandElements.push_back(unpack(rewriter, loc, packed));
    std::map<SmallVector<int64_t>, unsigned> groupOf;
    SmallVector<SmallVector<int64_t>> groupKeys;
    SmallVector<unsigned> groupFirstElement;
    SmallVector<SmallVector<SmallVector<Value>>> groupElements; // [group][element][operand]
    for (auto [i, offset] : llvm::enumerate(offsets)) {
      SmallVector<int64_t> key(offset);
      key.erase(key.begin() + axis);
      SmallVector<Value> element;
      for (auto &elements : operandElements)
        element.push_back(elements[i]);
      auto [it, inserted] = groupOf.try_emplace(key, groupKeys.size());
      if (inserted) {
        groupKeys.push_back(key);
        groupFirstElement.push_back(i);
        groupElements.emplace_back();
      }
      groupElements[it->second].push_back(element);
    }
    SmallVector<SmallVector<Value>> accumulators; // [group][operand]
    for (auto &elements : groupElements)
      accumulators.push_back(combineAll(rewriter, op, std::move(elements)));

    // Across the lanes that hold distinct coordinates along the axis.
    SmallVector<unsigned> sliced = getSlicedDims(layout);
    SmallVector<unsigned> remaining;
    for (unsigned d = 0, rank = getRootRank(layout); d < rank; ++d)
      if (!llvm::is_contained(sliced, d))
        remaining.push_back(d);
    unsigned rootAxis = remaining[axis];
    SmallVector<int64_t> rootShape = getRootShape(layout, srcType.getShape());
    std::optional<AxisThreads> threads =
        getAxisThreads(getRootLayout(layout), rootShape, rootAxis);
    if (!threads)
      return rewriter.notifyMatchFailure(op, "a layout the reduction cannot walk");
    for (unsigned step = 1; step < threads->lanes; step *= 2)
      for (auto &accumulator : accumulators) {
        SmallVector<Value> partner;
        for (Value value : accumulator)
          partner.push_back(emitShuffleXor(rewriter, loc, value, step * threads->laneStride));
        accumulator = combine(rewriter, op, accumulator, partner);
      }

    // Across warps, through shared memory: slot [result index][warp along the axis].
    unsigned warps = threads->warps;
    if (warps > 1) {
      SmallVector<int64_t> resultShape(srcType.getShape());
      resultShape.erase(resultShape.begin() + axis);
      int64_t resultCount = 1;
      for (int64_t size : resultShape)
        resultCount *= size;
      SmallVector<int64_t> regionOffset;
      int64_t bytes = 0;
      for (Value value : accumulators.front()) {
        regionOffset.push_back(bytes);
        bytes += llvm::alignTo(resultCount * warps * storageBytes(value.getType()), 16);
      }
      state.reserveShared(bytes);

      auto [lane, warp] = emitLaneAndWarp(rewriter, loc);
      Value warpCoord = emitThreadCoordinate(rewriter, loc, warp, threads->warpStride, warps);
      SmallVector<SmallVector<Value>> coords = emitCoordinates(rewriter, loc, srcType);
      SmallVector<Value> resultIndex;
      for (unsigned g = 0; g < groupKeys.size(); ++g) {
        SmallVector<Value> coord(coords[groupFirstElement[g]]);
        coord.erase(coord.begin() + axis);
        resultIndex.push_back(resultShape.empty()
                                  ? constI32(rewriter, loc, 0)
                                  : emitLinearIndex(rewriter, loc, coord, resultShape));
      }
      auto slot = [&](Value index, Value warpIndex) {
        Value scaled = LLVM::MulOp::create(rewriter, loc, index, constI32(rewriter, loc, warps));
        return LLVM::AddOp::create(rewriter, loc, scaled, warpIndex);
      };
      // After the shuffles every lane along the axis holds its warp's partials: the first
      // stores them.
      Value firstLaneOnAxis;
      if (threads->lanes > 1)
        firstLaneOnAxis = LLVM::ICmpOp::create(
            rewriter, loc, LLVM::ICmpPredicate::eq,
            emitThreadCoordinate(rewriter, loc, lane, threads->laneStride, threads->lanes),
            constI32(rewriter, loc, 0));
      emitBarrier(rewriter, loc);
      emitByFirstCopies(
          rewriter, loc, srcType,
          [&] {
            for (unsigned g = 0; g < groupKeys.size(); ++g)
              for (auto [k, value] : llvm::enumerate(accumulators[g])) {
                Value address = emitSharedAddress(rewriter, loc, op, state, value.getType(),
                                                  slot(resultIndex[g], warpCoord), regionOffset[k]);
                LLVM::StoreOp::create(rewriter, loc, toSharedStorage(rewriter, loc, value),
                                      address);
              }
          },
          firstLaneOnAxis);
      emitBarrier(rewriter, loc);
      for (unsigned g = 0; g < groupKeys.size(); ++g) {
        SmallVector<SmallVector<Value>> partials;
        for (unsigned w = 0; w < warps; ++w) {
          SmallVector<Value> partial;
          for (auto [k, value] : llvm::enumerate(accumulators[g])) {
            Type type = value.getType();
            Value address =
                emitSharedAddress(rewriter, loc, op, state, type,
                                  slot(resultIndex[g], constI32(rewriter, loc, w)),
                                  regionOffset[k]);
            Value stored = LLVM::LoadOp::create(rewriter, loc, sharedStorageType(type), address);
            partial.push_back(fromSharedStorage(rewriter, loc, stored, type));
          }
          partials.push_back(partial);
        }
        accumulators[g] = combineAll(rewriter, op, std::move(partials));
      }
    }

    // Results: scalars for a rank-1 input, else blocks in the slice layout.
    SmallVector<Value> results;
    for (unsigned k = 0; k < numOperands; ++k) {
      Type resultType = op.getResult(k).getType();
      auto tensorType = dyn_cast<RankedTensorType>(resultType);
      if (!tensorType) {
        results.push_back(accumulators.front()[k]);
        continue;
      }
      SmallVector<Value> elements;
      for (ArrayRef<int64_t> offset :
           getElementOffsets(tensorType.getEncoding(), tensorType.getShape())) {
        auto it = groupOf.find(SmallVector<int64_t>(offset));
        if (it == groupOf.end())
          return rewriter.notifyMatchFailure(op, "result element without a group");
        elements.push_back(accumulators[it->second][k]);
      }
      results.push_back(
          pack(rewriter, loc, getTypeConverter()->convertType(tensorType), elements));
    }
    rewriter.replaceOp(op, results);
    return success();
  }

  LoweringState &state;
};

struct DotLowering : public OpConversionPattern<tile::DotOp> {
  DotLowering(TileTypeConverter &converter, LoweringState &state)
      : OpConversionPattern(converter, &converter.getContext()), state(state) {}

  LogicalResult matchAndRewrite(tile::DotOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType aType = op.getA().getType(), bType = op.getB().getType(),
                     accType = op.getAcc().getType();
    if (!isa<BlockedAttr>(accType.getEncoding()))
      return rewriter.notifyMatchFailure(op, "a tensor-core dot");
    int64_t m = aType.getDimSize(0), k = aType.getDimSize(1), n = bType.getDimSize(1);
    Type inType = getTypeConverter()->convertType(aType.getElementType());
    Type accElement = getTypeConverter()->convertType(accType.getElementType());
    int64_t inBytes = storageBytes(inType);
    int64_t bOffset = llvm::alignTo(m * k * inBytes, 16);
    state.reserveShared(bOffset + k * n * inBytes);

    // Stage a (row-major m x k) and b (row-major k x n) in shared memory.
    emitBarrier(rewriter, loc);
    auto stage = [&](Value packed, RankedTensorType type, int64_t byteOffset) {
      SmallVector<Value> values = unpack(rewriter, loc, packed);
      SmallVector<SmallVector<Value>> coords = emitCoordinates(rewriter, loc, type);
      emitByFirstCopies(rewriter, loc, type, [&] {
        for (auto [value, coord] : llvm::zip(values, coords)) {
          Value index = emitLinearIndex(rewriter, loc, coord, type.getShape());
          LLVM::StoreOp::create(
              rewriter, loc, value,
              emitSharedAddress(rewriter, loc, op, state, inType, index, byteOffset));
        }
      });
    };
    stage(adaptor.getA(), aType, 0);
    stage(adaptor.getB(), bType, bOffset);
    emitBarrier(rewriter, loc);

    SmallVector<Value> accumulators = unpack(rewriter, loc, adaptor.getAcc());
    SmallVector<SmallVector<Value>> coords = emitCoordinates(rewriter, loc, accType);
    auto offsets = getElementOffsets(accType.getEncoding(), accType.getShape());
    Value lower = constI32(rewriter, loc, 0), upper = constI32(rewriter, loc, k),
          step = constI32(rewriter, loc, 1);
    auto loop = scf::ForOp::create(
        rewriter, loc, lower, upper, step, accumulators,
        [&](OpBuilder &builder, Location loc, Value kIndex, ValueRange carried) {
          // Each distinct row of a and column of b this thread needs, loaded once per k.
          std::map<int64_t, Value> rowValue, columnValue;
          auto operand = [&](Value index, int64_t byteOffset) {
            Value stored = LLVM::LoadOp::create(
                builder, loc, inType,
                emitSharedAddress(builder, loc, op, state, inType, index, byteOffset));
            if (isa<FloatType>(accElement) && inType != accElement)
              return Value(LLVM::FPExtOp::create(builder, loc, accElement, stored));
            if (isa<IntegerType>(accElement) && inType != accElement)
              return Value(LLVM::SExtOp::create(builder, loc, accElement, stored));
            return stored;
          };
          SmallVector<Value> updated;
          for (auto [i, value] : llvm::enumerate(carried)) {
            Value &a = rowValue[offsets[i][0]];
            if (!a) {
              Value index = LLVM::AddOp::create(
                  builder, loc,
                  LLVM::MulOp::create(builder, loc, coords[i][0], constI32(builder, loc, k)),
                  kIndex);
              a = operand(index, 0);
            }
            Value &b = columnValue[offsets[i][1]];
            if (!b) {
              Value index = LLVM::AddOp::create(
                  builder, loc,
                  LLVM::MulOp::create(builder, loc, kIndex, constI32(builder, loc, n)),
                  coords[i][1]);
              b = operand(index, bOffset);
            }
            if (isa<FloatType>(accElement))
              updated.push_back(LLVM::FMAOp::create(builder, loc, a, b, value));
            else
              updated.push_back(LLVM::AddOp::create(builder, loc, value,
                                                    LLVM::MulOp::create(builder, loc, a, b)));
          }
          scf::YieldOp::create(builder, loc, updated);
        });
    SmallVector<Value> results(loop.getResults());
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(accType), results));
    return success();
  }

  LoweringState &state;
};

} // namespace

void mlir::tessera::populateReduceAndDotPatterns(TileTypeConverter &converter,
                                                 RewritePatternSet &patterns,
                                                 LoweringState &state) {
  patterns.add<ReduceLowering, DotLowering>(converter, state);
}
