// tile.load and tile.store: each thread moves its elements in runs of up to 16 bytes. Unmasked
// runs are plain vector loads and stores; masked runs of at least 32 bits are predicated PTX
// (`@p ld.global.v4.b32`), narrower masked ones LLVM's masked intrinsics.
//
// tile.atomic_rmw and tile.atomic_cas: one predicated PTX `atom` per element. Where the layout
// gives an element to several threads (replicas), only the first applies it; a scalar atomic is
// applied by thread 0 and its old value shared through shared memory.
#include "compiler/LoweringUtils.h"

#include "dialects/tile/TileDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::tessera;
using namespace mlir::tilegpu;

namespace {

// Elements per access for a block of pointers: what the axis facts allow, what the mask's
// constancy allows, and what the layout keeps contiguous in one thread.
unsigned accessWidth(const LoweringState &state, Value ptr, Value mask, unsigned count) {
  auto type = dyn_cast<RankedTensorType>(ptr.getType());
  if (!type)
    return 1;
  auto blocked = dyn_cast<BlockedAttr>(type.getEncoding());
  unsigned last = type.getRank() - 1;
  if (!blocked || blocked.getOrder()[0] != last)
    return 1;
  unsigned width = std::min<unsigned>(state.axisInfo->getVectorWidth(ptr),
                                      blocked.getSizePerThread()[last]);
  if (mask)
    width = std::min<unsigned>(width, state.axisInfo->getMaskConstancy(mask));
  width = std::min(width, count);
  return std::max(1u, width);
}

Type vectorOf(Type element, unsigned width) {
  return width == 1 ? element : VectorType::get({width}, element);
}

SmallVector<Value> splitVector(OpBuilder &builder, Location loc, Value vector, unsigned width) {
  if (width == 1)
    return {vector};
  SmallVector<Value> elements;
  for (unsigned i = 0; i < width; ++i)
    elements.push_back(
        LLVM::ExtractElementOp::create(builder, loc, vector, constI32(builder, loc, i)));
  return elements;
}

// A vector of the elements, even of one (the masked intrinsics take vectors only).
Value buildVector(OpBuilder &builder, Location loc, ArrayRef<Value> elements) {
  auto type = VectorType::get({int64_t(elements.size())}, elements.front().getType());
  Value vector = LLVM::PoisonOp::create(builder, loc, type);
  for (auto [i, element] : llvm::enumerate(elements))
    vector = LLVM::InsertElementOp::create(builder, loc, vector, element,
                                           constI32(builder, loc, i));
  return vector;
}

// The elements as one value: a vector, or the element itself when there is one.
Value joinVector(OpBuilder &builder, Location loc, ArrayRef<Value> elements) {
  return elements.size() == 1 ? elements.front() : buildVector(builder, loc, elements);
}

// Bits of one element in memory (pointers are 64-bit).
unsigned bitsOf(Type type) {
  return isa<LLVM::LLVMPointerType>(type) ? 64 : type.getIntOrFloatBitWidth();
}

// Reinterprets a vector of elements as `words` i32 values and back.
SmallVector<Value> toWords(OpBuilder &builder, Location loc, Value vector, unsigned words) {
  Type wordsType = vectorOf(builder.getI32Type(), words);
  Value cast = LLVM::BitcastOp::create(builder, loc, wordsType, vector);
  return splitVector(builder, loc, cast, words);
}

Value fromWords(OpBuilder &builder, Location loc, ArrayRef<Value> words, Type vectorType) {
  return LLVM::BitcastOp::create(builder, loc, vectorType, joinVector(builder, loc, words));
}

std::string wordList(unsigned first, unsigned count) {
  SmallVector<std::string> names;
  for (unsigned i = 0; i < count; ++i)
    names.push_back("$" + std::to_string(first + i));
  return count == 1 ? names.front() : "{ " + llvm::join(names, ", ") + " }";
}

std::string vectorSuffix(unsigned words) {
  return words == 1 ? "" : ".v" + std::to_string(words);
}

Value predicateAsI32(OpBuilder &builder, Location loc, Value mask) {
  return LLVM::ZExtOp::create(builder, loc, builder.getI32Type(), mask);
}

struct LoadLowering : public OpConversionPattern<tile::LoadOp> {
  LoadLowering(TileTypeConverter &converter, LoweringState &state)
      : OpConversionPattern(converter, &converter.getContext()), state(state) {}

  LogicalResult matchAndRewrite(tile::LoadOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type element = getTypeConverter()->convertType(getElementTypeOrSelf(op.getType()));
    SmallVector<Value> ptrs = unpack(rewriter, loc, adaptor.getPtr());
    SmallVector<Value> masks, others;
    if (adaptor.getMask())
      masks = unpack(rewriter, loc, adaptor.getMask());
    if (adaptor.getOther())
      others = unpack(rewriter, loc, adaptor.getOther());
    unsigned width = accessWidth(state, op.getPtr(), op.getMask(), ptrs.size());
    unsigned bits = bitsOf(element) * width;
    Type vectorType = vectorOf(element, width);
    unsigned alignment = bits / 8;

    SmallVector<Value> results;
    for (unsigned first = 0; first < ptrs.size(); first += width) {
      Value ptr = ptrs[first];
      Value loaded;
      if (masks.empty()) {
        loaded = LLVM::LoadOp::create(rewriter, loc, vectorType, ptr, alignment);
      } else if (bits >= 32 && !isa<LLVM::LLVMPointerType>(element)) {
        loaded = emitPredicatedLoad(rewriter, loc, ptr, masks[first],
                                    others.empty() ? ArrayRef<Value>()
                                                   : ArrayRef<Value>(others).slice(first, width),
                                    vectorType, bits / 32);
      } else {
        loaded = emitMaskedIntrinsicLoad(rewriter, loc, ptr, masks[first],
                                         others.empty()
                                             ? ArrayRef<Value>()
                                             : ArrayRef<Value>(others).slice(first, width),
                                         vectorType, width, alignment);
      }
      llvm::append_range(results, splitVector(rewriter, loc, loaded, width));
    }
    rewriter.replaceOp(op, pack(rewriter, loc, getTypeConverter()->convertType(op.getType()),
                                results));
    return success();
  }

  // `@p ld.global.v4.b32 {...}, [ptr]`, the outputs first set to `other` where given.
  static Value emitPredicatedLoad(OpBuilder &builder, Location loc, Value ptr, Value mask,
                                  ArrayRef<Value> other, Type vectorType, unsigned words) {
    SmallVector<Value> operands{ptr, predicateAsI32(builder, loc, mask)};
    std::string body = "{\n.reg .pred p;\nsetp.ne.b32 p, $" + std::to_string(words + 1) +
                       ", 0;\n";
    std::string constraints;
    for (unsigned i = 0; i < words; ++i)
      constraints += "=r,";
    constraints += "l,r";
    if (!other.empty()) {
      SmallVector<Value> otherWords =
          toWords(builder, loc, joinVector(builder, loc, other), words);
      for (unsigned i = 0; i < words; ++i) {
        body += "mov.b32 $" + std::to_string(i) + ", $" + std::to_string(words + 2 + i) + ";\n";
        constraints += ",r";
      }
      llvm::append_range(operands, otherWords);
    }
    body += "@p ld.global" + vectorSuffix(words) + ".b32 " + wordList(0, words) + ", [ $" +
            std::to_string(words) + " + 0 ];\n}";
    SmallVector<Type> resultTypes(words, builder.getI32Type());
    Type resultType = words == 1 ? resultTypes.front()
                                 : LLVM::LLVMStructType::getLiteral(builder.getContext(),
                                                                    resultTypes);
    auto asmOp = LLVM::InlineAsmOp::create(
        builder, loc, resultType, operands, builder.getStringAttr(body),
        builder.getStringAttr(constraints), builder.getUnitAttr(), UnitAttr(),
        LLVM::TailCallKindAttr(), LLVM::AsmDialectAttr(), ArrayAttr());
    SmallVector<Value> loadedWords = unpack(builder, loc, asmOp.getResult(0));
    return fromWords(builder, loc, loadedWords, vectorType);
  }

  static Value emitMaskedIntrinsicLoad(OpBuilder &builder, Location loc, Value ptr, Value mask,
                                       ArrayRef<Value> other, Type vectorType, unsigned width,
                                       unsigned alignment) {
    auto fullVector = VectorType::get({width}, getElementTypeOrSelf(vectorType));
    SmallVector<Value> maskLanes(width, mask);
    Value passThrough = other.empty() ? Value(LLVM::PoisonOp::create(builder, loc, fullVector))
                                      : buildVector(builder, loc, other);
    Value loaded = LLVM::MaskedLoadOp::create(builder, loc, fullVector, ptr,
                                              buildVector(builder, loc, maskLanes), passThrough,
                                              alignment);
    if (width == 1)
      return LLVM::ExtractElementOp::create(builder, loc, loaded, constI32(builder, loc, 0));
    return loaded;
  }

  LoweringState &state;
};

struct StoreLowering : public OpConversionPattern<tile::StoreOp> {
  StoreLowering(TileTypeConverter &converter, LoweringState &state)
      : OpConversionPattern(converter, &converter.getContext()), state(state) {}

  LogicalResult matchAndRewrite(tile::StoreOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> ptrs = unpack(rewriter, loc, adaptor.getPtr());
    SmallVector<Value> values = unpack(rewriter, loc, adaptor.getValue());
    SmallVector<Value> masks;
    if (adaptor.getMask())
      masks = unpack(rewriter, loc, adaptor.getMask());
    Type element = values.front().getType();
    unsigned width = accessWidth(state, op.getPtr(), op.getMask(), ptrs.size());
    unsigned bits = bitsOf(element) * width;
    unsigned alignment = bits / 8;

    for (unsigned first = 0; first < ptrs.size(); first += width) {
      Value vector = joinVector(rewriter, loc, ArrayRef<Value>(values).slice(first, width));
      if (masks.empty()) {
        LLVM::StoreOp::create(rewriter, loc, vector, ptrs[first], alignment);
      } else if (bits >= 32 && !isa<LLVM::LLVMPointerType>(element)) {
        unsigned words = bits / 32;
        SmallVector<Value> operands{ptrs[first]};
        llvm::append_range(operands, toWords(rewriter, loc, vector, words));
        operands.push_back(predicateAsI32(rewriter, loc, masks[first]));
        std::string body = "{\n.reg .pred p;\nsetp.ne.b32 p, $" + std::to_string(words + 1) +
                           ", 0;\n@p st.global" + vectorSuffix(words) + ".b32 [ $0 + 0 ], " +
                           wordList(1, words) + ";\n}";
        std::string constraints = "l";
        for (unsigned i = 0; i <= words; ++i)
          constraints += ",r";
        emitSideEffectAsm(rewriter, loc, body, constraints, operands);
      } else {
        Value data = buildVector(rewriter, loc, ArrayRef<Value>(values).slice(first, width));
        SmallVector<Value> maskLanes(width, masks[first]);
        Value mask = buildVector(rewriter, loc, maskLanes);
        LLVM::MaskedStoreOp::create(rewriter, loc, data, ptrs[first], mask,
                                    rewriter.getI32IntegerAttr(alignment));
      }
    }
    rewriter.eraseOp(op);
    return success();
  }

  LoweringState &state;
};

// `atom` for elements of `element`: the operation and type suffix, e.g. "add.f32".
std::string atomOperation(StringRef kind, Type element) {
  unsigned bits = element.getIntOrFloatBitWidth();
  std::string width = std::to_string(bits);
  if (kind == "fadd")
    return bits == 16 ? "add.noftz.f16" : "add.f" + width;
  if (kind == "add" || kind == "umax" || kind == "umin")
    return (kind == "add" ? "add" : kind.drop_front().str()) + ".u" + width;
  if (kind == "max" || kind == "min")
    return kind.str() + ".s" + width;
  if (kind == "xchg")
    return "exch.b" + width;
  return kind.str() + ".b" + width; // and, or, xor, cas
}

struct AtomicLowering : public ConversionPattern {
  AtomicLowering(TileTypeConverter &converter, LoweringState &state, StringRef opName)
      : ConversionPattern(converter, opName, kBlockPatternBenefit, &converter.getContext()),
        state(state) {}

  LogicalResult matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op->getLoc();
    auto rmw = dyn_cast<tile::AtomicRMWOp>(op);
    auto cas = dyn_cast<tile::AtomicCASOp>(op);
    Type resultType = op->getResult(0).getType();
    Type element = getElementTypeOrSelf(resultType);
    auto blockType = dyn_cast<RankedTensorType>(resultType);
    // Operands: pointers, then the value (rmw) or the compare and new values (cas), then the
    // mask.
    SmallVector<SmallVector<Value>> unpacked;
    for (Value operand : operands)
      unpacked.push_back(unpack(rewriter, loc, operand));
    unsigned dataOperands = cas ? 2 : 1;
    bool masked = rmw && rmw.getMask();

    unsigned bits = element.getIntOrFloatBitWidth();
    Type word = rewriter.getIntegerType(bits);
    std::string reg = bits == 16 ? "h" : bits == 32 ? "r" : "l";
    StringRef sem = rmw ? rmw.getSem() : cas.getSem();
    StringRef scope = rmw ? rmw.getScope() : cas.getScope();
    std::string operation = atomOperation(rmw ? rmw.getKind() : StringRef("cas"), element);
    // $0: the old value (zero where the element is not applied), $1: the address, then the
    // data words, then the predicate.
    std::string predicate = "$" + std::to_string(2 + dataOperands);
    std::string body = "{\n.reg .pred p;\nsetp.ne.b32 p, " + predicate + ", 0;\nmov.b" +
                       std::to_string(bits) + " $0, 0;\n@p atom." + sem.str() + "." + scope.str() +
                       ".global." + operation + " $0, [$1], $2" + (cas ? ", $3" : "") + ";\n}";
    std::string constraints = "=" + reg + ",l," + reg + (cas ? "," + reg : "") + ",r";

    Value applies = emitAppliesElements(rewriter, loc, blockType);
    SmallVector<Value> results;
    for (unsigned i = 0; i < unpacked[0].size(); ++i) {
      SmallVector<Value> asmOperands{unpacked[0][i]};
      for (unsigned k = 1; k <= dataOperands; ++k)
        asmOperands.push_back(LLVM::BitcastOp::create(rewriter, loc, word, unpacked[k][i]));
      Value enabled =
          masked ? LLVM::AndOp::create(rewriter, loc, applies, unpacked.back()[i]) : applies;
      asmOperands.push_back(predicateAsI32(rewriter, loc, enabled));
      auto atom = LLVM::InlineAsmOp::create(
          rewriter, loc, word, asmOperands, rewriter.getStringAttr(body),
          rewriter.getStringAttr(constraints), rewriter.getUnitAttr(), UnitAttr(),
          LLVM::TailCallKindAttr(), LLVM::AsmDialectAttr(), ArrayAttr());
      results.push_back(LLVM::BitcastOp::create(rewriter, loc, element, atom.getResult(0)));
    }
    if (blockType) {
      rewriter.replaceOp(op,
                         pack(rewriter, loc, getTypeConverter()->convertType(blockType), results));
      return success();
    }
    if (op->use_empty()) {
      rewriter.eraseOp(op);
      return success();
    }
    // Thread 0 writes the old value to slot 0 and every other thread to slot 1; all read slot 0.
    Value slot = LLVM::ZExtOp::create(
        rewriter, loc, rewriter.getI32Type(),
        LLVM::XOrOp::create(rewriter, loc, applies,
                            LLVM::ConstantOp::create(rewriter, loc, rewriter.getI1Type(), 1)));
    state.reserveShared(2 * storageBytes(element));
    emitBarrier(rewriter, loc);
    LLVM::StoreOp::create(rewriter, loc, toSharedStorage(rewriter, loc, results.front()),
                          emitSharedAddress(rewriter, loc, op, state, element, slot, 0));
    emitBarrier(rewriter, loc);
    Value stored = LLVM::LoadOp::create(
        rewriter, loc, sharedStorageType(element),
        emitSharedAddress(rewriter, loc, op, state, element, constI32(rewriter, loc, 0), 0));
    rewriter.replaceOp(op, fromSharedStorage(rewriter, loc, stored, element));
    return success();
  }

  LoweringState &state;
};

} // namespace

void mlir::tessera::populateMemoryOpPatterns(TileTypeConverter &converter,
                                             RewritePatternSet &patterns, LoweringState &state) {
  patterns.add<LoadLowering, StoreLowering>(converter, state);
  for (StringRef name :
       {tile::AtomicRMWOp::getOperationName(), tile::AtomicCASOp::getOperationName()})
    patterns.add<AtomicLowering>(converter, state, name);
}
