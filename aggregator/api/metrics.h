#pragma once
// GET /metrics: the aggregator's state in the Prometheus text exposition format (0.0.4). Each
// part of the system is a MetricSource that writes its own families; main wires the sources it
// has, so a new part (the alert queue) adds a source, not a change here. Sources read the fleet
// store's connection on the store thread: a scrape is a few aggregate queries.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Writes families in order: family() (its HELP and TYPE lines), then its samples.
class MetricsWriter {
 public:
  // `type`: counter or gauge.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const MetricLabels& labels, int64_t value);
  void sample(std::string_view name, const MetricLabels& labels, double value);
  const std::string& text() const { return text_; }

 private:
  void sampleText(std::string_view name, const MetricLabels& labels, const std::string& value);
  std::string text_;
};

// A label value as the format wants it: backslash, double quote and line feed escaped.
std::string escapeLabelValue(std::string_view value);

class MetricSource {
 public:
  virtual ~MetricSource() = default;
  virtual Status collect(MetricsWriter& out, int64_t nowMs) = 0;
};

class Metrics {
 public:
  void add(std::unique_ptr<MetricSource> source) { sources_.push_back(std::move(source)); }
  // The whole exposition; a failing source fails the scrape (Prometheus then marks it down).
  Result<std::string> render(int64_t nowMs) const;

 private:
  std::vector<std::unique_ptr<MetricSource>> sources_;
};

// A host that has not reported for this long is "silent" by default (agents report at least
// every heartbeat_interval, 5 minutes by default: three missed heartbeats); `serve` uses
// alerts.host_silent_after, so that /metrics and host_silent alerts agree.
inline constexpr int64_t kSilentAfterMs = 15LL * 60 * 1000;
// The window over which the ingest rates are averaged.
inline constexpr int64_t kIngestRateWindowMs = 5LL * 60 * 1000;

// driftwatch_hosts{status="reporting|silent|never_reported|revoked"}
class HostMetrics : public MetricSource {
 public:
  explicit HostMetrics(const FleetStore& store, int64_t silentAfterMs = kSilentAfterMs)
      : store_(store), silentAfterMs_(silentAfterMs) {}
  Status collect(MetricsWriter& out, int64_t nowMs) override;

 private:
  const FleetStore& store_;
  int64_t silentAfterMs_;
};

// driftwatch_alerts{status}, driftwatch_alert_deliveries{status} and
// driftwatch_alert_queue_depth (deliveries neither delivered nor dead).
class AlertMetrics : public MetricSource {
 public:
  explicit AlertMetrics(const FleetStore& store) : store_(store) {}
  Status collect(MetricsWriter& out, int64_t nowMs) override;

 private:
  const FleetStore& store_;
};

// driftwatch_drift_open{severity, direction}
class DriftMetrics : public MetricSource {
 public:
  explicit DriftMetrics(const FleetStore& store) : store_(store) {}
  Status collect(MetricsWriter& out, int64_t nowMs) override;

 private:
  const FleetStore& store_;
};

// driftwatch_reports_ingested_total, driftwatch_deltas_ingested_total (every accepted report
// in the store), and their rates over the last kIngestRateWindowMs.
class IngestMetrics : public MetricSource {
 public:
  explicit IngestMetrics(const FleetStore& store) : store_(store) {}
  Status collect(MetricsWriter& out, int64_t nowMs) override;

 private:
  const FleetStore& store_;
};

// The sources the fleet store supports today, for main to wire.
Metrics fleetMetrics(const FleetStore& store, int64_t silentAfterMs = kSilentAfterMs);

}  // namespace driftwatch::aggregator
