// Fleet rules end to end: a real aggregator, a real enrolled daemon started without a local
// policy, and `policy apply` deciding what the daemon watches, without restarting it.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch::testing;
using nlohmann::json;

namespace {

// The states the aggregator recorded for one resource of a host, oldest first.
std::vector<std::string> statesOf(const Aggregator& agg, const std::string& host,
                                  const std::string& resource) {
  std::vector<std::string> out;
  for (const auto& row : agg.adminJson({"hosts", "history", host, "--resource", resource}))
    out.push_back(row["state"]);
  return out;
}

json openDrift(const Aggregator& agg, const std::string& resource) {
  for (const auto& d : agg.adminJson({"drift", "list", "--status", "open"})) {
    if (d["resource"] == resource) return d;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("fleet rules: an enrolled daemon without a local policy watches what policy apply says") {
  TempDir work;
  work.write("root/srv/app/a.conf", "one\n");
  work.write("root/srv/app/b.conf", "two\n");
  REQUIRE(::chmod(work.at("root/srv/app/a.conf").c_str(), 0644) == 0);
  REQUIRE(::chmod(work.at("root/srv/app/b.conf").c_str(), 0644) == 0);
  Aggregator agg(work);
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=app")).exitCode == 0);
  // The rules key came with the enrollment, over the pinned channel.
  CHECK(readText(work.at("state/enrollment.json")).find("rules_public_key") != std::string::npos);

  AgentDaemon daemon(work, work.at("root"),
                     "batch_delay: 50ms\nretry_max: 1s\nheartbeat_interval: 1s\n");
  daemon.start();
  INFO("daemon stderr:\n" << daemon.stderrText());
  const std::string pid = daemon.status()["pid"];
  const std::string host = agentStatus(work.at("state"))["uplink"]["host_id"];
  CHECK(daemon.status()["coverage"]["file_rules"] == 0);

  // A policy for the host's label, and one for other hosts.
  work.write("fleet/app.yaml",
             "name: app\nselector: {role: app}\nfiles:\n"
             "  - path: /srv/app/a.conf\n    mode: \"0644\"\n"
             "  - path: /srv/app/b.conf\n    mode: \"0644\"\n");
  work.write("fleet/db.yaml", "name: db\nselector: {role: db}\nsysctl: {vm.swappiness: \"1\"}\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);

  // The daemon takes the rules and reports the files; the aggregator stores them.
  REQUIRE(waitFor([&] {
    const auto s = daemon.status();
    return !s.is_null() && s["fleet_rules"].is_object() && s["fleet_rules"]["revision"] == 2;
  }));
  const auto rules = daemon.status()["fleet_rules"];
  CHECK(rules["policies"] == json::parse(R"([{"name": "app", "version": 1}])"));
  CHECK(rules["refused"].is_null());
  CHECK(!rules["fetched_at"].is_null());
  CHECK(daemon.status()["policy"] == "fleet");
  REQUIRE(waitFor([&] { return !statesOf(agg, host, "file:/srv/app/a.conf").empty(); }));
  REQUIRE(waitFor([&] { return !statesOf(agg, host, "file:/srv/app/b.conf").empty(); }));
  CHECK(statesOf(agg, host, "file:/srv/app/a.conf").back().find("mode=0644") != std::string::npos);
  CHECK(openDrift(agg, "file:/srv/app/a.conf").is_null());

  // A change there: drift on the aggregator, and on the agent with the rule's origin.
  REQUIRE(::chmod(work.at("root/srv/app/a.conf").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] { return !openDrift(agg, "file:/srv/app/a.conf").is_null(); }));
  const auto drift = openDrift(agg, "file:/srv/app/a.conf");
  CHECK(drift["host"] == host);
  CHECK(drift["policy"] == "app");
  CHECK(drift["attributes"] ==
        json::parse(R"([{"name": "mode", "desired": "0644", "actual": "0600"}])"));
  REQUIRE(daemon.waitDrift("file:/srv/app/a.conf", "modified"));
  const auto local = daemon.drift("file:/srv/app/a.conf");
  CHECK(local["rule"]["policy"] == "app");
  CHECK(local["rule"]["file"] == "fleet:app@v1");

  // A second version stops watching b.conf: the agent lets it go, the aggregator hears so.
  work.write("fleet/app.yaml",
             "name: app\nselector: {role: app}\nfiles:\n"
             "  - path: /srv/app/a.conf\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet/app.yaml")}).exitCode == 0);
  REQUIRE(waitFor([&] {
    const auto s = daemon.status();
    return !s.is_null() && s["fleet_rules"]["revision"] == 3;
  }));
  CHECK(daemon.status()["fleet_rules"]["policies"] ==
        json::parse(R"([{"name": "app", "version": 2}])"));
  REQUIRE(
      waitFor([&] { return statesOf(agg, host, "file:/srv/app/b.conf").back() == "unobserved"; }));
  CHECK(daemon.status()["coverage"]["file_rules"] == 1);
  // a.conf is still watched: its repair resolves the drift.
  REQUIRE(::chmod(work.at("root/srv/app/a.conf").c_str(), 0644) == 0);
  REQUIRE(waitFor([&] { return openDrift(agg, "file:/srv/app/a.conf").is_null(); }));

  // All of it without a restart.
  CHECK(daemon.running());
  CHECK(daemon.status()["pid"] == pid);
  CHECK(daemon.stderrText().find("fleet rules revision 3 applied: app v2") != std::string::npos);

  // Offline: the daemon restarts without the aggregator and keeps the last verified rules.
  REQUIRE(agg.stop() == 0);
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(std::chrono::seconds(30)).has_value());
  daemon.start();
  const auto restarted = daemon.status();
  CHECK(restarted["fleet_rules"]["revision"] == 3);
  CHECK(restarted["coverage"]["file_rules"] == 1);
  REQUIRE(::chmod(work.at("root/srv/app/a.conf").c_str(), 0640) == 0);
  CHECK(daemon.waitDrift("file:/srv/app/a.conf", "modified"));
}

TEST_CASE("fleet rules: a daemon neither enrolled nor given a policy does not start") {
  TempDir work;
  work.mkdir("root");
  AgentDaemon daemon(work, work.at("root"));
  const auto r = runProcess({agentBinary(), "run", "--config", work.at("agent.yaml")});
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("no policy") != std::string::npos);
  CHECK(r.err.find("enroll") != std::string::npos);
}

TEST_CASE(
    "fleet rules: enrolled again while running, the daemon takes the new aggregator's rules") {
  TempDir work;
  work.write("root/srv/old.conf", "old\n");
  work.write("root/srv/new.conf", "new\n");
  Aggregator first(work, "first");
  first.start();
  INFO("first aggregator stderr:\n" << first.stderrText());
  // Three versions on the first aggregator: revision 3.
  for (const char* mode : {"0600", "0640", "0644"}) {
    work.write(
        "first.yaml",
        std::string("name: old\nfiles:\n  - path: /srv/old.conf\n    mode: \"") + mode + "\"\n");
    REQUIRE(first.admin({"policy", "apply", work.at("first.yaml")}).exitCode == 0);
  }
  REQUIRE(enrollAgent(first, work.at("state"), first.createToken("role=app")).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"),
                     "batch_delay: 50ms\nretry_max: 1s\nheartbeat_interval: 1s\n");
  daemon.start();
  INFO("daemon stderr:\n" << daemon.stderrText());
  REQUIRE(waitFor([&] {
    const auto s = daemon.status();
    return !s.is_null() && s["fleet_rules"].is_object() && s["fleet_rules"]["revision"] == 3;
  }));

  // A second aggregator with a single version (revision 1): lower, yet the new host's rules.
  Aggregator second(work, "second");
  second.start();
  work.write("second.yaml", "name: new\nfiles:\n  - path: /srv/new.conf\n    mode: \"0644\"\n");
  REQUIRE(second.admin({"policy", "apply", work.at("second.yaml")}).exitCode == 0);
  REQUIRE(
      enrollAgent(second, work.at("state"), second.createToken("role=app"), {"--force"}).exitCode ==
      0);
  REQUIRE(waitFor([&] {
    const auto s = daemon.status();
    return !s.is_null() &&
           s["fleet_rules"]["policies"] == json::parse(R"([{"name": "new", "version": 1}])");
  }));
  CHECK(daemon.status()["fleet_rules"]["revision"] == 1);
  CHECK(daemon.status()["fleet_rules"]["refused"].is_null());
  CHECK(daemon.running());
}

TEST_CASE("fleet rules: a bundle that conflicts with the local policy is refused, as a gap") {
  TempDir work;
  work.write("root/srv/app.conf", "app\n");
  REQUIRE(::chmod(work.at("root/srv/app.conf").c_str(), 0644) == 0);
  work.write("p.yaml", "name: local\nfiles:\n  - path: /srv/app.conf\n    mode: \"0644\"\n");
  Aggregator agg(work);
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=app")).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"),
                     "batch_delay: 50ms\nretry_max: 1s\nheartbeat_interval: 1s\n");
  daemon.start();
  INFO("daemon stderr:\n" << daemon.stderrText());
  const std::string host = agentStatus(work.at("state"))["uplink"]["host_id"];

  work.write("fleet.yaml",
             "name: tight\nselector: {role: app}\nfiles:\n"
             "  - path: /srv/app.conf\n    mode: \"0600\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet.yaml")}).exitCode == 0);
  REQUIRE(waitFor([&] {
    const auto s = daemon.status();
    return !s.is_null() && s["fleet_rules"].is_object() && !s["fleet_rules"]["refused"].is_null();
  }));
  const auto s = daemon.status();
  const std::string reason = s["fleet_rules"]["refused"]["reason"];
  CHECK(reason.find("want different values") != std::string::npos);
  CHECK(s["fleet_rules"]["revision"] == 0);  // nothing from the fleet is in force
  CHECK(s["policy"] == "local");             // the local policy still is
  bool gapOpen = false;
  for (const auto& g : s["coverage"]["open_gaps"])
    gapOpen = gapOpen || g["kind"] == "rules";
  CHECK(gapOpen);
  // The aggregator hears of the gap like any other.
  CHECK(waitFor([&] {
    for (const auto& g : agg.adminJson({"hosts", "gaps", host})) {
      if (g["kind"] == "rules" && g["ended_at"].is_null()) return true;
    }
    return false;
  }));
  // Logged once, not at every fetch.
  const std::string err = daemon.stderrText();
  const auto first = err.find("fleet rules refused, keeping the current rules");
  REQUIRE(first != std::string::npos);
  CHECK(err.find("fleet rules refused, keeping the current rules", first + 1) == std::string::npos);
  CHECK(agentStatus(work.at("state"))["fleet_rules"]["revision"] == 0);
}

TEST_CASE("fleet rules: a path the agent does not observe yet is not drift until it does") {
  TempDir work;
  work.write("root/srv/app/a.conf", "one\n");
  work.write("root/srv/app/b.conf", "two\n");
  REQUIRE(::chmod(work.at("root/srv/app/a.conf").c_str(), 0644) == 0);
  REQUIRE(::chmod(work.at("root/srv/app/b.conf").c_str(), 0644) == 0);
  Aggregator agg(work);
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=app")).exitCode == 0);
  work.write("fleet/app.yaml",
             "name: app\nselector: {role: app}\nfiles:\n"
             "  - path: /srv/app/a.conf\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);
  // A quiet host: it asks for rules with its heartbeat.
  AgentDaemon daemon(work, work.at("root"),
                     "batch_delay: 50ms\nretry_max: 1s\nheartbeat_interval: 3s\n");
  daemon.start();
  INFO("daemon stderr:\n" << daemon.stderrText());
  const std::string host = agentStatus(work.at("state"))["uplink"]["host_id"];
  REQUIRE(waitFor([&] { return agg.adminJson({"hosts", "list"})[0]["rules_revision"] == 1; }));
  CHECK(agg.adminJson({"drift", "list", "--status", "all"}).empty());

  // Version 2 names b.conf (there) and c.conf (not there). The agent does not have it yet.
  work.write("fleet/app.yaml",
             "name: app\nselector: {role: app}\nfiles:\n"
             "  - path: /srv/app/a.conf\n    mode: \"0644\"\n"
             "  - path: /srv/app/b.conf\n    mode: \"0644\"\n"
             "  - path: /srv/app/c.conf\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);
  CHECK(agg.adminJson({"hosts", "list"})[0]["rules_revision"] == 1);
  CHECK(agg.adminJson({"drift", "list", "--status", "all"}).empty());

  // With its heartbeat the agent takes version 2, observes both paths, reports them, and then
  // says it holds the version: only then is c.conf judged.
  REQUIRE(waitFor([&] { return agg.adminJson({"hosts", "list"})[0]["rules_revision"] == 2; }));
  REQUIRE(waitFor([&] { return !openDrift(agg, "file:/srv/app/c.conf").is_null(); }));
  const auto missing = openDrift(agg, "file:/srv/app/c.conf");
  CHECK(missing["direction"] == "definition");
  CHECK(missing["change"] == "removed");
  // b.conf is there as the policy wants: it never was drift.
  for (const auto& d : agg.adminJson({"drift", "list", "--status", "all"}))
    CHECK(d["resource"] != "file:/srv/app/b.conf");
  CHECK(openDrift(agg, "file:/srv/app/a.conf").is_null());
  CHECK(agg.adminJson({"alerts", "list", "--status", "all"}).size() == 1);
}
