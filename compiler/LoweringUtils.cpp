#include "compiler/LoweringUtils.h"

#include "dialects/tile/TileDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

static constexpr StringLiteral kSharedMemorySymbol = "tessera_smem";

TileTypeConverter::TileTypeConverter(MLIRContext *context) : LLVMTypeConverter(context) {
  addConversion([context](tile::PointerType) {
    return LLVM::LLVMPointerType::get(context, /*addressSpace=*/1);
  });
  addConversion([context](MemDescType) {
    return LLVM::LLVMPointerType::get(context, /*addressSpace=*/3);
  });
  addConversion([context](MBarriersType) {
    return LLVM::LLVMPointerType::get(context, /*addressSpace=*/3);
  });
  // A tensor map parameter is passed by value; the kernel sees its (generic) address.
  addConversion([context](tile::TensorMapType) { return LLVM::LLVMPointerType::get(context); });
  addConversion([this](RankedTensorType type) -> std::optional<Type> {
    if (!type.getEncoding())
      return std::nullopt;
    Type element = convertType(type.getElementType());
    SmallVector<Type> fields(getElementsPerThread(type), element);
    return LLVM::LLVMStructType::getLiteral(type.getContext(), fields);
  });
}

Value mlir::tessera::constI32(OpBuilder &builder, Location loc, int64_t value) {
  return LLVM::ConstantOp::create(builder, loc, builder.getI32Type(),
                                  builder.getI32IntegerAttr(value));
}

SmallVector<Value> mlir::tessera::unpack(OpBuilder &builder, Location loc, Value packed) {
  auto structType = dyn_cast<LLVM::LLVMStructType>(packed.getType());
  if (!structType)
    return {packed};
  SmallVector<Value> elements;
  for (int64_t i = 0, e = structType.getBody().size(); i < e; ++i)
    elements.push_back(LLVM::ExtractValueOp::create(builder, loc, packed, i));
  return elements;
}

Value mlir::tessera::pack(OpBuilder &builder, Location loc, Type structType,
                          ArrayRef<Value> elements) {
  if (!isa<LLVM::LLVMStructType>(structType))
    return elements.front();
  Value packed = LLVM::PoisonOp::create(builder, loc, structType);
  for (auto [i, element] : llvm::enumerate(elements))
    packed = LLVM::InsertValueOp::create(builder, loc, packed, element, i);
  return packed;
}

std::pair<Value, Value> mlir::tessera::emitLaneAndWarp(OpBuilder &builder, Location loc) {
  Value tid = NVVM::ThreadIdXOp::create(builder, loc, builder.getI32Type());
  Value lane = LLVM::AndOp::create(builder, loc, tid, constI32(builder, loc, 31));
  // Lane 0's warp index, through a shuffle: ptxas then knows it is the same in every lane and
  // keeps what derives from it (wgmma descriptors, shared addresses) in uniform registers. The
  // shuffle goes at the kernel's entry, where it runs once (it cannot be hoisted out of loops).
  OpBuilder::InsertionGuard guard(builder);
  Region *region = builder.getInsertionBlock()->getParent();
  while (!isa<ModuleOp>(region->getParentOp()->getParentOp()))
    region = region->getParentOp()->getParentRegion();
  builder.setInsertionPointToStart(&region->front());
  Value entryTid = NVVM::ThreadIdXOp::create(builder, loc, builder.getI32Type());
  Value warp = NVVM::ShflOp::create(
      builder, loc, builder.getI32Type(), constI32(builder, loc, -1),
      LLVM::LShrOp::create(builder, loc, entryTid, constI32(builder, loc, 5)),
      constI32(builder, loc, 0), constI32(builder, loc, 0x1f), NVVM::ShflKind::idx, UnitAttr());
  return {lane, warp};
}

// The coordinate, per root dimension, of a thread's first element: see getThreadBaseFactors
// (blocked) and getMmaTile (mma, dot_op).
static SmallVector<Value> emitThreadBase(OpBuilder &builder, Location loc, Attribute root) {
  auto [lane, warp] = emitLaneAndWarp(builder, loc);
  auto c = [&](int64_t value) { return constI32(builder, loc, value); };
  auto div = [&](Value x, int64_t d) { return LLVM::UDivOp::create(builder, loc, x, c(d)); };
  auto rem = [&](Value x, int64_t d) { return LLVM::URemOp::create(builder, loc, x, c(d)); };
  auto mul = [&](Value x, int64_t d) { return LLVM::MulOp::create(builder, loc, x, c(d)); };
  auto add = [&](Value x, Value y) { return LLVM::AddOp::create(builder, loc, x, y); };
  if (auto blocked = dyn_cast<BlockedAttr>(root)) {
    ThreadBaseFactors factors = getThreadBaseFactors(blocked);
    SmallVector<Value> base;
    for (unsigned d = 0, rank = blocked.getOrder().size(); d < rank; ++d) {
      unsigned spt = blocked.getSizePerThread()[d], tpw = blocked.getThreadsPerWarp()[d],
               wpc = blocked.getWarpsPerCTA()[d];
      Value laneCoord = rem(div(lane, factors.laneStride[d]), tpw);
      Value warpCoord = rem(div(warp, factors.warpStride[d]), wpc);
      base.push_back(add(mul(laneCoord, spt), mul(warpCoord, spt * tpw)));
    }
    return base;
  }
  if (Attribute plain = getUntransposedLayout(root)) {
    SmallVector<Value> base = emitThreadBase(builder, loc, plain);
    return {base[1], base[0]};
  }
  MmaTile tile = getMmaTile(root);
  Value warpM = rem(warp, tile.warpsM), warpN = rem(div(warp, tile.warpsM), tile.warpsN);
  Value group = div(lane, 4), inGroup = rem(lane, 4);
  if (auto mma = dyn_cast<MmaAttr>(root))
    return {add(mul(warpM, 16), group),
            add(mul(warpN, mma.getInstrN()), mul(inGroup, 2))};
  auto operand = cast<DotOperandAttr>(root);
  Value kBase = mul(inGroup, operand.getKWidth());
  if (operand.getOpIdx() == 0)
    return {add(mul(warpM, 16), group), kBase};
  return {kBase, add(mul(warpN, 8), group)};
}

SmallVector<SmallVector<Value>> mlir::tessera::emitCoordinates(OpBuilder &builder, Location loc,
                                                               RankedTensorType type) {
  Attribute layout = type.getEncoding();
  SmallVector<unsigned> sliced = getSlicedDims(layout);
  SmallVector<Value> rootBase = emitThreadBase(builder, loc, getRootLayout(layout));
  // The thread's base coordinate along each dimension of the tensor (root dims minus slices).
  SmallVector<Value> base;
  for (auto [d, value] : llvm::enumerate(rootBase))
    if (!llvm::is_contained(sliced, d))
      base.push_back(value);
  SmallVector<SmallVector<Value>> coords;
  for (ArrayRef<int64_t> offsets : getElementOffsets(layout, type.getShape())) {
    SmallVector<Value> coord;
    for (auto [d, offset] : llvm::enumerate(offsets)) {
      Value sum = LLVM::AddOp::create(builder, loc, base[d], constI32(builder, loc, offset));
      coord.push_back(
          LLVM::AndOp::create(builder, loc, sum, constI32(builder, loc, type.getDimSize(d) - 1)));
    }
    coords.push_back(coord);
  }
  return coords;
}

Value mlir::tessera::emitLinearIndex(OpBuilder &builder, Location loc, ArrayRef<Value> coords,
                                     ArrayRef<int64_t> shape, int64_t rowPadding) {
  Value index = constI32(builder, loc, 0);
  int64_t stride = 1;
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    Value term = LLVM::MulOp::create(builder, loc, coords[d], constI32(builder, loc, stride));
    index = LLVM::AddOp::create(builder, loc, index, term);
    stride = d == int64_t(shape.size()) - 1 ? shape[d] + rowPadding : stride * shape[d];
  }
  return index;
}

FailureOr<Value> mlir::tessera::emitAllocatedAddress(OpBuilder &builder, Location loc,
                                                     Operation *op) {
  auto offset = op->getAttrOfType<IntegerAttr>(kAllocOffsetAttr);
  if (!offset)
    return failure();
  Value base = emitSharedBase(builder, loc, op);
  return LLVM::GEPOp::create(builder, loc, base.getType(), builder.getI8Type(), base,
                             ArrayRef<LLVM::GEPArg>{LLVM::GEPArg(int32_t(offset.getInt()))})
      .getResult();
}

Value mlir::tessera::emitSharedBase(OpBuilder &builder, Location loc, Operation *anchor) {
  auto module = anchor->getParentOfType<ModuleOp>();
  MLIRContext *context = module.getContext();
  if (!module.lookupSymbol(kSharedMemorySymbol)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    auto arrayType = LLVM::LLVMArrayType::get(IntegerType::get(context, 8), 0);
    LLVM::GlobalOp::create(builder, loc, arrayType, /*isConstant=*/false,
                           LLVM::Linkage::External, kSharedMemorySymbol, Attribute(),
                           /*alignment=*/1024, /*addrSpace=*/3);
  }
  return LLVM::AddressOfOp::create(builder, loc, LLVM::LLVMPointerType::get(context, 3),
                                   kSharedMemorySymbol);
}

Type mlir::tessera::sharedStorageType(Type elementType) {
  if (elementType.isInteger(1))
    return IntegerType::get(elementType.getContext(), 8);
  return elementType;
}

int64_t mlir::tessera::storageBytes(Type elementType) {
  if (isa<LLVM::LLVMPointerType, tile::PointerType>(elementType))
    return 8;
  return std::max<int64_t>(1, elementType.getIntOrFloatBitWidth() / 8);
}

Value mlir::tessera::toSharedStorage(OpBuilder &builder, Location loc, Value value) {
  if (value.getType().isInteger(1))
    return LLVM::ZExtOp::create(builder, loc, builder.getI8Type(), value);
  return value;
}

Value mlir::tessera::fromSharedStorage(OpBuilder &builder, Location loc, Value stored,
                                       Type elementType) {
  if (elementType.isInteger(1))
    return LLVM::TruncOp::create(builder, loc, builder.getI1Type(), stored);
  return stored;
}

Value mlir::tessera::emitSharedAddress(OpBuilder &builder, Location loc, Operation *anchor,
                                       const LoweringState &state, Type elementType, Value index,
                                       int64_t byteOffset) {
  Value base = emitSharedBase(builder, loc, anchor);
  auto ptrType = LLVM::LLVMPointerType::get(builder.getContext(), 3);
  byteOffset += state.scratchBase;
  if (byteOffset)
    base = LLVM::GEPOp::create(builder, loc, ptrType, builder.getI8Type(), base,
                               ArrayRef<LLVM::GEPArg>{LLVM::GEPArg(int32_t(byteOffset))});
  return LLVM::GEPOp::create(builder, loc, ptrType, sharedStorageType(elementType), base,
                             ArrayRef<LLVM::GEPArg>{LLVM::GEPArg(index)});
}

void mlir::tessera::emitAsyncProxyFence(OpBuilder &builder, Location loc) {
  NVVM::FenceProxyOp::create(
      builder, loc, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(builder.getContext(), NVVM::SharedSpace::shared_cta));
}

void mlir::tessera::emitBarrier(OpBuilder &builder, Location loc) {
  NVVM::Barrier0Op::create(builder, loc);
}

void mlir::tessera::emitSideEffectAsm(OpBuilder &builder, Location loc, StringRef body,
                                      StringRef constraints, ValueRange operands) {
  LLVM::InlineAsmOp::create(builder, loc, Type(), operands, builder.getStringAttr(body),
                            builder.getStringAttr(constraints), builder.getUnitAttr(),
                            UnitAttr(), LLVM::TailCallKindAttr(), LLVM::AsmDialectAttr(),
                            ArrayAttr());
}

Value mlir::tessera::emitShuffleXor(OpBuilder &builder, Location loc, Value value,
                                    unsigned laneMask) {
  Type type = value.getType();
  Type i32 = builder.getI32Type();
  auto shuffle32 = [&](Value word) -> Value {
    return NVVM::ShflOp::create(builder, loc, i32, constI32(builder, loc, -1), word,
                                constI32(builder, loc, laneMask), constI32(builder, loc, 0x1f),
                                NVVM::ShflKind::bfly, UnitAttr());
  };
  if (isa<LLVM::LLVMPointerType>(type)) {
    Value asInt = LLVM::PtrToIntOp::create(builder, loc, builder.getI64Type(), value);
    return LLVM::IntToPtrOp::create(builder, loc, type,
                                    emitShuffleXor(builder, loc, asInt, laneMask));
  }
  unsigned bits = type.getIntOrFloatBitWidth();
  Type intType = builder.getIntegerType(bits);
  Value asInt = isa<FloatType>(type) ? LLVM::BitcastOp::create(builder, loc, intType, value)
                                     : value;
  Value shuffled;
  if (bits == 64) {
    Value low = LLVM::TruncOp::create(builder, loc, i32, asInt);
    Value high = LLVM::TruncOp::create(
        builder, loc, i32,
        LLVM::LShrOp::create(builder, loc, asInt,
                             LLVM::ConstantOp::create(builder, loc, builder.getI64Type(),
                                                      builder.getI64IntegerAttr(32))));
    Value lowOut = LLVM::ZExtOp::create(builder, loc, intType, shuffle32(low));
    Value highOut = LLVM::ShlOp::create(
        builder, loc, LLVM::ZExtOp::create(builder, loc, intType, shuffle32(high)),
        LLVM::ConstantOp::create(builder, loc, builder.getI64Type(),
                                 builder.getI64IntegerAttr(32)));
    shuffled = LLVM::OrOp::create(builder, loc, lowOut, highOut);
  } else if (bits == 32) {
    shuffled = shuffle32(asInt);
  } else {
    Value wide = LLVM::ZExtOp::create(builder, loc, i32, asInt);
    shuffled = LLVM::TruncOp::create(builder, loc, intType, shuffle32(wide));
  }
  return isa<FloatType>(type) ? LLVM::BitcastOp::create(builder, loc, type, shuffled)
                              : shuffled;
}

Value mlir::tessera::emitThreadCoordinate(OpBuilder &builder, Location loc, Value index,
                                          unsigned stride, unsigned count) {
  Value quotient = LLVM::UDivOp::create(builder, loc, index, constI32(builder, loc, stride));
  return LLVM::URemOp::create(builder, loc, quotient, constI32(builder, loc, count));
}

Value mlir::tessera::emitAppliesElements(OpBuilder &builder, Location loc, RankedTensorType type) {
  auto [lane, warp] = emitLaneAndWarp(builder, loc);
  auto c = [&](int64_t value) { return constI32(builder, loc, value); };
  auto isZero = [&](Value x) {
    return LLVM::ICmpOp::create(builder, loc, LLVM::ICmpPredicate::eq, x, c(0));
  };
  if (!type)
    return LLVM::AndOp::create(builder, loc, isZero(lane), isZero(warp));
  BlockedAttr root = getRootBlocked(type.getEncoding());
  SmallVector<int64_t> rootShape = getRootShape(type.getEncoding(), type.getShape());
  ThreadBaseFactors factors = getThreadBaseFactors(root);
  Value applies = LLVM::ConstantOp::create(builder, loc, builder.getI1Type(), 1);
  // Coordinate `(index / stride) mod count` must be below `distinct`, the copies' period.
  auto firstCopy = [&](Value index, unsigned stride, unsigned count, unsigned distinct) {
    if (distinct == count)
      return;
    Value coordinate = emitThreadCoordinate(builder, loc, index, stride, count);
    applies = LLVM::AndOp::create(
        builder, loc, applies,
        LLVM::ICmpOp::create(builder, loc, LLVM::ICmpPredicate::ult, coordinate, c(distinct)));
  };
  for (unsigned d = 0; d < rootShape.size(); ++d) {
    firstCopy(lane, factors.laneStride[d], root.getThreadsPerWarp()[d],
              getDistinctLanes(root, rootShape, d));
    firstCopy(warp, factors.warpStride[d], root.getWarpsPerCTA()[d],
              getDistinctWarps(root, rootShape, d));
  }
  return applies;
}

bool mlir::tessera::repeatsOverThreads(RankedTensorType type) {
  auto root = dyn_cast<BlockedAttr>(getRootLayout(type.getEncoding()));
  if (!root)
    return false;
  SmallVector<int64_t> rootShape = getRootShape(type.getEncoding(), type.getShape());
  for (unsigned d = 0; d < rootShape.size(); ++d)
    if (getDistinctLanes(root, rootShape, d) < root.getThreadsPerWarp()[d] ||
        getDistinctWarps(root, rootShape, d) < root.getWarpsPerCTA()[d])
      return true;
  return false;
}

void mlir::tessera::emitByFirstCopies(OpBuilder &builder, Location loc, RankedTensorType type,
                                      function_ref<void()> emitStores, Value alsoRequired) {
  Value condition = alsoRequired;
  if (repeatsOverThreads(type)) {
    Value applies = emitAppliesElements(builder, loc, type);
    condition = condition ? LLVM::AndOp::create(builder, loc, applies, condition) : applies;
  }
  if (!condition) {
    emitStores();
    return;
  }
  auto firstCopy = scf::IfOp::create(builder, loc, condition, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(firstCopy.thenBlock()->getTerminator());
  emitStores();
}

Value mlir::tessera::exchangeThroughShared(
    ConversionPatternRewriter &rewriter, Location loc, Operation *anchor, Value packed,
    RankedTensorType srcType, RankedTensorType dstType, Type dstStructType,
    function_ref<Value(OpBuilder &, ArrayRef<Value>)> srcIndex,
    function_ref<Value(OpBuilder &, ArrayRef<Value>)> dstIndex, int64_t slots,
    LoweringState &state) {
  SmallVector<Value> values = unpack(rewriter, loc, packed);
  Type element = values.front().getType();
  state.reserveShared(slots * storageBytes(element));
  SmallVector<SmallVector<Value>> srcCoords = emitCoordinates(rewriter, loc, srcType);
  emitBarrier(rewriter, loc);
  emitByFirstCopies(rewriter, loc, srcType, [&] {
    for (auto [value, coords] : llvm::zip(values, srcCoords)) {
      Value address =
          emitSharedAddress(rewriter, loc, anchor, state, element, srcIndex(rewriter, coords), 0);
      LLVM::StoreOp::create(rewriter, loc, toSharedStorage(rewriter, loc, value), address);
    }
  });
  emitBarrier(rewriter, loc);
  SmallVector<Value> results;
  for (ArrayRef<Value> coords : emitCoordinates(rewriter, loc, dstType)) {
    Value address = emitSharedAddress(rewriter, loc, anchor, state, element,
                                      dstIndex(rewriter, coords), 0);
    Value stored = LLVM::LoadOp::create(rewriter, loc, sharedStorageType(element), address);
    results.push_back(fromSharedStorage(rewriter, loc, stored, element));
  }
  return pack(rewriter, loc, dstStructType, results);
}
