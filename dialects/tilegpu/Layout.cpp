#include "dialects/tilegpu/Layout.h"

#include "llvm/ADT/STLExtras.h"
#include <set>

using namespace mlir;
using namespace mlir::tilegpu;

BlockedAttr mlir::tilegpu::getRootBlocked(Attribute layout) {
  if (auto slice = dyn_cast<SliceAttr>(layout))
    return getRootBlocked(slice.getParent());
  return cast<BlockedAttr>(layout);
}

SmallVector<unsigned> mlir::tilegpu::getSlicedDims(Attribute layout) {
  auto slice = dyn_cast<SliceAttr>(layout);
  if (!slice)
    return {};
  SmallVector<unsigned> sliced = getSlicedDims(slice.getParent());
  // The slice's `dim` counts the dimensions its parent still has.
  unsigned rootRank = getRootBlocked(layout).getOrder().size();
  SmallVector<unsigned> remaining;
  for (unsigned d = 0; d < rootRank; ++d)
    if (!llvm::is_contained(sliced, d))
      remaining.push_back(d);
  sliced.push_back(remaining[slice.getDim()]);
  llvm::sort(sliced);
  return sliced;
}

SmallVector<int64_t> mlir::tilegpu::getRootShape(Attribute layout, ArrayRef<int64_t> shape) {
  SmallVector<int64_t> root(shape);
  for (unsigned dim : getSlicedDims(layout))
    root.insert(root.begin() + dim, 1);
  return root;
}

SmallVector<SmallVector<int64_t>> mlir::tilegpu::getElementOffsets(Attribute layout,
                                                                   ArrayRef<int64_t> shape) {
  BlockedAttr blocked = getRootBlocked(layout);
  SmallVector<unsigned> sliced = getSlicedDims(layout);
  SmallVector<int64_t> rootShape = getRootShape(layout, shape);
  ArrayRef<unsigned> spt = blocked.getSizePerThread(), order = blocked.getOrder();
  unsigned rank = rootShape.size();

  SmallVector<int64_t> tile(rank), reps(rank);
  for (unsigned d = 0; d < rank; ++d) {
    tile[d] = int64_t(spt[d]) * blocked.getThreadsPerWarp()[d] * blocked.getWarpsPerCTA()[d];
    reps[d] = std::max<int64_t>(1, rootShape[d] / tile[d]);
  }
  // Enumerates a multi-index with order[0] varying fastest.
  auto forEachIndex = [&](ArrayRef<int64_t> extent, function_ref<void(ArrayRef<int64_t>)> fn) {
    SmallVector<int64_t> index(rank, 0);
    while (true) {
      fn(index);
      unsigned k = 0;
      for (; k < rank; ++k) {
        unsigned d = order[k];
        if (++index[d] < extent[d])
          break;
        index[d] = 0;
      }
      if (k == rank)
        return;
    }
  };
  SmallVector<int64_t> perThread(spt.begin(), spt.end());
  SmallVector<SmallVector<int64_t>> offsets;
  std::set<SmallVector<int64_t>> seen;
  forEachIndex(reps, [&](ArrayRef<int64_t> rep) {
    forEachIndex(perThread, [&](ArrayRef<int64_t> within) {
      SmallVector<int64_t> offset;
      for (unsigned d = 0; d < rank; ++d)
        if (!llvm::is_contained(sliced, d))
          offset.push_back((rep[d] * tile[d] + within[d]) % rootShape[d]);
      if (seen.insert(offset).second)
        offsets.push_back(offset);
    });
  });
  return offsets;
}

unsigned mlir::tilegpu::getElementsPerThread(RankedTensorType type) {
  return getElementOffsets(type.getEncoding(), type.getShape()).size();
}

ThreadBaseFactors mlir::tilegpu::getThreadBaseFactors(BlockedAttr blocked) {
  unsigned rank = blocked.getOrder().size();
  ThreadBaseFactors factors{SmallVector<unsigned>(rank), SmallVector<unsigned>(rank)};
  unsigned lane = 1, warp = 1;
  for (unsigned d : blocked.getOrder()) {
    factors.laneStride[d] = lane;
    factors.warpStride[d] = warp;
    lane *= blocked.getThreadsPerWarp()[d];
    warp *= blocked.getWarpsPerCTA()[d];
  }
  return factors;
}

unsigned mlir::tilegpu::getDistinctLanes(BlockedAttr blocked, ArrayRef<int64_t> rootShape,
                                         unsigned dim) {
  int64_t groups = std::max<int64_t>(1, rootShape[dim] / blocked.getSizePerThread()[dim]);
  return std::min<int64_t>(blocked.getThreadsPerWarp()[dim], groups);
}

unsigned mlir::tilegpu::getDistinctWarps(BlockedAttr blocked, ArrayRef<int64_t> rootShape,
                                         unsigned dim) {
  int64_t warpTile =
      int64_t(blocked.getSizePerThread()[dim]) * blocked.getThreadsPerWarp()[dim];
  int64_t groups = std::max<int64_t>(1, rootShape[dim] / warpTile);
  return std::min<int64_t>(blocked.getWarpsPerCTA()[dim], groups);
}

BlockedAttr mlir::tilegpu::getDefaultBlocked(MLIRContext *context, ArrayRef<int64_t> shape,
                                             unsigned numWarps, unsigned vector) {
  unsigned rank = shape.size();
  SmallVector<unsigned> spt(rank, 1), tpw(rank, 1), wpc(rank, 1), order;
  for (unsigned d = rank; d-- > 0;)
    order.push_back(d);
  spt[rank - 1] = std::max<int64_t>(1, std::min<int64_t>(vector, shape[rank - 1]));
  // Lanes, then warps, go to the fastest dimensions first; what the shape cannot use lands on
  // the fastest dimension as replicas.
  unsigned lanes = 32, warps = numWarps;
  for (unsigned d : order) {
    int64_t room = std::max<int64_t>(1, shape[d] / spt[d]);
    tpw[d] = std::min<int64_t>(lanes, room);
    lanes /= tpw[d];
  }
  tpw[order[0]] *= lanes;
  for (unsigned d : order) {
    int64_t room = std::max<int64_t>(1, shape[d] / (int64_t(spt[d]) * tpw[d]));
    wpc[d] = std::min<int64_t>(warps, room);
    warps /= wpc[d];
  }
  wpc[order[0]] *= warps;
  return BlockedAttr::get(context, spt, tpw, wpc, order);
}

RankedTensorType mlir::tilegpu::withLayout(RankedTensorType type, Attribute layout) {
  return RankedTensorType::get(type.getShape(), type.getElementType(), layout);
}
