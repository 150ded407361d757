#include "runtime/op_kernels.h"

#include <algorithm>
#include <climits>
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
