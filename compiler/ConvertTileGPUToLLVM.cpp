#include "compiler/LoweringUtils.h"
#include "compiler/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"

namespace mlir::tessera {
#define GEN_PASS_DEF_CONVERTTILEGPUTOLLVM
#include "compiler/Passes.h.inc"
} // namespace mlir::tessera

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// func.func @k(...) {tile.kernel} -> llvm.func with nvvm.kernel and the CTA size.
struct FuncOpLowering : public TilePattern<func::FuncOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(func::FuncOp func, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    const TypeConverter &converter = *getTypeConverter();
    TypeConverter::SignatureConversion signature(func.getNumArguments());
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes()))
      signature.addInputs(i, converter.convertType(type));
    auto llvmType = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(getContext()),
                                                signature.getConvertedTypes());
    auto kernel = LLVM::LLVMFuncOp::create(rewriter, func.getLoc(), func.getName(), llvmType);
    auto module = func->getParentOfType<ModuleOp>();
    auto numWarps = module->getAttrOfType<IntegerAttr>(kNumWarpsAttr);
    kernel->setAttr(NVVM::NVVMDialect::getKernelFuncAttrName(), rewriter.getUnitAttr());
    kernel->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
                    rewriter.getDenseI32ArrayAttr({int32_t(32 * numWarps.getInt()), 1, 1}));
    // Tensor maps are 128-byte, 64-byte aligned parameters that TMA reads in place.
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
      if (!isa<tile::TensorMapType>(type))
        continue;
      kernel.setArgAttr(i, LLVM::LLVMDialect::getByValAttrName(),
                        TypeAttr::get(LLVM::LLVMArrayType::get(rewriter.getI8Type(), 128)));
      kernel.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(), rewriter.getI64IntegerAttr(64));
      kernel.setArgAttr(i, NVVM::NVVMDialect::getGridConstantAttrName(), rewriter.getUnitAttr());
    }
    rewriter.inlineRegionBefore(func.getBody(), kernel.getBody(), kernel.end());
    if (failed(rewriter.convertRegionTypes(&kernel.getBody(), converter, &signature)))
      return failure();
    rewriter.eraseOp(func);
    return success();
  }
};

struct ReturnOpLowering : public TilePattern<func::ReturnOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(func::ReturnOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<LLVM::ReturnOp>(op, ValueRange());
    return success();
  }
};

template <typename Op, typename IdX, typename IdY, typename IdZ>
struct GridQueryLowering : public TilePattern<Op> {
  using TilePattern<Op>::TilePattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Type i32 = rewriter.getI32Type();
    Value id;
    switch (op.getAxis()) {
    case 0: id = IdX::create(rewriter, op.getLoc(), i32); break;
    case 1: id = IdY::create(rewriter, op.getLoc(), i32); break;
    default: id = IdZ::create(rewriter, op.getLoc(), i32); break;
    }
    rewriter.replaceOp(op, id);
    return success();
  }
};

struct MakeRangeLowering : public TilePattern<tile::MakeRangeOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(tile::MakeRangeOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> values;
    for (ArrayRef<Value> coord : emitCoordinates(rewriter, loc, op.getType()))
      values.push_back(LLVM::AddOp::create(rewriter, loc, coord[0],
                                           constI32(rewriter, loc, op.getStart())));
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(op.getType()),
                                values));
    return success();
  }
};

struct SplatLowering : public TilePattern<tile::SplatOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(tile::SplatOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> values(getElementsPerThread(op.getType()), adaptor.getSrc());
    rewriter.replaceOp(op, pack(rewriter, op.getLoc(),
                                getTypeConverter()->convertType(op.getType()), values));
    return success();
  }
};

struct TensorConstantLowering : public TilePattern<arith::ConstantOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(arith::ConstantOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    if (!type || !dense)
      return failure();
    if (!dense.isSplat())
      return rewriter.notifyMatchFailure(op, "only splat block constants are supported");
    Type element = getTypeConverter()->convertType(type.getElementType());
    Value scalar = LLVM::ConstantOp::create(rewriter, op.getLoc(), element,
                                            dense.getSplatValue<TypedAttr>());
    SmallVector<Value> values(getElementsPerThread(type), scalar);
    rewriter.replaceOp(op, pack(rewriter, op.getLoc(), getTypeConverter()->convertType(type),
                                values));
    return success();
  }
};

// Any arith or math op on blocks: the same op once per element; upstream patterns then lower
// the scalar ops.
struct ElementwiseLowering : public ConversionPattern {
  ElementwiseLowering(TileTypeConverter &converter)
      : ConversionPattern(converter, MatchAnyOpTypeTag(), kBlockPatternBenefit,
                          &converter.getContext()) {}
  LogicalResult matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                                ConversionPatternRewriter &rewriter) const override {
    if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
        op->getNumResults() != 1 || isa<arith::ConstantOp>(op))
      return failure();
    auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!resultType)
      return failure();
    Location loc = op->getLoc();
    SmallVector<SmallVector<Value>> unpacked;
    for (Value operand : operands)
      unpacked.push_back(unpack(rewriter, loc, operand));
    unsigned count = getElementsPerThread(resultType);
    SmallVector<Value> results;
    for (unsigned i = 0; i < count; ++i) {
      OperationState state(loc, op->getName());
      for (auto &elements : unpacked)
        state.addOperands(elements.size() == 1 ? elements[0] : elements[i]);
      state.addTypes(resultType.getElementType());
      state.addAttributes(op->getAttrs());
      results.push_back(rewriter.create(state)->getResult(0));
    }
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(resultType),
                                results));
    return success();
  }
};

// fp32 math with Triton's semantics: `x / y` is div.full.f32 and exp/exp2 use ex2.approx.f32
// (about 2 ulp), where libdevice's exact forms cost tens of instructions per element.
Value emitFloatAsm(OpBuilder &builder, Location loc, StringRef body, StringRef constraints,
                   ValueRange operands) {
  return LLVM::InlineAsmOp::create(builder, loc, builder.getF32Type(), operands,
                                   builder.getStringAttr(body),
                                   builder.getStringAttr(constraints), UnitAttr(), UnitAttr(),
                                   LLVM::TailCallKindAttr(), LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

struct FastDivFLowering : public TilePattern<arith::DivFOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(arith::DivFOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOp(op, emitFloatAsm(rewriter, op.getLoc(), "div.full.f32 $0, $1, $2;",
                                        "=f,f,f", {adaptor.getLhs(), adaptor.getRhs()}));
    return success();
  }
};

template <typename Op>
struct FastExpLowering : public TilePattern<Op> {
  using TilePattern<Op>::TilePattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    Location loc = op.getLoc();
    Value x = adaptor.getOperand();
    // exp2 flushes subnormal inputs and results to zero, as Triton's: without .ftz, ptxas wraps
    // each MUFU.EX2 in a compare and two predicated multiplies that scale subnormals, which in a
    // softmax row of 64 elements per thread cost a third of the instructions. exp keeps them.
    const char *instruction = "ex2.approx.ftz.f32 $0, $1;";
    if constexpr (std::is_same_v<Op, math::ExpOp>) {
      Value log2e = LLVM::ConstantOp::create(rewriter, loc, rewriter.getF32Type(),
                                             rewriter.getF32FloatAttr(1.4426950408889634f));
      x = LLVM::FMulOp::create(rewriter, loc, x, log2e);
      instruction = "ex2.approx.f32 $0, $1;";
    }
    rewriter.replaceOp(op, emitFloatAsm(rewriter, loc, instruction, "=f,f", {x}));
    return success();
  }
};

struct AddPtrLowering : public TilePattern<tile::AddPtrOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(tile::AddPtrOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type pointee = cast<tile::PointerType>(getElementTypeOrSelf(op.getType())).getPointeeType();
    Type llvmPointee = getTypeConverter()->convertType(pointee);
    auto ptrType = LLVM::LLVMPointerType::get(getContext(), 1);
    SmallVector<Value> ptrs = unpack(rewriter, loc, adaptor.getPtr());
    SmallVector<Value> offsets = unpack(rewriter, loc, adaptor.getOffset());
    SmallVector<Value> results;
    for (auto [ptr, offset] : llvm::zip(ptrs, offsets))
      results.push_back(LLVM::GEPOp::create(rewriter, loc, ptrType, llvmPointee, ptr,
                                            ArrayRef<LLVM::GEPArg>{LLVM::GEPArg(offset)}));
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(op.getType()),
                                results));
    return success();
  }
};

// tile.hint only informs the axis analysis: its result is its operand.
struct HintLowering : public TilePattern<tile::HintOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(tile::HintOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getSrc());
    return success();
  }
};

// Broadcast and expand_dims keep each element in the thread that held it: every result element
// is a source element of the same thread, found by its offsets.
template <typename Op>
struct RegisterRemapLowering : public TilePattern<Op> {
  using TilePattern<Op>::TilePattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto srcType = cast<RankedTensorType>(op.getSrc().getType());
    auto dstType = cast<RankedTensorType>(op.getType());
    if (getRootLayout(srcType.getEncoding()) != getRootLayout(dstType.getEncoding()))
      return rewriter.notifyMatchFailure(op, "source and result layouts differ");
    auto srcOffsets = getElementOffsets(srcType.getEncoding(), srcType.getShape());
    SmallVector<Value> src = unpack(rewriter, op.getLoc(), adaptor.getSrc());
    SmallVector<Value> results;
    for (ArrayRef<int64_t> offsets :
         getElementOffsets(dstType.getEncoding(), dstType.getShape())) {
      SmallVector<int64_t> key = sourceOffsets(op, offsets, srcType.getShape());
      auto it = llvm::find(srcOffsets, key);
      if (it == srcOffsets.end())
        return rewriter.notifyMatchFailure(op, "element not held by the same thread");
      results.push_back(src[it - srcOffsets.begin()]);
    }
    rewriter.replaceOp(op, pack(rewriter, op.getLoc(),
                                this->getTypeConverter()->convertType(dstType), results));
    return success();
  }

  static SmallVector<int64_t> sourceOffsets(Op op, ArrayRef<int64_t> offsets,
                                            ArrayRef<int64_t> srcShape) {
    SmallVector<int64_t> key(offsets);
    if constexpr (std::is_same_v<Op, tile::ExpandDimsOp>)
      key.erase(key.begin() + op.getAxis());
    for (auto [d, size] : llvm::enumerate(srcShape))
      key[d] %= size;
    return key;
  }
};

// A convert_layout between layouts with the same distribution moves nothing.
struct NoOpConvertLowering : public TilePattern<ConvertLayoutOp> {
  NoOpConvertLowering(TileTypeConverter &converter, LoweringState &state)
      : TilePattern(converter, state, kBlockPatternBenefit + 2) {}
  LogicalResult matchAndRewrite(ConvertLayoutOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    RankedTensorType srcType = op.getSrc().getType(), dstType = op.getType();
    if (!haveSameDistribution(srcType.getEncoding(), dstType.getEncoding(), srcType.getShape()))
      return failure();
    SmallVector<Value> values = unpack(rewriter, op.getLoc(), adaptor.getSrc());
    rewriter.replaceOp(op, pack(rewriter, op.getLoc(),
                                getTypeConverter()->convertType(dstType), values));
    return success();
  }
};

// convert_layout, trans and reshape move elements between threads through shared memory.
// Threads of a warp often read or write one column at a time (mma fragments, dot operands), so
// convert_layout and trans pad each row by 16 bytes: rows whose length is a multiple of 32 bytes
// would otherwise start on the same banks. (A reshape's two sides index different shapes in one
// row-major order, which padding would break.)
template <typename Op>
struct SharedExchangeLowering : public TilePattern<Op> {
  static constexpr int64_t kRowPaddingBytes = 16;

  using TilePattern<Op>::TilePattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto srcType = cast<RankedTensorType>(op.getSrc().getType());
    auto dstType = cast<RankedTensorType>(op.getType());
    Location loc = op.getLoc();
    ArrayRef<int64_t> dstShape = dstType.getShape();
    int64_t bytes = storageBytes(this->getTypeConverter()->convertType(dstType.getElementType()));
    int64_t rowPadding = 0;
    if (!std::is_same_v<Op, tile::ReshapeOp> && dstShape.size() >= 2 &&
        dstShape.back() * bytes % 32 == 0)
      rowPadding = kRowPaddingBytes / bytes;
    auto rowMajorIn = [rowPadding](ArrayRef<int64_t> shape) {
      return [shape, rowPadding](OpBuilder &b, ArrayRef<Value> coords) {
        return emitLinearIndex(b, b.getUnknownLoc(), coords, shape, rowPadding);
      };
    };
    std::function<Value(OpBuilder &, ArrayRef<Value>)> srcIndex =
        rowMajorIn(srcType.getShape());
    if constexpr (std::is_same_v<Op, tile::TransOp>) {
      // Source element c lands at result coordinate (c[order[0]], c[order[1]], ...).
      SmallVector<int32_t> order(op.getOrder());
      srcIndex = [order, dstShape, rowPadding](OpBuilder &b, ArrayRef<Value> coords) {
        SmallVector<Value> permuted;
        for (int32_t dim : order)
          permuted.push_back(coords[dim]);
        return emitLinearIndex(b, b.getUnknownLoc(), permuted, dstShape, rowPadding);
      };
    }
    int64_t slots = dstType.getNumElements() / dstShape.back() * (dstShape.back() + rowPadding);
    Value result = exchangeThroughShared(rewriter, loc, op, adaptor.getSrc(), srcType, dstType,
                                         this->getTypeConverter()->convertType(dstType), srcIndex,
                                         rowMajorIn(dstShape), slots, this->state);
    rewriter.replaceOp(op, result);
    return success();
  }
};

// tl.device_print: one vprintf per element a thread holds, with the program id, the element's
// coordinates and the operands' elements. vprintf reads its arguments from a buffer laid out as
// a struct of the printed values (ints widened to 32 or 64 bits, floats to fp64).
struct PrintLowering : public TilePattern<tile::PrintOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(tile::PrintOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto module = op->getParentOfType<ModuleOp>();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type(), f64 = rewriter.getF64Type();
    auto pointer = LLVM::LLVMPointerType::get(context);

    RankedTensorType blockType;
    for (Value value : op.getValues())
      if (auto block = dyn_cast<RankedTensorType>(value.getType()))
        blockType = block;
    unsigned rank = blockType ? blockType.getRank() : 0;

    // The format and the argument types: program id, coordinates, then the values.
    std::string format = "pid (%d, %d, %d)";
    SmallVector<Type> fields(3 + rank, i32);
    if (rank) {
      format += " idx (";
      for (unsigned d = 0; d < rank; ++d)
        format += d ? ", %d" : "%d";
      format += ")";
    }
    format += " ";
    for (char c : op.getPrefix())
      format += c == '%' ? std::string("%%") : std::string(1, c);
    for (unsigned k = 0; k < op.getValues().size(); ++k) {
      tile::PrintFormat printed = op.getFormat(k);
      bool wide = printed.width > 32;
      format += k ? ", " : "";
      switch (printed.kind) {
      case tile::PrintFormat::Hex:
        format += wide ? "0x%llx" : "0x%x";
        break;
      case tile::PrintFormat::Float:
        format += "%.9g";
        break;
      default:
        format += std::string(wide ? "%ll" : "%") +
                  (printed.kind == tile::PrintFormat::Signed ? "d" : "u");
      }
      fields.push_back(printed.kind == tile::PrintFormat::Float ? f64 : wide ? i64 : i32);
    }
    format += "\n";
    format.push_back('\0');

    Value formatAddress = LLVM::AddressOfOp::create(rewriter, loc, formatGlobal(module, format));
    LLVM::LLVMFuncOp vprintf = vprintfDeclaration(module);
    auto argsType = LLVM::LLVMStructType::getLiteral(context, fields);
    Value args;
    {
      // At the function's entry: an alloca in a loop would take more stack every iteration.
      OpBuilder::InsertionGuard guard(rewriter);
      Region *region = rewriter.getInsertionBlock()->getParent();
      while (!isa<ModuleOp>(region->getParentOp()->getParentOp()))
        region = region->getParentOp()->getParentRegion();
      rewriter.setInsertionPointToStart(&region->front());
      args = LLVM::AllocaOp::create(rewriter, loc, pointer, argsType, constI32(rewriter, loc, 1));
    }
    SmallVector<Value> programId{NVVM::BlockIdXOp::create(rewriter, loc, i32),
                                 NVVM::BlockIdYOp::create(rewriter, loc, i32),
                                 NVVM::BlockIdZOp::create(rewriter, loc, i32)};
    SmallVector<SmallVector<Value>> elements;
    for (Value value : adaptor.getValues())
      elements.push_back(unpack(rewriter, loc, value));
    SmallVector<SmallVector<Value>> coordinates =
        blockType ? emitCoordinates(rewriter, loc, blockType) : SmallVector<SmallVector<Value>>{{}};
    for (auto [i, coordinate] : llvm::enumerate(coordinates)) {
      SmallVector<Value> printed(programId);
      llvm::append_range(printed, coordinate);
      for (auto [k, values] : llvm::enumerate(elements))
        printed.push_back(asVarArg(rewriter, loc, values.size() == 1 ? values.front() : values[i],
                                   op.getFormat(k), fields[3 + rank + k]));
      for (auto [f, value] : llvm::enumerate(printed)) {
        Value field = LLVM::GEPOp::create(rewriter, loc, pointer, argsType, args,
                                          ArrayRef<LLVM::GEPArg>{0, int32_t(f)});
        LLVM::StoreOp::create(rewriter, loc, value, field);
      }
      LLVM::CallOp::create(rewriter, loc, vprintf, ValueRange{formatAddress, args});
    }
    rewriter.eraseOp(op);
    return success();
  }

  // `value` as vprintf reads it: `field` (fp64 for floats; i32 or i64 for integers, pointers
  // and hexadecimal bits).
  static Value asVarArg(OpBuilder &builder, Location loc, Value value, tile::PrintFormat format,
                        Type field) {
    Type type = value.getType();
    if (isa<LLVM::LLVMPointerType>(type))
      return LLVM::PtrToIntOp::create(builder, loc, field, value);
    if (format.kind == tile::PrintFormat::Float)
      return type == field ? value : LLVM::FPExtOp::create(builder, loc, field, value);
    if (isa<FloatType>(type))
      value = LLVM::BitcastOp::create(builder, loc, builder.getIntegerType(format.width), value);
    if (value.getType() == field)
      return value;
    if (format.kind == tile::PrintFormat::Signed)
      return LLVM::SExtOp::create(builder, loc, field, value);
    return LLVM::ZExtOp::create(builder, loc, field, value);
  }

  static LLVM::GlobalOp formatGlobal(ModuleOp module, StringRef format) {
    OpBuilder builder(module.getBodyRegion());
    unsigned n = 0;
    std::string name;
    do
      name = "tessera_print_format_" + std::to_string(n++);
    while (module.lookupSymbol(name));
    auto type = LLVM::LLVMArrayType::get(builder.getI8Type(), format.size());
    return LLVM::GlobalOp::create(builder, module.getLoc(), type, /*isConstant=*/true,
                                  LLVM::Linkage::Internal, name, builder.getStringAttr(format));
  }

  static LLVM::LLVMFuncOp vprintfDeclaration(ModuleOp module) {
    if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>("vprintf"))
      return existing;
    OpBuilder builder(module.getBodyRegion());
    auto pointer = LLVM::LLVMPointerType::get(module.getContext());
    return LLVM::LLVMFuncOp::create(
        builder, module.getLoc(), "vprintf",
        LLVM::LLVMFunctionType::get(builder.getI32Type(), {pointer, pointer}));
  }
};

struct ConvertTileGPUToLLVMPass
    : public mlir::tessera::impl::ConvertTileGPUToLLVMBase<ConvertTileGPUToLLVMPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    AxisInfoAnalysis axisInfo(module);
    LoweringState state;
    state.axisInfo = &axisInfo;
    state.scratchBase = allocateSharedBlocks(module);
    state.reserveShared(0);
    state.hasAsyncProxyReaders =
        module.walk([](WarpGroupDotOp) { return WalkResult::interrupt(); }).wasInterrupted();

    TileTypeConverter converter(context);
    RewritePatternSet patterns(context);
    patterns.add<
        FuncOpLowering, ReturnOpLowering, MakeRangeLowering, SplatLowering, TensorConstantLowering,
        AddPtrLowering, HintLowering, FastDivFLowering, FastExpLowering<math::ExpOp>,
        FastExpLowering<math::Exp2Op>,
        GridQueryLowering<tile::ProgramIdOp, NVVM::BlockIdXOp, NVVM::BlockIdYOp, NVVM::BlockIdZOp>,
        GridQueryLowering<tile::NumProgramsOp, NVVM::GridDimXOp, NVVM::GridDimYOp,
                          NVVM::GridDimZOp>,
        RegisterRemapLowering<tile::BroadcastOp>, RegisterRemapLowering<tile::ExpandDimsOp>,
        NoOpConvertLowering, SharedExchangeLowering<ConvertLayoutOp>,
        SharedExchangeLowering<tile::TransOp>, SharedExchangeLowering<tile::ReshapeOp>,
        PrintLowering>(converter, state);
    patterns.add<ElementwiseLowering>(converter);
    populateMemoryOpPatterns(converter, patterns, state);
    populateReduceAndDotPatterns(converter, patterns, state);
    populateSharedMemoryPatterns(converter, patterns, state);
    populateTensorCorePatterns(converter, patterns, state);
    populateTMAPatterns(converter, patterns, state);
    // libdevice for math (benefit 2: preferred over LLVM intrinsics the NVPTX backend lacks).
    populateLibDeviceConversionPatterns(converter, patterns, /*benefit=*/2);
    populateMathToLLVMConversionPatterns(converter, patterns);
    arith::populateArithToLLVMConversionPatterns(converter, patterns);

    ConversionTarget target(*context);
    target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect>();
    target.addIllegalDialect<tile::TileDialect, TileGPUDialect, arith::ArithDialect,
                             math::MathDialect, func::FuncDialect>();
    target.addLegalOp<ModuleOp>();
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns, target);

    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    module->setAttr(kSharedBytesAttr, IntegerAttr::get(IntegerType::get(context, 32),
                                                       state.sharedBytes));
  }
};

} // namespace
