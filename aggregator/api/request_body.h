#pragma once
// The JSON bodies of the admin API's POST requests, parsed strictly: every byte comes from the
// network. A body is an object of string fields the endpoint knows, each at most
// kMaxFieldBytes; an empty body is an empty object. Anything else (another content type,
// invalid JSON, another shape, an unknown or repeated field, a field that is not a string) is
// an error that names what is wrong. Policy uploads and removals have their own shapes
// (docs/aggregator.md, "Admin API"). Pure functions, safe from any thread.

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aggregator/api/fleet_actions.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// Room for a file path of PATH_MAX bytes in `resource`; reasons and names are checked shorter.
inline constexpr size_t kMaxFieldBytes = 8192;
// A policy upload: every policy file of a checkout, with baselines.
inline constexpr size_t kMaxPolicyUploadBytes = 16u << 20;
inline constexpr size_t kMaxUploadedPolicies = 1000;

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

// POST /api/v1/policies: {"policies": [{"path", "text", "baseline_path", "baseline",
// "git_commit"}, ...], "message", "by"}; path and text are required, baseline may be null.
Result<PolicyUpload> parsePolicyUpload(std::string_view contentType, std::string_view body,
                                       std::string_view defaultBy);
// POST /api/v1/policies/remove: {"names": ["web", ...], "message", "by"}.
Result<PolicyRemoval> parsePolicyRemoval(std::string_view contentType, std::string_view body,
                                         std::string_view defaultBy);

}  // namespace driftwatch::aggregator
