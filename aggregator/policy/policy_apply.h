#pragma once
// Applying fleet policies: each given policy (with its baseline, when its rules take values
// from one) is checked, the whole resulting set is checked for conflicts, and only then are
// the changed ones stored as new versions, all in one transaction. An invalid or conflicting
// policy never replaces a good one. The hosts the changed policies select are judged for drift
// (definition drift) in that same transaction. Runs against the fleet store of the admin
// command.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/audit/audit_log.h"
#include "aggregator/drift/drift_listener.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// A policy as read from disk.
struct PolicySource {
  std::string path;
  std::string text;
  std::string baselinePath;             // NAME.baseline next to it
  std::optional<std::string> baseline;  // its bytes, when that file exists
  std::string gitCommit;                // see policy_source.h
};

// Every member has a default, so callers name only what they set ({.policies = ..., ...}).
struct ApplyRequest {
  std::vector<PolicySource> policies{};
  std::string appliedBy{};
  std::string message{};
  int64_t now = 0;  // unix seconds
  // Also remove every stored policy whose newest version `appliedBy` applied from a file in
  // `pruneDirectory` and that `policies` no longer has: a watched directory whose file was
  // deleted (another directory's policies are not this one's to remove).
  bool prune = false;
  std::string pruneDirectory{};
  // Told of the drift the new versions open and resolve, in the apply's transaction (the
  // alert queue); may be null.
  DriftListener* driftListener = nullptr;
  // Who the audit trail says acted: "admin", or the admin API's token and client.
  std::string actor = "admin";
};

struct ApplyOutcome {
  std::string name;
  int64_t version = 0;
  bool changed = false;  // false: the stored newest version has the same bytes
  bool removed = false;  // this version removed the policy
};

// The error lists every problem found (one per line), each naming its file and line.
Result<std::vector<ApplyOutcome>> applyPolicies(const FleetStore& store, AuditLog& audit,
                                                const ApplyRequest& request);

// Removes the named policies: each gets a new version that removes it (kept in its history
// with who, when and why), and the drift it found resolves, in one transaction. Applying the
// policy again later adds the next version. The error names a policy that does not exist or
// was removed already; then nothing is removed.
Result<std::vector<ApplyOutcome>> removePolicies(const FleetStore& store, AuditLog& audit,
                                                 const std::vector<std::string>& names,
                                                 const std::string& removedBy,
                                                 const std::string& message, int64_t now,
                                                 DriftListener* listener = nullptr,
                                                 const std::string& actor = "admin");

// The SHA-256 that tells whether a policy (and its baseline) changed.
std::string policyDigest(const std::string& text, const std::optional<std::string>& baseline);

}  // namespace driftwatch::aggregator
