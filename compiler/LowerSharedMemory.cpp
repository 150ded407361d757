// Shared-memory blocks: allocation, stores from and loads into registers, ring indexing, and the
// cp.async copies that fill rings from global memory. A block's bytes follow its #tilegpu.shared
// layout (see getSharedByteOffset and swizzleSharedAddress). Also the warp-local exchange that
// takes tensor-core results to their store layout.
#include "compiler/LoweringUtils.h"
#include "compiler/Passes.h"

#include "dialects/tile/TileDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// Ring buffers start at multiples of 1024 bytes so that every buffer's swizzle atoms are aligned.
int64_t ringStride(MemDescType type) { return llvm::alignTo(type.getBufferBytes(), 1024); }

// The swizzled byte offset, within its buffer, of element `coord` of a 2-D block.
Value emitSharedOffset(OpBuilder &builder, Location loc, MemDescType type,
                       ArrayRef<Value> coord) {
  auto shared = cast<SharedAttr>(type.getEncoding());
  ArrayRef<int64_t> shape = type.getShape().take_back(2);
  int64_t bytes = storageBytes(type.getElementType());
  unsigned contiguous = shared.getOrder()[0], strided = shared.getOrder()[1];
  int64_t swizzle = shared.getSwizzleBytes(), runElements = swizzle / bytes;
  auto c = [&](int64_t value) { return constI32(builder, loc, value); };
  Value run = LLVM::LShrOp::create(builder, loc, coord[contiguous], c(llvm::Log2_64(runElements)));
  Value within = LLVM::AndOp::create(builder, loc, coord[contiguous], c(runElements - 1));
  Value linear = LLVM::AddOp::create(
      builder, loc,
      LLVM::AddOp::create(builder, loc,
                          LLVM::MulOp::create(builder, loc, run, c(shape[strided] * swizzle)),
                          LLVM::MulOp::create(builder, loc, coord[strided], c(swizzle))),
      LLVM::MulOp::create(builder, loc, within, c(bytes)));
  Value phase = LLVM::AndOp::create(builder, loc, LLVM::LShrOp::create(builder, loc, linear, c(7)),
                                    c(swizzle / 16 - 1));
  return LLVM::XOrOp::create(builder, loc, linear,
                             LLVM::ShlOp::create(builder, loc, phase, c(4)));
}

Value byteAddress(OpBuilder &builder, Location loc, Value base, Value offset) {
  return LLVM::GEPOp::create(builder, loc, base.getType(), builder.getI8Type(), base,
                             ArrayRef<LLVM::GEPArg>{LLVM::GEPArg(offset)});
}

// How many of a thread's consecutive elements of `type` lie next to each other along the shared
// layout's contiguous dimension (and so in one 16-byte chunk): the blocked layout's run along
// that dimension, capped at 16 bytes.
unsigned sharedRun(RankedTensorType type, int64_t bytes, SharedAttr shared) {
  auto blocked = dyn_cast<BlockedAttr>(type.getEncoding());
  unsigned contiguous = shared.getOrder()[0];
  if (!blocked || blocked.getOrder()[0] != contiguous)
    return 1;
  return std::max<int64_t>(1, std::min<int64_t>(blocked.getSizePerThread()[contiguous],
                                                16 / bytes));
}

struct LocalAllocLowering : public TilePattern<LocalAllocOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(LocalAllocOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    FailureOr<Value> allocated = emitAllocatedAddress(rewriter, loc, op);
    if (failed(allocated))
      return rewriter.notifyMatchFailure(op, "no shared-memory offset allocated");
    Value base = *allocated;
    if (adaptor.getSrc()) {
      auto type = cast<MemDescType>(op.getType());
      auto srcType = cast<RankedTensorType>(op.getSrc().getType());
      unsigned run = sharedRun(srcType, storageBytes(type.getElementType()),
                               cast<SharedAttr>(type.getEncoding()));
      SmallVector<Value> values = unpack(rewriter, loc, adaptor.getSrc());
      SmallVector<SmallVector<Value>> coords = emitCoordinates(rewriter, loc, srcType);
      // Earlier readers of this block (a previous loop iteration) are done after the barrier.
      emitBarrier(rewriter, loc);
      emitByFirstCopies(rewriter, loc, srcType, [&] {
        for (unsigned first = 0; first < values.size(); first += run) {
          Value address = byteAddress(rewriter, loc, base,
                                      emitSharedOffset(rewriter, loc, type, coords[first]));
          Value stored = values[first];
          if (run > 1) {
            auto vectorType = VectorType::get({int64_t(run)}, values[first].getType());
            stored = LLVM::PoisonOp::create(rewriter, loc, vectorType);
            for (unsigned i = 0; i < run; ++i)
              stored = LLVM::InsertElementOp::create(rewriter, loc, stored, values[first + i],
                                                     constI32(rewriter, loc, i));
          }
          LLVM::StoreOp::create(rewriter, loc, stored, address);
        }
      });
      // wgmma reads shared memory through the async proxy.
      if (state.hasAsyncProxyReaders)
        emitAsyncProxyFence(rewriter, loc);
      emitBarrier(rewriter, loc);
    }
    rewriter.replaceOp(op, base);
    return success();
  }
};

struct MemDescIndexLowering : public TilePattern<MemDescIndexOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(MemDescIndexOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t stride = ringStride(cast<MemDescType>(op.getType()));
    Value offset =
        LLVM::MulOp::create(rewriter, loc, adaptor.getIndex(), constI32(rewriter, loc, stride));
    rewriter.replaceOp(op, byteAddress(rewriter, loc, adaptor.getSrc(), offset));
    return success();
  }
};

// The transposed view has the same address.
struct MemDescTransLowering : public TilePattern<MemDescTransOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(MemDescTransOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getSrc());
    return success();
  }
};

struct LocalLoadLowering : public TilePattern<LocalLoadOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(LocalLoadOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<MemDescType>(op.getSrc().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    Type element = getTypeConverter()->convertType(resultType.getElementType());
    SmallVector<Value> values;
    for (ArrayRef<Value> coord : emitCoordinates(rewriter, loc, resultType)) {
      Value address = byteAddress(rewriter, loc, adaptor.getSrc(),
                                  emitSharedOffset(rewriter, loc, type, coord));
      values.push_back(LLVM::LoadOp::create(rewriter, loc, element, address));
    }
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(resultType),
                                values));
    return success();
  }
};

struct AsyncCopyLowering : public TilePattern<AsyncCopyOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncCopyOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<MemDescType>(op.getDst().getType());
    auto ptrType = cast<RankedTensorType>(op.getPtr().getType());
    int64_t bytes = storageBytes(type.getElementType());
    unsigned run = sharedRun(ptrType, bytes, cast<SharedAttr>(type.getEncoding()));
    run = std::min<unsigned>(run, state.axisInfo->getVectorWidth(op.getPtr()));
    if (op.getMask())
      run = std::min<unsigned>(run, state.axisInfo->getMaskConstancy(op.getMask()));
    int64_t copyBytes = run * bytes;
    if (copyBytes < 4)
      return op.emitOpError("cp.async needs runs of at least 4 bytes, the pointers give ")
             << copyBytes;
    SmallVector<Value> ptrs = unpack(rewriter, loc, adaptor.getPtr());
    SmallVector<Value> masks;
    if (adaptor.getMask())
      masks = unpack(rewriter, loc, adaptor.getMask());
    SmallVector<SmallVector<Value>> coords = emitCoordinates(rewriter, loc, ptrType);
    auto modifier = NVVM::LoadCacheModifierKindAttr::get(
        getContext(), copyBytes == 16 ? NVVM::LoadCacheModifierKind::CG
                                      : NVVM::LoadCacheModifierKind::CA);
    for (unsigned first = 0; first < ptrs.size(); first += run) {
      Value address = byteAddress(rewriter, loc, adaptor.getDst(),
                                  emitSharedOffset(rewriter, loc, type, coords[first]));
      // A masked-off run reads nothing and writes zeros.
      Value sourceBytes;
      if (!masks.empty())
        sourceBytes = LLVM::SelectOp::create(rewriter, loc, masks[first],
                                             constI32(rewriter, loc, copyBytes),
                                             constI32(rewriter, loc, 0));
      NVVM::CpAsyncOp::create(rewriter, loc, address, ptrs[first],
                              rewriter.getI32IntegerAttr(copyBytes), modifier, sourceBytes);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct AsyncCommitLowering : public TilePattern<AsyncCommitOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncCommitOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    NVVM::CpAsyncCommitGroupOp::create(rewriter, op.getLoc());
    rewriter.eraseOp(op);
    return success();
  }
};

struct BarrierLowering : public TilePattern<BarrierOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(BarrierOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    emitBarrier(rewriter, op.getLoc());
    rewriter.eraseOp(op);
    return success();
  }
};

struct AsyncWaitLowering : public TilePattern<AsyncWaitOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncWaitOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    NVVM::CpAsyncWaitGroupOp::create(rewriter, loc, op.getPending());
    emitBarrier(rewriter, loc);
    rewriter.eraseOp(op);
    return success();
  }
};

// A conversion from an mma layout to its warp-local store layout (getWarpLocalStoreLayout).
// Each warp holds the same rows in both, so it exchanges them alone, through its own 2 KiB of
// scratch: 16 rows x 128 bytes at a time, with 16-byte chunks XOR-swizzled by row so that both
// the 4-byte writes of the mma registers and the 16-byte reads are free of bank conflicts.
struct WarpLocalConvertLowering : public TilePattern<ConvertLayoutOp> {
  static constexpr int64_t kRows = 16, kRowBytes = 128, kWarpBytes = kRows * kRowBytes;

  WarpLocalConvertLowering(TileTypeConverter &converter, LoweringState &state)
      : TilePattern(converter, state, kBlockPatternBenefit + 1) {}

  LogicalResult matchAndRewrite(ConvertLayoutOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto srcType = cast<RankedTensorType>(op.getSrc().getType());
    auto dstType = cast<RankedTensorType>(op.getType());
    auto mma = dyn_cast<MmaAttr>(srcType.getEncoding());
    if (!mma || !srcType.getElementType().isIntOrFloat())
      return failure();
    int64_t bytes = storageBytes(srcType.getElementType());
    if (dstType.getEncoding() != getWarpLocalStoreLayout(mma, srcType.getShape(), bytes))
      return failure();
    Location loc = op.getLoc();
    auto module = op->getParentOfType<ModuleOp>();
    int64_t numWarps = module->getAttrOfType<IntegerAttr>(kNumWarpsAttr).getInt();
    state.reserveShared(numWarps * kWarpBytes);

    // Elements belong to chunks of the rows' 128-byte segments: (CTA-tile row repetition,
    // segment), read off the constant part of their coordinates.
    int64_t tileRows = getMmaTile(mma).rows, chunkCols = kRowBytes / bytes;
    auto chunkOf = [&](ArrayRef<int64_t> offset) {
      return std::make_pair(offset[0] / tileRows, offset[1] / chunkCols);
    };
    SmallVector<SmallVector<int64_t>> srcOffsets =
        getElementOffsets(srcType.getEncoding(), srcType.getShape());
    SmallVector<SmallVector<int64_t>> dstOffsets =
        getElementOffsets(dstType.getEncoding(), dstType.getShape());
    // Runs of `width` elements that are consecutive along a row move as one vector: column pairs
    // of the mma registers, 16 bytes of the store layout.
    auto isRun = [&](ArrayRef<SmallVector<int64_t>> offsets, unsigned first, unsigned width) {
      for (unsigned i = 1; i < width; ++i)
        if (offsets[first + i][0] != offsets[first][0] ||
            offsets[first + i][1] != offsets[first][1] + i ||
            chunkOf(offsets[first + i]) != chunkOf(offsets[first]))
          return false;
      return true;
    };
    auto allRuns = [&](ArrayRef<SmallVector<int64_t>> offsets, unsigned width) {
      if (offsets.size() % width != 0)
        return false;
      for (unsigned first = 0; first < offsets.size(); first += width)
        if (!isRun(offsets, first, width))
          return false;
      return true;
    };
    unsigned dstRun = 16 / bytes;
    if (!allRuns(srcOffsets, 2) || !allRuns(dstOffsets, dstRun))
      return rewriter.notifyMatchFailure(op, "elements not in column pairs and 16-byte runs");

    SmallVector<Value> values = unpack(rewriter, loc, adaptor.getSrc());
    SmallVector<SmallVector<Value>> srcCoords = emitCoordinates(rewriter, loc, srcType);
    SmallVector<SmallVector<Value>> dstCoords = emitCoordinates(rewriter, loc, dstType);

    auto c = [&](int64_t value) { return constI32(rewriter, loc, value); };
    Value warpBase = LLVM::MulOp::create(rewriter, loc, emitLaneAndWarp(rewriter, loc).second,
                                         c(kWarpBytes));
    Type elementType = values.front().getType();
    auto address = [&](ArrayRef<Value> coord) {
      Value row = LLVM::AndOp::create(rewriter, loc, coord[0], c(kRows - 1));
      Value colBytes = LLVM::MulOp::create(
          rewriter, loc, LLVM::AndOp::create(rewriter, loc, coord[1], c(chunkCols - 1)),
          c(bytes));
      Value chunk = LLVM::XOrOp::create(rewriter, loc,
                                        LLVM::LShrOp::create(rewriter, loc, colBytes, c(4)),
                                        LLVM::AndOp::create(rewriter, loc, row, c(7)));
      Value offset = LLVM::AddOp::create(
          rewriter, loc, LLVM::MulOp::create(rewriter, loc, row, c(kRowBytes)),
          LLVM::OrOp::create(rewriter, loc, LLVM::ShlOp::create(rewriter, loc, chunk, c(4)),
                             LLVM::AndOp::create(rewriter, loc, colBytes, c(15))));
      offset = LLVM::AddOp::create(rewriter, loc, warpBase, offset);
      return emitSharedAddress(rewriter, loc, op, state, rewriter.getI8Type(), offset, 0);
    };

    SmallVector<std::pair<int64_t, int64_t>> chunks;
    for (ArrayRef<int64_t> offset : dstOffsets)
      if (!llvm::is_contained(chunks, chunkOf(offset)))
        chunks.push_back(chunkOf(offset));
    SmallVector<Value> results(dstOffsets.size());
    auto warpSync = [&] { NVVM::SyncWarpOp::create(rewriter, loc, c(-1)); };
    // The scratch may still be read by an earlier op in other warps.
    emitBarrier(rewriter, loc);
    for (auto [index, chunk] : llvm::enumerate(chunks)) {
      if (index > 0)
        warpSync();
      for (unsigned first = 0; first < values.size(); first += 2) {
        if (chunkOf(srcOffsets[first]) != chunk)
          continue;
        auto pairType = VectorType::get({2}, elementType);
        Value pair = LLVM::PoisonOp::create(rewriter, loc, pairType);
        for (unsigned i = 0; i < 2; ++i)
          pair = LLVM::InsertElementOp::create(rewriter, loc, pair, values[first + i], c(i));
        LLVM::StoreOp::create(rewriter, loc, pair, address(srcCoords[first]));
      }
      warpSync();
      for (unsigned first = 0; first < dstOffsets.size(); first += dstRun) {
        if (chunkOf(dstOffsets[first]) != chunk)
          continue;
        auto runType = VectorType::get({int64_t(dstRun)}, elementType);
        Value loaded = LLVM::LoadOp::create(rewriter, loc, runType, address(dstCoords[first]));
        for (unsigned i = 0; i < dstRun; ++i)
          results[first + i] = LLVM::ExtractElementOp::create(rewriter, loc, loaded, c(i));
      }
    }
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(dstType),
                                results));
    return success();
  }
};

} // namespace

namespace {

// A block of shared memory and the ops during which it is live: a span of the block holding its
// alloc, and in each enclosing block the op that holds that one.
struct SharedBlock {
  LocalAllocOp alloc;
  int64_t bytes;
  Operation *first, *last; // ops of the alloc's block
  int64_t offset = 0;
};

// The op of `block` that contains `op`.
Operation *ancestorIn(Block *block, Operation *op) {
  while (op && op->getBlock() != block)
    op = op->getParentOp();
  return op;
}

// The span of `alloc`'s block: from the alloc to the last op of its block holding a use of it
// or of a view of it (a ring's buffer, a transposed view). A block used inside a loop is live
// for the whole loop.
void findSpan(SharedBlock &shared) {
  Block *block = shared.alloc->getBlock();
  shared.first = shared.last = shared.alloc;
  SmallVector<Value> values = {shared.alloc.getResult()};
  while (!values.empty()) {
    Value value = values.pop_back_val();
    for (Operation *user : value.getUsers()) {
      Operation *holder = ancestorIn(block, user);
      if (holder && shared.last->isBeforeInBlock(holder))
        shared.last = holder;
      if (isa<MemDescIndexOp, MemDescTransOp>(user))
        values.push_back(user->getResult(0));
    }
  }
}

// Whether two blocks are live at once, compared in the innermost block enclosing both allocs:
// rings of two loops nested in one outer loop are disjoint there, as at the top level.
bool overlaps(const SharedBlock &a, const SharedBlock &b) {
  auto spanIn = [](const SharedBlock &shared, Block *block) -> std::pair<Operation *, Operation *> {
    if (shared.alloc->getBlock() == block)
      return {shared.first, shared.last};
    Operation *holder = ancestorIn(block, shared.alloc);
    return {holder, holder};
  };
  for (Operation *holder = a.alloc; holder; holder = holder->getParentOp()) {
    Block *block = holder->getBlock();
    if (!ancestorIn(block, b.alloc))
      continue;
    auto [aFirst, aLast] = spanIn(a, block);
    auto [bFirst, bLast] = spanIn(b, block);
    return !aLast->isBeforeInBlock(bFirst) && !bLast->isBeforeInBlock(aFirst);
  }
  return true;
}

} // namespace

int64_t mlir::tessera::allocateSharedBlocks(ModuleOp module) {
  int64_t end = 0;
  // Blocks whose spans are disjoint share memory (first fit): a kernel with two pipelined loops
  // (an attention kernel's unmasked and masked key blocks) needs one set of rings, not two. A
  // barrier ahead of a block that takes over memory keeps its first writes after every thread's
  // last reads of the block that had it.
  module.walk([&](func::FuncOp func) {
    if (func.getBody().empty())
      return;
    SmallVector<SharedBlock> blocks;
    func.walk([&](LocalAllocOp alloc) {
      auto type = cast<MemDescType>(alloc.getType());
      int64_t buffers = type.getShape().size() == 3 ? type.getShape()[0] : 1;
      blocks.push_back({alloc, buffers * ringStride(type), nullptr, nullptr});
      findSpan(blocks.back());
    });
    for (unsigned i = 0; i < blocks.size(); ++i) {
      SharedBlock &block = blocks[i];
      // The lowest offset clear of every live block placed so far.
      int64_t offset = 0;
      bool moved = true;
      while (moved) {
        moved = false;
        for (unsigned j = 0; j < i; ++j)
          if (overlaps(block, blocks[j]) && offset < blocks[j].offset + blocks[j].bytes &&
              blocks[j].offset < offset + block.bytes) {
            offset = llvm::alignTo(blocks[j].offset + blocks[j].bytes, 1024);
            moved = true;
          }
      }
      block.offset = offset;
      block.alloc->setAttr(kAllocOffsetAttr,
                           IntegerAttr::get(IntegerType::get(module.getContext(), 32), offset));
      end = std::max(end, offset + block.bytes);
    }
    // Any block sharing memory with another takes it over after a barrier, whichever comes
    // first in the code: in a loop, the first one also takes over from the last one of the
    // previous iteration.
    for (SharedBlock &block : blocks) {
      bool shares = llvm::any_of(blocks, [&](const SharedBlock &other) {
        return &other != &block && !overlaps(block, other) &&
               block.offset < other.offset + other.bytes &&
               other.offset < block.offset + block.bytes;
      });
      if (shares) {
        OpBuilder builder(block.first);
        BarrierOp::create(builder, block.alloc.getLoc());
      }
    }
  });
  module.walk([&](InitBarriersOp init) {
    int64_t offset = llvm::alignTo(end, 8);
    init->setAttr(kAllocOffsetAttr,
                  IntegerAttr::get(IntegerType::get(module.getContext(), 32), offset));
    end = offset + 8 * cast<MBarriersType>(init.getType()).getCount();
  });
  return llvm::alignTo(end, 16);
}

void mlir::tessera::populateSharedMemoryPatterns(TileTypeConverter &converter,
                                                 RewritePatternSet &patterns,
                                                 LoweringState &state) {
  patterns.add<LocalAllocLowering, MemDescIndexLowering, MemDescTransLowering, LocalLoadLowering,
               AsyncCopyLowering,
               AsyncCommitLowering, AsyncWaitLowering, BarrierLowering,
               WarpLocalConvertLowering>(converter, state);
}
