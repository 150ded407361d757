// rotary_position_embedding from C and C++: rotates the channel pairs of input (B, S, H, D) by
// the angles of sin_table and cos_table (S, D/2), run by the rope kernels and op records of loaded
// bundles (docs/op-records.md, "The rope family"). This mirrors tessera.ops.rope: the same checks,
// the same tile (launch_config), the same word view of interleaved pairs (_word_view), the same
// INDEX_64 rule and the same parameter values (_arguments), so that a bundled case runs exactly the
// kernel the Python op compiles for the call.
#include "runtime/op.h"
#include "runtime/op_kernels.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tessera::runtime {
namespace {

constexpr const char *kOpName = "rotary_position_embedding";

// tessera.ops.rope's tile limits: BLOCK_HALF pairs along D (at most 512), BLOCK_H heads (at most
// 2048 pairs per program in all).
constexpr int64_t kMaxBlockHalf = 512;
constexpr int64_t kTilePairs = 2048;
constexpr int kBlockHChoices = 12; // BLOCK_H is a power of two from 1 to kTilePairs
constexpr int64_t kIndex32Limit = int64_t(1) << 31;

// The values of a launch, by rope_kernel's parameter names.
// clang-format off
enum Value : int {
  kX, kY, kSin, kCos, kS, kH,
  kStrideXB, kStrideXS, kStrideXH, kStrideXD, kStrideYB, kStrideYS, kStrideYH, kStrideYD,
  kStrideSinS, kStrideSinD, kStrideCosS, kStrideCosD,
  kNumValues
};
constexpr const char *kValueNames[kNumValues] = {
    "X", "Y", "SIN", "COS", "S", "H",
    "stride_xb", "stride_xs", "stride_xh", "stride_xd", "stride_yb", "stride_ys", "stride_yh",
    "stride_yd", "stride_sin_s", "stride_sin_d", "stride_cos_s", "stride_cos_d"};
// clang-format on

using Values = std::array<int64_t, kNumValues>;

bool isPowerOf2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// ---- op records ---------------------------------------------------------------------------------

struct Record : RecordHeader {
  int32_t input = TESSERA_NONE, table = TESSERA_NONE;
  int64_t half = 0, blockH = 0, blockHalf = 0, numWarps = 0, numStages = 0;
  bool evenH = false, interleaved = false, paired = false, index64 = false;
  std::vector<OpParam> params;
  std::vector<int> ones; // values the kernel takes to be 1
};

int valueIndex(llvm::StringRef name) {
  for (int i = 0; i < kNumValues; ++i)
    if (name == kValueNames[i])
      return i;
  return -1;
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
    *out = value ? floatOfRecordName(*value) : TESSERA_NONE;
    if (*out == TESSERA_NONE)
      return invalidArgument(std::string("'") + field + "' is not fp16, bf16 or fp32");
    return Status();
  };
  auto integer = [&](const char *field, int64_t high, bool powerOf2, int64_t *out) -> Status {
    std::optional<int64_t> value = object->getInteger(field);
    if (!value || *value < 1 || *value > high || (powerOf2 && !isPowerOf2(*value)))
      return invalidArgument(std::string("'") + field + "' is not " +
                             (powerOf2 ? "a power of two" : "an integer") + " from 1 to " +
                             std::to_string(high));
    *out = *value;
    return Status();
  };
  auto boolean = [&](const char *field, bool *out) -> Status {
    std::optional<bool> value = object->getBoolean(field);
    if (!value)
      return invalidArgument(std::string("no boolean '") + field + "'");
    *out = *value;
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(dtype("input", &record.input));
  TESSERA_RETURN_IF_ERROR(dtype("table", &record.table));
  TESSERA_RETURN_IF_ERROR(integer("half", INT32_MAX, false, &record.half));
  TESSERA_RETURN_IF_ERROR(integer("block_h", kTilePairs, true, &record.blockH));
  TESSERA_RETURN_IF_ERROR(integer("block_half", kMaxBlockHalf, true, &record.blockHalf));
  TESSERA_RETURN_IF_ERROR(integer("num_warps", 32, true, &record.numWarps));
  TESSERA_RETURN_IF_ERROR(integer("num_stages", 16, false, &record.numStages));
  TESSERA_RETURN_IF_ERROR(boolean("even_h", &record.evenH));
  TESSERA_RETURN_IF_ERROR(boolean("interleaved", &record.interleaved));
  TESSERA_RETURN_IF_ERROR(boolean("paired", &record.paired));
  TESSERA_RETURN_IF_ERROR(boolean("index_64", &record.index64));
  if (record.paired && !record.interleaved)
    return invalidArgument("'paired' is true but 'interleaved' is false (only interleaved pairs "
                           "are words)");

  TESSERA_RETURN_IF_ERROR(parseOpParams(*object, valueIndex, &record.params, &record.ones));
  // Every argument is a parameter or folded to 1: the launch knows nothing else to pass.
  bool seen[kNumValues] = {};
  for (const OpParam &param : record.params) {
    seen[param.value] = true;
    bool pointer = param.value <= kCos;
    if (pointer != (param.type == ParamType::Pointer) || param.type == ParamType::F32)
      return invalidArgument(std::string("parameter '") + kValueNames[param.value] +
                             "' has a type other than " + (pointer ? "a pointer" : "i32 or i64"));
  }
  for (int one : record.ones) {
    seen[one] = true;
    if (one <= kCos)
      return invalidArgument(std::string("'ones' names the pointer '") + kValueNames[one] + "'");
  }
  for (int value = 0; value < kNumValues; ++value)
    if (!seen[value])
      return invalidArgument(std::string("argument '") + kValueNames[value] +
                             "' is neither in 'params' nor in 'ones'");
  return record;
}

// ---- calls --------------------------------------------------------------------------------------

// The constexprs that a launch plans (launch_config, EVEN_H, PAIRED, INDEX_64).
struct Meta {
  int64_t blockH = 0, blockHalf = 0;
  bool evenH = false, paired = false, index64 = false;
};

// A call, checked: its dtypes and sizes, the tile the Python op plans for it and the parameter
// values of both views of input and out.
struct Call {
  int32_t input = TESSERA_NONE, table = TESSERA_NONE;
  int64_t batch = 0, seq = 0, heads = 0, dim = 0, half = 0;
  bool interleaved = true;
  bool empty = false;
  Meta planned;
  // Pointers and strides in elements (every kernel without PAIRED), and where the memory allows
  // (planned.paired) in words of two elements: what a PAIRED kernel takes.
  Values elements = {}, words = {};

  const Values &valuesFor(const Record &record) const { return record.paired ? words : elements; }
};

// One past the largest element offset of a tensor (tessera.ops.rope._extent), in 128 bits: sizes
// are bounded by the program count, strides are not.
unsigned __int128 extent(std::initializer_list<int64_t> sizes, const int64_t *strides) {
  unsigned __int128 last = 0;
  size_t d = 0;
  for (int64_t size : sizes)
    last += (unsigned __int128)(size - 1) * (unsigned __int128)strides[d++];
  return last + 1;
}

// Whether a launch with tiles of blockH heads and blockHalf pairs reaches offsets of 2^31 (the
// INDEX_64 of tessera.ops.rope._arguments: each tile's masked rows and pairs count too).
bool needs64(const Call &call, int64_t blockH, int64_t blockHalf) {
  const int64_t *v = call.elements.data();
  int64_t heads = cdiv(call.heads, blockH) * blockH;
  int64_t pairs = cdiv(call.half, blockHalf) * blockHalf;
  unsigned __int128 reach[] = {extent({call.batch, call.seq, heads, call.dim}, v + kStrideXB),
                               extent({call.batch, call.seq, heads, call.dim}, v + kStrideYB),
                               extent({call.seq, pairs}, v + kStrideSinS),
                               extent({call.seq, pairs}, v + kStrideCosS)};
  return *std::max_element(std::begin(reach), std::end(reach)) >= kIndex32Limit;
}

// The programs of a launch with tiles of blockH heads and blockHalf pairs, INT64_MAX past it.
int64_t programCount(const Call &call, int64_t blockH, int64_t blockHalf) {
  unsigned __int128 count = 1;
  for (int64_t factor :
       {call.batch, call.seq, cdiv(call.heads, blockH), cdiv(call.half, blockHalf)}) {
    count *= (unsigned __int128)factor;
    if (count > INT64_MAX)
      return INT64_MAX;
  }
  return int64_t(count);
}

// Whether `t` (dims 0..2 strided, dim 3 of even size) can be read as words of two elements, as
// tessera.ops.rope._word_view: its last dim contiguous, and its address and the strides of its
// dims of more than one element even in elements. The word view gives dims of one element the
// stride 0; *strides gets its strides, in words. (Python asks for an even storage offset; in C
// the address itself must be aligned to the word.)
bool wordStrides(const tessera_tensor &t, int64_t elementBytes, int64_t strides[4]) {
  if (t.strides[3] != 1 && t.sizes[3] > 1)
    return false;
  if (t.data % uint64_t(2 * elementBytes))
    return false;
  for (int d = 0; d < 3; ++d) {
    int64_t stride = t.sizes[d] > 1 ? t.strides[d] : 0;
    if (stride % 2)
      return false;
    strides[d] = stride / 2;
  }
  strides[3] = 1;
  return true;
}

// ---- the op -------------------------------------------------------------------------------------

// The kernel and parameters of a launch.
struct Plan {
  const Record *record = nullptr;
  bool bundled = false;                       // a case record as is; else specialised here
  std::vector<compiler::ArgumentFacts> facts; // per parameter: what the kernel assumes of it
};

class RopeOp final : public Op {
public:
  explicit RopeOp(Runtime &runtime) : runtime_(runtime) {}

  Status launch(int32_t device, CUstream stream, const tessera_tensor *tensors, size_t numTensors,
                const tessera_op_options *options) override {
    StatusOr<Call> call = readCall(tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    if (call->empty)
      return Status();
    std::unique_lock<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    LaunchKey key = launchKey(*call, device);
    auto prepared = prepared_.find(key);
    if (prepared == prepared_.end()) {
      StatusOr<std::string> target = runtime_.deviceTarget(device);
      if (!target.ok())
        return target.status();
      StatusOr<Plan> plan = planFor(*call, *target);
      if (!plan.ok())
        return plan.status();
      StatusOr<Kernel *> kernel = kernelFor(*plan, device, *target);
      if (!kernel.ok())
        return kernel.status();
      prepared = prepared_.emplace(key, Prepared{plan->record, *kernel}).first;
    }
    // Packed under the lock (refresh() may replace the records), launched after it.
    const Record &record = *prepared->second.record;
    const Values &values = call->valuesFor(record);
    uint64_t storage[kMaxOpParams];
    void *args[kMaxOpParams];
    Status packed = packOpParams(record.params, kValueNames, values.data(), nullptr, storage, args);
    if (!packed.ok())
      return invalid(packed.message());
    // planFor took a record whose grid fits in a launch.
    uint32_t grid = uint32_t(programCount(*call, record.blockH, record.blockHalf));
    Kernel *kernel = prepared->second.kernel;
    size_t numParams = record.params.size();
    lock.unlock();
    return kernel->launch(grid, 1, 1, stream, args, numParams);
  }

  StatusOr<std::string> describe(const std::string &target, const tessera_tensor *tensors,
                                 size_t numTensors, const tessera_op_options *options) override {
    StatusOr<Call> call = readCallForTarget(target, tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    llvm::json::Object description{{"launches", call->empty ? 0 : 1}};
    if (!call->empty) {
      std::lock_guard<std::mutex> lock(mutex_);
      TESSERA_RETURN_IF_ERROR(refresh());
      StatusOr<Plan> plan = planFor(*call, target);
      if (!plan.ok())
        return plan.status();
      describePlan(*call, *plan, &description);
    }
    return jsonText(std::move(description));
  }

  StatusOr<bool> precompile(const std::string &target, const tessera_tensor *tensors,
                            size_t numTensors, const tessera_op_options *options) override {
    StatusOr<Call> call = readCallForTarget(target, tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    if (call->empty)
      return false;
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    StatusOr<Plan> plan = planFor(*call, target);
    if (!plan.ok())
      return plan.status();
    std::string tileIR;
    StatusOr<KernelSpec> spec = kernelSpec(*plan, target, &tileIR);
    if (!spec.ok())
      return spec.status();
    return precompileOpKernel(runtime_, *spec);
  }

private:
  // What decides a launch's plan: the device; the dtypes, interleaved, HALF and H; whether the
  // call has a word view; per BLOCK_H (a power of two) whether it needs 64-bit offsets and whether
  // its grid fits in a launch; and per value (elements, then words) what a record may assume of
  // it (valueClass).
  using ValueClasses = std::array<uint8_t, 2 * kNumValues>;
  using LaunchKey =
      std::tuple<int32_t, int32_t, int32_t, bool, int64_t, int64_t, bool, uint32_t, ValueClasses>;
  struct Prepared {
    const Record *record = nullptr;
    Kernel *kernel = nullptr;
  };

  static Status invalid(const std::string &message) {
    return invalidArgument(std::string(kOpName) + ": " + message);
  }

  // ---- reading a call ----

  StatusOr<Call> readCallForTarget(const std::string &target, const tessera_tensor *tensors,
                                   size_t numTensors, const tessera_op_options *options) const {
    if (!isKnownTarget(target))
      return invalidArgument("target '" + target + "' is not one of " + knownTargetList());
    return readCall(tensors, numTensors, options);
  }

  // The call's dtypes, sizes, planned tile and parameter values, after every check of its
  // arguments (tessera.ops.rope's, in its order, then those of a caller-allocated out).
  StatusOr<Call> readCall(const tessera_tensor *tensors, size_t numTensors,
                          const tessera_op_options *options) const {
    static const char *const names[] = {"input", "sin_table", "cos_table", "out"};
    if (!tensors || numTensors != 4)
      return invalid("expected 4 tensors (input, sin_table, cos_table, out), got " +
                     (tensors ? std::to_string(numTensors) : std::string("NULL")));
    for (int i = 0; i < 4; ++i) {
      Status checked = checkOpTensor(tensors[i], names[i], false);
      if (!checked.ok())
        return invalid(checked.message());
    }
    Call call;
    TESSERA_RETURN_IF_ERROR(readOptions(options, &call));
    const tessera_tensor &x = tensors[0], &sin = tensors[1], &cos = tensors[2], &out = tensors[3];
    call.input = x.dtype;
    if (!floatRecordName(x.dtype))
      return invalid(std::string("input has dtype ") + dtypeApiName(x.dtype) +
                     "; expected one of TESSERA_FLOAT16, TESSERA_BFLOAT16, TESSERA_FLOAT32");
    if (x.rank != 4)
      return invalid("input must have 4 dimensions (B, S, H, D), got shape " + shapeText(x));
    call.batch = x.sizes[0], call.seq = x.sizes[1], call.heads = x.sizes[2];
    call.dim = x.sizes[3], call.half = call.dim / 2;
    if (call.dim % 2)
      return invalid("the last dimension of input (D = " + std::to_string(call.dim) +
                     ") must be even: the rotation acts on pairs of channels");
    TESSERA_RETURN_IF_ERROR(checkTable("sin_table", sin, x, call));
    TESSERA_RETURN_IF_ERROR(checkTable("cos_table", cos, x, call));
    if (sin.dtype != cos.dtype)
      return invalid(std::string("sin_table has dtype ") + dtypeApiName(sin.dtype) +
                     " but cos_table has " + dtypeApiName(cos.dtype) + "; expected the same dtype");
    call.table = sin.dtype;
    TESSERA_RETURN_IF_ERROR(checkOut(x, sin, cos, out));

    call.empty = std::find(x.sizes, x.sizes + 4, 0) != x.sizes + 4;
    if (call.empty)
      return call;
    // launch_config(H, D/2), its caps (powers of two) applied first: sizes are not bounded yet
    Meta &meta = call.planned;
    meta.blockHalf = nextPowerOf2(std::min(call.half, kMaxBlockHalf));
    meta.blockH = nextPowerOf2(std::min(call.heads, kTilePairs / meta.blockHalf));
    int64_t programs = programCount(call, meta.blockH, meta.blockHalf);
    if (programs >= kIndex32Limit)
      return invalid("input of shape " + shapeText(x) + " needs " +
                     (programs == INT64_MAX ? "more than " + std::to_string(INT64_MAX)
                                            : std::to_string(programs)) +
                     " programs, more than a launch's 2**31 - 1");

    // _arguments: the tensors' own strides; with interleaved pairs, the word view where both
    // input and out allow it.
    Values &v = call.elements;
    v[kX] = int64_t(x.data), v[kY] = int64_t(out.data);
    v[kSin] = int64_t(sin.data), v[kCos] = int64_t(cos.data);
    v[kS] = call.seq, v[kH] = call.heads;
    std::copy(x.strides, x.strides + 4, v.begin() + kStrideXB);
    std::copy(out.strides, out.strides + 4, v.begin() + kStrideYB);
    std::copy(sin.strides, sin.strides + 2, v.begin() + kStrideSinS);
    std::copy(cos.strides, cos.strides + 2, v.begin() + kStrideCosS);
    if (call.interleaved) {
      int64_t elementBytes = dtypeBytes(x.dtype);
      call.words = call.elements;
      meta.paired = wordStrides(x, elementBytes, call.words.data() + kStrideXB) &&
                    wordStrides(out, elementBytes, call.words.data() + kStrideYB);
    }
    meta.evenH = call.heads % meta.blockH == 0;
    meta.index64 = needs64(call, meta.blockH, meta.blockHalf);
    return call;
  }

  // input_precision and the attribute "interleaved" (INT 0 or 1, default 1).
  static Status readOptions(const tessera_op_options *options, Call *call) {
    const char *precision = options ? options->input_precision : nullptr;
    if (precision && std::strcmp(precision, "ieee") != 0)
      return invalid(std::string("options.input_precision must be NULL or \"ieee\", got \"") +
                     precision + "\"");
    StatusOr<OpAttributes> attributes = readOpAttributes(options, {"interleaved"});
    if (!attributes.ok())
      return invalid(attributes.status().message());
    auto interleaved = attributes->find("interleaved");
    if (interleaved != attributes->end()) {
      const tessera_op_attribute &attribute = *interleaved->second;
      if (attribute.kind != TESSERA_ATTRIBUTE_INT)
        return invalid("interleaved must be an int attribute (0 or 1)");
      if (attribute.int_value != 0 && attribute.int_value != 1)
        return invalid("interleaved must be 0 or 1, got " + std::to_string(attribute.int_value));
      call->interleaved = attribute.int_value == 1;
    }
    return Status();
  }

  // tessera.ops.rope._check_table: fp32 or the input's dtype, of shape (S, D/2).
  static Status checkTable(const char *name, const tessera_tensor &table, const tessera_tensor &x,
                           const Call &call) {
    std::string what = name;
    if (table.dtype != TESSERA_FLOAT32 && table.dtype != call.input)
      return invalid(what + " has dtype " + dtypeApiName(table.dtype) + "; expected one of " +
                     (call.input == TESSERA_FLOAT32
                          ? std::string("TESSERA_FLOAT32")
                          : std::string("TESSERA_FLOAT32, ") + dtypeApiName(call.input)));
    if (table.rank != 2 || table.sizes[0] != call.seq || table.sizes[1] != call.half)
      return invalid(what + " has shape " + shapeText(table) + "; expected (S, D/2) = (" +
                     std::to_string(call.seq) + ", " + std::to_string(call.half) +
                     ") for input of shape " + shapeText(x));
    return Status();
  }

  // out: input's dtype and shape; input itself (in place, which needs distinct elements, as
  // inplace=True does) or memory of its own.
  static Status checkOut(const tessera_tensor &x, const tessera_tensor &sin,
                         const tessera_tensor &cos, const tessera_tensor &out) {
    if (out.dtype != x.dtype)
      return invalid(std::string("out has dtype ") + dtypeApiName(out.dtype) + "; expected " +
                     dtypeApiName(x.dtype) + " (input's dtype)");
    if (out.rank != 4 || !std::equal(x.sizes, x.sizes + 4, out.sizes))
      return invalid("out has shape " + shapeText(out) + "; expected " + shapeText(x) +
                     " (input's shape)");
    bool inPlace = sameTensor(out, x);
    for (int d = 0; d < 4; ++d)
      if (out.strides[d] == 0 && out.sizes[d] > 1)
        return invalid(inPlace ? "input has elements that share memory (a 0 stride); out = input "
                                 "(in place) needs distinct elements"
                               : "out has elements that share memory (a 0 stride); expected a "
                                 "tensor whose elements are distinct");
    auto outRange = memoryRange(out, dtypeBytes(out.dtype));
    std::pair<const char *, const tessera_tensor *> inputs[] = {
        {"input", &x}, {"sin_table", &sin}, {"cos_table", &cos}};
    for (auto [name, t] : inputs) {
      if (t == &x && inPlace)
        continue;
      auto inRange = memoryRange(*t, dtypeBytes(t->dtype));
      if (outRange && inRange && outRange->first < inRange->second &&
          inRange->first < outRange->second)
        return invalid(std::string("out overlaps ") + name + " in memory; expected " +
                       (t == &x ? "input itself or separate from it" : "a separate output"));
    }
    return Status();
  }

  // ---- planning ----

  // Whether `value` is 1, whether it fits an i32, and the largest power of two up to 16 that
  // divides it (as its log2): all that a record's assumptions can ask of a value.
  static uint8_t valueClass(int64_t value) {
    int alignment = 0;
    while (alignment < 4 && value % (int64_t(2) << alignment) == 0)
      ++alignment;
    bool fits32 = value >= INT32_MIN && value <= INT32_MAX;
    return uint8_t((alignment << 2) | (fits32 << 1) | (value == 1));
  }

  static LaunchKey launchKey(const Call &call, int32_t device) {
    uint32_t blocks = 0;
    for (int i = 0; i < kBlockHChoices; ++i) {
      int64_t blockH = int64_t(1) << i;
      blocks |= uint32_t(needs64(call, blockH, call.planned.blockHalf)) << (2 * i);
      blocks |= uint32_t(programCount(call, blockH, call.planned.blockHalf) < kIndex32Limit)
                << (2 * i + 1);
    }
    ValueClasses classes = {};
    for (int v = 0; v < kNumValues; ++v) {
      classes[v] = valueClass(call.elements[v]);
      classes[kNumValues + v] = call.planned.paired ? valueClass(call.words[v]) : 0;
    }
    return {device,     call.input,          call.table, call.interleaved, call.half,
            call.heads, call.planned.paired, blocks,     classes};
  }

  static std::string variantKey(int32_t input, int32_t table, int64_t half, bool interleaved,
                                const std::string &target) {
    return std::string(floatRecordName(input)) + "|" + floatRecordName(table) + "|" +
           std::to_string(half) + (interleaved ? "|interleaved|" : "|halves|") + target;
  }

  // Re-reads the op records when a bundle was loaded since the last call. Called with mutex_.
  Status refresh() {
    uint64_t generation = runtime_.bundleGeneration();
    if (generation == generation_)
      return Status();
    StatusOr<std::vector<Record>> records = parseBundledRecords(runtime_, "rope", parseRecord);
    if (!records.ok())
      return records.status();
    records_ = std::move(records).value();
    byVariant_.clear();
    for (size_t i = 0; i < records_.size(); ++i) {
      const Record &r = records_[i];
      byVariant_[variantKey(r.input, r.table, r.half, r.interleaved, r.target)].push_back(i);
      byVariant_[variantKey(r.input, r.table, r.half, r.interleaved, "any")].push_back(i);
    }
    kernels_.clear();
    prepared_.clear();
    generation_ = generation;
    return Status();
  }

  // Whether `record` (of the call's dtypes, HALF and interleaved) computes the call: its word
  // view where it is PAIRED, whole tiles of heads where EVEN_H, offsets that fit its INDEX_64, a
  // grid that fits in a launch, and every assumption of its parameters (divisibility, 1, i32).
  static bool holds(const Record &record, const Call &call) {
    if ((record.paired && !call.planned.paired) || (record.evenH && call.heads % record.blockH) ||
        (!record.index64 && needs64(call, record.blockH, record.blockHalf)) ||
        programCount(call, record.blockH, record.blockHalf) >= kIndex32Limit)
      return false;
    return opParamsHold(record.params, record.ones, call.valuesFor(record).data());
  }

  // The plan of `call` on `target`: a bundled case of the planned tile whose assumptions hold,
  // else a generic kernel (of this target if there is one) specialised for the call. Called with
  // mutex_, after refresh().
  StatusOr<Plan> planFor(const Call &call, const std::string &target) const {
    const Meta &planned = call.planned;
    auto local =
        byVariant_.find(variantKey(call.input, call.table, call.half, call.interleaved, target));
    if (local != byVariant_.end())
      for (size_t index : local->second) {
        const Record &record = records_[index];
        if (record.isCase && record.blockHalf == planned.blockHalf &&
            record.blockH == planned.blockH && record.evenH == planned.evenH &&
            record.paired == planned.paired && holds(record, call))
          return Plan{&record, true, opParamFacts(record.params, nullptr, true)};
      }
    // Generic kernels: the planned BLOCK_H first, then the one that masks the fewest heads
    // (ties: the larger tile, fewer programs); words where the call has them (a bundle may hold
    // PAIRED generic kernels); 32-bit offsets where the call allows.
    auto rank = [&](const Record &r) {
      return std::make_tuple(r.blockH != planned.blockH,
                             cdiv(call.heads, r.blockH) * r.blockH - call.heads, -r.blockH,
                             r.paired != planned.paired, r.index64);
    };
    const Record *generic = nullptr;
    for (const std::string &where : {target, std::string("any")}) {
      auto found =
          byVariant_.find(variantKey(call.input, call.table, call.half, call.interleaved, where));
      if (found == byVariant_.end())
        continue;
      for (size_t index : found->second) {
        const Record &record = records_[index];
        if (!record.isCase && record.blockHalf == planned.blockHalf && holds(record, call) &&
            (!generic || rank(record) < rank(*generic)))
          generic = &record;
      }
      if (generic)
        break;
    }
    if (!generic)
      return notFound(missing(call, target));
    return Plan{generic, false,
                opParamFacts(generic->params, call.valuesFor(*generic).data(), false)};
  }

  static std::string missing(const Call &call, const std::string &target) {
    std::string shape = "[" + std::to_string(call.batch) + ", " + std::to_string(call.seq) + ", " +
                        std::to_string(call.heads) + ", " + std::to_string(call.dim) + "]";
    return std::string(kOpName) + ": no loaded bundle holds " +
           (call.planned.index64 ? "a 64-bit-offset " : "a ") +
           "rope kernel for head dim D = " + std::to_string(call.dim) + " with input " +
           dtypeApiName(call.input) + " and tables " + dtypeApiName(call.table) + " (" +
           (call.interleaved ? "interleaved" : "halves") + " pairs) for " + target +
           ": build a bundle (tessera-aot) with the spec entry {\"op\": \"" + kOpName +
           "\", \"dtypes\": [\"" + floatRecordName(call.input) + "\"], \"shapes\": [" + shape +
           "]}; its kernels serve every B, S and H at this D, both table dtypes and both layouts";
  }

  // The kernel of `plan` for `target` (see opKernelSpec). Called with mutex_.
  StatusOr<KernelSpec> kernelSpec(const Plan &plan, const std::string &target,
                                  std::string *tileIR) const {
    const Record &record = *plan.record;
    return opKernelSpec(runtime_, kOpName, record.kernel, record.target, record.numWarps,
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
      return loadOpKernel(runtime_, *spec, device, plan.record->params.size(), kOpName,
                          plan.record->kernel);
    });
  }

  // The JSON of tessera_op_describe: the record and its kernel, the grid, each parameter's value
  // and assumption, the kernel's constexprs, and what the Python op would plan for the call (its
  // constexprs and argument values, _arguments'), which a generic kernel may differ from.
  static void describePlan(const Call &call, const Plan &plan, llvm::json::Object *description) {
    const Record &record = *plan.record;
    auto constexprs = [&](int64_t blockH, int64_t blockHalf, bool evenH, bool paired,
                          bool index64) {
      return llvm::json::Object{{"HALF", call.half},
                                {"BLOCK_H", blockH},
                                {"BLOCK_HALF", blockHalf},
                                {"EVEN_H", evenH},
                                {"INTERLEAVED", call.interleaved},
                                {"PAIRED", paired},
                                {"ELEMENT", floatRecordName(call.input)},
                                {"INDEX_64", index64}};
    };
    const Meta &p = call.planned;
    llvm::json::Array plannedValues;
    const Values &args = p.paired ? call.words : call.elements; // _arguments' values
    for (int v = 0; v < kNumValues; ++v)
      plannedValues.push_back(llvm::json::Array{kValueNames[v], args[v]});
    (*description)["kernel"] = record.kernel;
    (*description)["kind"] = record.isCase ? "case" : "generic";
    (*description)["path"] = plan.bundled ? "bundled" : "jit";
    (*description)["config"] = llvm::json::Object{{"BLOCK_H", record.blockH},
                                                  {"BLOCK_HALF", record.blockHalf},
                                                  {"num_warps", record.numWarps},
                                                  {"num_stages", record.numStages}};
    (*description)["constexprs"] =
        constexprs(record.blockH, record.blockHalf, record.evenH, record.paired, record.index64);
    (*description)["grid"] =
        llvm::json::Array{programCount(call, record.blockH, record.blockHalf), 1, 1};
    describeOpParams(record.params, record.ones, plan.facts, kValueNames,
                     call.valuesFor(record).data(), nullptr, description);
    (*description)["planned"] = constexprs(p.blockH, p.blockHalf, p.evenH, p.paired, p.index64);
    (*description)["planned_values"] = std::move(plannedValues);
  }

  Runtime &runtime_;
  std::mutex mutex_; // guards everything below
  uint64_t generation_ = 0;
  std::vector<Record> records_;
  // Record indices by variantKey, on their target and under "any".
  std::unordered_map<std::string, std::vector<size_t>> byVariant_;
  OpKernelCache kernels_;
  std::map<LaunchKey, Prepared> prepared_;
};

} // namespace

std::unique_ptr<Op> makeRopeOp(Runtime &runtime) { return std::make_unique<RopeOp>(runtime); }

Status checkRopeRecord(const std::string &record) { return parseRecord(record).status(); }

} // namespace tessera::runtime
