// Fleet policies end to end: `driftwatch-aggregator policy ...` against a real data directory,
// with the policies in a real git checkout.

#include <cstdio>

#include <doctest/doctest.h>

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

}  // namespace

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
}
