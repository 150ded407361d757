// What a layout means: which elements of a block each thread holds. Shared by the layout
// assignment pass and the lowering to LLVM.
#ifndef TESSERA_DIALECTS_TILEGPU_LAYOUT_H
#define TESSERA_DIALECTS_TILEGPU_LAYOUT_H

#include "dialects/tilegpu/TileGPUDialect.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

namespace mlir::tilegpu {

// The layout (blocked, mma or dot_op) at the root of a (possibly nested) slice layout.
Attribute getRootLayout(Attribute layout);
// The same, where the caller knows it is blocked.
BlockedAttr getRootBlocked(Attribute layout);
// The rank of the root layout's blocks.
unsigned getRootRank(Attribute layout);

// The dimensions of the root blocked layout that slices removed, in root numbering, ascending.
llvm::SmallVector<unsigned> getSlicedDims(Attribute layout);

// A tensor's shape as its root blocked layout sees it: size 1 at every sliced dimension.
llvm::SmallVector<int64_t> getRootShape(Attribute layout, ArrayRef<int64_t> shape);

// The elements a thread holds, as offsets (one per tensor dimension) from the thread's base
// coordinate, reduced modulo the shape and without duplicates. A thread's element k has the
// coordinate (base[d] + offsets[k][d]) mod shape[d], where base[d] comes from the lane and warp
// index (see getThreadBaseFactors). Runs of `sizePerThread` consecutive elements along the
// fastest dimension are consecutive in this list, which is what vectorised accesses rely on.
llvm::SmallVector<llvm::SmallVector<int64_t>> getElementOffsets(Attribute layout,
                                                                ArrayRef<int64_t> shape);

// For a transposed mma layout, or a dot_op layout whose parent is one: the untransposed layout
// whose arrangement it holds on the transposed block (dot_op operand 1 becomes operand 0). Null
// for every other layout.
Attribute getUntransposedLayout(Attribute layout);

// The warp grid of an untransposed mma or dot_op layout and the CTA tile (rows x cols of the layout's block)
// that it covers before repeating. A thread's base coordinate is, with warp w and lane l,
// warpM = w mod warpsM and warpN = (w / warpsM) mod warpsN:
//   mma:          (16 warpM + l/4, instrN warpN + 2 (l mod 4))
//   dot_op A:     (16 warpM + l/4, kWidth (l mod 4))
//   dot_op B:     (kWidth (l mod 4), 8 warpN + l/4)
struct MmaTile {
  unsigned warpsM, warpsN;
  int64_t rows, cols;
};
MmaTile getMmaTile(Attribute layout);

// Number of elements each thread holds.
unsigned getElementsPerThread(RankedTensorType type);

// How the lane and warp index split into per-dimension coordinates, for root dimension d:
// laneCoord[d] = (lane / laneStride[d]) % threadsPerWarp[d], likewise for warps, and
// base[d] = laneCoord[d] * sizePerThread[d] + warpCoord[d] * sizePerThread[d] * threadsPerWarp[d].
struct ThreadBaseFactors {
  llvm::SmallVector<unsigned> laneStride, warpStride;
};
ThreadBaseFactors getThreadBaseFactors(BlockedAttr blocked);

// The number of distinct coordinates along root dimension `dim` that lanes (resp. warps) of a
// block of the given root shape hold; the others are replicas.
unsigned getDistinctLanes(BlockedAttr blocked, ArrayRef<int64_t> rootShape, unsigned dim);
unsigned getDistinctWarps(BlockedAttr blocked, ArrayRef<int64_t> rootShape, unsigned dim);

// How the threads of a block in layout `root` (blocked, or an untransposed mma layout whose CTA
// tile divides `rootShape`) spread along root dimension `dim`: `lanes` distinct lane coordinates
// whose lane indices differ by multiples of `laneStride` (the xor masks of a butterfly over them
// are laneStride, 2 laneStride, ...), and `warps` distinct warp coordinates, warp index
// (w / warpStride) mod warps. Null for any other layout.
struct AxisThreads {
  unsigned lanes, laneStride, warps, warpStride;
};
std::optional<AxisThreads> getAxisThreads(Attribute root, ArrayRef<int64_t> rootShape,
                                          unsigned dim);

// Whether blocks of `shape` in layouts `a` and `b` hold the same elements in the same registers of
// the same threads, so that a conversion between them moves nothing: equal layouts, and mma
// layouts (or slices of them) that differ only in an instruction width that the warp grid does
// not see (one warp column), or a 16-bit A operand's dot_op layout over such a grid, where the
// blocks have the same register order (a tile of attention probabilities becomes the next
// dot's register operand in place).
bool haveSameDistribution(Attribute a, Attribute b, ArrayRef<int64_t> shape);

// The default layout for a block of `shape` over `numWarps` warps: row-major, each thread
// holding `vector` consecutive elements along the last dimension (clamped to the shape).
BlockedAttr getDefaultBlocked(MLIRContext *context, ArrayRef<int64_t> shape, unsigned numWarps,
                              unsigned vector);

// The blocked layout that a block held in `mma` layout is stored to global memory from: every
// warp keeps the rows it holds in `mma` (16 per CTA tile) and every thread gets 16-byte runs, so
// that one warp-wide access writes four whole 128-byte rows. The conversion needs no CTA-wide
// exchange (see the lowering of convert_layout). Null when `mma` spreads a row over several
// warps, the block does not tile evenly or elements are not 2 or 4 bytes.
BlockedAttr getWarpLocalStoreLayout(MmaAttr mma, ArrayRef<int64_t> shape, unsigned elementBytes);

// Byte offset of element `coord` of a 2-D block of `shape` in `shared`'s layout before the
// swizzle, and the swizzle itself, which applies to absolute shared-memory addresses (buffers
// start at multiples of 1024 bytes).
int64_t getSharedByteOffset(SharedAttr shared, ArrayRef<int64_t> shape, int64_t elementBytes,
                            ArrayRef<int64_t> coord);
int64_t swizzleSharedAddress(int64_t address, unsigned swizzleBytes);

// `type` with `layout` as its encoding.
RankedTensorType withLayout(RankedTensorType type, Attribute layout);

} // namespace mlir::tilegpu

#endif
