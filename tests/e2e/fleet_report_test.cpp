// Reports end to end: a real agent daemon delivering its outbox to the real aggregator over
// mutual TLS, through revocation and through the aggregator being killed.

#include <cstdio>
#include <cstdlib>
#include <map>

#include <doctest/doctest.h>

#include "tests/e2e/agent_harness.h"
#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch::testing;
using nlohmann::json;

namespace {

// An observed tree with /etc under a recursive rule and a baseline of it.
void layOut(const TempDir& work) {
  work.write("root/etc/motd", "welcome\n");
  work.write("root/etc/hosts", "127.0.0.1 localhost\n");
  work.mkdir("root/etc/many");
  work.write("p.yaml", "name: fleet\nfiles:\n  - path: /etc\n    recursive: true\n");
  recordBaseline(work, work.at("root"));
}

// Waits until the agent has nothing left to send and the aggregator holds the agent's state
// (a state other than `stale`: the agent saw the change the test made).
bool waitInSync(const Aggregator& agg, const std::string& stateDir, const std::string& stale = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  return waitFor(
      [&] {
        const auto s = agentStatus(stateDir);
        if (s.is_null() || s["uplink"]["in_sync"] != true) return false;
        if (s["uplink"]["state_digest"] == stale) return false;
        const auto h = agg.host(s["uplink"]["host_id"]);
        return !h.is_null() && h["state_digest"] == s["uplink"]["state_digest"];
      },
      timeout);
}

// Moves a complete file into place: the agent sees each file appear once, with its content.
void placeFile(const TempDir& work, const std::string& name, const std::string& content) {
  work.write("staging/" + name, content);
  REQUIRE(std::rename(work.at("staging/" + name).c_str(),
                      work.at("root/etc/many/" + name).c_str()) == 0);
}

std::string fileName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "f%05d", i);
  return name;
}

}  // namespace

TEST_CASE("fleet: the first report is a snapshot, later changes arrive as deltas") {
  TempDir work;
  layOut(work);
  Aggregator agg(work);
  agg.start();
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken()).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  INFO("agent stderr:\n" << daemon.stderrText() << "\naggregator stderr:\n" << agg.stderrText());
  REQUIRE(waitInSync(agg, work.at("state")));

  const std::string hostId = agentStatus(work.at("state"))["uplink"]["host_id"];
  auto host = agg.host(hostId);
  CHECK(host["resources"] == 4);  // /etc, /etc/motd, /etc/hosts, /etc/many
  CHECK(!host["last_report"].is_null());
  CHECK(host["agent_version"] != "");
  const auto seqAfterSnapshot = host["seq"].get<int>();

  work.write("root/etc/motd", "changed\n");
  work.remove("root/etc/hosts");
  REQUIRE(waitInSync(agg, work.at("state"), host["state_digest"]));
  host = agg.host(hostId);
  CHECK(host["resources"] == 3);
  CHECK(host["seq"].get<int>() > seqAfterSnapshot);
  std::map<std::string, std::vector<std::string>> states;
  for (const auto& row : agg.history(hostId))
    states[row["resource"]].push_back(row["state"]);
  REQUIRE(states["file:/etc/motd"].size() == 2);
  CHECK(states["file:/etc/motd"][1].find("size=8") != std::string::npos);
  CHECK(states["file:/etc/hosts"] ==
        std::vector<std::string>{states["file:/etc/hosts"][0], "absent"});
  // The agent dropped what was acknowledged.
  CHECK(agentStatus(work.at("state"))["outbox"]["pending"] == 0);
  // Same machine, same clock: the measured skew is a few ms at most.
  REQUIRE(host["clock_skew_ms"].is_number());
  CHECK(std::abs(host["clock_skew_ms"].get<int64_t>()) < 2000);

  // The time the agent was stopped is a coverage gap the aggregator shows for the host.
  CHECK(agg.adminJson({"hosts", "gaps", hostId}).empty());
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(std::chrono::seconds(30)) == 0);
  daemon.start();
  REQUIRE(waitFor([&] {
    const auto gaps = agg.adminJson({"hosts", "gaps", hostId});
    return gaps.size() == 1 && !gaps[0]["ended_at"].is_null();
  }));
  const auto gap = agg.adminJson({"hosts", "gaps", hostId})[0];
  CHECK(gap["kind"] == "restart");
  CHECK(gap["detail"] == "the agent was stopped");
  CHECK(gap["started_at"] != "");
  const auto text = agg.admin({"hosts", "gaps", hostId});
  CHECK(text.out.find("restart") != std::string::npos);
}

TEST_CASE("fleet: a revoked host is refused at once and the refusal is audited") {
  TempDir work;
  layOut(work);
  Aggregator agg(work);
  agg.start();
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken()).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  REQUIRE(waitInSync(agg, work.at("state")));
  const std::string hostId = agentStatus(work.at("state"))["uplink"]["host_id"];
  const auto before = agg.host(hostId);

  // An enrolled host may send large bodies (this one is garbage: read, then refused)...
  RawReporter raw(work.at("state"));
  const std::string large(100 * 1024, 'x');
  const auto beforeRevoke = raw.tryPost(large);
  REQUIRE(beforeRevoke.ok());
  CHECK(beforeRevoke->status == 400);

  const auto revoked = agg.admin({"hosts", "revoke", hostId});
  INFO("revoke: " << revoked.out << revoked.err);
  REQUIRE(revoked.exitCode == 0);
  CHECK(agg.admin({"hosts", "revoke", "no-such-host"}).exitCode != 0);
  // ...a revoked one may not: its body is refused from the header, before it is read.
  const auto afterRevoke = raw.tryPost(large);
  CHECK((!afterRevoke.ok() || afterRevoke->status == 413));

  work.write("root/etc/motd", "after the revocation\n");
  REQUIRE(waitFor([&] {
    const auto s = agentStatus(work.at("state"));
    return !s["uplink"]["last_error"].is_null() &&
           s["uplink"]["last_error"].get<std::string>().find("revoked") != std::string::npos;
  }));
  const auto after = agg.host(hostId);
  CHECK(!after["revoked_at"].is_null());
  CHECK(after["seq"] == before["seq"]);
  CHECK(after["state_digest"] == before["state_digest"]);
  CHECK(agg.audit("host_revoked").size() == 1);
  bool refusedAudited = false;
  for (const auto& a : agg.audit("report_refused"))
    refusedAudited |= a["host"] == hostId && a["detail"] == "host revoked";
  CHECK(refusedAudited);
  // The change waits in the agent's outbox; nothing of it reached the store.
  CHECK(agentStatus(work.at("state"))["outbox"]["pending"].get<int>() >= 1);
  for (const auto& row : agg.history(hostId))
    CHECK(row["state"].get<std::string>().find("size=21") == std::string::npos);
}

TEST_CASE("fleet: 10,000 changes survive two SIGKILLs of the aggregator, each stored once") {
  TempDir work;
  layOut(work);
  work.mkdir("staging");
  Aggregator agg(work);
  agg.start();
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken()).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 20ms\nretry_max: 500ms\n");
  daemon.start();
  INFO("agent stderr:\n" << daemon.stderrText() << "\naggregator stderr:\n" << agg.stderrText());
  REQUIRE(waitInSync(agg, work.at("state")));
  const std::string hostId = agentStatus(work.at("state"))["uplink"]["host_id"];

  constexpr int kFiles = 10'000;
  int next = 0;
  const auto placeUpTo = [&](int end) {
    for (; next < end; ++next)
      placeFile(work, fileName(next), "content of " + fileName(next) + "\n");
  };
  const auto seq = [&] { return agg.host(hostId)["seq"].get<int>(); };

  // Killed while reports flow, then changes pile up while it is down.
  placeUpTo(2'500);
  REQUIRE(waitFor([&] { return seq() > 1; }));
  agg.kill();
  placeUpTo(5'000);
  agg.start();
  // Killed again once it has taken some of the backlog, in the middle of the stream.
  const int seqBefore = seq();
  placeUpTo(7'500);
  REQUIRE(waitFor([&] { return agg.running() && seq() > seqBefore; }));
  agg.kill();
  placeUpTo(kFiles);
  agg.start();

  REQUIRE(waitFor([&] { return agg.host(hostId)["resources"] == 4 + kFiles; },
                  std::chrono::seconds(240)));
  REQUIRE(waitInSync(agg, work.at("state")));
  const auto status = agentStatus(work.at("state"));
  const auto host = agg.host(hostId);
  CHECK(host["state_digest"] == status["uplink"]["state_digest"]);
  CHECK(host["seq"] == status["uplink"]["acked_seq"]);
  CHECK(host["resources"] == 4 + kFiles);

  std::map<std::string, int> rows;
  for (const auto& row : agg.history(hostId))
    ++rows[row["resource"]];
  int once = 0;
  std::string wrong;
  for (int i = 0; i < kFiles; ++i) {
    const int n = rows["file:/etc/many/" + fileName(i)];
    once += n == 1 ? 1 : 0;
    if (n != 1 && wrong.size() < 400) wrong += fileName(i) + ": " + std::to_string(n) + " rows; ";
  }
  CHECK_MESSAGE(once == kFiles, wrong);
}
