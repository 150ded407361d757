#include "runtime/op.h"

namespace tessera::runtime {

StatusOr<std::unique_ptr<Op>> createOp(Runtime &runtime, const std::string &name) {
  if (name == "matmul" || name == "mm")
    return makeMatmulOp(runtime, name);
  if (isElementwiseOp(name))
    return makeElementwiseOp(runtime, name);
  if (isNormalizationOp(name))
    return makeNormalizationOp(runtime, name);
  if (name == "rotary_position_embedding")
    return makeRopeOp(runtime);
  return notFound("no op named '" + name + "' (the ops callable from C and C++: matmul, mm, " +
                  elementwiseOpNames() +
                  ", softmax, layer_norm, rms_norm, rotary_position_embedding)");
}

Status checkOpRecord(const std::string &op, const std::string &record) {
  if (op == "matmul")
    return checkMatmulRecord(record);
  if (op == "elementwise")
    return checkElementwiseRecord(record);
  if (op == "normalization")
    return checkNormalizationRecord(record);
  if (op == "rope")
    return checkRopeRecord(record);
  return invalidArgument("no op records for '" + op +
                         "' (this runtime reads records of: matmul, elementwise, normalization, "
                         "rope)");
}

} // namespace tessera::runtime
