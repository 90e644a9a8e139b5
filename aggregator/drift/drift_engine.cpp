#include "aggregator/drift/drift_engine.h"

#include <algorithm>
#include <cstdio>

#include "common/compare/compare.h"
#include "common/compare/identity.h"
#include "common/model/state_codec.h"

namespace driftwatch::aggregator {
namespace {

using model::DriftItem;
using model::Presence;
using model::ResourceId;
using model::ResourceKind;

// The stored state of one resource as an observation of its kind: absent when the host does
// not report it, "unknown" with the reason when the stored text cannot be read (what cannot
// be verified is never assumed to match).
template <typename Obs, typename Decode>
Obs observed(const std::optional<StoredState>& stored, const std::string& name, Decode decode) {
  Obs obs;
  if (!stored) {
    if constexpr (requires { obs.path; }) {
      obs.path = name;
    } else if constexpr (requires { obs.key; }) {
      obs.key = name;
    } else if constexpr (requires { obs.unit; }) {
      obs.unit = name;
    } else {
      obs.name = name;
    }
    if constexpr (requires { obs.presence; }) obs.presence = Presence::kAbsent;
    return obs;
  }
  auto decoded = decode(name, stored->state);
  if (decoded.ok()) return std::move(decoded).value();
  auto failed = observed<Obs>(std::nullopt, name, decode);
  if constexpr (requires { failed.presence; }) failed.presence = Presence::kUnknown;
  failed.error = "the stored state cannot be read: " + decoded.error().describe();
  return failed;
}

// The host's own user and group names, from the accounts it reports (file owners may be
// written as names in a policy).
Result<compare::IdentityTable> identitiesOf(const FleetStore& store, const std::string& host) {
  compare::IdentityTable ids;
  std::string problem;
  const auto read = [&](std::string_view prefix, auto decode, auto add) {
    return store.forEachResourceWithPrefix(host, prefix,
                                           [&](const std::string& resource, const StoredState& st) {
                                             auto id = ResourceId::parse(resource);
                                             if (!id.ok()) return;
                                             auto obs = decode(id->name, st.state);
                                             if (obs.ok() && obs->presence == Presence::kPresent)
                                               add(*obs);
                                           });
  };
  if (auto s = read("user:", model::decodeUserState,
                    [&](const model::UserObservation& u) { ids.addUser(u.name, u.uid); });
      !s.ok())
    return s.error();
  if (auto s = read("group:", model::decodeGroupState,
                    [&](const model::GroupObservation& g) { ids.addGroup(g.name, g.gid); });
      !s.ok())
    return s.error();
  return ids;
}

// Merges drift on the same resource found by another policy's rule (policies that select the
// same host may declare different attributes of one resource; conflicting values were refused
// at apply time).
void merge(DriftItem& into, DriftItem&& other) {
  for (auto& attr : other.attributes) {
    const bool known = std::any_of(into.attributes.begin(), into.attributes.end(),
                                   [&](const auto& a) { return a.attr == attr.attr; });
    if (!known) into.attributes.push_back(std::move(attr));
  }
  into.severity = std::max(into.severity, other.severity);
  // The most urgent rule decides how long the drift must last before it alerts.
  if (other.settle && (!into.settle || *other.settle < *into.settle)) into.settle = other.settle;
  if (into.error.empty()) into.error = std::move(other.error);
}

template <typename Rule, typename Key>
const Rule* ruleFor(const std::vector<Rule>& rules, const std::string& name, Key key) {
  for (const auto& r : rules) {
    if (key(r) == name) return &r;
  }
  return nullptr;
}

DriftRecord recordOf(const HostRecord& host, const std::string& resource, const Judgement& j) {
  const DriftItem& item = *j.item;
  DriftRecord r;
  r.host = host.id;
  r.resource = resource;
  r.policy = j.source->policy.name;
  r.policyVersion = j.source->version;
  r.rule = item.rule.str();
  r.change = std::string(model::changeName(item.change));
  for (const auto& a : item.attributes)
    r.attributes.push_back({std::string(model::attrName(a.attr)), a.desired, a.actual});
  r.error = item.error;
  r.severity = std::string(model::severityName(item.severity));
  r.driftType = std::string(model::driftTypeName(item.type));
  return r;
}

// Whether the desired side changed: what a new policy version does to an open item.
bool sameDesired(const DriftRecord& a, const DriftRecord& b) {
  const auto same = [](const DriftAttribute& x, const DriftAttribute& y) {
    return x.name == y.name && x.desired == y.desired;
  };
  return std::equal(a.attributes.begin(), a.attributes.end(), b.attributes.begin(),
                    b.attributes.end(), same);
}

// Whether the host still shows exactly what was accepted (the same attributes differ, with
// the same actual values).
bool sameActual(const std::vector<DriftAttribute>& accepted,
                const std::vector<DriftAttribute>& now) {
  const auto same = [](const DriftAttribute& x, const DriftAttribute& y) {
    return x.name == y.name && x.actual == y.actual;
  };
  return std::equal(accepted.begin(), accepted.end(), now.begin(), now.end(), same);
}

// An accepted or waived item that is still what was decided on keeps the decision.
void keepDecision(const DriftRecord& before, DriftRecord& next) {
  next.status = before.status;
  next.reason = before.reason;
  next.decidedBy = before.decidedBy;
  next.decidedAt = before.decidedAt;
  next.waivedUntil = before.waivedUntil;
  next.accepted = before.accepted;
}

}  // namespace

std::string_view directionName(DriftDirection d) {
  return d == DriftDirection::kManaged ? "managed" : "definition";
}

// ---- desired state -----------------------------------------------------------------------

Result<std::unique_ptr<DesiredPolicy>> DesiredPolicy::compile(const PolicyVersion& stored) {
  const std::string where =
      "policy '" + stored.name + "' version " + std::to_string(stored.version);
  auto parsed = policy::parsePolicy(stored.text, stored.source);
  if (!parsed.ok())
    return makeError(ErrorCode::kInvalidInput, "does not parse: " + parsed.error().describe(),
                     where);
  auto out = std::make_unique<DesiredPolicy>();
  out->policy = std::move(parsed).value();
  out->version = stored.version;
  if (stored.baseline) {
    auto base = baseline::parseBaseline(*stored.baseline, stored.source + " (baseline)");
    if (!base.ok())
      return makeError(ErrorCode::kInvalidInput,
                       "its baseline does not parse: " + base.error().describe(), where);
    out->baseline = std::move(base).value();
  }
  out->files.emplace(out->policy.files);
  return out;
}

Status DesiredState::refresh(const FleetStore& store) {
  auto heads = store.policyHeads();
  if (!heads.ok()) return heads.error();
  // Removed policies judge nothing any more.
  for (auto it = fromStore_.begin(); it != fromStore_.end();) {
    if (heads->contains(*it)) {
      ++it;
      continue;
    }
    byName_.erase(*it);
    unusable_.erase(*it);
    it = fromStore_.erase(it);
  }
  for (const auto& [name, version] : *heads) {
    const auto it = byName_.find(name);
    if (it != byName_.end() && it->second->version == version) continue;
    auto stored = store.policyVersion(name, version);
    if (!stored.ok()) return stored.error();
    if (!*stored) continue;  // removed between the two reads: nothing to judge against
    if (const auto bad = unusable_.find(name); bad != unusable_.end() && bad->second == version)
      continue;
    auto compiled = DesiredPolicy::compile(**stored);
    if (!compiled.ok()) {
      // A stored version this build cannot read (a stricter parser after an upgrade) must not
      // stop every report of the fleet: hosts keep being judged by the last version that
      // compiled (or by none), and the reason is said once per version.
      std::fprintf(stderr, "driftwatch-aggregator: error: %s; drift is judged without it\n",
                   compiled.error().describe().c_str());
      unusable_[name] = version;
      fromStore_.insert(name);
      continue;
    }
    put(std::move(compiled).value());
    fromStore_.insert(name);
  }
  return {};
}

void DesiredState::put(std::unique_ptr<DesiredPolicy> policy) {
  const std::string name = policy->policy.name;
  byName_[name] = std::move(policy);
}

std::vector<const DesiredPolicy*> DesiredState::selecting(const Labels& labels) const {
  std::vector<const DesiredPolicy*> out;
  for (const auto& [name, p] : byName_) {
    if (model::selects(p->policy.selector, labels)) out.push_back(p.get());
  }
  return out;
}

const DesiredPolicy* DesiredState::find(const std::string& name) const {
  const auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second.get();
}

// ---- judging -----------------------------------------------------------------------------

Result<Judgement> DriftEngine::judge(const HostRecord& host,
                                     const std::vector<const DesiredPolicy*>& policies,
                                     const std::string& resource,
                                     const compare::IdentityResolver& ids, bool rulesBehind) {
  Judgement out;
  auto id = ResourceId::parse(resource);
  if (!id.ok()) return out;  // not a resource name any rule can declare
  auto stored = store_.resource(host.id, resource);
  if (!stored.ok()) return stored.error();
  const std::string& name = id->name;

  const auto found = [&](std::optional<DriftItem> item, const DesiredPolicy* p) {
    if (!item) return;
    if (!out.item) {
      out.item = std::move(item);
      out.source = p;
    } else {
      merge(*out.item, std::move(*item));
    }
  };

  switch (id->kind) {
    case ResourceKind::kFile: {
      const auto obs = observed<model::FileObservation>(*stored, name, model::decodeFileState);
      for (const DesiredPolicy* p : policies) {
        const baseline::BaselineEntry* base = p->baseline ? p->baseline->find(name) : nullptr;
        // Ignore patterns that name directories need to know whether this is one; when the
        // host has no entry, the baseline says what it was.
        const bool isDir = obs.presence == Presence::kPresent
                               ? obs.attrs.type == model::FileType::kDir
                               : base != nullptr &&
                                     model::has(base->attrs.mask, model::Attr::kType) &&
                                     base->attrs.type == model::FileType::kDir;
        const policy::FileRule* rule = p->files->ownerOf(name, isDir);
        if (rule == nullptr) continue;
        found(compare::compareFile(*rule, rule->usesBaseline() ? base : nullptr, obs, ids), p);
      }
      break;
    }
    case ResourceKind::kSysctl: {
      const auto obs = observed<model::SysctlObservation>(*stored, name, model::decodeSysctlState);
      for (const DesiredPolicy* p : policies) {
        if (const auto* r = ruleFor(p->policy.sysctl, name, [](const auto& x) { return x.key; }))
          found(compare::compareSysctl(*r, obs), p);
      }
      break;
    }
    case ResourceKind::kPackage: {
      const auto obs =
          observed<model::PackageObservation>(*stored, name, model::decodePackageState);
      for (const DesiredPolicy* p : policies) {
        if (const auto* r = ruleFor(p->policy.packages, name, [](const auto& x) { return x.name; }))
          found(compare::comparePackage(*r, obs), p);
      }
      break;
    }
    case ResourceKind::kService: {
      const auto obs =
          observed<model::ServiceObservation>(*stored, name, model::decodeServiceState);
      for (const DesiredPolicy* p : policies) {
        if (const auto* r = ruleFor(p->policy.services, name, [](const auto& x) { return x.unit; }))
          found(compare::compareService(*r, obs), p);
      }
      break;
    }
    case ResourceKind::kUser: {
      const auto obs = observed<model::UserObservation>(*stored, name, model::decodeUserState);
      for (const DesiredPolicy* p : policies) {
        if (const auto* r = ruleFor(p->policy.users, name, [](const auto& x) { return x.name; }))
          found(compare::compareUser(*r, obs), p);
      }
      break;
    }
    case ResourceKind::kGroup: {
      const auto obs = observed<model::GroupObservation>(*stored, name, model::decodeGroupState);
      for (const DesiredPolicy* p : policies) {
        if (const auto* r = ruleFor(p->policy.groups, name, [](const auto& x) { return x.name; }))
          found(compare::compareGroup(*r, obs), p);
      }
      break;
    }
  }
  // Drift on a resource the agent may not observe yet is not known: no item opens, and one that
  // is open stays. (No drift is known either way: a resource no policy wants any more resolves.)
  if (!*stored && rulesBehind && out.item) {
    out = Judgement{};
    out.unobserved = true;
  }
  return out;
}

Result<std::set<std::string>> DriftEngine::covered(
    const HostRecord& host, const std::vector<const DesiredPolicy*>& policies) {
  std::set<std::string> out;
  const auto add = [&](ResourceKind kind, const std::string& name) {
    out.insert(ResourceId{kind, name}.str());
  };
  for (const DesiredPolicy* p : policies) {
    for (const auto& rule : p->policy.files) {
      add(ResourceKind::kFile, rule.path);
      if (!rule.recursive) continue;
      // What the host reports below the rule, and what the baseline says should be there
      // (an entry the host no longer reports is judged as absent, as the agent's check does).
      const std::string prefix = ResourceId{ResourceKind::kFile, rule.path}.str();
      if (auto s = store_.forEachResourceWithPrefix(
              host.id, prefix.back() == '/' ? prefix : prefix + "/",
              [&](const std::string& r, const StoredState&) { out.insert(r); });
          !s.ok())
        return s.error();
      if (p->baseline && rule.usesBaseline()) {
        for (const auto& entry : p->baseline->below(rule.path))
          add(ResourceKind::kFile, entry.path);
      }
    }
    for (const auto& r : p->policy.sysctl)
      add(ResourceKind::kSysctl, r.key);
    for (const auto& r : p->policy.packages)
      add(ResourceKind::kPackage, r.name);
    for (const auto& r : p->policy.services)
      add(ResourceKind::kService, r.unit);
    for (const auto& r : p->policy.users)
      add(ResourceKind::kUser, r.name);
    for (const auto& r : p->policy.groups)
      add(ResourceKind::kGroup, r.name);
  }
  DriftFilter open;
  open.host = host.id;
  open.status = std::string(kDriftActive);
  auto items = store_.driftItems(open);
  if (!items.ok()) return items.error();
  for (const auto& item : *items)
    out.insert(item.resource);
  return out;
}

// ---- reconciling -------------------------------------------------------------------------

Status DriftEngine::reconcile(const HostRecord& host, const std::string& resource,
                              const Judgement& judged, DriftDirection direction, int64_t now) {
  if (judged.unobserved) return {};
  auto existing = store_.drift(host.id, resource);
  if (!existing.ok()) return existing.error();
  const bool active = *existing && isActive((*existing)->status);
  if (!judged.item) {
    // Matching the policy again ends the item whatever was decided about it: an acceptance
    // or a waiver covered a difference that is gone.
    if (!active) return {};
    auto resolved = store_.resolveDrift(host.id, resource, now);
    if (!resolved.ok()) return resolved.error();
    if (listener_ != nullptr && *resolved) return listener_->resolved(host.id, resource, now);
    return {};
  }
  DriftRecord next = recordOf(host, resource, judged);
  next.status = std::string(kDriftOpen);
  next.lastSeen = now;
  if (!active) {
    // New, or back after it resolved: a new episode of drift (counted, to tell recurring
    // drift: a fix that did not remove the cause).
    next.direction = std::string(directionName(direction));
    next.firstSeen = now;
    if (*existing) next.reopened = (*existing)->reopened + 1;
    if (auto s = store_.putDrift(next); !s.ok()) return s;
    if (listener_ != nullptr) return listener_->opened(next, judged.item->settle, now);
    return {};
  }
  const DriftRecord& before = **existing;
  next.firstSeen = before.firstSeen;
  next.reopened = before.reopened;
  // The direction says why the item opened; a new definition that changes what is desired
  // makes it definition drift (the host now has a new definition to catch up with).
  next.direction = direction == DriftDirection::kDefinition && !sameDesired(before, next)
                       ? std::string(directionName(direction))
                       : before.direction;
  bool reopened = false;  // an item that was decided on and alerts again
  if (before.status == kDriftAccepted) {
    if (sameActual(before.accepted, next.attributes)) {
      keepDecision(before, next);
    } else {
      // The host moved on from what was accepted: that is new drift, from now.
      next.firstSeen = now;
      next.direction = std::string(directionName(direction));
      reopened = true;
    }
  } else if (before.status == kDriftWaived) {
    // Past its expiry the waiver no longer holds: the item is open again (and alerts).
    if (before.waivedUntil && *before.waivedUntil > now) {
      keepDecision(before, next);
    } else {
      reopened = true;
    }
  }
  if (auto s = store_.putDrift(next); !s.ok()) return s;
  if (listener_ == nullptr || next.status != kDriftOpen) return {};  // decided: no alert
  if (reopened) return listener_->opened(next, judged.item->settle, now);
  // A report judged again is a later observation of the same drift; a policy apply is not.
  return listener_->stillOpen(next, direction == DriftDirection::kManaged, now);
}

Result<bool> DriftEngine::rulesBehind(const HostRecord& host) const {
  auto revision = store_.rulesRevision();
  if (!revision.ok()) return revision.error();
  return host.rulesRevision < *revision;
}

Status DriftEngine::evaluate(const HostRecord& host, const std::set<std::string>& resources,
                             DriftDirection direction, int64_t now, bool rulesBehind) {
  if (resources.empty()) return {};
  if (auto s = desired_.refresh(store_); !s.ok()) return s;
  const auto policies = desired_.selecting(host.labels);
  if (policies.empty()) {
    // No policy selects the host: only its unresolved items can change (they resolve). Most such
    // hosts have none, and skipping them keeps judging off their reports' ingest path.
    auto open = store_.hasActiveDrift(host.id);
    if (!open.ok()) return open.error();
    if (!*open) return {};
  }
  auto ids = identitiesOf(store_, host.id);
  if (!ids.ok()) return ids.error();
  for (const auto& resource : resources) {
    auto judged = judge(host, policies, resource, *ids, rulesBehind);
    if (!judged.ok()) return judged.error();
    if (auto s = reconcile(host, resource, *judged, direction, now); !s.ok()) return s;
  }
  return {};
}

Status DriftEngine::onResourcesChanged(const HostRecord& host,
                                       const std::vector<std::string>& resources, int64_t now,
                                       const std::vector<std::string>& unobserved) {
  // What a delta reports, present or absent, was observed; what it stopped observing was not.
  if (auto s = evaluate(host, std::set<std::string>(resources.begin(), resources.end()),
                        DriftDirection::kManaged, now, false);
      !s.ok())
    return s;
  return evaluate(host, std::set<std::string>(unobserved.begin(), unobserved.end()),
                  DriftDirection::kManaged, now, true);
}

Status DriftEngine::onHostReplaced(const HostRecord& host, int64_t now) {
  if (auto s = desired_.refresh(store_); !s.ok()) return s;
  auto resources = covered(host, desired_.selecting(host.labels));
  if (!resources.ok()) return resources.error();
  // A snapshot lists what is present: what it lacks is absent only if the agent observes it.
  // (What it lacks can also be what the agent stopped observing: a snapshot cannot tell.)
  auto behind = rulesBehind(host);
  if (!behind.ok()) return behind.error();
  return evaluate(host, *resources, DriftDirection::kManaged, now, *behind);
}

Status DriftEngine::onRulesCaughtUp(const HostRecord& host, int64_t now) {
  if (host.revokedAt || host.lastSeq == 0) return {};
  if (auto s = desired_.refresh(store_); !s.ok()) return s;
  auto resources = covered(host, desired_.selecting(host.labels));
  if (!resources.ok()) return resources.error();
  // What opens now is what a definition asks and the host does not have. Asked again here, in
  // the caller's transaction: a version stored since the agent's request is not held yet.
  auto behind = rulesBehind(host);
  if (!behind.ok()) return behind.error();
  return evaluate(host, *resources, DriftDirection::kDefinition, now, *behind);
}

Status DriftEngine::onPoliciesChanged(const std::set<std::string>& policies, int64_t now) {
  if (policies.empty()) return {};
  if (auto s = desired_.refresh(store_); !s.ok()) return s;
  // Every host with unresolved drift is judged again, not only those with items found by a
  // changed policy: an item names one policy but can hold attributes another found, and what a
  // removed or narrowed policy no longer wants must leave those items too.
  std::set<std::string> withDrift;
  {
    DriftFilter filter;
    filter.status = std::string(kDriftActive);
    auto items = store_.driftItems(filter);
    if (!items.ok()) return items.error();
    for (const auto& item : *items)
      withDrift.insert(item.host);
  }
  auto hosts = store_.hosts();
  if (!hosts.ok()) return hosts.error();
  auto revision = store_.rulesRevision();
  if (!revision.ok()) return revision.error();
  for (const auto& host : *hosts) {
    // A host that never reported has no actual state yet: not "everything absent". Its first
    // snapshot judges it in full.
    if (host.revokedAt || host.lastSeq == 0) continue;
    const bool selected = std::any_of(policies.begin(), policies.end(), [&](const auto& name) {
      const DesiredPolicy* p = desired_.find(name);
      return p != nullptr && model::selects(p->policy.selector, host.labels);
    });
    if (!selected && !withDrift.contains(host.id)) continue;
    auto resources = covered(host, desired_.selecting(host.labels));
    if (!resources.ok()) return resources.error();
    // The new versions reach the agent with its next rules request: until then, a resource
    // it never reported may just not be observed yet (a path the new version adds).
    const bool behind = host.rulesRevision < *revision;
    if (auto s = evaluate(host, *resources, DriftDirection::kDefinition, now, behind); !s.ok())
      return s;
  }
  return {};
}

}  // namespace driftwatch::aggregator
