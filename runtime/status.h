// Status and StatusOr: how every fallible runtime function reports failure.
//
// A Status is a code (the C API's tessera_status_code, so that the C boundary is a plain copy) and
// a message written for the person reading the error. Functions never throw, exit or abort; they
// return a Status, or a StatusOr<T> holding either a value or the failure.
#ifndef TESSERA_RUNTIME_STATUS_H
#define TESSERA_RUNTIME_STATUS_H

#include "runtime/tessera.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tessera::runtime {

class [[nodiscard]] Status {
public:
  Status() = default; // success
  Status(tessera_status_code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == TESSERA_OK; }
  tessera_status_code code() const { return code_; }
  const std::string &message() const { return message_; }

  // Prefixes the message with what the caller was doing ("loading kernel 'add': ..."), so that an
  // error raised deep down reads as a chain from the outermost operation to its cause.
  Status annotate(std::string_view context) const;

  // "CODE_NAME: message", or "OK".
  std::string toString() const;

private:
  tessera_status_code code_ = TESSERA_OK;
  std::string message_;
};

// "INVALID_ARGUMENT", "CUDA_ERROR", ...
const char *statusCodeName(tessera_status_code code);

inline Status invalidArgument(std::string m) { return {TESSERA_INVALID_ARGUMENT, std::move(m)}; }
inline Status compileError(std::string m) { return {TESSERA_COMPILE_ERROR, std::move(m)}; }
inline Status cudaError(std::string m) { return {TESSERA_CUDA_ERROR, std::move(m)}; }
inline Status unavailable(std::string m) { return {TESSERA_UNAVAILABLE, std::move(m)}; }
inline Status notFound(std::string m) { return {TESSERA_NOT_FOUND, std::move(m)}; }
inline Status ioError(std::string m) { return {TESSERA_IO_ERROR, std::move(m)}; }
inline Status internalError(std::string m) { return {TESSERA_INTERNAL, std::move(m)}; }
inline Status cancelled(std::string m) { return {TESSERA_CANCELLED, std::move(m)}; }

// Either a value or the Status saying why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : value_(std::move(value)) {}
  StatusOr(Status status) : status_(std::move(status)) {
    // An OK status carries no value: turn that programming error into a visible failure rather
    // than an empty optional that value() would dereference.
    if (status_.ok())
      status_ = internalError("StatusOr was given an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status &status() const { return status_; }

  // Only valid when ok().
  T &value() & { return *value_; }
  const T &value() const & { return *value_; }
  T &&value() && { return std::move(*value_); }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }

private:
  Status status_;
  std::optional<T> value_;
};

} // namespace tessera::runtime

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define TESSERA_RETURN_IF_ERROR(expr)                                                              \
  do {                                                                                             \
    ::tessera::runtime::Status tessera_status_ = (expr);                                           \
    if (!tessera_status_.ok())                                                                     \
      return tessera_status_;                                                                      \
  } while (0)

#endif // TESSERA_RUNTIME_STATUS_H
