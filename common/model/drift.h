#pragma once
// Drift: one resource whose actual state differs from its desired state, with the attributes
// that differ, where the desire came from, and how much it matters. Plain values.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/model/resource.h"

namespace driftwatch::model {

enum class Change : uint8_t {
  kModified,  // exists on both sides, attributes differ (or could not be read)
  kAdded,     // exists on the host, not in the desired state
  kRemoved,   // desired, missing on the host
};
std::string_view changeName(Change c);

enum class DriftType : uint8_t { kConfiguration };
std::string_view driftTypeName(DriftType t);

// Where a rule was declared: the policy, its file and the position of the rule in it.
struct RuleRef {
  std::string policy;  // policy name
  std::string file;    // policy file as given by the user
  int line = 0;        // 1-based
  int column = 0;      // 1-based
  std::string field;   // "files[2]", "sysctl.net.ipv4.ip_forward"

  std::string str() const;  // "web.yaml:14:5 (files[2])"
};

struct AttributeDrift {
  Attr attr = Attr::kEnsure;
  std::optional<std::string> desired;  // nullopt: no value (e.g. sha256 of a directory)
  std::optional<std::string> actual;
};

struct DriftItem {
  ResourceId id;
  Change change = Change::kModified;
  std::vector<AttributeDrift> attributes;
  Severity severity = Severity::kMedium;
  DriftType type = DriftType::kConfiguration;
  RuleRef rule;
  std::string error;  // set when the actual state could not be fully observed
  // How long the drift must last before it alerts, when its rule says (see docs/policy.md).
  std::optional<std::chrono::milliseconds> settle;
};

}  // namespace driftwatch::model
