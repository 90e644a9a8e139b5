#pragma once
// The JSON bodies of the admin API's POST requests, parsed strictly: every byte comes from the
// network. A body is an object of string fields the endpoint knows, each at most
// kMaxFieldBytes; an empty body is an empty object. Anything else (another content type,
// invalid JSON, another shape, an unknown or repeated field, a field that is not a string) is
// an error that names what is wrong. Pure functions, safe from any thread.

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::aggregator {

inline constexpr size_t kMaxFieldBytes = 2048;

class RequestBody {
 public:
  static Result<RequestBody> parse(std::string_view contentType, std::string_view body,
                                   std::initializer_list<std::string_view> allowed);

  std::optional<std::string> get(std::string_view name) const;
  // The field, or `fallback` when it is absent.
  std::string value(std::string_view name, std::string_view fallback = {}) const;

 private:
  std::map<std::string, std::string, std::less<>> fields_;
};

}  // namespace driftwatch::aggregator
