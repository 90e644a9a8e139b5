// Fleet policies end to end: `driftwatch-aggregator policy ...` against a real data directory,
// with the policies in a real git checkout.

#include <cstdio>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch::testing;
using nlohmann::json;

namespace {

void git(const TempDir& work, std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/git", "-C", work.at("repo")});
  ProcessOptions o;
  o.env = {"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.net", "GIT_COMMITTER_NAME=t",
           "GIT_COMMITTER_EMAIL=t@example.net", "HOME=" + work.path()};
  const auto r = runProcess(args, o);
  INFO("git: " << r.err);
  REQUIRE(r.exitCode == 0);
}

// The drift items `drift list` shows, with --status and the resource's items only.
json driftOf(const Aggregator& agg, const std::string& resource, const std::string& status) {
  json out = json::array();
  for (const auto& d : agg.adminJson({"drift", "list", "--status", status})) {
    if (d["resource"] == resource) out.push_back(d);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "fleet: a labelled host's change opens drift, a revert resolves it, a policy change is "
    "definition drift") {
  TempDir work;
  // The agent observes /etc/motd (its local policy); the fleet policy for its label judges it.
  work.write("root/etc/motd", "welcome\n");
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  work.write("p.yaml", "name: local\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");
  Aggregator agg(work);
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=web")).exitCode == 0);
  work.write("fleet/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");
  work.write("fleet/db.yaml", "name: db\nselector: {role: db}\nsysctl: {vm.swappiness: \"1\"}\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);

  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  // The host is in sync: nothing drifts (and the db policy does not select this host).
  REQUIRE(waitFor([&] { return agentInSync(work.at("state")); }));
  const std::string hostId = agentStatus(work.at("state"))["uplink"]["host_id"];
  // Open drift only: the first snapshot can be taken before the agent's start-up scan recorded
  // the file, so an item may have opened and resolved while the first reports arrived.
  CHECK(agg.adminJson({"drift", "list"}).empty());

  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] { return driftOf(agg, "file:/etc/motd", "open").size() == 1; }));
  const auto open = driftOf(agg, "file:/etc/motd", "open")[0];
  CHECK(open["host"] == hostId);
  CHECK(open["direction"] == "managed");
  CHECK(open["drift_type"] == "configuration");
  CHECK(open["policy"] == "web");
  CHECK(open["attributes"] ==
        json::parse(R"([{"name": "mode", "desired": "0644", "actual": "0600"}])"));
  CHECK(agg.adminJson({"drift", "list", "--host", "nope"}).empty());
  CHECK(agg.admin({"drift", "list"}).out.find("mode 0644->0600") != std::string::npos);

  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  REQUIRE(waitFor([&] { return driftOf(agg, "file:/etc/motd", "resolved").size() == 1; }));
  CHECK(driftOf(agg, "file:/etc/motd", "open").empty());
  CHECK(!driftOf(agg, "file:/etc/motd", "resolved")[0]["resolved_at"].is_null());

  // The definition moves; the host has not caught up: definition drift at once, from the apply.
  work.write("fleet/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0600\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet/web.yaml")}).exitCode == 0);
  const auto definition = agg.adminJson({"drift", "list", "--direction", "definition"});
  REQUIRE(definition.size() == 1);
  CHECK(definition[0]["resource"] == "file:/etc/motd");
  CHECK(definition[0]["policy_version"] == 2);
  CHECK(definition[0]["attributes"][0]["desired"] == "0600");
  CHECK(definition[0]["attributes"][0]["actual"] == "0644");

  // People decide: accept the host's value with a reason (recorded, audited), or waive it.
  const auto noReason = agg.admin({"accept", hostId, "/etc/motd"});
  CHECK(noReason.exitCode == 1);
  const auto accepted = agg.admin(
      {"accept", hostId, "/etc/motd", "--reason", "public motd here", "--format", "json"});
  INFO(accepted.err);
  REQUIRE(accepted.exitCode == 0);
  const auto acceptedItem = json::parse(accepted.out);
  CHECK(acceptedItem["status"] == "accepted");
  CHECK(acceptedItem["decision"]["reason"] == "public motd here");
  CHECK(driftOf(agg, "file:/etc/motd", "accepted").size() == 1);
  CHECK(agg.adminJson({"drift", "list"}).empty());
  CHECK(agg.admin({"audit"}).out.find("drift_accepted") != std::string::npos);

  const auto badDate =
      agg.admin({"waive", hostId, "/etc/motd", "--reason", "r", "--until", "2026-02-30"});
  CHECK(badDate.exitCode == 1);
  CHECK(badDate.err.find("--until 2026-02-30") != std::string::npos);
  const auto waived = agg.admin({"waive", hostId, "/etc/motd", "--reason", "vendor fix due",
                                 "--for", "1h", "--format", "json"});
  INFO(waived.err);
  REQUIRE(waived.exitCode == 0);
  CHECK(json::parse(waived.out)["status"] == "waived");
  CHECK(!json::parse(waived.out)["decision"]["until"].is_null());
  CHECK(agg.admin({"drift", "list", "--status", "waived"}).out.find("until") != std::string::npos);
}

TEST_CASE("fleet: policies applied from a git checkout, with history, diff and conflicts") {
  TempDir work;
  Aggregator agg(work);
  agg.start();  // creates the data directory
  REQUIRE(agg.stop() == 0);
  work.write("repo/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");
  work.write("repo/base.yaml", "name: base\nsysctl:\n  net.ipv4.ip_forward: \"0\"\n");
  git(work, {"init", "-q"});
  git(work, {"add", "."});
  git(work, {"commit", "-q", "-m", "policies"});

  const auto applied = agg.admin({"policy", "apply", work.at("repo"), "-m", "first rollout"});
  INFO(applied.err);
  REQUIRE(applied.exitCode == 0);
  CHECK(applied.out == "base: version 1 applied\nweb: version 1 applied\n");
  CHECK(agg.admin({"policy", "apply", work.at("repo")}).out ==
        "base: unchanged (version 1)\nweb: unchanged (version 1)\n");

  const auto list = agg.adminJson({"policy", "list"});
  REQUIRE(list.size() == 2);
  CHECK(list[1]["name"] == "web");
  CHECK(list[1]["selector"] == json{{"role", "web"}});
  CHECK(list[1]["message"] == "first rollout");
  const std::string commit = list[1]["git_commit"];
  CHECK(commit.size() == 40);

  // An uncommitted edit is applied, and says so.
  work.write("repo/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0600\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("repo/web.yaml")}).exitCode == 0);
  const auto history = agg.adminJson({"policy", "history", "web"});
  REQUIRE(history.size() == 2);
  CHECK(history[1]["git_commit"] == commit + "+dirty");
  CHECK(history[1]["source"] == work.at("repo/web.yaml"));
  const auto diff = agg.admin({"policy", "diff", "web"});
  CHECK(diff.out.find("-     mode: \"0644\"\n+     mode: \"0600\"\n") != std::string::npos);
  CHECK(agg.admin({"policy", "show", "web", "--version", "1"}).out ==
        "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");

  // A policy for every host that wants another mode conflicts with web: refused, both named.
  work.write("all.yaml", "name: all\nfiles:\n  - path: /etc/motd\n    mode: \"0640\"\n");
  const auto refused = agg.admin({"policy", "apply", work.at("all.yaml")});
  CHECK(refused.exitCode == 1);
  INFO(refused.err);
  CHECK(refused.err.find(
            "1 problem, nothing applied:\n  conflict: file:/etc/motd mode: " + work.at("all.yaml") +
            ":3:5 (files[0]) wants 0640, " + work.at("repo/web.yaml") +
            ":4:5 (files[0]) wants 0600") != std::string::npos);
  CHECK(agg.adminJson({"policy", "list"}).size() == 2);
  CHECK(agg.admin({"policy", "show", "nope"}).exitCode == 1);
  // Each applied version is in the audit trail.
  CHECK(agg.audit("policy_applied").size() == 3);
}

TEST_CASE("fleet: a watched policy directory is applied when it changes, all or nothing") {
  TempDir work;
  Aggregator agg(work);
  work.mkdir("policies");
  work.write("agg/aggregator.yaml", "data_dir: " + agg.dataDir() + "\npolicy_dir: " +
                                        work.at("policies") + "\npolicy_poll_interval: 100ms\n");
  work.write("policies/web.yaml",
             "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"10\"}\n");
  agg.start();
  INFO("serve stderr: " << agg.stderrText());
  const auto versionOf = [&](const std::string& name) -> long long {
    for (const auto& p : agg.adminJson({"policy", "list"})) {
      if (p["name"] == name) return p["version"].get<long long>();
    }
    return 0;
  };
  REQUIRE(waitFor([&] { return versionOf("web") == 1; }));
  const auto history = agg.adminJson({"policy", "history", "web"});
  CHECK(history[0]["applied_by"] == "policy_dir");
  CHECK(history[0]["message"].get<std::string>().find(work.at("policies")) != std::string::npos);

  // A pull that brings a conflict: refused as a whole, audited, the stored version stays.
  work.write("policies/all.yaml", "name: all\nsysctl: {vm.swappiness: \"60\"}\n");
  work.write("policies/web.yaml",
             "name: web\nselector: {role: web}\nsysctl: {vm.swappiness: \"1\"}\n");
  REQUIRE(waitFor([&] { return !agg.audit("policy_refused").empty(); }));
  CHECK(agg.audit("policy_refused")[0]["detail"].get<std::string>().find("conflict") !=
        std::string::npos);
  CHECK(versionOf("web") == 1);
  CHECK(versionOf("all") == 0);

  // The fix: both apply.
  work.write("policies/all.yaml", "name: all\nsysctl: {vm.swappiness: \"1\"}\n");
  REQUIRE(waitFor([&] { return versionOf("all") == 1 && versionOf("web") == 2; }));
  CHECK(agg.audit("policy_refused").size() == 1);  // refused once, not at every look

  // A file deleted from the checkout removes its policy; one applied from elsewhere stays.
  work.write("elsewhere/db.yaml",
             "name: db\nselector: {role: db}\nsysctl: {kernel.panic: \"5\"}\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("elsewhere/db.yaml")}).exitCode == 0);
  REQUIRE(::unlink(work.at("policies/all.yaml").c_str()) == 0);
  REQUIRE(waitFor([&] { return versionOf("all") == 0; }));
  CHECK(versionOf("web") == 2);
  CHECK(versionOf("db") == 1);
  const auto allHistory = agg.adminJson({"policy", "history", "all"});
  REQUIRE(allHistory.size() == 2);
  CHECK(allHistory[1]["removed"] == true);
  CHECK(allHistory[1]["applied_by"] == "policy_dir");
  CHECK(agg.audit("policy_removed").size() == 1);

  // And by hand: removed, its history kept, shown as such.
  const auto removed = agg.admin({"policy", "remove", "db", "-m", "retired"});
  INFO(removed.err);
  CHECK(removed.exitCode == 0);
  CHECK(removed.out == "db: removed (version 2)\n");
  CHECK(versionOf("db") == 0);
  const auto shown = agg.admin({"policy", "show", "db"});
  CHECK(shown.exitCode == 1);
  CHECK(shown.err.find("version 2 removed the policy") != std::string::npos);
  CHECK(agg.admin({"policy", "show", "db", "--version", "1"}).exitCode == 0);
  CHECK(agg.admin({"policy", "remove", "db"}).err.find("removed already") != std::string::npos);
}

TEST_CASE("fleet: maintenance windows are declared, listed and ended from the command line") {
  TempDir work;
  Aggregator agg(work);
  agg.start();  // creates the data directory
  REQUIRE(agg.stop() == 0);

  const auto bad = agg.admin({"maintenance", "add", "--for", "2h"});
  CHECK(bad.exitCode != 0);
  const auto badEnd = agg.admin(
      {"maintenance", "add", "--end", "2026-13-01", "--reason", "x", "--selector", "role=web"});
  CHECK(badEnd.exitCode == 1);
  CHECK(badEnd.err.find("--end 2026-13-01") != std::string::npos);

  const auto added = agg.admin({"maintenance", "add", "--selector", "role=web", "--for", "2h",
                                "--reason", "kernel upgrade", "--format", "json"});
  INFO(added.err);
  REQUIRE(added.exitCode == 0);
  const auto window = json::parse(added.out);
  CHECK(window["selector"] == json{{"role", "web"}});
  CHECK(window["active"] == true);
  const auto listed = agg.adminJson({"maintenance", "list"});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["reason"] == "kernel upgrade");
  CHECK(agg.admin({"maintenance", "list"}).out.find("active") != std::string::npos);

  const std::string id = std::to_string(window["id"].get<long long>());
  CHECK(agg.admin({"maintenance", "end", id}).exitCode == 0);
  CHECK(agg.adminJson({"maintenance", "list"}).empty());
  CHECK(agg.adminJson({"maintenance", "list", "--all"}).size() == 1);
  CHECK(agg.admin({"maintenance", "end", id}).exitCode == 1);
  CHECK(agg.audit("maintenance_added").size() == 1);
  CHECK(agg.audit("maintenance_ended").size() == 1);
}
