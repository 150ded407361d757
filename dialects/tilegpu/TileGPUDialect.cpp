#include "dialects/tilegpu/TileGPUDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tilegpu;

#include "dialects/tilegpu/TileGPUDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/tilegpu/TileGPUAttrs.cpp.inc"
#define GET_TYPEDEF_CLASSES
#include "dialects/tilegpu/TileGPUTypes.cpp.inc"
#define GET_OP_CLASSES
#include "dialects/tilegpu/TileGPUOps.cpp.inc"

namespace {
// Prints layouts as #blocked, #blocked1, #slice... aliases instead of repeating them inline.
struct LayoutAliases : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;
  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (isa<BlockedAttr>(attr)) {
      os << "blocked";
      return AliasResult::FinalAlias;
    }
    if (isa<SliceAttr>(attr)) {
      os << "slice";
      return AliasResult::FinalAlias;
    }
    if (isa<MmaAttr>(attr)) {
      os << "mma";
      return AliasResult::FinalAlias;
    }
    if (isa<DotOperandAttr>(attr)) {
      os << "dot_op";
      return AliasResult::FinalAlias;
    }
    if (isa<SharedAttr>(attr)) {
      os << "shared";
      return AliasResult::FinalAlias;
    }
    return AliasResult::NoAlias;
  }
};
} // namespace

void TileGPUDialect::initialize() {
  addInterfaces<LayoutAliases>();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/tilegpu/TileGPUAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/tilegpu/TileGPUTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/tilegpu/TileGPUOps.cpp.inc"
      >();
}

LogicalResult BlockedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<unsigned> sizePerThread,
                                  ArrayRef<unsigned> threadsPerWarp,
                                  ArrayRef<unsigned> warpsPerCTA, ArrayRef<unsigned> order) {
  size_t rank = sizePerThread.size();
  if (threadsPerWarp.size() != rank || warpsPerCTA.size() != rank || order.size() != rank)
    return emitError() << "blocked layout parameters must all have rank " << rank;
  unsigned lanes = 1, warps = 1;
  for (unsigned d = 0; d < rank; ++d) {
    if (!llvm::isPowerOf2_32(sizePerThread[d]) || !llvm::isPowerOf2_32(threadsPerWarp[d]) ||
        !llvm::isPowerOf2_32(warpsPerCTA[d]))
      return emitError() << "blocked layout sizes must be powers of two";
    lanes *= threadsPerWarp[d];
    warps *= warpsPerCTA[d];
  }
  if (lanes != 32)
    return emitError() << "threadsPerWarp must multiply to 32, got " << lanes;
  SmallVector<bool> seen(rank, false);
  for (unsigned dim : order) {
    if (dim >= rank || seen[dim])
      return emitError() << "order must be a permutation of the dimensions";
    seen[dim] = true;
  }
  return success();
}

OpFoldResult ConvertLayoutOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getType())
    return getSrc();
  // convert(convert(x)) is one conversion from x.
  if (auto inner = getSrc().getDefiningOp<ConvertLayoutOp>()) {
    if (inner.getSrc().getType() == getType())
      return inner.getSrc();
    getSrcMutable().assign(inner.getSrc());
    return getResult();
  }
  return {};
}

LogicalResult MmaAttr::verify(function_ref<InFlightDiagnostic()> emitError, unsigned version,
                              ArrayRef<unsigned> warpsPerCTA, unsigned instrN, bool transposed) {
  if (transposed && version != 3)
    return emitError() << "only a version-3 mma layout can be transposed";
  if (version != 2 && version != 3)
    return emitError() << "mma version must be 2 (mma.sync) or 3 (wgmma), got " << version;
  if (warpsPerCTA.size() != 2 || !llvm::isPowerOf2_32(warpsPerCTA[0]) ||
      !llvm::isPowerOf2_32(warpsPerCTA[1]))
    return emitError() << "mma warpsPerCTA must be two powers of two";
  if (version == 2 && instrN != 8)
    return emitError() << "mma version 2 has instrN = 8, got " << instrN;
  if (version == 3 && (warpsPerCTA[0] % 4 != 0 || instrN % 8 != 0 || instrN < 8 || instrN > 256))
    return emitError() << "mma version 3 needs warpsPerCTA[0] a multiple of 4 and instrN a "
                          "multiple of 8 in [8, 256]";
  return success();
}

LogicalResult DotOperandAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                     unsigned opIdx, Attribute parent, unsigned kWidth) {
  auto mma = dyn_cast<MmaAttr>(parent);
  if (opIdx > 1)
    return emitError() << "dot_op opIdx must be 0 (A) or 1 (B), got " << opIdx;
  bool registerB = mma && mma.getTransposed() && opIdx == 1;
  bool registerA = mma && !mma.getTransposed() && opIdx == 0 && kWidth == 2;
  if (!mma || (mma.getVersion() != 2 && !registerB && !registerA))
    return emitError() << "dot_op parent must be a version-2 mma layout, a version-3 one for a "
                          "16-bit operand 0, or a transposed version-3 one for operand 1";
  if (kWidth != 1 && kWidth != 2)
    return emitError() << "dot_op kWidth must be 1 (tf32) or 2 (16-bit types), got " << kWidth;
  return success();
}

LogicalResult SharedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 unsigned swizzleBytes, ArrayRef<unsigned> order) {
  if (swizzleBytes != 32 && swizzleBytes != 64 && swizzleBytes != 128)
    return emitError() << "shared swizzleBytes must be 32, 64 or 128, got " << swizzleBytes;
  if (order.size() != 2 || !((order[0] == 0 && order[1] == 1) || (order[0] == 1 && order[1] == 0)))
    return emitError() << "shared order must be [1, 0] or [0, 1]";
  return success();
}

Type MemDescType::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  Type elementType;
  Attribute encoding;
  if (parser.parseLess() || parser.parseDimensionList(shape, /*allowDynamic=*/false) ||
      parser.parseType(elementType) || parser.parseComma() || parser.parseAttribute(encoding) ||
      parser.parseGreater())
    return Type();
  return MemDescType::get(parser.getContext(), shape, elementType, encoding);
}

void MemDescType::print(AsmPrinter &printer) const {
  printer << "<";
  for (int64_t size : getShape())
    printer << size << "x";
  printer << getElementType() << ", " << getEncoding() << ">";
}

int64_t MemDescType::getBufferBytes() const {
  ArrayRef<int64_t> shape = getShape();
  int64_t elements = shape[shape.size() - 1] * shape[shape.size() - 2];
  return elements * std::max<int64_t>(1, getElementType().getIntOrFloatBitWidth() / 8);
}

// A memdesc must be 2-D, or 3-D for a ring, with a shared encoding.
static LogicalResult verifyMemDesc(Operation *op, MemDescType type, StringRef what) {
  if (type.getShape().size() != 2 && type.getShape().size() != 3)
    return op->emitOpError() << what << " must be 2-D (or 3-D for a ring), got rank "
                             << type.getShape().size();
  if (!isa<SharedAttr>(type.getEncoding()))
    return op->emitOpError() << what << " must have a #tilegpu.shared encoding";
  return success();
}

LogicalResult LocalAllocOp::verify() {
  auto type = cast<MemDescType>(getType());
  if (failed(verifyMemDesc(*this, type, "result")))
    return failure();
  if (!getSrc())
    return success();
  auto src = cast<RankedTensorType>(getSrc().getType());
  if (src.getShape() != type.getShape() || src.getElementType() != type.getElementType())
    return emitOpError() << "source " << src << " and result " << type
                         << " must have the same shape and element type";
  return success();
}

LogicalResult MemDescIndexOp::verify() {
  auto src = cast<MemDescType>(getSrc().getType());
  auto result = cast<MemDescType>(getType());
  if (src.getShape().size() != 3 || src.getShape().drop_front() != result.getShape() ||
      src.getElementType() != result.getElementType() ||
      src.getEncoding() != result.getEncoding())
    return emitOpError() << "indexes a 3-D ring into one of its 2-D buffers; got " << src
                         << " -> " << result;
  return success();
}

LogicalResult MemDescTransOp::verify() {
  auto src = cast<MemDescType>(getSrc().getType());
  auto result = cast<MemDescType>(getType());
  auto srcLayout = dyn_cast<SharedAttr>(src.getEncoding());
  auto resultLayout = dyn_cast<SharedAttr>(result.getEncoding());
  if (src.getShape().size() != 2 || !srcLayout || !resultLayout)
    return emitOpError() << "transposes a 2-D block in a shared layout; got " << src;
  bool transposed =
      result.getShape().size() == 2 && result.getShape()[0] == src.getShape()[1] &&
      result.getShape()[1] == src.getShape()[0] &&
      result.getElementType() == src.getElementType() &&
      resultLayout.getSwizzleBytes() == srcLayout.getSwizzleBytes() &&
      resultLayout.getOrder()[0] == srcLayout.getOrder()[1] &&
      resultLayout.getOrder()[1] == srcLayout.getOrder()[0];
  if (!transposed)
    return emitOpError() << "result must be the source with its dimensions and its layout's "
                            "order swapped; got "
                         << src << " -> " << result;
  return success();
}

LogicalResult LocalLoadOp::verify() {
  auto src = cast<MemDescType>(getSrc().getType());
  auto result = cast<RankedTensorType>(getType());
  if (failed(verifyMemDesc(*this, src, "source")))
    return failure();
  if (src.getShape() != result.getShape() || src.getElementType() != result.getElementType())
    return emitOpError() << "source " << src << " and result " << result
                         << " must have the same shape and element type";
  return success();
}

LogicalResult AsyncCopyOp::verify() {
  auto ptr = cast<RankedTensorType>(getPtr().getType());
  auto dst = cast<MemDescType>(getDst().getType());
  auto pointee = dyn_cast<tile::PointerType>(ptr.getElementType());
  if (!pointee || pointee.getPointeeType() != dst.getElementType() ||
      ptr.getShape() != dst.getShape())
    return emitOpError() << "pointers " << ptr << " must address a block like " << dst;
  if (getMask() && cast<RankedTensorType>(getMask().getType()).getShape() != ptr.getShape())
    return emitOpError() << "mask must have the pointers' shape";
  return success();
}

LogicalResult MBarriersType::verify(function_ref<InFlightDiagnostic()> emitError,
                                    int64_t count) {
  if (count < 1)
    return emitError() << "an mbarrier ring needs at least one mbarrier, got " << count;
  return success();
}

LogicalResult AsyncTMALoadOp::verify() {
  auto dst = cast<MemDescType>(getDst().getType());
  if (failed(verifyMemDesc(*this, dst, "destination")))
    return failure();
  if (dst.getShape().size() != 2)
    return emitOpError() << "destination must be one 2-D buffer, got " << dst;
  if (getCoords().size() != 2)
    return emitOpError() << "needs 2 coordinates, got " << getCoords().size();
  auto shared = cast<SharedAttr>(dst.getEncoding());
  if (shared.getOrder()[0] != 1)
    return emitOpError() << "destination must be contiguous along its last dimension, got "
                         << shared;
  int64_t rowBytes = dst.getShape()[1] * (dst.getElementType().getIntOrFloatBitWidth() / 8);
  if (rowBytes % shared.getSwizzleBytes() != 0)
    return emitOpError() << "destination rows of " << rowBytes
                         << " bytes are not a whole number of " << shared.getSwizzleBytes()
                         << "-byte swizzle runs";
  if (dst.getShape()[0] > kMaxTMABoxExtent)
    return emitOpError() << "a TMA box has at most " << kMaxTMABoxExtent << " rows, got "
                         << dst.getShape()[0];
  return success();
}

// The shape of a wgmma operand (a shared-memory or register block); empty for anything else.
static ArrayRef<int64_t> operandShape(Type type) {
  if (auto memory = dyn_cast<MemDescType>(type))
    return memory.getShape();
  if (auto registers = dyn_cast<RankedTensorType>(type))
    return registers.getShape();
  return {};
}

LogicalResult WarpGroupDotOp::verify() {
  Type a = getA().getType(), b = getB().getType();
  auto acc = cast<RankedTensorType>(getAcc().getType());
  ArrayRef<int64_t> aShape = operandShape(a), bShape = operandShape(b);
  if (aShape.empty())
    return emitOpError() << "a must be a shared-memory block or a register block, got " << a;
  if (bShape.empty())
    return emitOpError() << "b must be a shared-memory block or a register block, got " << b;
  if (aShape.size() != 2 || bShape.size() != 2 || aShape[1] != bShape[0] ||
      acc.getShape()[0] != aShape[0] || acc.getShape()[1] != bShape[1])
    return emitOpError() << "shapes do not chain: " << a << " @ " << b << " + " << acc;
  auto mma = dyn_cast_or_null<MmaAttr>(acc.getEncoding());
  if (!mma || mma.getVersion() != 3)
    return emitOpError() << "accumulator must have a version-3 mma layout";
  if (isa<RankedTensorType>(b) != mma.getTransposed())
    return emitOpError() << "b comes from registers exactly when the accumulator's layout is "
                            "transposed";
  if (auto registers = dyn_cast<RankedTensorType>(a)) {
    auto operand = dyn_cast_or_null<DotOperandAttr>(registers.getEncoding());
    if (isa<RankedTensorType>(b) || !operand || operand.getOpIdx() != 0 ||
        operand.getParent() != mma)
      return emitOpError() << "a in registers must have the dot_op layout (opIdx 0) of the "
                              "accumulator's layout, with b in shared memory; got "
                           << a;
  }
  if (auto registers = dyn_cast<RankedTensorType>(b)) {
    auto operand = dyn_cast_or_null<DotOperandAttr>(registers.getEncoding());
    if (!operand || operand.getOpIdx() != 1 || operand.getParent() != mma)
      return emitOpError() << "b in registers must have the dot_op layout (opIdx 1) of the "
                              "accumulator's layout, got " << b;
  }
  if (getType() != acc)
    return emitOpError() << "result must have the accumulator's type";
  return success();
}
