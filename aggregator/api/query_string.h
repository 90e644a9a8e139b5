#pragma once
// Request targets of the admin API, parsed strictly: every byte comes from the network. Path
// segments and query parameters are percent-decoded ("+" is a space in a query); a malformed
// escape, a control character, an empty or repeated parameter, or one the endpoint does not
// know is an error that names it. Pure functions, safe from any thread.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::aggregator {

// `plusIsSpace`: true in a query string, false in a path.
Result<std::string> percentDecode(std::string_view text, bool plusIsSpace);
// "a%20b" for "a b": what a client puts in a path segment or a query value.
std::string percentEncode(std::string_view text);

struct RequestTarget {
  std::vector<std::string> segments;  // "/api/v1/hosts/h1" -> {"api", "v1", "hosts", "h1"}
  std::string query;                  // after the '?', still encoded
};

// The path's segments, decoded; an empty segment ("//", a trailing "/") is an error.
Result<RequestTarget> parseTarget(std::string_view target);

class QueryParameters {
 public:
  // Only the names in `allowed` may appear, each at most once.
  static Result<QueryParameters> parse(std::string_view query,
                                       std::initializer_list<std::string_view> allowed);

  std::optional<std::string> get(std::string_view name) const;
  // A decimal number from `min` to `max`; `fallback` when absent. The error names it.
  Result<int64_t> number(std::string_view name, int64_t fallback, int64_t min, int64_t max) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace driftwatch::aggregator
