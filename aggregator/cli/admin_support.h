#pragma once
// What every admin subcommand shares: loading the config, opening the existing fleet store,
// reporting errors, and rendering times, digests and tables.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/cli/commands.h"
#include "aggregator/config/aggregator_config.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// Print the error on stderr; return kExitError.
int fail(const Error& e);
int fail(std::string_view message);
// Each line made safe to show (control bytes, invalid UTF-8), the line breaks kept.
std::string safeLines(std::string_view text);

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
// The enrolled host `id`, or an error that says how to list the hosts.
Result<HostRecord> findHost(const FleetStore& store, const std::string& id);

// A fixed-width table for the terminal; the first row is the header.
void printTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace driftwatch::aggregator
