#pragma once
// The fleet as JSON: the one serialisation of hosts, history, coverage gaps, drift items,
// policies, the audit trail, alerts and their deliveries, used by the admin commands' --format json
// and by the admin REST API alike, so the two can never disagree (docs/aggregator.md documents each
// field). Pure functions, safe from any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aggregator/alert/alert_store.h"
#include "aggregator/maintenance/maintenance_windows.h"
#include "aggregator/store/fleet_store.h"

namespace driftwatch::aggregator {

using Json = nlohmann::ordered_json;

// The flags that make anti-patterns visible (docs/aggregator.md, "Drift"): drift nobody fixes
// or decides (creep), and drift that keeps coming back after it resolved (recurring).
struct DriftFlagRules {
  int64_t creepAfterMs = 7LL * 24 * 3600 * 1000;  // creep_after
  int64_t recurringAfter = 2;                     // recurring_after
};
struct DriftFlags {
  bool creep = false;
  bool recurring = false;
};
DriftFlags driftFlags(const DriftRecord& d, const DriftFlagRules& rules, int64_t nowMs);

// Times as the CLI shows them: "2026-11-28T02:47:49Z", "never" for 0.
std::string utcText(int64_t seconds);
std::string utcMsText(int64_t ms);
std::string hexDigest(std::string_view bytes);  // 32 bytes as hex; "" otherwise
// Each line made safe to show (control bytes, invalid UTF-8), the line breaks kept.
std::string safeLines(std::string_view text);

Json hostJson(const HostRecord& h);
Json historyJson(const HistoryRow& r);
// One entry per gap, from its opening and closing events (the agent's JSON, read defensively).
Json gapsJson(const std::vector<CoverageRecord>& events);
Json driftJson(const DriftRecord& d, const DriftFlags& flags);
Json policyVersionJson(const PolicyVersion& v);
// policyVersionJson and the text, each line made safe to show.
Json policyShowJson(const PolicyVersion& v);
Json policyDiffJson(std::string_view name, int64_t from, int64_t to, std::string_view diff,
                    bool baselineChanged);
Json auditJson(const AuditRecord& r);
Json alertJson(const AlertRecord& a);
Json deliveryJson(const DeliveryRecord& d);
// `active` and `state` (upcoming, active, over) at `nowMs`.
Json maintenanceJson(const MaintenanceWindow& w, int64_t nowMs);

// The JSON text of a view as the CLI prints it and the API sends it: two-space indented, any
// invalid UTF-8 a host sent replaced rather than failing the whole answer.
std::string dumpJson(const Json& view);

}  // namespace driftwatch::aggregator
