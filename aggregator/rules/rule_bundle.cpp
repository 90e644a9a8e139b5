#include "aggregator/rules/rule_bundle.h"

namespace driftwatch::aggregator {

Result<uint64_t> rulesRevision(const FleetStore& store) {
  auto count = store.rulesRevision();
  if (!count.ok()) return count.error();
  return static_cast<uint64_t>(*count);
}

Result<wire::RuleBundle> buildRuleBundle(const FleetStore& store, DesiredState& desired,
                                         const HostRecord& host, uint64_t revision,
                                         int64_t issuedAtMs) {
  if (auto s = desired.refresh(store); !s.ok()) return s.error();
  wire::RuleBundle bundle;
  bundle.hostId = host.id;
  bundle.revision = revision;
  bundle.issuedAt = issuedAtMs;
  for (const DesiredPolicy* p : desired.selecting(host.labels)) {
    auto stored = store.policyVersion(p->policy.name, p->version);
    if (!stored.ok()) return stored.error();
    if (!*stored) continue;  // cannot happen: versions are never removed
    bundle.policies.push_back(
        {(*stored)->name, (*stored)->version, (*stored)->text, (*stored)->baseline});
  }
  return bundle;
}

}  // namespace driftwatch::aggregator
