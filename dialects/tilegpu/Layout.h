// What a layout means: which elements of a block each thread holds. Shared by the layout
// assignment pass and the lowering to LLVM.
#ifndef TESSERA_DIALECTS_TILEGPU_LAYOUT_H
#define TESSERA_DIALECTS_TILEGPU_LAYOUT_H

#include "dialects/tilegpu/TileGPUDialect.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::tilegpu {

// The blocked layout at the root of a (possibly nested) slice layout.
BlockedAttr getRootBlocked(Attribute layout);

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

// The default layout for a block of `shape` over `numWarps` warps: row-major, each thread
// holding `vector` consecutive elements along the last dimension (clamped to the shape).
BlockedAttr getDefaultBlocked(MLIRContext *context, ArrayRef<int64_t> shape, unsigned numWarps,
                              unsigned vector);

// `type` with `layout` as its encoding.
RankedTensorType withLayout(RankedTensorType type, Attribute layout);

} // namespace mlir::tilegpu

#endif
