#include "aggregator/drift/drift_engine.h"

#include <doctest/doctest.h>

#include "aggregator/policy/policy_apply.h"
#include "aggregator/report/report_processor.h"
#include "tests/unit/aggregator/drift_fleet.h"
#include "tests/unit/aggregator/test_agent.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

// A host labelled role=web, enrolled in `fleet` with a real key, that reports signed batches
// through the real report processor (which runs the drift engine in each report's savepoint).
struct ReportingHost {
  ReportingHost(Fleet& fleet, const std::string& id)
      : processor(*fleet.store, *fleet.audit), agent{id, newKey(), {}, 0, {}} {
    HostRecord h;
    h.id = agent.hostId;
    h.name = id + ".example.org";
    h.labels = kWeb;
    h.publicKey = agent.key->publicKey();
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(fleet.store->addHost(h).ok());
  }

  wire::ReportStatus send(const std::string& body) {
    const PeerIdentity peer{"127.0.0.1:51234", true, agent.hostId, agent.key->publicKey()};
    const HttpResponse r = processor.handle(
        HttpRequest{"POST", "/v1/report", kProtobufType, body, peer, std::nullopt, 0});
    REQUIRE(r.status == 200);
    auto decoded = wire::decodeReportResponse(r.body);
    REQUIRE(decoded.ok());
    return decoded->status;
  }

  ReportProcessor processor;
  TestAgent agent;
};

}  // namespace

TEST_CASE("a change on the host opens managed drift, a revert resolves it, a return reopens it") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  fleet.put(web, kMotd, kMode0644);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  CHECK(fleet.all().empty());

  fleet.put(web, kMotd, kMode0600);
  fleet.changed(web, {kMotd}, 2'000'000);
  auto open = fleet.item("web-01", kMotd);
  REQUIRE(open);
  CHECK(open->status == "open");
  CHECK(open->direction == "managed");
  CHECK(open->driftType == "configuration");
  CHECK(open->severity == "medium");
  CHECK(open->change == "modified");
  CHECK(open->policy == "web");
  CHECK(open->policyVersion == 1);
  CHECK(open->rule == fleet.dir.at("web.yaml") + ":4:5 (files[0])");
  REQUIRE(open->attributes.size() == 1);
  CHECK(open->attributes[0].name == "mode");
  CHECK(open->attributes[0].desired == "0644");
  CHECK(open->attributes[0].actual == "0600");
  CHECK(open->firstSeen == 2'000'000);
  CHECK(open->lastSeen == 2'000'000);
  CHECK_FALSE(open->resolvedAt);

  // Still drifting, differently: the item is updated, its first_seen kept.
  fleet.put(web, kMotd, "present\ttype=file\tmode=0640\towner=0\tgroup=0\tsize=8");
  fleet.changed(web, {kMotd}, 2'500'000);
  open = fleet.item("web-01", kMotd);
  CHECK(open->attributes[0].actual == "0640");
  CHECK(open->firstSeen == 2'000'000);
  CHECK(open->lastSeen == 2'500'000);

  fleet.put(web, kMotd, kMode0644);
  fleet.changed(web, {kMotd}, 3'000'000);
  const auto resolved = fleet.item("web-01", kMotd);
  REQUIRE(resolved);
  CHECK(resolved->status == "resolved");
  CHECK(resolved->resolvedAt == 3'000'000);
  CHECK(fleet.all("open").empty());

  fleet.put(web, kMotd, kMode0600);
  fleet.changed(web, {kMotd}, 4'000'000);
  const auto again = fleet.item("web-01", kMotd);
  REQUIRE(again);
  CHECK(again->status == "open");
  CHECK(again->firstSeen == 4'000'000);
  CHECK_FALSE(again->resolvedAt);
  CHECK(fleet.all().size() == 1);  // the same row, not a second one
}

TEST_CASE("a removed file is drift, and a resource no rule declares is not judged") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  fleet.put(web, kMotd, kMode0644);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  REQUIRE(fleet.store->removeResource(web.id, kMotd).ok());
  fleet.put(web, "file:/etc/hosts", kMode0600);
  fleet.changed(web, {kMotd, "file:/etc/hosts"}, 2'000'000);
  const auto items = fleet.all();
  REQUIRE(items.size() == 1);
  CHECK(items[0].resource == kMotd);
  CHECK(items[0].change == "removed");
}

TEST_CASE("attributes a policy does not declare are never drift") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  // Only the mode is declared: owner, group, size and content may be anything.
  fleet.put(web, kMotd,
            "present\ttype=file\tmode=0644\towner=1000\tgroup=1000\tsize=99\tsha256=" +
                std::string(64, 'a'));
  fleet.apply("web", kMotdPolicy, 1'000'000);
  REQUIRE(fleet.engine.onHostReplaced(web, 2'000'000).ok());
  CHECK(fleet.all().empty());
}

TEST_CASE("a new policy version is definition drift on the hosts it selects, and only there") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  const HostRecord db = fleet.addHost("db-01", {{"role", "db"}});
  const HostRecord fra = fleet.addHost("web-02", {{"role", "web"}, {"dc", "fra"}});
  for (const auto& h : {web, db, fra})
    fleet.put(h, kMotd, kMode0644);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  CHECK(fleet.all().empty());

  fleet.apply("web",
              "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0600\"\n",
              2'000'000);
  auto items = fleet.all();
  REQUIRE(items.size() == 2);  // web-01 and web-02 (extra labels still match); not db-01
  for (const auto& d : items) {
    CHECK(d.status == "open");
    CHECK(d.direction == "definition");
    CHECK(d.policyVersion == 2);
    CHECK(d.firstSeen == 2'000'000);
    CHECK(d.attributes[0].desired == "0600");
    CHECK(d.attributes[0].actual == "0644");
  }
  CHECK(items[0].host == "web-01");
  CHECK(items[1].host == "web-02");

  // The host catches up: resolved by its report, as managed state.
  fleet.put(web, kMotd, kMode0600);
  fleet.changed(web, {kMotd}, 3'000'000);
  CHECK(fleet.item("web-01", kMotd)->status == "resolved");

  // A narrower selector: web-02 is no longer selected, its drift from this policy resolves.
  fleet.apply("web",
              "name: web\nselector: {role: web, dc: ber}\nfiles:\n  - path: /etc/motd\n    mode: "
              "\"0600\"\n",
              4'000'000);
  CHECK(fleet.item("web-02", kMotd)->status == "resolved");
  CHECK(fleet.item("web-02", kMotd)->resolvedAt == 4'000'000);
  CHECK_FALSE(fleet.item("db-01", kMotd));
}

TEST_CASE("recursive rules judge what the host reports below them against the baseline") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  // As the agent records and reports files: with their content digest.
  const std::string sha = "\tsha256=" + std::string(64, 'a');
  const std::string file0644 = kMode0644 + sha;
  const std::string baseline =
      "@format\t1\n@policy\tweb\n@recorded\t2026-11-27T17:40:00Z\troot\tweb-01\n"
      "file:/etc\ttype=dir\tmode=0755\towner=0\tgroup=0\n"
      "file:/etc/a\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=8" +
      sha + "\n" + "file:/etc/b\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=8" + sha + "\n";
  fleet.put(web, "file:/etc", "present\ttype=dir\tmode=0755\towner=0\tgroup=0");
  fleet.put(web, "file:/etc/a", file0644);
  fleet.put(web, "file:/etc/b", file0644);
  fleet.put(web, "file:/etcetera", kMode0600);  // shares the prefix, not below /etc
  fleet.apply("web",
              "name: web\nselector: {role: web}\nfiles:\n  - path: /etc\n    recursive: true\n",
              1'000'000, baseline);
  CHECK(fleet.all().empty());

  // b goes (the baseline wants it), c appears (the baseline does not know it), a changes.
  REQUIRE(fleet.store->removeResource(web.id, "file:/etc/b").ok());
  fleet.put(web, "file:/etc/c", file0644);
  fleet.put(web, "file:/etc/a", kMode0600 + sha);
  REQUIRE(fleet.engine.onHostReplaced(web, 2'000'000).ok());
  const auto items = fleet.all();
  REQUIRE(items.size() == 3);
  CHECK(items[0].resource == "file:/etc/a");
  CHECK(items[0].change == "modified");
  CHECK(items[1].resource == "file:/etc/b");
  CHECK(items[1].change == "removed");
  CHECK(items[2].resource == "file:/etc/c");
  CHECK(items[2].change == "added");
}

TEST_CASE("a delta batch judges only the resources it touched, inside its own savepoint") {
  Fleet fleet;
  ReportingHost web(fleet, "web-01");
  TestAgent& agent = web.agent;
  const auto send = [&](const std::string& body) { return web.send(body); };

  fleet.apply("web",
              "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\nfiles:\n  - "
              "path: /etc/motd\n    mode: \"0644\"\n",
              1'000'000);
  CHECK(fleet.all().empty());  // nothing reported yet: nothing to judge
  const auto parts = agent.snapshot({{kMotd, kMode0644}, {kSwappiness, "present\tvalue=10"}}, 10);
  CHECK(send(parts[0]) == wire::ReportStatus::kAccepted);
  CHECK(fleet.all().empty());

  // A version stored without being judged (as if judging were skipped): the next delta batch
  // judges only what it touches, so the sysctl it does not touch opens nothing.
  PolicyVersion v2;
  v2.name = "web";
  v2.version = 2;
  v2.text =
      "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"60\"}\nfiles:\n  - path: "
      "/etc/motd\n    mode: \"0644\"\n";
  v2.sha256 = "x";
  v2.source = "web.yaml";
  REQUIRE(fleet.store->addPolicyVersion(v2).ok());
  CHECK(send(agent.delta({{kMotd, kMode0600}})) == wire::ReportStatus::kAccepted);
  auto items = fleet.all("open");
  REQUIRE(items.size() == 1);
  CHECK(items[0].resource == kMotd);
  CHECK(items[0].direction == "managed");
  CHECK(items[0].policyVersion == 2);

  // A batch the aggregator does not keep (its state digest disagrees) leaves no drift either.
  TestAgent forked = agent;
  wire::Batch bad = forked.next();
  bad.deltas.push_back({kMotd, kMode0644, 1000});
  bad.stateDigest = std::string(32, 'x');
  CHECK(send(forked.seal(bad)) == wire::ReportStatus::kResync);
  CHECK(fleet.item("web-01", kMotd)->status == "open");

  // A snapshot replaces the whole state: everything is judged, the sysctl too.
  const auto again = agent.snapshot({{kMotd, kMode0644}, {kSwappiness, "present\tvalue=10"}}, 10);
  CHECK(send(again[0]) == wire::ReportStatus::kAccepted);
  CHECK(fleet.item("web-01", kMotd)->status == "resolved");
  const auto sysctl = fleet.item("web-01", kSwappiness);
  REQUIRE(sysctl);
  CHECK(sysctl->status == "open");
  CHECK(sysctl->attributes[0].desired == "60");
  CHECK(sysctl->attributes[0].actual == "10");
}

TEST_CASE("drift list filters by host, status, severity and direction") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  const HostRecord web2 = fleet.addHost("web-02", kWeb);
  fleet.put(web, kMotd, kMode0644);
  fleet.put(web2, kMotd, kMode0644);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  fleet.put(web, kMotd, kMode0600);
  fleet.changed(web, {kMotd}, 2'000'000);
  fleet.apply("web",
              "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0600\"\n"
              "    severity: high\n",
              3'000'000);
  // web-01 now matches (resolved); web-02 has definition drift of high severity.
  DriftFilter f;
  f.direction = "definition";
  auto d = fleet.store->driftItems(f);
  REQUIRE(d.ok());
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].host == "web-02");
  CHECK((*d)[0].severity == "high");
  f = {};
  f.host = "web-01";
  f.status = "resolved";
  d = fleet.store->driftItems(f);
  REQUIRE(d.ok());
  CHECK(d->size() == 1);
  f = {};
  f.severity = "medium";
  f.status = "open";
  d = fleet.store->driftItems(f);
  REQUIRE(d.ok());
  CHECK(d->empty());
}

TEST_CASE("a desired state fed by the test: owners by name resolve with the host's own accounts") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  PolicyVersion v;
  v.name = "www";
  v.version = 7;
  v.text = "name: www\nfiles:\n  - path: /srv/www\n    owner: www-data\n";
  v.source = "www.yaml";
  auto compiled = DesiredPolicy::compile(v);
  REQUIRE(compiled.ok());
  fleet.engine.desired().put(std::move(compiled).value());

  // The host says who www-data is (uid 33); the aggregator's own accounts do not matter.
  fleet.put(web, "user:www-data",
            "present\tuid=33\tgid=33\tcomment=\thome=/var/www\tshell=/usr/sbin/nologin");
  fleet.put(web, "file:/srv/www", "present\ttype=dir\tmode=0755\towner=33\tgroup=33");
  REQUIRE(fleet.engine.onHostReplaced(web, 1'000'000).ok());
  CHECK(fleet.all().empty());

  fleet.put(web, "file:/srv/www", "present\ttype=dir\tmode=0755\towner=0\tgroup=33");
  fleet.changed(web, {"file:/srv/www"}, 2'000'000);
  const auto item = fleet.item("web-01", "file:/srv/www");
  REQUIRE(item);
  CHECK(item->policy == "www");
  CHECK(item->policyVersion == 7);
  REQUIRE(item->attributes.size() == 1);
  CHECK(item->attributes[0].name == "owner");
}

TEST_CASE("a stored state that cannot be read is drift with the reason, never a match") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  fleet.put(web, kMotd, kMode0644);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  fleet.put(web, kMotd, "sideways\tmode=0644");
  fleet.changed(web, {kMotd}, 2'000'000);
  const auto item = fleet.item("web-01", kMotd);
  REQUIRE(item);
  CHECK(item->status == "open");
  CHECK(item->error.find("the stored state cannot be read") != std::string::npos);
}

TEST_CASE(
    "a stored policy version that does not compile stops no report: the last good one "
    "judges") {
  Fleet fleet;
  ReportingHost web(fleet, "web-01");
  TestAgent& agent = web.agent;
  const auto send = [&](const std::string& body) { return web.send(body); };
  fleet.apply("web",
              "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n",
              1'000'000);
  CHECK(send(agent.snapshot({{kMotd, kMode0644}}, 10)[0]) == wire::ReportStatus::kAccepted);

  // Version 2 as a newer driftwatch's parser might see an older text: it does not parse.
  PolicyVersion broken;
  broken.name = "web";
  broken.version = 2;
  broken.text = "name: web\nselector: {role: web}\nfiles: [{path: relative}]\n";
  broken.sha256 = "x";
  broken.source = "web.yaml";
  REQUIRE(fleet.store->addPolicyVersion(broken).ok());
  CHECK(send(agent.delta({{kMotd, kMode0600}})) == wire::ReportStatus::kAccepted);
  const auto item = fleet.item("web-01", kMotd);
  REQUIRE(item);
  CHECK(item->status == "open");
  CHECK(item->policyVersion == 1);
  CHECK(send(agent.delta({{kMotd, kMode0644}})) == wire::ReportStatus::kAccepted);
  CHECK(fleet.item("web-01", kMotd)->status == "resolved");
}

TEST_CASE("removing a policy resolves the drift it found and judges nothing more") {
  Fleet fleet;
  const HostRecord web = fleet.addHost("web-01", kWeb);
  fleet.put(web, kMotd, kMode0600);
  fleet.apply("web", kMotdPolicy, 1'000'000);
  REQUIRE(fleet.item("web-01", kMotd)->status == "open");
  fleet.changed(web, {kMotd}, 1'500'000);  // the engine holds the policy now
  REQUIRE(fleet.engine.desired().find("web") != nullptr);

  REQUIRE(removePolicies(*fleet.store, *fleet.audit, {"web"}, "alice", "retired", 2'000).ok());
  const auto resolved = fleet.item("web-01", kMotd);
  CHECK(resolved->status == "resolved");
  CHECK(resolved->resolvedAt == 2'000'000);

  // The engine that judged with it before drops it at its next refresh.
  fleet.changed(web, {kMotd}, 3'000'000);
  CHECK(fleet.item("web-01", kMotd)->status == "resolved");
  CHECK(fleet.engine.desired().find("web") == nullptr);
}

TEST_CASE("what a host's agent does not observe yet is not drift, once it holds the rules, it is") {
  Fleet f;
  // The agent holds no fleet rules yet: its first snapshot came before them.
  const HostRecord h = f.behind("web1", kWeb, 0);
  f.put(h, kMotd, kMode0600);
  f.apply("web",
          "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"
          "  - path: /etc/issue\n    mode: \"0644\"\n",
          10'000);
  // What it reported is judged at once (definition drift); what it never reported is not.
  REQUIRE(f.item("web1", kMotd));
  CHECK(f.item("web1", kMotd)->direction == "definition");
  CHECK_FALSE(f.item("web1", "file:/etc/issue"));
  REQUIRE(f.engine.onHostReplaced(h, 11'000).ok());
  CHECK_FALSE(f.item("web1", "file:/etc/issue"));
  // An explicit "absent" from the agent is an observation, behind or not.
  REQUIRE(f.store->removeResource("web1", kMotd).ok());
  f.changed(h, {kMotd}, 12'000);
  CHECK(f.item("web1", kMotd)->status == "open");
  CHECK(f.item("web1", kMotd)->change == "removed");

  // The agent says it holds the newest rules: /etc/issue, still unreported, is absent.
  auto revision = f.store->rulesRevision();
  REQUIRE(revision.ok());
  REQUIRE(f.store->setRulesRevision("web1", *revision).ok());
  HostRecord caughtUp = h;
  caughtUp.rulesRevision = *revision;
  REQUIRE(f.engine.onRulesCaughtUp(caughtUp, 13'000).ok());
  const auto issue = f.item("web1", "file:/etc/issue");
  REQUIRE(issue);
  CHECK(issue->status == "open");
  CHECK(issue->direction == "definition");
  CHECK(issue->change == "removed");
}

TEST_CASE("a resource the agent stops observing is not judged absent") {
  Fleet f;
  const HostRecord h = f.addHost("web1", kWeb);
  f.apply("web", kMotdPolicy, 10'000);
  f.put(h, kMotd, kMode0644);
  f.changed(h, {kMotd}, 11'000);
  CHECK(f.all("open").empty());
  // "unobserved" removes the stored state; it does not make the file absent.
  REQUIRE(f.store->removeResource("web1", kMotd).ok());
  REQUIRE(f.engine.onResourcesChanged(h, {}, 12'000, {kMotd}).ok());
  CHECK(f.all("open").empty());
  // Whereas "absent" does.
  f.changed(h, {kMotd}, 13'000);
  CHECK(f.all("open").size() == 1);
}

TEST_CASE("while a host's rules are behind, drift it had still resolves") {
  Fleet f;
  f.apply("web", kMotdPolicy, 10'000);
  auto revision = f.store->rulesRevision();
  REQUIRE(revision.ok());
  HostRecord h = f.behind("web1", kWeb, *revision);
  // Caught up, with no /etc/motd: removed.
  REQUIRE(f.engine.onRulesCaughtUp(h, 11'000).ok());
  REQUIRE(f.item("web1", kMotd));
  CHECK(f.item("web1", kMotd)->status == "open");
  // The policy goes: the host is behind the removal's revision, and the item resolves anyway.
  const auto removed =
      aggregator::removePolicies(*f.store, *f.audit, {"web"}, "alice", "gone", 12, nullptr);
  REQUIRE(removed.ok());
  CHECK(f.item("web1", kMotd)->status == "resolved");

  // A snapshot that no longer has what the host reported, while behind: not known (the agent
  // may have stopped observing it); once it holds the newest rules, it is removed.
  f.apply("web", kMotdPolicy, 20'000);
  f.put(h, kMotd, kMode0644);
  f.changed(h, {kMotd}, 21'000);
  CHECK(f.all("open").empty());
  REQUIRE(f.store->removeResource("web1", kMotd).ok());
  REQUIRE(f.engine.onHostReplaced(h, 22'000).ok());
  CHECK(f.all("open").empty());
  auto newest = f.store->rulesRevision();
  REQUIRE(newest.ok());
  REQUIRE(f.store->setRulesRevision("web1", *newest).ok());
  h.rulesRevision = *newest;
  REQUIRE(f.engine.onHostReplaced(h, 23'000).ok());
  REQUIRE(f.all("open").size() == 1);
  CHECK(f.item("web1", kMotd)->change == "removed");
}
