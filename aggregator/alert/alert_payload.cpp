#include "aggregator/alert/alert_payload.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/base/escape.h"
#include "common/base/time.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

std::string rfc3339(int64_t ms) {
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

json optionalTime(const std::optional<int64_t>& ms) {
  return ms ? json(rfc3339(*ms)) : json(nullptr);
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> parsed(const NotificationRecord& n) {
  json j = json::parse(n.body, nullptr, false);
  if (!j.is_object() || !j.contains("alerts") || !j["alerts"].is_array() || !j.contains("host"))
    return makeError(ErrorCode::kInternal, "the stored notification does not parse",
                     "notification " + std::to_string(n.id));
  return j;
}

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

std::string notificationSnapshot(std::string_view event, std::string_view hostId,
                                 const std::optional<HostRecord>& host,
                                 const std::vector<AlertRecord>& alerts, int64_t now) {
  json h{{"id", std::string(hostId)},
         {"name", host ? displaySafe(host->name) : std::string(hostId)},
         {"labels", host ? json(host->labels) : json::object()}};
  json list = json::array();
  for (const auto& a : alerts) {
    list.push_back({{"id", a.id},
                    {"kind", a.kind},
                    {"resource", displaySafe(a.resource)},
                    {"severity", a.severity},
                    {"policy", a.policy},
                    {"rule", displaySafe(a.rule)},
                    {"summary", a.summary},
                    {"status", a.status},
                    {"created_at", rfc3339(a.createdAt)},
                    {"fired_at", optionalTime(a.firedAt)},
                    {"resolved_at", optionalTime(a.resolvedAt)}});
  }
  return dump(json{{"event", std::string(event)},
                   {"created_at", rfc3339(now)},
                   {"host", std::move(h)},
                   {"alerts", std::move(list)}});
}

Result<std::string> webhookBody(const NotificationRecord& n, std::string_view receiver,
                                std::string_view idempotencyKey) {
  auto j = parsed(n);
  if (!j.ok()) return j.error();
  json out{{"idempotency_key", std::string(idempotencyKey)},
           {"notification", n.id},
           {"receiver", std::string(receiver)}};
  for (auto& [k, v] : j->items())
    out[k] = v;
  return dump(out);
}

Result<std::string> alertmanagerBody(const NotificationRecord& n, std::string_view idempotencyKey) {
  auto j = parsed(n);
  if (!j.ok()) return j.error();
  const json& host = (*j)["host"];
  json out = json::array();
  for (const auto& a : (*j)["alerts"]) {
    json labels{{"alertname", "DriftwatchDrift"},  {"host", text(host, "name")},
                {"host_id", text(host, "id")},     {"resource", text(a, "resource")},
                {"severity", text(a, "severity")}, {"policy", text(a, "policy")},
                {"kind", text(a, "kind")}};
    json item{{"labels", std::move(labels)},
              {"annotations",
               {{"summary", text(a, "summary")},
                {"rule", text(a, "rule")},
                {"driftwatch_alert_id", std::to_string(a.value("id", int64_t{0}))},
                {"idempotency_key", std::string(idempotencyKey)}}},
              {"startsAt", text(a, "created_at")}};
    // A resolution ends the alert in Alertmanager; a firing one has no end.
    if (text(*j, "event") == kEventResolved) {
      const std::string ended = text(a, "resolved_at");
      item["endsAt"] = ended.empty() ? text(*j, "created_at") : ended;
    }
    out.push_back(std::move(item));
  }
  return dump(out);
}

Result<std::vector<std::string>> syslogLines(const NotificationRecord& n,
                                             std::string_view idempotencyKey) {
  auto j = parsed(n);
  if (!j.ok()) return j.error();
  const json& host = (*j)["host"];
  std::vector<std::string> out;
  for (const auto& a : (*j)["alerts"]) {
    out.push_back(displaySafe("alert " + std::to_string(a.value("id", int64_t{0})) + " " +
                              text(*j, "event") + ": host " + text(host, "name") + " (" +
                              text(host, "id") + ") " + text(a, "severity") + " " +
                              text(a, "kind") + " " + text(a, "summary") + " [policy " +
                              text(a, "policy") + ", key " + std::string(idempotencyKey) + "]"));
  }
  return out;
}

}  // namespace driftwatch::aggregator
