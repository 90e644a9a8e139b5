#include "agent/daemon/agent_config.h"

#include <cerrno>
#include <map>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/strings.h"

namespace driftwatch::agent {
namespace {

std::string where(std::string_view file, const YAML::Mark& mark) {
  return std::string(file) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

// Splits "200ms" into 200 and "ms".
bool splitNumber(std::string_view text, double& number, std::string_view& unit) {
  text = trim(text);
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  try {
    number = std::stod(std::string(text.substr(0, i)));
  } catch (...) {
    return false;
  }
  unit = trim(text.substr(i));
  return number >= 0;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) return std::nullopt;
  static const std::map<std::string_view, double> kUnits = {
      {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(n * it->second));
}

std::optional<uint64_t> parseSize(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!splitNumber(text, n, unit)) return std::nullopt;
  static const std::map<std::string_view, double> kUnits = {
      {"", 1},        {"B", 1},    {"KiB", 1024.0}, {"MiB", 1048576.0},      {"GiB", 1073741824.0},
      {"KB", 1000.0}, {"MB", 1e6}, {"GB", 1e9},     {"TiB", 1099511627776.0}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return static_cast<uint64_t>(n * it->second);
}

Result<AgentConfig> parseAgentConfig(std::string_view text, std::string_view fileName) {
  AgentConfig config;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return makeError(ErrorCode::kInvalidInput, "invalid YAML: " + e.msg, where(fileName, e.mark));
  }
  if (!root.IsDefined() || root.IsNull()) return config;  // an empty file keeps every default
  if (!root.IsMap())
    return makeError(ErrorCode::kInvalidInput, "the config must be a mapping of keys",
                     std::string(fileName));

  static const std::vector<std::string_view> kKeys = {
      "policy",    "baseline",   "root",          "state_dir",       "events_file",
      "settle",    "max_settle", "poll_interval", "rescan_interval", "deep_rescan_interval",
      "io_budget", "cpu_share",  "threads",       "max_hash_size"};
  std::map<std::string, int> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node keyNode = it->first;  // copies: the iterator yields temporaries
    const YAML::Node value = it->second;
    const std::string key = keyNode.IsScalar() ? keyNode.Scalar() : std::string();
    const std::string loc = where(fileName, keyNode.Mark());
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      std::string message = "unknown key '" + escapeBytes(key) + "'";
      if (const auto hint = closestMatch(key, kKeys); !hint.empty())
        message += " (did you mean '" + hint + "'?)";
      return makeError(ErrorCode::kInvalidInput, message, loc);
    }
    if (const auto [pos, inserted] = seen.emplace(key, keyNode.Mark().line + 1); !inserted) {
      return makeError(ErrorCode::kInvalidInput,
                       "repeated key (first on line " + std::to_string(pos->second) + ")",
                       loc + ": " + key);
    }
    const std::string valueLoc = where(fileName, value.Mark()) + ": " + key;
    if (!value.IsScalar())
      return makeError(ErrorCode::kInvalidInput, "needs a single value", valueLoc);
    const std::string v = value.Scalar();
    const auto bad = [&](std::string_view shape) {
      return makeError(ErrorCode::kInvalidInput,
                       "'" + escapeBytes(v) + "' is not " + std::string(shape), valueLoc);
    };
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
               key == "rescan_interval" || key == "deep_rescan_interval") {
      const auto d = parseDuration(v);
      if (!d) return bad("a duration (like 200ms, 30s, 5m, 1h, 1d)");
      auto& field = key == "settle"            ? config.settle
                    : key == "max_settle"      ? config.maxSettle
                    : key == "poll_interval"   ? config.pollInterval
                    : key == "rescan_interval" ? config.rescanInterval
                                               : config.deepRescanInterval;
      field = *d;
    } else if (key == "io_budget" || key == "max_hash_size") {
      const auto size = parseSize(v);
      if (!size)
        return bad(key == "io_budget" ? "a rate in bytes per second (like 32MiB; 0 for unlimited)"
                                      : "a size (like 1GiB)");
      (key == "io_budget" ? config.ioBudgetBytesPerSecond : config.maxHashBytes) = *size;
    } else if (key == "cpu_share") {
      double share = 0;
      std::string_view unit;
      if (!splitNumber(v, share, unit) || !unit.empty() || share <= 0 || share > 1) {
        return bad("a share of one core between 0 and 1 (like 0.25)");
      }
      config.cpuShare = share;
    } else if (key == "threads") {
      unsigned long long n = 0;
      if (!parseUnsigned(v, n) || n < 1 || n > 64) return bad("a number of threads from 1 to 64");
      config.threads = static_cast<unsigned>(n);
    }
  }
  if (config.settle.count() <= 0)
    return makeError(ErrorCode::kInvalidInput, "must be above zero",
                     std::string(fileName) + ": settle");
  if (config.maxSettle < config.settle) config.maxSettle = config.settle;
  if (config.pollInterval.count() < 1000 || config.rescanInterval.count() < 1000 ||
      config.deepRescanInterval.count() < 1000) {
    return makeError(ErrorCode::kInvalidInput, "poll and rescan intervals must be at least 1s",
                     std::string(fileName));
  }
  return config;
}

Result<AgentConfig> loadAgentConfig(const std::string& path, bool required) {
  auto text = readRegularFile(path, 1 << 20, "config file");
  if (!text.ok()) {
    if (!required && text.error().code == ErrorCode::kNotFound) return AgentConfig{};
    return text.error();
  }
  return parseAgentConfig(*text, path);
}

}  // namespace driftwatch::agent
