#include "aggregator/drift/drift_decisions.h"

#include <doctest/doctest.h>

#include "tests/unit/aggregator/drift_fleet.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;

// A web host whose /etc/motd drifted (mode 0600 where the policy wants 0644) at t=2,000,000.
struct Drifted : Fleet {
  Drifted() : web(addHost("web-01", kWeb)) {
    put(web, kMotd, kMode0644);
    apply("web", kMotdPolicy, 1'000'000);
    put(web, kMotd, kMode0600);
    changed(web, {kMotd}, 2'000'000);
    REQUIRE(item("web-01", kMotd)->status == "open");
  }

  DriftDecision decision(std::string reason, std::optional<int64_t> until = std::nullopt) const {
    return DriftDecision{"web-01", kMotd, std::move(reason), "alice", 3'000'000, until};
  }

  HostRecord web;
};

}  // namespace

TEST_CASE("an accepted item stays accepted while the host shows what was accepted") {
  Drifted fleet;
  auto accepted = acceptDrift(*fleet.store, fleet.decision("motd is private on this host"));
  REQUIRE(accepted.ok());
  CHECK(accepted->status == "accepted");
  CHECK(accepted->reason == "motd is private on this host");
  CHECK(accepted->decidedBy == "alice");
  CHECK(accepted->decidedAt == 3'000'000);
  REQUIRE(accepted->accepted.size() == 1);
  CHECK(accepted->accepted[0].actual == "0600");

  // Seen again as it was accepted: still accepted, the decision kept.
  fleet.changed(fleet.web, {kMotd}, 4'000'000);
  auto still = fleet.item("web-01", kMotd);
  CHECK(still->status == "accepted");
  CHECK(still->reason == "motd is private on this host");
  CHECK(still->lastSeen == 4'000'000);

  // Anything else on the host is new drift, from then on.
  fleet.put(fleet.web, kMotd, kMode0640);
  fleet.changed(fleet.web, {kMotd}, 5'000'000);
  auto reopened = fleet.item("web-01", kMotd);
  CHECK(reopened->status == "open");
  CHECK(reopened->firstSeen == 5'000'000);
  CHECK(reopened->reason.empty());
  CHECK_FALSE(reopened->decidedAt.has_value());
  CHECK(reopened->accepted.empty());
}

TEST_CASE("an accepted item resolves when the host matches the policy again") {
  Drifted fleet;
  REQUIRE(acceptDrift(*fleet.store, fleet.decision("for now")).ok());
  fleet.put(fleet.web, kMotd, kMode0644);
  fleet.changed(fleet.web, {kMotd}, 4'000'000);
  auto resolved = fleet.item("web-01", kMotd);
  CHECK(resolved->status == "resolved");
  CHECK(resolved->resolvedAt == 4'000'000);
  // Coming back later is a new episode, counted: recurring drift.
  fleet.put(fleet.web, kMotd, kMode0600);
  fleet.changed(fleet.web, {kMotd}, 5'000'000);
  auto back = fleet.item("web-01", kMotd);
  CHECK(back->status == "open");
  CHECK(back->reason.empty());
  CHECK(back->reopened == 1);
}

TEST_CASE("a waived item stays waived until its expiry, then is open again") {
  Drifted fleet;
  auto waived = waiveDrift(*fleet.store, fleet.decision("vendor fix due", 3'000'000 + kDay));
  REQUIRE(waived.ok());
  CHECK(waived->status == "waived");
  CHECK(waived->waivedUntil == 3'000'000 + kDay);

  // Changes while waived keep the waiver (it is an exception for the resource, not a value).
  fleet.put(fleet.web, kMotd, kMode0640);
  fleet.changed(fleet.web, {kMotd}, 4'000'000);
  CHECK(fleet.item("web-01", kMotd)->status == "waived");

  // Nothing expires before its time...
  auto none = reopenExpiredWaivers(*fleet.store, 3'000'000 + kDay - 1);
  REQUIRE(none.ok());
  CHECK(none->empty());
  // ... and at its time the item is open again, as old as the drift is.
  auto expired = reopenExpiredWaivers(*fleet.store, 3'000'000 + kDay);
  REQUIRE(expired.ok());
  REQUIRE(expired->size() == 1);
  auto open = fleet.item("web-01", kMotd);
  CHECK(open->status == "open");
  CHECK(open->firstSeen == 2'000'000);
  CHECK_FALSE(open->waivedUntil.has_value());
  CHECK(open->reason.empty());
}

TEST_CASE("judging a waived item after its expiry opens it even before the sweep") {
  Drifted fleet;
  REQUIRE(waiveDrift(*fleet.store, fleet.decision("short", 3'000'000 + 1000)).ok());
  fleet.changed(fleet.web, {kMotd}, 3'000'000 + 1000);
  CHECK(fleet.item("web-01", kMotd)->status == "open");
}

TEST_CASE("a decision needs a reason, an unresolved item and, to waive, a future expiry") {
  Drifted fleet;
  auto noReason = acceptDrift(*fleet.store, fleet.decision(""));
  REQUIRE_FALSE(noReason.ok());
  CHECK(noReason.error().describe().find("--reason") != std::string::npos);

  auto past = waiveDrift(*fleet.store, fleet.decision("late", 3'000'000));
  REQUIRE_FALSE(past.ok());
  CHECK(past.error().describe().find("expiry in the future") != std::string::npos);

  DriftDecision other = fleet.decision("why");
  other.resource = "file:/etc/hosts";
  auto missing = acceptDrift(*fleet.store, other);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().describe().find("no drift item") != std::string::npos);
  CHECK(missing.error().describe().find("file:/etc/hosts on web-01") != std::string::npos);

  fleet.put(fleet.web, kMotd, kMode0644);
  fleet.changed(fleet.web, {kMotd}, 4'000'000);
  auto resolved = acceptDrift(*fleet.store, fleet.decision("too late"));
  REQUIRE_FALSE(resolved.ok());
  CHECK(resolved.error().describe().find("resolved already") != std::string::npos);
}

TEST_CASE("a host no policy selects any more resolves its accepted and waived items") {
  Drifted fleet;
  REQUIRE(acceptDrift(*fleet.store, fleet.decision("fine")).ok());
  const HostRecord web2 = fleet.addHost("web-02", kWeb);
  fleet.put(web2, kMotd, kMode0600);
  fleet.changed(web2, {kMotd}, 2'500'000);
  DriftDecision waive = fleet.decision("later", 3'000'000 + kDay);
  waive.host = "web-02";
  REQUIRE(waiveDrift(*fleet.store, waive).ok());
  // The next version selects other hosts only.
  fleet.apply("web",
              "name: web\nselector: {role: db}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n",
              5'000'000);
  REQUIRE(fleet.engine.onPoliciesChanged({"web"}, 5'000'000).ok());
  const auto accepted = fleet.item("web-01", kMotd);
  CHECK(accepted->status == "resolved");
  CHECK(accepted->reason.empty());  // the decision ended with the item (the audit keeps it)
  const auto waived = fleet.item("web-02", kMotd);
  CHECK(waived->status == "resolved");
  CHECK_FALSE(waived->waivedUntil.has_value());
}

TEST_CASE("resource arguments: a path is a file, anything else must name its kind") {
  CHECK(resourceArgument("/etc/motd").value() == "file:/etc/motd");
  CHECK(resourceArgument("sysctl:vm.swappiness").value() == "sysctl:vm.swappiness");
  CHECK_FALSE(resourceArgument("etc/motd").ok());
  CHECK_FALSE(resourceArgument("").ok());
}
