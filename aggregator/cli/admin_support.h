#pragma once
// What every admin subcommand shares: loading the config, opening the existing fleet store or
// the remote API (--server), reporting errors, and rendering times, digests and tables.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/api/fleet_actions.h"
#include "aggregator/api/fleet_reader.h"
#include "aggregator/api/json_views.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/commands.h"
#include "aggregator/config/aggregator_config.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// Print the error on stderr; return kExitError.
int fail(const Error& e);
int fail(std::string_view message);

// Who runs the command: the person behind sudo when there is one, else the account.
std::string whoAmI();

int64_t nowSeconds();
int64_t nowMs();
std::string utc(int64_t seconds);  // "never" for 0
std::string utcMs(int64_t ms);
std::string hexOf(std::string_view bytes);  // 32 bytes as hex; "" otherwise

Result<AggregatorConfig> loadConfig(const CommonArgs& args);
Status checkFormat(const CommonArgs& args);
// The store of an existing data directory: admin commands never create one by mistake.
Result<FleetStore> openExisting(const AggregatorConfig& config);
// What most admin commands start with: --format checked, the config loaded, the existing
// fleet store opened.
struct AdminStore {
  AggregatorConfig config;
  FleetStore store;
};
Result<AdminStore> openAdminStore(const CommonArgs& args);

// Where read-only commands read: the local fleet store, or the admin API of the aggregator that
// --server (or DRIFTWATCH_SERVER) names, with the API token from --token-file, --token or
// DRIFTWATCH_TOKEN. The store, when local, lives as long as the reader.
struct OpenedReader {
  std::unique_ptr<FleetStore> store;
  std::unique_ptr<FleetReader> reader;
};
Result<OpenedReader> openReader(const CommonArgs& args);
// Where the commands that act (alerts ack|retry, accept, waive) act: on the local fleet store,
// audited as "admin", or through the admin API of the aggregator --server names, as openReader
// says (the API token needs the write scope).
struct OpenedActions {
  std::unique_ptr<FleetStore> store;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<FleetActions> actions;
};
Result<OpenedActions> openActions(const CommonArgs& args);
// The drift flags' thresholds the config file sets (creep_after, recurring_after).
DriftFlagRules flagRulesOf(const AggregatorConfig& config);

// A string field of a JSON view ("" for null or absent), and a labels object as labels.
std::string textOf(const Json& view, const char* key);
model::Labels labelsOf(const Json& view, const char* key);
// The view as the CLI prints it.
void printJson(const Json& view);

// A fixed-width table for the terminal; the first row is the header.
void printTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace driftwatch::aggregator
