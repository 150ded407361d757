// convert-tile-to-host: a tile program as loops over buffers, for the host CPU.
//
// Every block becomes a stack buffer (memref.alloca) that the op defining it fills with a loop
// nest and that nothing writes afterwards, so views (expand_dims, reshape) share their operand's
// buffer. Values a loop carries live in two buffers allocated before the loop: each iteration
// writes its yields into the one it did not read from. Loop bodies and branches save the stack
// pointer first and restore it last, so their temporaries are freed at the end of each
// iteration.
//
// Pointers become i64 addresses. Every global access first asks the runtime
// (tessera_host_check_access) whether its bytes lie inside a buffer of the launch; an access it
// refuses is skipped (a load gives `other`, or zero), and the runtime reports the first one with
// the program id and the op's source location.
#include "compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::tessera {

#define GEN_PASS_DEF_CONVERTTILETOHOST
#include "compiler/Passes.h.inc"

namespace {

// Kinds of access tessera_host_check_access is told about (runtime/host_kernel.h).
enum AccessKind : int32_t { kRead = 0, kWrite = 1, kAtomic = 2 };

Type hostElementType(Type type) {
  if (isa<tile::PointerType>(type))
    return IntegerType::get(type.getContext(), 64);
  return type;
}

Type hostType(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return MemRefType::get(tensor.getShape(), hostElementType(tensor.getElementType()));
  return hostElementType(type);
}

// Bytes an element of `type` takes in memory (i1 is stored as a byte).
int64_t storageBytes(Type type) {
  if (isa<tile::PointerType>(type))
    return 8;
  return std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8);
}

// "file:line" of the first file location in `loc`, or "<unknown>".
std::string sourceLine(Location loc) {
  if (auto file = loc->findInstanceOf<FileLineColLoc>())
    return (file.getFilename().getValue() + ":" + Twine(file.getLine())).str();
  return "<unknown>";
}

class HostLowering {
public:
  HostLowering(ModuleOp module, func::FuncOp kernel)
      : module(module), kernel(kernel), builder(kernel.getContext()) {}

  LogicalResult run();

private:
  Location loc() const { return currentLoc; }
  Value index(int64_t value) { return arith::ConstantIndexOp::create(builder, loc(), value); }
  Value i32(int64_t value) {
    return arith::ConstantIntOp::create(builder, loc(), builder.getI32Type(), value);
  }
  Value i64(int64_t value) {
    return arith::ConstantIntOp::create(builder, loc(), builder.getI64Type(), value);
  }

  Value zeroOf(Type type) {
    return arith::ConstantOp::create(builder, loc(), builder.getZeroAttr(type));
  }
  Value lookup(Value value) { return mapping.lookup(value); }
  Value allocate(Type tensorType) {
    return memref::AllocaOp::create(builder, loc(), cast<MemRefType>(hostType(tensorType)));
  }
  // `buffer` as one dimension (row-major), for element-wise loops.
  Value flat(Value buffer);
  // Element `i` of a flattened buffer, or the value itself when it is a scalar.
  Value elementAt(Value value, Value i) {
    if (!value || !isa<MemRefType>(value.getType()))
      return value;
    return memref::LoadOp::create(builder, loc(), flat(value), i);
  }

  // A new buffer of `tensorType` with every element `value`.
  Value filled(Type tensorType, Value value);
  // Builds `body(i)` for i in [0, count), inside a loop.
  void forEach(int64_t count, function_ref<void(Value)> body);
  // Builds `body(indices)` for every index of `shape`, in nested loops.
  void forEachIndex(ArrayRef<int64_t> shape, function_ref<void(ValueRange)> body);

  Value siteString(Operation *op);
  Value stringConstant(StringRef text);
  // A one-dimensional stack buffer of `size` (at least one) elements, to pass to the runtime.
  Value runtimeBuffer(int64_t size, Type element) {
    return memref::AllocaOp::create(builder, loc(),
                                    MemRefType::get({std::max<int64_t>(1, size)}, element));
  }
  // The address of a buffer's first element, as an i64 and as a pointer, for the runtime.
  Value addressValue(Value buffer);
  Value addressOf(Value buffer) { return pointerAt(addressValue(buffer)); }
  Value pointerAt(Value address) {
    return LLVM::IntToPtrOp::create(builder, loc(),
                                    LLVM::LLVMPointerType::get(builder.getContext()), address);
  }
  Value accessAllowed(Value address, Type element, AccessKind kind, Operation *op);
  // `body()` where `mask` is true (or null), else `fallback`.
  Value underMask(Value mask, Value fallback, function_ref<Value()> body);
  // `access(pointer)` where the runtime allows the access of `kind` to `address`, else
  // `fallback`.
  Value checkedAccess(Value address, Type element, AccessKind kind, Operation *op, Value fallback,
                      function_ref<Value(Value)> access);
  // The element at `address`, or `fallback` where the runtime refuses the access.
  Value loadElement(Value address, Type element, Value fallback, Operation *op);
  void storeElement(Value address, Value value, Type element, Operation *op);
  Value convertScalar(Value value, Type to, bool roundToTF32);

  LogicalResult lowerBlock(Block &block);
  LogicalResult lowerOp(Operation *op);
  LogicalResult lowerElementwise(Operation *op);
  SmallVector<Value> guardDivision(Operation *op, ValueRange operands);
  Value truncateF64ToBF16(Value value);
  LogicalResult lowerConstant(arith::ConstantOp op);
  LogicalResult lowerLoad(tile::LoadOp op);
  LogicalResult lowerStore(tile::StoreOp op);
  LogicalResult lowerAtomic(Operation *op);
  LogicalResult lowerPrint(tile::PrintOp op);
  LogicalResult lowerBreakpoint(tile::BreakpointOp op);
  LogicalResult lowerReduce(tile::ReduceOp op);
  LogicalResult lowerDot(tile::DotOp op);
  LogicalResult lowerFor(scf::ForOp op);
  LogicalResult lowerIf(scf::IfOp op);
  // Lowers `block` between a stack save and restore, so that its buffers are freed at its end,
  // and returns its yields: scalars as they are, blocks copied into `targets` (one per yield,
  // null for scalars).
  FailureOr<SmallVector<Value>> lowerScopedBlock(Block &block, ValueRange targets);

  ModuleOp module;
  func::FuncOp kernel;
  OpBuilder builder;
  Location currentLoc = UnknownLoc::get(builder.getContext());
  IRMapping mapping;
  DenseMap<Value, Value> flatViews;
  llvm::StringMap<LLVM::GlobalOp> strings;
  Value programIds[3], numPrograms[3];
};

Value HostLowering::flat(Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == 1)
    return buffer;
  Value &view = flatViews[buffer];
  if (!view) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointAfterValue(buffer);
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    view = memref::CollapseShapeOp::create(builder, buffer.getLoc(), buffer, {all});
  }
  return view;
}

Value HostLowering::filled(Type tensorType, Value value) {
  Value result = allocate(tensorType);
  forEach(cast<RankedTensorType>(tensorType).getNumElements(),
          [&](Value i) { memref::StoreOp::create(builder, loc(), value, flat(result), i); });
  return result;
}

void HostLowering::forEach(int64_t count, function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(builder, loc(), index(0), index(count), index(1));
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

void HostLowering::forEachIndex(ArrayRef<int64_t> shape, function_ref<void(ValueRange)> body) {
  SmallVector<Value> lower, upper, steps;
  for (int64_t size : shape) {
    lower.push_back(index(0));
    upper.push_back(index(size));
    steps.push_back(index(1));
  }
  scf::buildLoopNest(
      builder, loc(), lower, upper, steps, [&](OpBuilder &nested, Location, ValueRange indices) {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        body(indices);
      });
}

// A global string naming the op's source line, passed to the runtime with each access.
Value HostLowering::siteString(Operation *op) { return stringConstant(sourceLine(op->getLoc())); }

// The address of a NUL-terminated global holding `text` (one global per distinct text).
Value HostLowering::stringConstant(StringRef text) {
  LLVM::GlobalOp &global = strings[text];
  if (!global) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    std::string withNul = text.str() + '\0';
    auto type = LLVM::LLVMArrayType::get(builder.getI8Type(), withNul.size());
    global = LLVM::GlobalOp::create(
        builder, loc(), type, /*isConstant=*/true, LLVM::Linkage::Internal,
        "tessera_string_" + std::to_string(strings.size()), builder.getStringAttr(withNul));
  }
  return LLVM::AddressOfOp::create(builder, loc(), global);
}

Value HostLowering::accessAllowed(Value address, Type element, AccessKind kind, Operation *op) {
  Value site = siteString(op);
  auto call = func::CallOp::create(
      builder, loc(), "tessera_host_check_access", TypeRange{builder.getI32Type()},
      ValueRange{address, i64(storageBytes(element)), i32(kind), site});
  return arith::CmpIOp::create(builder, loc(), arith::CmpIPredicate::ne, call.getResult(0), i32(0));
}

Value HostLowering::underMask(Value mask, Value fallback, function_ref<Value()> body) {
  if (!mask)
    return body();
  auto branch = scf::IfOp::create(builder, loc(), TypeRange{fallback.getType()}, mask, true);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(branch.thenBlock());
  scf::YieldOp::create(builder, loc(), body());
  builder.setInsertionPointToStart(branch.elseBlock());
  scf::YieldOp::create(builder, loc(), fallback);
  return branch.getResult(0);
}

Value HostLowering::checkedAccess(Value address, Type element, AccessKind kind, Operation *op,
                                  Value fallback, function_ref<Value(Value)> access) {
  Value allowed = accessAllowed(address, element, kind, op);
  auto branch = scf::IfOp::create(builder, loc(), TypeRange{fallback.getType()}, allowed, true);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(branch.thenBlock());
  scf::YieldOp::create(builder, loc(), access(pointerAt(address)));
  builder.setInsertionPointToStart(branch.elseBlock());
  scf::YieldOp::create(builder, loc(), fallback);
  return branch.getResult(0);
}

Value HostLowering::loadElement(Value address, Type element, Value fallback, Operation *op) {
  return checkedAccess(address, element, kRead, op, fallback, [&](Value pointer) -> Value {
    if (!element.isInteger(1))
      return LLVM::LoadOp::create(builder, loc(), hostElementType(element), pointer);
    Value byte = LLVM::LoadOp::create(builder, loc(), builder.getI8Type(), pointer);
    return arith::CmpIOp::create(
        builder, loc(), arith::CmpIPredicate::ne, byte,
        arith::ConstantIntOp::create(builder, loc(), builder.getI8Type(), 0));
  });
}

void HostLowering::storeElement(Value address, Value value, Type element, Operation *op) {
  Value allowed = accessAllowed(address, element, kWrite, op);
  auto branch = scf::IfOp::create(builder, loc(), allowed);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(branch.thenBlock());
  if (value.getType().isInteger(1))
    value = arith::ExtUIOp::create(builder, loc(), builder.getI8Type(), value);
  LLVM::StoreOp::create(builder, loc(), value, pointerAt(address));
}

// `value` as `to` (a wider or equal float or integer type), as a dot multiplies its operands.
Value HostLowering::convertScalar(Value value, Type to, bool roundToTF32) {
  Type from = value.getType();
  if (roundToTF32 && from.isF32()) {
    // TF32 keeps 10 mantissa bits: round the other 13 to nearest, as the tensor cores do.
    Value bits = arith::BitcastOp::create(builder, loc(), builder.getI32Type(), value);
    Value rounded = arith::AddIOp::create(builder, loc(), bits, i32(0x1000));
    Value kept = arith::AndIOp::create(builder, loc(), rounded, i32(~0x1fff));
    value = arith::BitcastOp::create(builder, loc(), builder.getF32Type(), kept);
  }
  if (from == to)
    return value;
  if (isa<FloatType>(from) && isa<FloatType>(to)) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(builder, loc(), to, value);
    return arith::TruncFOp::create(builder, loc(), to, value);
  }
  if (isa<IntegerType>(from) && isa<FloatType>(to))
    return arith::SIToFPOp::create(builder, loc(), to, value);
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtSIOp::create(builder, loc(), to, value);
  return arith::TruncIOp::create(builder, loc(), to, value);
}

LogicalResult HostLowering::run() {
  MLIRContext *context = kernel.getContext();
  if (!kernel.getBody().hasOneBlock())
    return kernel.emitError("cannot be lowered for the host: the kernel has more than one block");
  SmallVector<Type> inputs;
  for (Type type : kernel.getArgumentTypes())
    inputs.push_back(isa<tile::TensorMapType>(type) ? IntegerType::get(context, 64)
                                                    : hostType(type));
  // The program id and the grid size along x, y and z follow the parameters.
  inputs.append(6, IntegerType::get(context, 32));

  builder.setInsertionPoint(kernel);
  auto host = func::FuncOp::create(builder, kernel.getLoc(), kernel.getName(),
                                   FunctionType::get(context, inputs, {}));
  Block *entry = host.addEntryBlock();
  Block &body = kernel.getBody().front();
  for (auto [i, argument] : llvm::enumerate(body.getArguments()))
    mapping.map(argument, entry->getArgument(i));
  for (int axis = 0; axis < 3; ++axis) {
    programIds[axis] = entry->getArgument(body.getNumArguments() + axis);
    numPrograms[axis] = entry->getArgument(body.getNumArguments() + 3 + axis);
  }

  builder.setInsertionPointToStart(module.getBody());
  auto checkType = FunctionType::get(context,
                                     {builder.getI64Type(), builder.getI64Type(),
                                      builder.getI32Type(), LLVM::LLVMPointerType::get(context)},
                                     {builder.getI32Type()});
  auto check =
      func::FuncOp::create(builder, kernel.getLoc(), "tessera_host_check_access", checkType);
  check.setPrivate();
  auto pointer = LLVM::LLVMPointerType::get(context);
  auto print = func::FuncOp::create(builder, kernel.getLoc(), "tessera_host_print",
                                    FunctionType::get(context,
                                                      {pointer, builder.getI32Type(), pointer,
                                                       builder.getI32Type(), pointer, pointer},
                                                      {}));
  print.setPrivate();
  Type i32Type = builder.getI32Type();
  auto breakpoint = func::FuncOp::create(
      builder, kernel.getLoc(), "tessera_host_breakpoint",
      FunctionType::get(
          context,
          {pointer, i32Type, pointer, i32Type, pointer, pointer, pointer, pointer, pointer}, {}));
  breakpoint.setPrivate();

  builder.setInsertionPointToStart(entry);
  if (failed(lowerBlock(body)))
    return failure();
  currentLoc = body.getTerminator()->getLoc();
  func::ReturnOp::create(builder, loc());
  kernel.erase();
  return success();
}

LogicalResult HostLowering::lowerBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(lowerOp(&op)))
      return failure();
  return success();
}

LogicalResult HostLowering::lowerOp(Operation *op) {
  currentLoc = op->getLoc();
  auto isBlock = [](Type type) { return isa<RankedTensorType>(type); };
  if (auto programId = dyn_cast<tile::ProgramIdOp>(op)) {
    mapping.map(programId.getResult(), programIds[programId.getAxis()]);
    return success();
  }
  if (auto count = dyn_cast<tile::NumProgramsOp>(op)) {
    mapping.map(count.getResult(), numPrograms[count.getAxis()]);
    return success();
  }
  if (auto hint = dyn_cast<tile::HintOp>(op)) {
    mapping.map(hint.getResult(), lookup(hint.getSrc()));
    return success();
  }
  if (auto range = dyn_cast<tile::MakeRangeOp>(op)) {
    Value result = allocate(range.getType());
    forEach(range.getType().getNumElements(), [&](Value i) {
      Value value = arith::AddIOp::create(
          builder, loc(), arith::IndexCastOp::create(builder, loc(), builder.getI32Type(), i),
          i32(range.getStart()));
      memref::StoreOp::create(builder, loc(), value, result, i);
    });
    mapping.map(range.getResult(), result);
    return success();
  }
  if (auto splat = dyn_cast<tile::SplatOp>(op)) {
    mapping.map(splat.getResult(), filled(splat.getType(), lookup(splat.getSrc())));
    return success();
  }
  if (auto broadcast = dyn_cast<tile::BroadcastOp>(op)) {
    auto sourceType = cast<RankedTensorType>(broadcast.getSrc().getType());
    auto type = cast<RankedTensorType>(broadcast.getType());
    Value source = lookup(broadcast.getSrc());
    Value result = allocate(type);
    forEachIndex(type.getShape(), [&](ValueRange indices) {
      SmallVector<Value> from;
      for (auto [d, i] : llvm::enumerate(indices))
        from.push_back(sourceType.getDimSize(d) == 1 ? index(0) : i);
      Value value = memref::LoadOp::create(builder, loc(), source, from);
      memref::StoreOp::create(builder, loc(), value, result, indices);
    });
    mapping.map(broadcast.getResult(), result);
    return success();
  }
  if (auto expand = dyn_cast<tile::ExpandDimsOp>(op)) {
    auto type = cast<RankedTensorType>(expand.getType());
    int64_t axis = expand.getAxis(), rank = type.getRank();
    // The new unit dimension joins the source dimension after it (or, last, the one before).
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d < rank - 1; ++d) {
      int64_t first = d < axis ? d : d + 1;
      groups.push_back({first});
    }
    if (axis == rank - 1)
      groups.back().push_back(axis);
    else
      groups[axis].insert(groups[axis].begin(), axis);
    Value view = memref::ExpandShapeOp::create(builder, loc(), type.getShape(),
                                               lookup(expand.getSrc()), groups);
    mapping.map(expand.getResult(), view);
    return success();
  }
  if (auto reshape = dyn_cast<tile::ReshapeOp>(op)) {
    auto type = cast<RankedTensorType>(reshape.getType());
    Value view = flat(lookup(reshape.getSrc()));
    if (type.getRank() > 1) {
      ReassociationIndices all;
      for (int64_t d = 0; d < type.getRank(); ++d)
        all.push_back(d);
      view = memref::ExpandShapeOp::create(builder, loc(), type.getShape(), view, {all});
    }
    mapping.map(reshape.getResult(), view);
    return success();
  }
  if (auto trans = dyn_cast<tile::TransOp>(op)) {
    auto type = cast<RankedTensorType>(trans.getType());
    Value source = lookup(trans.getSrc());
    Value result = allocate(type);
    ArrayRef<int32_t> order = trans.getOrder();
    forEachIndex(type.getShape(), [&](ValueRange indices) {
      SmallVector<Value> from(indices.size());
      for (auto [d, i] : llvm::enumerate(indices))
        from[order[d]] = i;
      Value value = memref::LoadOp::create(builder, loc(), source, from);
      memref::StoreOp::create(builder, loc(), value, result, indices);
    });
    mapping.map(trans.getResult(), result);
    return success();
  }
  if (auto addptr = dyn_cast<tile::AddPtrOp>(op)) {
    Type pointer = getElementTypeOrSelf(addptr.getPtr().getType());
    int64_t bytes = storageBytes(cast<tile::PointerType>(pointer).getPointeeType());
    auto advance = [&](Value base, Value offset) -> Value {
      if (!offset.getType().isInteger(64))
        offset = arith::ExtSIOp::create(builder, loc(), builder.getI64Type(), offset);
      Value scaled = arith::MulIOp::create(builder, loc(), offset, i64(bytes));
      return arith::AddIOp::create(builder, loc(), base, scaled);
    };
    Value base = lookup(addptr.getPtr()), offset = lookup(addptr.getOffset());
    if (!isBlock(addptr.getType())) {
      mapping.map(addptr.getResult(), advance(base, offset));
      return success();
    }
    Value result = allocate(addptr.getType());
    forEach(cast<RankedTensorType>(addptr.getType()).getNumElements(), [&](Value i) {
      memref::StoreOp::create(builder, loc(), advance(elementAt(base, i), elementAt(offset, i)),
                              flat(result), i);
    });
    mapping.map(addptr.getResult(), result);
    return success();
  }
  if (auto load = dyn_cast<tile::LoadOp>(op))
    return lowerLoad(load);
  if (auto store = dyn_cast<tile::StoreOp>(op))
    return lowerStore(store);
  if (isa<tile::AtomicRMWOp, tile::AtomicCASOp>(op))
    return lowerAtomic(op);
  if (auto print = dyn_cast<tile::PrintOp>(op))
    return lowerPrint(print);
  if (auto breakpoint = dyn_cast<tile::BreakpointOp>(op))
    return lowerBreakpoint(breakpoint);
  if (auto reduce = dyn_cast<tile::ReduceOp>(op))
    return lowerReduce(reduce);
  if (auto dot = dyn_cast<tile::DotOp>(op))
    return lowerDot(dot);
  if (auto loop = dyn_cast<scf::ForOp>(op))
    return lowerFor(loop);
  if (auto branch = dyn_cast<scf::IfOp>(op))
    return lowerIf(branch);
  if (auto constant = dyn_cast<arith::ConstantOp>(op))
    return lowerConstant(constant);
  if (isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) && op->getNumRegions() == 0)
    return lowerElementwise(op);
  return op->emitError("cannot be lowered for the host: '")
         << op->getName() << "' is not supported by convert-tile-to-host";
}

LogicalResult HostLowering::lowerConstant(arith::ConstantOp op) {
  auto type = dyn_cast<RankedTensorType>(op.getType());
  if (!type) {
    mapping.map(op.getResult(), builder.clone(*op)->getResult(0));
    return success();
  }
  auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!dense || !dense.isSplat())
    return op.emitError("cannot be lowered for the host: only splat block constants are");
  Value value =
      arith::ConstantOp::create(builder, loc(), cast<TypedAttr>(dense.getSplatValue<Attribute>()));
  mapping.map(op.getResult(), filled(type, value));
  return success();
}

// Integer division on x86 traps where a GPU's gives an unspecified value: a zero divisor (as in
// masked-off lanes) or the most negative integer over -1. The divisor becomes 1 there, and a
// signed division by -1 gives -x (wrapping), its remainder 0.
SmallVector<Value> HostLowering::guardDivision(Operation *op, ValueRange operands) {
  Value dividend = operands[0], divisor = operands[1];
  Type type = divisor.getType();
  auto constant = [&](int64_t value) {
    return arith::ConstantOp::create(builder, loc(), builder.getIntegerAttr(type, value));
  };
  auto equals = [&](Value value, int64_t constantValue) {
    return arith::CmpIOp::create(builder, loc(), arith::CmpIPredicate::eq, value,
                                 constant(constantValue));
  };
  bool isSigned = isa<arith::DivSIOp, arith::RemSIOp, arith::FloorDivSIOp, arith::CeilDivSIOp>(op);
  Value byMinusOne = isSigned ? Value(equals(divisor, -1)) : Value();
  Value unsafe = equals(divisor, 0);
  if (isSigned)
    unsafe = arith::OrIOp::create(builder, loc(), unsafe, byMinusOne);
  Value safeDivisor = arith::SelectOp::create(builder, loc(), unsafe, constant(1), divisor);
  IRMapping scalars;
  scalars.map(op->getOperands(), ValueRange{dividend, safeDivisor});
  Value result = builder.clone(*op, scalars)->getResult(0);
  result.setType(type);
  if (!isSigned)
    return {result};
  Value byMinusOneResult =
      isa<arith::RemSIOp>(op) ? Value(constant(0))
                              : Value(arith::SubIOp::create(builder, loc(), constant(0), dividend));
  return {arith::SelectOp::create(builder, loc(), byMinusOne, byMinusOneResult, result)};
}

// fp64 to bf16 without LLVM's libcall (__truncdfbf2, missing from older runtimes): to fp32
// rounding to odd (toward zero, the last bit set where inexact), then to bf16 to nearest even,
// which rounds exactly as one step would since fp32 keeps more than two extra bits.
Value HostLowering::truncateF64ToBF16(Value value) {
  Type f32 = builder.getF32Type();
  Value nearest = arith::TruncFOp::create(builder, loc(), f32, value);
  Value back = arith::ExtFOp::create(builder, loc(), builder.getF64Type(), nearest);
  Value inexact = arith::CmpFOp::create(builder, loc(), arith::CmpFPredicate::ONE, back, value);
  Value awayFromZero = arith::CmpFOp::create(builder, loc(), arith::CmpFPredicate::OGT,
                                             math::AbsFOp::create(builder, loc(), back),
                                             math::AbsFOp::create(builder, loc(), value));
  Value bits = arith::BitcastOp::create(builder, loc(), builder.getI32Type(), nearest);
  Value towardZero = arith::SelectOp::create(
      builder, loc(), awayFromZero, arith::SubIOp::create(builder, loc(), bits, i32(1)), bits);
  Value odd = arith::SelectOp::create(
      builder, loc(), inexact, arith::OrIOp::create(builder, loc(), towardZero, i32(1)), bits);
  return arith::TruncFOp::create(builder, loc(), builder.getBF16Type(),
                                 arith::BitcastOp::create(builder, loc(), f32, odd));
}

// Arithmetic and math: on scalars, the op itself; on blocks, the op on each element in turn.
LogicalResult HostLowering::lowerElementwise(Operation *op) {
  // The op cloned onto scalars: operands mapped, results retyped to their elements.
  auto build = [&](ValueRange operands) -> SmallVector<Value> {
    if (isa<arith::DivSIOp, arith::DivUIOp, arith::RemSIOp, arith::RemUIOp, arith::FloorDivSIOp,
            arith::CeilDivSIOp, arith::CeilDivUIOp>(op))
      return guardDivision(op, operands);
    if (auto truncate = dyn_cast<arith::TruncFOp>(op))
      if (operands[0].getType().isF64() && getElementTypeOrSelf(truncate.getType()).isBF16())
        return {truncateF64ToBF16(operands[0])};
    IRMapping scalars;
    scalars.map(op->getOperands(), operands);
    Operation *scalar = builder.clone(*op, scalars);
    for (OpResult result : scalar->getResults())
      result.setType(hostElementType(getElementTypeOrSelf(result.getType())));
    return scalar->getResults();
  };
  SmallVector<Value> operands;
  for (Value operand : op->getOperands())
    operands.push_back(lookup(operand));
  if (llvm::none_of(op->getResultTypes(), [](Type t) { return isa<RankedTensorType>(t); })) {
    for (auto [from, to] : llvm::zip(op->getResults(), build(operands)))
      mapping.map(from, to);
    return success();
  }
  SmallVector<Value> results;
  for (Type type : op->getResultTypes())
    results.push_back(allocate(type));
  int64_t count = cast<RankedTensorType>(op->getResult(0).getType()).getNumElements();
  forEach(count, [&](Value i) {
    SmallVector<Value> elements;
    for (Value operand : operands)
      elements.push_back(elementAt(operand, i));
    for (auto [value, result] : llvm::zip(build(elements), results))
      memref::StoreOp::create(builder, loc(), value, flat(result), i);
  });
  for (auto [from, to] : llvm::zip(op->getResults(), results))
    mapping.map(from, to);
  return success();
}

LogicalResult HostLowering::lowerLoad(tile::LoadOp op) {
  Type element = getElementTypeOrSelf(op.getType());
  Value pointers = lookup(op.getPtr());
  Value mask = op.getMask() ? lookup(op.getMask()) : Value();
  Value other = op.getOther() ? lookup(op.getOther()) : Value();
  // Where the mask is false or the access is refused, a load gives `other`, or zero.
  Type type = hostElementType(element);
  Value zero = other ? Value() : zeroOf(type);
  auto loadOne = [&](Value address, Value maskValue, Value otherValue) -> Value {
    Value fallback = otherValue ? otherValue : zero;
    return underMask(maskValue, fallback,
                     [&] { return loadElement(address, element, fallback, op); });
  };
  if (!isa<RankedTensorType>(op.getType())) {
    mapping.map(op.getResult(), loadOne(pointers, mask, other));
    return success();
  }
  Value result = allocate(op.getType());
  forEach(cast<RankedTensorType>(op.getType()).getNumElements(), [&](Value i) {
    Value value = loadOne(elementAt(pointers, i), elementAt(mask, i), elementAt(other, i));
    memref::StoreOp::create(builder, loc(), value, flat(result), i);
  });
  mapping.map(op.getResult(), result);
  return success();
}

LogicalResult HostLowering::lowerStore(tile::StoreOp op) {
  Type element = getElementTypeOrSelf(op.getValue().getType());
  Value pointers = lookup(op.getPtr()), values = lookup(op.getValue());
  Value mask = op.getMask() ? lookup(op.getMask()) : Value();
  auto storeOne = [&](Value address, Value value, Value maskValue) {
    if (!maskValue)
      return storeElement(address, value, element, op);
    auto branch = scf::IfOp::create(builder, loc(), maskValue);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(branch.thenBlock());
    storeElement(address, value, element, op);
  };
  auto type = dyn_cast<RankedTensorType>(op.getPtr().getType());
  if (!type) {
    storeOne(pointers, values, mask);
    return success();
  }
  forEach(type.getNumElements(), [&](Value i) {
    storeOne(elementAt(pointers, i), elementAt(values, i), elementAt(mask, i));
  });
  return success();
}

LLVM::AtomicOrdering atomicOrdering(StringRef sem) {
  return llvm::StringSwitch<LLVM::AtomicOrdering>(sem)
      .Case("relaxed", LLVM::AtomicOrdering::monotonic)
      .Case("acquire", LLVM::AtomicOrdering::acquire)
      .Case("release", LLVM::AtomicOrdering::release)
      .Default(LLVM::AtomicOrdering::acq_rel);
}

// Element by element, each one checked as an atomic access and then applied with an LLVM atomic
// (the host runs one program at a time, but the memory may be shared with other threads).
// Masked-off and refused elements give zero.
LogicalResult HostLowering::lowerAtomic(Operation *op) {
  Type element = getElementTypeOrSelf(op->getResult(0).getType());
  auto rmw = dyn_cast<tile::AtomicRMWOp>(op);
  auto cas = dyn_cast<tile::AtomicCASOp>(op);
  LLVM::AtomicOrdering ordering = atomicOrdering(rmw ? rmw.getSem() : cas.getSem());
  // cmpxchg compares integers: float elements go through integers of their width.
  Type word = builder.getIntegerType(element.getIntOrFloatBitWidth());
  auto asWord = [&](Value value) -> Value {
    return isa<FloatType>(element) ? arith::BitcastOp::create(builder, loc(), word, value) : value;
  };
  auto applyOne = [&](Value address, Value value, Value compare, Value maskValue) -> Value {
    auto apply = [&](Value pointer) -> Value {
      if (rmw) {
        auto binOp = llvm::StringSwitch<LLVM::AtomicBinOp>(rmw.getKind())
                         .Case("add", LLVM::AtomicBinOp::add)
                         .Case("fadd", LLVM::AtomicBinOp::fadd)
                         .Case("max", LLVM::AtomicBinOp::max)
                         .Case("min", LLVM::AtomicBinOp::min)
                         .Case("umax", LLVM::AtomicBinOp::umax)
                         .Case("umin", LLVM::AtomicBinOp::umin)
                         .Case("and", LLVM::AtomicBinOp::_and)
                         .Case("or", LLVM::AtomicBinOp::_or)
                         .Case("xor", LLVM::AtomicBinOp::_xor)
                         .Default(LLVM::AtomicBinOp::xchg);
        return LLVM::AtomicRMWOp::create(builder, loc(), binOp, pointer, value, ordering);
      }
      // A failed compare-and-swap only reads: it cannot have release semantics.
      LLVM::AtomicOrdering failure =
          ordering == LLVM::AtomicOrdering::release   ? LLVM::AtomicOrdering::monotonic
          : ordering == LLVM::AtomicOrdering::acq_rel ? LLVM::AtomicOrdering::acquire
                                                      : ordering;
      auto exchange = LLVM::AtomicCmpXchgOp::create(builder, loc(), pointer, asWord(compare),
                                                    asWord(value), ordering, failure);
      Value old = LLVM::ExtractValueOp::create(builder, loc(), exchange, 0);
      return old.getType() == element ? old
                                      : arith::BitcastOp::create(builder, loc(), element, old);
    };
    Value zero = zeroOf(element);
    return underMask(maskValue, zero,
                     [&] { return checkedAccess(address, element, kAtomic, op, zero, apply); });
  };
  Value pointers = lookup(op->getOperand(0));
  Value values = lookup(rmw ? rmw.getValue() : cas.getValue());
  Value compares = cas ? lookup(cas.getCmp()) : Value();
  Value mask = rmw && rmw.getMask() ? lookup(rmw.getMask()) : Value();
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type) {
    mapping.map(op->getResult(0), applyOne(pointers, values, compares, mask));
    return success();
  }
  Value result = allocate(type);
  forEach(type.getNumElements(), [&](Value i) {
    Value old = applyOne(elementAt(pointers, i), elementAt(values, i), elementAt(compares, i),
                         elementAt(mask, i));
    memref::StoreOp::create(builder, loc(), old, flat(result), i);
  });
  mapping.map(op->getResult(0), result);
  return success();
}

Value HostLowering::addressValue(Value buffer) {
  Value address = memref::ExtractAlignedPointerAsIndexOp::create(builder, loc(), buffer);
  return arith::IndexCastOp::create(builder, loc(), builder.getI64Type(), address);
}

// One runtime call per element index (runtime/host_kernel.h, tessera_host_print): the index,
// and each value's element as 64 bits (floats as an fp64's bits, hexadecimal ones as their own)
// with its format, the kind in the low byte and the width in bits above it.
LogicalResult HostLowering::lowerPrint(tile::PrintOp op) {
  ValueRange operands = op.getValues();
  SmallVector<int64_t> shape;
  for (Value operand : operands)
    if (auto block = dyn_cast<RankedTensorType>(operand.getType()))
      shape.assign(block.getShape().begin(), block.getShape().end());
  int64_t rank = shape.size(), count = operands.size();
  Type i64Type = builder.getI64Type();
  Value indexBuffer = runtimeBuffer(rank, i64Type), bits = runtimeBuffer(count, i64Type);
  Value formats = runtimeBuffer(count, builder.getI32Type());
  for (unsigned k = 0; k < count; ++k) {
    tile::PrintFormat format = op.getFormat(k);
    memref::StoreOp::create(builder, loc(), i32(format.kind | format.width << 8), formats,
                            ValueRange{index(k)});
  }
  Value prefix = stringConstant(op.getPrefix());
  auto printAt = [&](ValueRange indices) {
    for (auto [d, i] : llvm::enumerate(indices))
      memref::StoreOp::create(builder, loc(),
                              arith::IndexCastOp::create(builder, loc(), i64Type, i), indexBuffer,
                              ValueRange{index(d)});
    for (auto [k, operand] : llvm::enumerate(operands)) {
      Value element = lookup(operand);
      if (isa<RankedTensorType>(operand.getType()))
        element = memref::LoadOp::create(builder, loc(), element, indices);
      tile::PrintFormat format = op.getFormat(k);
      if (format.kind == tile::PrintFormat::Float)
        element = arith::BitcastOp::create(
            builder, loc(), i64Type,
            element.getType().isF64()
                ? element
                : arith::ExtFOp::create(builder, loc(), builder.getF64Type(), element));
      else if (isa<FloatType>(element.getType()))
        element =
            arith::BitcastOp::create(builder, loc(), builder.getIntegerType(format.width), element);
      if (element.getType() != i64Type)
        element = format.kind == tile::PrintFormat::Signed
                      ? Value(arith::ExtSIOp::create(builder, loc(), i64Type, element))
                      : Value(arith::ExtUIOp::create(builder, loc(), i64Type, element));
      memref::StoreOp::create(builder, loc(), element, bits, ValueRange{index(k)});
    }
    func::CallOp::create(builder, loc(), "tessera_host_print", TypeRange{},
                         ValueRange{prefix, i32(rank), addressOf(indexBuffer), i32(count),
                                    addressOf(bits), addressOf(formats)});
  };
  if (shape.empty())
    printAt({});
  else
    forEachIndex(shape, printAt);
  return success();
}

// The tl dtype name of a breakpoint value's elements (tessera_breakpoint_value in
// runtime/tessera.h); pointers are their addresses.
std::string breakpointDtype(Type element, bool isSigned) {
  if (isa<tile::PointerType>(element))
    return "ptr";
  if (element.isF16())
    return "fp16";
  if (element.isBF16())
    return "bf16";
  if (isa<FloatType>(element))
    return "fp" + std::to_string(element.getIntOrFloatBitWidth());
  unsigned width = element.getIntOrFloatBitWidth();
  return (isSigned || width == 1 ? "int" : "uint") + std::to_string(width);
}

// One runtime call (tessera_host_breakpoint) with the values' addresses: blocks as their
// buffers, scalars stored to a buffer of one element; the names and dtypes go as strings each
// ending in NUL, the shapes one after another.
LogicalResult HostLowering::lowerBreakpoint(tile::BreakpointOp op) {
  ValueRange operands = op.getValues();
  int64_t count = operands.size();
  Type i64Type = builder.getI64Type();
  Value ranks = runtimeBuffer(count, builder.getI32Type());
  Value addresses = runtimeBuffer(count, i64Type);
  std::string names, dtypes;
  SmallVector<int64_t> shapes;
  for (auto [k, operand] : llvm::enumerate(operands)) {
    names += cast<StringAttr>(op.getNames()[k]).getValue().str() + '\0';
    dtypes += breakpointDtype(getElementTypeOrSelf(operand.getType()), op.getIsSigned()[k]) + '\0';
    Value buffer = lookup(operand);
    if (!isa<MemRefType>(buffer.getType())) {
      Value cell = runtimeBuffer(1, buffer.getType());
      memref::StoreOp::create(builder, loc(), buffer, cell, ValueRange{index(0)});
      buffer = cell;
    }
    ArrayRef<int64_t> shape;
    if (auto block = dyn_cast<RankedTensorType>(operand.getType()))
      shape = block.getShape();
    shapes.append(shape.begin(), shape.end());
    memref::StoreOp::create(builder, loc(), i32(shape.size()), ranks, ValueRange{index(k)});
    memref::StoreOp::create(builder, loc(), addressValue(buffer), addresses, ValueRange{index(k)});
  }
  Value shapeBuffer = runtimeBuffer(shapes.size(), i64Type);
  for (auto [d, size] : llvm::enumerate(shapes))
    memref::StoreOp::create(builder, loc(), i64(size), shapeBuffer, ValueRange{index(d)});
  auto position = op.getLoc()->findInstanceOf<FileLineColLoc>();
  Value file = stringConstant(position ? position.getFilename().getValue() : "<unknown>");
  Value line = i32(position ? position.getLine() : 0);
  func::CallOp::create(builder, loc(), "tessera_host_breakpoint", TypeRange{},
                       ValueRange{file, line, stringConstant(op.getFunction()), i32(count),
                                  stringConstant(names), stringConstant(dtypes), addressOf(ranks),
                                  addressOf(shapeBuffer), addressOf(addresses)});
  return success();
}

// Each result element folds the operands' elements along the axis, first to last, through the
// combiner region.
LogicalResult HostLowering::lowerReduce(tile::ReduceOp op) {
  auto sourceType = cast<RankedTensorType>(op.getSrcs().front().getType());
  int64_t axis = op.getAxis();
  SmallVector<Value> sources;
  for (Value source : op.getSrcs())
    sources.push_back(lookup(source));
  SmallVector<int64_t> outerShape(sourceType.getShape());
  outerShape.erase(outerShape.begin() + axis);
  Block &combiner = op.getCombiner().front();
  unsigned count = sources.size();

  auto fold = [&](ValueRange outer) -> SmallVector<Value> {
    auto at = [&](Value position) {
      SmallVector<Value> indices(outer.begin(), outer.end());
      indices.insert(indices.begin() + axis, position);
      SmallVector<Value> elements;
      for (Value source : sources)
        elements.push_back(memref::LoadOp::create(builder, loc(), source, indices));
      return elements;
    };
    SmallVector<Value> first = at(index(0));
    auto loop = scf::ForOp::create(builder, loc(), index(1), index(sourceType.getDimSize(axis)),
                                   index(1), first);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> next = at(loop.getInductionVar());
    IRMapping combine;
    for (unsigned k = 0; k < count; ++k) {
      combine.map(combiner.getArgument(k), loop.getRegionIterArg(k));
      combine.map(combiner.getArgument(count + k), next[k]);
    }
    for (Operation &inner : combiner.without_terminator())
      builder.clone(inner, combine);
    SmallVector<Value> combined;
    for (Value value : combiner.getTerminator()->getOperands())
      combined.push_back(combine.lookupOrDefault(value));
    scf::YieldOp::create(builder, loc(), combined);
    return SmallVector<Value>(loop.getResults());
  };

  if (outerShape.empty()) {
    for (auto [from, to] : llvm::zip(op.getResults(), fold({})))
      mapping.map(from, to);
    return success();
  }
  SmallVector<Value> results;
  for (Value result : op.getResults())
    results.push_back(allocate(result.getType()));
  forEachIndex(outerShape, [&](ValueRange outer) {
    for (auto [value, result] : llvm::zip(fold(outer), results))
      memref::StoreOp::create(builder, loc(), value, result, outer);
  });
  for (auto [from, to] : llvm::zip(op.getResults(), results))
    mapping.map(from, to);
  return success();
}

// result[m, :] = acc[m, :] + sum over k of a[m, k] * b[k, :], the operands widened to the
// accumulator's type (and rounded to TF32 first where the dot asks for it).
LogicalResult HostLowering::lowerDot(tile::DotOp op) {
  auto aType = cast<RankedTensorType>(op.getA().getType());
  auto type = cast<RankedTensorType>(op.getType());
  Type accumulator = type.getElementType();
  bool tf32 = op.getInputPrecision() == "tf32";
  Value a = lookup(op.getA()), b = lookup(op.getB());
  Value result = allocate(type);
  memref::CopyOp::create(builder, loc(), lookup(op.getAcc()), result);
  int64_t m = type.getDimSize(0), n = type.getDimSize(1), k = aType.getDimSize(1);
  bool isFloat = isa<FloatType>(accumulator);
  forEachIndex({m, k}, [&](ValueRange mk) {
    Value left = convertScalar(memref::LoadOp::create(builder, loc(), a, mk), accumulator, tf32);
    forEach(n, [&](Value j) {
      Value right = convertScalar(memref::LoadOp::create(builder, loc(), b, ValueRange{mk[1], j}),
                                  accumulator, tf32);
      Value sum = memref::LoadOp::create(builder, loc(), result, ValueRange{mk[0], j});
      Value updated =
          isFloat ? Value(math::FmaOp::create(builder, loc(), left, right, sum))
                  : Value(arith::AddIOp::create(
                        builder, loc(), sum, arith::MulIOp::create(builder, loc(), left, right)));
      memref::StoreOp::create(builder, loc(), updated, result, ValueRange{mk[0], j});
    });
  });
  mapping.map(op.getResult(), result);
  return success();
}

FailureOr<SmallVector<Value>> HostLowering::lowerScopedBlock(Block &block, ValueRange targets) {
  auto pointer = LLVM::LLVMPointerType::get(builder.getContext());
  Value stack = LLVM::StackSaveOp::create(builder, loc(), pointer);
  if (failed(lowerBlock(block)))
    return failure();
  Operation *terminator = block.getTerminator();
  currentLoc = terminator->getLoc();
  SmallVector<Value> yielded;
  for (auto [value, target] : llvm::zip(terminator->getOperands(), targets)) {
    if (!target) {
      yielded.push_back(lookup(value));
      continue;
    }
    memref::CopyOp::create(builder, loc(), lookup(value), target);
    yielded.push_back(target);
  }
  LLVM::StackRestoreOp::create(builder, loc(), stack);
  return yielded;
}

LogicalResult HostLowering::lowerFor(scf::ForOp op) {
  // Each carried block gets two buffers; iteration i writes its yields into buffer i % 2, which
  // is never the one it reads (iteration 0 reads the initial value).
  SmallVector<Value> inits, even, odd;
  for (Value init : op.getInitArgs()) {
    inits.push_back(lookup(init));
    bool block = isa<RankedTensorType>(init.getType());
    even.push_back(block ? allocate(init.getType()) : Value());
    odd.push_back(block ? allocate(init.getType()) : Value());
  }
  Value evenFirst = arith::ConstantIntOp::create(builder, loc(), builder.getI1Type(), 1);
  inits.push_back(evenFirst);
  auto loop = scf::ForOp::create(builder, loc(), lookup(op.getLowerBound()),
                                 lookup(op.getUpperBound()), lookup(op.getStep()), inits);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(loop.getBody());
  mapping.map(op.getInductionVar(), loop.getInductionVar());
  for (auto [from, to] : llvm::zip(op.getRegionIterArgs(), loop.getRegionIterArgs()))
    mapping.map(from, to);
  Value writeEven = loop.getRegionIterArgs().back();
  SmallVector<Value> targets;
  for (auto [e, o] : llvm::zip(even, odd))
    targets.push_back(e ? Value(arith::SelectOp::create(builder, loc(), writeEven, e, o))
                        : Value());
  FailureOr<SmallVector<Value>> yielded = lowerScopedBlock(*op.getBody(), targets);
  if (failed(yielded))
    return failure();
  currentLoc = op.getLoc();
  Value flipped =
      arith::XOrIOp::create(builder, loc(), writeEven,
                            arith::ConstantIntOp::create(builder, loc(), builder.getI1Type(), 1));
  yielded->push_back(flipped);
  scf::YieldOp::create(builder, loc(), *yielded);
  for (auto [from, to] : llvm::zip(op.getResults(), loop.getResults()))
    mapping.map(from, to);
  return success();
}

LogicalResult HostLowering::lowerIf(scf::IfOp op) {
  SmallVector<Value> targets;
  SmallVector<Type> types;
  for (Value result : op.getResults()) {
    bool block = isa<RankedTensorType>(result.getType());
    targets.push_back(block ? allocate(result.getType()) : Value());
    types.push_back(hostType(result.getType()));
  }
  bool hasElse = !op.getElseRegion().empty();
  auto branch = scf::IfOp::create(builder, loc(), types, lookup(op.getCondition()), hasElse);
  auto lowerRegion = [&](Region &from, Block *to) -> LogicalResult {
    OpBuilder::InsertionGuard guard(builder);
    if (!to->empty())
      to->back().erase(); // the implicit yield the builder added
    builder.setInsertionPointToEnd(to);
    FailureOr<SmallVector<Value>> yielded = lowerScopedBlock(from.front(), targets);
    if (failed(yielded))
      return failure();
    scf::YieldOp::create(builder, loc(), *yielded);
    return success();
  };
  if (failed(lowerRegion(op.getThenRegion(), branch.thenBlock())) ||
      (hasElse && failed(lowerRegion(op.getElseRegion(), branch.elseBlock()))))
    return failure();
  for (auto [from, to] : llvm::zip(op.getResults(), branch.getResults()))
    mapping.map(from, to);
  return success();
}

struct ConvertTileToHostPass : impl::ConvertTileToHostBase<ConvertTileToHostPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isExternal())
        kernels.push_back(function);
    if (kernels.size() != 1) {
      module.emitError("convert-tile-to-host expects one kernel function, found ")
          << kernels.size();
      return signalPassFailure();
    }
    if (failed(HostLowering(module, kernels.front()).run()))
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::tessera
