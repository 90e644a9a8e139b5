#include "aggregator/api/fleet_reader.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "aggregator/policy/line_diff.h"
#include "common/base/escape.h"
#include "common/model/labels.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {
namespace {

std::string fieldName(std::string_view field, FieldNames names) {
  return names == FieldNames::kFlags ? "--" + std::string(field) : std::string(field);
}

std::string named(std::string_view field, std::string_view value, FieldNames names) {
  return names == FieldNames::kFlags ? fieldName(field, names) + " " + escapeBytes(value)
                                     : std::string(field) + "=" + escapeBytes(value);
}

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status positive(int64_t value, std::string_view field, FieldNames names) {
  if (value < 1)
    return makeError(ErrorCode::kInvalidInput, fieldName(field, names) + " must be at least 1");
  return {};
}

}  // namespace

Status checkDriftQuery(const DriftQuery& q, FieldNames names) {
  static constexpr std::string_view kStatuses[] = {"open",     "accepted", "waived",
                                                   "resolved", "active",   "all"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), q.status) == std::end(kStatuses))
    return makeError(ErrorCode::kInvalidInput,
                     "must be open, accepted, waived, resolved, active (all but resolved) or all",
                     named("status", q.status, names));
  if (!q.severity.empty() && !model::parseSeverity(q.severity))
    return makeError(ErrorCode::kInvalidInput, "must be low, medium, high or critical",
                     named("severity", q.severity, names));
  if (!q.direction.empty() && q.direction != "managed" && q.direction != "definition")
    return makeError(ErrorCode::kInvalidInput, "must be managed or definition",
                     named("direction", q.direction, names));
  if (q.minAge && q.minAge->count() < 0)
    return makeError(ErrorCode::kInvalidInput, "must not be negative", fieldName("min-age", names));
  return {};
}

Status checkAlertQuery(const AlertQuery& q, FieldNames names) {
  static constexpr std::string_view kStatuses[] = {kAlertPending,  kAlertFiring, kAlertAcknowledged,
                                                   kAlertResolved, "unresolved", "all"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), q.status) == std::end(kStatuses))
    return makeError(ErrorCode::kInvalidInput,
                     "must be pending, firing, acknowledged, resolved, unresolved or all",
                     named("status", q.status, names));
  return {};
}

Status checkDeliveryStatus(std::string_view status, FieldNames names) {
  static constexpr std::string_view kStatuses[] = {kDeliveryDead, kDeliveryPending,
                                                   kDeliveryDelivered, "all"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), status) == std::end(kStatuses))
    return makeError(ErrorCode::kInvalidInput, "must be dead, pending, delivered or all",
                     named("status", status, names));
  return {};
}

Result<std::pair<std::string, std::string>> parseLabelFilter(std::string_view text,
                                                             FieldNames names) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || !model::isLabelKey(text.substr(0, eq)) ||
      !model::isLabelValue(text.substr(eq + 1)))
    return makeError(ErrorCode::kInvalidInput,
                     "a label filter is KEY=VALUE (a key of letters, digits or . _ - /)",
                     named("label", text, names));
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

LocalFleetReader::LocalFleetReader(const FleetStore& store, DriftFlagRules rules, Clock nowMs)
    : store_(store), rules_(rules), nowMs_(nowMs ? std::move(nowMs) : Clock(systemNowMs)) {}

Result<HostRecord> findHost(const FleetStore& store, const std::string& id) {
  auto host = store.host(id);
  if (!host.ok()) return host.error();
  if (!*host)
    return makeError(ErrorCode::kNotFound,
                     "no host " + displaySafe(id) + " (see `driftwatch-aggregator hosts list`)");
  return std::move(**host);
}

Result<std::vector<PolicyVersion>> LocalFleetReader::versionsOf(const std::string& name) const {
  auto versions = store_.policyHistory(name);
  if (!versions.ok()) return versions.error();
  if (versions->empty())
    return makeError(ErrorCode::kNotFound,
                     "no such policy (see `driftwatch-aggregator policy list`)", displaySafe(name));
  return versions;
}

Result<Json> LocalFleetReader::hosts() {
  auto hosts = store_.hosts();
  if (!hosts.ok()) return hosts.error();
  Json out = Json::array();
  for (const auto& h : *hosts)
    out.push_back(hostJson(h));
  return out;
}

Result<Json> LocalFleetReader::host(const std::string& id) {
  auto h = findHost(store_, id);
  if (!h.ok()) return h.error();
  return hostJson(*h);
}

Result<Json> LocalFleetReader::history(const HistoryQuery& q) {
  if (auto s = positive(q.limit, "limit", FieldNames::kQueryParameters); !s.ok()) return s.error();
  if (auto h = findHost(store_, q.host); !h.ok()) return h.error();
  auto rows = store_.history(q.host, q.resource, static_cast<size_t>(q.limit));
  if (!rows.ok()) return rows.error();
  Json out = Json::array();
  for (const auto& r : *rows)
    out.push_back(historyJson(r));
  return out;
}

Result<Json> LocalFleetReader::gaps(const std::string& host) {
  if (auto h = findHost(store_, host); !h.ok()) return h.error();
  auto events = store_.coverage(host);
  if (!events.ok()) return events.error();
  return gapsJson(*events);
}

Result<Json> LocalFleetReader::drift(const DriftQuery& q) {
  if (auto s = checkDriftQuery(q, FieldNames::kQueryParameters); !s.ok()) return s.error();
  DriftFilter filter;
  filter.host = q.host;
  filter.status = q.status == "all" ? "" : q.status;
  filter.severity = q.severity;
  filter.direction = q.direction;
  auto items = store_.driftItems(filter);
  if (!items.ok()) return items.error();
  // The hosts that carry the label, when a label is asked for.
  std::optional<std::set<std::string>> labelled;
  if (q.label) {
    auto hosts = store_.hosts();
    if (!hosts.ok()) return hosts.error();
    labelled.emplace();
    for (const auto& h : *hosts) {
      const auto it = h.labels.find(q.label->first);
      if (it != h.labels.end() && it->second == q.label->second) labelled->insert(h.id);
    }
  }
  const int64_t now = nowMs_();
  Json out = Json::array();
  for (const auto& d : *items) {
    if (labelled && labelled->count(d.host) == 0) continue;
    // An item's age: how long it was (or has been) open.
    const int64_t age = (d.resolvedAt ? *d.resolvedAt : now) - d.firstSeen;
    if (q.minAge && age < q.minAge->count()) continue;
    const DriftFlags flags = driftFlags(d, rules_, now);
    if ((q.creep && !flags.creep) || (q.recurring && !flags.recurring)) continue;
    out.push_back(driftJson(d, flags));
  }
  return out;
}

Result<Json> LocalFleetReader::policies() {
  auto latest = store_.latestPolicies();
  if (!latest.ok()) return latest.error();
  Json out = Json::array();
  for (const auto& v : *latest) {
    if (!v.removed) out.push_back(policyVersionJson(v));
  }
  return out;
}

Result<Json> LocalFleetReader::policy(const std::string& name, int64_t version) {
  auto versions = versionsOf(name);
  if (!versions.ok()) return versions.error();
  for (const auto& v : *versions) {
    if (version == 0 ? &v != &versions->back() : v.version != version) continue;
    if (v.removed)
      return makeError(ErrorCode::kNotFound,
                       "version " + std::to_string(v.version) + " removed the policy (by " +
                           v.appliedBy + ", " + utcText(v.appliedAt) +
                           "); name an earlier one with --version (see policy history " +
                           displaySafe(name) + ")",
                       displaySafe(name));
    return policyShowJson(v);
  }
  return makeError(ErrorCode::kNotFound,
                   "no version " + std::to_string(version) + " (1 to " +
                       std::to_string(versions->back().version) + ")",
                   displaySafe(name));
}

Result<Json> LocalFleetReader::policyHistory(const std::string& name) {
  auto versions = versionsOf(name);
  if (!versions.ok()) return versions.error();
  Json out = Json::array();
  for (const auto& v : *versions)
    out.push_back(policyVersionJson(v));
  return out;
}

Result<Json> LocalFleetReader::policyDiff(const PolicyDiffQuery& q) {
  auto versions = versionsOf(q.name);
  if (!versions.ok()) return versions.error();
  const int64_t to = q.to == 0 ? versions->back().version : q.to;
  const int64_t from = q.from == 0 ? to - 1 : q.from;
  const PolicyVersion* a = nullptr;
  const PolicyVersion* b = nullptr;
  for (const auto& v : *versions) {
    if (v.version == from) a = &v;
    if (v.version == to) b = &v;
  }
  if (a == nullptr || b == nullptr)
    return makeError(ErrorCode::kNotFound,
                     "versions " + std::to_string(from) + " and " + std::to_string(to) +
                         " are not both there (1 to " + std::to_string(versions->back().version) +
                         "; a policy's first version has nothing before it)",
                     displaySafe(q.name));
  auto diff = lineDiff(a->text, b->text);
  if (!diff)
    return makeError(ErrorCode::kLimit, "too large to compare line by line; use `policy show`",
                     displaySafe(q.name));
  return policyDiffJson(q.name, from, to, *diff, a->baseline != b->baseline);
}

Result<Json> LocalFleetReader::audit(int64_t limit) {
  if (auto s = positive(limit, "limit", FieldNames::kQueryParameters); !s.ok()) return s.error();
  auto records = store_.audit(static_cast<size_t>(limit));
  if (!records.ok()) return records.error();
  Json out = Json::array();
  for (const auto& r : *records)
    out.push_back(auditJson(r));
  return out;
}

Result<Json> LocalFleetReader::alerts(const AlertQuery& q) {
  if (auto s = checkAlertQuery(q, FieldNames::kQueryParameters); !s.ok()) return s.error();
  if (auto s = positive(q.limit, "limit", FieldNames::kQueryParameters); !s.ok()) return s.error();
  if (!q.host.empty()) {
    if (auto h = findHost(store_, q.host); !h.ok()) return h.error();
  }
  AlertFilter filter;
  filter.status = q.status == "all" ? "" : q.status;
  filter.host = q.host;
  filter.limit = q.limit;
  auto found = AlertStore(store_.database()).alerts(filter);
  if (!found.ok()) return found.error();
  Json out = Json::array();
  for (const auto& a : *found)
    out.push_back(alertJson(a));
  return out;
}

Result<Json> LocalFleetReader::alert(int64_t id) {
  auto found = AlertStore(store_.database()).alert(id);
  if (!found.ok()) return found.error();
  if (!*found)
    return makeError(ErrorCode::kNotFound, "no alert " + std::to_string(id) +
                                               " (see `driftwatch-aggregator alerts list`)");
  return alertJson(**found);
}

Result<Json> LocalFleetReader::deliveries(const std::string& status) {
  if (auto s = checkDeliveryStatus(status, FieldNames::kQueryParameters); !s.ok()) return s.error();
  auto found = AlertStore(store_.database()).deliveries(status == "all" ? "" : status);
  if (!found.ok()) return found.error();
  Json out = Json::array();
  for (const auto& d : *found)
    out.push_back(deliveryJson(d));
  return out;
}

Result<Json> LocalFleetReader::maintenance(bool all) {
  const int64_t now = nowMs_();
  auto windows = MaintenanceWindows(store_).list(now, all);
  if (!windows.ok()) return windows.error();
  Json out = Json::array();
  for (const auto& w : *windows)
    out.push_back(maintenanceJson(w, now));
  return out;
}

}  // namespace driftwatch::aggregator
