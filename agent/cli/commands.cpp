#include "agent/cli/commands.h"

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>

#include <stdlib.h>
#include <unistd.h>

#include "agent/check/check_runner.h"
#include "agent/check/digest_cache.h"
#include "agent/cli/progress_line.h"
#include "agent/daemon/agent_config.h"
#include "agent/daemon/daemon.h"
#include "agent/health/status.h"
#include "agent/report/report_format.h"
#include "agent/uplink/enroller.h"
#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/baseline/baseline.h"
#include "common/policy/policy.h"

namespace driftwatch::agent {
namespace {

// Messages name files and values in escaped form already; displaySafe() is the last guard
// against anything raw reaching the terminal. Lines stay lines.
void printMessage(std::string_view prefix, const std::string& message) {
  std::cerr << "driftwatch-agent: " << prefix;
  forEachLine(message, [&](std::string_view line, int lineNo) {
    std::cerr << (lineNo > 1 ? "\n" : "") << displaySafe(line);
  });
  std::cerr << "\n";
}

int fail(const Error& error) {
  printMessage("error: ", error.describe());
  return kExitError;
}

void warn(const std::string& message) {
  printMessage("warning: ", message);
}

bool colorWanted() {
  const char* noColor = std::getenv("NO_COLOR");
  if (noColor != nullptr && *noColor != '\0') return false;  // https://no-color.org
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

struct Loaded {
  policy::Policy policy;
  RootFs root;
};

Result<Loaded> load(const ScanArgs& args) {
  auto policy = policy::loadPolicy(args.policy);
  if (!policy.ok()) return policy.error();
  auto root = RootFs::open(args.root);
  if (!root.ok()) return root.error();
  return Loaded{std::move(policy).value(), std::move(root).value()};
}

// The digest cache for this scan, or nullptr (--no-cache, or a cache that cannot be used: the
// scan then reads every file, which is slower but never wrong).
std::unique_ptr<DigestCache> openDigestCache(const ScanArgs& args, DigestCache::Use use) {
  if (args.noCache) return nullptr;
  const std::string path = args.cache.empty() ? defaultDigestCachePath() : args.cache;
  if (path.empty()) return nullptr;
  char resolved[PATH_MAX];
  if (::realpath(args.root.c_str(), resolved) == nullptr) return nullptr;
  // An image's stat data is the image's to choose: only the live host's is trusted.
  if (std::string_view(resolved) != "/") return nullptr;
  auto cache = DigestCache::open(path, resolved, use);
  if (!cache.ok()) {
    warn("digest cache not used, every file is read: " + cache.error().describe());
    return nullptr;
  }
  return std::move(cache).value();
}

// Keeps what the scan hashed for the next run. A failure costs only speed next time.
void saveDigestCache(DigestCache* cache, const policy::Policy& policy) {
  if (cache == nullptr) return;
  std::vector<std::string> scanned;
  for (const auto& rule : policy.files)
    scanned.push_back(rule.path);
  if (auto s = cache->save(scanned); !s.ok())
    warn("digest cache not updated: " + s.error().describe());
}

ScanOptions scanOptions(const ScanArgs& args, ScanProgress& progress, DigestCache* cache) {
  ScanOptions options;
  options.threads = args.threads;
  options.progress = &progress;
  options.cache = cache;
  return options;
}

bool progressWanted() {
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace

int runCheckCommand(const CheckArgs& args) {
  if (args.format != "text" && args.format != "json") {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "unknown format '" + args.format + "' (use text or json)", "--format"));
  }
  auto loaded = load(args.scan);
  if (!loaded.ok()) return fail(loaded.error());
  // The cache loads on another core while the baseline parses: both take a while on 100,000
  // files, and neither needs the other.
  auto pendingCache = std::async(std::launch::async, openDigestCache, std::cref(args.scan),
                                 DigestCache::Use::kReadWrite);
  std::optional<baseline::Baseline> base;
  if (!args.baseline.empty()) {
    auto b = baseline::loadBaseline(args.baseline);
    if (!b.ok()) return fail(b.error());
    base = std::move(b).value();
  }
  if (auto s = validateBaselineFor(loaded->policy, base ? &*base : nullptr, args.baseline);
      !s.ok()) {
    return fail(s.error());
  }
  ScanProgress progress;
  const auto cache = pendingCache.get();
  Result<CheckReport> report = makeError(ErrorCode::kInternal, "not run");
  {
    ProgressLine line(progress, progressWanted());
    report = runCheck(loaded->policy, base ? &*base : nullptr, loaded->root,
                      scanOptions(args.scan, progress, cache.get()));
  }
  if (!report.ok()) return fail(report.error());
  saveDigestCache(cache.get(), loaded->policy);
  for (const auto& w : report->warnings)
    warn(w);
  if (args.format == "json") {
    std::cout << renderJson(*report);
  } else {
    std::cout << renderText(*report, TextStyle{colorWanted()});
  }
  std::cout.flush();
  if (!std::cout) return fail(makeError(ErrorCode::kIo, "cannot write the report", "stdout"));
  return report->drift.empty() ? kExitOk : kExitDrift;
}

int runBaselineCommand(const BaselineArgs& args) {
  auto loaded = load(args.scan);
  if (!loaded.ok()) return fail(loaded.error());
  ScanProgress progress;
  // A baseline is what later checks trust: every file is read, none taken from the cache.
  const auto cache = openDigestCache(args.scan, DigestCache::Use::kWriteOnly);
  Result<RecordedBaseline> recorded = makeError(ErrorCode::kInternal, "not run");
  {
    ProgressLine line(progress, progressWanted());
    recorded =
        recordBaseline(loaded->policy, loaded->root, scanOptions(args.scan, progress, cache.get()));
  }
  if (!recorded.ok()) return fail(recorded.error());
  saveDigestCache(cache.get(), loaded->policy);
  for (const auto& w : recorded->warnings)
    warn(w);
  if (auto s = baseline::saveBaseline(args.out, recorded->baseline); !s.ok())
    return fail(s.error());
  std::cout << "Recorded " << recorded->baseline.entries.size() << " entries for policy "
            << loaded->policy.name << " into " << escapeBytes(args.out) << ".\n";
  return kExitOk;
}

int runAcceptCommand(const AcceptArgs& args) {
  if (args.reason.find_first_not_of(" \t\n") == std::string::npos) {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "give the reason for the change (it is kept in the baseline)",
                          "--reason"));
  }
  if (args.resources.empty() && !args.all) {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "name the resources to accept (as the check prints them, e.g. "
                          "file:/etc/motd) or pass --all"));
  }
  std::vector<model::ResourceId> ids;
  for (const auto& text : args.resources) {
    auto id = model::ResourceId::parse(text);
    if (!id.ok()) return fail(id.error());
    ids.push_back(std::move(id).value());
  }
  auto loaded = load(args.scan);
  if (!loaded.ok()) return fail(loaded.error());
  auto base = baseline::loadBaseline(args.baseline);
  if (!base.ok()) return fail(base.error());
  if (auto s = validateBaselineFor(loaded->policy, &*base, args.baseline); !s.ok())
    return fail(s.error());

  baseline::AcceptRecord record;
  record.time = formatUtc(std::chrono::system_clock::now());
  record.user = currentUser();
  record.host = observedHostName(loaded->root).value_or("");
  record.reason = args.reason;
  ScanProgress progress;
  const auto cache = openDigestCache(args.scan, DigestCache::Use::kReadWrite);
  auto outcome = acceptIntoBaseline(loaded->policy, *base, loaded->root,
                                    scanOptions(args.scan, progress, cache.get()), ids, args.all,
                                    std::move(record));
  if (!outcome.ok()) return fail(outcome.error());
  saveDigestCache(cache.get(), loaded->policy);
  for (const auto& note : outcome->notes)
    warn(note);
  for (const auto& r : outcome->unchanged)
    std::cout << "unchanged " << r << " (already matched the baseline)\n";
  if (outcome->changed.empty()) {
    std::cout << (outcome->unchanged.empty()
                      ? "Nothing to accept: no file drifts from the baseline.\n"
                      : "Nothing to accept: the baseline is unchanged.\n");
    return kExitOk;
  }
  if (auto s = baseline::saveBaseline(args.baseline, *base); !s.ok()) return fail(s.error());
  for (const auto& r : outcome->changed)
    std::cout << "accepted  " << r << "\n";
  std::cout << "Baseline " << escapeBytes(args.baseline) << " updated: " << outcome->changed.size()
            << " accepted.\n";
  return kExitOk;
}

namespace {

// The config file, with the default path allowed to be missing.
Result<AgentConfig> loadConfig(const std::string& path) {
  return loadAgentConfig(path.empty() ? std::string(kDefaultConfigPath) : path, !path.empty());
}

}  // namespace

int runDaemonCommand(const RunArgs& args) {
  auto config = loadConfig(args.config);
  if (!config.ok()) return fail(config.error());
  if (!args.policy.empty()) config->policy = args.policy;
  if (!args.baseline.empty()) config->baseline = args.baseline;
  if (!args.root.empty()) config->root = args.root;
  if (!args.stateDir.empty()) config->stateDir = args.stateDir;
  if (!args.eventsFile.empty()) config->eventsFile = args.eventsFile;
  // Without a policy an enrolled agent watches what the fleet's rules say (the daemon checks
  // that it is enrolled); a baseline belongs to a local policy.
  if (config->policy.empty() && !config->baseline.empty()) {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "a baseline needs the policy it was recorded for: pass --policy FILE",
                          "--baseline " + config->baseline));
  }
  return runDaemon(*config);
}

int runStatusCommand(const StatusArgs& args) {
  if (args.format != "text" && args.format != "json") {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "unknown format '" + args.format + "' (use text or json)", "--format"));
  }
  std::string stateDir = args.stateDir;
  if (stateDir.empty()) {
    auto config = loadConfig(args.config);
    if (!config.ok()) return fail(config.error());
    stateDir = config->stateDir;
  }
  auto status = readStatus(stateDir, args.format == "text" && colorWanted());
  if (!status.ok()) return fail(status.error());
  std::cout << (args.format == "json" ? status->json : status->text);
  std::cout.flush();
  return status->driftCount == 0 ? kExitOk : kExitDrift;
}

int runEnrollCommand(const EnrollArgs& args) {
  std::string stateDir = args.stateDir;
  if (stateDir.empty()) {
    auto config = loadConfig(args.config);
    if (!config.ok()) return fail(config.error());
    stateDir = config->stateDir;
  }
  std::string token = args.token;
  if (!args.tokenFile.empty()) {
    if (!token.empty()) {
      return fail(makeError(ErrorCode::kInvalidInput,
                            "give the token once: --token or --token-file", "--token-file"));
    }
    Result<std::string> text = args.tokenFile == "-"
                                   ? readToEnd(STDIN_FILENO, 0, 4096, "standard input")
                                   : readRegularFile(args.tokenFile, 4096, "token file");
    if (!text.ok()) return fail(text.error());
    token = std::string(trim(*text));
  }
  if (token.empty()) {
    return fail(makeError(ErrorCode::kInvalidInput,
                          "no enrollment token: pass --token-file FILE, set "
                          "DRIFTWATCH_ENROLL_TOKEN, or --token (create one with "
                          "`driftwatch-aggregator token create`)",
                          "enroll"));
  }
  EnrollOptions options;
  options.server = args.server;
  options.token = token;
  options.caFingerprint = args.caFingerprint;
  options.stateDir = stateDir;
  options.force = args.force;
  options.agentVersion = DRIFTWATCH_VERSION;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) options.hostname = host;
  auto identity = enroll(options);
  if (!identity.ok()) return fail(identity.error());
  std::string labels;
  for (const auto& [k, v] : identity->labels)
    labels += (labels.empty() ? "" : ",") + k + "=" + v;
  std::cout << "enrolled as " << identity->hostId << " with " << identity->server.str()
            << (labels.empty() ? "" : " (labels " + labels + ")") << "\n"
            << "`driftwatch-agent run` reports there now (a running agent switches before its "
               "next report); `driftwatch-agent status` shows the last acknowledged report\n";
  return kExitOk;
}

}  // namespace driftwatch::agent
