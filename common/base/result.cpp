#include "common/base/result.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace driftwatch {

Error osError(int errnum, std::string_view what, std::string_view path) {
  ErrorCode code = ErrorCode::kIo;
  if (errnum == ENOENT || errnum == ENOTDIR) code = ErrorCode::kNotFound;
  if (errnum == EACCES || errnum == EPERM) code = ErrorCode::kPermission;
  if (errnum == ENOSPC || errnum == EMFILE || errnum == ENFILE) code = ErrorCode::kLimit;
  std::string message(what);
  message += ": ";
  // strerrordesc_np is thread-safe, unlike strerror; scans run on several threads.
  const char* text = strerrordesc_np(errnum);
  message += text != nullptr ? text : "error " + std::to_string(errnum);
  return Error{code, std::move(message), std::string(path)};
}

}  // namespace driftwatch
