#include "aggregator/rules/rules_service.h"

#include <doctest/doctest.h>

#include "aggregator/policy/policy_apply.h"
#include "aggregator/rules/rule_bundle.h"
#include "common/wire/codec.h"
#include "tests/unit/aggregator/store_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

// A real fleet store with hosts and policies applied as `policy apply` does, and the rules
// endpoint over it with a real rules key.
struct Rules : StoreFixture {
  Rules() {
    auto k = crypto::Ed25519Key::generate();
    REQUIRE(k.ok());
    publicKey = k->publicKey();
    service.emplace(*store, *audit, std::move(k).value());
  }

  HostRecord addHost(const std::string& id, const Labels& labels) {
    HostRecord h;
    h.id = id;
    h.name = id + ".example.org";
    h.labels = labels;
    h.publicKey = std::string(32, static_cast<char>('a' + hosts++));
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(store->addHost(h).ok());
    return h;
  }

  void apply(const std::string& name, const std::string& yaml,
             std::optional<std::string> baseline = std::nullopt) {
    PolicySource src;
    src.path = dir.at(name + ".yaml");
    src.text = yaml;
    src.baselinePath = dir.at(name + ".baseline");
    src.baseline = std::move(baseline);
    const auto applied = applyPolicies(
        *store, *audit, {.policies = {src}, .appliedBy = "alice", .now = 1'700'000'000});
    INFO((applied.ok() ? std::string() : applied.error().describe()));
    REQUIRE(applied.ok());
  }

  HttpResponse ask(const HostRecord& as, const std::string& forHost, uint64_t have) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/v1/rules";
    r.contentType = kProtobufType;
    r.body = wire::encode(wire::RulesRequest{forHost, have});
    r.peer = {"127.0.0.1:40000", true, as.id, as.publicKey};
    return service->handle(r);
  }

  wire::RulesResponse answer(const HttpResponse& r) {
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto decoded = wire::decodeRulesResponse(r.body);
    REQUIRE(decoded.ok());
    return *decoded;
  }

  int hosts = 0;
  std::string publicKey;
  std::optional<RulesService> service;
};

const std::string kWebV1 =
    "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n";
const std::string kWebV2 =
    "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0600\"\n";
const std::string kDb = "name: db\nselector: {role: db}\nsysctl:\n  vm.swappiness: \"10\"\n";
const std::string kAll = "name: all\nsysctl:\n  net.ipv4.ip_forward: \"0\"\n";

}  // namespace

TEST_CASE("a host's bundle holds the newest version of every policy its labels select, signed") {
  Rules f;
  const HostRecord web = f.addHost("web-01", {{"role", "web"}, {"dc", "fra"}});
  f.apply("web", kWebV1);
  f.apply("db", kDb);
  f.apply("all", kAll);
  f.apply("web", kWebV2);

  const auto a = f.answer(f.ask(web, web.id, 0));
  REQUIRE(a.status == wire::RulesStatus::kBundle);
  CHECK(a.revision == 4);  // four versions stored in the fleet
  // The signature is the rules key's, over the exact bytes.
  CHECK(crypto::verifyEd25519(f.publicKey, a.bundle, a.signature));
  auto bundle = wire::decodeRuleBundle(a.bundle);
  REQUIRE(bundle.ok());
  CHECK(bundle->hostId == "web-01");
  CHECK(bundle->revision == 4);
  CHECK(bundle->issuedAt > 0);
  REQUIRE(bundle->policies.size() == 2);  // not db: its selector wants role=db
  CHECK(bundle->policies[0].name == "all");
  CHECK(bundle->policies[0].version == 1);
  CHECK(bundle->policies[1].name == "web");
  CHECK(bundle->policies[1].version == 2);
  CHECK(bundle->policies[1].text == kWebV2);
  CHECK_FALSE(bundle->policies[1].baseline.has_value());
}

TEST_CASE("the revision the agent holds gets an unchanged answer without a body") {
  Rules f;
  const HostRecord web = f.addHost("web-01", {{"role", "web"}});
  f.apply("web", kWebV1);
  auto a = f.answer(f.ask(web, web.id, 1));
  CHECK(a.status == wire::RulesStatus::kUnchanged);
  CHECK(a.bundle.empty());
  CHECK(a.signature.empty());
  CHECK(a.revision == 1);

  // A new version anywhere in the fleet: a new bundle.
  f.apply("db", kDb);
  a = f.answer(f.ask(web, web.id, 1));
  CHECK(a.status == wire::RulesStatus::kBundle);
  CHECK(a.revision == 2);
}

TEST_CASE("a fleet without policies answers unchanged") {
  Rules f;
  const HostRecord web = f.addHost("web-01", {{"role", "web"}});
  const auto a = f.answer(f.ask(web, web.id, 0));
  CHECK(a.status == wire::RulesStatus::kUnchanged);
  CHECK(a.revision == 0);
}

TEST_CASE("rules go only to an enrolled, unrevoked host with its key, for its own id") {
  Rules f;
  const HostRecord web = f.addHost("web-01", {{"role", "web"}});
  const HostRecord other = f.addHost("web-02", {{"role", "web"}});
  f.apply("web", kWebV1);

  // Another host's rules.
  CHECK(f.ask(web, other.id, 0).status == 403);
  // Another key than the enrolled one.
  HostRecord forged = web;
  forged.publicKey = std::string(32, 'z');
  CHECK(f.ask(forged, web.id, 0).status == 403);
  // A host that is not enrolled.
  HostRecord stranger = web;
  stranger.id = "stranger-01";
  CHECK(f.ask(stranger, stranger.id, 0).status == 403);
  // No certificate.
  HttpRequest anonymous;
  anonymous.method = "POST";
  anonymous.body = wire::encode(wire::RulesRequest{web.id, 0});
  CHECK(f.service->handle(anonymous).status == 401);
  // A malformed request.
  HttpRequest garbage;
  garbage.method = "POST";
  garbage.body = "not a message";
  garbage.peer = {"127.0.0.1:40000", true, web.id, web.publicKey};
  CHECK(f.service->handle(garbage).status == 400);
  // Revoked.
  REQUIRE(f.store->revokeHost(web.id, 1'700'000'100).ok());
  CHECK(f.ask(web, web.id, 0).status == 403);

  auto audit = f.store->audit(100);
  REQUIRE(audit.ok());
  size_t refusals = 0;
  for (const auto& a : *audit)
    refusals += a.event == "rules_refused" ? 1 : 0;
  CHECK(refusals >= 4);
}

TEST_CASE("a policy's baseline travels with it in the bundle") {
  Rules f;
  const HostRecord web = f.addHost("web-01", {{"role", "web"}});
  const std::string baseline =
      "@format\t1\n@policy\tetc\n@recorded\t2026-11-27T17:40:00Z\troot\tweb-01\n"
      "file:/etc/motd\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=5\n";
  f.apply("etc", "name: etc\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n", baseline);
  const auto a = f.answer(f.ask(web, web.id, 0));
  REQUIRE(a.status == wire::RulesStatus::kBundle);
  auto bundle = wire::decodeRuleBundle(a.bundle);
  REQUIRE(bundle.ok());
  REQUIRE(bundle->policies.size() == 1);
  REQUIRE(bundle->policies[0].baseline.has_value());
  CHECK(*bundle->policies[0].baseline == baseline);
}

TEST_CASE("the revision an agent holds is recorded, holding the newest judges what it lacks") {
  Rules r;
  HostRecord h = r.addHost("web1", {{"role", "web"}});
  h.lastSeq = 1;  // it has reported (nothing: /etc/motd is not in its state)
  REQUIRE(r.store->advanceChain(h).ok());
  r.apply("web", kWebV1);
  const auto host = [&] {
    auto found = r.store->host("web1");
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    return **found;
  };
  const auto motd = [&] {
    auto d = r.store->drift("web1", "file:/etc/motd");
    REQUIRE(d.ok());
    return *d;
  };
  // Asking with nothing held: the bundle goes out; nothing is judged yet.
  CHECK(r.answer(r.ask(h, "web1", 0)).status == wire::RulesStatus::kBundle);
  CHECK(host().rulesRevision == 0);
  CHECK_FALSE(motd());
  // Asking again with the revision it got: it observes /etc/motd now, and it is not there.
  CHECK(r.answer(r.ask(h, "web1", 1)).status == wire::RulesStatus::kUnchanged);
  CHECK(host().rulesRevision == 1);
  REQUIRE(motd());
  CHECK(motd()->direction == "definition");
  CHECK(motd()->change == "removed");
  // A revision beyond ours (a store restored from an older copy) is rules of another history:
  // the agent holds none of ours. One that went back is recorded as it is.
  CHECK(r.answer(r.ask(h, "web1", 99)).status == wire::RulesStatus::kBundle);
  CHECK(host().rulesRevision == 0);
  CHECK(r.answer(r.ask(h, "web1", 1)).status == wire::RulesStatus::kUnchanged);
  CHECK(host().rulesRevision == 1);
  CHECK(r.answer(r.ask(h, "web1", 0)).status == wire::RulesStatus::kBundle);
  CHECK(host().rulesRevision == 0);
}
