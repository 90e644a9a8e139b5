#include "aggregator/api/metrics.h"

#include <cstdio>
#include <map>

#include "aggregator/alert/alert_store.h"

namespace driftwatch::aggregator {
namespace {

// HELP text escapes backslash and line feed only.
std::string escapeHelp(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP " + std::string(name) + " " + escapeHelp(help) + "\n";
  text_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
}

void MetricsWriter::sample(std::string_view name, const MetricLabels& labels, int64_t value) {
  sampleText(name, labels, std::to_string(value));
}

void MetricsWriter::sample(std::string_view name, const MetricLabels& labels, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  sampleText(name, labels, buf);
}

void MetricsWriter::sampleText(std::string_view name, const MetricLabels& labels,
                               const std::string& value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += labels[i].first + "=\"" + escapeLabelValue(labels[i].second) + "\"";
    }
    text_ += '}';
  }
  text_ += ' ' + value + '\n';
}

Result<std::string> Metrics::render(int64_t nowMs) const {
  MetricsWriter out;
  for (const auto& source : sources_) {
    if (auto s = source->collect(out, nowMs); !s.ok()) return s.error();
  }
  return out.text();
}

Status HostMetrics::collect(MetricsWriter& out, int64_t nowMs) {
  auto stmt = store_.database().prepare(
      "SELECT CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN last_seen = 0 THEN "
      "'never_reported' WHEN last_seen < ? THEN 'silent' ELSE 'reporting' END, count(*) FROM "
      "hosts GROUP BY 1");
  if (!stmt.ok()) return stmt.error();
  // With host_silent alerts off (0), the 15-minute default still tells silent hosts here.
  stmt->bind(1, nowMs - (silentAfterMs_ > 0 ? silentAfterMs_ : kSilentAfterMs));
  std::map<std::string, int64_t> counts = {
      {"reporting", 0}, {"silent", 0}, {"never_reported", 0}, {"revoked", 0}};
  while (stmt->step())
    counts[stmt->columnText(0)] = stmt->columnInt(1);
  if (!stmt->status().ok()) return stmt->status().error();
  out.family("driftwatch_hosts", "gauge",
             "Enrolled hosts by status: reporting, silent (no report for "
             "alerts.host_silent_after), never_reported, revoked.");
  for (const auto& [status, n] : counts)
    out.sample("driftwatch_hosts", {{"status", status}}, n);
  return {};
}

Status DriftMetrics::collect(MetricsWriter& out, int64_t) {
  auto stmt = store_.database().prepare(
      "SELECT severity, direction, count(*) FROM drift WHERE status = 'open' GROUP BY 1, 2");
  if (!stmt.ok()) return stmt.error();
  // Every combination, zero or not, so that a dashboard's series do not come and go.
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const char* severity : {"low", "medium", "high", "critical"}) {
    for (const char* direction : {"managed", "definition"})
      counts[{severity, direction}] = 0;
  }
  while (stmt->step())
    counts[{stmt->columnText(0), stmt->columnText(1)}] = stmt->columnInt(2);
  if (!stmt->status().ok()) return stmt->status().error();
  out.family("driftwatch_drift_open", "gauge",
             "Open drift items by severity and direction (managed: the host changed; "
             "definition: the policy changed).");
  for (const auto& [key, n] : counts)
    out.sample("driftwatch_drift_open", {{"severity", key.first}, {"direction", key.second}}, n);
  return {};
}

Status IngestMetrics::collect(MetricsWriter& out, int64_t nowMs) {
  auto stmt = store_.database().prepare(
      "SELECT count(*), coalesce(sum(deltas), 0), coalesce(sum(received_at >= ?), 0), "
      "coalesce(sum(CASE WHEN received_at >= ? THEN deltas ELSE 0 END), 0) FROM batches");
  if (!stmt.ok()) return stmt.error();
  const int64_t since = nowMs - kIngestRateWindowMs;
  stmt->bind(1, since).bind(2, since);
  if (!stmt->step()) {
    if (!stmt->status().ok()) return stmt->status().error();
    return makeError(ErrorCode::kInternal, "an aggregate query returned no row", "batches");
  }
  const int64_t reports = stmt->columnInt(0);
  const int64_t deltas = stmt->columnInt(1);
  const double window = static_cast<double>(kIngestRateWindowMs) / 1000.0;
  const double reportRate = static_cast<double>(stmt->columnInt(2)) / window;
  const double deltaRate = static_cast<double>(stmt->columnInt(3)) / window;
  out.family("driftwatch_reports_ingested_total", "counter",
             "Reports (signed batches) accepted from agents and kept in the fleet store.");
  out.sample("driftwatch_reports_ingested_total", {}, reports);
  out.family("driftwatch_deltas_ingested_total", "counter",
             "Resource changes (deltas) in the accepted reports.");
  out.sample("driftwatch_deltas_ingested_total", {}, deltas);
  out.family("driftwatch_ingest_reports_per_second", "gauge",
             "Reports accepted per second, averaged over the last 5 minutes.");
  out.sample("driftwatch_ingest_reports_per_second", {}, reportRate);
  out.family("driftwatch_ingest_deltas_per_second", "gauge",
             "Deltas accepted per second, averaged over the last 5 minutes.");
  out.sample("driftwatch_ingest_deltas_per_second", {}, deltaRate);
  return {};
}

Status AlertMetrics::collect(MetricsWriter& out, int64_t) {
  const AlertStore alerts(store_.database());
  auto byStatus = alerts.alertCounts();
  if (!byStatus.ok()) return byStatus.error();
  std::map<std::string, int64_t> shown = {{std::string(kAlertPending), 0},
                                          {std::string(kAlertFiring), 0},
                                          {std::string(kAlertAcknowledged), 0},
                                          {std::string(kAlertResolved), 0}};
  for (const auto& [status, n] : *byStatus)
    shown[status] = n;
  out.family("driftwatch_alerts", "gauge",
             "Alerts by status: pending, firing, acknowledged, resolved.");
  for (const auto& [status, n] : shown)
    out.sample("driftwatch_alerts", {{"status", status}}, n);

  auto deliveries = alerts.deliveryCounts();
  if (!deliveries.ok()) return deliveries.error();
  std::map<std::string, int64_t> sent = {{std::string(kDeliveryPending), 0},
                                         {std::string(kDeliveryDelivered), 0},
                                         {std::string(kDeliveryDead), 0}};
  for (const auto& [status, n] : *deliveries)
    sent[status] = n;
  out.family("driftwatch_alert_deliveries", "gauge",
             "Notification deliveries to receivers by status: pending, delivered, dead.");
  for (const auto& [status, n] : sent)
    out.sample("driftwatch_alert_deliveries", {{"status", status}}, n);

  auto depth = alerts.queueDepth();
  if (!depth.ok()) return depth.error();
  out.family("driftwatch_alert_queue_depth", "gauge", "Deliveries waiting to be sent or retried.");
  out.sample("driftwatch_alert_queue_depth", {}, *depth);
  return {};
}

Metrics fleetMetrics(const FleetStore& store, int64_t silentAfterMs) {
  Metrics m;
  m.add(std::make_unique<HostMetrics>(store, silentAfterMs));
  m.add(std::make_unique<DriftMetrics>(store));
  m.add(std::make_unique<IngestMetrics>(store));
  m.add(std::make_unique<AlertMetrics>(store));
  return m;
}

}  // namespace driftwatch::aggregator
