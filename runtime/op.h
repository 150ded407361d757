// Ops called from C and C++ (tessera_runtime_get_op, tessera_op_launch): the host side of the ops
// of tessera.ops, over the kernels and op records of loaded bundles (docs/op-records.md). Part of
// libtessera, not of TesseraRuntime: it parses JSON and specialises tile IR, which take LLVM and
// the compiler.
#ifndef TESSERA_RUNTIME_OP_H
#define TESSERA_RUNTIME_OP_H

#include "runtime/runtime.h"
#include "runtime/status.h"
#include "runtime/tessera.h"

#include <memory>
#include <string>

namespace tessera::runtime {

class Op {
public:
  virtual ~Op() = default;
  // Runs the op on `device`'s `stream`; see tessera_op_launch. Thread-safe.
  virtual Status launch(int32_t device, CUstream stream, const tessera_tensor *tensors,
                        size_t numTensors, const tessera_op_options *options) = 0;
  // What launch() would run on a GPU of `target`, as JSON; see tessera_op_describe.
  virtual StatusOr<std::string> describe(const std::string &target, const tessera_tensor *tensors,
                                         size_t numTensors,
                                         const tessera_op_options *options) = 0;
  // Puts the kernel that launch() would run on a GPU of `target` into the disk cache (no GPU
  // needed); true when this call compiled it. See tessera_op_precompile.
  virtual StatusOr<bool> precompile(const std::string &target, const tessera_tensor *tensors,
                                    size_t numTensors, const tessera_op_options *options) = 0;
};

// The op `name` of `runtime` (which must outlive it); NOT_FOUND naming the ops for another name.
StatusOr<std::unique_ptr<Op>> createOp(Runtime &runtime, const std::string &name);

// Whether `record` is a well-formed op record of op `op` (docs/op-records.md): INVALID_ARGUMENT
// saying what is wrong, for an unknown op too.
Status checkOpRecord(const std::string &op, const std::string &record);

// The ops, by family (createOp picks one by name), and their records' checks.
std::unique_ptr<Op> makeMatmulOp(Runtime &runtime, const std::string &name); // matmul, mm
Status checkMatmulRecord(const std::string &record);
// add, gelu, clamp, dropout, ... (elementwiseOpNames lists them); records of family
// "elementwise".
bool isElementwiseOp(const std::string &name);
std::string elementwiseOpNames();
std::unique_ptr<Op> makeElementwiseOp(Runtime &runtime, const std::string &name);
Status checkElementwiseRecord(const std::string &record);
// softmax, layer_norm, rms_norm; records of family "normalization".
bool isNormalizationOp(const std::string &name);
std::unique_ptr<Op> makeNormalizationOp(Runtime &runtime, const std::string &name);
Status checkNormalizationRecord(const std::string &record);
// rotary_position_embedding; records of family "rope".
std::unique_ptr<Op> makeRopeOp(Runtime &runtime);
Status checkRopeRecord(const std::string &record);

} // namespace tessera::runtime

#endif // TESSERA_RUNTIME_OP_H
