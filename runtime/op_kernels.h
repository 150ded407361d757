// What the C++ ops (runtime/op.h) share: the scalar parameter types of op records, a call's value
// packed into a kernel parameter, and a bundled kernel specialised for a call as the Python JIT
// would specialise it.
#ifndef TESSERA_RUNTIME_OP_KERNELS_H
#define TESSERA_RUNTIME_OP_KERNELS_H

#include "compiler/Compiler.h"
#include "runtime/kernel_spec.h"
#include "runtime/runtime.h"
#include "runtime/status.h"

#include "llvm/Support/JSON.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::runtime {

enum class ParamType { Pointer, I32, I64, F32, TensorMap };

// The most parameters an op record may list: launches pack them on the stack.
constexpr size_t kMaxOpParams = 32;

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// What every op record holds: its kind ("case": one planned call, "generic": a kernel for any
// call) and the bundled kernel's name and target. The ops' records derive from it.
struct RecordHeader {
  bool isCase = false;
  std::string kernel, target;
};

// The JSON object of an op record, or INVALID_ARGUMENT ("not JSON (...)", "not a JSON object").
StatusOr<llvm::json::Object> parseRecordObject(const std::string &text);

// The string field `field` of a record, or INVALID_ARGUMENT "no string '<field>'".
Status recordString(const llvm::json::Object &record, const char *field, std::string *out);

// Reads the kind, kernel and (known) target of `record` into `header`, or INVALID_ARGUMENT.
Status parseRecordHeader(const llvm::json::Object &record, RecordHeader *header);

// One entry [name, type, detail] of a record's "params": detail is the divisibility, or a tensor
// map's block.
struct ParamEntry {
  llvm::StringRef name, type;
  const llvm::json::Value *detail = nullptr;
};

// The entries of the record's "params" (at most kMaxOpParams), or INVALID_ARGUMENT.
StatusOr<std::vector<ParamEntry>> parseParamEntries(const llvm::json::Object &record);

// The type and divisibility of a scalar parameter's entry, or INVALID_ARGUMENT naming it.
Status parseScalarParam(const ParamEntry &entry, ParamType *type, int64_t *divisibility);

// The op records of `family` in the loaded bundles of `runtime`, each parsed by `parse`. The
// bundles were checked when they were loaded, so a malformed record is an INTERNAL error.
template <typename Record>
StatusOr<std::vector<Record>> parseBundledRecords(const Runtime &runtime, const std::string &family,
                                                  StatusOr<Record> (*parse)(const std::string &)) {
  std::vector<std::string> texts = runtime.bundledOpRecords(family);
  std::vector<Record> records;
  for (size_t i = 0; i < texts.size(); ++i) {
    StatusOr<Record> record = parse(texts[i]);
    if (!record.ok())
      return internalError(family + " op record " + std::to_string(i) + ": " +
                           record.status().message());
    records.push_back(std::move(record).value());
  }
  return records;
}

// Writes a parameter of `type` (not a tensor map) at `out`: `integer` for pointers and integers,
// `real` for fp32. INVALID_ARGUMENT naming `name` when an integer does not fit an i32.
Status packScalar(ParamType type, int64_t integer, double real, std::string_view name, void *out);

// What the Python JIT specialises a parameter on: an integer equal to 1, and a multiple of 16 (an
// address aligned to 16 bytes).
compiler::ArgumentFacts jitFacts(ParamType type, int64_t value);

// The spec of bundled kernel `kernel` (compiled for `bundledTarget`, with the warps and stages
// its op record gives) for `target`, its tile IR specialised for `facts` (one per parameter)
// when `specialise` and some fact says something; *tileIR holds the specialised text the spec
// points at. `op` names the op in messages. INVALID_ARGUMENT when a later bundle replaced the
// kernel of that name with one of other options.
StatusOr<KernelSpec> opKernelSpec(const Runtime &runtime, const std::string &op,
                                  const std::string &kernel, const std::string &bundledTarget,
                                  int64_t numWarps, int64_t numStages, const std::string &target,
                                  bool specialise,
                                  const std::vector<compiler::ArgumentFacts> &facts,
                                  std::string *tileIR);

// The kernel of `spec` loaded on `device`, checked to take `numParams` parameters (its op
// record's); `op` and `kernel` name it in messages.
StatusOr<Kernel *> loadOpKernel(Runtime &runtime, KernelSpec spec, int32_t device, size_t numParams,
                                const std::string &op, const std::string &kernel);

// Puts the binary of `spec` into the disk cache (found there or in a bundle, else compiled, with
// no GPU needed); true when this call compiled it.
StatusOr<bool> precompileOpKernel(Runtime &runtime, const KernelSpec &spec);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_OP_KERNELS_H
