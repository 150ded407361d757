#include "dialects/tile/TileDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Transforms/InliningUtils.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tile;

#include "dialects/tile/TileDialect.cpp.inc"
#define GET_TYPEDEF_CLASSES
#include "dialects/tile/TileTypes.cpp.inc"
#define GET_OP_CLASSES
#include "dialects/tile/TileOps.cpp.inc"

namespace {
// Tile ops have no semantics tied to their enclosing function, so calls between kernels' helper
// functions may always be inlined.
struct TileInlinerInterface : public DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Operation *, bool) const final { return true; }
  bool isLegalToInline(Region *, Region *, bool, IRMapping &) const final { return true; }
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final { return true; }
};
} // namespace

void TileDialect::initialize() {
  addInterfaces<TileInlinerInterface>();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/tile/TileTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/tile/TileOps.cpp.inc"
      >();
}

Operation *TileDialect::materializeConstant(OpBuilder &builder, Attribute value, Type type,
                                            Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}

// "4x16" for a block, "scalar" otherwise: the shape as diagnostics print it.
static std::string shapeString(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return "scalar";
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(tensor.getShape(), os, "x");
  return text;
}

static ArrayRef<int64_t> shapeOf(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return tensor.getShape();
  return {};
}

static bool sameShape(Type a, Type b) {
  return isa<RankedTensorType>(a) == isa<RankedTensorType>(b) && shapeOf(a) == shapeOf(b);
}

LogicalResult MakeRangeOp::verify() {
  int64_t start = getStart(), end = getEnd();
  if (end <= start)
    return emitOpError("needs end > start, got [") << start << ", " << end << ")";
  if (!llvm::isPowerOf2_64(end - start))
    return emitOpError("range length must be a power of two, got ") << end - start;
  auto type = getType();
  if (type.getRank() != 1 || type.getDimSize(0) != end - start)
    return emitOpError("result must be tensor<") << end - start << "xi32>, got " << type;
  return success();
}

LogicalResult SplatOp::verify() {
  if (getType().getElementType() != getSrc().getType())
    return emitOpError("result element type ")
           << getType().getElementType() << " differs from the scalar's type "
           << getSrc().getType();
  return success();
}

OpFoldResult SplatOp::fold(FoldAdaptor adaptor) {
  Attribute value = adaptor.getSrc();
  if (!isa_and_nonnull<IntegerAttr, FloatAttr>(value))
    return {};
  return SplatElementsAttr::get(getType(), value);
}

LogicalResult BroadcastOp::verify() {
  ArrayRef<int64_t> from = getSrc().getType().getShape(), to = getType().getShape();
  if (from.size() != to.size())
    return emitOpError("cannot broadcast rank ") << from.size() << " to rank " << to.size();
  for (auto [i, dims] : llvm::enumerate(llvm::zip(from, to)))
    if (std::get<0>(dims) != 1 && std::get<0>(dims) != std::get<1>(dims))
      return emitOpError("cannot broadcast ")
             << shapeString(getSrc().getType()) << " to " << shapeString(getType())
             << ": dimension " << i << " is neither 1 nor equal";
  return success();
}

LogicalResult ExpandDimsOp::verify() {
  auto src = getSrc().getType();
  int64_t axis = getAxis();
  if (axis < 0 || axis > src.getRank())
    return emitOpError("axis ") << axis << " out of range [0, " << src.getRank() << "]";
  SmallVector<int64_t> expected(src.getShape());
  expected.insert(expected.begin() + axis, 1);
  if (getType().getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape ") << shapeString(getType()) << " should be "
                                        << shapeString(src.clone(expected));
  return success();
}

LogicalResult ReshapeOp::verify() {
  if (getSrc().getType().getNumElements() != getType().getNumElements())
    return emitOpError("cannot reshape ")
           << shapeString(getSrc().getType()) << " to " << shapeString(getType())
           << ": element counts differ";
  return success();
}

LogicalResult TransOp::verify() {
  auto src = getSrc().getType();
  ArrayRef<int32_t> order = getOrder();
  if (static_cast<int64_t>(order.size()) != src.getRank())
    return emitOpError("order has ") << order.size() << " entries for rank " << src.getRank();
  SmallVector<bool> seen(order.size(), false);
  SmallVector<int64_t> expected;
  for (int32_t dim : order) {
    if (dim < 0 || dim >= src.getRank() || seen[dim])
      return emitOpError("order must be a permutation of [0, ") << src.getRank() << ")";
    seen[dim] = true;
    expected.push_back(src.getDimSize(dim));
  }
  if (getType().getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape ") << shapeString(getType()) << " should be "
                                        << shapeString(src.clone(expected));
  return success();
}

LogicalResult AddPtrOp::verify() {
  if (!sameShape(getPtr().getType(), getOffset().getType()))
    return emitOpError("offset shape ")
           << shapeString(getOffset().getType()) << " differs from pointer shape "
           << shapeString(getPtr().getType());
  return success();
}

// Checks that `ptr` addresses elements of `value`'s type, with the same shape.
static LogicalResult verifyPointee(Operation *op, Type ptr, Type value, StringRef what) {
  auto pointee = cast<PointerType>(getElementTypeOrSelf(ptr)).getPointeeType();
  if (pointee != getElementTypeOrSelf(value))
    return op->emitOpError() << what << " element type " << getElementTypeOrSelf(value)
                             << " differs from the pointee type " << pointee;
  if (!sameShape(ptr, value))
    return op->emitOpError() << what << " shape " << shapeString(value)
                             << " differs from pointer shape " << shapeString(ptr);
  return success();
}

static LogicalResult verifyMask(Operation *op, Value mask, Type ptr) {
  if (mask && !sameShape(mask.getType(), ptr))
    return op->emitOpError("mask shape ")
           << shapeString(mask.getType()) << " differs from pointer shape " << shapeString(ptr);
  return success();
}

LogicalResult LoadOp::verify() {
  if (failed(verifyPointee(*this, getPtr().getType(), getType(), "result")) ||
      failed(verifyMask(*this, getMask(), getPtr().getType())))
    return failure();
  if (getOther() && !getMask())
    return emitOpError("'other' needs a mask");
  if (getOther() && getOther().getType() != getType())
    return emitOpError("'other' type ") << getOther().getType() << " differs from result type "
                                        << getType();
  if (!getTensorMap()) {
    if (!getCoords().empty())
      return emitOpError("has coordinates but no tensor map");
    return success();
  }
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type)
    return emitOpError("through a tensor map must load a block");
  if (getCoords().size() != static_cast<size_t>(type.getRank()))
    return emitOpError("through a tensor map needs one coordinate per dimension: ")
           << getCoords().size() << " for a block of rank " << type.getRank();
  if (type.getElementType().isInteger(1))
    return emitOpError("through a tensor map cannot load i1 blocks");
  return success();
}

LogicalResult StoreOp::verify() {
  if (failed(verifyPointee(*this, getPtr().getType(), getValue().getType(), "value")))
    return failure();
  return verifyMask(*this, getMask(), getPtr().getType());
}

// The memory ordering and scope of an atomic, as PTX's `atom` names them.
static LogicalResult verifyOrdering(Operation *op, StringRef sem, StringRef scope) {
  if (!llvm::is_contained({"relaxed", "acquire", "release", "acq_rel"}, sem))
    return op->emitOpError("sem must be relaxed, acquire, release or acq_rel, got '") << sem << "'";
  if (!llvm::is_contained({"cta", "gpu", "sys"}, scope))
    return op->emitOpError("scope must be cta, gpu or sys, got '") << scope << "'";
  return success();
}

static bool isWord(Type type) {
  return type.isIntOrFloat() && llvm::is_contained({32u, 64u}, type.getIntOrFloatBitWidth());
}

LogicalResult AtomicRMWOp::verify() {
  if (failed(verifyPointee(*this, getPtr().getType(), getValue().getType(), "value")) ||
      failed(verifyMask(*this, getMask(), getPtr().getType())) ||
      failed(verifyOrdering(*this, getSem(), getScope())))
    return failure();
  if (getType() != getValue().getType())
    return emitOpError("result type ")
           << getType() << " differs from value type " << getValue().getType();
  Type element = getElementTypeOrSelf(getValue().getType());
  StringRef kind = getKind();
  bool integerWord = element.isInteger(32) || element.isInteger(64);
  if (llvm::is_contained({"add", "max", "min", "umax", "umin", "and", "or", "xor"}, kind)) {
    if (!integerWord)
      return emitOpError("'") << kind << "' takes i32 or i64 elements, got " << element;
  } else if (kind == "fadd") {
    if (!element.isF16() && !element.isF32() && !element.isF64())
      return emitOpError("'fadd' takes f16, f32 or f64 elements, got ") << element;
  } else if (kind == "xchg") {
    if (!isWord(element))
      return emitOpError("'xchg' takes 32- or 64-bit elements, got ") << element;
  } else {
    return emitOpError("unknown kind '")
           << kind << "'; expected add, fadd, max, min, umax, umin, and, or, xor or xchg";
  }
  return success();
}

LogicalResult AtomicCASOp::verify() {
  if (failed(verifyPointee(*this, getPtr().getType(), getValue().getType(), "value")) ||
      failed(verifyOrdering(*this, getSem(), getScope())))
    return failure();
  Type element = getElementTypeOrSelf(getValue().getType());
  if (!isWord(element))
    return emitOpError("takes 32- or 64-bit elements, got ") << element;
  return success();
}

PrintFormat PrintOp::getFormat(unsigned index) {
  Type element = getElementTypeOrSelf(getValues()[index].getType());
  if (isa<PointerType>(element))
    return {PrintFormat::Hex, 64};
  unsigned width = element.getIntOrFloatBitWidth();
  if (getHex())
    return {PrintFormat::Hex, width};
  if (isa<FloatType>(element))
    return {PrintFormat::Float, width};
  return {getIsSigned()[index] && width > 1 ? PrintFormat::Signed : PrintFormat::Unsigned, width};
}

LogicalResult PrintOp::verify() {
  if (getIsSigned().size() != getValues().size())
    return emitOpError("has ") << getIsSigned().size() << " is_signed entries for "
                               << getValues().size() << " values";
  RankedTensorType first;
  for (Value value : getValues()) {
    auto block = dyn_cast<RankedTensorType>(value.getType());
    if (!block)
      continue;
    if (first && first.getShape() != block.getShape())
      return emitOpError("prints blocks of different shapes: ")
             << shapeString(first) << " and " << shapeString(block);
    if (!first)
      first = block;
  }
  return success();
}

LogicalResult BreakpointOp::verify() {
  size_t count = getValues().size();
  if (getNames().size() != count || getIsSigned().size() != count)
    return emitOpError("has ") << getNames().size() << " names and " << getIsSigned().size()
                               << " is_signed entries for " << count << " values";
  llvm::StringSet<> seen;
  for (Attribute name : getNames()) {
    StringRef text = cast<StringAttr>(name).getValue();
    if (text.empty())
      return emitOpError("has an empty name");
    if (!seen.insert(text).second)
      return emitOpError("names '") << text << "' twice";
  }
  return success();
}

LogicalResult ReduceOp::verify() {
  if (getSrcs().empty())
    return emitOpError("needs at least one operand");
  auto first = cast<RankedTensorType>(getSrcs().front().getType());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= first.getRank())
    return emitOpError("axis ") << axis << " out of range for rank " << first.getRank();
  if (getNumResults() != getSrcs().size())
    return emitOpError("has ") << getSrcs().size() << " operands but " << getNumResults()
                               << " results";
  SmallVector<int64_t> reduced(first.getShape());
  reduced.erase(reduced.begin() + axis);
  for (auto [src, result] : llvm::zip(getSrcs(), getResults())) {
    if (cast<RankedTensorType>(src.getType()).getShape() != first.getShape())
      return emitOpError("operands must have one shape, got ")
             << shapeString(first) << " and " << shapeString(src.getType());
    Type element = getElementTypeOrSelf(src.getType());
    if (getElementTypeOrSelf(result.getType()) != element)
      return emitOpError("result element type ")
             << getElementTypeOrSelf(result.getType()) << " differs from operand's " << element;
    bool scalarResult = !isa<RankedTensorType>(result.getType());
    if (reduced.empty() ? !scalarResult
                        : scalarResult || shapeOf(result.getType()) != ArrayRef(reduced))
      return emitOpError("result ") << result.getType() << " should be "
                                    << (reduced.empty() ? "a scalar" : "a block of shape ")
                                    << (reduced.empty() ? "" : shapeString(first.clone(reduced)));
  }
  return success();
}

LogicalResult ReduceOp::verifyRegions() {
  Block &body = getCombiner().front();
  size_t n = getSrcs().size();
  if (body.getNumArguments() != 2 * n)
    return emitOpError("combiner takes ") << body.getNumArguments() << " arguments, expected "
                                          << 2 * n;
  for (size_t i = 0; i < 2 * n; ++i) {
    Type element = getElementTypeOrSelf(getSrcs()[i % n].getType());
    if (body.getArgument(i).getType() != element)
      return emitOpError("combiner argument ") << i << " has type "
                                               << body.getArgument(i).getType() << ", expected "
                                               << element;
  }
  auto terminator = dyn_cast<ReduceReturnOp>(body.getTerminator());
  if (!terminator)
    return emitOpError("combiner must end in tile.reduce.return");
  if (terminator.getResults().size() != n)
    return terminator.emitOpError("returns ") << terminator.getResults().size()
                                              << " values, expected " << n;
  for (size_t i = 0; i < n; ++i)
    if (terminator.getResults()[i].getType() != getElementTypeOrSelf(getSrcs()[i].getType()))
      return terminator.emitOpError("value ") << i << " has the wrong type";
  return success();
}

LogicalResult DotOp::verify() {
  auto a = getA().getType(), b = getB().getType(), acc = getAcc().getType();
  if (a.getRank() != 2 || b.getRank() != 2 || acc.getRank() != 2)
    return emitOpError("operands must be 2-D, got ")
           << shapeString(a) << ", " << shapeString(b) << " and " << shapeString(acc);
  if (a.getDimSize(1) != b.getDimSize(0))
    return emitOpError("inner dimensions differ: a is ")
           << shapeString(a) << " and b is " << shapeString(b);
  if (acc.getDimSize(0) != a.getDimSize(0) || acc.getDimSize(1) != b.getDimSize(1))
    return emitOpError("accumulator is ") << shapeString(acc) << ", expected "
                                          << a.getDimSize(0) << "x" << b.getDimSize(1);
  if (a.getElementType() != b.getElementType())
    return emitOpError("operand element types differ: ")
           << a.getElementType() << " and " << b.getElementType();
  if (getInputPrecision() != "ieee" && getInputPrecision() != "tf32")
    return emitOpError("input_precision must be \"ieee\" or \"tf32\", got \"")
           << getInputPrecision() << "\"";
  Type in = a.getElementType(), out = acc.getElementType();
  bool floatDot = isa<FloatType>(in) && isa<FloatType>(out);
  bool intDot = in.isInteger(8) && out.isInteger(32);
  if (!floatDot && !intDot)
    return emitOpError("unsupported operand/accumulator types ") << in << " -> " << out;
  for (int64_t dim : {a.getDimSize(0), a.getDimSize(1), b.getDimSize(1)})
    if (dim < 1 || !llvm::isPowerOf2_64(dim))
      return emitOpError("dimensions must be powers of two, got ")
             << shapeString(a) << " and " << shapeString(b);
  return success();
}

// Checks one list of a tile.hint's facts: an entry per dimension (one for a scalar), each a
// positive power of two.
static LogicalResult verifyHintFacts(HintOp op, std::optional<ArrayRef<int64_t>> facts,
                                     StringRef name) {
  if (!facts)
    return success();
  size_t expected = std::max<size_t>(1, shapeOf(op.getType()).size());
  if (facts->size() != expected)
    return op.emitOpError() << name << " has " << facts->size() << " entries, expected "
                            << expected << " (one per dimension, one for a scalar)";
  for (int64_t fact : *facts)
    if (fact < 1 || !llvm::isPowerOf2_64(fact))
      return op.emitOpError() << name << " entries must be positive powers of two, got "
                              << fact;
  return success();
}

LogicalResult HintOp::verify() {
  if (!getDivisibility() && !getContiguity())
    return emitOpError("needs a divisibility or a contiguity");
  if (failed(verifyHintFacts(*this, getDivisibility(), "divisibility")) ||
      failed(verifyHintFacts(*this, getContiguity(), "contiguity")))
    return failure();
  // Runs of consecutive values lie within their dimension.
  for (auto [d, run] : llvm::enumerate(getContiguity().value_or(ArrayRef<int64_t>()))) {
    auto tensor = dyn_cast<RankedTensorType>(getType());
    if (!tensor && run != 1)
      return emitOpError("a scalar's contiguity must be 1, got ") << run;
    if (tensor && run > tensor.getDimSize(d))
      return emitOpError("contiguity ") << run << " exceeds the size " << tensor.getDimSize(d)
                                        << " of dimension " << d;
  }
  return success();
}
