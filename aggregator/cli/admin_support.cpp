#include "aggregator/cli/admin_support.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include <pwd.h>
#include <unistd.h>

#include "aggregator/cli/remote_api.h"
#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/strings.h"

namespace driftwatch::aggregator {

int fail(const Error& e) {
  // Multi-line errors (every problem of a policy apply) keep their lines.
  std::cerr << "driftwatch-aggregator: error: " << safeLines(e.describe()) << "\n";
  return kExitError;
}

int fail(std::string_view message) {
  std::cerr << "driftwatch-aggregator: error: " << message << "\n";
  return kExitError;
}

Result<AdminStore> openAdminStore(const CommonArgs& args) {
  if (auto s = checkFormat(args); !s.ok()) return s.error();
  auto config = loadConfig(args);
  if (!config.ok()) return config.error();
  auto store = openExisting(*config);
  if (!store.ok()) return store.error();
  return AdminStore{std::move(*config), std::move(*store)};
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
  return utcText(seconds);
}

std::string utcMs(int64_t ms) {
  return utcMsText(ms);
}

std::string hexOf(std::string_view bytes) {
  return hexDigest(bytes);
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

namespace {

std::string fromEnvironment(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The first line of a token file, without surrounding blanks.
Result<std::string> readTokenFile(const std::string& path) {
  auto text = readRegularFile(path, 4096, "token file");
  if (!text.ok()) return text.error();
  const std::string_view first = trim(std::string_view(*text).substr(0, text->find('\n')));
  if (first.empty())
    return makeError(ErrorCode::kInvalidInput, "the token file is empty", "--token-file " + path);
  return std::string(first);
}

// The server's address, token and trust from the flags and the environment.
Result<RemoteOptions> remoteOptions(const CommonArgs& args, const std::string& server) {
  if (!args.dataDir.empty())
    return makeError(ErrorCode::kInvalidInput,
                     "--data-dir reads a local store: drop it, or drop --server (and unset "
                     "DRIFTWATCH_SERVER)");
  if (!args.token.empty() && !args.tokenFile.empty())
    return makeError(ErrorCode::kInvalidInput, "give --token or --token-file, not both");
  if (!args.ca.empty() && !args.caFingerprint.empty())
    return makeError(ErrorCode::kInvalidInput, "give --ca or --ca-fingerprint, not both");
  RemoteOptions options;
  options.server = server;
  options.caFingerprint = args.caFingerprint;
  if (!args.tokenFile.empty()) {
    auto token = readTokenFile(args.tokenFile);
    if (!token.ok()) return token.error();
    options.token = std::move(*token);
  } else {
    options.token = args.token.empty() ? fromEnvironment("DRIFTWATCH_TOKEN") : args.token;
  }
  if (!args.ca.empty()) {
    auto pem = readRegularFile(args.ca, 1 << 20, "CA certificate");
    if (!pem.ok()) return pem.error();
    options.caPem = std::move(*pem);
  }
  return options;
}

std::string serverOf(const CommonArgs& args) {
  return args.server.empty() ? fromEnvironment("DRIFTWATCH_SERVER") : args.server;
}

Status checkLocal(const CommonArgs& args) {
  if (!args.token.empty() || !args.tokenFile.empty() || !args.ca.empty() ||
      !args.caFingerprint.empty())
    return makeError(ErrorCode::kInvalidInput,
                     "--token, --token-file, --ca and --ca-fingerprint go with --server URL");
  return {};
}

}  // namespace

Result<OpenedReader> openReader(const CommonArgs& args) {
  if (auto s = checkFormat(args); !s.ok()) return s.error();
  if (const std::string server = serverOf(args); !server.empty()) {
    auto options = remoteOptions(args, server);
    if (!options.ok()) return options.error();
    auto reader = openRemoteReader(*options);
    if (!reader.ok()) return reader.error();
    return OpenedReader{nullptr, std::move(*reader)};
  }
  if (auto s = checkLocal(args); !s.ok()) return s.error();
  auto config = loadConfig(args);
  if (!config.ok()) return config.error();
  auto store = openExisting(*config);
  if (!store.ok()) return store.error();
  OpenedReader out;
  out.store = std::make_unique<FleetStore>(std::move(*store));
  out.reader = std::make_unique<LocalFleetReader>(*out.store, flagRulesOf(*config));
  return out;
}

Result<OpenedActions> openActions(const CommonArgs& args) {
  if (auto s = checkFormat(args); !s.ok()) return s.error();
  if (const std::string server = serverOf(args); !server.empty()) {
    auto options = remoteOptions(args, server);
    if (!options.ok()) return options.error();
    auto actions = openRemoteActions(*options);
    if (!actions.ok()) return actions.error();
    OpenedActions out;
    out.actions = std::move(*actions);
    return out;
  }
  if (auto s = checkLocal(args); !s.ok()) return s.error();
  auto config = loadConfig(args);
  if (!config.ok()) return config.error();
  auto store = openExisting(*config);
  if (!store.ok()) return store.error();
  OpenedActions out;
  out.store = std::make_unique<FleetStore>(std::move(*store));
  auto audit = AuditLog::open(*out.store, config->auditLog);
  if (!audit.ok()) return audit.error();
  out.audit = std::make_unique<AuditLog>(std::move(*audit));
  out.actions =
      std::make_unique<LocalFleetActions>(*out.store, *out.audit,
                                          LocalActionOptions{.actor = "admin",
                                                             .names = FieldNames::kFlags,
                                                             .alertSettle = config->alerts.settle,
                                                             .flagRules = flagRulesOf(*config)});
  return out;
}

DriftFlagRules flagRulesOf(const AggregatorConfig& config) {
  return DriftFlagRules{config.creepAfter.count(), config.recurringAfter};
}

std::string textOf(const Json& view, const char* key) {
  const auto it = view.find(key);
  return it != view.end() && it->is_string() ? it->get<std::string>() : std::string();
}

model::Labels labelsOf(const Json& view, const char* key) {
  model::Labels out;
  const auto it = view.find(key);
  if (it == view.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

void printJson(const Json& view) {
  std::cout << dumpJson(view) << "\n";
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
