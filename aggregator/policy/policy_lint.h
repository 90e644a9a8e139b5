#pragma once
// `policy lint`: warnings about policies that pass the parser but defeat their purpose. Today:
// broad-spectrum ignoring, where a rule's ignore patterns hide most of the tree it watches, so
// drift there goes unseen while the policy looks like coverage.

#include <string>
#include <vector>

#include "common/policy/policy.h"

namespace driftwatch::aggregator {

struct LintWarning {
  model::RuleRef where;
  std::string message;
  std::string str() const { return where.str() + ": " + message; }
};

struct LintOptions {
  // When set, each recursive rule's tree is walked under this root (without following
  // symlinks, at most `maxEntries` entries a rule) and the share its patterns ignore measured.
  std::string root;
  double broadShare = 0.5;  // warn when patterns ignore more than this share of the entries
  size_t maxEntries = 200'000;
};

std::vector<LintWarning> lintPolicy(const policy::Policy& policy, const LintOptions& options);

}  // namespace driftwatch::aggregator
