// The matmul op from C and C++: out = input @ mat2 for matrices of any strides, over the matmul
// kernels and op records of loaded bundles (docs/op-records.md gives the records and the choice
// this file makes: a bundled case as is, else the nearest case's config as a generic kernel
// specialised for the call and compiled here). The parameter values mirror
// tessera.ops.blas.kernel_arguments for one (batch 1) product without bias.
#include "compiler/Compiler.h"
#include "compiler/PTXEmitter.h"
#include "runtime/op.h"
#include "runtime/op_kernels.h"
#include "runtime/tensor_map.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tessera::runtime {
namespace {

// The values of a call, by the kernel's parameter names. Pointers and sizes alike are int64. (The
// tables keep the parameters' grouping.)
// clang-format off
enum Value : int {
  kAPtr, kBPtr, kCPtr, kM, kN, kK,
  kStrideAB, kStrideAM, kStrideAK, kStrideBB, kStrideBK, kStrideBN, kStrideCB, kStrideCM,
  kStrideCN, kStrideBiasB, kStrideBiasM, kStrideBiasN,
  kADescBase, kADescShape0, kADescShape1, kADescStride0,
  kBDescBase, kBDescShape0, kBDescShape1, kBDescStride0,
  kAlpha, kBeta,
  kADescMap, kBDescMap, // tensor maps: encoded from the descriptor's values and its block
  kNumValues
};
constexpr const char *kValueNames[kNumValues] = {
    "a_ptr", "b_ptr", "c_ptr", "M", "N", "K",
    "stride_ab", "stride_am", "stride_ak", "stride_bb", "stride_bk", "stride_bn", "stride_cb",
    "stride_cm", "stride_cn", "stride_biasb", "stride_biasm", "stride_biasn",
    "a_desc.base", "a_desc.shape0", "a_desc.shape1", "a_desc.stride0",
    "b_desc.base", "b_desc.shape0", "b_desc.shape1", "b_desc.stride0",
    "alpha", "beta",
    "a_desc.tensormap", "b_desc.tensormap"};
// What a case record's "call" fixes: the sizes and the operands' strides.
constexpr Value kCallValues[] = {kM,        kN,        kK,        kStrideAB, kStrideAM, kStrideAK,
                                 kStrideBB, kStrideBK, kStrideBN, kStrideCB, kStrideCM, kStrideCN};
// clang-format on

constexpr int32_t kEpilogueBytesPerWarp = 2048; // kernels/matmul.py's shared_memory_bytes

struct Config {
  int64_t blockM = 0, blockN = 0, blockK = 0, groupM = 0, numWarps = 0, numStages = 0;
  bool operator==(const Config &o) const {
    return std::tie(blockM, blockN, blockK, groupM, numWarps, numStages) ==
           std::tie(o.blockM, o.blockN, o.blockK, o.groupM, o.numWarps, o.numStages);
  }
  int64_t sharedBytes(int64_t elementBytes) const {
    return numStages * (blockM + blockN) * blockK * elementBytes + numWarps * kEpilogueBytesPerWarp;
  }
};

struct Param {
  Value value;
  ParamType type;
  int64_t divisibility = 1;
  uint32_t block[2] = {0, 0}; // tensor maps: the descriptor's block shape
};

struct Record : RecordHeader {
  std::string dtype, precision;
  Config config;
  int64_t call[std::size(kCallValues)] = {};
  std::vector<Param> params;
};

// A call, checked: the dtype, input precision and every parameter's value.
struct Call {
  std::string dtype, precision;
  int64_t elementBytes = 0;
  int64_t values[kNumValues] = {};
};

// The kernel and parameters one call runs with.
struct Plan {
  const Record *record = nullptr; // in MatmulOp::records_
  bool bundled = false;           // a case record as is; else its generic kernel, specialised
  std::vector<int> divisibility;  // per parameter: what the kernel assumes of it
  std::vector<bool> ones;         // per parameter: an integer the kernel takes to be 1
};

// A kind of call ready to launch: the record whose parameters it packs and its kernel, loaded
// (owned by the runtime, which outlives the op).
struct Launch {
  const Record *record = nullptr;
  Kernel *kernel = nullptr;
};

// The TMA box of a descriptor block and its swizzle width (tensor_descriptor.tma_box).
void tmaBox(const uint32_t block[2], int64_t elementBytes, uint32_t box[2], uint32_t *swizzle) {
  int64_t rowBytes = block[1] * elementBytes;
  *swizzle = rowBytes >= 32 ? uint32_t(std::min<int64_t>(128, rowBytes)) : 0;
  box[0] = block[0];
  box[1] = *swizzle ? uint32_t(*swizzle / elementBytes) : block[1];
}

// ---- op records --------------------------------------------------------------------------------

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
  TESSERA_RETURN_IF_ERROR(recordString(*object, "dtype", &record.dtype));
  TESSERA_RETURN_IF_ERROR(recordString(*object, "input_precision", &record.precision));

  const llvm::json::Object *config = object->getObject("config");
  if (!config)
    return invalidArgument("no object 'config'");
  std::pair<const char *, int64_t *> fields[] = {
      {"BLOCK_M", &record.config.blockM},     {"BLOCK_N", &record.config.blockN},
      {"BLOCK_K", &record.config.blockK},     {"GROUP_M", &record.config.groupM},
      {"num_warps", &record.config.numWarps}, {"num_stages", &record.config.numStages}};
  for (auto [field, out] : fields) {
    std::optional<int64_t> value = config->getInteger(field);
    if (!value || *value < 1 || *value > 1024)
      return invalidArgument(std::string("config field '") + field +
                             "' is not an integer from 1 to 1024");
    *out = *value;
  }
  if (record.isCase) {
    const llvm::json::Object *call = object->getObject("call");
    if (!call)
      return invalidArgument("a case without an object 'call'");
    for (size_t i = 0; i < std::size(kCallValues); ++i) {
      std::optional<int64_t> value = call->getInteger(kValueNames[kCallValues[i]]);
      if (!value)
        return invalidArgument(std::string("'call' lacks '") + kValueNames[kCallValues[i]] + "'");
      record.call[i] = *value;
    }
  }

  StatusOr<std::vector<ParamEntry>> entries = parseParamEntries(*object);
  if (!entries.ok())
    return entries.status();
  for (const ParamEntry &entry : *entries) {
    int value = valueIndex(entry.name);
    if (value < 0)
      return invalidArgument("unknown parameter '" + entry.name.str() + "'");
    Param param{Value(value), ParamType::I32};
    bool isMap = value == kADescMap || value == kBDescMap;
    if (entry.type == "tensormap") {
      const llvm::json::Array *block = entry.detail->getAsArray();
      std::optional<int64_t> rows =
          block && block->size() == 2 ? (*block)[0].getAsInteger() : std::nullopt;
      std::optional<int64_t> columns =
          block && block->size() == 2 ? (*block)[1].getAsInteger() : std::nullopt;
      if (!rows || !columns || *rows < 1 || *rows > 256 || *columns < 1 || *columns > 1024 ||
          !isMap)
        return invalidArgument("tensor map '" + entry.name.str() +
                               "' needs a [rows, columns] block and a descriptor");
      param.type = ParamType::TensorMap;
      param.block[0] = uint32_t(*rows);
      param.block[1] = uint32_t(*columns);
    } else {
      TESSERA_RETURN_IF_ERROR(parseScalarParam(entry, &param.type, &param.divisibility));
      if (isMap)
        return invalidArgument("'" + entry.name.str() + "' must have type tensormap");
    }
    record.params.push_back(param);
  }
  return record;
}

// ---- the op -----------------------------------------------------------------------------------

class MatmulOp final : public Op {
public:
  MatmulOp(Runtime &runtime, std::string name) : runtime_(runtime), name_(std::move(name)) {}

  Status launch(int32_t device, CUstream stream, const tessera_tensor *tensors, size_t numTensors,
                const tessera_op_options *options) override {
    StatusOr<Call> call = readCall(tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    if (call->values[kM] == 0 || call->values[kN] == 0)
      return Status(); // an empty product: nothing to write
    std::unique_lock<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    std::string key = launchKey(*call, device);
    auto prepared = launches_.find(key);
    if (prepared == launches_.end()) {
      StatusOr<std::string> target = runtime_.deviceTarget(device);
      if (!target.ok())
        return target.status();
      StatusOr<int32_t> sharedBytes = runtime_.maxSharedBytes(device);
      if (!sharedBytes.ok())
        return sharedBytes.status();
      StatusOr<Plan> plan = planFor(*call, *target, *sharedBytes);
      if (!plan.ok())
        return plan.status();
      StatusOr<Kernel *> kernel = kernelFor(*plan, device, *target);
      if (!kernel.ok())
        return kernel.status();
      prepared = launches_.emplace(std::move(key), Launch{plan->record, *kernel}).first;
    }
    // Packed under the lock (refresh() may replace the records), launched after it.
    const Record &record = *prepared->second.record;
    std::array<uint64_t, TESSERA_TENSOR_MAP_BYTES / 8> storage[kMaxOpParams];
    void *args[kMaxOpParams];
    for (size_t i = 0; i < record.params.size(); ++i) {
      TESSERA_RETURN_IF_ERROR(pack(record.params[i], *call, storage[i].data()));
      args[i] = storage[i].data();
    }
    int64_t grid = programs(*call, record.config);
    if (grid > INT32_MAX)
      return invalid("the product needs " + std::to_string(grid) + " programs of " +
                     std::to_string(record.config.blockM) + "x" +
                     std::to_string(record.config.blockN) + " outputs, more than a grid holds");
    Kernel *kernel = prepared->second.kernel;
    size_t numParams = record.params.size();
    lock.unlock();
    return kernel->launch(uint32_t(grid), 1, 1, stream, args, numParams);
  }

  StatusOr<std::string> describe(const std::string &target, const tessera_tensor *tensors,
                                 size_t numTensors, const tessera_op_options *options) override {
    int32_t sharedBytes = 0;
    StatusOr<Call> call = readCallForTarget(target, tensors, numTensors, options, &sharedBytes);
    if (!call.ok())
      return call.status();
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    StatusOr<Plan> plan = planFor(*call, target, sharedBytes);
    if (!plan.ok())
      return plan.status();
    const Record &record = *plan->record;
    llvm::json::Array params, divisibility, ones;
    for (size_t i = 0; i < record.params.size(); ++i) {
      const Param &param = record.params[i];
      llvm::json::Value value = nullptr;
      if (param.type == ParamType::F32)
        value = double(call->values[param.value]);
      else if (param.type != ParamType::TensorMap)
        value = call->values[param.value];
      params.push_back(llvm::json::Array{kValueNames[param.value], std::move(value)});
      divisibility.push_back(plan->divisibility[i]);
      if (plan->ones[i])
        ones.push_back(kValueNames[param.value]);
    }
    llvm::json::Object description{
        {"kernel", record.kernel},
        {"path", plan->bundled ? "bundled" : "jit"},
        {"config", llvm::json::Object{{"BLOCK_M", record.config.blockM},
                                      {"BLOCK_N", record.config.blockN},
                                      {"BLOCK_K", record.config.blockK},
                                      {"GROUP_M", record.config.groupM},
                                      {"num_warps", record.config.numWarps},
                                      {"num_stages", record.config.numStages}}},
        {"grid", llvm::json::Array{programs(*call, record.config), 1, 1}},
        {"params", std::move(params)},
        {"divisibility", std::move(divisibility)},
        {"ones", std::move(ones)}};
    return jsonText(std::move(description));
  }

  StatusOr<bool> precompile(const std::string &target, const tessera_tensor *tensors,
                            size_t numTensors, const tessera_op_options *options) override {
    int32_t sharedBytes = 0;
    StatusOr<Call> call = readCallForTarget(target, tensors, numTensors, options, &sharedBytes);
    if (!call.ok())
      return call.status();
    if (call->values[kM] == 0 || call->values[kN] == 0)
      return false;
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    StatusOr<Plan> plan = planFor(*call, target, sharedBytes);
    if (!plan.ok())
      return plan.status();
    std::string tileIR;
    StatusOr<KernelSpec> spec = kernelSpec(*plan, target, &tileIR);
    if (!spec.ok())
      return spec.status();
    return precompileOpKernel(runtime_, *spec);
  }

private:
  Status invalid(const std::string &message) const {
    return invalidArgument(name_ + ": " + message);
  }

  // readCall for a GPU of `target` that is not here: its shared memory per block goes to
  // *sharedBytes.
  StatusOr<Call> readCallForTarget(const std::string &target, const tessera_tensor *tensors,
                                   size_t numTensors, const tessera_op_options *options,
                                   int32_t *sharedBytes) const {
    if (!isKnownTarget(target))
      return invalidArgument("target '" + target + "' is not one of " + knownTargetList());
    *sharedBytes = int32_t(compiler::maxSharedBytesPerBlock(target));
    return readCall(tensors, numTensors, options);
  }

  // The call's dtype, precision and parameter values, after every check of its arguments.
  StatusOr<Call> readCall(const tessera_tensor *tensors, size_t numTensors,
                          const tessera_op_options *options) const {
    static const char *const names[] = {"input", "mat2", "out"};
    if (!tensors || numTensors != 3)
      return invalid("expected 3 tensors (input, mat2, out), got " +
                     (tensors ? std::to_string(numTensors) : std::string("NULL")));
    Call call;
    for (int i = 0; i < 3; ++i) {
      const tessera_tensor &t = tensors[i];
      const char *dtype = floatRecordName(t.dtype);
      if (!dtype)
        return invalid(std::string(names[i]) + " has dtype " + std::to_string(t.dtype) +
                       " (expected TESSERA_FLOAT16, TESSERA_BFLOAT16 or TESSERA_FLOAT32)");
      if (i == 0)
        call.dtype = dtype;
      else if (call.dtype != dtype)
        return invalid(std::string(names[i]) + " is " + dtype + " but input is " + call.dtype +
                       " (the tensors must have one dtype)");
      if (t.rank != 2)
        return invalid(std::string(names[i]) + " must have 2 dimensions, got rank " +
                       std::to_string(t.rank));
      for (int d = 0; d < 2; ++d)
        if (t.sizes[d] < 0 || t.sizes[d] > INT32_MAX || t.strides[d] < 0 ||
            t.strides[d] > INT32_MAX)
          return invalid(std::string(names[i]) + " has size " + std::to_string(t.sizes[d]) +
                         " and stride " + std::to_string(t.strides[d]) + " in dimension " +
                         std::to_string(d) + " (expected both from 0 to 2^31 - 1)");
      if (t.data == 0 && t.sizes[0] * t.sizes[1] > 0)
        return invalid(std::string(names[i]) + " has a NULL data pointer");
      if (Status aligned = checkDataAligned(t, names[i]); !aligned.ok())
        return invalid(aligned.message());
    }
    const tessera_tensor &a = tensors[0], &b = tensors[1], &c = tensors[2];
    auto shape = [](const tessera_tensor &t) {
      return "(" + std::to_string(t.sizes[0]) + ", " + std::to_string(t.sizes[1]) + ")";
    };
    if (a.sizes[1] != b.sizes[0])
      return invalid("input of shape " + shape(a) + " and mat2 of shape " + shape(b) +
                     " cannot be multiplied");
    if (c.sizes[0] != a.sizes[0] || c.sizes[1] != b.sizes[1])
      return invalid("out has shape " + shape(c) + ", expected (" + std::to_string(a.sizes[0]) +
                     ", " + std::to_string(b.sizes[1]) + ")");
    if (!elementsAreDistinct(c))
      return invalid("out has sizes (" + std::to_string(c.sizes[0]) + ", " +
                     std::to_string(c.sizes[1]) + ") and strides (" + std::to_string(c.strides[0]) +
                     ", " + std::to_string(c.strides[1]) +
                     "), which give elements the same memory (the output's must be distinct)");
    call.elementBytes = call.dtype == "fp32" ? 4 : 2;
    for (int i = 0; i < 2; ++i)
      if (overlaps(c, tensors[i], call.elementBytes))
        return invalid(std::string("out overlaps ") + names[i] +
                       " (the output must not share memory with an input)");

    const char *precision = options && options->input_precision ? options->input_precision : "ieee";
    if (std::strcmp(precision, "ieee") != 0 && std::strcmp(precision, "tf32") != 0)
      return invalid(std::string("options.input_precision must be \"ieee\" or \"tf32\", got \"") +
                     precision + "\"");
    if (std::strcmp(precision, "tf32") == 0 && call.dtype != "fp32")
      return invalid("options.input_precision \"tf32\" is for fp32 tensors, not " + call.dtype);
    call.precision = precision;

    // As blas.kernel_arguments: one batch (batch strides 0), the stride of a dimension of size 1
    // is 0, no bias, alpha 1 (folded into the kernel) and beta 0.
    int64_t m = a.sizes[0], k = a.sizes[1], n = b.sizes[1];
    auto stride = [](const tessera_tensor &t, int d) { return t.sizes[d] > 1 ? t.strides[d] : 0; };
    int64_t *v = call.values;
    v[kAPtr] = int64_t(a.data), v[kBPtr] = int64_t(b.data), v[kCPtr] = int64_t(c.data);
    v[kM] = m, v[kN] = n, v[kK] = k;
    v[kStrideAM] = stride(a, 0), v[kStrideAK] = stride(a, 1);
    v[kStrideBK] = stride(b, 0), v[kStrideBN] = stride(b, 1);
    v[kStrideCM] = stride(c, 0), v[kStrideCN] = stride(c, 1);
    // Descriptors view A and B as row-major matrices (blas._descriptor).
    v[kADescBase] = v[kAPtr], v[kADescShape0] = m, v[kADescShape1] = k;
    v[kADescStride0] = m > 1 ? a.strides[0] : k;
    v[kBDescBase] = v[kBPtr], v[kBDescShape0] = k, v[kBDescShape1] = n;
    v[kBDescStride0] = k > 1 ? b.strides[0] : n;
    v[kAlpha] = 1;
    return call;
  }

  // Whether no two elements of a matrix share an address: each dimension of more than one
  // element strides past the whole extent of the dimension with the smaller stride.
  static bool elementsAreDistinct(const tessera_tensor &t) {
    if (t.sizes[0] <= 1 || t.sizes[1] <= 1)
      return t.sizes[0] * t.sizes[1] <= 1 || t.strides[t.sizes[0] > 1 ? 0 : 1] > 0;
    int inner = t.strides[0] < t.strides[1] ? 0 : 1;
    return t.strides[inner] > 0 && t.strides[1 - inner] >= t.strides[inner] * t.sizes[inner];
  }

  // Whether the elements of `out` and `in` may share bytes (their address ranges meet).
  static bool overlaps(const tessera_tensor &out, const tessera_tensor &in, int64_t elementBytes) {
    // In 128 bits: the sizes and strides are checked, but an address plus an extent of up to
    // 2^64 bytes is not.
    using Span = std::pair<unsigned __int128, unsigned __int128>;
    auto span = [&](const tessera_tensor &t) {
      if (t.sizes[0] == 0 || t.sizes[1] == 0)
        return Span(0, 0);
      unsigned __int128 last = (unsigned __int128)((t.sizes[0] - 1) * t.strides[0]) +
                               (unsigned __int128)((t.sizes[1] - 1) * t.strides[1]);
      return Span(t.data, t.data + (last + 1) * (unsigned __int128)elementBytes);
    };
    auto [outBegin, outEnd] = span(out);
    auto [inBegin, inEnd] = span(in);
    return outBegin < outEnd && inBegin < inEnd && outBegin < inEnd && inBegin < outEnd;
  }

  static int64_t programs(const Call &call, const Config &config) {
    return cdiv(call.values[kM], config.blockM) * cdiv(call.values[kN], config.blockN);
  }

  static bool divides(const Param &param, const Call &call) {
    return param.type == ParamType::TensorMap || call.values[param.value] % param.divisibility == 0;
  }

  // Re-reads the op records when a bundle was loaded since the last call. Called with mutex_.
  Status refresh() {
    uint64_t generation = runtime_.bundleGeneration();
    if (generation == generation_) // generation 0: no bundle loaded, no records
      return Status();
    StatusOr<std::vector<Record>> records = parseBundledRecords(runtime_, "matmul", parseRecord);
    if (!records.ok())
      return records.status();
    records_ = std::move(records).value();
    casesByCall_.clear();
    for (size_t i = 0; i < records_.size(); ++i)
      if (records_[i].isCase)
        casesByCall_[callKey(records_[i].dtype, records_[i].precision, records_[i].target,
                             records_[i].call)]
            .push_back(i);
    kernels_.clear();
    launches_.clear();
    generation_ = generation;
    return Status();
  }

  using CallValues = std::array<int64_t, std::size(kCallValues)>;

  static CallValues callValues(const Call &call) {
    CallValues values;
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = call.values[kCallValues[i]];
    return values;
  }

  // What a case record matches: the dtype, precision, target, sizes and strides.
  static std::string callKey(const std::string &dtype, const std::string &precision,
                             const std::string &target, const int64_t *values) {
    std::string key = dtype + "|" + precision + "|" + target;
    for (size_t i = 0; i < std::size(kCallValues); ++i)
      key += "|" + std::to_string(values[i]);
    return key;
  }

  // What decides a launch's plan: the call key on the device's target (the device stands for
  // it, and for its shared memory) and the pointers' alignment. The other parameter values
  // derive from the sizes and strides.
  static std::string launchKey(const Call &call, int32_t device) {
    std::string key = callKey(call.dtype, call.precision, "device " + std::to_string(device),
                              callValues(call).data());
    for (Value pointer : {kAPtr, kBPtr, kCPtr})
      key += call.values[pointer] % 16 == 0 ? "|aligned" : "|unaligned";
    return key;
  }

  // The plan for `call` on `target`, whose blocks may take `sharedBytes`. Called with mutex_,
  // after refresh().
  StatusOr<Plan> planFor(const Call &call, const std::string &target, int64_t sharedBytes) {
    const CallValues values = callValues(call);
    auto cases = casesByCall_.find(callKey(call.dtype, call.precision, target, values.data()));
    if (cases != casesByCall_.end())
      for (size_t index : cases->second) {
        const Record &record = records_[index];
        if (std::all_of(record.params.begin(), record.params.end(),
                        [&](const Param &p) { return divides(p, call); })) {
          Plan plan{&record, true, {}, std::vector<bool>(record.params.size())};
          for (const Param &param : record.params)
            plan.divisibility.push_back(int(param.divisibility));
          return plan;
        }
      }

    // The configs to try, best first: those of the cases nearest the call, then every generic
    // kernel's.
    auto distance = [&](const Record &r) {
      double d = 0;
      for (int i = 0; i < 3; ++i)
        d += std::abs(std::log(double(std::max<int64_t>(1, r.call[i]))) -
                      std::log(double(std::max<int64_t>(1, values[i]))));
      return d;
    };
    std::vector<const Record *> sameKind, generic;
    for (const Record &record : records_)
      if (record.dtype == call.dtype && record.precision == call.precision)
        (record.isCase ? sameKind : generic).push_back(&record);
    std::stable_sort(sameKind.begin(), sameKind.end(),
                     [&](const Record *x, const Record *y) { return distance(*x) < distance(*y); });
    std::vector<Config> configs;
    for (const Record *record : sameKind)
      configs.push_back(record->config);
    for (const Record *record : generic)
      configs.push_back(record->config);
    for (const Config &config : configs) {
      if (config.sharedBytes(call.elementBytes) > sharedBytes)
        continue;
      const Record *chosen = nullptr;
      for (const Record *record : generic)
        if (record->config == config && (!chosen || record->target == target))
          chosen = record;
      if (!chosen)
        continue;
      // As the Python JIT specialises: integers equal to 1 and multiples of 16, and addresses
      // aligned to 16 bytes.
      Plan plan{chosen, false, {}, {}};
      for (const Param &param : chosen->params) {
        compiler::ArgumentFacts facts = jitFacts(param.type, call.values[param.value]);
        plan.ones.push_back(facts.equalsOne);
        plan.divisibility.push_back(facts.divisibility);
      }
      return plan;
    }
    std::string what = call.dtype + (call.dtype == "fp32" ? " (" + call.precision + ")" : "");
    if (generic.empty())
      return notFound(name_ + ": the loaded bundles hold no generic matmul kernel for " + what +
                      ": build one with tessera-aot from a spec with an \"ops\" entry for " +
                      name_ + " and dtype " + call.dtype);
    return notFound(name_ + ": no bundled matmul kernel for " + what + " fits in the " +
                    std::to_string(sharedBytes) + " bytes of shared memory of " + target);
  }

  // The kernel that `plan` runs on `target`: the record's bundled kernel, its tile IR specialised
  // for the call when the plan says so. `tileIR` holds the specialised text the spec points at.
  // Called with mutex_.
  StatusOr<KernelSpec> kernelSpec(const Plan &plan, const std::string &target,
                                  std::string *tileIR) const {
    const Record &record = *plan.record;
    std::vector<compiler::ArgumentFacts> facts;
    for (size_t i = 0; i < plan.divisibility.size(); ++i)
      facts.push_back({plan.divisibility[i], bool(plan.ones[i])});
    return opKernelSpec(runtime_, name_, record.kernel, record.target, record.config.numWarps,
                        record.config.numStages, target, !plan.bundled, facts, tileIR);
  }

  // The loaded kernel of `plan` on `device`, looked up once per (record, device, specialisation):
  // a bundle hit for the bundled kernel on its own target, else compiled (and cached) here.
  // Called with mutex_.
  StatusOr<Kernel *> kernelFor(const Plan &plan, int32_t device, const std::string &target) {
    auto key = std::make_tuple(size_t(plan.record - records_.data()), device, plan.divisibility,
                               plan.ones);
    auto found = kernels_.find(key);
    if (found != kernels_.end())
      return found->second;
    std::string tileIR;
    StatusOr<KernelSpec> spec = kernelSpec(plan, target, &tileIR);
    if (!spec.ok())
      return spec.status();
    StatusOr<Kernel *> kernel = loadOpKernel(runtime_, *spec, device, plan.record->params.size(),
                                             name_, plan.record->kernel);
    if (!kernel.ok())
      return kernel.status();
    kernels_.emplace(std::move(key), *kernel);
    return kernel;
  }

  // Writes the value of `param` for `call` at `out` (TESSERA_TENSOR_MAP_BYTES bytes).
  Status pack(const Param &param, const Call &call, uint64_t *out) const {
    int64_t value = call.values[param.value];
    switch (param.type) {
    case ParamType::Pointer:
    case ParamType::I32:
    case ParamType::I64:
    case ParamType::F32: {
      Status packed = packScalar(param.type, value, double(value), kValueNames[param.value], out);
      return packed.ok() ? packed : invalid(packed.message());
    }
    case ParamType::TensorMap: {
      bool isA = param.value == kADescMap;
      const int64_t *v = call.values + (isA ? kADescBase : kBDescBase); // base, shape, stride
      TensorMapSpec spec;
      spec.address = uint64_t(v[0]);
      spec.sizes = {uint64_t(v[1]), uint64_t(v[2])};
      spec.strideBytes = {uint64_t(v[3] * call.elementBytes)};
      uint32_t box[2], swizzle = 0;
      tmaBox(param.block, call.elementBytes, box, &swizzle);
      spec.box = {box[0], box[1]};
      spec.elementBytes = uint32_t(call.elementBytes);
      spec.swizzleBytes = swizzle;
      return encodeTensorMap(spec, out);
    }
    }
    return internalError("unknown parameter type");
  }

  Runtime &runtime_;
  const std::string name_;
  std::mutex mutex_; // guards everything below
  uint64_t generation_ = 0;
  std::vector<Record> records_;
  std::unordered_map<std::string, std::vector<size_t>> casesByCall_;
  std::map<std::tuple<size_t, int32_t, std::vector<int>, std::vector<bool>>, Kernel *> kernels_;
  // What launch() runs, by launchKey: planned and looked up once per kind of call.
  std::unordered_map<std::string, Launch> launches_;
};

} // namespace

std::unique_ptr<Op> makeMatmulOp(Runtime &runtime, const std::string &name) {
  return std::make_unique<MatmulOp>(runtime, name);
}

Status checkMatmulRecord(const std::string &record) { return parseRecord(record).status(); }

} // namespace tessera::runtime
