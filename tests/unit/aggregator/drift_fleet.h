#pragma once
// A real fleet store with hosts and policies, and a drift engine judging on it: what the drift
// engine's and the drift decisions' tests share.

#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "aggregator/drift/drift_engine.h"
#include "aggregator/policy/policy_apply.h"
#include "tests/unit/aggregator/store_fixture.h"

namespace driftwatch::testing {

using aggregator::DriftEngine;
using aggregator::DriftFilter;
using aggregator::DriftRecord;
using aggregator::HostRecord;
using aggregator::Labels;

inline const std::string kMotd = "file:/etc/motd";
inline const std::string kSwappiness = "sysctl:vm.swappiness";
inline const std::string kMode0644 = "present\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=8";
inline const std::string kMode0600 = "present\ttype=file\tmode=0600\towner=0\tgroup=0\tsize=8";
inline const std::string kMode0640 = "present\ttype=file\tmode=0640\towner=0\tgroup=0\tsize=8";

// A real fleet store with hosts, policies applied the way `policy apply` applies them, and a
// drift engine judging on it; times are given by the test (ms).
struct Fleet : StoreFixture {
  Fleet() : engine(*store) {}

  HostRecord addHost(const std::string& id, const Labels& labels) {
    HostRecord h;
    h.id = id;
    h.name = id + ".example.org";
    h.labels = labels;
    h.publicKey = std::string(32, static_cast<char>('a' + hosts++));
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(store->addHost(h).ok());
    // As if it had reported once: hosts without any report are not judged on a policy change.
    h.lastSeq = 1;
    REQUIRE(store->advanceChain(h).ok());
    // And as if its agent held every fleet rule there will be: what it has not reported is
    // absent. (Tests of a host whose agent is behind lower it: behind().)
    REQUIRE(store->setRulesRevision(id, kAllRules).ok());
    h.rulesRevision = kAllRules;
    return h;
  }

  // Applies one policy (and its baseline) at `nowMs` (whole seconds: applies are timed so).
  void apply(const std::string& name, const std::string& yaml, int64_t nowMs,
             std::optional<std::string> baseline = std::nullopt) {
    aggregator::PolicySource src;
    src.path = dir.at(name + ".yaml");
    src.text = yaml;
    src.baselinePath = dir.at(name + ".baseline");
    src.baseline = std::move(baseline);
    const auto applied = aggregator::applyPolicies(
        *store, *audit, {.policies = {src}, .appliedBy = "alice", .now = nowMs / 1000});
    INFO((applied.ok() ? std::string() : applied.error().describe()));
    REQUIRE(applied.ok());
  }

  void put(const HostRecord& h, const std::string& resource, const std::string& state) {
    REQUIRE(store->putResource(h.id, resource, state, 1, 1).ok());
  }

  void changed(const HostRecord& h, std::vector<std::string> resources, int64_t now) {
    const auto s = engine.onResourcesChanged(h, resources, now);
    INFO((s.ok() ? std::string() : s.error().describe()));
    REQUIRE(s.ok());
  }

  std::optional<DriftRecord> item(const std::string& host, const std::string& resource) const {
    auto d = store->drift(host, resource);
    REQUIRE(d.ok());
    return *d;
  }

  std::vector<DriftRecord> all(const std::string& status = "") const {
    DriftFilter f;
    f.status = status;
    auto d = store->driftItems(f);
    REQUIRE(d.ok());
    return *d;
  }

  // A host whose agent holds fleet rules `revision` only.
  HostRecord behind(const std::string& id, const Labels& labels, int64_t revision) {
    HostRecord h = addHost(id, labels);
    auto stmt = store->database().prepare("UPDATE hosts SET rules_revision = ? WHERE id = ?");
    REQUIRE(stmt.ok());
    REQUIRE(stmt->bind(1, revision).bind(2, id).run().ok());
    h.rulesRevision = revision;
    return h;
  }

  static constexpr int64_t kAllRules = 1'000'000;
  DriftEngine engine;
  int hosts = 0;
};

inline const Labels kWeb = {{"role", "web"}};
inline const std::string kMotdPolicy =
    "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n";

}  // namespace driftwatch::testing
