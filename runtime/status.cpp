#include "runtime/status.h"

namespace tessera::runtime {

const char *statusCodeName(tessera_status_code code) {
  switch (code) {
  case TESSERA_OK:
    return "OK";
  case TESSERA_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case TESSERA_COMPILE_ERROR:
    return "COMPILE_ERROR";
  case TESSERA_CUDA_ERROR:
    return "CUDA_ERROR";
  case TESSERA_UNAVAILABLE:
    return "UNAVAILABLE";
  case TESSERA_NOT_FOUND:
    return "NOT_FOUND";
  case TESSERA_IO_ERROR:
    return "IO_ERROR";
  case TESSERA_INTERNAL:
    return "INTERNAL";
  case TESSERA_CANCELLED:
    return "CANCELLED";
  }
  return "UNKNOWN";
}

Status Status::annotate(std::string_view context) const {
  if (ok())
    return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

std::string Status::toString() const {
  if (ok())
    return "OK";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

} // namespace tessera::runtime
