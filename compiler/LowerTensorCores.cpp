// Dots on the tensor cores. tile.dot with a version-2 mma result: one mma.sync per 16x8 (x16 or
// x8 for tf32) piece, operands already in the registers the instruction reads (dot_op layouts).
// tilegpu.warpgroup_dot: wgmma.mma_async reading both operands from shared memory through
// matrix descriptors, or one from registers, committed as one group;
// tilegpu.warpgroup_dot_wait waits for it.
#include "compiler/LoweringUtils.h"

#include "dialects/tile/TileDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// Inline PTX returning `count` f32 registers; `tiedInputs` come first among the inputs and are
// tied to the outputs (accumulators updated in place).
SmallVector<Value> emitAccumulatorAsm(OpBuilder &builder, Location loc, StringRef body,
                                      ArrayRef<Value> accumulators, ArrayRef<Value> inputs,
                                      ArrayRef<StringRef> inputConstraints, bool sideEffects) {
  unsigned count = accumulators.size();
  SmallVector<std::string> constraints(count, "=f");
  for (unsigned i = 0; i < count; ++i)
    constraints.push_back(std::to_string(i));
  for (StringRef constraint : inputConstraints)
    constraints.push_back(constraint.str());
  SmallVector<Value> operands(accumulators);
  llvm::append_range(operands, inputs);
  auto structType = LLVM::LLVMStructType::getLiteral(
      builder.getContext(), SmallVector<Type>(count, builder.getF32Type()));
  auto op = LLVM::InlineAsmOp::create(
      builder, loc, structType, operands, builder.getStringAttr(body),
      builder.getStringAttr(llvm::join(constraints, ",")),
      sideEffects ? builder.getUnitAttr() : UnitAttr(), UnitAttr(), LLVM::TailCallKindAttr(),
      LLVM::AsmDialectAttr(), ArrayAttr());
  return unpack(builder, loc, op.getResult(0));
}

std::string registerList(unsigned first, unsigned count) {
  SmallVector<std::string> names;
  for (unsigned i = 0; i < count; ++i)
    names.push_back("$" + std::to_string(first + i));
  return "{" + llvm::join(names, ", ") + "}";
}

StringRef ptxType(Type type, bool tf32) {
  if (tf32)
    return "tf32";
  return type.isBF16() ? "bf16" : "f16";
}

// One 32-bit register of `kWidth` consecutive operand elements.
Value packRegister(OpBuilder &builder, Location loc, ArrayRef<Value> elements) {
  Type i32 = builder.getI32Type();
  if (elements.size() == 1)
    return LLVM::BitcastOp::create(builder, loc, i32, elements.front());
  auto pairType = VectorType::get({2}, elements.front().getType());
  Value pair = LLVM::PoisonOp::create(builder, loc, pairType);
  for (unsigned i = 0; i < 2; ++i)
    pair = LLVM::InsertElementOp::create(builder, loc, pair, elements[i],
                                         constI32(builder, loc, i));
  return LLVM::BitcastOp::create(builder, loc, i32, pair);
}

struct MmaSyncDotLowering : public OpConversionPattern<tile::DotOp> {
  MmaSyncDotLowering(TileTypeConverter &converter)
      : OpConversionPattern(converter, &converter.getContext(), /*benefit=*/2) {}

  LogicalResult matchAndRewrite(tile::DotOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    RankedTensorType aType = op.getA().getType(), bType = op.getB().getType(),
                     accType = op.getAcc().getType();
    auto mma = dyn_cast<MmaAttr>(accType.getEncoding());
    auto aLayout = dyn_cast<DotOperandAttr>(aType.getEncoding());
    if (!mma || mma.getVersion() != 2 || !aLayout)
      return failure();
    Location loc = op.getLoc();
    unsigned kWidth = aLayout.getKWidth();
    bool tf32 = kWidth == 1;
    int64_t instrK = 8 * kWidth;
    MmaTile tile = getMmaTile(mma);
    int64_t repsM = aType.getDimSize(0) / tile.rows, repsN = bType.getDimSize(1) / tile.cols;
    int64_t repsK = aType.getDimSize(1) / instrK;
    SmallVector<Value> a = unpack(rewriter, loc, adaptor.getA());
    SmallVector<Value> b = unpack(rewriter, loc, adaptor.getB());
    SmallVector<Value> acc = unpack(rewriter, loc, adaptor.getAcc());
    if (int64_t(a.size()) != repsM * repsK * 4 * kWidth ||
        int64_t(b.size()) != repsN * repsK * 2 * kWidth ||
        int64_t(acc.size()) != repsM * repsN * 4)
      return rewriter.notifyMatchFailure(op, "operand registers do not match the mma tiling");

    std::string body = (Twine("mma.sync.aligned.m16n8k") + Twine(instrK) + ".row.col.f32." +
                        ptxType(aType.getElementType(), tf32) + "." +
                        ptxType(aType.getElementType(), tf32) + ".f32 " + registerList(0, 4) +
                        ", " + registerList(8, 4) + ", " + registerList(12, 2) + ", " +
                        registerList(4, 4) + ";")
                           .str();
    for (int64_t rm = 0; rm < repsM; ++rm)
      for (int64_t rn = 0; rn < repsN; ++rn) {
        MutableArrayRef<Value> c(acc.data() + (rm * repsN + rn) * 4, 4);
        for (int64_t rk = 0; rk < repsK; ++rk) {
          SmallVector<Value> inputs;
          int64_t aBase = (rm * repsK + rk) * 4 * kWidth, bBase = (rn * repsK + rk) * 2 * kWidth;
          for (int64_t r = 0; r < 4; ++r)
            inputs.push_back(packRegister(
                rewriter, loc, ArrayRef<Value>(a).slice(aBase + r * kWidth, kWidth)));
          for (int64_t r = 0; r < 2; ++r)
            inputs.push_back(packRegister(
                rewriter, loc, ArrayRef<Value>(b).slice(bBase + r * kWidth, kWidth)));
          SmallVector<Value> updated = emitAccumulatorAsm(
              rewriter, loc, body, c, inputs, {"r", "r", "r", "r", "r", "r"}, false);
          llvm::copy(updated, c.begin());
        }
      }
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(accType), acc));
    return success();
  }
};

// A wgmma matrix descriptor: the operand's start address and its layout's strides.
struct DescriptorLayout {
  int64_t leadingBytes, strideBytes;
  unsigned swizzleMode; // 1: 128-byte, 2: 64-byte, 3: 32-byte
};

// The descriptor of the block at `base`: start address (bits 0-13, in 16-byte units), strides
// and swizzle. Shared addresses stay below 2^18, so the start address never overflows its field
// and the descriptor of a piece `offset` bytes in is this one plus offset / 16 (see
// offsetDescriptor).
Value emitDescriptor(OpBuilder &builder, Location loc, Value base,
                     const DescriptorLayout &layout) {
  Type i64 = builder.getI64Type();
  Value address = LLVM::PtrToIntOp::create(builder, loc, builder.getI32Type(), base);
  Value start = LLVM::ZExtOp::create(
      builder, loc, i64, LLVM::LShrOp::create(builder, loc, address, constI32(builder, loc, 4)));
  uint64_t fixed = (uint64_t((layout.leadingBytes >> 4) & 0x3FFF) << 16) |
                   (uint64_t((layout.strideBytes >> 4) & 0x3FFF) << 32) |
                   (uint64_t(layout.swizzleMode) << 62);
  return LLVM::OrOp::create(builder, loc, start,
                            LLVM::ConstantOp::create(builder, loc, i64, int64_t(fixed)));
}

// `descriptor` moved `byteOffset` bytes on (a multiple of 16).
Value offsetDescriptor(OpBuilder &builder, Location loc, Value descriptor, Value byteOffset) {
  Value units = LLVM::LShrOp::create(builder, loc, byteOffset, constI32(builder, loc, 4));
  return LLVM::AddOp::create(builder, loc, descriptor,
                             LLVM::ZExtOp::create(builder, loc, builder.getI64Type(), units));
}

// An operand block in shared memory as wgmma sees it: `outer` is M for A and N for B.
struct WgmmaOperand {
  MemDescType type;
  unsigned kDim;
  bool kMajor() const {
    return cast<SharedAttr>(type.getEncoding()).getOrder()[0] == kDim;
  }
  int64_t swizzle() const { return cast<SharedAttr>(type.getEncoding()).getSwizzleBytes(); }
  int64_t bytes() const { return storageBytes(type.getElementType()); }

  DescriptorLayout layout() const {
    unsigned mode = swizzle() == 128 ? 1 : swizzle() == 64 ? 2 : 3;
    // K-major: rows of `swizzle` bytes along K, 8-row groups `8 * swizzle` apart (the leading
    // offset is unused). MN-major: 8-row groups along K likewise, and runs of `swizzle` bytes
    // along M/N one K-extent of rows apart.
    int64_t leading = kMajor() ? 16 : type.getShape()[kDim] * swizzle();
    return {leading, 8 * swizzle(), mode};
  }

  // The unswizzled byte offset of the piece starting at row `outer` (dynamic) and `k`.
  Value offset(OpBuilder &builder, Location loc, Value outer, int64_t k) const {
    int64_t runElements = swizzle() / bytes();
    int64_t outerExtent = type.getShape()[1 - kDim];
    auto c = [&](int64_t value) { return constI32(builder, loc, value); };
    if (kMajor()) {
      int64_t fixed = (k / runElements) * outerExtent * swizzle() + (k % runElements) * bytes();
      return LLVM::AddOp::create(
          builder, loc, LLVM::MulOp::create(builder, loc, outer, c(swizzle())), c(fixed));
    }
    Value run = LLVM::LShrOp::create(builder, loc, outer, c(llvm::Log2_64(runElements)));
    Value runOffset =
        LLVM::MulOp::create(builder, loc, run, c(type.getShape()[kDim] * swizzle()));
    return LLVM::AddOp::create(builder, loc, runOffset, c(k * swizzle()));
  }
};

// One wgmma group. With both operands in shared memory, or `a` in registers, the instruction
// computes acc + a @ b. With b in registers (a transposed accumulator) it computes the
// transpose, C^T = B^T A^T: its M runs along C's columns with b^T as the register operand, its N
// along C's rows with `a` as the shared-memory operand (K-major, as wgmma's B).
struct WarpGroupDotLowering : public OpConversionPattern<WarpGroupDotOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(WarpGroupDotOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto accType = cast<RankedTensorType>(op.getAcc().getType());
    auto aInRegisters = dyn_cast<RankedTensorType>(op.getA().getType());
    auto bRegisters = dyn_cast<RankedTensorType>(op.getB().getType());
    // wgmma's operands: A in shared memory (none when it is `a` or b^T, in registers), B in
    // shared memory (the op's `a` when b is in registers).
    std::optional<WgmmaOperand> a;
    if (!aInRegisters && !bRegisters)
      a = WgmmaOperand{cast<MemDescType>(op.getA().getType()), 1};
    WgmmaOperand b = bRegisters ? WgmmaOperand{cast<MemDescType>(op.getA().getType()), 1}
                                : WgmmaOperand{cast<MemDescType>(op.getB().getType()), 0};
    auto mma = cast<MmaAttr>(bRegisters ? getUntransposedLayout(accType.getEncoding())
                                        : accType.getEncoding());
    Type element = b.type.getElementType();
    bool tf32 = element.isF32();
    if (tf32 && (!b.kMajor() || (a && !a->kMajor())))
      return op.emitOpError("tf32 wgmma needs K-major operands");
    if (bRegisters && !b.kMajor())
      return op.emitOpError("a wgmma with a register operand needs `a` K-major");
    int64_t instrK = tf32 ? 8 : 16, instrN = mma.getInstrN();
    int64_t blockK = b.type.getShape()[b.kDim];
    // The accumulator as the instruction sees it: rows x cols.
    int64_t rows = accType.getDimSize(bRegisters ? 1 : 0);
    int64_t cols = accType.getDimSize(bRegisters ? 0 : 1);
    MmaTile tile = getMmaTile(mma);
    int64_t repsM = rows / tile.rows, repsN = cols / tile.cols;

    // The warpgroup's place: rows 64 * (warpM / 4) and columns instrN * warpN of each tile.
    Value warp = emitLaneAndWarp(rewriter, loc).second;
    auto c = [&](int64_t value) { return constI32(rewriter, loc, value); };
    Value warpM = LLVM::URemOp::create(rewriter, loc, warp, c(tile.warpsM));
    Value warpN = LLVM::URemOp::create(
        rewriter, loc, LLVM::UDivOp::create(rewriter, loc, warp, c(tile.warpsM)),
        c(tile.warpsN));
    Value groupRow =
        LLVM::MulOp::create(rewriter, loc, LLVM::UDivOp::create(rewriter, loc, warpM, c(4)), c(64));
    Value groupColumn = LLVM::MulOp::create(rewriter, loc, warpN, c(instrN));

    // Operands: the accumulators (outputs, then tied inputs), A (one descriptor or four
    // registers), B's descriptor, the scale-d predicate.
    unsigned count = instrN / 2, aRegisters = a ? 1 : 4;
    unsigned bIndex = 2 * count + aRegisters;
    std::string shape = (Twine("m64n") + Twine(instrN) + "k" + Twine(instrK)).str();
    std::string type = ptxType(element, tf32).str();
    std::string operands = registerList(0, count) + ", " +
                           (a ? "$" + std::to_string(2 * count) : registerList(2 * count, 4)) +
                           ", $" + std::to_string(bIndex) + ", p, 1, 1";
    if (!tf32) // imm-trans-a (descriptor A only) and imm-trans-b
      operands += std::string(a ? (a->kMajor() ? ", 0" : ", 1") : "") +
                  (b.kMajor() ? ", 0" : ", 1");
    std::string body = "{\n.reg .pred p;\nsetp.ne.b32 p, $" + std::to_string(bIndex + 1) +
                       ", 0;\nwgmma.mma_async.sync.aligned." + shape + ".f32." + type + "." +
                       type + " " + operands + ";\n}";
    SmallVector<StringRef> constraints(aRegisters, a ? "l" : "r");
    constraints.append({"l", "r"});

    // The register operand (`a`, or b in the order of the untransposed A operand) holds
    // [rep][k step][h][i][e].
    SmallVector<Value> aValues;
    if (aInRegisters || bRegisters)
      aValues = unpack(rewriter, loc, aInRegisters ? adaptor.getA() : adaptor.getB());
    int64_t kWidth = instrK / 8;
    SmallVector<Value> acc = unpack(rewriter, loc, adaptor.getAcc());
    Value baseA = a ? emitDescriptor(rewriter, loc, adaptor.getA(), a->layout()) : Value();
    Value baseB = emitDescriptor(rewriter, loc, bRegisters ? adaptor.getA() : adaptor.getB(),
                                 b.layout());
    NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    for (int64_t rm = 0; rm < repsM; ++rm)
      for (int64_t rn = 0; rn < repsN; ++rn) {
        Value row = LLVM::AddOp::create(rewriter, loc, groupRow, c(rm * tile.rows));
        Value column = LLVM::AddOp::create(rewriter, loc, groupColumn, c(rn * tile.cols));
        MutableArrayRef<Value> regs(acc.data() + (rm * repsN + rn) * count, count);
        for (int64_t k = 0; k < blockK; k += instrK) {
          SmallVector<Value> inputs;
          if (a) {
            inputs.push_back(
                offsetDescriptor(rewriter, loc, baseA, a->offset(rewriter, loc, row, k)));
          } else {
            int64_t first = (rm * (blockK / instrK) + k / instrK) * 4 * kWidth;
            for (int64_t r = 0; r < 4; ++r)
              inputs.push_back(packRegister(
                  rewriter, loc, ArrayRef(aValues).slice(first + r * kWidth, kWidth)));
          }
          inputs.push_back(
              offsetDescriptor(rewriter, loc, baseB, b.offset(rewriter, loc, column, k)));
          inputs.push_back(c(1));
          SmallVector<Value> updated =
              emitAccumulatorAsm(rewriter, loc, body, regs, inputs, constraints, true);
          llvm::copy(updated, regs.begin());
        }
      }
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(accType), acc));
    return success();
  }
};

struct WarpGroupDotWaitLowering : public OpConversionPattern<WarpGroupDotWaitOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(WarpGroupDotWaitOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> acc = unpack(rewriter, loc, adaptor.getAcc());
    std::string body = "wgmma.wait_group.sync.aligned " + std::to_string(op.getPending()) + ";";
    // Operands to keep: inputs of the asm, as 32-bit registers.
    SmallVector<Value> kept;
    SmallVector<StringRef> constraints;
    for (Value value : adaptor.getKeep())
      for (Value element : unpack(rewriter, loc, value)) {
        if (element.getType().getIntOrFloatBitWidth() != 32)
          return op.emitOpError("kept operands must have 32-bit elements");
        kept.push_back(LLVM::BitcastOp::create(rewriter, loc, rewriter.getI32Type(), element));
        constraints.push_back("r");
      }
    SmallVector<Value> waited =
        emitAccumulatorAsm(rewriter, loc, body, acc, kept, constraints, true);
    rewriter.replaceOp(op, pack(rewriter, loc, adaptor.getAcc().getType(), waited));
    return success();
  }
};

} // namespace

void mlir::tessera::populateTensorCorePatterns(TileTypeConverter &converter,
                                               RewritePatternSet &patterns, LoweringState &) {
  patterns.add<MmaSyncDotLowering>(converter);
  patterns.add<WarpGroupDotLowering, WarpGroupDotWaitLowering>(converter,
                                                               &converter.getContext());
}
