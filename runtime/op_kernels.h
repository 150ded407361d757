// What the C++ ops (runtime/op.h) share: the scalar parameter types of op records, a call's value
// packed into a kernel parameter, and a bundled kernel specialised for a call as the Python JIT
// would specialise it.
#ifndef TESSERA_RUNTIME_OP_KERNELS_H
#define TESSERA_RUNTIME_OP_KERNELS_H

#include "compiler/Compiler.h"
#include "runtime/kernel_spec.h"
#include "runtime/runtime.h"
#include "runtime/status.h"
#include "runtime/tessera.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
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

// A scalar parameter of an op record's kernel: which of the op's values it takes (an index into
// the op's value names), its type, and the divisibility the kernel assumes of the value.
struct OpParam {
  int value = 0;
  ParamType type = ParamType::I32;
  int64_t divisibility = 1;
};

// Reads a record's scalar "params" and its "ones" (the values the kernel takes to be 1), naming
// values through `valueIndex` (-1: not a value of the op); each value listed at most once.
// INVALID_ARGUMENT saying what is wrong.
Status parseOpParams(const llvm::json::Object &record,
                     llvm::function_ref<int(llvm::StringRef)> valueIndex,
                     std::vector<OpParam> *params, std::vector<int> *ones);

// Whether a launch's values (`integers`, by value index) meet a kernel's assumptions: each of
// `ones` is 1, each integer parameter a multiple of its divisibility and within an i32 where the
// parameter is one.
bool opParamsHold(const std::vector<OpParam> &params, const std::vector<int> &ones,
                  const int64_t *integers);

// What a kernel assumes of each parameter: a bundled kernel run as is, its record's
// divisibility; one specialised for the launch, the JIT's facts of its values.
std::vector<compiler::ArgumentFacts> opParamFacts(const std::vector<OpParam> &params,
                                                  const int64_t *integers, bool bundled);

// Sets a launch's "params" ([name, value] each), "divisibility" and "ones" (the kernel's and those
// its specialisation folds) in a tessera_op_describe description. `names` are the op's value
// names; `reals` (fp32 parameters' values) may be null where the op has none.
void describeOpParams(const std::vector<OpParam> &params, const std::vector<int> &ones,
                      const std::vector<compiler::ArgumentFacts> &facts, const char *const *names,
                      const int64_t *integers, const double *reals,
                      llvm::json::Object *description);

// Packs each parameter's value into storage[i] (args[i] points at it), as packScalar; the message
// of an INVALID_ARGUMENT does not name the op.
Status packOpParams(const std::vector<OpParam> &params, const char *const *names,
                    const int64_t *integers, const double *reals, uint64_t *storage, void **args);

// The text of a JSON object (tessera_op_describe's result).
std::string jsonText(llvm::json::Object object);

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

// The record name of a floating dtype ("fp16", "bf16", "fp32"); nullptr for other dtypes.
const char *floatRecordName(int32_t dtype);

// The floating dtype a record names ("fp16", "bf16", "fp32"); TESSERA_NONE for other names.
int32_t floatOfRecordName(llvm::StringRef name);

// A dtype as the C API names it ("TESSERA_FLOAT16", ...), for messages.
const char *dtypeApiName(int32_t dtype);

// The smallest power of two >= n (n up to 2^62).
int64_t nextPowerOf2(int64_t n);

// The size in bytes of an element of `dtype` (a tessera_dtype; bools take a byte), 0 for
// TESSERA_NONE and unknown values.
int64_t dtypeBytes(int32_t dtype);

// Checks a tensor argument named `name`: a known dtype (TESSERA_NONE only where `optional`), a
// rank of 0 to TESSERA_MAX_RANK, sizes and strides >= 0, data non-NULL unless empty and aligned
// to its element size (checkDataAligned), an extent within 64 bits and the address space. The
// message of an INVALID_ARGUMENT does not name the op (callers prefix it).
Status checkOpTensor(const tessera_tensor &t, const char *name, bool optional);

// INVALID_ARGUMENT unless the data pointer of `t` (of a known dtype) is a multiple of its
// element size: kernels access elements at their natural alignment.
Status checkDataAligned(const tessera_tensor &t, const std::string &name);

// "(2, 3)", "(4,)", "()": a tensor's shape as PyTorch prints it.
std::string shapeText(const tessera_tensor &t);

// The byte range [start, end) of a tensor whose elements tile their memory exactly (in any order
// of dims), as tessera.ops.arguments.memory_range; nullopt for other layouts and empty tensors.
std::optional<std::pair<uint64_t, uint64_t>> memoryRange(const tessera_tensor &t,
                                                         int64_t elementBytes);

// Whether `a` and `b` are the same (non-0-d) tensor: same address, sizes and strides.
bool sameTensor(const tessera_tensor &a, const tessera_tensor &b);

// The attributes of a call by name (absent: left out), checked: each named, one of `accepted`,
// given once, of a known kind with its value present. The message of an INVALID_ARGUMENT does not
// name the op (callers prefix it).
using OpAttributes = std::map<std::string, const tessera_op_attribute *>;
StatusOr<OpAttributes> readOpAttributes(const tessera_op_options *options,
                                        const std::vector<const char *> &accepted);

// Kernels loaded for an op's records, once per (record, device, the facts of the specialisation).
// Not thread-safe: the op guards it with its mutex.
class OpKernelCache {
public:
  // The kernel cached under the key, else the one `load` gives, cached when it succeeds.
  StatusOr<Kernel *> get(const void *record, int32_t device,
                         const std::vector<compiler::ArgumentFacts> &facts,
                         llvm::function_ref<StatusOr<Kernel *>()> load);
  // Forgets every kernel (their records are being replaced).
  void clear() { kernels_.clear(); }

private:
  std::map<std::tuple<const void *, int32_t, std::vector<int>>, Kernel *> kernels_;
};

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
