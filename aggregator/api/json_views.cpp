#include "aggregator/api/json_views.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "aggregator/drift/drift_engine.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/crypto/sha256.h"
#include "common/policy/policy.h"

namespace driftwatch::aggregator {
namespace {

Json optionalText(const std::optional<std::string>& v) {
  return v ? Json(*v) : Json(nullptr);
}

}  // namespace

std::string utcText(int64_t seconds) {
  if (seconds <= 0) return "never";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

std::string utcMsText(int64_t ms) {
  if (ms <= 0) return "never";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

std::string hexDigest(std::string_view bytes) {
  if (bytes.size() != 32) return "";
  Sha256Digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return toHex(d);
}

std::string safeLines(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    out += displaySafe(text.substr(start, end - start));
    if (nl != std::string_view::npos) out += '\n';
    start = end + 1;
  }
  return out;
}

Json hostJson(const HostRecord& h) {
  return Json{{"id", h.id},
              {"name", h.name},
              {"labels", h.labels},
              {"enrolled_at", utcText(h.enrolledAt)},
              {"last_report", h.lastSeen > 0 ? Json(utcMsText(h.lastSeen)) : Json(nullptr)},
              {"last_address", h.lastAddress},
              {"agent_version", h.agentVersion},
              {"seq", h.lastSeq},
              {"resources", h.resourceCount},
              {"state_digest", hexDigest(h.stateDigest)},
              {"snapshot_in_progress", h.snapshotNext.has_value()},
              {"revoked_at", h.revokedAt ? Json(utcText(*h.revokedAt)) : Json(nullptr)},
              {"clock_skew_ms", h.clockSkewMs ? Json(*h.clockSkewMs) : Json(nullptr)},
              {"rules_revision", h.rulesRevision},
              {"cert_fingerprint", h.certFingerprint}};
}

Json historyJson(const HistoryRow& r) {
  return Json{{"resource", r.resource},
              {"state", r.state},
              {"observed_at", utcMsText(r.observedAt)},
              {"seq", r.seq},
              {"recorded_at", utcMsText(r.recordedAt)}};
}

Json gapsJson(const std::vector<CoverageRecord>& events) {
  struct Gap {
    std::string id, kind, scope, detail, startedAt, endedAt;
  };
  std::vector<Gap> gaps;
  std::map<std::string, size_t> byId;
  const auto field = [](const Json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? displaySafe(it->get<std::string>()) : std::string();
  };
  for (const auto& e : events) {
    const Json payload = Json::parse(e.payload, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) continue;
    auto [it, fresh] = byId.emplace(e.gap, gaps.size());
    if (fresh) gaps.push_back({displaySafe(e.gap), "", "", "", "", ""});
    Gap& g = gaps[it->second];
    if (payload.contains("kind")) {
      g.kind = field(payload, "kind");
      g.scope = field(payload, "scope");
      g.detail = field(payload, "detail");
      g.startedAt = field(payload, "started_at");
    }
    if (payload.contains("ended_at")) g.endedAt = field(payload, "ended_at");
  }
  Json out = Json::array();
  for (const auto& g : gaps) {
    out.push_back({{"gap", g.id},
                   {"kind", g.kind},
                   {"scope", g.scope},
                   {"detail", g.detail},
                   {"started_at", g.startedAt},
                   {"ended_at", g.endedAt.empty() ? Json(nullptr) : Json(g.endedAt)}});
  }
  return out;
}

DriftFlags driftFlags(const DriftRecord& d, const DriftFlagRules& rules, int64_t nowMs) {
  return DriftFlags{d.status == kDriftOpen && nowMs - d.firstSeen >= rules.creepAfterMs,
                    d.reopened >= rules.recurringAfter};
}

namespace {

Json decisionJson(const DriftRecord& d) {
  if (!d.decidedAt) return nullptr;
  return Json{{"reason", d.reason},
              {"by", d.decidedBy},
              {"at", utcMsText(*d.decidedAt)},
              {"until", d.waivedUntil ? Json(utcMsText(*d.waivedUntil)) : Json(nullptr)}};
}

}  // namespace

Json driftJson(const DriftRecord& d, const DriftFlags& flags) {
  Json attributes = Json::array();
  for (const auto& a : d.attributes) {
    attributes.push_back({{"name", a.name},
                          {"desired", optionalText(a.desired)},
                          {"actual", optionalText(a.actual)}});
  }
  return Json{{"host", d.host},
              {"resource", d.resource},
              {"status", d.status},
              {"direction", d.direction},
              {"severity", d.severity},
              {"drift_type", d.driftType},
              {"change", d.change},
              {"attributes", std::move(attributes)},
              {"error", d.error.empty() ? Json(nullptr) : Json(d.error)},
              {"policy", d.policy},
              {"policy_version", d.policyVersion},
              {"rule", d.rule},
              {"first_seen", utcMsText(d.firstSeen)},
              {"last_seen", utcMsText(d.lastSeen)},
              {"resolved_at", d.resolvedAt ? Json(utcMsText(*d.resolvedAt)) : Json(nullptr)},
              {"decision", decisionJson(d)},
              {"reopened", d.reopened},
              {"creep", flags.creep},
              {"recurring", flags.recurring}};
}

Json policyVersionJson(const PolicyVersion& v) {
  auto parsed = policy::parsePolicy(v.text, v.source);
  return Json{{"name", v.name},
              {"version", v.version},
              {"selector", parsed.ok() ? Json(parsed->selector) : Json(nullptr)},
              {"applied_by", v.appliedBy},
              {"applied_at", utcText(v.appliedAt)},
              {"message", v.message},
              {"git_commit", v.gitCommit},
              {"source", v.source},
              {"baseline", v.baseline.has_value()},
              {"sha256", v.sha256},
              {"removed", v.removed}};
}

Json policyShowJson(const PolicyVersion& v) {
  Json out = policyVersionJson(v);
  out["text"] = safeLines(v.text);
  return out;
}

Json policyDiffJson(std::string_view name, int64_t from, int64_t to, std::string_view diff,
                    bool baselineChanged) {
  return Json{{"name", name},
              {"from", from},
              {"to", to},
              {"diff", safeLines(diff)},
              {"baseline_changed", baselineChanged}};
}

Json auditJson(const AuditRecord& r) {
  return Json{{"time", utcMsText(r.at)},
              {"event", r.event},
              {"host", r.host},
              {"peer", r.peer},
              {"detail", r.detail}};
}

std::string dumpJson(const Json& view) {
  return view.dump(2, ' ', false, Json::error_handler_t::replace);
}

namespace {

Json optionalTimeMs(const std::optional<int64_t>& ms) {
  return ms ? Json(utcMsText(*ms)) : Json(nullptr);
}

Json textOrNull(const std::string& text) {
  return text.empty() ? Json(nullptr) : Json(text);
}

}  // namespace

Json alertJson(const AlertRecord& a) {
  return Json{{"id", a.id},
              {"kind", a.kind},
              {"status", a.status},
              {"severity", a.severity},
              {"host", a.host},
              {"resource", a.resource},
              {"policy", a.policy},
              {"rule", a.rule},
              {"summary", a.summary},
              {"created_at", utcMsText(a.createdAt)},
              {"fires_at", utcMsText(a.firesAt)},
              {"fired_at", optionalTimeMs(a.firedAt)},
              {"notified", a.notified},
              {"acked_by", textOrNull(a.ackedBy)},
              {"acked_at", optionalTimeMs(a.ackedAt)},
              {"resolved_at", optionalTimeMs(a.resolvedAt)}};
}

Json deliveryJson(const DeliveryRecord& d) {
  return Json{{"id", d.id},
              {"status", d.status},
              {"receiver", d.receiver},
              {"notification", d.notification},
              {"event", d.event},
              {"host", d.host},
              {"idempotency_key", d.idempotencyKey},
              {"attempts", d.attempts},
              {"next_attempt_at",
               d.status == kDeliveryPending ? Json(utcMsText(d.nextAttemptAt)) : Json(nullptr)},
              {"last_attempt_at", optionalTimeMs(d.lastAttemptAt)},
              {"last_error", textOrNull(d.lastError)},
              {"delivered_at", optionalTimeMs(d.deliveredAt)},
              {"created_at", utcMsText(d.createdAt)}};
}

Json maintenanceJson(const MaintenanceWindow& w, int64_t nowMs) {
  return Json{{"id", w.id},
              {"selector", w.selector},
              {"starts_at", utcMsText(w.startsAt)},
              {"ends_at", utcMsText(w.endsAt)},
              {"active", w.startsAt <= nowMs && nowMs < w.endsAt},
              {"state", nowMs < w.startsAt ? "upcoming"
                        : nowMs < w.endsAt ? "active"
                                           : "over"},
              {"reason", w.reason},
              {"created_by", w.createdBy},
              {"created_at", utcMsText(w.createdAt)}};
}

}  // namespace driftwatch::aggregator
