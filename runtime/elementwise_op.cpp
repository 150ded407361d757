// The element-wise ops from C and C++ (add, gelu, clamp, dropout, ...): PyTorch's broadcasting and
// type promotion over tensors of any strides, run by the element-wise kernels and op records of
// loaded bundles (docs/op-records.md, "The element-wise family"). This mirrors
// tessera.ops.elementwise: the same dtype rules, the same merging of dimensions, the same slicing
// past four of them, and parameter values for the same kernels, which here always take four
// dimension slots (RANK 4): the outermost merged dimension goes to slot 3, the others (innermost
// first) to slots 0 to 2, and unused slots have size and strides 1.
#include "runtime/op.h"
#include "runtime/op_kernels.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tessera::runtime {
namespace {

// ---- dtypes -------------------------------------------------------------------------------------

enum class Category { Bool, Integer, Float };

struct DtypeInfo {
  const char *record; // the kernel signature's name, as op records spell it
  const char *api;    // the tessera_dtype's name, for messages
  int32_t bytes;
  Category category;
};

// By tessera_dtype; nullptr for TESSERA_NONE and unknown values.
const DtypeInfo *dtypeInfo(int32_t dtype) {
  static const DtypeInfo table[] = {
      {"fp16", "TESSERA_FLOAT16", 2, Category::Float},
      {"bf16", "TESSERA_BFLOAT16", 2, Category::Float},
      {"fp32", "TESSERA_FLOAT32", 4, Category::Float},
      {"i1", "TESSERA_BOOL", 1, Category::Bool},
      {"u8", "TESSERA_UINT8", 1, Category::Integer},
      {"i8", "TESSERA_INT8", 1, Category::Integer},
      {"i16", "TESSERA_INT16", 2, Category::Integer},
      {"i32", "TESSERA_INT32", 4, Category::Integer},
      {"i64", "TESSERA_INT64", 8, Category::Integer},
  };
  return dtype >= TESSERA_FLOAT16 && dtype <= TESSERA_INT64 ? &table[dtype - 1] : nullptr;
}

Category category(int32_t dtype) { return dtypeInfo(dtype)->category; }
bool isFloat(int32_t dtype) { return category(dtype) == Category::Float; }
const char *apiName(int32_t dtype) { return dtypeInfo(dtype)->api; }

// PyTorch's promotion of two dtypes (torch.promote_types).
int32_t promote(int32_t a, int32_t b) {
  if (a == b || b == TESSERA_BOOL)
    return a;
  if (a == TESSERA_BOOL)
    return b;
  if (isFloat(a) != isFloat(b))
    return isFloat(a) ? a : b;
  if (isFloat(a)) // fp16 with bf16, or either with fp32
    return TESSERA_FLOAT32;
  if (a == TESSERA_UINT8 || b == TESSERA_UINT8) { // with a signed integer
    int32_t other = a == TESSERA_UINT8 ? b : a;
    return other == TESSERA_INT8 ? TESSERA_INT16 : other;
  }
  return dtypeInfo(a)->bytes >= dtypeInfo(b)->bytes ? a : b;
}

// Whether PyTorch casts `from` to `to` for an out= (torch.can_cast: never to a lower category).
bool canCast(int32_t from, int32_t to) { return category(to) >= category(from); }

// The floating dtype of a float function of `dtype`: integers and bools give fp32 (PyTorch's
// default dtype).
int32_t floatOf(int32_t dtype) { return isFloat(dtype) ? dtype : TESSERA_FLOAT32; }

// PyTorch's result type of the operands: dimensioned tensors promote among themselves, 0-d ones
// among themselves, and a 0-d result counts only if it is of a higher category.
int32_t resultType(const std::vector<const tessera_tensor *> &operands) {
  std::optional<int32_t> dimensioned, zeroDim;
  for (const tessera_tensor *t : operands) {
    std::optional<int32_t> &into = t->rank > 0 ? dimensioned : zeroDim;
    into = into ? promote(*into, t->dtype) : t->dtype;
  }
  if (!dimensioned)
    return *zeroDim;
  if (!zeroDim || isFloat(*dimensioned))
    return *dimensioned;
  if (*dimensioned == TESSERA_BOOL || isFloat(*zeroDim))
    return promote(*dimensioned, *zeroDim);
  return *dimensioned;
}

// ---- the ops
// --------------------------------------------------------------------------------------

// What a call runs: the kernel's function (its OP constexpr, or "dropout") and dtypes.
struct Variant {
  std::string function;
  std::array<int32_t, 3> operands = {TESSERA_NONE, TESSERA_NONE, TESSERA_NONE}; // A, B, C
  int32_t out = TESSERA_NONE;
  int32_t common = TESSERA_NONE;
  int32_t result = TESSERA_NONE;
};

enum class Arity { Unary, Binary, Clamp };

struct OpInfo {
  const char *name;
  Arity arity;
  std::vector<const char *> attributes; // the keyword arguments it takes
};

const std::vector<OpInfo> &opTable() {
  static const std::vector<OpInfo> table = {
      {"abs", Arity::Unary, {}},
      {"neg", Arity::Unary, {}},
      {"exp", Arity::Unary, {}},
      {"rsqrt", Arity::Unary, {}},
      {"sin", Arity::Unary, {}},
      {"cos", Arity::Unary, {}},
      {"sigmoid", Arity::Unary, {}},
      {"tanh", Arity::Unary, {}},
      {"relu", Arity::Unary, {}},
      {"silu", Arity::Unary, {}},
      {"gelu", Arity::Unary, {"approximate"}},
      {"isnan", Arity::Unary, {}},
      {"isinf", Arity::Unary, {}},
      {"bitwise_not", Arity::Unary, {}},
      {"dropout", Arity::Unary, {"p", "training", "seed"}},
      {"add", Arity::Binary, {"alpha"}},
      {"sub", Arity::Binary, {"alpha"}},
      {"mul", Arity::Binary, {}},
      {"div", Arity::Binary, {"rounding_mode"}},
      {"pow", Arity::Binary, {}},
      {"eq", Arity::Binary, {}},
      {"ne", Arity::Binary, {}},
      {"lt", Arity::Binary, {}},
      {"le", Arity::Binary, {}},
      {"gt", Arity::Binary, {}},
      {"ge", Arity::Binary, {}},
      {"bitwise_and", Arity::Binary, {}},
      {"bitwise_or", Arity::Binary, {}},
      {"clamp", Arity::Clamp, {}},
  };
  return table;
}

const OpInfo *findOp(const std::string &name) {
  for (const OpInfo &op : opTable())
    if (name == op.name)
      return &op;
  return nullptr;
}

// The values of a launch, by the kernels' parameter names.
// clang-format off
enum Value : int {
  kA, kB, kC, kOut, kN, kAlpha, kP, kScale, kSeed, kSize0, kSize1, kSize2,
  kAS0, kAS1, kAS2, kAS3, kBS0, kBS1, kBS2, kBS3, kCS0, kCS1, kCS2, kCS3, kOS0, kOS1, kOS2, kOS3,
  kNumValues
};
constexpr const char *kValueNames[kNumValues] = {
    "A", "B", "C", "Out", "n", "alpha", "p", "scale", "seed", "size0", "size1", "size2",
    "a_s0", "a_s1", "a_s2", "a_s3", "b_s0", "b_s1", "b_s2", "b_s3", "c_s0", "c_s1", "c_s2", "c_s3",
    "o_s0", "o_s1", "o_s2", "o_s3"};
// clang-format on
constexpr int kSlots = 4; // the kernels' RANK

// A value by its name in a record: dropout_kernel calls its input X (strides x_s*).
int valueIndex(llvm::StringRef name) {
  if (name == "X")
    return kA;
  if (name.size() == 4 && name.starts_with("x_s") && name[3] >= '0' && name[3] <= '3')
    return kAS0 + (name[3] - '0');
  for (int i = 0; i < kNumValues; ++i)
    if (name == kValueNames[i])
      return i;
  return -1;
}

struct Record : RecordHeader {
  Variant variant;
  bool index64 = false;
  int64_t block = 0, numWarps = 0, numStages = 0;
  std::vector<OpParam> params;
  std::vector<int> ones; // values the kernel takes to be 1
};

int32_t dtypeOfRecordName(llvm::StringRef name) {
  for (int32_t dtype = TESSERA_FLOAT16; dtype <= TESSERA_INT64; ++dtype)
    if (name == dtypeInfo(dtype)->record)
      return dtype;
  return TESSERA_NONE;
}

// The record in `text`, or INVALID_ARGUMENT saying what is wrong with it.
StatusOr<Record> parseRecord(const std::string &text) {
  StatusOr<llvm::json::Object> parsed = parseRecordObject(text);
  if (!parsed.ok())
    return parsed.status();
  const llvm::json::Object *object = &*parsed;
  Record record;
  TESSERA_RETURN_IF_ERROR(parseRecordHeader(*object, &record));
  auto dtype = [&](const char *field, int32_t *out) -> Status {
    std::optional<llvm::StringRef> value = object->getString(field);
    *out = value ? dtypeOfRecordName(*value) : TESSERA_NONE;
    if (*out == TESSERA_NONE)
      return invalidArgument(std::string("'") + field + "' is not a dtype name (fp16, bf16, " +
                             "fp32, i1, u8, i8, i16, i32 or i64)");
    return Status();
  };
  auto integer = [&](const char *field, int64_t low, int64_t high, int64_t *out) -> Status {
    std::optional<int64_t> value = object->getInteger(field);
    if (!value || *value < low || *value > high)
      return invalidArgument(std::string("'") + field + "' is not an integer from " +
                             std::to_string(low) + " to " + std::to_string(high));
    *out = *value;
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(recordString(*object, "function", &record.variant.function));
  TESSERA_RETURN_IF_ERROR(dtype("out", &record.variant.out));
  TESSERA_RETURN_IF_ERROR(dtype("common", &record.variant.common));
  TESSERA_RETURN_IF_ERROR(dtype("result", &record.variant.result));
  const llvm::json::Array *operands = object->getArray("operands");
  if (!operands || operands->size() != 3)
    return invalidArgument("'operands' is not an array of three dtype names or nulls");
  for (size_t i = 0; i < 3; ++i) {
    if ((*operands)[i].getAsNull())
      continue;
    std::optional<llvm::StringRef> name = (*operands)[i].getAsString();
    record.variant.operands[i] = name ? dtypeOfRecordName(*name) : TESSERA_NONE;
    if (record.variant.operands[i] == TESSERA_NONE)
      return invalidArgument("'operands' entry " + std::to_string(i) +
                             " is neither a dtype name nor null");
  }
  std::optional<bool> index64 = object->getBoolean("index_64");
  if (!index64)
    return invalidArgument("no boolean 'index_64'");
  record.index64 = *index64;
  TESSERA_RETURN_IF_ERROR(integer("block", 1, 1 << 16, &record.block));
  TESSERA_RETURN_IF_ERROR(integer("num_warps", 1, 32, &record.numWarps));
  record.numStages = 3;
  if (object->get("num_stages"))
    TESSERA_RETURN_IF_ERROR(integer("num_stages", 1, 16, &record.numStages));

  TESSERA_RETURN_IF_ERROR(parseOpParams(*object, valueIndex, &record.params, &record.ones));
  return record;
}

// ---- calls -----------------------------------------------------------------------------------

// A tensor broadcast to the call's shape: its address, element size and strides (0 where it
// broadcasts).
struct View {
  int64_t data = 0;
  int64_t elementBytes = 0;
  std::vector<int64_t> strides;
};

// A call, checked: what it runs, the output's shape and the tensors seen in that shape (the
// operands present, in order A, B, C, then out).
struct Call {
  Variant variant;
  std::vector<int64_t> shape;
  std::vector<View> views;
  int64_t alphaInteger = 1;
  double alphaReal = 1;
  bool alphaIsReal = false;
  double p = 0, scale = 1;
  int64_t seed = 0;
};

// One launch's parameter values, by Value.
struct Values {
  int64_t integers[kNumValues] = {};
  double reals[kNumValues] = {};
};

// A launch, planned: its record and values, the kernel's assumptions, and whether it is a
// bundled case as is.
struct Plan {
  const Record *record = nullptr;
  bool bundled = false;
  std::vector<compiler::ArgumentFacts> facts; // per parameter: what the kernel assumes of it
};

constexpr int64_t kIndex32Limit = int64_t(1) << 31;
// Successive slices of a dropout past four merged dims get distinct seeds (as in Python).
constexpr uint64_t kSliceSeedStep = 0x9E3779B97F4A7C15ull;
constexpr int64_t kSeedLimit = int64_t(1) << 62;

class ElementwiseOp final : public Op {
public:
  ElementwiseOp(Runtime &runtime, const OpInfo &info) : runtime_(runtime), info_(info) {}

  Status launch(int32_t device, CUstream stream, const tessera_tensor *tensors, size_t numTensors,
                const tessera_op_options *options) override {
    StatusOr<Call> call = readCall(tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    std::vector<Values> launches;
    TESSERA_RETURN_IF_ERROR(slices(*call, &launches));
    for (const Values &values : launches) {
      std::unique_lock<std::mutex> lock(mutex_);
      TESSERA_RETURN_IF_ERROR(refresh());
      LaunchKey key = launchKey(*call, values, device);
      auto prepared = prepared_.find(key);
      if (prepared == prepared_.end()) {
        StatusOr<std::string> target = runtime_.deviceTarget(device);
        if (!target.ok())
          return target.status();
        StatusOr<Plan> plan = planFor(*call, values, *target);
        if (!plan.ok())
          return plan.status();
        StatusOr<Kernel *> kernel = kernelFor(*plan, device, *target);
        if (!kernel.ok())
          return kernel.status();
        prepared = prepared_.emplace(std::move(key), Prepared{plan->record, *kernel}).first;
      }
      // Packed under the lock (refresh() may replace the records), launched after it.
      const Record &record = *prepared->second.record;
      uint64_t storage[kMaxOpParams];
      void *args[kMaxOpParams];
      Status packed =
          packOpParams(record.params, kValueNames, values.integers, values.reals, storage, args);
      if (!packed.ok())
        return invalid(packed.message());
      int64_t grid = cdiv(values.integers[kN], record.block);
      Kernel *kernel = prepared->second.kernel;
      size_t numParams = record.params.size();
      lock.unlock();
      if (grid > INT32_MAX)
        return invalid("the call needs " + std::to_string(grid) +
                       " programs, more than a grid "
                       "holds");
      TESSERA_RETURN_IF_ERROR(kernel->launch(uint32_t(grid), 1, 1, stream, args, numParams));
    }
    return Status();
  }

  StatusOr<std::string> describe(const std::string &target, const tessera_tensor *tensors,
                                 size_t numTensors, const tessera_op_options *options) override {
    Call call;
    std::vector<Values> launches;
    TESSERA_RETURN_IF_ERROR(readForTarget(target, tensors, numTensors, options, &call, &launches));
    llvm::json::Object description{{"launches", int64_t(launches.size())}};
    if (!launches.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      TESSERA_RETURN_IF_ERROR(refresh());
      const Values &values = launches[0];
      StatusOr<Plan> plan = planFor(call, values, target);
      if (!plan.ok())
        return plan.status();
      const Record &record = *plan->record;
      description["kernel"] = record.kernel;
      description["path"] = plan->bundled ? "bundled" : "jit";
      description["function"] = record.variant.function;
      description["config"] =
          llvm::json::Object{{"BLOCK", record.block}, {"num_warps", record.numWarps}};
      description["grid"] = llvm::json::Array{cdiv(values.integers[kN], record.block), 1, 1};
      describeOpParams(record.params, record.ones, plan->facts, kValueNames, values.integers,
                       values.reals, &description);
    }
    return jsonText(std::move(description));
  }

  StatusOr<bool> precompile(const std::string &target, const tessera_tensor *tensors,
                            size_t numTensors, const tessera_op_options *options) override {
    Call call;
    std::vector<Values> launches;
    TESSERA_RETURN_IF_ERROR(readForTarget(target, tensors, numTensors, options, &call, &launches));
    bool compiledAny = false;
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    for (const Values &values : launches) {
      StatusOr<Plan> plan = planFor(call, values, target);
      if (!plan.ok())
        return plan.status();
      std::string tileIR;
      StatusOr<KernelSpec> spec = kernelSpec(*plan, target, &tileIR);
      if (!spec.ok())
        return spec.status();
      StatusOr<bool> compiled = precompileOpKernel(runtime_, *spec);
      if (!compiled.ok())
        return compiled.status();
      compiledAny = compiledAny || *compiled;
    }
    return compiledAny;
  }

private:
  // What decides a launch's plan besides the variant: the device, whether it needs 64-bit
  // offsets, and per value whether it is 1 and whether a multiple of 16.
  using LaunchKey =
      std::tuple<std::string, std::array<int32_t, 6>, int32_t, bool, uint64_t, uint64_t>;
  struct Prepared {
    const Record *record = nullptr;
    Kernel *kernel = nullptr;
  };

  Status invalid(const std::string &message) const {
    return invalidArgument(std::string(info_.name) + ": " + message);
  }

  // ---- reading a call ----

  // The call and its launches, for a GPU of `target` that need not be here.
  Status readForTarget(const std::string &target, const tessera_tensor *tensors, size_t numTensors,
                       const tessera_op_options *options, Call *call,
                       std::vector<Values> *launches) const {
    if (!isKnownTarget(target))
      return invalidArgument("target '" + target + "' is not one of " + knownTargetList());
    StatusOr<Call> read = readCall(tensors, numTensors, options);
    if (!read.ok())
      return read.status();
    *call = std::move(read).value();
    return slices(*call, launches);
  }

  // The call's variant, shape, views and scalar arguments, after every check of its arguments.
  StatusOr<Call> readCall(const tessera_tensor *tensors, size_t numTensors,
                          const tessera_op_options *options) const {
    std::vector<const char *> names = {"input"};
    if (info_.arity == Arity::Binary)
      names.push_back(std::string_view(info_.name) == "pow" ? "exponent" : "other");
    if (info_.arity == Arity::Clamp)
      names.insert(names.end(), {"min", "max"});
    names.push_back("out");
    if (!tensors || numTensors != names.size()) {
      std::string list;
      for (const char *name : names)
        list += (list.empty() ? "" : ", ") + std::string(name);
      return invalid("expected " + std::to_string(names.size()) + " tensors (" + list + "), got " +
                     (tensors ? std::to_string(numTensors) : std::string("NULL")));
    }
    for (size_t i = 0; i < numTensors; ++i)
      TESSERA_RETURN_IF_ERROR(checkTensor(
          tensors[i], names[i], names[i] == std::string("min") || names[i] == std::string("max")));
    std::vector<const tessera_tensor *> operands;
    std::vector<const char *> operandNames;
    for (size_t i = 0; i + 1 < numTensors; ++i)
      if (tensors[i].dtype != TESSERA_NONE) {
        operands.push_back(&tensors[i]);
        operandNames.push_back(names[i]);
      }
    if (info_.arity == Arity::Clamp && operands.size() == 1)
      return invalid("min and max are both TESSERA_NONE; expected at least one bound");
    const tessera_tensor &out = tensors[numTensors - 1];

    const char *precision = options ? options->input_precision : nullptr;
    if (precision && std::strcmp(precision, "ieee") != 0)
      return invalid(std::string("options.input_precision must be NULL or \"ieee\", got \"") +
                     precision + "\"");
    Call call;
    TESSERA_RETURN_IF_ERROR(readVariant(tensors, operands, options, &call));
    if (!canCast(call.variant.result, out.dtype))
      return invalid(std::string("out has dtype ") + apiName(out.dtype) +
                     ", but the result has dtype " + apiName(call.variant.result) +
                     ", which does not cast to it");
    call.variant.out = out.dtype;
    for (size_t i = 0; i < operands.size(); ++i)
      call.variant.operands[i] = operands[i]->dtype;

    // Broadcasting, as torch.broadcast_shapes.
    int32_t rank = 0;
    for (const tessera_tensor *t : operands)
      rank = std::max(rank, t->rank);
    call.shape.assign(rank, 1);
    for (const tessera_tensor *t : operands)
      for (int32_t d = 0; d < t->rank; ++d) {
        int64_t &size = call.shape[rank - t->rank + d];
        if (t->sizes[d] != 1 && size != 1 && size != t->sizes[d]) {
          std::string shapes;
          for (size_t i = 0; i < operands.size(); ++i)
            shapes +=
                (i ? ", " : "") + std::string(operandNames[i]) + " " + shapeText(*operands[i]);
          return invalid("the shapes of " + shapes + " do not broadcast together");
        }
        if (t->sizes[d] != 1)
          size = t->sizes[d];
      }
    bool sameShape = out.rank == rank;
    for (int32_t d = 0; sameShape && d < rank; ++d)
      sameShape = out.sizes[d] == call.shape[d];
    if (!sameShape) {
      tessera_tensor expected{};
      expected.rank = rank;
      std::copy(call.shape.begin(), call.shape.end(), expected.sizes);
      return invalid("out has shape " + shapeText(out) + "; expected " + shapeText(expected) +
                     " (the operands' broadcast shape)");
    }
    for (int32_t d = 0; d < rank; ++d)
      if (out.strides[d] == 0 && out.sizes[d] > 1)
        return invalid("out has elements that share memory (a 0 stride); expected a tensor "
                       "whose elements are distinct");
    for (size_t i = 0; i < operands.size(); ++i) {
      if (sameTensor(out, *operands[i]))
        continue; // in place
      auto outRange = memoryRange(out, dtypeInfo(out.dtype)->bytes);
      auto inRange = memoryRange(*operands[i], dtypeInfo(operands[i]->dtype)->bytes);
      if (outRange && inRange && outRange->first < inRange->second &&
          inRange->first < outRange->second)
        return invalid(std::string("out overlaps ") + operandNames[i] + " in memory; expected " +
                       operandNames[i] + " itself or separate from it");
    }
    for (const tessera_tensor *t : operands)
      call.views.push_back(view(*t, rank));
    call.views.push_back(view(out, rank));
    return call;
  }

  Status checkTensor(const tessera_tensor &t, const char *name, bool optional) const {
    Status checked = checkOpTensor(t, name, optional);
    return checked.ok() ? checked : invalid(checked.message());
  }

  // `t` broadcast to `rank` dims of the call's shape: its strides, 0 where it broadcasts.
  static View view(const tessera_tensor &t, int32_t rank) {
    View v{int64_t(t.data), dtypeInfo(t.dtype)->bytes, std::vector<int64_t>(rank, 0)};
    for (int32_t d = 0; d < t.rank; ++d)
      v.strides[rank - t.rank + d] = t.sizes[d] == 1 ? 0 : t.strides[d];
    return v;
  }

  // The call's attributes by name, checked (readOpAttributes).
  StatusOr<OpAttributes> readAttributes(const tessera_op_options *options) const {
    StatusOr<OpAttributes> attributes = readOpAttributes(options, info_.attributes);
    if (!attributes.ok())
      return invalid(attributes.status().message());
    return attributes;
  }

  Status stringAttribute(const OpAttributes &attributes, const char *name,
                         std::vector<std::string> allowed, std::string *value) const {
    auto found = attributes.find(name);
    if (found == attributes.end())
      return Status();
    const tessera_op_attribute &attribute = *found->second;
    std::string list;
    for (const std::string &option : allowed)
      list += (list.empty() ? "\"" : ", \"") + option + "\"";
    if (attribute.kind != TESSERA_ATTRIBUTE_STRING)
      return invalid(std::string(name) + " must be a string attribute, one of " + list);
    *value = attribute.string_value;
    if (std::find(allowed.begin(), allowed.end(), *value) == allowed.end())
      return invalid(std::string(name) + " must be one of " + list + ", got \"" + *value + "\"");
    return Status();
  }

  // The function and dtypes the op runs for its operands and attributes (tessera.ops.elementwise's
  // rules), and its scalar arguments.
  Status readVariant(const tessera_tensor *tensors,
                     const std::vector<const tessera_tensor *> &operands,
                     const tessera_op_options *options, Call *call) const {
    StatusOr<OpAttributes> attributes = readAttributes(options);
    if (!attributes.ok())
      return attributes.status();
    const std::string op = info_.name;
    int32_t input = tensors[0].dtype;
    int32_t result = resultType(operands);
    Variant &v = call->variant;
    v.function = op;
    v.common = v.result = result;
    auto refuse = [&](const std::string &expected) {
      return invalid(std::string(operands.size() > 1 ? "the operands promote to " : "input has ") +
                     "dtype " + apiName(result) + "; expected " + expected);
    };
    if (op == "exp" || op == "rsqrt" || op == "sin" || op == "cos" || op == "sigmoid" ||
        op == "tanh") {
      v.common = v.result = floatOf(input);
    } else if (op == "abs" || op == "neg" || op == "relu") {
      if (input == TESSERA_BOOL)
        return refuse("a number type (use bitwise_not to negate bools)");
    } else if (op == "silu" || op == "gelu" || op == "dropout") {
      if (!isFloat(input))
        return refuse("a floating-point dtype");
      if (op == "gelu") {
        std::string approximate = "none";
        TESSERA_RETURN_IF_ERROR(
            stringAttribute(*attributes, "approximate", {"none", "tanh"}, &approximate));
        v.function = approximate == "none" ? "gelu" : "gelu_tanh";
      }
      if (op == "dropout")
        TESSERA_RETURN_IF_ERROR(readDropout(*attributes, call));
    } else if (op == "bitwise_not" || op == "bitwise_and" || op == "bitwise_or") {
      if (isFloat(result))
        return refuse("an integer or bool dtype");
    } else if (op == "isnan" || op == "isinf") {
      v.common = floatOf(input);
      v.result = TESSERA_BOOL;
    } else if (op == "add" || op == "sub" || op == "mul") {
      if (op == "sub" && std::any_of(operands.begin(), operands.end(),
                                     [](auto *t) { return t->dtype == TESSERA_BOOL; }))
        return invalid("subtracting bools is not supported (PyTorch refuses it too); use "
                       "bitwise_not or a logical op");
      if (result == TESSERA_BOOL)
        v.function = op == "mul" ? "bitwise_and" : "bitwise_or";
      if (op != "mul")
        TESSERA_RETURN_IF_ERROR(readAlpha(*attributes, result, call));
    } else if (op == "div") {
      std::string mode;
      TESSERA_RETURN_IF_ERROR(
          stringAttribute(*attributes, "rounding_mode", {"trunc", "floor"}, &mode));
      if (mode.empty()) {
        v.common = v.result = floatOf(result);
      } else {
        if (result == TESSERA_BOOL)
          return refuse("numbers for rounding_mode \"" + mode + "\"");
        v.function = "div_" + mode;
      }
    } else if (op == "pow" || op == "clamp") {
      if (result == TESSERA_BOOL)
        return refuse("numbers (" + op + " of bools is not supported)");
      if (op == "clamp" && operands.size() == 2)
        v.function = tensors[1].dtype == TESSERA_NONE ? "clamp_max" : "clamp_min";
    } else { // the comparisons; bools compare as 0 and 1
      v.common = result == TESSERA_BOOL ? TESSERA_UINT8 : result;
      v.result = TESSERA_BOOL;
    }
    return Status();
  }

  Status readAlpha(const OpAttributes &attributes, int32_t result, Call *call) const {
    auto found = attributes.find("alpha");
    if (found == attributes.end())
      return Status();
    const tessera_op_attribute &alpha = *found->second;
    if (alpha.kind == TESSERA_ATTRIBUTE_STRING)
      return invalid("alpha must be an int or float attribute, got a string");
    if (alpha.kind == TESSERA_ATTRIBUTE_FLOAT && !isFloat(result))
      return invalid(std::string("alpha is a float but the result has the integral dtype ") +
                     apiName(result) + "; expected an integer alpha");
    bool isOne =
        alpha.kind == TESSERA_ATTRIBUTE_INT ? alpha.int_value == 1 : alpha.float_value == 1.0;
    if (result == TESSERA_BOOL && !isOne)
      return invalid("alpha must be 1 for bool tensors");
    call->alphaIsReal = alpha.kind == TESSERA_ATTRIBUTE_FLOAT;
    call->alphaInteger = call->alphaIsReal ? 0 : alpha.int_value;
    call->alphaReal = call->alphaIsReal ? alpha.float_value : double(alpha.int_value);
    return Status();
  }

  Status readDropout(const OpAttributes &attributes, Call *call) const {
    double p = 0.5;
    if (auto found = attributes.find("p"); found != attributes.end()) {
      const tessera_op_attribute &a = *found->second;
      if (a.kind == TESSERA_ATTRIBUTE_STRING)
        return invalid("p must be a number in [0, 1], got a string");
      p = a.kind == TESSERA_ATTRIBUTE_FLOAT ? a.float_value : double(a.int_value);
    }
    if (!(p >= 0 && p <= 1))
      return invalid("p must be a number in [0, 1], got " + std::to_string(p));
    bool training = true;
    if (auto found = attributes.find("training"); found != attributes.end()) {
      if (found->second->kind != TESSERA_ATTRIBUTE_INT)
        return invalid("training must be an int attribute (0 or 1)");
      training = found->second->int_value != 0;
    }
    if (!training || p == 0) {
      call->variant.function = "identity";
      return Status();
    }
    auto seed = attributes.find("seed");
    if (seed == attributes.end() || seed->second->kind != TESSERA_ATTRIBUTE_INT ||
        seed->second->int_value < 0 || seed->second->int_value >= kSeedLimit)
      return invalid("dropping needs an int attribute 'seed' in [0, 2^62): the random stream "
                     "is keyed by it (tessera.ops.dropout draws one from torch's generator)");
    call->p = p;
    call->scale = p == 1 ? 0.0 : 1.0 / (1.0 - p);
    call->seed = seed->second->int_value;
    return Status();
  }

  // ---- launches ----

  // The launches of `call`: one, or one per slice of the outermost dim (recursively) while the
  // views merge into more than four dims, as tessera.ops.elementwise slices.
  Status slices(const Call &call, std::vector<Values> *launches) const {
    int64_t numel = 1;
    for (int64_t size : call.shape)
      numel *= size;
    if (numel == 0)
      return Status();
    return slice(call, call.shape, call.views, call.seed, launches);
  }

  Status slice(const Call &call, const std::vector<int64_t> &shape, const std::vector<View> &views,
               int64_t seed, std::vector<Values> *launches) const {
    // Merged dims, innermost first: (size, per view stride); size-1 dims dropped.
    std::vector<std::pair<int64_t, std::vector<int64_t>>> dims;
    for (size_t d = shape.size(); d-- > 0;) {
      if (shape[d] == 1)
        continue;
      std::vector<int64_t> strides;
      for (const View &v : views)
        strides.push_back(v.strides[d]);
      if (!dims.empty()) {
        auto &[innerSize, innerStrides] = dims.back();
        bool merges = true;
        for (size_t k = 0; merges && k < views.size(); ++k)
          merges = strides[k] == innerStrides[k] * innerSize;
        if (merges) {
          innerSize *= shape[d];
          continue;
        }
      }
      dims.push_back({shape[d], strides});
    }
    if (dims.empty())
      dims.push_back({1, std::vector<int64_t>(views.size(), 1)});
    if (dims.size() > size_t(kSlots)) {
      std::vector<int64_t> inner(shape.begin() + 1, shape.end());
      for (int64_t i = 0; i < shape[0]; ++i) {
        if (call.variant.function == "dropout") // each slice its own random stream
          seed = int64_t((uint64_t(seed) + kSliceSeedStep) % uint64_t(kSeedLimit));
        std::vector<View> sliced = views;
        for (View &v : sliced) {
          v.data += i * v.strides[0] * v.elementBytes;
          v.strides.erase(v.strides.begin());
        }
        TESSERA_RETURN_IF_ERROR(slice(call, inner, sliced, seed, launches));
      }
      return Status();
    }

    Values values;
    std::fill(std::begin(values.integers), std::end(values.integers), 1);
    std::fill(std::begin(values.reals), std::end(values.reals), 1.0);
    int64_t n = 1;
    for (auto &[size, strides] : dims)
      n *= size;
    values.integers[kN] = n;
    // Slot of merged dim i: the outermost takes slot 3, the others 0, 1, 2 from the innermost.
    size_t r = dims.size();
    auto slotOf = [&](size_t i) { return i + 1 == r ? kSlots - 1 : int(i); };
    for (size_t i = 0; i < r; ++i) {
      int slot = slotOf(i);
      if (slot < kSlots - 1)
        values.integers[kSize0 + slot] = dims[i].first;
    }
    static constexpr Value pointers[] = {kA, kB, kC};
    static constexpr Value firstStrides[] = {kAS0, kBS0, kCS0};
    for (size_t k = 0; k < views.size(); ++k) {
      bool isOut = k + 1 == views.size();
      Value pointer = isOut ? kOut : pointers[k];
      Value strides = isOut ? kOS0 : firstStrides[k];
      values.integers[pointer] = views[k].data;
      for (size_t i = 0; i < r; ++i)
        values.integers[strides + slotOf(i)] = dims[i].second[k];
    }
    values.integers[kAlpha] = call.alphaInteger;
    values.reals[kAlpha] = call.alphaReal;
    values.reals[kP] = call.p;
    values.reals[kScale] = call.scale;
    values.integers[kSeed] = seed;
    launches->push_back(values);
    return Status();
  }

  // Whether a launch reaches 2^31 elements or offsets (tessera.ops.elementwise's INDEX_64).
  static bool needs64(const Values &values) {
    if (values.integers[kN] >= kIndex32Limit)
      return true;
    int64_t sizes[kSlots] = {values.integers[kSize0], values.integers[kSize1],
                             values.integers[kSize2], 1};
    int64_t inner = sizes[0] * sizes[1] * sizes[2];
    sizes[3] = inner ? values.integers[kN] / inner : 0;
    for (Value first : {kAS0, kBS0, kCS0, kOS0}) {
      int64_t extent = 0;
      for (int slot = 0; slot < kSlots; ++slot)
        extent += (sizes[slot] - 1) * values.integers[first + slot];
      if (extent >= kIndex32Limit)
        return true;
    }
    return false;
  }

  LaunchKey launchKey(const Call &call, const Values &values, int32_t device) const {
    uint64_t isOne = 0, isMultiple = 0;
    for (int v = 0; v < kNumValues; ++v) {
      isOne |= uint64_t(values.integers[v] == 1) << v;
      isMultiple |= uint64_t(values.integers[v] % 16 == 0) << v;
    }
    const Variant &variant = call.variant;
    return {variant.function,
            {variant.operands[0], variant.operands[1], variant.operands[2], variant.out,
             variant.common, variant.result},
            device,
            needs64(values),
            isOne,
            isMultiple};
  }

  static std::string variantKey(const Variant &v, const std::string &target) {
    std::string key = v.function;
    for (int32_t dtype : {v.operands[0], v.operands[1], v.operands[2], v.out, v.common, v.result})
      key += std::string("|") + (dtype == TESSERA_NONE ? "none" : dtypeInfo(dtype)->record);
    return key + "|" + target;
  }

  // Re-reads the op records when a bundle was loaded since the last call. Called with mutex_.
  Status refresh() {
    uint64_t generation = runtime_.bundleGeneration();
    if (generation == generation_)
      return Status();
    StatusOr<std::vector<Record>> records =
        parseBundledRecords(runtime_, "elementwise", parseRecord);
    if (!records.ok())
      return records.status();
    records_ = std::move(records).value();
    byVariant_.clear();
    for (size_t i = 0; i < records_.size(); ++i) {
      byVariant_[variantKey(records_[i].variant, records_[i].target)].push_back(i);
      byVariant_[variantKey(records_[i].variant, "any")].push_back(i);
    }
    kernels_.clear();
    prepared_.clear();
    generation_ = generation;
    return Status();
  }

  // The plan of a launch with `values` on `target`: a bundled case whose assumptions hold, else
  // a generic kernel (of this target if there is one) specialised for the launch. Called with
  // mutex_, after refresh().
  StatusOr<Plan> planFor(const Call &call, const Values &values, const std::string &target) {
    bool wide = needs64(values);
    auto holds = [&](const Record &record) {
      return record.index64 >= wide && opParamsHold(record.params, record.ones, values.integers);
    };
    auto local = byVariant_.find(variantKey(call.variant, target));
    if (local != byVariant_.end())
      for (size_t index : local->second)
        if (records_[index].isCase && holds(records_[index]))
          return Plan{&records_[index], true,
                      opParamFacts(records_[index].params, values.integers, true)};
    const Record *generic = nullptr;
    for (const std::string &where : {target, std::string("any")}) {
      auto found = byVariant_.find(variantKey(call.variant, where));
      if (found == byVariant_.end())
        continue;
      for (size_t index : found->second) {
        const Record &record = records_[index];
        // The narrowest offsets that hold: 32-bit where the launch allows.
        if (!record.isCase && holds(record) && (!generic || generic->index64 > record.index64))
          generic = &record;
      }
      if (generic)
        break;
    }
    if (!generic)
      return notFound(missing(call.variant, target, wide));
    return Plan{generic, false, opParamFacts(generic->params, values.integers, false)};
  }

  std::string missing(const Variant &v, const std::string &target, bool wide) const {
    std::string operands;
    for (int32_t dtype : v.operands)
      if (dtype != TESSERA_NONE)
        operands += (operands.empty() ? "" : ", ") + std::string(apiName(dtype));
    return std::string(info_.name) + ": no loaded bundle holds " +
           (wide ? "a 64-bit-offset " : "an ") + "element-wise kernel '" + v.function +
           "' for operands " + operands + " (computing in " + apiName(v.common) + ", out " +
           apiName(v.out) + ") for " + target +
           ": load the op library's bundle (tessera-aot --library), or build one with an "
           "\"ops\" entry for " +
           info_.name +
           " and these dtypes; operands of one dtype, out of the result's, are the library's";
  }

  // The kernel of `plan` for `target` (see opKernelSpec). Called with mutex_.
  StatusOr<KernelSpec> kernelSpec(const Plan &plan, const std::string &target,
                                  std::string *tileIR) const {
    const Record &record = *plan.record;
    return opKernelSpec(runtime_, info_.name, record.kernel, record.target, record.numWarps,
                        record.numStages, target, !plan.bundled, plan.facts, tileIR);
  }

  // The loaded kernel of `plan` on `device`, looked up once per (record, device, facts). Called
  // with mutex_.
  StatusOr<Kernel *> kernelFor(const Plan &plan, int32_t device, const std::string &target) {
    return kernels_.get(plan.record, device, plan.facts, [&]() -> StatusOr<Kernel *> {
      std::string tileIR;
      StatusOr<KernelSpec> spec = kernelSpec(plan, target, &tileIR);
      if (!spec.ok())
        return spec.status();
      return loadOpKernel(runtime_, *spec, device, plan.record->params.size(), info_.name,
                          plan.record->kernel);
    });
  }

  Runtime &runtime_;
  const OpInfo &info_;
  std::mutex mutex_; // guards everything below
  uint64_t generation_ = 0;
  std::vector<Record> records_;
  // Record indices by variantKey, on their target and under "any".
  std::unordered_map<std::string, std::vector<size_t>> byVariant_;
  OpKernelCache kernels_;
  std::map<LaunchKey, Prepared> prepared_;
};

} // namespace

bool isElementwiseOp(const std::string &name) { return findOp(name) != nullptr; }

std::string elementwiseOpNames() {
  std::string names;
  for (const OpInfo &op : opTable())
    names += (names.empty() ? "" : ", ") + std::string(op.name);
  return names;
}

std::unique_ptr<Op> makeElementwiseOp(Runtime &runtime, const std::string &name) {
  const OpInfo *info = findOp(name);
  return info ? std::make_unique<ElementwiseOp>(runtime, *info) : nullptr;
}

Status checkElementwiseRecord(const std::string &record) { return parseRecord(record).status(); }

} // namespace tessera::runtime
