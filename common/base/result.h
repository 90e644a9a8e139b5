#pragma once
// Errors as values at module boundaries. A Result<T> holds either a T or an Error; Status is
// Result<void>. An Error carries a code (what kind of failure, for callers that branch on it),
// a message (what went wrong and, where it helps, what to do) and a location (the file, the
// file:line:column, or the field it concerns) so the user sees one clear line.
// Plain values: safe to use from any thread, not shared.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace driftwatch {

enum class ErrorCode {
  kInvalidInput,  // a policy, baseline, argument or record that does not parse or validate
  kNotFound,      // a file or resource that does not exist
  kIo,            // an operating system call failed
  kPermission,    // the OS refused access
  kConflict,      // two inputs disagree (duplicate rules, a baseline for another policy)
  kLimit,         // a kernel or configured limit was reached (inotify watches, descriptors)
  kInternal,      // a broken invariant inside driftwatch
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string where;  // "policy.yaml:12:5", "/etc/passwd", "files[2].mode"; may be empty

  // The one line shown to a user: "where: message".
  std::string describe() const { return where.empty() ? message : where + ": " + message; }
};

inline Error makeError(ErrorCode code, std::string message, std::string where = {}) {
  return Error{code, std::move(message), std::move(where)};
}

// Wraps an errno value from a failed call on `path` once, where it happens.
Error osError(int errnum, std::string_view what, std::string_view path);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& takeError() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& takeError() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace driftwatch
