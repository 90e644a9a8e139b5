// The real receivers' sender against a real HTTP server on 127.0.0.1: what a webhook and
// Alertmanager get, and what failures mean for the delivery (retry, or dead at once).

#include "aggregator/alert/alert_sender.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "aggregator/alert/alert_payload.h"
#include "tests/support/webhook_receiver.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

NotificationRecord firingNotification() {
  AlertRecord a;
  a.id = 4;
  a.host = "web-01";
  a.resource = "file:/etc/motd";
  a.severity = "high";
  a.policy = "web";
  a.rule = "web.yaml:4:5 (files[0])";
  a.summary = "file:/etc/motd modified: mode 0644->0600";
  a.status = "firing";
  a.createdAt = 1'764'300'000'000;
  a.firedAt = 1'764'300'030'000;
  NotificationRecord n;
  n.id = 9;
  n.event = "firing";
  n.body = notificationSnapshot("firing", "web-01", std::nullopt, {a}, 1'764'300'030'000);
  return n;
}

DeliveryRecord delivery() {
  DeliveryRecord d;
  d.id = 2;
  d.idempotencyKey = "dw-1-9-ops";
  return d;
}

ReceiverConfig receiver(ReceiverType type, const std::string& url) {
  ReceiverConfig r;
  r.name = "ops";
  r.type = type;
  auto parsed = parseHttpUrl(url, "test");
  REQUIRE(parsed.ok());
  r.url = *parsed;
  r.timeout = 2s;
  return r;
}

}  // namespace

TEST_CASE("a webhook gets the JSON body, the idempotency key and the configured headers") {
  WebhookReceiver hook;
  ReceiverConfig r = receiver(ReceiverType::kWebhook, hook.url("/hooks/s3cret?x=1"));
  r.headers = {{"Authorization", "Bearer t0ken"}};
  ReceiverSender sender;
  const SendResult result = sender.send(r, firingNotification(), delivery());
  INFO(result.error);
  CHECK(result.outcome == SendOutcome::kDelivered);
  const auto requests = hook.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/hooks/s3cret?x=1");
  CHECK(requests[0].headers.at("idempotency-key") == "dw-1-9-ops");
  CHECK(requests[0].headers.at("authorization") == "Bearer t0ken");
  CHECK(requests[0].headers.at("content-type") == "application/json");
  const json body = json::parse(requests[0].body);
  CHECK(body["idempotency_key"] == "dw-1-9-ops");
  CHECK(body["notification"] == 9);
  CHECK(body["alerts"][0]["severity"] == "high");
  CHECK(body["host"]["name"] == "web-01");  // a host no longer enrolled: its id
}

TEST_CASE("Alertmanager gets its v2 list at /api/v2/alerts below the configured address") {
  WebhookReceiver am;
  ReceiverSender sender;
  const SendResult result = sender.send(receiver(ReceiverType::kAlertmanager, am.url("/am/")),
                                        firingNotification(), delivery());
  INFO(result.error);
  CHECK(result.outcome == SendOutcome::kDelivered);
  const auto requests = am.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/am/api/v2/alerts");
  const json body = json::parse(requests[0].body);
  REQUIRE(body.is_array());
  CHECK(body[0]["labels"]["alertname"] == "DriftwatchDrift");
  CHECK_FALSE(body[0].contains("endsAt"));
}

TEST_CASE("failures: 5xx and silence are retried, 4xx is not, errors never show the path") {
  WebhookReceiver hook;
  ReceiverSender sender;
  ReceiverConfig r = receiver(ReceiverType::kWebhook, hook.url("/hooks/s3cret"));

  hook.failWith(503);
  SendResult result = sender.send(r, firingNotification(), delivery());
  CHECK(result.outcome == SendOutcome::kRetry);
  CHECK(result.error == "HTTP 503: receiver unavailable");

  // A long refusal is quoted only so far.
  hook.failWith(404);
  hook.answerBytes(200'000);
  result = sender.send(r, firingNotification(), delivery());
  CHECK(result.outcome == SendOutcome::kPermanent);
  CHECK(result.error == "HTTP 404: " + std::string(200, 'b') + "...");

  // A receiver that never answers: the timeout ends the attempt.
  hook.hang(true);
  r.timeout = 300ms;
  result = sender.send(r, firingNotification(), delivery());
  CHECK(result.outcome == SendOutcome::kRetry);
  CHECK(result.error.find("timed out") != std::string::npos);
  CHECK(result.error.find(hook.url("")) != std::string::npos);
  CHECK(result.error.find("s3cret") == std::string::npos);
}

TEST_CASE("failures: nobody listening is retried, a CA file that cannot be read is not") {
  int port = 0;
  {
    WebhookReceiver gone;  // a port that was free a moment ago
    port = std::stoi(gone.url("").substr(17));
  }
  ReceiverSender sender;
  const SendResult refused = sender.send(
      receiver(ReceiverType::kWebhook, "http://127.0.0.1:" + std::to_string(port) + "/x"),
      firingNotification(), delivery());
  CHECK(refused.outcome == SendOutcome::kRetry);
  CHECK(refused.error.find("cannot connect") != std::string::npos);

  ReceiverConfig tls = receiver(ReceiverType::kWebhook, "https://127.0.0.1:1/x");
  tls.caFile = "/nonexistent/ca.pem";
  const SendResult badCa = sender.send(tls, firingNotification(), delivery());
  CHECK(badCa.outcome == SendOutcome::kPermanent);
  CHECK(badCa.error.find("/nonexistent/ca.pem: cannot load the trusted CAs") != std::string::npos);
}
