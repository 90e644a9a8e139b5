#pragma once
// What the admin commands read, as a role: the fleet's hosts, history, gaps, drift, policies,
// audit trail, alerts and deliveries, each answered with its JSON view
// (aggregator/api/json_views.h). Two mechanisms: LocalFleetReader reads a fleet store (the admin
// commands on the aggregator's host, and the admin API serving everyone else); the CLI's
// RemoteFleetReader asks that API. Commands format text from the views, so local and remote output
// are the same.
//
// Errors: kNotFound for a host, policy or version that does not exist, kInvalidInput for a bad
// query (the message names the field), anything else for a failing store or transport.
// A reader is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aggregator/api/json_views.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct HistoryQuery {
  std::string host;
  std::string resource;  // empty: every resource
  int64_t limit = 100;   // the newest N changes
};

struct DriftQuery {
  std::string host;                                          // empty: every host
  std::optional<std::pair<std::string, std::string>> label;  // hosts with this label only
  std::string status = "open";  // open, accepted, waived, resolved, active or all
  std::string severity;         // empty: any
  std::string direction;        // empty: both
  std::optional<std::chrono::milliseconds> minAge;  // open (or was open) at least this long
  bool creep = false;                               // only items flagged as configuration creep
  bool recurring = false;                           // only items flagged as recurring
};

struct PolicyDiffQuery {
  std::string name;
  int64_t from = 0;  // 0: the version before `to`
  int64_t to = 0;    // 0: the newest
};

struct AlertQuery {
  // pending, firing, acknowledged, resolved, unresolved (all but resolved: what still needs
  // someone) or all.
  std::string status = "unresolved";
  std::string host;      // empty: every host
  int64_t limit = 1000;  // the newest N
};

// How a query's fields are named in errors: the CLI's flags ("--status") or the API's query
// parameters ("status").
enum class FieldNames { kFlags, kQueryParameters };

// The error names the field as `names` says.
Status checkDriftQuery(const DriftQuery& q, FieldNames names);
Status checkAlertQuery(const AlertQuery& q, FieldNames names);
// dead, pending, delivered or all.
Status checkDeliveryStatus(std::string_view status, FieldNames names);
// The enrolled host `id`, or kNotFound with a message that says how to list the hosts.
Result<HostRecord> findHost(const FleetStore& store, const std::string& id);
// "role=web" as a label filter; the error names the field.
Result<std::pair<std::string, std::string>> parseLabelFilter(std::string_view text,
                                                             FieldNames names);

class FleetReader {
 public:
  virtual ~FleetReader() = default;
  virtual Result<Json> hosts() = 0;
  virtual Result<Json> host(const std::string& id) = 0;
  virtual Result<Json> history(const HistoryQuery& q) = 0;
  virtual Result<Json> gaps(const std::string& host) = 0;
  virtual Result<Json> drift(const DriftQuery& q) = 0;
  virtual Result<Json> policies() = 0;
  // `version` 0: the newest.
  virtual Result<Json> policy(const std::string& name, int64_t version) = 0;
  virtual Result<Json> policyHistory(const std::string& name) = 0;
  virtual Result<Json> policyDiff(const PolicyDiffQuery& q) = 0;
  virtual Result<Json> audit(int64_t limit) = 0;
  // Newest first.
  virtual Result<Json> alerts(const AlertQuery& q) = 0;
  virtual Result<Json> alert(int64_t id) = 0;
  // Oldest first.
  virtual Result<Json> deliveries(const std::string& status) = 0;
  // Current and upcoming windows, or every one when `all`.
  virtual Result<Json> maintenance(bool all) = 0;
};

class LocalFleetReader : public FleetReader {
 public:
  using Clock = std::function<int64_t()>;  // unix ms
  explicit LocalFleetReader(const FleetStore& store, DriftFlagRules rules = {}, Clock nowMs = {});

  Result<Json> hosts() override;
  Result<Json> host(const std::string& id) override;
  Result<Json> history(const HistoryQuery& q) override;
  Result<Json> gaps(const std::string& host) override;
  Result<Json> drift(const DriftQuery& q) override;
  Result<Json> policies() override;
  Result<Json> policy(const std::string& name, int64_t version) override;
  Result<Json> policyHistory(const std::string& name) override;
  Result<Json> policyDiff(const PolicyDiffQuery& q) override;
  Result<Json> audit(int64_t limit) override;
  Result<Json> alerts(const AlertQuery& q) override;
  Result<Json> alert(int64_t id) override;
  Result<Json> deliveries(const std::string& status) override;
  Result<Json> maintenance(bool all) override;

 private:
  Result<std::vector<PolicyVersion>> versionsOf(const std::string& name) const;

  const FleetStore& store_;
  DriftFlagRules rules_;
  Clock nowMs_;
};

}  // namespace driftwatch::aggregator
