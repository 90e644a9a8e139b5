#pragma once
// Conflicts between fleet policies: two policies whose selectors can pick the same host and
// that want different values for the same attribute of the same resource. The fleet refuses to
// store such a pair (the host could satisfy only one of them), naming both rules. Only values a
// policy states explicitly are compared: values taken from a baseline belong to that policy's
// own hosts. Pure functions, safe from any thread.

#include <string>
#include <vector>

#include "common/model/drift.h"
#include "common/policy/policy.h"

namespace driftwatch::policy {

struct RuleConflict {
  std::string resource;   // "file:/etc/ssh/sshd_config"
  std::string attribute;  // "mode", "ensure", "value", ...
  std::string firstWants;
  std::string secondWants;
  model::RuleRef first;
  model::RuleRef second;

  // "file:/etc/motd mode: web.yaml:3:5 (files[0]) wants 0644, base.yaml:7:5 (files[1]) wants 0600"
  std::string describe() const;
};

// Empty when the selectors cannot pick a common host.
std::vector<RuleConflict> findConflicts(const Policy& first, const Policy& second);

}  // namespace driftwatch::policy
