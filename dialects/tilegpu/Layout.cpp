#include "dialects/tilegpu/Layout.h"

#include "llvm/ADT/STLExtras.h"
#include <set>

using namespace mlir;
using namespace mlir::tilegpu;

Attribute mlir::tilegpu::getRootLayout(Attribute layout) {
  if (auto slice = dyn_cast<SliceAttr>(layout))
    return getRootLayout(slice.getParent());
  return layout;
}

BlockedAttr mlir::tilegpu::getRootBlocked(Attribute layout) {
  return cast<BlockedAttr>(getRootLayout(layout));
}

unsigned mlir::tilegpu::getRootRank(Attribute layout) {
  if (auto blocked = dyn_cast<BlockedAttr>(getRootLayout(layout)))
    return blocked.getOrder().size();
  return 2;
}

SmallVector<unsigned> mlir::tilegpu::getSlicedDims(Attribute layout) {
  auto slice = dyn_cast<SliceAttr>(layout);
  if (!slice)
    return {};
  SmallVector<unsigned> sliced = getSlicedDims(slice.getParent());
  // The slice's `dim` counts the dimensions its parent still has.
  unsigned rootRank = getRootRank(layout);
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

// A thread's elements of a block in a blocked layout, as full-rank offsets from its base.
static SmallVector<SmallVector<int64_t>> getBlockedOffsets(BlockedAttr blocked,
                                                           ArrayRef<int64_t> rootShape) {
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
  forEachIndex(reps, [&](ArrayRef<int64_t> rep) {
    forEachIndex(perThread, [&](ArrayRef<int64_t> within) {
      SmallVector<int64_t> offset;
      for (unsigned d = 0; d < rank; ++d)
        offset.push_back(rep[d] * tile[d] + within[d]);
      offsets.push_back(offset);
    });
  });
  return offsets;
}

Attribute mlir::tilegpu::getUntransposedLayout(Attribute layout) {
  auto untransposed = [](MmaAttr mma) {
    return MmaAttr::get(mma.getContext(), mma.getVersion(), mma.getWarpsPerCTA(),
                        mma.getInstrN());
  };
  if (auto mma = dyn_cast<MmaAttr>(layout))
    return mma.getTransposed() ? Attribute(untransposed(mma)) : Attribute();
  if (auto operand = dyn_cast<DotOperandAttr>(layout)) {
    auto mma = cast<MmaAttr>(operand.getParent());
    if (mma.getTransposed())
      return DotOperandAttr::get(layout.getContext(), 1 - operand.getOpIdx(), untransposed(mma),
                                 operand.getKWidth());
  }
  return {};
}

MmaTile mlir::tilegpu::getMmaTile(Attribute layout) {
  if (auto mma = dyn_cast<MmaAttr>(layout))
    return {mma.getWarpsPerCTA()[0], mma.getWarpsPerCTA()[1], 16 * mma.getWarpsPerCTA()[0],
            int64_t(mma.getInstrN()) * mma.getWarpsPerCTA()[1]};
  auto operand = cast<DotOperandAttr>(layout);
  auto mma = cast<MmaAttr>(operand.getParent());
  unsigned wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
  int64_t tileK = 8 * operand.getKWidth();
  if (operand.getOpIdx() == 0)
    return {wm, wn, 16 * wm, tileK};
  return {wm, wn, tileK, 8 * int64_t(wn)};
}

// Register order of the mma layouts, which the tensor-core lowering relies on:
//   accumulator: [repM][repN][8-column group j][row half i][column c];
//   A operand:   [repM][repK][k half h][row half i][k element e];
//   B operand:   [repN][repK][k half h][k element e].
static SmallVector<SmallVector<int64_t>> getMmaOffsets(Attribute layout,
                                                       ArrayRef<int64_t> shape) {
  MmaTile tile = getMmaTile(layout);
  int64_t reps0 = std::max<int64_t>(1, shape[0] / tile.rows);
  int64_t reps1 = std::max<int64_t>(1, shape[1] / tile.cols);
  SmallVector<SmallVector<int64_t>> offsets;
  if (auto mma = dyn_cast<MmaAttr>(layout)) {
    for (int64_t rm = 0; rm < reps0; ++rm)
      for (int64_t rn = 0; rn < reps1; ++rn)
        for (int64_t j = 0; j < mma.getInstrN() / 8; ++j)
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t c = 0; c < 2; ++c)
              offsets.push_back({rm * tile.rows + 8 * i, rn * tile.cols + 8 * j + c});
    return offsets;
  }
  auto operand = cast<DotOperandAttr>(layout);
  int64_t kWidth = operand.getKWidth();
  if (operand.getOpIdx() == 0) {
    for (int64_t rm = 0; rm < reps0; ++rm)
      for (int64_t rk = 0; rk < reps1; ++rk)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t e = 0; e < kWidth; ++e)
              offsets.push_back({rm * tile.rows + 8 * i, rk * tile.cols + 4 * kWidth * h + e});
    return offsets;
  }
  for (int64_t rn = 0; rn < reps1; ++rn)
    for (int64_t rk = 0; rk < reps0; ++rk)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t e = 0; e < kWidth; ++e)
          offsets.push_back({rk * tile.rows + 4 * kWidth * h + e, rn * tile.cols});
  return offsets;
}

SmallVector<SmallVector<int64_t>> mlir::tilegpu::getElementOffsets(Attribute layout,
                                                                   ArrayRef<int64_t> shape) {
  Attribute root = getRootLayout(layout);
  SmallVector<unsigned> sliced = getSlicedDims(layout);
  SmallVector<int64_t> rootShape = getRootShape(layout, shape);
  SmallVector<SmallVector<int64_t>> full;
  if (auto blocked = dyn_cast<BlockedAttr>(root)) {
    full = getBlockedOffsets(blocked, rootShape);
  } else if (Attribute plain = getUntransposedLayout(root)) {
    full = getMmaOffsets(plain, {rootShape[1], rootShape[0]});
    for (SmallVector<int64_t> &offset : full)
      std::swap(offset[0], offset[1]);
  } else {
    full = getMmaOffsets(root, rootShape);
  }
  SmallVector<SmallVector<int64_t>> offsets;
  std::set<SmallVector<int64_t>> seen;
  for (ArrayRef<int64_t> rootOffset : full) {
    SmallVector<int64_t> offset;
    for (unsigned d = 0; d < rootOffset.size(); ++d)
      if (!llvm::is_contained(sliced, d))
        offset.push_back(rootOffset[d] % rootShape[d]);
    if (seen.insert(offset).second)
      offsets.push_back(offset);
  }
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

std::optional<AxisThreads> mlir::tilegpu::getAxisThreads(Attribute root,
                                                         ArrayRef<int64_t> rootShape,
                                                         unsigned dim) {
  if (auto blocked = dyn_cast<BlockedAttr>(root)) {
    ThreadBaseFactors factors = getThreadBaseFactors(blocked);
    return AxisThreads{getDistinctLanes(blocked, rootShape, dim), factors.laneStride[dim],
                       getDistinctWarps(blocked, rootShape, dim), factors.warpStride[dim]};
  }
  auto mma = dyn_cast<MmaAttr>(root);
  if (!mma || mma.getTransposed())
    return std::nullopt;
  MmaTile tile = getMmaTile(mma);
  if (rootShape.size() != 2 || rootShape[0] % tile.rows != 0 || rootShape[1] % tile.cols != 0)
    return std::nullopt;
  // A thread's base is (16 warpM + lane / 4, instrN warpN + 2 (lane mod 4)), warpM = w mod warpsM.
  if (dim == 0)
    return AxisThreads{8, 4, tile.warpsM, 1};
  return AxisThreads{4, 1, tile.warpsN, tile.warpsM};
}

// The mma layout whose threads hold a block in `root` at the bases of an accumulator: an
// untransposed mma layout, or the dot_op layout of a 16-bit A operand (base column 2 (lane mod 4),
// as the accumulator's, within one warp column). Null otherwise.
static MmaAttr getAccumulatorLike(Attribute root) {
  if (auto operand = dyn_cast<DotOperandAttr>(root)) {
    auto parent = dyn_cast<MmaAttr>(operand.getParent());
    if (operand.getOpIdx() != 0 || operand.getKWidth() != 2 || !parent ||
        parent.getWarpsPerCTA()[1] != 1)
      return {};
    root = parent;
  }
  auto mma = dyn_cast<MmaAttr>(root);
  return mma && !mma.getTransposed() ? mma : MmaAttr();
}

bool mlir::tilegpu::haveSameDistribution(Attribute a, Attribute b, ArrayRef<int64_t> shape) {
  if (a == b)
    return true;
  Attribute rootA = getRootLayout(a), rootB = getRootLayout(b);
  MmaAttr mmaA = getAccumulatorLike(rootA), mmaB = getAccumulatorLike(rootB);
  if (!mmaA || !mmaB || mmaA.getWarpsPerCTA() != mmaB.getWarpsPerCTA() ||
      getSlicedDims(a) != getSlicedDims(b))
    return false;
  // The instruction width moves a thread's base only through the warp's column.
  if ((rootA != rootB) && mmaA.getWarpsPerCTA()[1] != 1)
    return false;
  return getElementOffsets(a, shape) == getElementOffsets(b, shape);
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

BlockedAttr mlir::tilegpu::getWarpLocalStoreLayout(MmaAttr mma, ArrayRef<int64_t> shape,
                                                    unsigned elementBytes) {
  if (mma.getTransposed())
    return {};
  MmaTile tile = getMmaTile(mma);
  if (shape.size() != 2 || tile.warpsN != 1 || (elementBytes != 2 && elementBytes != 4))
    return {};
  // Threads: 4 rows x 16 bytes; lanes: 4 x 8, so a warp covers 16 rows x 128 bytes.
  unsigned run = 16 / elementBytes;
  if (shape[0] % tile.rows != 0 || shape[1] % (8 * run) != 0)
    return {};
  return BlockedAttr::get(mma.getContext(), {4, run}, {4, 8}, {tile.warpsM, 1}, {1, 0});
}

RankedTensorType mlir::tilegpu::withLayout(RankedTensorType type, Attribute layout) {
  return RankedTensorType::get(type.getShape(), type.getElementType(), layout);
}

int64_t mlir::tilegpu::getSharedByteOffset(SharedAttr shared, ArrayRef<int64_t> shape,
                                           int64_t elementBytes, ArrayRef<int64_t> coord) {
  unsigned contiguous = shared.getOrder()[0], strided = shared.getOrder()[1];
  int64_t runElements = shared.getSwizzleBytes() / elementBytes;
  int64_t run = coord[contiguous] / runElements, within = coord[contiguous] % runElements;
  return run * shape[strided] * shared.getSwizzleBytes() +
         coord[strided] * shared.getSwizzleBytes() + within * elementBytes;
}

int64_t mlir::tilegpu::swizzleSharedAddress(int64_t address, unsigned swizzleBytes) {
  int64_t mask = swizzleBytes / 16 - 1;
  return address ^ (((address >> 7) & mask) << 4);
}
