// Building blocks shared by the tilegpu-to-LLVM patterns: the type converter, packing of a
// thread's elements into LLVM structs, thread coordinates, shared memory and shuffles.
#ifndef TESSERA_COMPILER_LOWERINGUTILS_H
#define TESSERA_COMPILER_LOWERINGUTILS_H

#include "compiler/AxisInfo.h"
#include "dialects/tilegpu/Layout.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

// Pointers become `!llvm.ptr<1>`; a block becomes a struct of the elements one thread holds.
class TileTypeConverter : public LLVMTypeConverter {
public:
  explicit TileTypeConverter(MLIRContext *context);
};

// What the patterns share: facts for vectorisation and the shared memory the kernel needs.
struct LoweringState {
  const AxisInfoAnalysis *axisInfo = nullptr;
  // Shared memory: the blocks of tilegpu.local_alloc first, from offset 0, each at its
  // `kAllocOffsetAttr`; then the scratch that ops such as reductions and layout conversions
  // share, from `scratchBase`: every op that uses scratch puts a barrier before its first write.
  int64_t scratchBase = 0;
  int64_t sharedBytes = 0;
  // Whether wgmma reads shared memory, so that writes to it need a fence to the async proxy.
  bool hasAsyncProxyReaders = false;
  void reserveShared(int64_t bytes) {
    sharedBytes = std::max(sharedBytes, scratchBase + bytes);
  }
};

// Where the allocation step records a local_alloc's byte offset.
constexpr StringLiteral kAllocOffsetAttr = "tilegpu.offset";

// A pattern with access to the shared lowering state. Block patterns outrank the upstream
// arith/math ones, which would otherwise try to lower block ops as if their structs were vectors.
constexpr unsigned kBlockPatternBenefit = 10;
template <typename Op>
struct TilePattern : public OpConversionPattern<Op> {
  TilePattern(TileTypeConverter &converter, LoweringState &state,
              PatternBenefit benefit = kBlockPatternBenefit)
      : OpConversionPattern<Op>(converter, &converter.getContext(), benefit), state(state) {}
  LoweringState &state;
};

// fence.proxy.async for shared memory: orders this thread's ordinary writes before later reads by
// the async proxy (wgmma).
void emitAsyncProxyFence(OpBuilder &builder, Location loc);

Value constI32(OpBuilder &builder, Location loc, int64_t value);

// The elements of a packed block (an LLVM struct), or the one scalar if `packed` is not a struct.
SmallVector<Value> unpack(OpBuilder &builder, Location loc, Value packed);
Value pack(OpBuilder &builder, Location loc, Type structType, ArrayRef<Value> elements);

// This thread's lane (0..31) and warp index.
std::pair<Value, Value> emitLaneAndWarp(OpBuilder &builder, Location loc);

// For each element a thread holds of `type`, its coordinate along each dimension (i32).
SmallVector<SmallVector<Value>> emitCoordinates(OpBuilder &builder, Location loc,
                                                RankedTensorType type);

// Row-major linear index of `coords` in `shape`, with each run along the last dimension
// followed by `rowPadding` unused elements.
Value emitLinearIndex(OpBuilder &builder, Location loc, ArrayRef<Value> coords,
                      ArrayRef<int64_t> shape, int64_t rowPadding = 0);

// The kernel's dynamic shared memory (`!llvm.ptr<3>`).
Value emitSharedBase(OpBuilder &builder, Location loc, Operation *anchor);

// The address of the shared memory that allocateSharedBlocks gave `op` (its kAllocOffsetAttr), or
// failure when it gave none.
FailureOr<Value> emitAllocatedAddress(OpBuilder &builder, Location loc, Operation *op);

// Address of element `index` of `elementType` in the scratch area, starting `byteOffset` bytes
// in.
Value emitSharedAddress(OpBuilder &builder, Location loc, Operation *anchor,
                        const LoweringState &state, Type elementType, Value index,
                        int64_t byteOffset);

// The type a block element is kept as in shared memory (i1 widens to i8).
Type sharedStorageType(Type elementType);
Value toSharedStorage(OpBuilder &builder, Location loc, Value value);
Value fromSharedStorage(OpBuilder &builder, Location loc, Value stored, Type elementType);
int64_t storageBytes(Type elementType);

void emitBarrier(OpBuilder &builder, Location loc);

// Inline PTX without results that must stay where it is (stores, mbarrier operations, copies).
void emitSideEffectAsm(OpBuilder &builder, Location loc, StringRef body, StringRef constraints,
                       ValueRange operands);

// shfl.sync.bfly of any scalar up to 64 bits.
Value emitShuffleXor(OpBuilder &builder, Location loc, Value value, unsigned laneMask);

// `(index / stride) mod count`: a lane's or warp's coordinate along a dimension that `count`
// lanes or warps `stride` apart span (AxisThreads, ThreadBaseFactors).
Value emitThreadCoordinate(OpBuilder &builder, Location loc, Value index, unsigned stride,
                           unsigned count);

// Whether this thread applies the elements it holds of a block of `type` (a scalar when null),
// for a layout that is blocked or a slice of one: where the layout repeats an element over lanes
// or warps, the copy with the lowest lane and warp coordinate along every dimension does; a
// scalar, thread 0 does.
Value emitAppliesElements(OpBuilder &builder, Location loc, RankedTensorType type);

// Whether the layout of `type` is blocked (or a slice of one) and gives some of its elements to
// several lanes or warps.
bool repeatsOverThreads(RankedTensorType type);

// Runs `emitStores`, the shared-memory stores of a block of `type`, so that where the layout
// repeats elements over lanes or warps only the first copies store (emitAppliesElements): the
// copies hold one value, but racecheck counts writes of one slot by several threads as hazards.
// `alsoRequired`, an i1 if given, narrows the storing threads further.
void emitByFirstCopies(OpBuilder &builder, Location loc, RankedTensorType type,
                       function_ref<void()> emitStores, Value alsoRequired = {});

// Moves the elements of `packed` (laid out as `srcType`) to where `dstType` puts them, through
// `slots` elements of shared memory: each source element is written at srcIndex(coords) (by its
// first copies), each destination element read at dstIndex(coords).
Value exchangeThroughShared(ConversionPatternRewriter &rewriter, Location loc, Operation *anchor,
                            Value packed, RankedTensorType srcType, RankedTensorType dstType,
                            Type dstStructType,
                            function_ref<Value(OpBuilder &, ArrayRef<Value>)> srcIndex,
                            function_ref<Value(OpBuilder &, ArrayRef<Value>)> dstIndex,
                            int64_t slots, LoweringState &state);

// Patterns for tile.load / tile.store, and for tile.reduce / tile.dot.
void populateMemoryOpPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                              LoweringState &state);
void populateReduceAndDotPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                  LoweringState &state);
// Patterns for shared-memory blocks and async copies (local_alloc, memdesc_index, local_load,
// async_copy/commit/wait, barrier) and the warp-local layout conversion of tensor-core results,
// and for the tensor-core dots (mma.sync, wgmma).
void populateSharedMemoryPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                  LoweringState &state);
void populateTensorCorePatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                LoweringState &state);
// Patterns for the Tensor Memory Accelerator: mbarrier rings and TMA copies.
void populateTMAPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                         LoweringState &state);

// Gives every tilegpu.local_alloc its offset (kAllocOffsetAttr, multiples of 1024 bytes so that
// swizzle atoms are aligned) and every mbarrier ring its own after them; returns the bytes they
// take, where the scratch area begins.
int64_t allocateSharedBlocks(ModuleOp module);

} // namespace mlir::tessera

#endif
