// The admin API's alerts and deliveries, and the actions on the fleet (ack, retry, accept,
// waive) through the real AdminApi on a real fleet store: scopes, state checks, audit records
// and what the bodies may hold.

#include <doctest/doctest.h>

#include "aggregator/alert/alert_store.h"
#include "aggregator/api/admin_api.h"
#include "aggregator/api/fleet_actions.h"
#include "aggregator/api/request_body.h"
#include "aggregator/enroll/tokens.h"
#include "aggregator/server/report_gate.h"
#include "tests/unit/aggregator/api_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

constexpr int64_t kDayMs = 86'400'000;

Json body(const HttpResponse& r) {
  INFO("body: " << r.body);
  const Json j = Json::parse(r.body, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

std::string errorOf(const HttpResponse& r) {
  const Json j = body(r);
  REQUIRE(j.contains("error"));
  return j["error"].get<std::string>();
}

std::vector<AuditRecord> auditOf(const FleetStore& store, const std::string& event) {
  auto rows = store.audit(1000);
  REQUIRE(rows.ok());
  std::vector<AuditRecord> out;
  for (const auto& r : *rows) {
    if (r.event == event) out.push_back(r);
  }
  return out;
}

// ApiFleet with alerts, a dead and a delivered delivery, and a second token that may act.
struct ActionFleet : ApiFleet {
  ActionFleet() {
    auto created = ApiTokens(*store).create("ops", std::nullopt, kNowMs / 1000, kScopeWrite);
    REQUIRE(created.ok());
    writeToken = created->token;
    firing = addAlert("web1", "file:/etc/motd", "firing");
    pending = addAlert("web2", "file:/etc/ssh/sshd_config", "pending");
    resolved = addAlert("db1", "sysctl:vm.swappiness", "resolved");
    dead = addDelivery("dead");
    delivered = addDelivery("delivered");
  }

  int64_t addAlert(const std::string& host, const std::string& resource,
                   const std::string& status) {
    AlertRecord a;
    a.host = host;
    a.resource = resource;
    a.severity = "high";
    a.summary = resource + " drifted on " + host;
    a.status = status;
    a.createdAt = a.firesAt = kNowMs - 60'000;
    if (status != "pending") a.firedAt = a.firesAt;
    if (status == "resolved") a.resolvedAt = kNowMs - 1000;
    auto id = AlertStore(store->database()).addAlert(a);
    REQUIRE(id.ok());
    return *id;
  }

  int64_t addDelivery(const std::string& status) {
    const AlertStore alerts(store->database());
    NotificationRecord n{
        .id = 0, .host = "web1", .event = "firing", .createdAt = kNowMs, .body = "{}"};
    auto notification = alerts.addNotification(n);
    REQUIRE(notification.ok());
    DeliveryRecord d;
    d.notification = *notification;
    d.receiver = "ops-webhook";
    d.idempotencyKey = "key-" + status;
    d.status = status;
    d.attempts = 8;
    d.lastError = "HTTP 503";
    d.nextAttemptAt = d.createdAt = kNowMs - 60'000;
    REQUIRE(alerts.addDelivery(d).ok());
    auto all = alerts.deliveries("");
    REQUIRE(all.ok());
    return all->back().id;
  }

  HttpResponse post(const std::string& target, const std::string& text,
                    const std::string& as = "write", const std::string& type = "application/json") {
    HttpRequest r;
    r.method = "POST";
    r.target = target;
    r.contentType = type;
    r.body = text;
    r.peer.address = "127.0.0.1:5555";
    r.authorization = "Bearer " + (as == "write" ? writeToken : as);
    return api->handle(r);
  }

  std::optional<AlertRecord> alert(int64_t id) {
    auto a = AlertStore(store->database()).alert(id);
    REQUIRE(a.ok());
    return *a;
  }

  DriftRecord driftOf(const std::string& host, const std::string& resource) {
    auto d = store->drift(host, resource);
    REQUIRE(d.ok());
    REQUIRE(d->has_value());
    return **d;
  }

  std::string writeToken;
  int64_t firing = 0, pending = 0, resolved = 0, dead = 0, delivered = 0;
};

}  // namespace

TEST_CASE("admin API: alerts, newest first, unresolved by default, with filters") {
  ActionFleet f;
  const auto list = f.get("/api/v1/alerts");
  REQUIRE(list.status == 200);
  const Json unresolved = body(list);
  REQUIRE(unresolved.size() == 2);
  CHECK(unresolved[0]["id"] == f.pending);
  CHECK(unresolved[1]["id"] == f.firing);
  CHECK(unresolved[1]["status"] == "firing");
  CHECK(unresolved[1]["summary"] == "file:/etc/motd drifted on web1");
  CHECK(unresolved[1]["acked_by"].is_null());

  CHECK(body(f.get("/api/v1/alerts?status=all")).size() == 3);
  CHECK(body(f.get("/api/v1/alerts?status=resolved"))[0]["host"] == "db1");
  CHECK(body(f.get("/api/v1/alerts?status=all&host=web2")).size() == 1);
  CHECK(body(f.get("/api/v1/alerts?status=all&limit=1"))[0]["id"] == f.resolved);

  const auto one = f.get("/api/v1/alerts/" + std::to_string(f.firing));
  REQUIRE(one.status == 200);
  CHECK(body(one)["resource"] == "file:/etc/motd");

  const auto bad = f.get("/api/v1/alerts?status=burning");
  CHECK(bad.status == 400);
  CHECK(errorOf(bad).find("status=burning") != std::string::npos);
  CHECK(f.get("/api/v1/alerts?host=nosuch").status == 404);
  CHECK(f.get("/api/v1/alerts?limit=0").status == 400);
  CHECK(f.get("/api/v1/alerts/999").status == 404);
  CHECK(f.get("/api/v1/alerts/x1").status == 404);
}

TEST_CASE("admin API: deliveries, dead letters by default") {
  ActionFleet f;
  const Json dead = body(f.get("/api/v1/deliveries"));
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["id"] == f.dead);
  CHECK(dead[0]["receiver"] == "ops-webhook");
  CHECK(dead[0]["next_attempt_at"].is_null());
  CHECK(body(f.get("/api/v1/deliveries?status=all")).size() == 2);
  CHECK(f.get("/api/v1/deliveries?status=lost").status == 400);
}

TEST_CASE("admin API: a read-only token may not act, and the refusal is audited") {
  ActionFleet f;
  const auto r = f.post("/api/v1/alerts/" + std::to_string(f.firing) + "/ack", "", f.token);
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("--scope write") != std::string::npos);
  CHECK(f.alert(f.firing)->status == "firing");
  const auto refused = auditOf(*f.store, "api_write_refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].detail.find("alice") != std::string::npos);
  CHECK(refused[0].detail.find(f.token) == std::string::npos);
  // A write token reads too.
  CHECK(f.get("/api/v1/hosts", "Bearer " + f.writeToken).status == 200);
}

TEST_CASE("admin API: ack a firing alert, once") {
  ActionFleet f;
  const std::string path = "/api/v1/alerts/" + std::to_string(f.firing) + "/ack";
  const auto acked = f.post(path, R"({"by": "bob"})");
  REQUIRE(acked.status == 200);
  CHECK(body(acked)["status"] == "acknowledged");
  CHECK(body(acked)["acked_by"] == "bob");
  CHECK(f.alert(f.firing)->ackedBy == "bob");
  const auto records = auditOf(*f.store, "alert_acknowledged");
  REQUIRE(records.size() == 1);
  CHECK(records[0].host == "web1");
  CHECK(records[0].peer.find("API token ops") != std::string::npos);

  const auto again = f.post(path, "");
  CHECK(again.status == 409);
  CHECK(errorOf(again).find("acknowledged already, by bob") != std::string::npos);
  CHECK(f.post("/api/v1/alerts/" + std::to_string(f.pending) + "/ack", "").status == 409);
  CHECK(f.post("/api/v1/alerts/" + std::to_string(f.resolved) + "/ack", "").status == 409);
  CHECK(f.post("/api/v1/alerts/999/ack", "").status == 404);
  CHECK(f.post("/api/v1/alerts/abc/ack", "").status == 404);

  // Without "by", the token's name is who acked.
  const int64_t other = f.addAlert("web2", "file:/etc/hosts", "firing");
  const auto byToken = f.post("/api/v1/alerts/" + std::to_string(other) + "/ack", "");
  REQUIRE(byToken.status == 200);
  CHECK(body(byToken)["acked_by"] == "ops");
}

TEST_CASE("admin API: actions are POSTs with JSON bodies of known string fields") {
  ActionFleet f;
  const std::string path = "/api/v1/alerts/" + std::to_string(f.firing) + "/ack";
  const auto get = f.get(path, "Bearer " + f.writeToken);
  CHECK(get.status == 405);
  bool allowPost = false;
  for (const auto& [k, v] : get.headers)
    allowPost = allowPost || (k == "Allow" && v == "POST");
  CHECK(allowPost);

  const auto unknown = f.post(path, R"({"by": "bob", "note": "x"})");
  CHECK(unknown.status == 400);
  CHECK(errorOf(unknown).find("note") != std::string::npos);
  CHECK(f.post(path, R"({"by": 7})").status == 400);
  CHECK(f.post(path, R"(["by"])").status == 400);
  CHECK(f.post(path, R"({"by": "a", "by": "b"})").status == 400);
  CHECK(f.post(path, "{not json").status == 400);
  const auto form = f.post(path, "by=bob", "write", "application/x-www-form-urlencoded");
  CHECK(form.status == 400);
  CHECK(errorOf(form).find("application/json") != std::string::npos);
  CHECK(f.post(path + "?by=bob", "").status == 400);
  // None of that acknowledged anything.
  CHECK(f.alert(f.firing)->status == "firing");
}

TEST_CASE("admin API: retry a dead delivery") {
  ActionFleet f;
  const auto revived = f.post("/api/v1/deliveries/" + std::to_string(f.dead) + "/retry", "");
  REQUIRE(revived.status == 200);
  CHECK(body(revived)["status"] == "pending");
  CHECK(body(revived)["attempts"] == 0);
  CHECK(auditOf(*f.store, "alert_delivery_retried").size() == 1);
  const auto notDead = f.post("/api/v1/deliveries/" + std::to_string(f.delivered) + "/retry", "");
  CHECK(notDead.status == 409);
  CHECK(errorOf(notDead).find("not dead") != std::string::npos);
  CHECK(f.post("/api/v1/deliveries/999/retry", "").status == 404);
}

TEST_CASE("admin API: accept drift, its alert resolves, the decision is audited") {
  ActionFleet f;
  const auto accepted =
      f.post("/api/v1/drift/accept",
             R"({"host": "web1", "resource": "/etc/motd", "reason": "new banner", "by": "carol"})");
  REQUIRE(accepted.status == 200);
  const Json item = body(accepted);
  CHECK(item["status"] == "accepted");
  CHECK(item["decision"]["by"] == "carol");
  CHECK(item["decision"]["reason"] == "new banner");
  CHECK(f.driftOf("web1", "file:/etc/motd").status == "accepted");
  CHECK(f.alert(f.firing)->status == "resolved");
  const auto records = auditOf(*f.store, "drift_accepted");
  REQUIRE(records.size() == 1);
  CHECK(records[0].detail.find("new banner") != std::string::npos);
  CHECK(records[0].peer.find("API token ops") != std::string::npos);

  // Resolved drift: nothing to accept.
  const auto gone = f.post("/api/v1/drift/accept",
                           R"({"host": "db1", "resource": "sysctl:vm.swappiness", "reason": "x"})");
  CHECK(gone.status == 409);
  CHECK(f.post("/api/v1/drift/accept", R"({"host": "nosuch", "resource": "/x", "reason": "x"})")
            .status == 404);
  CHECK(
      f.post("/api/v1/drift/accept", R"({"host": "web2", "resource": "/etc/hosts", "reason": "x"})")
          .status == 404);
  const auto noReason =
      f.post("/api/v1/drift/accept", R"({"host": "web2", "resource": "/etc/ssh/sshd_config"})");
  CHECK(noReason.status == 400);
  CHECK(errorOf(noReason).find("reason") != std::string::npos);
  const auto blank =
      f.post("/api/v1/drift/accept",
             R"({"host": "web2", "resource": "/etc/ssh/sshd_config", "reason": " "})");
  CHECK(blank.status == 400);
  CHECK(
      f.post("/api/v1/drift/accept",
             R"({"host": "web2", "resource": "/etc/ssh/sshd_config", "reason": "x", "for": "1d"})")
          .status == 400);
  CHECK(f.driftOf("web2", "file:/etc/ssh/sshd_config").status == "open");
}

TEST_CASE("admin API: waive drift for a duration on the aggregator's clock, or until a date") {
  ActionFleet f;
  const auto waived = f.post(
      "/api/v1/drift/waive",
      R"({"host": "web2", "resource": "/etc/ssh/sshd_config", "reason": "vendor fix", "for": "30d"})");
  REQUIRE(waived.status == 200);
  CHECK(body(waived)["status"] == "waived");
  CHECK(body(waived)["decision"]["by"] == "ops");
  CHECK(f.driftOf("web2", "file:/etc/ssh/sshd_config").waivedUntil == kNowMs + 30 * kDayMs);

  const auto until =
      f.post("/api/v1/drift/waive",
             R"({"host": "web1", "resource": "/etc/motd", "reason": "r", "until": "2027-02-01"})");
  REQUIRE(until.status == 200);
  CHECK(body(until)["decision"]["until"] == "2027-02-01T00:00:00Z");

  const auto both =
      f.post("/api/v1/drift/waive", R"({"host": "web1", "resource": "/etc/motd", "reason": "r", )"
                                    R"("until": "2027-02-01", "for": "1d"})");
  CHECK(both.status == 400);
  CHECK(errorOf(both).find("exactly one expiry") != std::string::npos);
  const auto past =
      f.post("/api/v1/drift/waive",
             R"({"host": "web1", "resource": "/etc/motd", "reason": "r", "until": "2020-01-01"})");
  CHECK(past.status == 400);
  CHECK(errorOf(past).find("until 2020-01-01") != std::string::npos);
  CHECK(f.post("/api/v1/drift/waive",
               R"({"host": "web1", "resource": "/etc/motd", "reason": "r", "for": "soon"})")
            .status == 400);
}

TEST_CASE("fleet actions: the CLI's errors name its flags") {
  StoreFixture s;
  LocalFleetActions actions(*s.store, *s.audit, LocalActionOptions{}, [] { return kNowMs; });
  auto noExpiry = actions.waive(DecisionRequest{
      .host = "h", .resource = "/x", .reason = "r", .by = "me", .until = "", .forDuration = ""});
  REQUIRE_FALSE(noExpiry.ok());
  CHECK(noExpiry.error().describe().find("--until DATE") != std::string::npos);
  auto noBy = actions.acknowledge(1, "");
  REQUIRE_FALSE(noBy.ok());
  CHECK(noBy.error().describe().find("--by") != std::string::npos);
}

TEST_CASE("request bodies: strict JSON objects of strings") {
  auto empty = RequestBody::parse("", "", {"by"});
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->get("by"));
  CHECK(empty->value("by", "fallback") == "fallback");
  auto ok = RequestBody::parse("Application/JSON; charset=utf-8", R"({"by":"é"})", {"by"});
  REQUIRE(ok.ok());
  CHECK(*ok->get("by") == "é");
  CHECK_FALSE(RequestBody::parse("text/plain", R"({"by":"x"})", {"by"}).ok());
  CHECK_FALSE(RequestBody::parse("application/json", R"({"by":{"a":"b"}})", {"by"}).ok());
  CHECK_FALSE(RequestBody::parse("application/json", R"({"by":null})", {"by"}).ok());
  CHECK_FALSE(RequestBody::parse("application/json", "\"x\"", {"by"}).ok());
  // A NUL byte ends nothing: the bytes after it are not ignored.
  CHECK_FALSE(
      RequestBody::parse("application/json", std::string("{}\0{\"by\":\"x\"}", 14), {"by"}).ok());
  CHECK_FALSE(RequestBody::parse("application/json", "{\"by\":\"\xff\"}", {"by"}).ok());
  CHECK_FALSE(RequestBody::parse("application/json",
                                 R"({"by":")" + std::string(kMaxFieldBytes + 1, 'a') + R"("})",
                                 {"by"})
                  .ok());
  auto none = RequestBody::parse("application/json", R"({"x":"1"})", {});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().describe().find("takes no fields") != std::string::npos);
}

TEST_CASE("API tokens: a scope, read unless asked, old tokens read only") {
  ApiFleet f;
  auto tokens = ApiTokens(*f.store).list();
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 1);
  CHECK(tokens->front().scope == "read");
  auto writer = ApiTokens(*f.store).create("deploy-bot", std::nullopt, kNowMs / 1000, kScopeWrite);
  REQUIRE(writer.ok());
  CHECK(writer->record.scope == "write");
  auto bad = ApiTokens(*f.store).create("x", std::nullopt, kNowMs / 1000, "admin");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().describe().find("--scope admin") != std::string::npos);
}

TEST_CASE("admin API: apply and remove policies, audited with the token") {
  ActionFleet f;
  const Json upload = {
      {"policies",
       {{{"path", "/home/carol/policies/db.yaml"},
         {"text",
          "name: db\nselector:\n  role: db\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n"},
         {"baseline_path", "/home/carol/policies/db.baseline"},
         {"baseline", nullptr},
         {"git_commit", "0123456789abcdef0123456789abcdef01234567"}}}},
      {"message", "db hosts too"}};
  const auto applied = f.post("/api/v1/policies", upload.dump());
  REQUIRE(applied.status == 200);
  CHECK(body(applied) == Json::parse(R"([{"name": "db", "version": 1, "changed": true}])"));
  const Json shown = body(f.get("/api/v1/policies/db"));
  CHECK(shown["applied_by"] == "ops");
  CHECK(shown["message"] == "db hosts too");
  CHECK(shown["git_commit"] == "0123456789abcdef0123456789abcdef01234567");
  const auto records = auditOf(*f.store, "policy_applied");
  REQUIRE(records.size() == 1);
  CHECK(records[0].peer.find("API token ops") != std::string::npos);
  // The same bytes again: unchanged.
  CHECK(body(f.post("/api/v1/policies", upload.dump()))[0]["changed"] == false);

  // An invalid policy is refused with its file and line; nothing is stored.
  Json broken = upload;
  broken["policies"][0]["text"] = "name: db\nfiles:\n  - path: relative\n";
  const auto refused = f.post("/api/v1/policies", broken.dump());
  CHECK(refused.status == 400);
  CHECK(errorOf(refused).find("/home/carol/policies/db.yaml:3") != std::string::npos);
  CHECK(body(f.get("/api/v1/policies/db/history")).size() == 1);

  // Shapes are checked and named.
  CHECK(errorOf(f.post("/api/v1/policies", R"({"policies": []})")).find("policies") !=
        std::string::npos);
  CHECK(errorOf(f.post("/api/v1/policies",
                       R"({"policies": [{"path": "/a", "text": "x", "mode": "y"}]})"))
            .find("policies[0]") != std::string::npos);
  CHECK(errorOf(f.post("/api/v1/policies", R"({"policies": [{"path": "/a"}]})"))
            .find("policies[0].text") != std::string::npos);
  CHECK(f.post("/api/v1/policies", upload.dump(), f.token).status == 403);

  // Removal: a version of its own; a GET of .../remove still reads a policy of that name.
  const auto removed =
      f.post("/api/v1/policies/remove", R"({"names": ["db"], "message": "db hosts retired"})");
  REQUIRE(removed.status == 200);
  CHECK(body(removed) == Json::parse(R"([{"name": "db", "version": 2, "removed": true}])"));
  CHECK(f.get("/api/v1/policies/db").status == 404);
  CHECK(f.get("/api/v1/policies/remove").status == 404);
  CHECK(f.post("/api/v1/policies/remove", R"({"names": ["nosuch"]})").status == 404);
  CHECK(f.post("/api/v1/policies/remove", R"({"names": "db"})").status == 400);
  CHECK(auditOf(*f.store, "policy_removed").size() == 1);
}

TEST_CASE("admin API: only a policy upload with a write token may have a large body") {
  CHECK(AdminApi::takesUpload("POST", "/api/v1/policies"));
  CHECK(AdminApi::takesUpload("POST", "/api/v1/policies?x=1"));
  CHECK_FALSE(AdminApi::takesUpload("GET", "/api/v1/policies"));
  CHECK_FALSE(AdminApi::takesUpload("POST", "/api/v1/drift/accept"));
  CHECK_FALSE(AdminApi::takesUpload("POST", "/api/v1/policies/remove"));
  // The gate reads the token on its own connection, before the body; it records no use.
  ActionFleet f;
  auto gate = ReportGate::open(f.dir.at("data"));
  REQUIRE(gate.ok());
  CHECK(gate->mayUpload("Bearer " + f.writeToken));
  CHECK_FALSE(gate->mayUpload("Bearer " + f.token));  // read scope
  CHECK_FALSE(gate->mayUpload("Bearer dwa_unknown"));
  CHECK_FALSE(gate->mayUpload(""));
  CHECK_FALSE(gate->mayUpload(f.writeToken));  // not a Bearer credential
  auto tokens = ApiTokens(*f.store).list();
  REQUIRE(tokens.ok());
  for (const auto& t : *tokens)
    CHECK_FALSE(t.lastUsedAt.has_value());
}

TEST_CASE("admin API: without credentials or with a read token, no action changes anything") {
  ActionFleet f;
  HttpRequest anonymous;
  anonymous.method = "POST";
  anonymous.target = "/api/v1/deliveries/" + std::to_string(f.dead) + "/retry";
  anonymous.peer.address = "127.0.0.1:5555";
  CHECK(f.api->handle(anonymous).status == 401);
  CHECK(f.post(anonymous.target, "", f.token).status == 403);
  // A query string on an action is refused, but the scope is checked (and audited) first.
  CHECK(f.post(anonymous.target + "?by=x", "", f.token).status == 403);
  CHECK(f.post(anonymous.target + "?by=x", "").status == 400);
  CHECK(f.post("/api/v1/drift/waive",
               R"({"host": "web1", "resource": "/etc/motd", "reason": "r", "for": "1d"})", f.token)
            .status == 403);
  auto deliveries = AlertStore(f.store->database()).deliveries("dead");
  REQUIRE(deliveries.ok());
  CHECK(deliveries->size() == 1);
  CHECK(f.driftOf("web1", "file:/etc/motd").status == "open");
  CHECK(auditOf(*f.store, "api_write_refused").size() == 3);
  CHECK(auditOf(*f.store, "alert_delivery_retried").empty());
}

TEST_CASE("admin API: body errors name the field at fault") {
  ActionFleet f;
  const auto missingHost =
      f.post("/api/v1/drift/accept", R"({"resource": "/etc/motd", "reason": "r"})");
  CHECK(missingHost.status == 400);
  CHECK(errorOf(missingHost).starts_with("host"));
  // Checked in the body's order of names: "by" is fine, "reason" is not a string.
  const auto nested =
      f.post("/api/v1/drift/accept",
             R"({"by": "carol", "host": "web1", "reason": ["r"], "resource": "/x"})");
  CHECK(nested.status == 400);
  CHECK(errorOf(nested).starts_with("reason"));
  const auto unknown = f.post("/api/v1/drift/accept", R"({"by": "x", "zzz": {}})");
  CHECK(errorOf(unknown).starts_with("zzz"));
  const auto twice = f.post("/api/v1/drift/accept", R"({"host": "a", "reason": "r", "host": "b"})");
  CHECK(errorOf(twice).starts_with("host"));
  const auto longBy = f.post("/api/v1/alerts/" + std::to_string(f.firing) + "/ack",
                             Json{{"by", std::string(129, 'b')}}.dump());
  CHECK(longBy.status == 400);
  CHECK(errorOf(longBy).starts_with("by"));
  // A file path of PATH_MAX bytes fits.
  const auto longPath = f.post(
      "/api/v1/drift/accept",
      Json{{"host", "web1"}, {"resource", "/" + std::string(4095, 'p')}, {"reason", "r"}}.dump());
  CHECK(longPath.status == 404);
}

TEST_CASE("API tokens: a row stored before scopes existed reads and may not act") {
  ActionFleet f;
  // What the scope migration leaves of an older token: a row without a scope of its own.
  auto insert = f.store->database().prepare(
      "INSERT INTO api_tokens (hash, name, created_at) VALUES (?, 'legacy', 1700000000)");
  REQUIRE(insert.ok());
  const std::string legacy = "dwa_" + std::string(64, '1');
  REQUIRE(insert->bind(1, tokenHash(legacy)).run().ok());
  auto listed = ApiTokens(*f.store).list();
  REQUIRE(listed.ok());
  CHECK(listed->front().name == "alice");
  bool found = false;
  for (const auto& t : *listed) {
    if (t.name != "legacy") continue;
    found = true;
    CHECK(t.scope == "read");
  }
  CHECK(found);
  CHECK(f.get("/api/v1/alerts", "Bearer " + legacy).status == 200);
  CHECK(f.post("/api/v1/alerts/" + std::to_string(f.firing) + "/ack", "", legacy).status == 403);
}

TEST_CASE("admin API: revoke a host, once") {
  ActionFleet f;
  const auto revoked = f.post("/api/v1/hosts/web1/revoke", R"({"by": "dave"})");
  REQUIRE(revoked.status == 200);
  CHECK(body(revoked)["changed"] == true);
  CHECK(!body(revoked)["host"]["revoked_at"].is_null());
  auto host = f.store->host("web1");
  REQUIRE(host.ok());
  CHECK((*host)->revokedAt.has_value());
  const auto records = auditOf(*f.store, "host_revoked");
  REQUIRE(records.size() == 1);
  CHECK(records[0].detail == "revoked by dave");
  CHECK(records[0].peer.find("API token ops") != std::string::npos);
  const auto again = f.post("/api/v1/hosts/web1/revoke", "");
  REQUIRE(again.status == 200);
  CHECK(body(again)["changed"] == false);
  CHECK(auditOf(*f.store, "host_revoked").size() == 1);
  CHECK(f.post("/api/v1/hosts/nosuch/revoke", "").status == 404);
  CHECK(f.post("/api/v1/hosts/web2/revoke", "", f.token).status == 403);
  CHECK(f.get("/api/v1/hosts/web2/revoke", "Bearer " + f.writeToken).status == 405);
}

TEST_CASE("admin API: maintenance windows declared, listed and ended") {
  ActionFleet f;
  CHECK(body(f.get("/api/v1/maintenance")).empty());
  const auto added = f.post("/api/v1/maintenance",
                            R"({"selector": "role=web", "for": "2h", "reason": "kernel upgrade"})");
  REQUIRE(added.status == 200);
  const Json window = body(added);
  CHECK(window["selector"] == Json{{"role", "web"}});
  CHECK(window["active"] == true);
  CHECK(window["created_by"] == "ops");
  CHECK(window["ends_at"] == utcMsText(kNowMs + 2 * 3'600'000));
  CHECK(auditOf(*f.store, "maintenance_added")[0].peer.find("API token ops") != std::string::npos);
  const Json listed = body(f.get("/api/v1/maintenance"));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == window);

  // Errors name the body's fields.
  const auto noEnd = f.post("/api/v1/maintenance", R"({"reason": "r"})");
  CHECK(noEnd.status == 400);
  CHECK(errorOf(noEnd).find("end TIME or for DURATION") != std::string::npos);
  const auto badSelector =
      f.post("/api/v1/maintenance", R"({"selector": "role", "for": "1h", "reason": "r"})");
  CHECK(errorOf(badSelector).starts_with("selector"));
  const auto past = f.post("/api/v1/maintenance", R"({"end": "2020-01-01", "reason": "r"})");
  CHECK(errorOf(past).find("end 2020-01-01") != std::string::npos);
  CHECK(f.post("/api/v1/maintenance", R"({"for": "1h"})").status == 400);
  CHECK(f.post("/api/v1/maintenance", R"({"for": "1h", "reason": "r"})", f.token).status == 403);
  CHECK(f.get("/api/v1/maintenance?all=maybe").status == 400);

  const std::string end = "/api/v1/maintenance/" + window["id"].dump() + "/end";
  const auto ended = f.post(end, "");
  REQUIRE(ended.status == 200);
  CHECK(body(ended)["ends_at"] == utcMsText(kNowMs));
  CHECK(body(f.get("/api/v1/maintenance")).empty());
  CHECK(body(f.get("/api/v1/maintenance?all=true")).size() == 1);
  CHECK(f.post(end, "").status == 404);
  CHECK(f.get(end, "Bearer " + f.writeToken).status == 405);
}

TEST_CASE("request bodies: depth and size are checked before a tree is built") {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto nested = parsePolicyUpload("application/json", deep, "x");
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().describe().find("nests deeper") != std::string::npos);
  std::string many = R"({"policies": [)";
  for (size_t i = 0; i < 10'000; ++i)
    many += std::string(i == 0 ? "" : ",") + "{}";
  many += "]}";
  auto wide = parsePolicyUpload("application/json", many, "x");
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.error().describe().find("more values") != std::string::npos);
  // What gitCommitOf() records, and paths safe to show.
  const auto upload = [](const std::string& commit, const std::string& path) {
    return parsePolicyUpload(
        "application/json",
        Json{{"policies", {{{"path", path}, {"text", "name: x\n"}, {"git_commit", commit}}}}}
            .dump(),
        "x");
  };
  CHECK(upload("", "/p.yaml").ok());
  CHECK(upload(std::string(40, 'a'), "/p.yaml").ok());
  CHECK(upload(std::string(64, '0') + "+dirty", "/p.yaml").ok());
  CHECK_FALSE(upload("\x1b[8mhidden", "/p.yaml").ok());
  CHECK_FALSE(upload(std::string(41, 'a'), "/p.yaml").ok());
  CHECK_FALSE(upload("", "/p\x1b[2J.yaml").ok());
  CHECK_FALSE(upload("", "").ok());
}

TEST_CASE("fleet actions: a committed action wakes the alert worker, a refused one does not") {
  ActionFleet f;
  int wakes = 0;
  LocalActionOptions options;
  options.alertsChanged = [&] { ++wakes; };
  LocalFleetActions actions(*f.store, *f.audit, options, [] { return kNowMs; });
  const DecisionRequest accept{.host = "web1",
                               .resource = "/etc/motd",
                               .reason = "r",
                               .by = "carol",
                               .until = "",
                               .forDuration = ""};
  REQUIRE(actions.accept(accept).ok());
  CHECK(wakes == 1);
  CHECK_FALSE(actions
                  .accept(DecisionRequest{.host = "nosuch",
                                          .resource = "/x",
                                          .reason = "r",
                                          .by = "carol",
                                          .until = "",
                                          .forDuration = ""})
                  .ok());
  CHECK(wakes == 1);
  REQUIRE(actions.retryDelivery(f.dead, "carol").ok());
  CHECK(wakes == 2);
}
