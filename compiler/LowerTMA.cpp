// Lowering of the Tensor Memory Accelerator ops: mbarrier rings (init_barriers, wait_barrier)
// and the bulk tensor copies that fill shared-memory buffers through a kernel parameter's tensor
// map (async_tma_load). All of it is inline PTX for sm_90.
#include "compiler/LoweringUtils.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <string>

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

constexpr int64_t kBarrierBytes = 8;

// A shared-memory pointer as the 32-bit address PTX's .shared instructions take.
Value sharedAddress32(OpBuilder &builder, Location loc, Value pointer) {
  return LLVM::PtrToIntOp::create(builder, loc, builder.getI32Type(), pointer);
}

// mbarrier `index` of the ring at `ring` (a `!llvm.ptr<3>`).
Value barrierAddress(OpBuilder &builder, Location loc, Value ring, Value index) {
  Value offset = LLVM::MulOp::create(builder, loc, index, constI32(builder, loc, kBarrierBytes));
  return LLVM::AddOp::create(builder, loc, sharedAddress32(builder, loc, ring), offset);
}

// Whether this is the program's first thread, the one that initialises mbarriers and issues
// TMA copies.
Value emitIsFirstThread(OpBuilder &builder, Location loc) {
  Value tid = NVVM::ThreadIdXOp::create(builder, loc, builder.getI32Type());
  return LLVM::ICmpOp::create(builder, loc, LLVM::ICmpPredicate::eq, tid,
                              constI32(builder, loc, 0));
}

struct InitBarriersLowering : public TilePattern<InitBarriersOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(InitBarriersOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    FailureOr<Value> ring = emitAllocatedAddress(rewriter, loc, op);
    if (failed(ring))
      return rewriter.notifyMatchFailure(op, "no shared-memory offset allocated");
    int64_t count = cast<MBarriersType>(op.getType()).getCount();
    std::string body = "{\n";
    for (int64_t i = 0; i < count; ++i)
      body += "@$0 mbarrier.init.shared::cta.b64 [$1+" + std::to_string(i * kBarrierBytes) +
              "], " + std::to_string(op.getArrivals()) + ";\n";
    body += "}";
    emitSideEffectAsm(rewriter, loc, body, "b,r",
            {emitIsFirstThread(rewriter, loc), sharedAddress32(rewriter, loc, *ring)});
    // Makes the initialisation visible to the other threads and to the TMA unit.
    emitSideEffectAsm(rewriter, loc, "fence.mbarrier_init.release.cluster;", "", {});
    emitBarrier(rewriter, loc);
    rewriter.replaceOp(op, *ring);
    return success();
  }
};

struct WaitBarrierLowering : public TilePattern<WaitBarrierOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(WaitBarrierOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value address = barrierAddress(rewriter, loc, adaptor.getBarriers(), adaptor.getIndex());
    // try_wait suspends the thread for a while before giving up; the loop retries.
    emitSideEffectAsm(rewriter, loc,
            "{\n"
            ".reg .pred done;\n"
            "wait_barrier_${:uid}:\n"
            "mbarrier.try_wait.parity.shared::cta.b64 done, [$0], $1;\n"
            "@!done bra wait_barrier_${:uid};\n"
            "}",
            "r,r", {address, adaptor.getPhase()});
    rewriter.eraseOp(op);
    return success();
  }
};

struct AsyncTMALoadLowering : public TilePattern<AsyncTMALoadOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncTMALoadOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<MemDescType>(op.getDst().getType());
    auto shared = cast<SharedAttr>(type.getEncoding());
    int64_t rows = type.getShape()[0];
    int64_t elementBytes = type.getElementType().getIntOrFloatBitWidth() / 8;
    int64_t boxColumns = shared.getSwizzleBytes() / elementBytes;
    int64_t columnRuns = type.getShape()[1] / boxColumns;
    int64_t runBytes = rows * shared.getSwizzleBytes();

    Value issue = LLVM::AndOp::create(rewriter, loc, emitIsFirstThread(rewriter, loc),
                                      adaptor.getPred());
    Value barrier =
        barrierAddress(rewriter, loc, adaptor.getBarriers(), adaptor.getIndex());
    Value dst = sharedAddress32(rewriter, loc, adaptor.getDst());
    Value row = adaptor.getCoords()[0], column = adaptor.getCoords()[1];
    // Operands: $0 issue, $1 barrier, $2 dst, $3 tensor map, $4 row, $5 column. One box per
    // swizzle-wide column run (the verifier keeps its rows within TMA's 256). The other threads
    // branch around the copies rather than run them predicated off: ptxas makes each copy a loop
    // over the lanes' distinct operands, which would cost every warp its instructions in each
    // iteration of a pipelined loop.
    std::string body = "{\n.reg .b32 col;\n"
                       "@!$0 bra skip_tma_${:uid};\n"
                       "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$1], " +
                       std::to_string(columnRuns * runBytes) + ";\n";
    for (int64_t run = 0; run < columnRuns; ++run) {
      // The tensor map's dimensions run innermost first: {column, row}.
      body += "add.s32 col, $5, " + std::to_string(run * boxColumns) + ";\n";
      body += "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
              "[$2+" + std::to_string(run * runBytes) + "], [$3, {col, $4}], [$1];\n";
    }
    body += "skip_tma_${:uid}:\n}";
    emitSideEffectAsm(rewriter, loc, body, "b,r,r,l,r,r",
            {issue, barrier, dst, adaptor.getTensorMap(), row, column});
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mlir::tessera::populateTMAPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                        LoweringState &state) {
  patterns.add<InitBarriersLowering, WaitBarrierLowering, AsyncTMALoadLowering>(converter,
                                                                                state);
}
