#pragma once
// The daemon's settings: the config file (/etc/driftwatch/agent.yaml by default, every key in
// docs/agent-daemon.md), with command-line flags taking precedence. Unknown keys and malformed
// values are errors that name file, line and column: a typo must not quietly change how the
// agent watches.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::agent {

inline constexpr std::string_view kDefaultConfigPath = "/etc/driftwatch/agent.yaml";
inline constexpr std::string_view kDefaultStateDir = "/var/lib/driftwatch/agent";

struct AgentConfig {
  std::string policy;
  std::string baseline;  // empty: none
  std::string root = "/";
  std::string stateDir = std::string(kDefaultStateDir);
  std::string eventsFile;  // empty: events go to stderr only
  std::chrono::milliseconds settle{200};
  std::chrono::milliseconds maxSettle{5000};
  std::chrono::milliseconds pollInterval{std::chrono::seconds(60)};
  std::chrono::milliseconds rescanInterval{std::chrono::hours(1)};
  std::chrono::milliseconds deepRescanInterval{std::chrono::hours(24)};
  uint64_t ioBudgetBytesPerSecond = 32ull << 20;  // 0: unlimited
  double cpuShare = 0.5;                          // of one core, for scanning and hashing
  unsigned threads = 2;                           // background workers
  uint64_t maxHashBytes = 1ull << 30;             // larger files are reported, not hashed
  // Reporting to the aggregator (once enrolled).
  uint64_t outboxQuotaBytes = 256ull << 20;    // past it, changes to one resource are compacted
  std::chrono::milliseconds batchDelay{1000};  // gathers changes before sending a batch
  std::chrono::milliseconds heartbeatInterval{std::chrono::minutes(5)};  // a report when idle
  std::chrono::milliseconds retryMax{std::chrono::minutes(5)};  // the longest retry back-off
};

// Reads `path` over the defaults. A missing file is an error only when `required` (the user
// named it); the default path may be absent.
Result<AgentConfig> loadAgentConfig(const std::string& path, bool required);
Result<AgentConfig> parseAgentConfig(std::string_view text, std::string_view fileName);

}  // namespace driftwatch::agent
