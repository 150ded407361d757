// softmax, layer_norm and rms_norm from C and C++, run by the normalization kernels and op records
// of loaded bundles (docs/op-records.md, "The normalization family"). This mirrors
// tessera.ops.normalization: the same checks, the same merging of dims into row and column groups,
// the same block choice (choose_block), the same split of the rows into launches (split_rows) and
// the same 64-bit test (needs_int64), so that a call runs the kernel the Python op would run, with
// the same parameter values.
#include "runtime/op.h"
#include "runtime/op_kernels.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

namespace tessera::runtime {
namespace {

enum class NormOp { Softmax, LayerNorm, RmsNorm };

struct OpInfo {
  NormOp op;
  const char *name;
  std::vector<const char *> tensors;    // the C call's tensors, in order
  std::vector<const char *> attributes; // the keyword arguments it takes
};

const std::vector<OpInfo> &opTable() {
  static const std::vector<OpInfo> table = {
      {NormOp::Softmax, "softmax", {"input", "out"}, {"dim"}},
      {NormOp::LayerNorm,
       "layer_norm",
       {"input", "weight", "bias", "out"},
       {"normalized_shape", "eps"}},
      {NormOp::RmsNorm, "rms_norm", {"input", "weight", "out"}, {"normalized_shape", "eps"}},
  };
  return table;
}

const OpInfo *findOp(const std::string &name) {
  for (const OpInfo &info : opTable())
    if (name == info.name)
      return &info;
  return nullptr;
}

// ---- dtypes ----------------------------------------------------------------------------------

bool isFloat(int32_t dtype) { return floatRecordName(dtype) != nullptr; }

// torch.finfo(dtype).eps: rms_norm's default eps.
double machineEpsilon(int32_t dtype) {
  switch (dtype) {
  case TESSERA_FLOAT16:
    return std::ldexp(1.0, -10);
  case TESSERA_BFLOAT16:
    return std::ldexp(1.0, -7);
  default:
    return std::ldexp(1.0, -23);
  }
}

// The tensors' dtypes a kernel was built for; TESSERA_NONE for an absent weight or bias.
struct Variant {
  std::string op;
  int32_t input = TESSERA_NONE, output = TESSERA_NONE, weight = TESSERA_NONE, bias = TESSERA_NONE;

  bool operator==(const Variant &other) const {
    return std::tie(op, input, output, weight, bias) ==
           std::tie(other.op, other.input, other.output, other.weight, other.bias);
  }
};

// ---- records ---------------------------------------------------------------------------------

// The values of a launch, by the kernels' parameter names.
// clang-format off
enum Value : int {
  kX, kY, kW, kB, kNRows, kN, kM1, kM2, kXS0, kXS1, kXS2, kXSCol, kYS0, kYS1, kYS2, kYSCol,
  kXSOuter, kWSOuter, kWSCol, kBSOuter, kBSCol, kEps, kNumValues
};
constexpr const char *kValueNames[kNumValues] = {
    "x_ptr", "y_ptr", "w_ptr", "b_ptr", "n_rows", "N", "M1", "M2",
    "x_stride0", "x_stride1", "x_stride2", "x_stride_col",
    "y_stride0", "y_stride1", "y_stride2", "y_stride_col",
    "x_stride_outer", "w_stride_outer", "w_stride_col", "b_stride_outer", "b_stride_col", "eps"};
// clang-format on

int valueIndex(llvm::StringRef name) {
  for (int i = 0; i < kNumValues; ++i)
    if (name == kValueNames[i])
      return i;
  return -1;
}

// choose_block's result: ROWS rows of BLOCK_N columns per program, in one pass or several.
struct Block {
  bool onePass = false;
  int64_t rows = 1, blockN = 1, numWarps = 1;

  bool operator==(const Block &other) const {
    return std::tie(onePass, rows, blockN, numWarps) ==
           std::tie(other.onePass, other.rows, other.blockN, other.numWarps);
  }
};

// The constexprs that depend on a launch's layout.
struct Layout {
  int64_t rowDims = 1;
  bool evenM = false, evenN = false, index64 = false;
};

struct Record : RecordHeader {
  Variant variant;
  Block block;
  Layout layout;
  int64_t numStages = 1;
  std::vector<OpParam> params;
  std::vector<int> ones; // values the kernel takes to be 1
};

// The record in `text`, or INVALID_ARGUMENT saying what is wrong with it.
StatusOr<Record> parseRecord(const std::string &text) {
  StatusOr<llvm::json::Object> parsed = parseRecordObject(text);
  if (!parsed.ok())
    return parsed.status();
  const llvm::json::Object &object = *parsed;
  Record record;
  TESSERA_RETURN_IF_ERROR(parseRecordHeader(object, &record));
  TESSERA_RETURN_IF_ERROR(recordString(object, "op", &record.variant.op));
  if (!findOp(record.variant.op))
    return invalidArgument("'op' is \"" + record.variant.op +
                           "\" (expected softmax, layer_norm or rms_norm)");
  auto dtype = [&](const char *field, bool optional, int32_t *out) -> Status {
    const llvm::json::Value *value = object.get(field);
    if (optional && value && value->getAsNull())
      return Status();
    std::optional<llvm::StringRef> name = value ? value->getAsString() : std::nullopt;
    *out = name ? floatOfRecordName(*name) : TESSERA_NONE;
    if (*out == TESSERA_NONE)
      return invalidArgument(std::string("'") + field + "' is not fp16, bf16 or fp32" +
                             (optional ? " or null" : ""));
    return Status();
  };
  auto integer = [&](const char *field, int64_t low, int64_t high, int64_t *out) -> Status {
    std::optional<int64_t> value = object.getInteger(field);
    if (!value || *value < low || *value > high)
      return invalidArgument(std::string("'") + field + "' is not an integer from " +
                             std::to_string(low) + " to " + std::to_string(high));
    *out = *value;
    return Status();
  };
  auto boolean = [&](const char *field, bool *out) -> Status {
    std::optional<bool> value = object.getBoolean(field);
    if (!value)
      return invalidArgument(std::string("no boolean '") + field + "'");
    *out = *value;
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(dtype("input", false, &record.variant.input));
  TESSERA_RETURN_IF_ERROR(dtype("output", false, &record.variant.output));
  TESSERA_RETURN_IF_ERROR(dtype("weight", true, &record.variant.weight));
  TESSERA_RETURN_IF_ERROR(dtype("bias", true, &record.variant.bias));
  TESSERA_RETURN_IF_ERROR(boolean("one_pass", &record.block.onePass));
  TESSERA_RETURN_IF_ERROR(integer("rows", 1, 1 << 16, &record.block.rows));
  TESSERA_RETURN_IF_ERROR(integer("block_n", 1, 1 << 16, &record.block.blockN));
  TESSERA_RETURN_IF_ERROR(integer("num_warps", 1, 32, &record.block.numWarps));
  TESSERA_RETURN_IF_ERROR(integer("num_stages", 1, 16, &record.numStages));
  TESSERA_RETURN_IF_ERROR(integer("row_dims", 1, 3, &record.layout.rowDims));
  TESSERA_RETURN_IF_ERROR(boolean("even_m", &record.layout.evenM));
  TESSERA_RETURN_IF_ERROR(boolean("even_n", &record.layout.evenN));
  TESSERA_RETURN_IF_ERROR(boolean("index_64", &record.layout.index64));

  TESSERA_RETURN_IF_ERROR(parseOpParams(object, valueIndex, &record.params, &record.ones));
  return record;
}

// ---- planning, as ops/kernels/normalization.py -----------------------------------------------

constexpr int64_t kMaxKernelDims = 3;       // MAX_KERNEL_DIMS
constexpr int64_t kMaxPrograms = INT32_MAX; // MAX_PROGRAMS
constexpr int64_t kMaxOnePass = 16384;      // MAX_ONE_PASS
constexpr int64_t kMultiPassBlock = 8192;   // MULTI_PASS_BLOCK
constexpr int64_t kRowsTarget = 4096;       // ROWS_TARGET
constexpr int64_t kStridedRows = 64;        // STRIDED_ROWS
constexpr int64_t kElementsPerThread = 16;  // ELEMENTS_PER_THREAD
constexpr int64_t kIndex32Limit = int64_t(1) << 31;

// MAX_ONE_PASS_WARPS
int64_t maxOnePassWarps(NormOp op) { return op == NormOp::LayerNorm ? 16 : 8; }

// A group of dims (merge_dims): its size and each tensor's stride.
struct Group {
  int64_t size;
  std::vector<int64_t> strides;
};

// merge_dims: `sizes` (outer to inner) with each tensor's strides of them, as groups outer to
// inner; unit dims dropped, a dim merged into the next inner group where every stride allows.
std::vector<Group> mergeDims(const std::vector<int64_t> &sizes,
                             const std::vector<std::vector<int64_t>> &strides) {
  std::vector<Group> groups; // inner to outer while building
  for (size_t dim = sizes.size(); dim-- > 0;) {
    if (sizes[dim] == 1)
      continue;
    std::vector<int64_t> dimStrides;
    for (const std::vector<int64_t> &tensor : strides)
      dimStrides.push_back(tensor[dim]);
    bool merges = !groups.empty();
    for (size_t t = 0; merges && t < dimStrides.size(); ++t)
      merges = dimStrides[t] == groups.back().size * groups.back().strides[t];
    if (merges)
      groups.back().size *= sizes[dim];
    else
      groups.push_back({sizes[dim], dimStrides});
  }
  std::reverse(groups.begin(), groups.end());
  return groups;
}

// choose_block (with the heuristic's warps: C calls have no default-warps setting).
Block chooseBlock(NormOp op, int64_t nCols, int64_t nRows, bool stridedRows) {
  int64_t rowsCap = nextPowerOf2(std::max<int64_t>(nRows, 1));
  int64_t minRows = stridedRows ? std::min(kStridedRows, rowsCap) : 1;
  int64_t full = nextPowerOf2(std::max<int64_t>(nCols, 1));
  Block block;
  if (minRows * full <= kMaxOnePass) {
    block.onePass = true;
    block.blockN = full;
    block.rows = std::min(std::max(kRowsTarget / full, minRows), rowsCap);
  } else {
    block.rows = minRows;
    block.blockN = std::max<int64_t>(kMultiPassBlock / block.rows, 1);
  }
  int64_t most = block.onePass ? maxOnePassWarps(op) : 16;
  block.numWarps =
      std::min(std::max<int64_t>(block.rows * block.blockN / (32 * kElementsPerThread), 1), most);
  return block;
}

// needs_int64: whether an index or offset of a launch over row groups `kernelDims` and column
// group `column` (one: the kernels built here index columns in one level) reaches 2^31.
bool needsInt64(const std::vector<Group> &kernelDims, const Group &column, int64_t rowsPerProgram,
                int64_t blockN) {
  int64_t nRows = 1;
  for (const Group &group : kernelDims)
    nRows *= group.size;
  int64_t reach = cdiv(column.size, blockN) * blockN; // padding columns included
  if (reach >= kIndex32Limit || nRows + rowsPerProgram >= kIndex32Limit)
    return true;
  for (size_t t = 0; t < column.strides.size(); ++t) {
    int64_t extent = (reach - 1) * column.strides[t];
    for (size_t i = 0; i < kernelDims.size(); ++i)
      if (t < kernelDims[i].strides.size()) {
        int64_t padding = i == 0 ? rowsPerProgram - 1 : 0;
        extent += (kernelDims[i].size - 1 + padding) * kernelDims[i].strides[t];
      }
    if (extent >= kIndex32Limit)
      return true;
  }
  return false;
}

// split_rows: each launch's tensor offsets (elements) and the row groups its kernel indexes.
struct RowLaunch {
  std::vector<int64_t> offsets;
  std::vector<Group> dims;
};

std::vector<RowLaunch> splitRows(const std::vector<Group> &groups, int64_t rowsPerProgram,
                                 size_t tensors) {
  if (groups.empty())
    return {RowLaunch{std::vector<int64_t>(tensors, 0), {}}};
  tensors = groups[0].strides.size();
  size_t kernelStart = groups.size() > size_t(kMaxKernelDims) ? groups.size() - kMaxKernelDims : 0;
  std::vector<Group> kernel(groups.begin() + kernelStart, groups.end());
  std::vector<Group> outer(groups.begin(), groups.begin() + kernelStart);
  int64_t maxRows = kMaxPrograms * rowsPerProgram;
  int64_t innerRows = 1;
  while (true) {
    innerRows = 1;
    for (size_t i = 1; i < kernel.size(); ++i)
      innerRows *= kernel[i].size;
    if (innerRows <= maxRows || kernel.size() == 1)
      break;
    outer.push_back(kernel.front());
    kernel.erase(kernel.begin());
  }
  int64_t chunk = std::max<int64_t>(maxRows / innerRows, 1);
  std::vector<std::vector<int64_t>> bases = {std::vector<int64_t>(tensors, 0)};
  for (const Group &group : outer) {
    std::vector<std::vector<int64_t>> next;
    for (const std::vector<int64_t> &base : bases)
      for (int64_t i = 0; i < group.size; ++i) {
        std::vector<int64_t> offsets = base;
        for (size_t t = 0; t < tensors; ++t)
          offsets[t] += i * group.strides[t];
        next.push_back(std::move(offsets));
      }
    bases = std::move(next);
  }
  std::vector<RowLaunch> launches;
  const Group &head = kernel.front();
  for (const std::vector<int64_t> &base : bases)
    for (int64_t start = 0; start < head.size; start += chunk) {
      RowLaunch launch{base, kernel};
      for (size_t t = 0; t < tensors; ++t)
        launch.offsets[t] += start * head.strides[t];
      launch.dims.front().size = std::min(chunk, head.size - start);
      launches.push_back(std::move(launch));
    }
  return launches;
}

// ---- calls -----------------------------------------------------------------------------------

// A call, checked: its variant and what planning needs of its tensors.
struct Call {
  Variant variant;
  NormOp op = NormOp::Softmax;
  std::vector<int64_t> shape;
  std::vector<int64_t> xStrides, yStrides; // yStrides: out's, contiguous
  std::vector<int64_t> wStrides, bStrides; // of the normalised dims; empty when absent
  int64_t dim = 0;                         // softmax: the reduced dim
  int64_t normalizedDims = 0;              // the norms: trailing dims normalised
  int64_t elementBytes[4] = {0, 0, 0, 0};  // x, y, w, b
  uint64_t data[4] = {0, 0, 0, 0};         // x, y, w, b
  double eps = 0;
};

// A planned launch: its parameter values, layout constexprs and programs.
struct Launch {
  int64_t integers[kNumValues] = {};
  double reals[kNumValues] = {};
  Layout layout;
  int64_t programs = 0;
};

std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t step = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = step;
    step *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

// The planned launches of `call` with `block` (the row groups, column groups and arguments of
// _softmax_plan and _norm_plan).
struct CallPlan {
  std::vector<Group> rowGroups;
  Group column;            // x's, y's (and the weight's, bias's) stride of the one column group
  bool rowStrided = false; // what _plan calls row_strided
};

CallPlan planGroups(const Call &call) {
  CallPlan plan;
  const std::vector<int64_t> &shape = call.shape;
  if (call.op == NormOp::Softmax) {
    std::vector<int64_t> sizes;
    std::vector<std::vector<int64_t>> strides(2);
    for (size_t d = 0; d < shape.size(); ++d)
      if (int64_t(d) != call.dim) {
        sizes.push_back(shape[d]);
        strides[0].push_back(call.xStrides[d]);
        strides[1].push_back(call.yStrides[d]);
      }
    plan.rowGroups = mergeDims(sizes, strides);
    int64_t nCols = shape[call.dim];
    plan.column = {nCols, {call.xStrides[call.dim], call.yStrides[call.dim]}};
    plan.rowStrided = call.xStrides[call.dim] != 1 && nCols > 1;
    return plan;
  }
  size_t lead = shape.size() - call.normalizedDims;
  std::vector<int64_t> colSizes(shape.begin() + lead, shape.end());
  std::vector<std::vector<int64_t>> colStrides = {
      {call.xStrides.begin() + lead, call.xStrides.end()},
      {call.yStrides.begin() + lead, call.yStrides.end()}};
  for (const std::vector<int64_t> *param : {&call.wStrides, &call.bStrides})
    if (!param->empty())
      colStrides.push_back(*param);
  std::vector<Group> columns = mergeDims(colSizes, colStrides);
  int64_t nCols = 1;
  for (int64_t size : colSizes)
    nCols *= size;
  // readCall refused more than one column group; none: every normalised dim has size 1.
  plan.column =
      columns.empty() ? Group{1, std::vector<int64_t>(colStrides.size(), 1)} : columns.front();
  plan.column.size = nCols;
  plan.rowGroups = mergeDims({shape.begin(), shape.begin() + lead},
                             {{call.xStrides.begin(), call.xStrides.begin() + lead},
                              {call.yStrides.begin(), call.yStrides.begin() + lead}});
  plan.rowStrided = plan.column.strides[0] != 1 && nCols > 1;
  return plan;
}

// _plan's block: rows whose starts are adjacent while their columns are not take several rows
// per program.
Block plannedBlock(const Call &call, const CallPlan &plan) {
  int64_t nRows = 1;
  for (const Group &group : plan.rowGroups)
    nRows *= group.size;
  bool strided =
      plan.rowStrided && !plan.rowGroups.empty() && plan.rowGroups.back().strides[0] == 1;
  return chooseBlock(call.op, plan.column.size, nRows, strided);
}

std::vector<Launch> launchesOf(const Call &call, const CallPlan &plan, const Block &block) {
  std::vector<Launch> launches;
  for (const RowLaunch &rows : splitRows(plan.rowGroups, block.rows, 2)) {
    Launch launch;
    std::fill(std::begin(launch.integers), std::end(launch.integers), 1);
    std::fill(std::begin(launch.reals), std::end(launch.reals), 1.0);
    std::vector<Group> dims = rows.dims;
    launch.layout.rowDims = std::max<int64_t>(int64_t(dims.size()), 1);
    while (dims.size() < size_t(kMaxKernelDims))
      dims.push_back({1, {1, 1}});
    int64_t nRows = dims[0].size * dims[1].size * dims[2].size;
    launch.integers[kX] = int64_t(call.data[0] + uint64_t(rows.offsets[0] * call.elementBytes[0]));
    launch.integers[kY] = int64_t(call.data[1] + uint64_t(rows.offsets[1] * call.elementBytes[1]));
    launch.integers[kW] = int64_t(call.data[2]);
    launch.integers[kB] = int64_t(call.data[3]);
    launch.integers[kNRows] = nRows;
    launch.integers[kN] = plan.column.size;
    launch.integers[kM1] = dims[1].size;
    launch.integers[kM2] = dims[2].size;
    for (int d = 0; d < 3; ++d) {
      launch.integers[kXS0 + d] = dims[d].strides[0];
      launch.integers[kYS0 + d] = dims[d].strides[1];
    }
    launch.integers[kXSCol] = plan.column.strides[0];
    launch.integers[kYSCol] = plan.column.strides[1];
    size_t t = 2; // the weight's, then the bias's, stride in the column group
    if (!call.wStrides.empty())
      launch.integers[kWSCol] = plan.column.strides[t++];
    if (!call.bStrides.empty())
      launch.integers[kBSCol] = plan.column.strides[t];
    launch.reals[kEps] = call.eps;
    launch.layout.evenM = nRows % block.rows == 0;
    launch.layout.evenN = plan.column.size % block.blockN == 0;
    launch.layout.index64 = needsInt64(rows.dims, plan.column, block.rows, block.blockN);
    launch.programs = cdiv(nRows, block.rows);
    launches.push_back(launch);
  }
  return launches;
}

// A launch's record and what its kernel assumes of each parameter.
struct Plan {
  const Record *record = nullptr;
  bool bundled = false;
  std::vector<compiler::ArgumentFacts> facts;
};

class NormalizationOp final : public Op {
public:
  NormalizationOp(Runtime &runtime, const OpInfo &info) : runtime_(runtime), info_(info) {}

  Status launch(int32_t device, CUstream stream, const tessera_tensor *tensors, size_t numTensors,
                const tessera_op_options *options) override {
    StatusOr<Call> call = readCall(tensors, numTensors, options);
    if (!call.ok())
      return call.status();
    if (isEmpty(*call))
      return Status();
    StatusOr<std::string> target = runtime_.deviceTarget(device);
    if (!target.ok())
      return target.status();
    std::vector<Launch> launches;
    std::vector<Plan> plans;
    std::unique_lock<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    TESSERA_RETURN_IF_ERROR(planCall(*call, *target, &launches, &plans));
    std::vector<Kernel *> kernels;
    for (const Plan &plan : plans) {
      StatusOr<Kernel *> kernel = kernelFor(plan, device, *target);
      if (!kernel.ok())
        return kernel.status();
      kernels.push_back(*kernel);
    }
    // Packed under the lock (refresh() may replace the records), launched after it.
    struct Packed {
      uint64_t storage[kMaxOpParams];
      void *args[kMaxOpParams];
    };
    std::vector<Packed> packed(launches.size());
    for (size_t i = 0; i < launches.size(); ++i) {
      Status status = packOpParams(plans[i].record->params, kValueNames, launches[i].integers,
                                   launches[i].reals, packed[i].storage, packed[i].args);
      if (!status.ok())
        return invalid(status.message());
    }
    lock.unlock();
    for (size_t i = 0; i < launches.size(); ++i)
      TESSERA_RETURN_IF_ERROR(kernels[i]->launch(uint32_t(launches[i].programs), 1, 1, stream,
                                                 packed[i].args, plans[i].record->params.size()));
    return Status();
  }

  StatusOr<std::string> describe(const std::string &target, const tessera_tensor *tensors,
                                 size_t numTensors, const tessera_op_options *options) override {
    Call call;
    TESSERA_RETURN_IF_ERROR(readForTarget(target, tensors, numTensors, options, &call));
    llvm::json::Array described;
    if (!isEmpty(call)) {
      std::lock_guard<std::mutex> lock(mutex_);
      TESSERA_RETURN_IF_ERROR(refresh());
      std::vector<Launch> launches;
      std::vector<Plan> plans;
      TESSERA_RETURN_IF_ERROR(planCall(call, target, &launches, &plans));
      for (size_t i = 0; i < launches.size(); ++i)
        described.push_back(describeLaunch(launches[i], plans[i]));
    }
    llvm::json::Object description{{"launches", int64_t(described.size())}};
    if (!described.empty()) {
      // The first launch's fields at the top, as the other ops give them.
      for (auto &entry : *described.front().getAsObject())
        description[entry.first] = entry.second;
      description["all"] = std::move(described);
    }
    return jsonText(std::move(description));
  }

  StatusOr<bool> precompile(const std::string &target, const tessera_tensor *tensors,
                            size_t numTensors, const tessera_op_options *options) override {
    Call call;
    TESSERA_RETURN_IF_ERROR(readForTarget(target, tensors, numTensors, options, &call));
    if (isEmpty(call))
      return false;
    std::lock_guard<std::mutex> lock(mutex_);
    TESSERA_RETURN_IF_ERROR(refresh());
    std::vector<Launch> launches;
    std::vector<Plan> plans;
    TESSERA_RETURN_IF_ERROR(planCall(call, target, &launches, &plans));
    bool compiledAny = false;
    for (const Plan &plan : plans) {
      std::string tileIR;
      StatusOr<KernelSpec> spec = kernelSpec(plan, target, &tileIR);
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
  Status invalid(const std::string &message) const {
    return invalidArgument(std::string(info_.name) + ": " + message);
  }

  static bool isEmpty(const Call &call) {
    return std::find(call.shape.begin(), call.shape.end(), 0) != call.shape.end();
  }

  // ---- reading a call ----

  Status readForTarget(const std::string &target, const tessera_tensor *tensors, size_t numTensors,
                       const tessera_op_options *options, Call *call) const {
    if (!isKnownTarget(target))
      return invalidArgument("target '" + target + "' is not one of " + knownTargetList());
    StatusOr<Call> read = readCall(tensors, numTensors, options);
    if (!read.ok())
      return read.status();
    *call = std::move(read).value();
    return Status();
  }

  Status checkFloat(const tessera_tensor &t, const char *name) const {
    if (!isFloat(t.dtype))
      return invalid(std::string(name) + " has dtype " + std::to_string(t.dtype) +
                     "; expected TESSERA_FLOAT16, TESSERA_BFLOAT16 or TESSERA_FLOAT32");
    return Status();
  }

  // The call, after every check of its arguments, as the Python op checks them.
  StatusOr<Call> readCall(const tessera_tensor *tensors, size_t numTensors,
                          const tessera_op_options *options) const {
    const std::vector<const char *> &names = info_.tensors;
    if (!tensors || numTensors != names.size()) {
      std::string list;
      for (const char *name : names)
        list += (list.empty() ? "" : ", ") + std::string(name);
      return invalid("expected " + std::to_string(names.size()) + " tensors (" + list + "), got " +
                     (tensors ? std::to_string(numTensors) : std::string("NULL")));
    }
    for (size_t i = 0; i < numTensors; ++i) {
      bool optional = names[i] == std::string("weight") || names[i] == std::string("bias");
      Status checked = checkOpTensor(tensors[i], names[i], optional);
      if (!checked.ok())
        return invalid(checked.message());
      if (tensors[i].dtype != TESSERA_NONE)
        TESSERA_RETURN_IF_ERROR(checkFloat(tensors[i], names[i]));
    }
    const char *precision = options ? options->input_precision : nullptr;
    if (precision && std::string(precision) != "ieee")
      return invalid(std::string("options.input_precision must be NULL or \"ieee\", got \"") +
                     precision + "\"");
    StatusOr<OpAttributes> attributes = readOpAttributes(options, info_.attributes);
    if (!attributes.ok())
      return invalid(attributes.status().message());

    const tessera_tensor &x = tensors[0];
    const tessera_tensor &out = tensors[numTensors - 1];
    Call call;
    call.op = info_.op;
    call.variant = {info_.name, x.dtype, out.dtype, TESSERA_NONE, TESSERA_NONE};
    // A 0-d input is one element in one row (PyTorch gives a 0-d tensor one dim here).
    call.shape.assign(x.sizes, x.sizes + x.rank);
    call.xStrides.assign(x.strides, x.strides + x.rank);
    if (x.rank == 0) {
      call.shape = {1};
      call.xStrides = {1};
    }
    call.yStrides = contiguousStrides(call.shape);
    call.data[0] = x.data;
    call.data[1] = out.data;
    call.elementBytes[0] = dtypeBytes(x.dtype);
    call.elementBytes[1] = dtypeBytes(out.dtype);
    if (info_.op == NormOp::Softmax)
      TESSERA_RETURN_IF_ERROR(readSoftmax(x, *attributes, &call));
    else
      TESSERA_RETURN_IF_ERROR(readNorm(tensors, *attributes, &call));
    TESSERA_RETURN_IF_ERROR(checkOut(x, out));
    return call;
  }

  Status readSoftmax(const tessera_tensor &x, const OpAttributes &attributes, Call *call) const {
    auto dim = attributes.find("dim");
    if (dim == attributes.end())
      return invalid("the attribute 'dim' (an int) is required");
    if (dim->second->kind != TESSERA_ATTRIBUTE_INT)
      return invalid("dim must be an int attribute");
    int64_t rank = std::max<int64_t>(x.rank, 1);
    int64_t value = dim->second->int_value;
    if (value < -rank || value >= rank)
      return invalid("dim " + std::to_string(value) + " is out of range for input with " +
                     std::to_string(x.rank) + " dimensions; expected " + std::to_string(-rank) +
                     " <= dim < " + std::to_string(rank));
    call->dim = (value + rank) % rank;
    return Status();
  }

  Status readNorm(const tessera_tensor *tensors, const OpAttributes &attributes, Call *call) const {
    const tessera_tensor &x = tensors[0];
    const tessera_tensor &out = tensors[info_.tensors.size() - 1];
    if (out.dtype != x.dtype)
      return invalid(std::string("out has dtype ") + dtypeApiName(out.dtype) +
                     "; expected input's, " + dtypeApiName(x.dtype));
    auto found = attributes.find("normalized_shape");
    if (found == attributes.end())
      return invalid("the attribute 'normalized_shape' (an int or a list of ints) is required");
    const tessera_op_attribute &attribute = *found->second;
    std::vector<int64_t> normalized;
    if (attribute.kind == TESSERA_ATTRIBUTE_INT)
      normalized = {attribute.int_value};
    else if (attribute.kind == TESSERA_ATTRIBUTE_INTS)
      normalized.assign(attribute.int_values, attribute.int_values + attribute.num_int_values);
    else
      return invalid("normalized_shape must be an int or a list of ints attribute");
    if (normalized.empty())
      return invalid("normalized_shape is empty; expected at least one dim");
    bool matches = x.rank >= int32_t(normalized.size());
    for (size_t i = 0; matches && i < normalized.size(); ++i)
      matches = x.sizes[x.rank - normalized.size() + i] == normalized[i];
    if (!matches) {
      std::string dims;
      for (int64_t size : normalized)
        dims += (dims.empty() ? "" : ", ") + std::to_string(size);
      return invalid("normalized_shape (" + dims +
                     ") does not match the trailing dims of input "
                     "of shape " +
                     shapeText(x) + "; expected input of shape (*, " + dims + ")");
    }
    call->normalizedDims = int64_t(normalized.size());
    size_t weightIndex = 1, biasIndex = info_.op == NormOp::LayerNorm ? 2 : 0;
    for (size_t index : {weightIndex, biasIndex}) {
      if (index == 0 || tensors[index].dtype == TESSERA_NONE)
        continue;
      const tessera_tensor &param = tensors[index];
      const char *name = info_.tensors[index];
      bool same = param.rank == int32_t(normalized.size());
      for (size_t i = 0; same && i < normalized.size(); ++i)
        same = param.sizes[i] == normalized[i];
      if (!same) {
        tessera_tensor expected{};
        expected.rank = int32_t(normalized.size());
        std::copy(normalized.begin(), normalized.end(), expected.sizes);
        return invalid(std::string(name) + " has shape " + shapeText(param) +
                       "; expected normalized_shape " + shapeText(expected));
      }
      std::vector<int64_t> &strides = index == weightIndex ? call->wStrides : call->bStrides;
      strides.assign(param.strides, param.strides + param.rank);
      (index == weightIndex ? call->variant.weight : call->variant.bias) = param.dtype;
      call->data[index == weightIndex ? 2 : 3] = param.data;
      call->elementBytes[index == weightIndex ? 2 : 3] = dtypeBytes(param.dtype);
    }
    auto eps = attributes.find("eps");
    if (eps == attributes.end())
      call->eps = info_.op == NormOp::LayerNorm ? 1e-5 : machineEpsilon(x.dtype);
    else if (eps->second->kind == TESSERA_ATTRIBUTE_FLOAT)
      call->eps = eps->second->float_value;
    else if (eps->second->kind == TESSERA_ATTRIBUTE_INT)
      call->eps = double(eps->second->int_value);
    else
      return invalid("eps must be a real number (a float or int attribute)");
    if (!(call->eps >= 0) || std::isinf(call->eps)) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", call->eps);
      return invalid(std::string("eps must be a finite number >= 0, got ") + value);
    }
    // The kernels built for C calls index the normalised columns in one level.
    size_t lead = call->shape.size() - normalized.size();
    std::vector<std::vector<int64_t>> strides = {
        {call->xStrides.begin() + lead, call->xStrides.end()},
        {call->yStrides.begin() + lead, call->yStrides.end()}};
    for (const std::vector<int64_t> *param : {&call->wStrides, &call->bStrides})
      if (!param->empty())
        strides.push_back(*param);
    if (mergeDims({call->shape.begin() + lead, call->shape.end()}, strides).size() > 1)
      return invalid("the normalized dims of input (and of weight and bias) do not merge into one "
                     "strided group; expected them contiguous (the C op's kernels index the "
                     "normalized elements in one level)");
    return Status();
  }

  // out: the input's shape, contiguous (as the Python op allocates it), apart from the input.
  Status checkOut(const tessera_tensor &x, const tessera_tensor &out) const {
    bool sameShape = out.rank == x.rank;
    for (int32_t d = 0; sameShape && d < x.rank; ++d)
      sameShape = out.sizes[d] == x.sizes[d];
    if (!sameShape)
      return invalid("out has shape " + shapeText(out) + "; expected input's shape " +
                     shapeText(x));
    std::vector<int64_t> sizes(out.sizes, out.sizes + out.rank);
    std::vector<int64_t> contiguous = contiguousStrides(sizes);
    for (int32_t d = 0; d < out.rank; ++d)
      if (out.sizes[d] > 1 && out.strides[d] != contiguous[d])
        return invalid("out is not contiguous (strides of a row-major tensor of its shape "
                       "expected)");
    auto outRange = memoryRange(out, dtypeBytes(out.dtype));
    int64_t extent = 1;
    for (int32_t d = 0; d < x.rank; ++d)
      extent += (x.sizes[d] - 1) * x.strides[d];
    bool empty = std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
    uint64_t xStart = x.data, xEnd = x.data + uint64_t(extent * dtypeBytes(x.dtype));
    if (outRange && !empty && outRange->first < xEnd && xStart < outRange->second)
      return invalid("out overlaps input in memory; expected a separate tensor");
    return Status();
  }

  // ---- plans ----

  // The launches of `call` and the plan of each: the planned block where the bundles hold a kernel
  // of it for every launch, else the block of a multi-pass generic record (the fallbacks).
  // Called with mutex_, after refresh().
  Status planCall(const Call &call, const std::string &target, std::vector<Launch> *launches,
                  std::vector<Plan> *plans) const {
    CallPlan groups = planGroups(call);
    std::vector<Block> blocks = {plannedBlock(call, groups)};
    std::vector<const Record *> variantRecords;
    bool local = anyOn(call, target);
    for (const Record &record : records_)
      if (record.variant == call.variant && (record.target == target || !local))
        variantRecords.push_back(&record);
    for (const Record *record : variantRecords)
      if (!record->isCase && !record->block.onePass &&
          std::find(blocks.begin(), blocks.end(), record->block) == blocks.end())
        blocks.push_back(record->block);
    for (const Block &block : blocks) {
      *launches = launchesOf(call, groups, block);
      plans->clear();
      for (const Launch &launch : *launches) {
        std::optional<Plan> plan = planLaunch(variantRecords, block, launch);
        if (!plan)
          break;
        plans->push_back(std::move(*plan));
      }
      if (plans->size() == launches->size())
        return checkPrograms(*launches);
    }
    return notFound(missing(call, target));
  }

  // Whether some record of the call's variant is for `target` (else those of any target serve:
  // their tile IR compiles for it).
  bool anyOn(const Call &call, const std::string &target) const {
    return std::any_of(records_.begin(), records_.end(), [&](const Record &record) {
      return record.variant == call.variant && record.target == target;
    });
  }

  Status checkPrograms(const std::vector<Launch> &launches) const {
    for (const Launch &launch : launches)
      if (launch.programs > INT32_MAX)
        return invalid("a launch needs " + std::to_string(launch.programs) +
                       " programs, more than a grid holds");
    return Status();
  }

  // A case record of exactly this block and layout whose assumptions hold, else the generic record
  // of this block that the layout allows, with the narrowest offsets.
  static std::optional<Plan> planLaunch(const std::vector<const Record *> &records,
                                        const Block &block, const Launch &launch) {
    auto holds = [&](const Record &record) {
      return opParamsHold(record.params, record.ones, launch.integers);
    };
    const Layout &want = launch.layout;
    for (const Record *record : records) {
      const Layout &has = record->layout;
      if (record->isCase && record->block == block && has.rowDims == want.rowDims &&
          has.evenM == want.evenM && has.evenN == want.evenN && has.index64 == want.index64 &&
          holds(*record))
        return Plan{record, true, opParamFacts(record->params, launch.integers, true)};
    }
    const Record *generic = nullptr;
    for (const Record *record : records) {
      const Layout &has = record->layout;
      bool allows = has.rowDims >= want.rowDims && (!has.evenM || want.evenM) &&
                    (!has.evenN || want.evenN) && (has.index64 || !want.index64);
      if (!record->isCase && record->block == block && allows && holds(*record) &&
          (!generic || generic->layout.index64 > has.index64))
        generic = record;
    }
    if (!generic)
      return std::nullopt;
    return Plan{generic, false, opParamFacts(generic->params, launch.integers, false)};
  }

  std::string missing(const Call &call, const std::string &target) const {
    const Variant &v = call.variant;
    std::string dtypes =
        std::string("input ") + dtypeApiName(v.input) + ", out " + dtypeApiName(v.output);
    if (v.weight != TESSERA_NONE)
      dtypes += std::string(", weight ") + dtypeApiName(v.weight);
    if (v.bias != TESSERA_NONE)
      dtypes += std::string(", bias ") + dtypeApiName(v.bias);
    return std::string(info_.name) + ": no loaded bundle holds a " + info_.name + " kernel for " +
           dtypes + " on " + target +
           ": load the op library's bundle (tessera-aot --library), or build one with an \"ops\" "
           "entry {\"op\": \"" +
           info_.name + "\", \"dtypes\": [\"" + floatRecordName(v.input) +
           "\"]}; the library holds tensors of one dtype, softmax also to fp32" +
           (info_.op == NormOp::Softmax ? "" : ", and weight and bias of the input's dtype");
  }

  llvm::json::Object describeLaunch(const Launch &launch, const Plan &plan) const {
    const Record &record = *plan.record;
    const Layout &layout = record.layout;
    llvm::json::Object description{
        {"kernel", record.kernel},
        {"path", plan.bundled ? "bundled" : "jit"},
        {"config", llvm::json::Object{{"ONE_PASS", record.block.onePass},
                                      {"ROWS", record.block.rows},
                                      {"BLOCK_N", record.block.blockN},
                                      {"num_warps", record.block.numWarps},
                                      {"ROW_DIMS", layout.rowDims},
                                      {"EVEN_M", layout.evenM},
                                      {"EVEN_N", layout.evenN},
                                      {"INDEX_64", layout.index64}}},
        {"grid", llvm::json::Array{launch.programs, 1, 1}}};
    describeOpParams(record.params, record.ones, plan.facts, kValueNames, launch.integers,
                     launch.reals, &description);
    return description;
  }

  // Re-reads the op records when a bundle was loaded since the last call. Called with mutex_.
  Status refresh() {
    uint64_t generation = runtime_.bundleGeneration();
    if (generation == generation_)
      return Status();
    StatusOr<std::vector<Record>> records =
        parseBundledRecords(runtime_, "normalization", parseRecord);
    if (!records.ok())
      return records.status();
    records_ = std::move(records).value();
    kernels_.clear();
    generation_ = generation;
    return Status();
  }

  // The kernel of `plan` for `target` (see opKernelSpec). Called with mutex_.
  StatusOr<KernelSpec> kernelSpec(const Plan &plan, const std::string &target,
                                  std::string *tileIR) const {
    const Record &record = *plan.record;
    return opKernelSpec(runtime_, info_.name, record.kernel, record.target, record.block.numWarps,
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
  OpKernelCache kernels_;
};

} // namespace

bool isNormalizationOp(const std::string &name) { return findOp(name) != nullptr; }

std::unique_ptr<Op> makeNormalizationOp(Runtime &runtime, const std::string &name) {
  const OpInfo *info = findOp(name);
  return info ? std::make_unique<NormalizationOp>(runtime, *info) : nullptr;
}

Status checkNormalizationRecord(const std::string &record) { return parseRecord(record).status(); }

} // namespace tessera::runtime
