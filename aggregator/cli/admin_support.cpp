#include "aggregator/cli/admin_support.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include <pwd.h>
#include <unistd.h>

#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/crypto/sha256.h"

namespace driftwatch::aggregator {

// Each line made safe to show (control bytes, invalid UTF-8), the line breaks kept.
std::string safeLines(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    out += displaySafe(text.substr(start, end - start));
    if (nl != std::string_view::npos) out += '\n';
    start = end + 1;
  }
  return out;
}

int fail(const Error& e) {
  // Multi-line errors (every problem of a policy apply) keep their lines.
  std::cerr << "driftwatch-aggregator: error: " << safeLines(e.describe()) << "\n";
  return kExitError;
}

int fail(std::string_view message) {
  std::cerr << "driftwatch-aggregator: error: " << message << "\n";
  return kExitError;
}

Result<HostRecord> findHost(const FleetStore& store, const std::string& id) {
  auto host = store.host(id);
  if (!host.ok()) return host.error();
  if (!*host)
    return makeError(ErrorCode::kNotFound,
                     "no host " + displaySafe(id) + " (see `driftwatch-aggregator hosts list`)");
  return std::move(**host);
}

std::string whoAmI() {
  if (const char* sudoUser = std::getenv("SUDO_USER"); sudoUser != nullptr && *sudoUser != 0)
    return displaySafe(sudoUser);
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) return displaySafe(pw->pw_name);
  return "uid " + std::to_string(::getuid());
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc(int64_t seconds) {
  if (seconds <= 0) return "never";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

std::string utcMs(int64_t ms) {
  if (ms <= 0) return "never";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

std::string hexOf(std::string_view bytes) {
  if (bytes.size() != 32) return "";
  Sha256Digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return toHex(d);
}

Result<AggregatorConfig> loadConfig(const CommonArgs& args) {
  const bool named = !args.config.empty();
  auto config = loadAggregatorConfig(named ? args.config : std::string(kDefaultConfigPath), named);
  if (!config.ok()) return config.error();
  if (!args.dataDir.empty()) config->dataDir = args.dataDir;
  if (config->auditLog.empty()) config->auditLog = config->dataDir + "/audit.log";
  return config;
}

Status checkFormat(const CommonArgs& args) {
  if (args.format != "text" && args.format != "json") {
    return makeError(ErrorCode::kInvalidInput, "must be text or json", "--format " + args.format);
  }
  return {};
}

// Opens the store of an existing data directory (admin commands never create one by mistake).
Result<FleetStore> openExisting(const AggregatorConfig& config) {
  const std::string db = config.dataDir + "/" + std::string(FleetStore::kFileName);
  if (::access(db.c_str(), F_OK) != 0) {
    return makeError(ErrorCode::kNotFound,
                     "no fleet store here: start `driftwatch-aggregator serve --data-dir " +
                         config.dataDir + "` first, or pass the right --data-dir",
                     config.dataDir);
  }
  return FleetStore::open(config.dataDir);
}

// A fixed-width table for the terminal.
void printTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

}  // namespace driftwatch::aggregator
