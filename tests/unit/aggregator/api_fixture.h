#pragma once
// A small fleet in a real fleet store for the admin API's tests: four hosts (reporting, silent,
// never reported, revoked), drift items, two versions of a policy, an API token, and a fixed
// clock, with the real AdminApi serving it.

#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "aggregator/api/admin_api.h"
#include "aggregator/api/api_tokens.h"
#include "tests/unit/aggregator/store_fixture.h"

namespace driftwatch::testing {

inline constexpr int64_t kNowMs = 1'800'000'000'000;  // 2027-01-15

struct ApiFleet : StoreFixture {
  ApiFleet() : metrics(aggregator::fleetMetrics(*store)) {
    addHost("web1", {{"role", "web"}}, kNowMs - 60'000);
    addHost("web2", {{"role", "web"}}, kNowMs - 3'600'000);
    addHost("db1", {{"role", "db"}}, 0);
    addHost("old", {{"role", "web"}}, kNowMs - 86'400'000);
    REQUIRE(store->revokeHost("old", kNowMs / 1000).ok());

    // Open for 8 days (creep), open for an hour, and one resolved.
    addDrift("web1", "file:/etc/motd", "high", "managed", kNowMs - 8LL * 86'400'000, false);
    addDrift("web2", "file:/etc/ssh/sshd_config", "critical", "definition", kNowMs - 3'600'000,
             false);
    addDrift("db1", "sysctl:vm.swappiness", "low", "managed", kNowMs - 7'200'000, true);

    addPolicy("web", 1,
              "name: web\nselector:\n  role: web\nfiles:\n  - path: /etc/motd\n    mode: "
              "\"0600\"\n");
    addPolicy("web", 2,
              "name: web\nselector:\n  role: web\nfiles:\n  - path: /etc/motd\n    mode: "
              "\"0644\"\n");

    auto created = aggregator::ApiTokens(*store).create("alice", std::nullopt, kNowMs / 1000);
    REQUIRE(created.ok());
    token = created->token;
    api.emplace(*store, *audit, metrics, aggregator::AdminApiOptions{}, [] { return kNowMs; });
  }

  void addHost(const std::string& id, const aggregator::Labels& labels, int64_t lastSeen) {
    aggregator::HostRecord h;
    h.id = id;
    h.name = id + ".example.org";
    h.labels = labels;
    h.publicKey = std::string(32, static_cast<char>('a' + hostCount++));
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(store->addHost(h).ok());
    if (lastSeen > 0) REQUIRE(store->touchHost(id, lastSeen, "192.0.2.1:4000").ok());
  }

  void addDrift(const std::string& host, const std::string& resource, const std::string& severity,
                const std::string& direction, int64_t firstSeen, bool resolved) {
    aggregator::DriftRecord d;
    d.host = host;
    d.resource = resource;
    d.policy = "web";
    d.policyVersion = 1;
    d.rule = "web.yaml:4:5 (files[0])";
    d.change = "modified";
    d.attributes = {{"mode", std::string("0644"), std::string("0600")}};
    d.severity = severity;
    d.driftType = "configuration";
    d.direction = direction;
    d.status = resolved ? "resolved" : "open";
    d.firstSeen = firstSeen;
    d.lastSeen = firstSeen + 1000;
    if (resolved) d.resolvedAt = firstSeen + 60'000;
    REQUIRE(store->putDrift(d).ok());
  }

  void addPolicy(const std::string& name, int64_t version, const std::string& text) {
    aggregator::PolicyVersion v;
    v.name = name;
    v.version = version;
    v.text = text;
    v.sha256 = std::to_string(version);
    v.source = "/srv/policies/" + name + ".yaml";
    v.appliedBy = "alice";
    v.appliedAt = kNowMs / 1000 - 100 + version;
    v.message = "version " + std::to_string(version);
    REQUIRE(store->addPolicyVersion(v).ok());
  }

  aggregator::HttpResponse get(const std::string& target, const std::string& auth = "default") {
    aggregator::HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.peer.address = "127.0.0.1:5555";
    r.authorization = auth == "default" ? "Bearer " + token : auth;
    return api->handle(r);
  }

  aggregator::Metrics metrics;
  std::optional<aggregator::AdminApi> api;
  std::string token;
  int hostCount = 0;
};

}  // namespace driftwatch::testing
