#include "compiler/AxisInfo.h"

#include "dialects/tile/TileDialect.h"
#include "dialects/tilegpu/TileGPUDialect.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"
#include <numeric>

using namespace mlir;
using namespace mlir::tessera;

static constexpr int64_t kLargeDivisor = int64_t(1) << 30;

static int64_t highestPowerOfTwoDividing(int64_t value) {
  if (value == 0)
    return kLargeDivisor;
  return std::min<int64_t>(value & -value, kLargeDivisor);
}

static SmallVector<int64_t> shapeOf(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return SmallVector<int64_t>(tensor.getShape());
  return {1};
}

static AxisInfo unknown(Type type) {
  size_t rank = shapeOf(type).size();
  return {SmallVector<int64_t>(rank, 1), SmallVector<int64_t>(rank, 1),
          SmallVector<int64_t>(rank, 1)};
}

static AxisInfo constant(Type type, int64_t divisibility) {
  SmallVector<int64_t> shape = shapeOf(type);
  return {SmallVector<int64_t>(shape.size(), 1),
          SmallVector<int64_t>(shape.size(), divisibility), shape};
}

static int64_t elementBytes(Type type) {
  Type element = getElementTypeOrSelf(type);
  if (auto ptr = dyn_cast<tile::PointerType>(element))
    element = ptr.getPointeeType();
  return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
}

AxisInfoAnalysis::AxisInfoAnalysis(Operation *root) {
  root->walk([&](Operation *op) {
    if (auto func = dyn_cast<func::FuncOp>(op)) {
      for (BlockArgument arg : func.getArguments()) {
        AxisInfo info = unknown(arg.getType());
        if (auto divisibility =
                func.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), tile::kDivisibilityAttr))
          info.divisibility[0] = divisibility.getInt();
        facts[arg] = info;
      }
    }
  });
  for (Region &region : root->getRegions())
    for (Block &block : region)
      visitBlock(block);
}

void AxisInfoAnalysis::visitBlock(Block &block) {
  for (Operation &op : block) {
    if (auto loop = dyn_cast<scf::ForOp>(&op)) {
      visitLoop(loop);
      continue;
    }
    for (Region &region : op.getRegions())
      for (Block &inner : region)
        visitBlock(inner);
    visit(&op);
  }
}

// What holds for both of two values: per dimension, the common part of each fact.
static AxisInfo join(const AxisInfo &a, const AxisInfo &b) {
  AxisInfo r = a;
  for (size_t d = 0; d < a.contiguity.size(); ++d) {
    r.contiguity[d] = std::gcd(a.contiguity[d], b.contiguity[d]);
    r.divisibility[d] = std::gcd(a.divisibility[d], b.divisibility[d]);
    r.constancy[d] = std::gcd(a.constancy[d], b.constancy[d]);
  }
  return r;
}

// A loop-carried value holds what its initial value and every value yielded for it hold: start
// from the initial facts and weaken them until a pass over the body changes nothing. Facts only
// shrink, so this ends.
void AxisInfoAnalysis::visitLoop(scf::ForOp loop) {
  AxisInfo lower = get(loop.getLowerBound()), step = get(loop.getStep());
  facts[loop.getInductionVar()] = {
      {1}, {std::gcd(lower.divisibility[0], step.divisibility[0])}, {1}};
  for (auto [arg, init] : llvm::zip(loop.getRegionIterArgs(), loop.getInitArgs()))
    facts[arg] = get(init);
  Operation *yield = loop.getBody()->getTerminator();
  bool changed = true;
  while (changed) {
    visitBlock(*loop.getBody());
    changed = false;
    for (auto [arg, yielded] : llvm::zip(loop.getRegionIterArgs(), yield->getOperands())) {
      AxisInfo before = get(arg), joined = join(before, get(yielded));
      if (joined.contiguity != before.contiguity || joined.divisibility != before.divisibility ||
          joined.constancy != before.constancy) {
        facts[arg] = joined;
        changed = true;
      }
    }
  }
  for (auto [arg, result] : llvm::zip(loop.getRegionIterArgs(), loop.getResults()))
    facts[result] = get(arg);
}

AxisInfo AxisInfoAnalysis::get(Value value) const {
  auto it = facts.find(value);
  return it == facts.end() ? unknown(value.getType()) : it->second;
}

// a + b (or ptr + b * scale for addptr): runs of a stay runs where b is constant, and
// vice versa.
static AxisInfo add(const AxisInfo &a, const AxisInfo &b, int64_t scale, bool subtract) {
  AxisInfo r = a;
  for (size_t d = 0; d < a.contiguity.size(); ++d) {
    int64_t fromA = std::gcd(a.contiguity[d], b.constancy[d]);
    int64_t fromB = subtract ? 1 : std::gcd(a.constancy[d], b.contiguity[d]);
    r.contiguity[d] = std::max(fromA, fromB);
    r.divisibility[d] =
        std::gcd(a.divisibility[d], std::min(kLargeDivisor, b.divisibility[d] * scale));
    r.constancy[d] = std::gcd(a.constancy[d], b.constancy[d]);
  }
  return r;
}

// Whether `value` is the integer 1 or a block of ones (a splat of it, as the front end builds).
static bool isOne(Value value) {
  if (auto splat = value.getDefiningOp<tile::SplatOp>())
    value = splat.getSrc();
  return matchPattern(value, m_One());
}

// A tile.hint: its facts hold as well as the operand's, so the stronger of each is kept.
static AxisInfo applyHint(AxisInfo info, tile::HintOp hint) {
  if (std::optional<ArrayRef<int64_t>> divisibility = hint.getDivisibility())
    for (auto [d, fact] : llvm::enumerate(*divisibility))
      info.divisibility[d] = std::max(info.divisibility[d], std::min(fact, kLargeDivisor));
  if (std::optional<ArrayRef<int64_t>> contiguity = hint.getContiguity())
    for (auto [d, fact] : llvm::enumerate(*contiguity))
      info.contiguity[d] = std::max(info.contiguity[d], fact);
  return info;
}

static AxisInfo elementwiseConstancy(Type type, ArrayRef<AxisInfo> operands) {
  AxisInfo r = unknown(type);
  for (size_t d = 0; d < r.constancy.size(); ++d) {
    int64_t constancy = operands.front().constancy[d];
    for (const AxisInfo &info : operands)
      constancy = std::gcd(constancy, info.constancy[d]);
    r.constancy[d] = constancy;
  }
  return r;
}

// a * b (or a << b): products of multiples are multiples of the product; runs of consecutive
// values are lost.
static AxisInfo multiply(Type type, const AxisInfo &a, const AxisInfo &b) {
  AxisInfo r = elementwiseConstancy(type, {a, b});
  for (size_t d = 0; d < r.divisibility.size(); ++d)
    r.divisibility[d] = std::min(kLargeDivisor, a.divisibility[d] * b.divisibility[d]);
  return r;
}

// lhs < rhs is constant over aligned blocks in which lhs is a run of consecutive values and
// rhs a constant, both divisible by the block length.
static AxisInfo compare(Type type, const AxisInfo &lhs, const AxisInfo &rhs, bool ordered) {
  AxisInfo r = elementwiseConstancy(type, {lhs, rhs});
  if (!ordered)
    return r;
  for (size_t d = 0; d < r.constancy.size(); ++d) {
    auto block = [&](const AxisInfo &run, const AxisInfo &bound) {
      return std::min({run.contiguity[d], run.divisibility[d], bound.divisibility[d],
                       bound.constancy[d]});
    };
    r.constancy[d] = std::max({r.constancy[d], block(lhs, rhs), block(rhs, lhs)});
  }
  return r;
}

void AxisInfoAnalysis::visit(Operation *op) {
  if (op->getNumResults() != 1)
    return;
  Value result = op->getResult(0);
  Type type = result.getType();
  if (!getElementTypeOrSelf(type).isIntOrIndex() &&
      !isa<tile::PointerType>(getElementTypeOrSelf(type)))
    return;
  auto operand = [&](unsigned i) { return get(op->getOperand(i)); };
  SmallVector<int64_t> shape = shapeOf(type);

  std::optional<AxisInfo> info =
      llvm::TypeSwitch<Operation *, std::optional<AxisInfo>>(op)
          .Case([&](arith::ConstantOp constantOp) -> std::optional<AxisInfo> {
            if (auto value = dyn_cast<IntegerAttr>(constantOp.getValue()))
              return constant(type, highestPowerOfTwoDividing(value.getInt()));
            auto dense = dyn_cast<DenseIntElementsAttr>(constantOp.getValue());
            if (dense && dense.isSplat())
              return constant(
                  type, highestPowerOfTwoDividing(dense.getSplatValue<APInt>().getSExtValue()));
            return std::nullopt;
          })
          .Case([&](tile::MakeRangeOp range) -> std::optional<AxisInfo> {
            return AxisInfo{{shape[0]}, {highestPowerOfTwoDividing(range.getStart())}, {1}};
          })
          .Case([&](tile::SplatOp) -> std::optional<AxisInfo> {
            return constant(type, operand(0).divisibility[0]);
          })
          .Case<arith::AddIOp>([&](auto) -> std::optional<AxisInfo> {
            return add(operand(0), operand(1), 1, false);
          })
          .Case<arith::SubIOp>([&](auto) -> std::optional<AxisInfo> {
            return add(operand(0), operand(1), 1, true);
          })
          .Case([&](tile::AddPtrOp addptr) -> std::optional<AxisInfo> {
            return add(operand(0), operand(1), elementBytes(type), false);
          })
          .Case([&](arith::MulIOp mul) -> std::optional<AxisInfo> {
            // x * 1 (a stride specialised to 1) keeps all of x's facts.
            if (isOne(mul.getRhs()))
              return operand(0);
            if (isOne(mul.getLhs()))
              return operand(1);
            return multiply(type, operand(0), operand(1));
          })
          .Case([&](arith::ShLIOp) -> std::optional<AxisInfo> {
            return multiply(type, operand(0), operand(1));
          })
          .Case<arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp, arith::IndexCastOp,
                tilegpu::ConvertLayoutOp>(
              [&](auto) -> std::optional<AxisInfo> { return operand(0); })
          .Case([&](tile::HintOp hint) -> std::optional<AxisInfo> {
            return applyHint(operand(0), hint);
          })
          .Case([&](tile::BroadcastOp broadcast) -> std::optional<AxisInfo> {
            AxisInfo r = operand(0);
            ArrayRef<int64_t> from = broadcast.getSrc().getType().getShape();
            for (size_t d = 0; d < shape.size(); ++d)
              if (from[d] == 1 && shape[d] != 1) {
                r.contiguity[d] = 1;
                r.constancy[d] = shape[d];
              }
            return r;
          })
          .Case([&](tile::ExpandDimsOp expand) -> std::optional<AxisInfo> {
            AxisInfo r = operand(0);
            unsigned axis = expand.getAxis();
            // Along the new axis every value is a run of its own: it takes what divides every
            // value, known along dimensions without runs (as Triton does).
            int64_t divisibility = kLargeDivisor;
            for (size_t d = 0; d < r.divisibility.size(); ++d)
              divisibility = std::gcd(divisibility, r.contiguity[d] > 1 ? 1 : r.divisibility[d]);
            r.contiguity.insert(r.contiguity.begin() + axis, 1);
            r.divisibility.insert(r.divisibility.begin() + axis, divisibility);
            r.constancy.insert(r.constancy.begin() + axis, 1);
            return r;
          })
          .Case([&](arith::CmpIOp cmp) -> std::optional<AxisInfo> {
            bool ordered = cmp.getPredicate() != arith::CmpIPredicate::eq &&
                           cmp.getPredicate() != arith::CmpIPredicate::ne;
            return compare(type, operand(0), operand(1), ordered);
          })
          .Case<arith::AndIOp, arith::OrIOp, arith::XOrIOp>([&](auto) -> std::optional<AxisInfo> {
            return elementwiseConstancy(type, {operand(0), operand(1)});
          })
          .Case([&](arith::SelectOp) -> std::optional<AxisInfo> {
            return elementwiseConstancy(type, {operand(0), operand(1), operand(2)});
          })
          .Default([](Operation *) { return std::nullopt; });
  if (info && info->contiguity.size() == shape.size())
    facts[result] = *info;
}

unsigned AxisInfoAnalysis::getVectorWidth(Value pointers) const {
  auto type = dyn_cast<RankedTensorType>(pointers.getType());
  if (!type)
    return 1;
  AxisInfo info = get(pointers);
  int64_t bytes = elementBytes(type);
  int64_t last = type.getRank() - 1;
  int64_t aligned = std::max<int64_t>(1, info.divisibility[last] / bytes);
  int64_t width = std::min({info.contiguity[last], aligned, 16 / bytes});
  return std::max<int64_t>(1, width);
}

unsigned AxisInfoAnalysis::getMaskConstancy(Value mask) const {
  if (!mask)
    return kLargeDivisor;
  AxisInfo info = get(mask);
  return info.constancy.back();
}
