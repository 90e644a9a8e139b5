// Alerts end to end: a real aggregator judging a real agent's reports, and a webhook receiver
// on 127.0.0.1 that records what the aggregator's delivery worker sends it.

#include <map>
#include <set>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"
#include "tests/support/webhook_receiver.h"

using namespace driftwatch::testing;
using nlohmann::json;

namespace {

const std::string kMotd = "file:/etc/motd";
const std::string kIssue = "file:/etc/issue";

// An aggregator whose alerts go to `hook` (and the `more` receivers, YAML), with times short
// enough for a test.
void configure(const TempDir& work, const Aggregator& agg, const WebhookReceiver& hook,
               const std::string& settle, const std::string& more = {}) {
  work.write("agg/aggregator.yaml", "data_dir: " + agg.dataDir() +
                                        "\nalerts:\n  settle: " + settle +
                                        "\n  group_wait: 100ms\n  retry_base: 100ms\n"
                                        "  retry_max: 500ms\n  max_attempts: 1000\n"
                                        "  receivers:\n    - name: hook\n      type: webhook\n"
                                        "      url: " +
                                        hook.url() +
                                        "\n      headers: {X-Driftwatch-Test: e2e}\n"
                                        "      timeout: 2s\n" +
                                        more);
}

// The observed tree: /etc/motd and /etc/issue, both 0644, and the fleet policy for role=web.
void fleetSetup(TempDir& work, Aggregator& agg) {
  work.write("root/etc/motd", "welcome\n");
  work.write("root/etc/issue", "debian\n");
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  REQUIRE(::chmod(work.at("root/etc/issue").c_str(), 0644) == 0);
  work.write("p.yaml",
             "name: local\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"
             "  - path: /etc/issue\n    mode: \"0644\"\n");
  agg.start();
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=web")).exitCode == 0);
  work.write("fleet/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"
             "  - path: /etc/issue\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);
}

void waitInSync(const TempDir& work) {
  REQUIRE(waitFor([&] { return agentInSync(work.at("state")); }));
}

json driftOf(const Aggregator& agg, const std::string& resource) {
  for (const auto& d : agg.adminJson({"drift", "list", "--status", "all"})) {
    if (d["resource"] == resource) return d;
  }
  return nullptr;
}

json bodyOf(const ReceivedRequest& r) {
  return json::parse(r.body);
}

std::vector<ReceivedRequest> accepted(const WebhookReceiver& hook) {
  std::vector<ReceivedRequest> out;
  for (auto& r : hook.requests()) {
    if (r.answered == 200) out.push_back(std::move(r));
  }
  return out;
}

// The ids of the alerts there are now. While an agent starts, its first reports can show drift
// that its next ones resolve: the alerts of such a flap are not the test's.
std::set<int64_t> alertIds(const Aggregator& agg) {
  std::set<int64_t> out;
  for (const auto& a : agg.adminJson({"alerts", "list", "--status", "all"}))
    out.insert(a["id"].get<int64_t>());
  return out;
}

// How often each (alert id, event) was in an accepted request, but for the alerts in `skip`.
std::map<std::pair<int64_t, std::string>, int> mentionsOf(const WebhookReceiver& hook,
                                                          const std::set<int64_t>& skip) {
  std::map<std::pair<int64_t, std::string>, int> out;
  for (const auto& r : accepted(hook)) {
    const json body = bodyOf(r);
    for (const auto& a : body["alerts"]) {
      const int64_t id = a["id"];
      if (!skip.contains(id)) ++out[{id, body["event"].get<std::string>()}];
    }
  }
  return out;
}

}  // namespace

TEST_CASE(
    "fleet alerts: drift notifies one webhook, a revert resolves it, a flap notifies nothing") {
  TempDir work;
  WebhookReceiver hook;
  WebhookReceiver gone;  // a second receiver, refusing for now
  gone.failWith(404);
  Aggregator agg(work);
  configure(work, agg, hook, "5s",
            "    - {name: gone, type: webhook, url: '" + gone.url("/gone") + "'}\n");
  fleetSetup(work, agg);
  INFO("aggregator stderr:\n" << agg.stderrText());
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  waitInSync(work);

  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] { return hook.requests().size() == 1; }));
  const ReceivedRequest fired = hook.requests()[0];
  CHECK(fired.method == "POST");
  CHECK(fired.target == "/hook");
  CHECK(fired.headers.at("content-type") == "application/json");
  CHECK(fired.headers.at("x-driftwatch-test") == "e2e");
  const json firedBody = bodyOf(fired);
  CHECK(firedBody["idempotency_key"] == fired.headers.at("idempotency-key"));
  CHECK(firedBody["event"] == "firing");
  CHECK(firedBody["receiver"] == "hook");
  CHECK(firedBody["host"]["labels"]["role"] == "web");
  REQUIRE(firedBody["alerts"].size() == 1);
  CHECK(firedBody["alerts"][0]["resource"] == kMotd);
  CHECK(firedBody["alerts"][0]["summary"] == "file:/etc/motd modified: mode 0644->0600");

  // The refusing receiver's delivery is dead at once; once it is fixed, `alerts retry` sends it
  // again under the same key.
  REQUIRE(waitFor([&] {
    return agg.adminJson({"alerts", "deliveries"}).size() == 1;  // dead ones by default
  }));
  const json dead = agg.adminJson({"alerts", "deliveries"})[0];
  CHECK(dead["receiver"] == "gone");
  CHECK(dead["attempts"] == 1);
  CHECK(dead["last_error"] == "HTTP 404: receiver unavailable");
  CHECK(agg.admin({"alerts", "deliveries"}).out.find("HTTP 404") != std::string::npos);
  gone.failWith(0);
  const std::string deadId = std::to_string(dead["id"].get<int64_t>());
  REQUIRE(agg.admin({"alerts", "retry", deadId}).exitCode == 0);
  REQUIRE(waitFor([&] { return accepted(gone).size() == 1; }));
  CHECK(bodyOf(accepted(gone)[0])["idempotency_key"] == dead["idempotency_key"]);
  REQUIRE(waitFor([&] { return agg.adminJson({"alerts", "deliveries"}).empty(); }));
  CHECK(agg.admin({"alerts", "retry", deadId}).exitCode == 1);  // delivered: nothing to retry

  const json firing = agg.adminJson({"alerts", "list"});
  REQUIRE(firing.size() == 1);
  CHECK(firing[0]["status"] == "firing");
  const std::string alertId = std::to_string(firing[0]["id"].get<int64_t>());
  const auto ack = agg.admin({"alerts", "ack", alertId, "--by", "carol"});
  INFO(ack.err);
  REQUIRE(ack.exitCode == 0);
  CHECK(agg.adminJson({"alerts", "list", "--status", "acknowledged"})[0]["acked_by"] == "carol");
  CHECK(agg.admin({"alerts", "ack", alertId}).exitCode == 1);  // acknowledged already

  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  REQUIRE(waitFor([&] { return hook.requests().size() == 2; }));
  const json resolvedBody = bodyOf(hook.requests()[1]);
  CHECK(resolvedBody["event"] == "resolved");
  CHECK(resolvedBody["alerts"][0]["id"] == firing[0]["id"]);
  CHECK(resolvedBody["idempotency_key"] != firedBody["idempotency_key"]);
  CHECK(agg.adminJson({"alerts", "list"}).empty());
  // Resolved, and notified (the agent's start can leave alerts of a flap, never notified).
  int notifiedResolved = 0;
  for (const auto& a : agg.adminJson({"alerts", "list", "--status", "resolved"}))
    notifiedResolved += a["notified"] == true ? 1 : 0;
  CHECK(notifiedResolved == 1);

  // A flap: the drift opens and resolves well within the 5s settle time.
  const json before = driftOf(agg, kMotd);
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] { return driftOf(agg, kMotd)["status"] == "open"; }));
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  INFO("drift: " << driftOf(agg, kMotd).dump() << "\nbefore: " << before.dump()
                 << "\nagent: " << agentStatus(work.at("state")).dump());
  REQUIRE(waitFor([&] {
    const json d = driftOf(agg, kMotd);
    return d["status"] == "resolved" && d["first_seen"] != before["first_seen"];
  }));
  const json flapped = agg.adminJson({"alerts", "list", "--status", "all"});
  REQUIRE(flapped.size() >= 2);  // newest first
  CHECK(flapped[0]["resource"] == kMotd);
  CHECK(flapped[0]["status"] == "resolved");
  CHECK(flapped[0]["notified"] == false);
  CHECK(flapped[0]["fired_at"].is_null());
  // Past its settle time, still nothing was sent for it.
  CHECK_FALSE(waitFor([&] { return hook.requests().size() > 2; }, std::chrono::seconds(6)));
  const json deliveries = agg.adminJson({"alerts", "deliveries", "--status", "all"});
  REQUIRE(deliveries.size() == 4);  // firing and resolved, to both receivers
  for (const auto& d : deliveries)
    CHECK(d["status"] == "delivered");
}

TEST_CASE("fleet alerts: a failing receiver and an aggregator crash lose and duplicate nothing") {
  TempDir work;
  WebhookReceiver hook;
  Aggregator agg(work);
  configure(work, agg, hook, "2s");
  fleetSetup(work, agg);
  INFO("aggregator stderr:\n" << agg.stderrText());
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  waitInSync(work);
  const std::set<int64_t> startup = alertIds(agg);

  hook.failWith(503);
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] {
    const auto pending = agg.adminJson({"alerts", "deliveries", "--status", "pending"});
    return !pending.empty() && pending.back()["attempts"] >= 2;  // retried, in vain so far
  }));
  CHECK(agg.adminJson({"alerts", "deliveries", "--status", "pending"}).back()["last_error"] ==
        "HTTP 503: receiver unavailable");

  // A crash in the middle of the retries; the host changes while the aggregator is down.
  agg.kill();
  REQUIRE(::chmod(work.at("root/etc/issue").c_str(), 0600) == 0);
  agg.start();
  REQUIRE(waitFor([&] { return driftOf(agg, kIssue)["status"] == "open"; }));
  const size_t failedSoFar = hook.requests().size();
  REQUIRE(waitFor([&] { return hook.requests().size() > failedSoFar; }));  // resumed

  hook.failWith(0);
  REQUIRE(waitFor([&] {
    return agg.adminJson({"alerts", "list", "--status", "firing"}).size() == 2 &&
           agg.adminJson({"alerts", "deliveries", "--status", "pending"}).empty();
  }));
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  REQUIRE(::chmod(work.at("root/etc/issue").c_str(), 0644) == 0);
  // Two alerts, each announced firing and resolved: four mentions in accepted requests.
  REQUIRE(waitFor([&] {
    return mentionsOf(hook, startup).size() == 4 &&
           agg.adminJson({"alerts", "deliveries", "--status", "pending"}).empty();
  }));

  // Every accepted request had its own key, and each alert was announced firing once and
  // resolved once.
  const auto ok = accepted(hook);
  std::set<std::string> keys;
  for (const auto& r : ok)
    keys.insert(bodyOf(r)["idempotency_key"].get<std::string>());
  CHECK(keys.size() == ok.size());
  auto mentions = mentionsOf(hook, startup);
  std::set<int64_t> ours;
  for (const auto& a : agg.adminJson({"alerts", "list", "--status", "all"})) {
    if (!startup.contains(a["id"].get<int64_t>()) && a["notified"] == true)
      ours.insert(a["id"].get<int64_t>());
  }
  REQUIRE(ours.size() == 2);
  for (const int64_t id : ours) {
    CHECK(mentions[{id, "firing"}] == 1);
    CHECK(mentions[{id, "resolved"}] == 1);
  }
  CHECK(mentions.size() == 4);
  // Each failed request was a try of a key that was later accepted.
  for (const auto& r : hook.requests())
    CHECK(keys.contains(bodyOf(r)["idempotency_key"].get<std::string>()));
  const json deliveries = agg.adminJson({"alerts", "deliveries", "--status", "all"});
  CHECK(deliveries.size() == keys.size());
  for (const auto& d : deliveries)
    CHECK(d["status"] == "delivered");
}
