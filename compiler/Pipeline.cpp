// tilegpu-pipeline: loads that feed dots become async copies into rings of shared-memory buffers,
// issued D iterations ahead of their use.
//
//   scf.for %i iter_args(%acc, %p) {                 ring = local_alloc : SxMxK
//     %x = tile.load %ptrs(%p, %i), %mask(%i)        prologue: copies for iterations 0..D-1
//     %s = tilegpu.local_alloc %x          ==>       scf.for %i iter_args(%acc, %p', %read, %write) {
//     ... dot(%s) ...                                  async_wait {pending = D - 1}
//     yield %acc', %p + step                           copy for iteration i + D into ring[%write]
//   }                                                  ... dot(ring[%read]) ...
//
// %p' carries the pointers of iteration i + D: the ops computing a load's pointers and mask (its
// "address slice") are cloned for the later iteration, and loop-carried values that only feed
// address slices advance D iterations early. D is S - 1: the buffer the copies refill is the one
// iteration i - 1 read. An asynchronous wgmma whose accumulator only goes around the loop stays
// in flight across one iteration boundary (its wait becomes pending = 1); the copies then follow
// that wait and a barrier, the point from which no warpgroup still reads iteration i - 1's buffer.
#include "compiler/AxisInfo.h"
#include "compiler/LoopUnroll.h"
#include "compiler/Passes.h"
#include "dialects/tilegpu/Layout.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_TILEGPUPIPELINE
#include "compiler/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// A load to pipeline and the op that consumes its block: a local_alloc (wgmma operand) or a
// convert_layout to a dot_op layout (mma.sync operand). `tma`: its ring is filled through the
// load's tensor map rather than by cp.async.
struct Stream {
  tile::LoadOp load;
  Operation *consumer;
  MemDescType bufferType;
  bool tma = false;
  Value ring;
};

bool isZero(Value value) {
  if (!value)
    return true;
  if (auto splat = value.getDefiningOp<tile::SplatOp>())
    return isZero(splat.getSrc());
  return matchPattern(value, m_AnyZeroFloat()) || matchPattern(value, m_Zero());
}

class LoopPipeliner {
public:
  LoopPipeliner(scf::ForOp loop, unsigned numStages, int64_t maxSharedBytes, bool useTMA,
                const AxisInfoAnalysis &axisInfo)
      : loop(loop), numStages(numStages), maxSharedBytes(maxSharedBytes), useTMA(useTMA),
        axisInfo(axisInfo) {}

  void run() {
    if (numStages < 2)
      return;
    collectStreams();
    if (streams.empty() || !collectAddressSlice())
      return;
    // Fewer buffers where the rings would not fit.
    int64_t stageBytes = 0;
    for (Stream &stream : streams)
      stageBytes += llvm::alignTo(stream.bufferType.getBufferBytes(), 1024);
    if (maxSharedBytes > 0) {
      while (numStages > 2 && numStages * stageBytes > maxSharedBytes)
        --numStages;
      if (numStages * stageBytes > maxSharedBytes)
        return;
    }
    distance = numStages - 1;
    rewrite(findAsyncDotWait());
  }

private:
  // The shared layout the consumer reads the block in.
  std::optional<SharedAttr> consumerLayout(Operation *consumer, RankedTensorType type) {
    if (auto alloc = dyn_cast<LocalAllocOp>(consumer))
      return cast<SharedAttr>(cast<MemDescType>(alloc.getType()).getEncoding());
    auto convert = dyn_cast<ConvertLayoutOp>(consumer);
    if (!convert || !isa<DotOperandAttr>(convert.getType().getEncoding()))
      return std::nullopt;
    int64_t rowBytes = type.getDimSize(1) * (type.getElementTypeBitWidth() / 8);
    unsigned swizzle = std::min<int64_t>(128, rowBytes);
    if (swizzle < 32)
      return std::nullopt;
    return SharedAttr::get(loop.getContext(), swizzle, {1, 0});
  }

  void collectStreams() {
    for (auto load : loop.getBody()->getOps<tile::LoadOp>()) {
      auto type = dyn_cast<RankedTensorType>(load.getType());
      if (!type || type.getRank() != 2 || !load->hasOneUse() || !isZero(load.getOther()))
        continue;
      Operation *consumer = *load->getUsers().begin();
      std::optional<SharedAttr> shared = consumerLayout(consumer, type);
      if (!shared || shared->getOrder()[0] != 1)
        continue;
      auto bufferType = MemDescType::get(loop.getContext(), type.getShape(),
                                         type.getElementType(), *shared);
      if (useTMA && load.getTensorMap() && isTMALayout(type, *shared)) {
        streams.push_back({load, consumer, bufferType, /*tma=*/true, Value()});
        continue;
      }
      // cp.async moves 4, 8 or 16 bytes: the run each thread copies must be at least 4.
      auto blocked = dyn_cast<BlockedAttr>(type.getEncoding());
      if (!blocked || blocked.getOrder()[0] != 1)
        continue;
      unsigned width = std::min<unsigned>(axisInfo.getVectorWidth(load.getPtr()),
                                          blocked.getSizePerThread()[1]);
      if (load.getMask())
        width = std::min<unsigned>(width, axisInfo.getMaskConstancy(load.getMask()));
      if (width * type.getElementTypeBitWidth() < 32)
        continue;
      streams.push_back({load, consumer, bufferType, /*tma=*/false, Value()});
    }
  }

  // Whether TMA writes a block of `type` in the `shared` layout. The host encodes every tensor
  // map with boxes of min(128, row bytes) bytes along the last dimension and the matching
  // swizzle (tessera.TensorDescriptor), so that layout is the only one it can produce.
  static bool isTMALayout(RankedTensorType type, SharedAttr shared) {
    int64_t rowBytes = type.getDimSize(1) * (type.getElementTypeBitWidth() / 8);
    return type.getElementTypeBitWidth() >= 8 && rowBytes >= 32 &&
           shared.getSwizzleBytes() == std::min<int64_t>(128, rowBytes) &&
           type.getDimSize(0) <= kMaxTMABoxExtent;
  }

  bool hasTMAStreams() const {
    return llvm::any_of(streams, [](const Stream &s) { return s.tma; });
  }
  bool hasCopyStreams() const {
    return llvm::any_of(streams, [](const Stream &s) { return !s.tma; });
  }

  // The ops in the loop body that compute the streams' pointers and masks. Loop-carried values
  // they read must evolve inside the slice and feed nothing else, so that they can run ahead.
  // The slice may load (a paged cache's page table, say) when the loop stores nothing: a read
  // issued iterations early then still sees what the original order would.
  bool collectAddressSlice() {
    Block *body = loop.getBody();
    bool stores =
        body->walk([](tile::StoreOp) { return WalkResult::interrupt(); }).wasInterrupted();
    SmallVector<Value> worklist;
    for (Stream &stream : streams) {
      worklist.push_back(stream.load.getPtr());
      if (stream.load.getMask())
        worklist.push_back(stream.load.getMask());
      llvm::append_range(worklist, stream.load.getCoords());
    }
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    while (!worklist.empty()) {
      Value value = worklist.pop_back_val();
      if (auto arg = dyn_cast<BlockArgument>(value)) {
        if (arg.getOwner() != body || arg == loop.getInductionVar())
          continue;
        unsigned index = arg.getArgNumber() - 1;
        if (carried.insert(index))
          worklist.push_back(yield.getOperand(index));
        continue;
      }
      Operation *def = value.getDefiningOp();
      if (def->getBlock() != body || slice.contains(def))
        continue;
      if (def->getNumRegions() != 0)
        return false;
      if (!isPure(def) && !(isa<tile::LoadOp>(def) && !stores))
        return false;
      slice.insert(def);
      for (Value operand : def->getOperands())
        worklist.push_back(operand);
    }
    // The slice must not feed anything but the loads, itself and the carried values.
    auto feedsOnlyAddresses = [&](Value value) {
      return llvm::all_of(value.getUsers(), [&](Operation *user) {
        return slice.contains(user) || user == yield ||
               llvm::any_of(streams, [&](Stream &s) { return s.load == user; });
      });
    };
    for (Operation *op : slice)
      if (!llvm::all_of(op->getResults(), feedsOnlyAddresses))
        return false;
    for (auto [index, value] : llvm::enumerate(yield.getOperands()))
      if (Operation *def = value.getDefiningOp())
        if (slice.contains(def) && !carried.contains(index))
          return false;
    for (unsigned index : carried) {
      if (!loop.getResult(index).use_empty() ||
          !feedsOnlyAddresses(loop.getRegionIterArgs()[index]))
        return false;
    }
    for (Stream &stream : streams)
      for (Value operand : stream.load->getOperands())
        if (Operation *def = operand.getDefiningOp())
          if (def->getBlock() == body && !slice.contains(def) && operand != stream.load.getOther())
            return false;
    // Program order, for cloning.
    SmallVector<Operation *> ordered = slice.takeVector();
    llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    slice.insert(ordered.begin(), ordered.end());
    return true;
  }

  // The mask of `load` issued ahead for a later iteration (a stream's copy, or a cloned slice
  // load): its own mask and `valid`, which is false past the last iteration, where the address
  // may lie past the end of what it reads.
  Value guardedMask(OpBuilder &builder, tile::LoadOp load, IRMapping &mapping, Value valid) {
    Value mask = valid;
    if (auto type = dyn_cast<RankedTensorType>(load.getPtr().getType()))
      mask = tile::SplatOp::create(
          builder, loop.getLoc(),
          RankedTensorType::get(type.getShape(), builder.getI1Type(), type.getEncoding()), valid);
    if (Value original = load.getMask())
      mask = arith::AndIOp::create(builder, loop.getLoc(), mapping.lookupOrDefault(original), mask);
    return mask;
  }

  // The wait after an asynchronous wgmma whose result only goes around the loop as the next
  // iteration's accumulator: it may then stay in flight across the iteration boundary.
  WarpGroupDotWaitOp findAsyncDotWait() {
    for (auto wait : loop.getBody()->getOps<WarpGroupDotWaitOp>()) {
      if (!wait->hasOneUse())
        continue;
      OpOperand &use = *wait->getUses().begin();
      if (!isa<scf::YieldOp>(use.getOwner()))
        continue;
      BlockArgument arg = loop.getRegionIterArgs()[use.getOperandNumber()];
      auto dot = wait.getAcc().getDefiningOp<WarpGroupDotOp>();
      // (A register `a` is not carried to the next iteration's wait: such a dot waits.)
      if (dot && !isa<RankedTensorType>(dot.getA().getType()) && arg.hasOneUse() &&
          *arg.getUsers().begin() == dot.getOperation())
        return wait;
    }
    return {};
  }

  Value constant(OpBuilder &builder, Type type, int64_t value) {
    return arith::ConstantOp::create(builder, loop.getLoc(), type,
                                     builder.getIntegerAttr(type, value));
  }

  // Issues the copies of the iteration whose induction variable is `iv`, reading the carried
  // values `state`, into buffer `slot` of each ring; returns the carried values of the next one.
  SmallVector<Value> issueCopies(OpBuilder &builder, Value iv, ArrayRef<Value> state, Value slot) {
    Location loc = loop.getLoc();
    IRMapping mapping;
    mapping.map(loop.getInductionVar(), iv);
    for (auto [index, value] : llvm::zip(carried, state))
      mapping.map(loop.getRegionIterArgs()[index], value);
    Value valid = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::slt, iv,
                                        loop.getUpperBound());
    for (Operation *op : slice) {
      auto load = dyn_cast<tile::LoadOp>(op);
      Value mask = load ? guardedMask(builder, load, mapping, valid) : Value();
      Operation *clone = builder.clone(*op, mapping);
      if (mask)
        cast<tile::LoadOp>(clone).getMaskMutable().assign(mask);
    }
    for (Stream &stream : streams) {
      Value buffer = MemDescIndexOp::create(builder, loc, stream.bufferType, stream.ring, slot);
      if (stream.tma) {
        SmallVector<Value> coords;
        for (Value coord : stream.load.getCoords())
          coords.push_back(mapping.lookupOrDefault(coord));
        AsyncTMALoadOp::create(builder, loc, stream.load.getTensorMap(), coords, buffer,
                               barriers, slot, valid);
        continue;
      }
      AsyncCopyOp::create(builder, loc, mapping.lookupOrDefault(stream.load.getPtr()), buffer,
                          guardedMask(builder, stream.load, mapping, valid));
    }
    if (hasCopyStreams())
      AsyncCommitOp::create(builder, loc);
    auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
    SmallVector<Value> next;
    for (unsigned index : carried)
      next.push_back(mapping.lookupOrDefault(yield.getOperand(index)));
    return next;
  }

  Value advanceSlot(OpBuilder &builder, Value slot) {
    Location loc = loop.getLoc();
    Type i32 = builder.getI32Type();
    Value next = arith::AddIOp::create(builder, loc, slot, constant(builder, i32, 1));
    Value wrapped = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::eq, next,
                                          constant(builder, i32, numStages));
    return arith::SelectOp::create(builder, loc, wrapped, constant(builder, i32, 0), next);
  }

  void rewrite(WarpGroupDotWaitOp asyncWait) {
    Location loc = loop.getLoc();
    OpBuilder builder(loop);
    Type i32 = builder.getI32Type();
    Type ivType = loop.getInductionVar().getType();

    // Rings and the prologue: iterations 0 .. D-1.
    for (Stream &stream : streams) {
      SmallVector<int64_t> shape = {numStages};
      llvm::append_range(shape, stream.bufferType.getShape());
      auto ringType = MemDescType::get(loop.getContext(), shape,
                                       stream.bufferType.getElementType(),
                                       stream.bufferType.getEncoding());
      stream.ring = LocalAllocOp::create(builder, loc, ringType, Value());
    }
    // One mbarrier per buffer; each TMA stream arrives on it once per fill.
    if (hasTMAStreams()) {
      int32_t arrivals = llvm::count_if(streams, [](const Stream &s) { return s.tma; });
      barriers = InitBarriersOp::create(builder, loc,
                                        MBarriersType::get(loop.getContext(), numStages),
                                        builder.getI32IntegerAttr(arrivals));
    }
    SmallVector<Value> state;
    for (unsigned index : carried)
      state.push_back(loop.getInitArgs()[index]);
    for (unsigned j = 0; j < distance; ++j) {
      Value offset = arith::MulIOp::create(builder, loc, loop.getStep(), constant(builder, ivType, j));
      Value iv = arith::AddIOp::create(builder, loc, loop.getLowerBound(), offset);
      state = issueCopies(builder, iv, state, constant(builder, i32, j));
    }

    // The loop carries the run-ahead values and the ring slots to read and to write, then
    // optionally a register operand and the phase of the mbarrier of the slot to read.
    SmallVector<Value> inits(loop.getInitArgs());
    for (auto [index, value] : llvm::zip(carried, state))
      inits[index] = value;
    unsigned added = loop.getNumRegionIterArgs();
    unsigned readIndex = added, writeIndex = added + 1;
    inits.push_back(constant(builder, i32, 0));
    inits.push_back(constant(builder, i32, distance % numStages));
    // wgmma reads a register operand while it runs, which may be into the next iteration: the
    // loop carries it to that iteration's wait, so that its registers stay untouched until then.
    // (The loop is also unrolled by two below, so that the next iteration's operand goes to other
    // registers.)
    Value registerOperand;
    std::optional<unsigned> registerIndex, phaseIndex;
    if (asyncWait) {
      auto dot = asyncWait.getAcc().getDefiningOp<WarpGroupDotOp>();
      if (auto type = dyn_cast<RankedTensorType>(dot.getB().getType())) {
        registerOperand = dot.getB();
        registerIndex = inits.size();
        inits.push_back(arith::ConstantOp::create(
            builder, loc, type, DenseElementsAttr::get(type, builder.getZeroAttr(
                                                                type.getElementType()))));
      }
    }
    if (barriers) {
      phaseIndex = inits.size();
      inits.push_back(constant(builder, i32, 0));
    }
    // With a wgmma in flight across iterations, the loop and the wait after it go under a guard
    // against zero iterations: otherwise the path that skips the loop (its accumulator
    // initialisation) may be laid out between the wgmmas and that wait, and ptxas then
    // serialises every wgmma of the kernel (C7515).
    scf::IfOp nonEmpty;
    if (asyncWait) {
      Value hasIterations = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::slt,
                                                  loop.getLowerBound(), loop.getUpperBound());
      nonEmpty = scf::IfOp::create(builder, loc, loop.getResultTypes(), hasIterations,
                                   /*withElseRegion=*/true);
      builder.setInsertionPointToStart(nonEmpty.elseBlock());
      scf::YieldOp::create(builder, loc, loop.getInitArgs());
      builder.setInsertionPointToStart(nonEmpty.thenBlock());
    }
    auto pipelined = scf::ForOp::create(builder, loc, loop.getLowerBound(), loop.getUpperBound(),
                                        loop.getStep(), inits);
    Block *body = pipelined.getBody();
    if (body->mightHaveTerminator())
      body->getTerminator()->erase();
    IRMapping mapping;
    mapping.map(loop.getInductionVar(), pipelined.getInductionVar());
    for (auto [old, replacement] :
         llvm::zip(loop.getRegionIterArgs(), pipelined.getRegionIterArgs()))
      mapping.map(old, replacement);
    Value readSlot = pipelined.getRegionIterArgs()[readIndex];
    Value writeSlot = pipelined.getRegionIterArgs()[writeIndex];

    builder.setInsertionPointToStart(body);
    if (hasCopyStreams())
      AsyncWaitOp::create(builder, loc, builder.getI32IntegerAttr(distance - 1));
    if (barriers)
      WaitBarrierOp::create(builder, loc, barriers, readSlot,
                            pipelined.getRegionIterArgs()[*phaseIndex]);
    SmallVector<Value> nextState;
    auto issueAhead = [&] {
      Value ahead = arith::MulIOp::create(builder, loc, loop.getStep(),
                                          constant(builder, ivType, distance));
      Value aheadIv = arith::AddIOp::create(builder, loc, pipelined.getInductionVar(), ahead);
      SmallVector<Value> carriedState;
      for (unsigned index : carried)
        carriedState.push_back(pipelined.getRegionIterArgs()[index]);
      nextState = issueCopies(builder, aheadIv, carriedState, writeSlot);
    };
    // Synchronous consumers are done with iteration i - 1's buffers after a barrier (async_wait's
    // own, with cp.async streams).
    if (!asyncWait) {
      if (!hasCopyStreams())
        BarrierOp::create(builder, loc);
      issueAhead();
    }

    // The rest of the body, with each stream's block read from its ring.
    for (Stream &stream : streams) {
      Value buffer = MemDescIndexOp::create(builder, loc, stream.bufferType, stream.ring,
                                            readSlot);
      if (isa<LocalAllocOp>(stream.consumer)) {
        mapping.map(stream.consumer->getResult(0), buffer);
      } else {
        Type type = stream.consumer->getResult(0).getType();
        mapping.map(stream.consumer->getResult(0),
                    LocalLoadOp::create(builder, loc, type, buffer).getResult());
      }
    }
    auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
    for (Operation &op : loop.getBody()->without_terminator()) {
      if (slice.contains(&op) || llvm::any_of(streams, [&](Stream &s) {
            return s.load == &op || s.consumer == &op;
          }))
        continue;
      Operation *clone = builder.clone(op, mapping);
      if (asyncWait && &op == asyncWait.getOperation()) {
        auto wait = cast<WarpGroupDotWaitOp>(clone);
        wait.setPending(1);
        if (registerOperand)
          wait.getKeepMutable().append(pipelined.getRegionIterArgs()[*registerIndex]);
        BarrierOp::create(builder, loc);
        issueAhead();
      }
    }
    SmallVector<Value> yields;
    for (Value value : yield.getOperands())
      yields.push_back(mapping.lookupOrDefault(value));
    for (auto [index, value] : llvm::zip(carried, nextState))
      yields[index] = value;
    Value nextRead = advanceSlot(builder, readSlot);
    yields.push_back(nextRead);
    yields.push_back(advanceSlot(builder, writeSlot));
    if (registerOperand)
      yields.push_back(mapping.lookupOrDefault(registerOperand));
    if (barriers) {
      // A slot's mbarrier moves to its next phase each time the ring comes round.
      Value phase = pipelined.getRegionIterArgs()[*phaseIndex];
      Value wrapped = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::eq, nextRead,
                                            constant(builder, i32, 0));
      Value flipped = arith::XOrIOp::create(builder, loc, phase, constant(builder, i32, 1));
      yields.push_back(arith::SelectOp::create(builder, loc, wrapped, flipped, phase));
    }
    scf::YieldOp::create(builder, loc, yields);

    // After the loop: no copy (they are all predicated off by now) or wgmma left in flight; no
    // mbarrier phase is left pending either, as no TMA copy was issued for it.
    builder.setInsertionPointAfter(pipelined);
    SmallVector<Value> results;
    for (unsigned i = 0; i < loop.getNumResults(); ++i) {
      Value result = pipelined.getResult(i);
      if (asyncWait && yield.getOperand(i) == asyncWait.getResult())
        result = WarpGroupDotWaitOp::create(
            builder, loc, result.getType(), result, builder.getI32IntegerAttr(0),
            registerOperand ? ValueRange(pipelined.getResult(*registerIndex)) : ValueRange());
      results.push_back(result);
    }
    if (nonEmpty) {
      scf::YieldOp::create(builder, loc, results);
      results = nonEmpty.getResults();
      builder.setInsertionPointAfter(nonEmpty);
    }
    if (hasCopyStreams())
      AsyncWaitOp::create(builder, loc, builder.getI32IntegerAttr(0));
    for (auto [old, result] : llvm::zip(loop.getResults(), results))
      old.replaceAllUsesWith(result);
    loop.erase();

    // A register operand loaded in iteration i + 1 must not go to the registers that iteration
    // i's wgmma is still reading. A loop body is one set of virtual registers, reused by every
    // iteration; unrolled by two, consecutive iterations load into two sets, each kept alive
    // until the wait that follows the other's wgmma. (Without this, the next operand's loads
    // overwrote registers of the wgmma in flight, and tf32 results came out wrong now and then
    // once nothing else in the loop delayed those loads.)
    // Where the loop cannot be unrolled, each wgmma finishes within its iteration instead:
    // slower, still correct.
    if (registerOperand && failed(unrollLoop(pipelined, 2)))
      pipelined.walk([](WarpGroupDotWaitOp wait) { wait.setPending(0); });
  }

  scf::ForOp loop;
  int64_t numStages, maxSharedBytes;
  bool useTMA;
  unsigned distance = 0;
  Value barriers; // the mbarrier ring of the TMA streams
  const AxisInfoAnalysis &axisInfo;
  SmallVector<Stream> streams;
  llvm::SetVector<Operation *> slice;
  llvm::SetVector<unsigned> carried;
};

struct PipelinePass : public mlir::tessera::impl::TileGPUPipelineBase<PipelinePass> {
  using TileGPUPipelineBase::TileGPUPipelineBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (numStages < 1) {
      module.emitError("num-stages must be at least 1, got ") << numStages;
      return signalPassFailure();
    }
    AxisInfoAnalysis axisInfo(module);
    SmallVector<scf::ForOp> loops;
    module.walk([&](scf::ForOp loop) {
      if (loop.getBody()->getOps<scf::ForOp>().empty())
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops)
      LoopPipeliner(loop, numStages, maxSharedBytes, useTMA, axisInfo).run();
  }
};

} // namespace
