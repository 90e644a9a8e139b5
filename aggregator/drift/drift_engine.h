#pragma once
// The drift engine: judges a host's stored actual state against the fleet's desired state (the
// newest version of every policy whose selector selects the host's labels) with the common
// compare engine, the one `driftwatch-agent check` uses, and reconciles what it finds with the
// host's drift items in the fleet store: new drift opens, changed drift is updated, drift that
// is gone resolves, and resolved drift that comes back opens again with a new first_seen.
// An accepted item (drift_decisions.h) stays accepted while the host shows exactly what was
// accepted, and opens again when it shows anything else; a waived one stays waived until its
// waiver expires.
//
// Incremental: after a delta batch only the resources the batch touched are judged; after a
// snapshot, or after new policy versions were stored, every resource the host's policies cover
// (and every resource with an unresolved item) is.
//
// Unobserved is not absent: until a host's agent holds the newest fleet rules (it asks for them
// after its reports, and with every heartbeat), a resource it never reported may simply not be
// observed yet (a policy that names a new path, a first snapshot taken before the first rules
// arrived). Such a resource is not judged; when the agent says it holds the newest rules,
// everything is (onRulesCaughtUp). What it did report is judged at once: a changed attribute
// of a file it reports is definition drift from the moment the policy changes. The engine writes
// through the caller's store and opens no transaction of its own: callers run it inside the
// transaction (or savepoint) that changed the state or the policies, so that drift and what it was
// judged from never disagree.
//
// A DriftListener, when given, hears of every item that opens, stays open or resolves, in the
// same transaction (the alert queue).
//
// Not thread-safe: one engine per store thread, like the FleetStore it uses (it keeps the
// parsed policies between calls).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/drift/drift_listener.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"
#include "common/baseline/baseline.h"
#include "common/compare/identity.h"
#include "common/model/drift.h"
#include "common/policy/file_rule_index.h"
#include "common/policy/policy.h"

namespace driftwatch::aggregator {

// Why an item opened: the host changed (managed) or the definition did and the host has not
// caught up with it (definition).
enum class DriftDirection : uint8_t { kManaged, kDefinition };
std::string_view directionName(DriftDirection d);

inline constexpr std::string_view kDriftOpen = "open";
inline constexpr std::string_view kDriftAccepted = "accepted";  // taken into the desired state
inline constexpr std::string_view kDriftWaived = "waived";      // an exception, until a date
inline constexpr std::string_view kDriftResolved = "resolved";
// Not a status: the filter for every item that has not resolved.
inline constexpr std::string_view kDriftActive = "active";
inline bool isActive(std::string_view status) {
  return status == kDriftOpen || status == kDriftAccepted || status == kDriftWaived;
}

// One stored policy version, parsed, with its baseline and an index of its file rules.
// Built in place and never moved: the index points into `policy.files`.
struct DesiredPolicy {
  policy::Policy policy;
  int64_t version = 0;
  std::optional<baseline::Baseline> baseline;
  std::optional<policy::FileRuleIndex> files;

  // The error names the policy, its version and what does not parse.
  static Result<std::unique_ptr<DesiredPolicy>> compile(const PolicyVersion& stored);
};

// The newest version of every policy, parsed once and re-read only when a newer version was
// stored (a baseline can hold 100,000 entries: parsing it per report would dominate ingest).
class DesiredState {
 public:
  // Brings the set up to date with the store's newest versions.
  Status refresh(const FleetStore& store);
  // Adds or replaces one policy: for tests, and for refresh.
  void put(std::unique_ptr<DesiredPolicy> policy);

  // The policies that select a host with these labels, by name.
  std::vector<const DesiredPolicy*> selecting(const Labels& labels) const;
  const DesiredPolicy* find(const std::string& name) const;

 private:
  std::map<std::string, std::unique_ptr<DesiredPolicy>> byName_;
  std::map<std::string, int64_t> unusable_;  // newest versions that did not compile, by name
  std::set<std::string> fromStore_;          // names refresh() loaded (a removal drops them)
};

// The drift found for one resource, and the policy whose rule found it first (by name).
struct Judgement {
  std::optional<model::DriftItem> item;
  const DesiredPolicy* source = nullptr;
  // Nothing is known: the host has no state for the resource and its agent does not hold the
  // newest fleet rules yet, so it may not observe it. No item opens; an open one stays.
  bool unobserved = false;
};

class DriftEngine {
 public:
  explicit DriftEngine(const FleetStore& store, DriftListener* listener = nullptr)
      : store_(store), listener_(listener) {}

  // After a delta batch of `host` was applied: judges the resources it touched ("file:/etc/motd",
  // as stored): `resources` it observed (present or absent), and `unobserved` ones it stopped
  // observing, which stay unjudged when gone. `now` is the aggregator's clock, ms.
  Status onResourcesChanged(const HostRecord& host, const std::vector<std::string>& resources,
                            int64_t now, const std::vector<std::string>& unobserved = {});
  // After a snapshot replaced the host's stored state.
  Status onHostReplaced(const HostRecord& host, int64_t now);
  // After the host's agent said it holds the newest fleet rules (host.rulesRevision): what it
  // never reported is now absent, not unobserved, so everything its policies cover is judged.
  Status onRulesCaughtUp(const HostRecord& host, int64_t now);
  // After new versions of `policies` were stored (or removed): every unrevoked host that has
  // reported and that one of them selects, or that has any unresolved item (a removed policy or
  // a narrowed selector resolves what it found, also inside items another policy names).
  Status onPoliciesChanged(const std::set<std::string>& policies, int64_t now);

  // The judgement of one resource of a host against `policies`, from the stored state; `ids`
  // are the host's user and group names. `rulesBehind`: the host's agent does not hold the
  // newest fleet rules, so a resource it never reported is unobserved rather than absent.
  Result<Judgement> judge(const HostRecord& host, const std::vector<const DesiredPolicy*>& policies,
                          const std::string& resource, const compare::IdentityResolver& ids,
                          bool rulesBehind = false);

  DesiredState& desired() { return desired_; }

 private:
  // `rulesBehind`: a resource the host has no state for is unobserved, not absent.
  Status evaluate(const HostRecord& host, const std::set<std::string>& resources,
                  DriftDirection direction, int64_t now, bool rulesBehind);
  // Whether the host's agent holds older fleet rules than the newest.
  Result<bool> rulesBehind(const HostRecord& host) const;
  // Every resource the host's policies cover, plus those with an unresolved item (open, accepted or
  // waived).
  Result<std::set<std::string>> covered(const HostRecord& host,
                                        const std::vector<const DesiredPolicy*>& policies);
  Status reconcile(const HostRecord& host, const std::string& resource, const Judgement& judged,
                   DriftDirection direction, int64_t now);

  const FleetStore& store_;
  DriftListener* listener_;
  DesiredState desired_;
};

}  // namespace driftwatch::aggregator
