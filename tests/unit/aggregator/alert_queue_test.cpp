// The alert queue and the dispatcher on a real fleet.db: drift from the real drift engine
// queues alerts in its own transaction, the dispatcher fires, groups, paces, retries and buries
// them at times the test gives. Only the network end is a fake: a sender that records what it
// was asked to send and answers as the test says.

#include "aggregator/alert/alert_queue.h"

#include <deque>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "aggregator/alert/alert_dispatcher.h"
#include "aggregator/alert/alert_payload.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/maintenance/maintenance_windows.h"
#include "aggregator/policy/policy_apply.h"
#include "tests/unit/aggregator/store_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kMotd = "file:/etc/motd";
const std::string kIssue = "file:/etc/issue";
const std::string kMode0644 = "present\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=8";
const std::string kMode0600 = "present\ttype=file\tmode=0600\towner=0\tgroup=0\tsize=8";
const Labels kWeb = {{"role", "web"}};
const std::string kPolicy =
    "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"
    "  - path: /etc/issue\n    mode: \"0644\"\n";

struct Sent {
  std::string receiver;
  std::string key;
  std::string event;
  json snapshot;
};

// Records every send; answers with the queued outcomes, then "delivered".
class RecordingSender : public AlertSender {
 public:
  SendResult send(const ReceiverConfig& r, const NotificationRecord& n,
                  const DeliveryRecord& d) override {
    sent.push_back({r.name, d.idempotencyKey, n.event, json::parse(n.body)});
    if (answers.empty()) return {};
    SendResult out = answers.front();
    answers.pop_front();
    return out;
  }

  std::vector<Sent> sent;
  std::deque<SendResult> answers;
};

AlertsConfig alertsConfig() {
  AlertsConfig c;
  c.settle = 30s;
  c.groupWait = 10s;
  c.retryBase = 1s;
  c.retryMax = 4s;
  c.maxAttempts = 4;
  ReceiverConfig ops;
  ops.name = "ops";
  c.receivers.push_back(ops);
  return c;
}

// A fleet with one reporting web host, the drift engine telling the alert queue, and a
// dispatcher over the same fleet.db (its own connection, as in `serve`).
struct AlertFleet : StoreFixture {
  explicit AlertFleet(AlertsConfig c = alertsConfig())
      : config(std::move(c)), queue(*store, config.settle), engine(*store, &queue) {
    auto second = FleetStore::open(dir.at("data"));
    REQUIRE(second.ok());
    workerStore.emplace(std::move(second).value());
    dispatcher.emplace(*workerStore, config, sender);
    host = addHost("web-01");
    apply(kPolicy, 1'000);
  }

  HostRecord addHost(const std::string& id) {
    HostRecord h;
    h.id = id;
    h.name = id + ".example.org";
    h.labels = kWeb;
    h.publicKey = std::string(32, static_cast<char>('a' + hosts++));
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(store->addHost(h).ok());
    h.lastSeq = 1;
    REQUIRE(store->advanceChain(h).ok());
    REQUIRE(store->putResource(h.id, kMotd, kMode0644, 1, 1).ok());
    REQUIRE(store->putResource(h.id, kIssue, kMode0644, 1, 1).ok());
    return h;
  }

  void apply(const std::string& yaml, int64_t nowMs) {
    PolicySource src;
    src.path = dir.at("web.yaml");
    src.text = yaml;
    ApplyRequest request;
    request.policies = {src};
    request.appliedBy = "alice";
    request.now = nowMs / 1000;
    request.driftListener = &queue;
    const auto applied = applyPolicies(*store, *audit, request);
    INFO((applied.ok() ? std::string() : applied.error().describe()));
    REQUIRE(applied.ok());
  }

  // A report of `h` that sets `resource` to `state`, judged in its own transaction.
  void report(const HostRecord& h, const std::string& resource, const std::string& state,
              int64_t now) {
    auto tx = store->begin();
    REQUIRE(tx.ok());
    REQUIRE(store->putResource(h.id, resource, state, now, 2).ok());
    const auto s = engine.onResourcesChanged(h, {resource}, now);
    INFO((s.ok() ? std::string() : s.error().describe()));
    REQUIRE(s.ok());
    REQUIRE(tx->commit().ok());
  }

  int64_t step(int64_t now) {
    auto next = dispatcher->step(now);
    INFO((next.ok() ? std::string() : next.error().describe()));
    REQUIRE(next.ok());
    return *next;
  }

  std::vector<AlertRecord> alerts(const std::string& status = "") const {
    AlertFilter f;
    f.status = status;
    auto a = AlertStore(store->database()).alerts(f);
    REQUIRE(a.ok());
    return *a;
  }

  std::vector<DeliveryRecord> deliveries(const std::string& status = "") const {
    auto d = AlertStore(store->database()).deliveries(status);
    REQUIRE(d.ok());
    return *d;
  }

  AlertsConfig config;
  AlertQueue queue;
  DriftEngine engine;
  std::optional<FleetStore> workerStore;
  RecordingSender sender;
  std::optional<AlertDispatcher> dispatcher;
  HostRecord host;
  int hosts = 0;
};

}  // namespace

TEST_CASE("drift that lasts its settle time fires once, as one notification per receiver") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  auto pending = fleet.alerts();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].status == "pending");
  CHECK(pending[0].kind == "drift");
  CHECK(pending[0].host == "web-01");
  CHECK(pending[0].resource == kMotd);
  CHECK(pending[0].severity == "medium");
  CHECK(pending[0].policy == "web");
  CHECK(pending[0].summary == "file:/etc/motd modified: mode 0644->0600");
  CHECK(pending[0].createdAt == 100'000);
  CHECK(pending[0].firesAt == 130'000);

  // Before the settle time ends nothing goes out; the dispatcher knows when to look again.
  CHECK(fleet.step(110'000) == 130'000);
  CHECK(fleet.sender.sent.empty());
  // Due: the host's group window opens for group_wait.
  CHECK(fleet.step(130'000) == 140'000);
  CHECK(fleet.alerts()[0].status == "pending");
  fleet.step(140'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  const Sent& sent = fleet.sender.sent[0];
  CHECK(sent.receiver == "ops");
  CHECK(sent.event == "firing");
  CHECK(sent.snapshot["host"]["name"] == "web-01.example.org");
  REQUIRE(sent.snapshot["alerts"].size() == 1);
  CHECK(sent.snapshot["alerts"][0]["resource"] == kMotd);
  const auto firing = fleet.alerts()[0];
  CHECK(firing.status == "firing");
  CHECK(firing.firedAt == 140'000);
  CHECK(firing.notified);
  const auto delivered = fleet.deliveries();
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].status == "delivered");
  CHECK(delivered[0].attempts == 1);
  CHECK(delivered[0].idempotencyKey == sent.key);

  // The same drift reported again is the same alert: nothing new goes out.
  fleet.report(fleet.host, kMotd, kMode0600, 150'000);
  fleet.step(200'000);
  CHECK(fleet.alerts().size() == 1);
  CHECK(fleet.sender.sent.size() == 1);
}

TEST_CASE("drift seen again by a later report fires before its settle time ends") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.report(fleet.host, kMotd, kMode0600, 105'000);
  CHECK(fleet.alerts()[0].firesAt == 105'000);
  fleet.step(115'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  CHECK(fleet.alerts()[0].status == "firing");
}

TEST_CASE("drift that resolves within its settle time alerts nothing at all") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.report(fleet.host, kMotd, kMode0644, 101'000);
  const auto alerts = fleet.alerts();
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].status == "resolved");
  CHECK(alerts[0].resolvedAt == 101'000);
  CHECK_FALSE(alerts[0].notified);
  fleet.step(1'000'000);
  CHECK(fleet.sender.sent.empty());
  CHECK(fleet.deliveries().empty());
}

TEST_CASE(
    "a fired alert resolves with its drift and says so, and drift that returns is a new alert") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.step(140'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  const int64_t firstId = fleet.alerts()[0].id;

  fleet.report(fleet.host, kMotd, kMode0644, 200'000);
  CHECK(fleet.alerts()[0].status == "resolved");
  fleet.step(210'000);
  REQUIRE(fleet.sender.sent.size() == 2);
  CHECK(fleet.sender.sent[1].event == "resolved");
  CHECK(fleet.sender.sent[1].snapshot["alerts"][0]["id"] == firstId);
  CHECK(fleet.sender.sent[1].key != fleet.sender.sent[0].key);
  CHECK(fleet.alerts()[0].resolveNotified);
  fleet.step(300'000);
  CHECK(fleet.sender.sent.size() == 2);  // announced once

  fleet.report(fleet.host, kMotd, kMode0600, 400'000);
  const auto alerts = fleet.alerts();
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].id != firstId);  // newest first
  CHECK(alerts[0].status == "pending");
  CHECK(alerts[1].status == "resolved");
}

TEST_CASE("an acknowledged alert still announces its resolution") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  AlertStore alerts(fleet.store->database());
  const int64_t id = fleet.alerts()[0].id;
  auto early = alerts.acknowledge(id, "bob", 101'000);
  REQUIRE(early.ok());
  CHECK_FALSE(*early);  // pending: nothing to acknowledge yet
  fleet.step(140'000);
  auto acked = alerts.acknowledge(id, "bob", 150'000);
  REQUIRE(acked.ok());
  CHECK(*acked);
  const auto a = fleet.alerts()[0];
  CHECK(a.status == "acknowledged");
  CHECK(a.ackedBy == "bob");
  CHECK(a.ackedAt == 150'000);
  fleet.report(fleet.host, kMotd, kMode0644, 200'000);
  fleet.step(210'000);
  REQUIRE(fleet.sender.sent.size() == 2);
  CHECK(fleet.sender.sent[1].event == "resolved");
}

TEST_CASE("alerts below min_severity are recorded and fire, but notify nobody") {
  AlertsConfig config = alertsConfig();
  config.minSeverity = model::Severity::kHigh;
  AlertFleet fleet(config);
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.step(200'000);
  const auto a = fleet.alerts();
  REQUIRE(a.size() == 1);
  CHECK(a[0].status == "firing");
  CHECK_FALSE(a[0].notified);
  CHECK(fleet.sender.sent.empty());
  // Nor is its resolution announced.
  fleet.report(fleet.host, kMotd, kMode0644, 300'000);
  fleet.step(400'000);
  CHECK(fleet.sender.sent.empty());
  CHECK(fleet.alerts()[0].status == "resolved");
}

TEST_CASE("a rule's own settle time and severity decide for its alerts") {
  AlertFleet fleet;
  fleet.apply(
      "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"
      "    settle: 0s\n    severity: critical\n  - path: /etc/issue\n    mode: \"0644\"\n",
      50'000);
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  const auto a = fleet.alerts();
  REQUIRE(a.size() == 1);
  CHECK(a[0].firesAt == 100'000);
  CHECK(a[0].severity == "critical");
}

TEST_CASE("alerts of one host due within group_wait go out as one notification") {
  AlertFleet fleet;
  const HostRecord other = fleet.addHost("web-02");
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.report(fleet.host, kIssue, kMode0600, 105'000);
  fleet.report(other, kMotd, kMode0600, 106'000);
  fleet.step(135'000);  // web-01's first alert is due, its window still open
  CHECK(fleet.sender.sent.empty());
  fleet.step(140'000);  // web-01's window closes; both of its alerts are due by then
  REQUIRE(fleet.sender.sent.size() == 1);
  CHECK(fleet.sender.sent[0].snapshot["host"]["id"] == "web-01");
  CHECK(fleet.sender.sent[0].snapshot["alerts"].size() == 2);
  fleet.step(146'000);
  REQUIRE(fleet.sender.sent.size() == 2);
  CHECK(fleet.sender.sent[1].snapshot["host"]["id"] == "web-02");
  CHECK(fleet.sender.sent[1].snapshot["alerts"].size() == 1);
}

TEST_CASE("a receiver's max_per_minute delays notifications and never drops them") {
  AlertsConfig config = alertsConfig();
  config.receivers[0].maxPerMinute = 1;
  AlertFleet fleet(config);
  const HostRecord other = fleet.addHost("web-02");
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.report(other, kMotd, kMode0600, 100'000);
  CHECK(fleet.step(140'000) == 200'000);  // the second waits for the minute to pass
  CHECK(fleet.sender.sent.size() == 1);
  const auto waiting = fleet.deliveries("pending");
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].attempts == 0);
  CHECK(waiting[0].nextAttemptAt == 200'000);
  fleet.step(199'999);
  CHECK(fleet.sender.sent.size() == 1);
  fleet.step(200'000);
  CHECK(fleet.sender.sent.size() == 2);
  CHECK(fleet.deliveries("delivered").size() == 2);
}

TEST_CASE("failed deliveries back off exponentially up to the cap, then go to the dead letter") {
  AlertFleet fleet;  // base 1s, cap 4s, 4 attempts
  CHECK(retryDelayMs(fleet.config, 1) == 1'000);
  CHECK(retryDelayMs(fleet.config, 2) == 2'000);
  CHECK(retryDelayMs(fleet.config, 3) == 4'000);
  CHECK(retryDelayMs(fleet.config, 30) == 4'000);
  for (int i = 0; i < 4; ++i)
    fleet.sender.answers.push_back({SendOutcome::kRetry, "HTTP 503: busy"});
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  CHECK(fleet.step(140'000) == 141'000);
  CHECK(fleet.step(141'000) == 143'000);
  CHECK(fleet.step(143'000) == 147'000);
  fleet.step(147'000);
  CHECK(fleet.sender.sent.size() == 4);
  const auto dead = fleet.deliveries("dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].attempts == 4);
  CHECK(dead[0].lastError == "HTTP 503: busy");
  fleet.step(1'000'000);
  CHECK(fleet.sender.sent.size() == 4);  // the dead are left alone

  // Every attempt carried the same idempotency key.
  for (const auto& s : fleet.sender.sent)
    CHECK(s.key == dead[0].idempotencyKey);

  // `alerts retry`: pending again, sent at the next round.
  auto revived = AlertStore(fleet.store->database()).revive(dead[0].id, 2'000'000);
  REQUIRE(revived.ok());
  CHECK(*revived);
  fleet.step(2'000'000);
  CHECK(fleet.sender.sent.size() == 5);
  CHECK(fleet.deliveries("delivered").size() == 1);
}

TEST_CASE("a permanent refusal is dead at once, and a host's notifications keep their order") {
  AlertsConfig config = alertsConfig();
  config.groupWait = 0s;
  AlertFleet fleet(config);
  fleet.sender.answers.push_back({SendOutcome::kPermanent, "HTTP 404: no such hook"});
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.step(130'000);
  const auto dead = fleet.deliveries("dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].attempts == 1);
  CHECK(dead[0].lastError == "HTTP 404: no such hook");

  // While the host's firing notification waits for its retry, its resolution waits behind it.
  fleet.sender.answers.push_back({SendOutcome::kRetry, "connection refused"});
  fleet.report(fleet.host, kIssue, kMode0600, 200'000);
  fleet.step(230'000);
  fleet.report(fleet.host, kIssue, kMode0644, 230'500);
  CHECK(fleet.step(230'500) == 231'000);
  CHECK(fleet.sender.sent.size() == 2);
  fleet.step(231'000);
  fleet.step(231'000);
  REQUIRE(fleet.sender.sent.size() == 4);
  CHECK(fleet.sender.sent[2].event == "firing");
  CHECK(fleet.sender.sent[3].event == "resolved");
}

TEST_CASE("HTTP replies: 2xx delivered, 408 429 and 5xx retried, other statuses dead") {
  CHECK(classifyReply(200, "").outcome == SendOutcome::kDelivered);
  CHECK(classifyReply(204, "").outcome == SendOutcome::kDelivered);
  CHECK(classifyReply(408, "").outcome == SendOutcome::kRetry);
  CHECK(classifyReply(429, "slow down").outcome == SendOutcome::kRetry);
  CHECK(classifyReply(503, "").outcome == SendOutcome::kRetry);
  CHECK(classifyReply(400, "").outcome == SendOutcome::kPermanent);
  CHECK(classifyReply(301, "").outcome == SendOutcome::kPermanent);
  const auto refused = classifyReply(404, std::string(1000, 'x') + "\x01");
  CHECK(refused.outcome == SendOutcome::kPermanent);
  CHECK(refused.error == "HTTP 404: " + std::string(200, 'x') + "...");
}

TEST_CASE("payloads: the webhook carries the key, Alertmanager gets its v2 alert list") {
  AlertRecord a;
  a.id = 7;
  a.host = "web-01";
  a.resource = kMotd;
  a.severity = "high";
  a.policy = "web";
  a.rule = "web.yaml:4:5 (files[0])";
  a.summary = "file:/etc/motd modified: mode 0644->0600";
  a.status = "resolved";
  a.createdAt = 1'764'300'000'000;
  a.resolvedAt = 1'764'300'600'000;
  HostRecord h;
  h.id = "web-01";
  h.name = "web-01.example.org";
  h.labels = kWeb;
  NotificationRecord n;
  n.id = 3;
  n.event = "resolved";
  n.body = notificationSnapshot("resolved", "web-01", h, {a}, 1'764'300'601'000);

  auto hook = webhookBody(n, "ops", "dw-key");
  REQUIRE(hook.ok());
  const json w = json::parse(*hook);
  CHECK(w["idempotency_key"] == "dw-key");
  CHECK(w["notification"] == 3);
  CHECK(w["receiver"] == "ops");
  CHECK(w["event"] == "resolved");
  CHECK(w["host"]["labels"]["role"] == "web");
  CHECK(w["alerts"][0]["resolved_at"] == "2025-11-28T03:30:00Z");

  auto am = alertmanagerBody(n, "dw-key");
  REQUIRE(am.ok());
  const json m = json::parse(*am);
  REQUIRE(m.is_array());
  REQUIRE(m.size() == 1);
  CHECK(m[0]["labels"]["alertname"] == "DriftwatchDrift");
  CHECK(m[0]["labels"]["host"] == "web-01.example.org");
  CHECK(m[0]["labels"]["resource"] == kMotd);
  CHECK(m[0]["labels"]["severity"] == "high");
  CHECK(m[0]["annotations"]["summary"] == a.summary);
  CHECK(m[0]["startsAt"] == "2025-11-28T03:20:00Z");
  CHECK(m[0]["endsAt"] == "2025-11-28T03:30:00Z");

  auto lines = syslogLines(n, "dw-key");
  REQUIRE(lines.ok());
  REQUIRE(lines->size() == 1);
  CHECK((*lines)[0] ==
        "alert 7 resolved: host web-01.example.org (web-01) high drift file:/etc/motd modified: "
        "mode 0644->0600 [policy web, key dw-key]");
}

TEST_CASE("counters for the metrics endpoint: alerts and deliveries by status, queue depth") {
  AlertFleet fleet;
  fleet.sender.answers.push_back({SendOutcome::kRetry, "timed out"});
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  fleet.report(fleet.host, kIssue, kMode0600, 100'000);
  fleet.report(fleet.host, kIssue, kMode0644, 100'500);
  fleet.step(140'000);
  AlertStore alerts(fleet.store->database());
  const auto byStatus = alerts.alertCounts();
  REQUIRE(byStatus.ok());
  CHECK(*byStatus == std::map<std::string, int64_t>{{"firing", 1}, {"resolved", 1}});
  const auto deliveries = alerts.deliveryCounts();
  REQUIRE(deliveries.ok());
  CHECK(*deliveries == std::map<std::string, int64_t>{{"pending", 1}});
  const auto depth = alerts.queueDepth();
  REQUIRE(depth.ok());
  CHECK(*depth == 1);
}

TEST_CASE("a maintenance window holds alerts until it ends, drift resolved inside never notifies") {
  AlertFleet fleet;
  MaintenanceWindow w;
  w.selector = {{"role", "web"}};
  w.startsAt = 50'000;
  w.endsAt = 500'000;
  w.reason = "kernel upgrade";
  w.createdBy = "alice";
  REQUIRE(MaintenanceWindows(*fleet.store).add(w, 50'000).ok());

  fleet.report(fleet.host, kMotd, kMode0600, 100'000);   // still open when the window ends
  fleet.report(fleet.host, kIssue, kMode0600, 100'000);  // resolved inside the window
  CHECK(fleet.step(130'000) == 500'000);                 // held until the window's end
  CHECK(fleet.step(200'000) == 500'000);
  fleet.report(fleet.host, kIssue, kMode0644, 300'000);
  fleet.step(400'000);
  CHECK(fleet.sender.sent.empty());

  // The window ends: what is still open alerts then (after its group window), and only that.
  fleet.step(500'000);
  fleet.step(510'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  REQUIRE(fleet.sender.sent[0].snapshot["alerts"].size() == 1);
  CHECK(fleet.sender.sent[0].snapshot["alerts"][0]["resource"] == kMotd);
}

TEST_CASE("a waiver that expires opens its drift again and alerts at once") {
  AlertFleet fleet;
  fleet.report(fleet.host, kMotd, kMode0600, 100'000);
  auto tx = fleet.store->begin();
  REQUIRE(tx.ok());
  REQUIRE(waiveDrift(*fleet.store,
                     {"web-01", kMotd, "vendor fix due", "alice", 110'000, int64_t{1'000'000}})
              .ok());
  REQUIRE(fleet.queue.resolved("web-01", kMotd, 110'000).ok());
  REQUIRE(tx->commit().ok());

  CHECK(fleet.step(200'000) == 1'000'000);  // the waiver's expiry is the next deadline
  CHECK(fleet.sender.sent.empty());
  fleet.step(1'000'000);
  CHECK(fleet.store->drift("web-01", kMotd).value()->status == "open");
  fleet.step(1'010'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  CHECK(fleet.sender.sent[0].event == "firing");
  CHECK(fleet.sender.sent[0].snapshot["alerts"][0]["resource"] == kMotd);
}

TEST_CASE("a host that stops reporting raises host_silent, resolved when it reports again") {
  AlertFleet fleet;  // host_silent_after: 15 minutes by default
  constexpr int64_t kMinute = 60'000;
  REQUIRE(fleet.store->touchHost("web-01", 10 * kMinute, "127.0.0.1:1").ok());
  fleet.step(20 * kMinute);
  CHECK(fleet.alerts().empty());
  fleet.step(25 * kMinute);
  auto silent = fleet.alerts();
  REQUIRE(silent.size() == 1);
  CHECK(silent[0].kind == "host_silent");
  CHECK(silent[0].resource.empty());
  CHECK(silent[0].severity == "high");
  fleet.step(25 * kMinute + 10'000);
  REQUIRE(fleet.sender.sent.size() == 1);
  CHECK(fleet.sender.sent[0].snapshot["alerts"][0]["kind"] == "host_silent");

  REQUIRE(fleet.store->touchHost("web-01", 26 * kMinute, "127.0.0.1:1").ok());
  fleet.step(27 * kMinute);
  CHECK(fleet.alerts()[0].status == "resolved");
  fleet.step(27 * kMinute + 10'000);
  REQUIRE(fleet.sender.sent.size() == 2);
  CHECK(fleet.sender.sent[1].event == "resolved");
}
