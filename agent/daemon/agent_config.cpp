#include "agent/daemon/agent_config.h"

#include "common/base/strings.h"
#include "common/base/units.h"
#include "common/config/settings_file.h"

namespace driftwatch::agent {

Result<AgentConfig> parseAgentConfig(std::string_view text, std::string_view fileName) {
  AgentConfig config;
  static constexpr std::string_view kKeys[] = {"policy",
                                               "baseline",
                                               "root",
                                               "state_dir",
                                               "events_file",
                                               "settle",
                                               "max_settle",
                                               "poll_interval",
                                               "rescan_interval",
                                               "deep_rescan_interval",
                                               "io_budget",
                                               "cpu_share",
                                               "threads",
                                               "max_hash_size",
                                               "outbox_quota",
                                               "batch_delay",
                                               "heartbeat_interval",
                                               "retry_max"};
  auto s =
      config::forEachSetting(text, fileName, kKeys, [&](const config::Setting& setting) -> Status {
        const std::string& key = setting.key;
        const std::string& v = setting.value;
        if (setting.isList) return setting.bad("a single value");
        if (key == "policy") {
          config.policy = v;
        } else if (key == "baseline") {
          config.baseline = v;
        } else if (key == "root") {
          config.root = v;
        } else if (key == "state_dir") {
          config.stateDir = v;
        } else if (key == "events_file") {
          config.eventsFile = v;
        } else if (key == "settle" || key == "max_settle" || key == "poll_interval" ||
                   key == "rescan_interval" || key == "deep_rescan_interval" ||
                   key == "batch_delay" || key == "heartbeat_interval" || key == "retry_max") {
          const auto d = parseDuration(v);
          if (!d) return setting.bad("a duration (like 200ms, 30s, 5m, 1h, 1d)");
          auto& field = key == "settle"               ? config.settle
                        : key == "max_settle"         ? config.maxSettle
                        : key == "poll_interval"      ? config.pollInterval
                        : key == "rescan_interval"    ? config.rescanInterval
                        : key == "batch_delay"        ? config.batchDelay
                        : key == "heartbeat_interval" ? config.heartbeatInterval
                        : key == "retry_max"          ? config.retryMax
                                                      : config.deepRescanInterval;
          field = *d;
        } else if (key == "io_budget" || key == "max_hash_size" || key == "outbox_quota") {
          const auto size = parseSize(v);
          if (!size)
            return setting.bad(key == "io_budget"
                                   ? "a rate in bytes per second (like 32MiB; 0 for unlimited)"
                                   : "a size (like 1GiB)");
          (key == "io_budget"       ? config.ioBudgetBytesPerSecond
           : key == "max_hash_size" ? config.maxHashBytes
                                    : config.outboxQuotaBytes) = *size;
        } else if (key == "cpu_share") {
          double share = 0;
          std::string_view unit;
          if (!splitNumber(v, share, unit) || !unit.empty() || share <= 0 || share > 1) {
            return setting.bad("a share of one core between 0 and 1 (like 0.25)");
          }
          config.cpuShare = share;
        } else if (key == "threads") {
          unsigned long long n = 0;
          if (!parseUnsigned(v, n) || n < 1 || n > 64)
            return setting.bad("a number of threads from 1 to 64");
          config.threads = static_cast<unsigned>(n);
        }
        return {};
      });
  if (!s.ok()) return s.error();
  if (config.settle.count() <= 0)
    return makeError(ErrorCode::kInvalidInput, "must be above zero",
                     std::string(fileName) + ": settle");
  if (config.maxSettle < config.settle) config.maxSettle = config.settle;
  if (config.pollInterval.count() < 1000 || config.rescanInterval.count() < 1000 ||
      config.deepRescanInterval.count() < 1000) {
    return makeError(ErrorCode::kInvalidInput, "poll and rescan intervals must be at least 1s",
                     std::string(fileName));
  }
  if (config.heartbeatInterval.count() < 1000 || config.retryMax.count() < 100) {
    return makeError(ErrorCode::kInvalidInput,
                     "heartbeat_interval must be at least 1s and retry_max at least 100ms",
                     std::string(fileName));
  }
  if (config.outboxQuotaBytes < (1u << 20))
    return makeError(ErrorCode::kInvalidInput, "must be at least 1MiB",
                     std::string(fileName) + ": outbox_quota");
  return config;
}

Result<AgentConfig> loadAgentConfig(const std::string& path, bool required) {
  auto text = config::readSettingsFile(path, required);
  if (!text.ok()) return text.error();
  return parseAgentConfig(*text, path);
}

}  // namespace driftwatch::agent
