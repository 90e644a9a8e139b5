// The fleet view in a real browser: the real aggregator and agent set up a fleet with two open
// drift items (/etc/motd and /etc/issue) and an alert firing for each, then
// tests/browser/fleet_view.mjs drives Debian's Chromium (playwright-core) through the page as a
// person would: signing in with a wrong, a read and a write token, reading the tables,
// acknowledging an alert, accepting /etc/motd and waiving /etc/issue. What the buttons did is
// then checked here, on the aggregator's side.

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch;
using namespace driftwatch::testing;
using nlohmann::json;

#ifndef DRIFTWATCH_BROWSER_SCRIPT
#error "the build defines DRIFTWATCH_BROWSER_SCRIPT (tests/browser/fleet_view.mjs)"
#endif

namespace {

// `api-token create`, the token kept in a private file for the browser script.
std::string createApiToken(const TempDir& work, const Aggregator& agg, const std::string& name,
                           const std::string& scope) {
  const auto r = agg.admin({"api-token", "create", "--name", name, "--scope", scope});
  INFO("stderr: " << r.err);
  REQUIRE(r.exitCode == 0);
  REQUIRE(r.out.rfind("dwa_", 0) == 0);
  work.write(name + ".token", r.out, 0600);
  return work.at(name + ".token");
}

}  // namespace

TEST_CASE("fleet view: sign in, read the fleet, ack and accept in Chromium") {
  TempDir work;
  const std::vector<std::string> files = {"/etc/motd", "/etc/issue"};
  for (const auto& f : files) {
    work.write("root" + f, "welcome\n");
    REQUIRE(::chmod(work.at("root" + f).c_str(), 0644) == 0);
  }
  Aggregator agg(work);
  // Alerts fire soon after their drift opens.
  work.write("agg/aggregator.yaml", "data_dir: " + agg.dataDir() + "\nalerts:\n  settle: 100ms\n");
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=web")).exitCode == 0);
  work.write("fleet/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n"
             "  - path: /etc/motd\n    mode: \"0644\"\n"
             "  - path: /etc/issue\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  // In sync first, so that the change arrives as a delta (managed drift) after the snapshot.
  REQUIRE(waitFor([&] { return agentInSync(work.at("state")); }));
  for (const auto& f : files)
    REQUIRE(::chmod(work.at("root" + f).c_str(), 0600) == 0);
  REQUIRE(waitFor([&] {
    const auto a = agg.adminJson({"alerts", "list", "--status", "firing"});
    return a.size() == 2;
  }));
  const auto hosts = agg.hosts();
  REQUIRE(hosts.size() == 1);
  const std::string host = hosts[0]["id"];

  const std::string readToken = createApiToken(work, agg, "viewer", "read");
  const std::string writeToken = createApiToken(work, agg, "ops", "write");

  ProcessOptions options;
  options.timeout = std::chrono::seconds(240);
  // `env` finds node on the PATH; 127 when there is none.
  const auto run = runProcess(
      {"/usr/bin/env", "node", DRIFTWATCH_BROWSER_SCRIPT, "--url", agg.url() + "/", "--ca",
       agg.dataDir() + "/ca.crt", "--host", host, "--read-token", readToken, "--write-token",
       writeToken, "--writer", "ops", "--artifacts", DRIFTWATCH_BROWSER_ARTIFACTS},
      options);
  if (run.exitCode == 127) FAIL("node is missing: run scripts/install-deps\n" << run.err);
  INFO("fleet_view.mjs printed:\n"
       << run.out << run.err << "(screenshots of a failure in " DRIFTWATCH_BROWSER_ARTIFACTS ")");
  CHECK(!run.timedOut);
  REQUIRE(run.exitCode == 0);

  // What the buttons did, read on the aggregator's side.
  const json accepted = agg.adminJson({"drift", "list", "--status", "accepted"});
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0]["host"] == host);
  CHECK(accepted[0]["decision"]["reason"] == "0600 is right");
  CHECK(accepted[0]["decision"]["by"] == "ops");
  CHECK(accepted[0]["resource"] == "file:/etc/motd");
  const json waived = agg.adminJson({"drift", "list", "--status", "waived"});
  REQUIRE(waived.size() == 1);
  CHECK(waived[0]["resource"] == "file:/etc/issue");
  CHECK(waived[0]["decision"]["reason"] == "until the vendor fix");
  CHECK(!waived[0]["decision"]["until"].is_null());
  CHECK(agg.adminJson({"drift", "list"}).empty());
  // Every alert resolved: the two that fired, and no other (nothing was judged absent before
  // the agent observed it).
  size_t fired = 0;
  CHECK(agg.adminJson({"alerts", "list", "--status", "all"}).size() == 2);
  for (const auto& a : agg.adminJson({"alerts", "list", "--status", "all"})) {
    INFO("alert: " << a.dump());
    CHECK(a["status"] == "resolved");
    if (a["fired_at"].is_null()) continue;
    ++fired;
    CHECK(a["acked_by"] == (a["resource"] == "file:/etc/motd" ? json("ops") : json(nullptr)));
  }
  CHECK(fired == 2);
  // The read token's Ack was refused and audited; the write token's actions name it.
  CHECK(agg.audit("api_write_refused").size() == 1);
  const auto acks = agg.audit("alert_acknowledged");
  REQUIRE(acks.size() == 1);
  CHECK(acks[0]["peer"].get<std::string>().find("API token ops") != std::string::npos);
  const auto decisions = agg.audit("drift_accepted");
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0]["peer"].get<std::string>().find("API token ops") != std::string::npos);
  CHECK(agg.audit("drift_waived").size() == 1);
}
