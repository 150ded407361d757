#include "runtime/op_kernels.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

namespace tessera::runtime {
namespace {

// The type of a scalar parameter: "*<dtype>", "i32", "i64" or "fp32"; nullopt for another.
std::optional<ParamType> parseScalarParamType(std::string_view type) {
  if (type.size() > 1 && type[0] == '*')
    return ParamType::Pointer;
  if (type == "i32")
    return ParamType::I32;
  if (type == "i64")
    return ParamType::I64;
  if (type == "fp32")
    return ParamType::F32;
  return std::nullopt;
}

// Whether `divisibility` is one a record may give a parameter: 1, 2, 4, 8 or 16.
bool isRecordDivisibility(int64_t divisibility) {
  return divisibility == 1 || divisibility == 2 || divisibility == 4 || divisibility == 8 ||
         divisibility == 16;
}

} // namespace

StatusOr<llvm::json::Object> parseRecordObject(const std::string &text) {
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed)
    return invalidArgument("not JSON (" + llvm::toString(parsed.takeError()) + ")");
  llvm::json::Object *object = parsed->getAsObject();
  if (!object)
    return invalidArgument("not a JSON object");
  return std::move(*object);
}

Status recordString(const llvm::json::Object &record, const char *field, std::string *out) {
  std::optional<llvm::StringRef> value = record.getString(field);
  if (!value)
    return invalidArgument(std::string("no string '") + field + "'");
  *out = value->str();
  return Status();
}

Status parseRecordHeader(const llvm::json::Object &record, RecordHeader *header) {
  std::string kind;
  TESSERA_RETURN_IF_ERROR(recordString(record, "kind", &kind));
  if (kind != "case" && kind != "generic")
    return invalidArgument("kind '" + kind + "' is neither 'case' nor 'generic'");
  header->isCase = kind == "case";
  TESSERA_RETURN_IF_ERROR(recordString(record, "target", &header->target));
  TESSERA_RETURN_IF_ERROR(recordString(record, "kernel", &header->kernel));
  if (!isKnownTarget(header->target))
    return invalidArgument("unknown target '" + header->target + "'");
  return Status();
}

StatusOr<std::vector<ParamEntry>> parseParamEntries(const llvm::json::Object &record) {
  const llvm::json::Array *params = record.getArray("params");
  if (!params)
    return invalidArgument("no array 'params'");
  if (params->size() > kMaxOpParams)
    return invalidArgument("more than " + std::to_string(kMaxOpParams) + " parameters");
  std::vector<ParamEntry> entries;
  for (const llvm::json::Value &param : *params) {
    const llvm::json::Array *fields = param.getAsArray();
    std::optional<llvm::StringRef> name, type;
    if (fields && fields->size() == 3) {
      name = (*fields)[0].getAsString();
      type = (*fields)[1].getAsString();
    }
    if (!name || !type)
      return invalidArgument("a parameter is not [name, type, divisibility or block]");
    entries.push_back({*name, *type, &(*fields)[2]});
  }
  return entries;
}

Status parseScalarParam(const ParamEntry &entry, ParamType *type, int64_t *divisibility) {
  std::optional<int64_t> value = entry.detail->getAsInteger();
  if (!value || !isRecordDivisibility(*value))
    return invalidArgument("parameter '" + entry.name.str() +
                           "' has a divisibility other than 1, 2, 4, 8 or 16");
  std::optional<ParamType> scalar = parseScalarParamType(entry.type);
  if (!scalar)
    return invalidArgument("parameter '" + entry.name.str() + "' has type '" + entry.type.str() +
                           "' (expected a pointer, i32, i64 or fp32)");
  *type = *scalar;
  *divisibility = *value;
  return Status();
}

const char *floatRecordName(int32_t dtype) {
  switch (dtype) {
  case TESSERA_FLOAT16:
    return "fp16";
  case TESSERA_BFLOAT16:
    return "bf16";
  case TESSERA_FLOAT32:
    return "fp32";
  default:
    return nullptr;
  }
}

int32_t floatOfRecordName(llvm::StringRef name) {
  for (int32_t dtype : {TESSERA_FLOAT16, TESSERA_BFLOAT16, TESSERA_FLOAT32})
    if (name == floatRecordName(dtype))
      return dtype;
  return TESSERA_NONE;
}

const char *dtypeApiName(int32_t dtype) {
  static const char *const names[] = {
      "TESSERA_NONE",  "TESSERA_FLOAT16", "TESSERA_BFLOAT16", "TESSERA_FLOAT32", "TESSERA_BOOL",
      "TESSERA_UINT8", "TESSERA_INT8",    "TESSERA_INT16",    "TESSERA_INT32",   "TESSERA_INT64"};
  return dtype >= TESSERA_NONE && dtype <= TESSERA_INT64 ? names[dtype] : "an unknown dtype";
}

int64_t nextPowerOf2(int64_t n) {
  int64_t power = 1;
  while (power < n)
    power *= 2;
  return power;
}

Status parseOpParams(const llvm::json::Object &record,
                     llvm::function_ref<int(llvm::StringRef)> valueIndex,
                     std::vector<OpParam> *params, std::vector<int> *ones) {
  std::vector<bool> listed;
  auto see = [&](llvm::StringRef name, int *value) -> Status {
    *value = valueIndex(name);
    if (*value < 0)
      return invalidArgument("unknown parameter '" + name.str() + "'");
    if (size_t(*value) >= listed.size())
      listed.resize(*value + 1);
    if (listed[*value])
      return invalidArgument("parameter '" + name.str() + "' is listed twice");
    listed[*value] = true;
    return Status();
  };
  StatusOr<std::vector<ParamEntry>> entries = parseParamEntries(record);
  if (!entries.ok())
    return entries.status();
  for (const ParamEntry &entry : *entries) {
    OpParam param;
    TESSERA_RETURN_IF_ERROR(see(entry.name, &param.value));
    TESSERA_RETURN_IF_ERROR(parseScalarParam(entry, &param.type, &param.divisibility));
    params->push_back(param);
  }
  const llvm::json::Array *folded = record.getArray("ones");
  if (!folded)
    return invalidArgument("no array 'ones'");
  for (const llvm::json::Value &entry : *folded) {
    std::optional<llvm::StringRef> name = entry.getAsString();
    if (!name)
      return invalidArgument("'ones' holds something other than a parameter name");
    int value = 0;
    TESSERA_RETURN_IF_ERROR(see(*name, &value));
    ones->push_back(value);
  }
  return Status();
}

bool opParamsHold(const std::vector<OpParam> &params, const std::vector<int> &ones,
                  const int64_t *integers) {
  for (int one : ones)
    if (integers[one] != 1)
      return false;
  return std::all_of(params.begin(), params.end(), [&](const OpParam &param) {
    if (param.type == ParamType::F32)
      return true;
    int64_t value = integers[param.value];
    return value % param.divisibility == 0 &&
           (param.type != ParamType::I32 || (value >= INT32_MIN && value <= INT32_MAX));
  });
}

std::vector<compiler::ArgumentFacts> opParamFacts(const std::vector<OpParam> &params,
                                                  const int64_t *integers, bool bundled) {
  std::vector<compiler::ArgumentFacts> facts;
  for (const OpParam &param : params)
    facts.push_back(bundled ? compiler::ArgumentFacts{int(param.divisibility), false}
                            : jitFacts(param.type, integers[param.value]));
  return facts;
}

void describeOpParams(const std::vector<OpParam> &params, const std::vector<int> &ones,
                      const std::vector<compiler::ArgumentFacts> &facts, const char *const *names,
                      const int64_t *integers, const double *reals,
                      llvm::json::Object *description) {
  llvm::json::Array values, divisibility, folded;
  for (size_t i = 0; i < params.size(); ++i) {
    const OpParam &param = params[i];
    llvm::json::Value value = param.type == ParamType::F32
                                  ? llvm::json::Value(reals ? reals[param.value] : 0.0)
                                  : llvm::json::Value(integers[param.value]);
    values.push_back(llvm::json::Array{names[param.value], std::move(value)});
    divisibility.push_back(facts[i].divisibility);
    if (facts[i].equalsOne)
      folded.push_back(names[param.value]);
  }
  for (int one : ones)
    folded.push_back(names[one]);
  (*description)["params"] = std::move(values);
  (*description)["divisibility"] = std::move(divisibility);
  (*description)["ones"] = std::move(folded);
}

Status packOpParams(const std::vector<OpParam> &params, const char *const *names,
                    const int64_t *integers, const double *reals, uint64_t *storage, void **args) {
  for (size_t i = 0; i < params.size(); ++i) {
    const OpParam &param = params[i];
    TESSERA_RETURN_IF_ERROR(packScalar(param.type, integers[param.value],
                                       reals ? reals[param.value] : 0.0, names[param.value],
                                       &storage[i]));
    args[i] = &storage[i];
  }
  return Status();
}

std::string jsonText(llvm::json::Object object) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(object));
  return text;
}

int64_t dtypeBytes(int32_t dtype) {
  switch (dtype) {
  case TESSERA_BOOL:
  case TESSERA_UINT8:
  case TESSERA_INT8:
    return 1;
  case TESSERA_FLOAT16:
  case TESSERA_BFLOAT16:
  case TESSERA_INT16:
    return 2;
  case TESSERA_FLOAT32:
  case TESSERA_INT32:
    return 4;
  case TESSERA_INT64:
    return 8;
  default:
    return 0;
  }
}

Status checkDataAligned(const tessera_tensor &t, const std::string &name) {
  int64_t elementBytes = dtypeBytes(t.dtype);
  if (t.data % uint64_t(elementBytes) == 0)
    return Status();
  char address[32];
  std::snprintf(address, sizeof address, "0x%llx", static_cast<unsigned long long>(t.data));
  return invalidArgument(name + "'s data pointer " + address +
                         " is not a multiple of its element size, " + std::to_string(elementBytes) +
                         " bytes");
}

Status checkOpTensor(const tessera_tensor &t, const char *name, bool optional) {
  std::string what = name;
  if (t.dtype == TESSERA_NONE) {
    if (optional)
      return Status();
    return invalidArgument(what + " is TESSERA_NONE; expected a tensor");
  }
  if (!dtypeBytes(t.dtype))
    return invalidArgument(what + " has dtype " + std::to_string(t.dtype) +
                           " (expected a tessera_dtype: TESSERA_FLOAT16 ... TESSERA_INT64)");
  if (t.rank < 0 || t.rank > TESSERA_MAX_RANK)
    return invalidArgument(what + " has rank " + std::to_string(t.rank) + " (expected 0 to " +
                           std::to_string(TESSERA_MAX_RANK) + ")");
  bool empty = false;
  for (int32_t d = 0; d < t.rank; ++d) {
    if (t.sizes[d] < 0 || t.strides[d] < 0)
      return invalidArgument(what + " has a negative size or stride in dim " + std::to_string(d) +
                             " (sizes and strides must be >= 0)");
    empty = empty || t.sizes[d] == 0;
  }
  if (t.data == 0 && !empty)
    return invalidArgument(what + " has a NULL data pointer but is not empty");
  TESSERA_RETURN_IF_ERROR(checkDataAligned(t, what));
  int64_t elementBytes = dtypeBytes(t.dtype);
  if (empty)
    return Status();
  // The byte just past the last element, computed without overflow: kernels index in 64 bits
  // at most, and a range that wraps would defeat the overlap checks.
  int64_t extent = 1;
  for (int32_t d = 0; d < t.rank; ++d) {
    int64_t reach;
    if (__builtin_mul_overflow(t.sizes[d] - 1, t.strides[d], &reach) ||
        __builtin_add_overflow(extent, reach, &extent))
      return invalidArgument(what + "'s sizes and strides reach past 2^63 bytes");
  }
  if (__builtin_mul_overflow(extent, elementBytes, &extent))
    return invalidArgument(what + "'s sizes and strides reach past 2^63 bytes");
  if (t.data + uint64_t(extent) < t.data)
    return invalidArgument(what + "'s memory runs past the end of the address space");
  return Status();
}

std::string shapeText(const tessera_tensor &t) {
  std::string text = "(";
  for (int32_t d = 0; d < t.rank; ++d)
    text += (d ? ", " : "") + std::to_string(t.sizes[d]);
  return text + (t.rank == 1 ? ",)" : ")");
}

std::optional<std::pair<uint64_t, uint64_t>> memoryRange(const tessera_tensor &t,
                                                         int64_t elementBytes) {
  std::vector<std::pair<int64_t, int64_t>> dims; // (stride, size)
  for (int32_t d = 0; d < t.rank; ++d) {
    if (t.sizes[d] == 0)
      return std::nullopt;
    if (t.sizes[d] != 1)
      dims.push_back({t.strides[d], t.sizes[d]});
  }
  std::sort(dims.begin(), dims.end());
  // Dense: the element count, which checkOpTensor's extent check keeps from overflowing.
  int64_t numel = 1;
  for (auto [stride, size] : dims) {
    if (stride != numel)
      return std::nullopt;
    numel *= size;
  }
  return std::make_pair(t.data, t.data + uint64_t(numel * elementBytes));
}

bool sameTensor(const tessera_tensor &a, const tessera_tensor &b) {
  if (a.rank != b.rank || a.data != b.data || a.rank == 0)
    return false;
  for (int32_t d = 0; d < a.rank; ++d)
    if (a.sizes[d] != b.sizes[d] || a.strides[d] != b.strides[d])
      return false;
  return true;
}

StatusOr<OpAttributes> readOpAttributes(const tessera_op_options *options,
                                        const std::vector<const char *> &accepted) {
  OpAttributes attributes;
  size_t count = options ? options->num_attributes : 0;
  if (count && !options->attributes)
    return invalidArgument("options.attributes is NULL but num_attributes is " +
                           std::to_string(count));
  for (size_t i = 0; i < count; ++i) {
    const tessera_op_attribute &attribute = options->attributes[i];
    if (!attribute.name)
      return invalidArgument("attribute " + std::to_string(i) + " has a NULL name");
    std::string name = attribute.name;
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
      std::string list;
      for (const char *known : accepted)
        list += (list.empty() ? "" : ", ") + std::string(known);
      return invalidArgument("takes no attribute '" + name + "' (" +
                             (list.empty() ? "it takes none" : "it takes " + list) + ")");
    }
    if (attribute.kind < TESSERA_ATTRIBUTE_INT || attribute.kind > TESSERA_ATTRIBUTE_INTS)
      return invalidArgument("attribute '" + name + "' has kind " + std::to_string(attribute.kind) +
                             " (expected a tessera_attribute_kind)");
    if (attribute.kind == TESSERA_ATTRIBUTE_STRING && !attribute.string_value)
      return invalidArgument("attribute '" + name +
                             "' is a string attribute with a NULL string_value");
    if (attribute.kind == TESSERA_ATTRIBUTE_INTS && attribute.num_int_values &&
        !attribute.int_values)
      return invalidArgument("attribute '" + name + "' is a list of " +
                             std::to_string(attribute.num_int_values) +
                             " ints with a NULL int_values");
    if (!attributes.emplace(name, &attribute).second)
      return invalidArgument("attribute '" + name + "' is given twice");
  }
  return attributes;
}

StatusOr<Kernel *> OpKernelCache::get(const void *record, int32_t device,
                                      const std::vector<compiler::ArgumentFacts> &facts,
                                      llvm::function_ref<StatusOr<Kernel *>()> load) {
  std::vector<int> factKey;
  for (const compiler::ArgumentFacts &fact : facts)
    factKey.push_back(fact.divisibility * 2 + int(fact.equalsOne));
  auto key = std::make_tuple(record, device, std::move(factKey));
  auto found = kernels_.find(key);
  if (found != kernels_.end())
    return found->second;
  StatusOr<Kernel *> kernel = load();
  if (kernel.ok())
    kernels_.emplace(std::move(key), *kernel);
  return kernel;
}

Status packScalar(ParamType type, int64_t integer, double real, std::string_view name, void *out) {
  switch (type) {
  case ParamType::Pointer:
  case ParamType::I64:
    std::memcpy(out, &integer, sizeof integer);
    return Status();
  case ParamType::I32: {
    if (integer < INT32_MIN || integer > INT32_MAX)
      return invalidArgument(std::string(name) + " = " + std::to_string(integer) +
                             " does not fit the kernel's 32-bit parameter");
    int32_t narrow = int32_t(integer);
    std::memcpy(out, &narrow, sizeof narrow);
    return Status();
  }
  case ParamType::F32: {
    float single = float(real);
    std::memcpy(out, &single, sizeof single);
    return Status();
  }
  case ParamType::TensorMap:
    break;
  }
  return internalError("packScalar: a tensor map is not a scalar");
}

compiler::ArgumentFacts jitFacts(ParamType type, int64_t value) {
  bool integer = type == ParamType::I32 || type == ParamType::I64;
  bool aligned = (integer || type == ParamType::Pointer) && value % 16 == 0;
  return {aligned ? 16 : 1, integer && value == 1};
}

StatusOr<KernelSpec> opKernelSpec(const Runtime &runtime, const std::string &op,
                                  const std::string &kernel, const std::string &bundledTarget,
                                  int64_t numWarps, int64_t numStages, const std::string &target,
                                  bool specialise,
                                  const std::vector<compiler::ArgumentFacts> &facts,
                                  std::string *tileIR) {
  StatusOr<KernelSpec> spec = runtime.bundledKernelSpec(kernel, bundledTarget);
  if (!spec.ok())
    return spec.status();
  if (spec->numWarps != numWarps || spec->numStages != numStages)
    return invalidArgument(op + ": bundled kernel '" + kernel + "' has " +
                           std::to_string(spec->numWarps) + " warps and " +
                           std::to_string(spec->numStages) + " stages, its op record " +
                           std::to_string(numWarps) + " and " + std::to_string(numStages) +
                           ": two loaded bundles disagree about it");
  spec->target = target;
  bool informative = std::any_of(facts.begin(), facts.end(), [](const auto &fact) {
    return fact.divisibility > 1 || fact.equalsOne;
  });
  if (specialise && informative) {
    std::string error;
    if (!compiler::specializeArguments(std::string(spec->tileIR), facts, tileIR, &error))
      return compileError(op + ": cannot specialise bundled kernel '" + kernel + "': " + error);
    spec->tileIR = *tileIR;
  }
  return spec;
}

StatusOr<Kernel *> loadOpKernel(Runtime &runtime, KernelSpec spec, int32_t device, size_t numParams,
                                const std::string &op, const std::string &kernel) {
  StatusOr<Kernel *> loaded = runtime.getKernel(std::move(spec), device);
  if (!loaded.ok())
    return loaded.status();
  if ((*loaded)->numParams() != int32_t(numParams))
    return internalError(op + ": bundled kernel '" + kernel + "' has " +
                         std::to_string((*loaded)->numParams()) + " parameters, its op record " +
                         std::to_string(numParams));
  return loaded;
}

StatusOr<bool> precompileOpKernel(Runtime &runtime, const KernelSpec &spec) {
  bool compiled = false;
  StatusOr<KernelBinary> binary = runtime.findOrCompile(spec, runtime.kernelKey(spec), &compiled);
  if (!binary.ok())
    return binary.status();
  return compiled;
}

} // namespace tessera::runtime
